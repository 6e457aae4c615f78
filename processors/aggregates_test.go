package processors_test

import (
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/schemas"
)

// Events of other aggregate types on the topic (a product's webhook
// subscriptions) are skipped by a product projection: neither applied nor
// dead-lettered, and committed past.
func TestProcessorSkipsOtherAggregates(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 4, Events: 40, Seed: 5})
	var mixed []schemas.Event
	for i, e := range events {
		mixed = append(mixed, e)
		if i%10 == 0 {
			sub := schemas.SubscriptionID(e.AggregateID, e.ID)
			mixed = append(mixed, schemas.Event{
				ID: schemas.NameUUID([16]byte{1}, sub), AggregateType: schemas.AggregateSubscription, AggregateID: sub, Version: 1,
				Timestamp: e.Timestamp, Metadata: e.Metadata,
				Data: &schemas.SubscriptionCreated{ProductID: e.AggregateID, URL: "http://127.0.0.1/h", Events: []string{schemas.NotifyPriceDrop}, Secret: "k"},
			})
		}
	}
	f.publish(t, mixed)
	mem := newMem()
	p, stop := f.start(t, mem, testenv.Name("skip"))
	defer stop()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != int64(len(mixed)) {
			return testenv.Errorf("records %d of %d", s.Records, len(mixed))
		}
		return nil
	})
	applied, dups, ooo := mem.counts()
	if applied != len(events) || dups != 0 || ooo != 0 {
		t.Fatalf("applied %d (want %d product events), dups %d, out of order %d", applied, len(events), dups, ooo)
	}
	if s := p.Stats(); s.DeadLettered != 0 {
		t.Fatalf("%d dead letters, want none", s.DeadLettered)
	}
}
