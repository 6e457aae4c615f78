package webhook

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// An event older than the horizon queues no notification, and is
// counted; a subscription event that old still folds, and a newer event
// notifies it. Without a horizon both events notify.
func TestHorizonSkipsStaleEvents(t *testing.T) {
	for _, c := range []struct {
		name          string
		horizon       time.Duration
		queued, stale int64
	}{
		{"a horizon of a week", 7 * 24 * time.Hour, 1, 1},
		{"no horizon", 0, 2, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			codec, err := schemas.NewCodec()
			if err != nil {
				t.Fatal(err)
			}
			store := redisnotify.New(redistest.Miniredis(t), "")
			n, err := New(Config{Topic: "events", Horizon: c.horizon}, codec, store)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			product := schemas.NameUUID([16]byte{1}, "product")
			sub := schemas.SubscriptionID(product, schemas.NameUUID([16]byte{2}, "sub"))
			var recs []*kgo.Record
			add := func(aggType, aggID string, version int64, ts time.Time, data schemas.EventData) {
				t.Helper()
				i := len(recs)
				e := schemas.Event{ID: schemas.NameUUID([16]byte{3}, strconv.Itoa(i)), AggregateType: aggType, AggregateID: aggID,
					Version: version, Timestamp: ts.UTC().Truncate(time.Millisecond),
					Metadata: schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{4}, strconv.Itoa(i)), UserID: "test"}, Data: data}
				b, err := codec.EncodeEvent(e)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Topic: "events", Key: []byte(product), Value: b, Offset: int64(i)})
			}
			eightDays := now.Add(-8 * 24 * time.Hour)
			add(schemas.AggregateSubscription, sub, 1, eightDays, &schemas.SubscriptionCreated{ProductID: product, URL: "http://127.0.0.1/hook",
				Events: []string{schemas.NotifyPriceDrop}, Secret: "s"})
			drop := func(from, to int64) *schemas.ProductPriceChanged {
				return &schemas.ProductPriceChanged{OldPrice: schemas.Money{Amount: from, Currency: "EUR"}, NewPrice: schemas.Money{Amount: to, Currency: "EUR"}}
			}
			add(schemas.AggregateProduct, product, 2, eightDays, drop(1000, 900))
			add(schemas.AggregateProduct, product, 3, now.Add(-time.Minute), drop(900, 800))
			if err := n.queue(ctx, nil, recs); err != nil {
				t.Fatal(err)
			}
			if got := n.Stats(); got.Queued != c.queued || got.Stale != c.stale {
				t.Errorf("queued %d, stale %d; want %d, %d", got.Queued, got.Stale, c.queued, c.stale)
			}
			if q, err := store.Queued(ctx, sub); err != nil || q != c.queued {
				t.Errorf("the subscription's queue holds %d (%v), want %d", q, err, c.queued)
			}
		})
	}
}

// Validate refuses a horizon that a notification being retried could
// outlive: it must exceed DeadLetterAfter plus Skew.
func TestHorizonValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		bad  string // in the error; "" for none
	}{
		{"none", Config{}, ""},
		{"a week over the defaults", Config{Horizon: 7 * 24 * time.Hour}, ""},
		{"the defaults exactly", Config{Horizon: 25 * time.Hour}, "Horizon 25h0m0s must exceed DeadLetterAfter 24h0m0s plus Skew 1h0m0s"},
		{"tiny, with the rest tiny", Config{Horizon: 3 * time.Second, DeadLetterAfter: time.Second, Skew: time.Second}, ""},
		{"below its dead-letter time", Config{Horizon: 2 * time.Hour, DeadLetterAfter: 3 * time.Hour}, "must exceed DeadLetterAfter"},
		{"negative", Config{Horizon: -time.Hour}, "must not be negative"},
		{"negative trim interval", Config{Horizon: 200 * time.Hour, TrimEvery: -1}, "must not be negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.bad == "" && err != nil {
				t.Errorf("Validate = %v, want nil", err)
			}
			if c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
				t.Errorf("Validate = %v, want an error with %q", err, c.bad)
			}
		})
	}
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if got := (Config{Horizon: 48 * time.Hour}).TrimBefore(at); !got.Equal(at.Add(-49 * time.Hour)) {
		t.Errorf("TrimBefore = %v, want 49h before %v (horizon and the default skew)", got, at)
	}
	if got := (Config{}).TrimBefore(at); !got.IsZero() {
		t.Errorf("TrimBefore without a horizon = %v, want the zero time (keep all)", got)
	}
}
