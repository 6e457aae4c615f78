package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
)

// TestNotifierRedriveNotifiesNoLaterSubscriber, on real Kafka and Redis:
// the product view dead-letters product W's creation (50.00) and its
// price drop (40.00); W gets a priceDrop subscription; both letters are
// re-driven with `streamview dlq redrive`. The copies land in the events
// topic after the subscription, but the drop happened before it: the new
// subscriber gets nothing, and the one subscribed before the drop gets it
// once.
func TestNotifierRedriveNotifiesNoLaterSubscriber(t *testing.T) {
	w := newNotifyWorld(t, "notify-redrive", 2)
	ctx := context.Background()
	brokers, group, events, dlq, journal, prefix, rdb, codec, prod, st := w.brokers, w.group, w.events, w.dlq, w.journal, w.prefix, w.rdb, w.codec, w.prod, w.st
	viewDLQ := testenv.Topic(t, brokers, "notify-redrive-view-dlq", 1)
	ok := func(int) (int, bool) { return http.StatusNoContent, false }
	before := newReceiver(t, "before", "secret", ok)
	after := newReceiver(t, "after", "secret", ok)

	product := schemas.NameUUID([16]byte{31}, group)
	subBefore := schemas.SubscriptionID(product, schemas.NameUUID([16]byte{32}, group+"before"))
	subAfter := schemas.SubscriptionID(product, schemas.NameUUID([16]byte{32}, group+"after"))
	n := 0
	record := func(aggType, aggID string, version int64, data schemas.EventData) (*kgo.Record, string) {
		n++
		e := schemas.Event{ID: schemas.NameUUID([16]byte{33}, group+strconv.Itoa(n)), AggregateType: aggType, AggregateID: aggID,
			Version: version, Timestamp: time.Now().UTC().Truncate(time.Millisecond),
			Metadata: schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{34}, group+strconv.Itoa(n)), UserID: "test"}, Data: data}
		return eventRecord(t, codec, events, product, e), e.ID
	}
	subscribe := func(sub string, r *receiver) *kgo.Record {
		rec, _ := record(schemas.AggregateSubscription, sub, 1, &schemas.SubscriptionCreated{ProductID: product, URL: r.url("/hook"),
			Events: []string{schemas.NotifyPriceDrop}, Secret: "secret"})
		return rec
	}
	eur := func(c int64) schemas.Money { return schemas.Money{Amount: c, Currency: "EUR"} }
	produce := func(recs ...*kgo.Record) { t.Helper(); w.produce(t, recs...) }
	nf := notifyFlags{workers: 4, timeout: time.Second, deadAfter: 30 * time.Second, retryMin: 100 * time.Millisecond, retryMax: 300 * time.Millisecond,
		lease: 3 * time.Second, session: 6 * time.Second, redisPrefix: prefix, group: group, topic: events, dlqTopic: dlq, journal: journal}
	if err := nf.check(); err != nil {
		t.Fatal(err)
	}
	jn, err := newNotifier(env{getenv: os.Getenv}, st, &nf, codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- jn.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("notifier: %v", err)
		}
	})

	created, _ := record(schemas.AggregateProduct, product, 1, &schemas.ProductCreated{Name: "W", Price: eur(5000)})
	drop, dropID := record(schemas.AggregateProduct, product, 2, &schemas.ProductPriceChanged{OldPrice: eur(5000), NewPrice: eur(4000)})
	produce(created, subscribe(subBefore, before), drop)
	wid := dropID + "." + subBefore
	testenv.Eventually(t, 30*time.Second, func() error {
		if m := before.missing(map[string]bool{wid: true}); len(m) > 0 {
			return testenv.Errorf("the drop not delivered to the subscription made before it yet")
		}
		return nil
	})
	// The view's key was unwritable: it dead-lettered both events.
	for _, r := range []*kgo.Record{created, drop} {
		if err := prod.ProduceSync(ctx, deadletter.Record(r, errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"),
			"streamview.product-view.g1", viewDLQ)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(subscribe(subAfter, after))

	var out bytes.Buffer
	if err := run(ctx, []string{"dlq", "redrive", "--all", "--topic", viewDLQ, "--brokers", strings.Join(brokers, ",")}, nil, &out, &out); err != nil {
		t.Fatalf("dlq redrive: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "re-drove 2 of 2") {
		t.Fatalf("dlq redrive:\n%s", out.String())
	}
	testenv.Eventually(t, 30*time.Second, groupCaughtUp(ctx, kadm.NewClient(prod), group, events))
	// The group commits a batch once its notifications are queued:
	// caught up, the queue holds whatever the copies notified.
	store := redisnotify.New(rdb, prefix)
	testenv.Eventually(t, 10*time.Second, func() error {
		st, err := store.Stats(ctx)
		if err != nil {
			return err
		}
		if st.Queued != 0 {
			return testenv.Errorf("%d notifications queued", st.Queued)
		}
		return nil
	})
	if c := after.count(); c != 0 {
		after.mu.Lock()
		t.Errorf("the subscription made after the drop got %d webhooks: %v", c, after.bodies)
		after.mu.Unlock()
	}
	before.mu.Lock()
	defer before.mu.Unlock()
	if len(before.bodies) != 1 || before.accepted[wid] != 1 {
		t.Errorf("the subscription made before the drop got %v (%v), want %s once", before.bodies, before.accepted, wid)
	}
}
