package webhook

import (
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// world is a notifier over a miniredis store with one product and one
// subscription to it, and the events topic's records it was given.
type world struct {
	n            *Notifier
	store        *redisnotify.Store
	codec        *schemas.Codec
	product, sub string
	log          []*kgo.Record
	t            *testing.T
}

// newWorld builds a world named name; cfg's Topic is "events" and its
// retries a millisecond apart.
func newWorld(t *testing.T, name string, cfg Config) *world {
	t.Helper()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	store := redisnotify.New(redistest.Miniredis(t), "")
	cfg.Topic = "events"
	cfg.Retry = backoff.Policy{Min: time.Millisecond, Max: time.Millisecond}
	n, err := New(cfg, codec, store)
	if err != nil {
		t.Fatal(err)
	}
	product := schemas.NameUUID([16]byte{1}, name+" product")
	return &world{n: n, store: store, codec: codec, product: product,
		sub: schemas.SubscriptionID(product, schemas.NameUUID([16]byte{2}, name+" sub")), t: t}
}

// add appends an event of the aggregate at version to the log, keyed by
// the product, and returns its record.
func (w *world) add(aggType, aggID string, version int64, data schemas.EventData) *kgo.Record {
	w.t.Helper()
	i := len(w.log)
	e := schemas.Event{ID: schemas.NameUUID([16]byte{3}, w.product+strconv.Itoa(i)), AggregateType: aggType, AggregateID: aggID, Version: version,
		Timestamp: time.Now().UTC().Truncate(time.Millisecond),
		Metadata:  schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{4}, w.product+strconv.Itoa(i)), UserID: "test"}, Data: data}
	b, err := w.codec.EncodeEvent(e)
	if err != nil {
		w.t.Fatal(err)
	}
	r := &kgo.Record{Topic: "events", Key: []byte(w.product), Value: b, Offset: int64(i)}
	w.log = append(w.log, r)
	return r
}

// subscribed is the subscription's creation, to url's price drops.
func (w *world) subscribed(url string) *kgo.Record {
	return w.add(schemas.AggregateSubscription, w.sub, 1, &schemas.SubscriptionCreated{ProductID: w.product, URL: url,
		Events: []string{schemas.NotifyPriceDrop}, Secret: "s"})
}

// drop is a price drop of the product at version v.
func (w *world) drop(v, from, to int64) *kgo.Record {
	return w.add(schemas.AggregateProduct, w.product, v, &schemas.ProductPriceChanged{
		OldPrice: schemas.Money{Amount: from, Currency: "EUR"}, NewPrice: schemas.Money{Amount: to, Currency: "EUR"}})
}
