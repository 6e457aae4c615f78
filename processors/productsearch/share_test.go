package productsearch_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

func TestShares(t *testing.T) {
	ev := func(id string, v int64) schemas.Event { return schemas.Event{AggregateID: id, Version: v} }
	tests := []struct {
		name   string
		events []schemas.Event
		want   []productsearch.Share // Events left out: At says which
	}{
		{"empty", nil, nil},
		{"one product", []schemas.Event{ev("a", 1), ev("a", 2)}, []productsearch.Share{{ID: "a", At: []int{0, 1}}}},
		{"interleaved, first appearance order", []schemas.Event{ev("b", 4), ev("a", 1), ev("b", 5), ev("a", 2), ev("c", 9)},
			[]productsearch.Share{{ID: "b", At: []int{0, 2}}, {ID: "a", At: []int{1, 3}}, {ID: "c", At: []int{4}}}},
		{"no aggregate ID is a product too", []schemas.Event{ev("", 1), ev("a", 1)},
			[]productsearch.Share{{ID: "", At: []int{0}}, {ID: "a", At: []int{1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := productsearch.Shares(tt.events)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d shares, want %d", len(got), len(tt.want))
			}
			for i, s := range got {
				if s.ID != tt.want[i].ID || !reflect.DeepEqual(s.At, tt.want[i].At) {
					t.Errorf("share %d = %s at %v, want %s at %v", i, s.ID, s.At, tt.want[i].ID, tt.want[i].At)
				}
				for j, e := range s.Events {
					if !reflect.DeepEqual(e, tt.events[s.At[j]]) {
						t.Errorf("share %s event %d is not batch[%d]", s.ID, j, s.At[j])
					}
				}
			}
		})
	}
}

func TestShareVersions(t *testing.T) {
	s := productsearch.Share{ID: "a", Events: []schemas.Event{{Version: 3}, {Version: 4}, {Version: 7}}}
	if got := s.MaxVersion(); got != 7 {
		t.Errorf("MaxVersion = %d, want 7", got)
	}
	for _, tt := range []struct {
		stored int64
		want   int
	}{{0, 0}, {3, 1}, {5, 2}, {7, -1}, {9, -1}} {
		if got := s.FirstNew(tt.stored); got != tt.want {
			t.Errorf("FirstNew(%d) = %d, want %d", tt.stored, got, tt.want)
		}
	}
}

// BenchmarkShares splits batches of 5,000 events (the search projector's)
// of a skewed catalogue, a few hot products holding hundreds of events
// each, as the projection does before it folds.
func BenchmarkShares(b *testing.B) {
	events := eventgen.Stream(eventgen.Options{Products: 10_000, Events: 100_000, Seed: 1, Distribution: eventgen.Zipf})
	batches := slices.Collect(slices.Chunk(events[10_000:], productsearch.Batch))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		productsearch.Shares(batches[i%len(batches)])
	}
}
