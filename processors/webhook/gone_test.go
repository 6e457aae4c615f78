package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Without StopOnGone a receiver's 410 is retried like any failure, as
// API.md says: one 410 from a proxy being redeployed stopped the
// subscription for good. The notification is delivered once the receiver
// answers 2xx.
func TestGoneIsRetried(t *testing.T) {
	ctx := context.Background()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if requests.Add(1) == 1 {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w := newWorld(t, "gone", Config{})
	n, sub := w.n, w.sub
	if err := n.queue(ctx, nil, []*kgo.Record{w.subscribed(srv.URL + "/hook"), w.drop(2, 5000, 4000)}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	n.work(ctx, client, nil, sub) // 410: parked, not stopped
	if s := n.Stats(); s.Delivered != 0 || s.DeadLettered != 0 || requests.Load() != 1 {
		t.Fatalf("after the 410: %+v, %d requests; want one attempt, nothing delivered or dead-lettered", s, requests.Load())
	}
	n.work(ctx, client, nil, sub) // its retry
	if s := n.Stats(); s.Delivered != 1 || s.DeadLettered != 0 || requests.Load() != 2 {
		t.Fatalf("after the retry: %+v, %d requests; want it delivered at the second attempt", s, requests.Load())
	}
}
