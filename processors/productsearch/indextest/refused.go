package indextest

import (
	"errors"
	"slices"
	"testing"

	"github.com/streamview/streamview/internal/runtimetest"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

// refusedStream is a small stream and the product of it whose document the
// index will refuse, with that product's events and the others'.
func refusedStream() (id string, events, theirs, rest []schemas.Event) {
	events = Generate(13, 12, 4)
	id = events[len(events)/2].AggregateID
	for _, e := range events {
		if e.AggregateID == id {
			theirs = append(theirs, e)
		} else {
			rest = append(rest, e)
		}
	}
	return id, events, theirs, rest
}

// An index that cannot hold a product's document names the first of that
// product's events in the batch as permanent, and stores the rest.
func (s *suite) testRefused(t *testing.T) {
	ix := s.newIndex(t)
	id, events, _, rest := refusedStream()
	s.refuse(t, ix, id)
	first := slices.IndexFunc(events, func(e schemas.Event) bool { return e.AggregateID == id })
	err := ix.Apply(ctx(t), events)
	var be *batch.Error
	if !errors.As(err, &be) || len(be.Failures) != 1 || be.Failures[0].Index != first || !be.Failures[0].Permanent {
		t.Fatalf("Apply = %v; want a batch.Error naming event %d (the first of product %s) as permanent", err, first, id)
	}
	if s.refresh != nil {
		s.refresh(t, ix)
	}
	s.only(t, ix, NewModel(Currency, rest), productsearch.Query{})
}

// Through the projection runtime, every event of a product whose document
// the index refuses ends in the dead-letter topic, and the other products'
// events are applied.
func (s *suite) testRefusedDeadLettered(t *testing.T) {
	ix := s.newIndex(t)
	id, events, theirs, rest := refusedStream()
	s.refuse(t, ix, id)
	out := runtimetest.Run(t, ix, events, len(theirs))
	for _, r := range out.Dead {
		if string(r.Key) != id || producers.Header(r, deadletter.HeaderReason) != deadletter.ReasonRejected {
			t.Errorf("dead letter of %s, reason %q; want only %s's events, reason rejected",
				r.Key, producers.Header(r, deadletter.HeaderReason), id)
		}
	}
	if s.refresh != nil {
		s.refresh(t, ix)
	}
	s.only(t, ix, NewModel(Currency, rest), productsearch.Query{})
}
