package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview/redistest"
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
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	store := redisnotify.New(redistest.Miniredis(t), "")
	n, err := New(Config{Topic: "events", Retry: backoff.Policy{Min: time.Millisecond, Max: time.Millisecond}}, codec, store)
	if err != nil {
		t.Fatal(err)
	}
	product := schemas.NameUUID([16]byte{1}, "gone product")
	sub := schemas.SubscriptionID(product, schemas.NameUUID([16]byte{2}, "gone sub"))
	record := func(i int, aggType, aggID string, version int64, data schemas.EventData) *kgo.Record {
		e := schemas.Event{ID: schemas.NameUUID([16]byte{3}, aggID+string(rune('a'+i))), AggregateType: aggType, AggregateID: aggID, Version: version,
			Timestamp: time.Now().UTC().Truncate(time.Millisecond),
			Metadata:  schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{4}, string(rune('a'+i))), UserID: "test"}, Data: data}
		b, err := codec.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: "events", Key: []byte(product), Value: b, Offset: int64(i)}
	}
	recs := []*kgo.Record{
		record(0, schemas.AggregateSubscription, sub, 1, &schemas.SubscriptionCreated{ProductID: product, URL: srv.URL + "/hook",
			Events: []string{schemas.NotifyPriceDrop}, Secret: "s"}),
		record(1, schemas.AggregateProduct, product, 2, &schemas.ProductPriceChanged{
			OldPrice: schemas.Money{Amount: 5000, Currency: "EUR"}, NewPrice: schemas.Money{Amount: 4000, Currency: "EUR"}}),
	}
	if err := n.queue(ctx, nil, recs); err != nil {
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
