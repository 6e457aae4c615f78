package producers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// Encoder turns an event into record value bytes; *schemas.Codec is one.
type Encoder interface {
	EncodeEvent(schemas.Event) ([]byte, error)
}

// Publisher writes domain events to Kafka, keyed as the decider keys them
// (RecordKey: a product's ID, for a subscription its product's, for a
// category or brand its reference key) so that all events of one aggregate
// land on one partition in order.
//
// The client must be built with the franz-go defaults for durability, which
// are what the publisher needs: idempotent writes and acks=all. Publisher
// does not own the client; close it yourself.
type Publisher struct {
	client *kgo.Client
	enc    Encoder
	topic  string
}

// NewPublisher returns a publisher to topic (topics.Events when "").
func NewPublisher(client *kgo.Client, enc Encoder, topic string) *Publisher {
	if topic == "" {
		topic = topics.Events
	}
	return &Publisher{client: client, enc: enc, topic: topic}
}

// Published says where one event landed.
type Published struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Record encodes e as the record the publisher would write. The record's
// timestamp is left to the producer (the time of writing): the event's own
// time is in its payload, and a back-dated record timestamp would let a
// topic's time-based retention delete a replayed history at once.
func (p *Publisher) Record(e schemas.Event) (*kgo.Record, error) {
	if e.AggregateID == "" {
		return nil, fmt.Errorf("publish %s event %s: aggregate ID is empty", e.Type(), e.ID)
	}
	v, err := p.enc.EncodeEvent(e)
	if err != nil {
		return nil, fmt.Errorf("publish %s event %s of %s: %w", e.Type(), e.ID, e.AggregateID, err)
	}
	return &kgo.Record{Topic: p.topic, Key: []byte(RecordKey(e)), Value: v, Headers: EventHeaders(e)}, nil
}

// RecordKey is the key of e's record, as the decider writes it: a
// product's ID; for a subscription the ID of the product it follows (its
// events live with the product's); for a category or brand its reference
// key (schemas.ReferenceKey). The partition, and so the decider instance
// that keeps the aggregate's state, follows from the key.
func RecordKey(e schemas.Event) string {
	if p, ok := schemas.SubscriptionEventProduct(e); ok {
		return p
	}
	if k := schemas.ReferenceKey(e.AggregateType, e.AggregateID); k != "" {
		return k
	}
	return e.AggregateID
}

// Publish encodes and produces events and waits until the broker has
// acknowledged every one. It returns where each event landed, in the order
// given. Nothing is produced when any event fails to encode. On a produce
// error the result still holds the events that landed (zero Published for
// the others) and the error names the first failure.
func (p *Publisher) Publish(ctx context.Context, events ...schemas.Event) ([]Published, error) {
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		r, err := p.Record(e)
		if err != nil {
			return nil, err
		}
		recs[i] = r
	}
	out := make([]Published, len(events))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	wg.Add(len(recs))
	for i, r := range recs {
		p.client.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("publish %s event %s of %s to %s: %w", events[i].Type(), events[i].ID, events[i].AggregateID, p.topic, err))
				mu.Unlock()
				return
			}
			out[i] = Published{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
