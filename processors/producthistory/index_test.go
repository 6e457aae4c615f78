package producthistory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/producthistory"
	"github.com/streamview/streamview/schemas"
)

// memStore is the Store contract in memory: first position wins.
type memStore struct {
	mu  sync.Mutex
	pos map[string]map[int64]producthistory.Entry
	err error
}

func newMem() *memStore { return &memStore{pos: map[string]map[int64]producthistory.Entry{}} }

func (m *memStore) Put(_ context.Context, entries []producthistory.Entry) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	added := 0
	for _, e := range entries {
		if m.pos[e.AggregateID] == nil {
			m.pos[e.AggregateID] = map[int64]producthistory.Entry{}
		}
		if _, ok := m.pos[e.AggregateID][e.Version]; !ok {
			m.pos[e.AggregateID][e.Version] = e
			added++
		}
	}
	return added, nil
}

func (m *memStore) Range(_ context.Context, id string, from int64, n int) ([]producthistory.Entry, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []producthistory.Entry
	for v := from; len(out) < n; v++ {
		e, ok := m.pos[id][v]
		if !ok {
			break
		}
		out = append(out, e)
	}
	return out, int64(len(m.pos[id])), nil
}

func ev(id string, v int64) schemas.Event {
	return schemas.Event{ID: fmt.Sprintf("%s-%d", id, v), AggregateID: id, Version: v, Data: &schemas.ProductStockChanged{Quantity: v}}
}

func TestIndexerApplyAt(t *testing.T) {
	tests := []struct {
		name     string
		batches  [][]schemas.Event
		offsets  [][]int64
		want     map[string][]int64 // product -> offsets by version
		applied  int64
		dupes    int64
		rejected []int // indexes of the last batch rejected permanently
	}{
		{"two products", [][]schemas.Event{{ev("a", 1), ev("b", 1), ev("a", 2)}}, [][]int64{{10, 11, 12}},
			map[string][]int64{"a": {10, 12}, "b": {11}}, 3, 0, nil},
		{"redelivery keeps the first position", [][]schemas.Event{{ev("a", 1), ev("a", 2)}, {ev("a", 1), ev("a", 2), ev("a", 3)}},
			[][]int64{{10, 12}, {10, 12, 15}}, map[string][]int64{"a": {10, 12, 15}}, 3, 2, nil},
		{"a re-driven copy at a later offset is a duplicate", [][]schemas.Event{{ev("a", 1)}, {ev("a", 1)}},
			[][]int64{{10}, {99}}, map[string][]int64{"a": {10}}, 1, 1, nil},
		{"no product or version", [][]schemas.Event{{ev("a", 1), ev("", 2), ev("a", 0)}}, [][]int64{{1, 2, 3}},
			map[string][]int64{"a": {1}}, 1, 0, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMem()
			ix := producthistory.NewIndexer(store)
			var err error
			for i, b := range tt.batches {
				err = ix.ApplyAt(context.Background(), b, 3, tt.offsets[i])
			}
			var be *batch.Error
			switch {
			case tt.rejected == nil && err != nil:
				t.Fatalf("ApplyAt: %v", err)
			case tt.rejected != nil:
				if !errors.As(err, &be) || be.Transient() {
					t.Fatalf("ApplyAt = %v, want a permanent batch error", err)
				}
				var got []int
				for _, f := range be.Failures {
					got = append(got, f.Index)
				}
				if !slices.Equal(got, tt.rejected) {
					t.Errorf("rejected %v, want %v", got, tt.rejected)
				}
			}
			for id, offs := range tt.want {
				entries, total, _ := store.Range(context.Background(), id, 1, 100)
				var got []int64
				for _, e := range entries {
					got = append(got, e.Offset)
					if e.Partition != 3 {
						t.Errorf("%s v%d: partition %d, want 3", id, e.Version, e.Partition)
					}
				}
				if !slices.Equal(got, offs) || total != int64(len(offs)) {
					t.Errorf("%s: offsets %v (total %d), want %v", id, got, total, offs)
				}
			}
			if s := ix.Stats(); s.Applied != tt.applied || s.Duplicate != tt.dupes {
				t.Errorf("stats %+v, want applied %d duplicate %d", s, tt.applied, tt.dupes)
			}
		})
	}
}

func TestIndexerFailures(t *testing.T) {
	store := newMem()
	store.err = errors.New("redis down")
	ix := producthistory.NewIndexer(store)
	err := ix.ApplyAt(context.Background(), []schemas.Event{ev("a", 1)}, 0, []int64{7})
	var be *batch.Error
	if err == nil || errors.As(err, &be) {
		t.Errorf("store down: %v, want a plain (transient) error", err)
	}
	if err := ix.Apply(context.Background(), []schemas.Event{ev("a", 1)}); !errors.Is(err, producthistory.ErrNoPositions) {
		t.Errorf("Apply = %v, want ErrNoPositions", err)
	}
	if err := ix.ApplyAt(context.Background(), []schemas.Event{ev("a", 1)}, 0, nil); err == nil {
		t.Errorf("offsets missing: no error")
	}
}
