package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// A subscription deleted while its notifications wait on a failing
// receiver gets none of them: its next attempt drops them unsent (counted,
// recorded nowhere, no dead letter), though the receiver answers again.
// A replay of the log after the deletion queues none of them again.
func TestDeletedSubscriptionGetsNoRetries(t *testing.T) {
	ctx := context.Background()
	var failing atomic.Bool
	failing.Store(true)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	store := redisnotify.New(redistest.Miniredis(t), "")
	n, err := New(Config{Topic: "events", Retry: backoff.Policy{Min: time.Millisecond, Max: time.Millisecond}}, codec, store)
	if err != nil {
		t.Fatal(err)
	}

	product := schemas.NameUUID([16]byte{1}, "deleted product")
	sub := schemas.SubscriptionID(product, schemas.NameUUID([16]byte{2}, "deleted sub"))
	var log []*kgo.Record
	add := func(aggType, aggID string, version int64, data schemas.EventData) *kgo.Record {
		t.Helper()
		i := len(log)
		e := schemas.Event{ID: schemas.NameUUID([16]byte{3}, strconv.Itoa(i)), AggregateType: aggType, AggregateID: aggID, Version: version,
			Timestamp: time.Now().UTC().Truncate(time.Millisecond),
			Metadata:  schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{4}, strconv.Itoa(i)), UserID: "test"}, Data: data}
		b, err := codec.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Topic: "events", Key: []byte(product), Value: b, Offset: int64(i)}
		log = append(log, r)
		return r
	}
	drop := func(v, from, to int64) *kgo.Record {
		return add(schemas.AggregateProduct, product, v, &schemas.ProductPriceChanged{
			OldPrice: schemas.Money{Amount: from, Currency: "EUR"}, NewPrice: schemas.Money{Amount: to, Currency: "EUR"}})
	}
	created := add(schemas.AggregateSubscription, sub, 1, &schemas.SubscriptionCreated{ProductID: product, URL: srv.URL + "/hook",
		Events: []string{schemas.NotifyPriceDrop}, Secret: "s"})
	if err := n.queue(ctx, nil, []*kgo.Record{created, drop(2, 5000, 4000), drop(3, 4000, 3000)}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	n.work(ctx, client, nil, sub) // fails, parks the subscription
	if got := requests.Load(); got != 1 {
		t.Fatalf("%d attempts, want 1", got)
	}

	if err := n.queue(ctx, nil, []*kgo.Record{add(schemas.AggregateSubscription, sub, 2, &schemas.SubscriptionDeleted{ProductID: product})}); err != nil {
		t.Fatal(err)
	}
	failing.Store(false)
	n.work(ctx, client, nil, sub) // its next attempt, after the deletion
	if got := requests.Load(); got != 1 {
		t.Errorf("%d attempts, want none after the deletion", got-1)
	}
	if q, err := store.Queued(ctx, sub); err != nil || q != 0 {
		t.Errorf("%d notifications still queued (%v), want none", q, err)
	}
	st, err := store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued != 0 || st.Delivered != 0 || st.DeadLettered != 0 {
		t.Errorf("store %+v, want nothing queued, delivered or dead-lettered", st)
	}
	if s := n.Stats(); s.Dropped != 2 || s.Delivered != 0 || s.DeadLettered != 0 {
		t.Errorf("stats %+v, want 2 dropped, none delivered or dead-lettered", s)
	}

	// The log read again (a replay): the deletion is known, nothing is
	// queued.
	queued := n.Stats().Queued
	if err := n.queue(ctx, nil, log); err != nil {
		t.Fatal(err)
	}
	if q := n.Stats().Queued - queued; q != 0 {
		t.Errorf("a replay after the deletion queued %d notifications", q)
	}
}
