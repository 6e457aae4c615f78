package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
)

// TestNotifierHorizonTrimsAndReplays, on real Kafka and Redis, with a
// horizon of 6 s (and 1 s of skew, 1 s of retries, a trim every 200 ms):
// a delivery is trimmed from Redis once it is older than 7 s, with a
// tombstone in the journal; then the group is reset (`replay`) and the
// log read again: the trimmed notification's event is past the horizon
// and is not queued, a newer one is suppressed by its record, and the
// receiver gets nothing again. Then the store loses its keys: the
// read-back of the journal does not bring the trimmed Webhook-Id back,
// and the refold sends nothing again either.
func TestNotifierHorizonTrimsAndReplays(t *testing.T) {
	w := newNotifyWorld(t, "notify-horizon", 1)
	ctx := context.Background()
	brokers, group, events, dlq, journal, prefix, rdb, codec, prod, st := w.brokers, w.group, w.events, w.dlq, w.journal, w.prefix, w.rdb, w.codec, w.prod, w.st
	hook := newReceiver(t, "hook", "secret", func(int) (int, bool) { return http.StatusNoContent, false })

	product := schemas.NameUUID([16]byte{21}, group)
	sub := schemas.SubscriptionID(product, schemas.NameUUID([16]byte{22}, group))
	n := 0
	record := func(aggType, aggID string, version int64, ts time.Time, data schemas.EventData) (*kgo.Record, string) {
		n++
		e := schemas.Event{ID: schemas.NameUUID([16]byte{23}, group+strconv.Itoa(n)), AggregateType: aggType, AggregateID: aggID,
			Version: version, Timestamp: ts.UTC().Truncate(time.Millisecond),
			Metadata: schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{24}, group+strconv.Itoa(n)), UserID: "test"}, Data: data}
		return eventRecord(t, codec, events, product, e), e.ID + "." + sub
	}
	drop := func(version, from int64, ts time.Time) (*kgo.Record, string) {
		return record(schemas.AggregateProduct, product, version, ts, &schemas.ProductPriceChanged{
			OldPrice: schemas.Money{Amount: from, Currency: "EUR"}, NewPrice: schemas.Money{Amount: from - 100, Currency: "EUR"}})
	}
	produce := func(recs ...*kgo.Record) { t.Helper(); w.produce(t, recs...) }
	nf := notifyFlags{workers: 4, timeout: time.Second, deadAfter: time.Second, retryMin: 100 * time.Millisecond, retryMax: 300 * time.Millisecond,
		lease: 3 * time.Second, session: 6 * time.Second, redisPrefix: prefix, group: group, topic: events, dlqTopic: dlq, journal: journal,
		horizon: 6 * time.Second, skew: time.Second, trimEvery: 200 * time.Millisecond}
	if err := nf.check(); err != nil {
		t.Fatal(err)
	}
	start := func() (*journaledNotifier, func()) {
		t.Helper()
		jn, err := newNotifier(env{getenv: os.Getenv}, st, &nf, codec, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- jn.Run(ctx) }()
		return jn, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("notifier: %v", err)
			}
		}
	}
	store := redisnotify.New(rdb, prefix)
	delivered := func(wid string, want bool) func() error {
		return func() error {
			_, ok, err := store.DeliveredAt(ctx, wid)
			if err != nil {
				return err
			}
			if ok != want {
				return testenv.Errorf("%s recorded delivered: %v, want %v", wid, ok, want)
			}
			return nil
		}
	}
	got := func(wid string) func() error {
		return func() error {
			if m := hook.missing(map[string]bool{wid: true}); len(m) > 0 {
				return testenv.Errorf("%s not delivered yet", wid)
			}
			return nil
		}
	}

	// One price drop, delivered, then trimmed once older than 7 s.
	created, _ := record(schemas.AggregateSubscription, sub, 1, time.Now(), &schemas.SubscriptionCreated{ProductID: product, URL: hook.url("/hook"),
		Events: []string{schemas.NotifyPriceDrop}, Secret: "secret"})
	first, firstID := drop(2, 1000, time.Now())
	produce(created, first)
	jn, stop := start()
	testenv.Eventually(t, 30*time.Second, got(firstID))
	testenv.Eventually(t, 10*time.Second, delivered(firstID, true))
	testenv.Eventually(t, 30*time.Second, delivered(firstID, false))
	if s := jn.Stats(); s.Trimmed < 1 {
		t.Errorf("the notifier counts %d Webhook-Ids trimmed, want 1", s.Trimmed)
	}
	// A newer one (stamped a minute ahead: well within the horizon all
	// through the test), delivered and kept.
	second, secondID := drop(3, 900, time.Now().Add(time.Minute))
	produce(second)
	testenv.Eventually(t, 30*time.Second, got(secondID))
	testenv.Eventually(t, 10*time.Second, delivered(secondID, true))
	stop()

	var tombstoned bool
	for _, r := range journalRecords(t, st, journal) {
		if string(r.Key) == firstID && r.Value == nil {
			tombstoned = true
		}
	}
	if !tombstoned {
		t.Errorf("the journal has no tombstone for %s, trimmed", firstID)
	}

	// The replay: the group reset to the start, the log read again.
	requests := hook.count()
	var out bytes.Buffer
	testenv.Eventually(t, 60*time.Second, func() error {
		out.Reset()
		return run(ctx, []string{"replay", "--projection", "notifier", "--group", group, "--topic", events, "--brokers", strings.Join(brokers, ",")}, nil, &out, &out)
	})
	jn, stop = start()
	defer func() { stop() }()
	caughtUp := groupCaughtUp(ctx, kadm.NewClient(prod), group, events)
	testenv.Eventually(t, 60*time.Second, caughtUp)
	s := jn.Stats()
	if s.Stale != 1 || s.Queued != 0 {
		t.Errorf("the replay: %d events past the horizon, %d notifications queued; want 1 (the trimmed one's), 0", s.Stale, s.Queued)
	}
	if n := hook.count() - requests; n != 0 {
		t.Errorf("the receiver got %d requests during the replay", n)
	}

	// The store loses its keys: the journal read back does not bring the
	// trimmed Webhook-Id back, and the refold sends nothing.
	w.deleteKeys()
	testenv.Eventually(t, 60*time.Second, func() error {
		if r := jn.Stats().Restored; r < 1 {
			return testenv.Errorf("restored %d times", r)
		}
		return nil
	})
	testenv.Eventually(t, 10*time.Second, delivered(secondID, true))
	if err := delivered(firstID, false)(); err != nil {
		t.Errorf("after the read-back: %v", err)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := jn.Stats(); s.Stale < 2 {
			return testenv.Errorf("the refold has skipped %d events past the horizon, want 2 (one per read)", s.Stale)
		}
		return caughtUp()
	})
	if s := jn.Stats(); s.Queued != 0 {
		t.Errorf("the refold queued %d notifications", s.Queued)
	}
	if n := hook.count() - requests; n != 0 {
		t.Errorf("the receiver got %d requests after the replay and the loss", n)
	}
}
