package redisview_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// sameSlotIDs returns n document IDs of each of slots different slots.
func sameSlotIDs(t *testing.T, slots, n int) [][]string {
	t.Helper()
	var out [][]string
	used := map[int]bool{}
	for s := 0; len(out) < slots; s++ {
		first := fmt.Sprintf("s%d-0", s)
		slot := redisview.Slot(first)
		if used[slot] {
			continue
		}
		used[slot] = true
		ids := []string{first}
		for i := 1; len(ids) < n; i++ {
			id := fmt.Sprintf("s%d-%d", s, i)
			if redisview.Slot(id) == slot {
				ids = append(ids, id)
			}
		}
		out = append(out, ids)
	}
	return out
}

// On every backend, documents of a few slots go in batches whose script
// calls carry several documents; on a cluster each call's documents share
// a slot, so the calls are fewer than the documents and every change is
// applied once.
func TestManyDocumentsPerSlot(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		h := &commandNames{}
		c.AddHook(h)
		s := redistest.NewStoreConfig(t, c, redisview.Config{DocsPerCall: 7, DocsPerPipeline: 20})
		groups := sameSlotIDs(t, 3, 10)
		var ids []string
		for i := range 10 { // interleaved: the slots' documents alternate
			for _, g := range groups {
				ids = append(ids, g[i])
			}
		}
		for v := int64(1); v <= 3; v++ {
			var batch []productview.Change
			for _, id := range ids {
				batch = append(batch,
					productview.Change{ID: id, Version: v, Set: []productview.Field{{Name: "id", Value: id}}, Incr: []productview.Incr{{Name: "n", By: 1}}},
					productview.Change{ID: id, Version: v, Incr: []productview.Incr{{Name: "n", By: 1}}}) // duplicate
			}
			h.take()
			res, err := s.Apply(ctx, 1, batch)
			if err != nil || res != (productview.Result{Applied: len(ids), Duplicates: len(ids)}) {
				t.Fatalf("v%d: Apply = %+v, %v; want %d applied, %d duplicates", v, res, err, len(ids), len(ids))
			}
			// 30 documents, 7 per call: on a single server 5 calls; on a
			// cluster 2 per slot (7 + 3), 6 in all; a NOSCRIPT retry of
			// a fresh node adds its calls once more.
			if calls := scripts(h.take()); redistest.IsCluster(c) && v > 1 && calls != 6 {
				t.Errorf("v%d: %d script calls for %d documents of 3 slots, want 6", v, calls, len(ids))
			}
		}
		for _, id := range ids {
			d, ok, err := s.GetAt(ctx, 1, id)
			if err != nil || !ok || d.Version != 3 || d.Fields["n"] != "3" || d.Fields["id"] != id {
				t.Fatalf("%s = %+v, found %v, %v; want version 3, n 3", id, d, ok, err)
			}
		}
		if n, err := s.Count(ctx, 1); err != nil || n != len(ids) {
			t.Fatalf("Count = %d, %v; want %d", n, err, len(ids))
		}
	})
}
