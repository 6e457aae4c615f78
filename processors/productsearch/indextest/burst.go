package indextest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productsearch"
)

// BurstEvents is how many events of one product the burst case puts in one
// batch (productsearch.Batch, the runtime's batch).
const BurstEvents = productsearch.Batch

// getter is what an index that can read its stored documents back offers
// (Elasticsearch's Get); the burst case then compares the stored document
// with the model's, field for field.
type getter interface {
	Get(ctx context.Context, ids ...string) (map[string]productsearch.Doc, error)
}

// A burst of one product's events in one batch (full details updates with
// long tag lists, prices, stocks, reviews) gives exactly the model's
// document, and the same batch again changes nothing.
func (s *suite) testBurst(t *testing.T) {
	ix := s.newIndex(t)
	const id = "00000000-0000-4000-8000-00000000b0b0"
	events := eventgen.Burst(id, BurstEvents, 12, time.Time{})
	m := NewModel(Currency, events)
	last := strconv.Itoa(BurstEvents - BurstEvents%4) // the last details update's version: in its name and tags
	stale := strconv.Itoa(BurstEvents - BurstEvents%4 - 4)
	for round := range 2 {
		s.apply(t, ix, events)
		s.only(t, ix, m, productsearch.Query{})
		s.only(t, ix, m, productsearch.Query{Text: last})
		s.only(t, ix, m, productsearch.Query{Text: stale})
		if n := len(searchAll(t, ix, productsearch.Query{Text: last})); n != 1 {
			t.Fatalf("round %d: %d hits for the last details update's words, want 1", round, n)
		}
		if n := len(searchAll(t, ix, productsearch.Query{Text: stale})); n != 0 {
			t.Fatalf("round %d: %d hits for an overwritten details update's words, want 0", round, n)
		}
		if g, ok := ix.(getter); ok {
			docs, err := g.Get(ctx(t), id)
			if err != nil {
				t.Fatal(err)
			}
			if bad := m.Mismatches(docs); len(bad) > 0 {
				t.Fatalf("round %d: stored document differs from the model: %v", round, bad)
			}
		}
	}
}
