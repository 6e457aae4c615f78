package productview_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
)

// partitionStore records which of Apply and ApplyIn the Writer calls.
type partitionStore struct {
	productview.Store
	calls  []int32  // the partition of each call, -1 for Apply
	forgot []string // "gen/partition" of each Forget
}

func (s *partitionStore) Forget(gen int, partition int32) {
	s.forgot = append(s.forgot, fmt.Sprintf("%d/%d", gen, partition))
}

func (s *partitionStore) Apply(ctx context.Context, gen int, changes []productview.Change) (productview.Result, error) {
	s.calls = append(s.calls, -1)
	return productview.Result{Applied: len(changes)}, nil
}

func (s *partitionStore) ApplyIn(ctx context.Context, gen int, partition int32, changes []productview.Change) (productview.Result, error) {
	s.calls = append(s.calls, partition)
	return productview.Result{Applied: len(changes)}, nil
}

// The runtime's positions reach a PartitionStore: a batch it names the
// partition of goes through ApplyIn, one it does not through Apply.
func TestWriterNamesPartition(t *testing.T) {
	ctx := context.Background()
	events := eventgen.Stream(eventgen.Options{Products: 2, Events: 6, Seed: 1})
	s := &partitionStore{}
	w, err := productview.NewWriter(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	var _ processors.PositionedProjection = w
	if err := w.ApplyAt(ctx, events, 3, make([]int64, len(events))); err != nil {
		t.Fatal(err)
	}
	if err := w.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 2 || s.calls[0] != 3 || s.calls[1] != -1 {
		t.Fatalf("store calls %v; want ApplyIn of partition 3, then Apply", s.calls)
	}
	if got := w.Stats().Applied; got != int64(2*len(events)) {
		t.Fatalf("applied %d; want %d", got, 2*len(events))
	}
}

// The runtime's word that a partition is gone reaches the store, with the
// writer's generation.
func TestWriterForgetsPartition(t *testing.T) {
	s := &partitionStore{}
	w, err := productview.NewWriter(s, 4)
	if err != nil {
		t.Fatal(err)
	}
	var _ processors.PartitionMemory = w
	processors.Forget(w, 2)
	if want := []string{"4/2"}; !slices.Equal(s.forgot, want) {
		t.Fatalf("store told to forget %v; want %v", s.forgot, want)
	}
}
