package indextest

import (
	"slices"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// mixedStream is a batch that holds many events of one hot product (folded
// by the index into one write) among other products' events, with some of
// the hot product's events unstorable (a timestamp in the year 10000: each
// fails alone, whatever it is folded onto). It returns the batch, the
// indexes of the unstorable events and the batch without them.
func mixedStream() (events []schemas.Event, bad []int, rest []schemas.Event) {
	const hot = "00000000-0000-4000-8000-00000000f01d"
	burst := eventgen.Burst(hot, 300, 5, time.Time{})
	others := Generate(17, 6, 4)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range burst {
		if i > 0 && i%37 == 0 {
			burst[i].Timestamp = far.Add(time.Duration(i) * time.Millisecond)
		}
	}
	// Interleave: three hot events, then one other, each product in order.
	for len(burst) > 0 || len(others) > 0 {
		n := min(3, len(burst))
		events = append(events, burst[:n]...)
		burst = burst[n:]
		if len(others) > 0 {
			events = append(events, others[0])
			others = others[1:]
		}
	}
	for i, e := range events {
		if productsearch.Unstorable(e) != nil {
			bad = append(bad, i)
		} else {
			rest = append(rest, e)
		}
	}
	return events, bad, rest
}

// A batch of many events of one product, some of which no index can store:
// each of those is named as permanent on its own (the runtime dead-letters
// it alone), and every other event, of that product too, is stored in the
// same Apply, as the model of the batch without them says. The rest of the
// batch applied again changes nothing.
func (s *suite) testMixedUnstorable(t *testing.T) {
	ix := s.newIndex(t)
	events, bad, rest := mixedStream()
	if len(bad) < 5 {
		t.Fatalf("the stream has %d unstorable events, want several", len(bad))
	}
	err := ix.Apply(ctx(t), events)
	if got := batch.PermanentAt(err); !slices.Equal(got, bad) {
		t.Fatalf("Apply named %v as permanent (%v); want the unstorable events %v", got, err, bad)
	}
	m := NewModel(Currency, rest)
	for round := range 2 {
		if round == 1 {
			s.apply(t, ix, rest) // the runtime's next attempt
		} else if s.refresh != nil {
			s.refresh(t, ix)
		}
		s.only(t, ix, m, productsearch.Query{})
		if g, ok := ix.(getter); ok {
			ids := slices.Collect(func(yield func(string) bool) {
				for _, e := range rest {
					if !yield(e.AggregateID) {
						return
					}
				}
			})
			docs, err := g.Get(ctx(t), ids...)
			if err != nil {
				t.Fatal(err)
			}
			if mis := m.Mismatches(docs); len(mis) > 0 {
				t.Fatalf("round %d: stored documents differ from the model: %v", round, mis)
			}
		}
	}
}
