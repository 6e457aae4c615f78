package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
)

// TestHistoryWhileRedisIsRefilled: while the history index is read again
// after Redis lost its data under a running serve, a history read answers
// the whole history or 503 with Retry-After, as views do; it answered 404
// for products that exist ("No product … is known"), then pages cut short
// without a nextFromVersion, and ?asOfVersion=2 a 404.
func TestHistoryWhileRedisIsRefilled(t *testing.T) {
	fl := newFakeLog(t)
	events := eventgen.Stream(eventgen.Options{Products: 4, Events: 2400, Seed: 41})
	if _, err := fl.pub.Publish(t.Context(), events...); err != nil {
		t.Fatal(err)
	}
	perProduct := map[string]int{}
	for _, e := range events {
		perProduct[e.AggregateID]++
	}
	id := events[0].AggregateID
	mr := miniredis.RunT(t)
	base, _ := startListening(t, []string{"serve", "--roles", "api,projector", "--projections", "product-view,product-history",
		"--brokers", strings.Join(fl.cluster.ListenAddrs(), ","), "--redis", mr.Addr(), "--elasticsearch", "http://127.0.0.1:1",
		"--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard)
	history := base + "/v1/products/" + id + "/events?limit=1000"
	whole := func(a answer) bool {
		evs, _ := a.body["events"].([]any)
		_, more := a.body["nextFromVersion"]
		return a.status == http.StatusOK && len(evs) == perProduct[id] && !more
	}
	testenv.Eventually(t, time.Minute, func() error {
		if a := call(t, "GET", history, ""); !whole(a) {
			evs, _ := a.body["events"].([]any)
			return fmt.Errorf("history before the loss: %d, %d events, want %d", a.status, len(evs), perProduct[id])
		}
		return nil
	})

	mr.FlushAll()
	// Until the history is whole again, and a while after: each answer is
	// the whole history or a 503 to try again.
	var wrong []string
	answers, unavailable := 0, 0
	deadline := time.Now().Add(time.Minute)
	var settled time.Time
	for time.Now().Before(deadline) && (settled.IsZero() || time.Since(settled) < 500*time.Millisecond) {
		h := call(t, "GET", history, "")
		o := call(t, "GET", base+"/v1/products/"+id+"?asOfVersion=2", "")
		answers++
		switch {
		case whole(h):
			if settled.IsZero() {
				settled = time.Now()
			}
		case h.status == http.StatusServiceUnavailable && h.header.Get("Retry-After") != "":
			unavailable++
		default:
			evs, _ := h.body["events"].([]any)
			wrong = append(wrong, fmt.Sprintf("history: %d, %d events (nextFromVersion %v) of %d: %v", h.status, len(evs), h.body["nextFromVersion"], perProduct[id], h.body["detail"]))
		}
		if !(o.status == http.StatusOK && o.body["version"] == float64(2)) && !(o.status == http.StatusServiceUnavailable && o.header.Get("Retry-After") != "") {
			wrong = append(wrong, fmt.Sprintf("asOfVersion=2: %d %v", o.status, o.body["detail"]))
		}
	}
	if settled.IsZero() {
		t.Fatalf("the history was not whole again within a minute of the loss (%d answers, %d 503)", answers, unavailable)
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d answers during the refill neither whole nor 503 + Retry-After; the first: %s", len(wrong), 2*answers, strings.Join(wrong[:min(5, len(wrong))], "; "))
	}
	t.Logf("%d reads during the refill, %d answered 503", answers, unavailable)
}
