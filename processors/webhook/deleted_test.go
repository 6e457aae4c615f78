package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/schemas"
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
	w := newWorld(t, "deleted", Config{})
	n, store, sub := w.n, w.store, w.sub
	created := w.subscribed(srv.URL + "/hook")
	if err := n.queue(ctx, nil, []*kgo.Record{created, w.drop(2, 5000, 4000), w.drop(3, 4000, 3000)}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	n.work(ctx, client, nil, sub) // fails, parks the subscription
	if got := requests.Load(); got != 1 {
		t.Fatalf("%d attempts, want 1", got)
	}

	if err := n.queue(ctx, nil, []*kgo.Record{w.add(schemas.AggregateSubscription, sub, 2, &schemas.SubscriptionDeleted{ProductID: w.product})}); err != nil {
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
	if err := n.queue(ctx, nil, w.log); err != nil {
		t.Fatal(err)
	}
	if q := n.Stats().Queued - queued; q != 0 {
		t.Errorf("a replay after the deletion queued %d notifications", q)
	}
}
