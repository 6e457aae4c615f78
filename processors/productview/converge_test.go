package productview_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

var seedFlag = flag.Uint64("seed", 0, "seed of TestConvergence's random stream (0: the fixed default)")

const defaultSeed = 20261126

// TestConvergence applies a random stream of product events through
// Writer, the way the runtime delivers it at its worst: partitions in
// parallel, batches of random size, events redelivered inside batches, half
// batches applied before a crash and then whole, runs of batches delivered
// again after a rewind, and finally the whole topic again (a replay over the
// live store). Every view read back must equal the pure Fold of the stream.
func TestConvergence(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = defaultSeed
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	const products, partitions = 250, 6
	// Long lives (10 to 38 events a product), details updates that change
	// several fields and lists with words JSON escapes, a third of the
	// products discontinued.
	stream := eventgen.Stream(eventgen.Options{
		Products: products, Seed: seed, Updates: eventgen.Range{Min: 9, Max: 37},
		Mix:         eventgen.Mix{Price: 15, Stock: 25, Review: 45, Details: 15},
		ManyDetails: true, Discontinue: true, DiscontinueOneIn: 3,
	})
	if len(stream) < 5000 {
		t.Fatalf("stream has %d events, want >= 5000", len(stream))
	}
	want := foldAll(stream)
	t.Logf("%d events over %d products in %d partitions", len(stream), len(want), partitions)

	parts := make([][]schemas.Event, partitions)
	for _, e := range stream {
		h := fnv.New32a()
		h.Write([]byte(e.AggregateID))
		p := h.Sum32() % partitions
		parts[p] = append(parts[p], e)
	}

	// Batches without their partition go through the store's Apply (the
	// script), with it through ApplyIn (on one server, versions known per
	// partition), as the runtime hands them over.
	for _, mode := range []struct {
		name        string
		partitioned bool
	}{{"apply", false}, {"applyAt", true}} {
		t.Run(mode.name, func(t *testing.T) { converge(t, seed, parts, stream, want, mode.partitioned) })
	}
}

func converge(t *testing.T, seed uint64, parts [][]schemas.Event, stream []schemas.Event, want map[string]productview.View, partitioned bool) {
	// apply hands events of partition i to p as the runtime would.
	apply := func(ctx context.Context, p *productview.Writer, i int, events []schemas.Event) error {
		if partitioned {
			return p.ApplyAt(ctx, events, int32(i), nil)
		}
		return p.Apply(ctx, events)
	}
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		store := redistest.NewStore(t, c)
		proj, err := productview.NewWriter(store, 1)
		if err != nil {
			t.Fatal(err)
		}

		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			delivered int
			errs      []error
		)
		for i, events := range parts {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
				n, err := deliver(rng, func(b []schemas.Event) error { return apply(ctx, proj, i, b) }, events)
				mu.Lock()
				defer mu.Unlock()
				delivered += n
				if err != nil {
					errs = append(errs, fmt.Errorf("partition %d: %w", i, err))
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		st := proj.Stats()
		t.Logf("delivered %d events: applied %d, duplicates %d", delivered, st.Applied, st.Duplicates)
		if st.Applied != int64(len(stream)) || st.Applied+st.Duplicates != int64(delivered) {
			t.Fatalf("stats %+v after delivering %d events of a stream of %d: want applied = %d, applied+duplicates = %d",
				st, delivered, len(stream), len(stream), delivered)
		}
		if err := store.SetLive(ctx, 1); err != nil {
			t.Fatal(err)
		}
		checkViews(t, productview.NewReader(store), 0, want)

		// A replay from offset zero over the live store changes nothing.
		for i, events := range parts {
			for len(events) > 0 {
				n := min(len(events), 500)
				if err := apply(ctx, proj, i, events[:n]); err != nil {
					t.Fatal(err)
				}
				events = events[n:]
			}
		}
		if st2 := proj.Stats(); st2.Applied != st.Applied || st2.Duplicates != st.Duplicates+int64(len(stream)) {
			t.Fatalf("replay over the live store: stats %+v, want applied %d and %d more duplicates", st2, st.Applied, len(stream))
		}
		checkViews(t, productview.NewReader(store), 0, want)
		if n, err := store.Count(ctx, 1); err != nil || n != len(want) {
			t.Fatalf("Count(1) = %d, %v; want %d", n, err, len(want))
		}

		// A rebuild: generation 2 beside the live one, then the swap.
		proj2, err := productview.NewWriter(store, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i, events := range parts {
			if err := apply(ctx, proj2, i, events); err != nil {
				t.Fatal(err)
			}
		}
		checkViews(t, productview.NewReader(store), 2, want)
		if n, err := store.Count(ctx, 2); err != nil || n != len(want) {
			t.Fatalf("Count(2) = %d, %v; want %d", n, err, len(want))
		}
		if err := store.SetLive(ctx, 2); err != nil {
			t.Fatal(err)
		}
		checkViews(t, productview.NewReader(store), 0, want)
	})
}

// deliver applies events, one partition in order, through write as a flaky
// runtime would, and returns how many events it handed over.
func deliver(rng *rand.Rand, write func([]schemas.Event) error, events []schemas.Event) (int, error) {
	var batches [][]schemas.Event
	for len(events) > 0 {
		n := min(len(events), 1+rng.IntN(64))
		batches = append(batches, events[:n])
		events = events[n:]
	}
	delivered := 0
	apply := func(b []schemas.Event) error {
		delivered += len(b)
		return write(b)
	}
	rewinds := 0
	for i := 0; i < len(batches); i++ {
		b := withDuplicates(rng, batches[i])
		if rng.IntN(10) == 0 {
			// A crash after part of the batch reached the store: the runtime
			// retries the batch whole.
			if err := apply(b[:rng.IntN(len(b))]); err != nil {
				return delivered, err
			}
		}
		if err := apply(b); err != nil {
			return delivered, err
		}
		if rng.IntN(12) == 0 && rewinds < len(batches) {
			// A rebalance or crash before the commit: back to an older offset.
			rewinds++
			i = max(-1, i-1-rng.IntN(4))
		}
	}
	return delivered, nil
}

// withDuplicates returns b with some of its events delivered a second time,
// later in the batch.
func withDuplicates(rng *rand.Rand, b []schemas.Event) []schemas.Event {
	out := make([]schemas.Event, 0, len(b)+len(b)/8)
	for i, e := range b {
		out = append(out, e)
		if rng.IntN(15) == 0 {
			out = append(out, b[rng.IntN(i+1)])
		}
	}
	return out
}

func checkViews(t *testing.T, r *productview.Reader, gen int, want map[string]productview.View) {
	t.Helper()
	ctx := context.Background()
	bad := 0
	for id, w := range want {
		var (
			got productview.View
			ok  bool
			err error
		)
		if gen == 0 {
			got, ok, err = r.Get(ctx, id)
		} else {
			got, ok, err = r.GetAt(ctx, gen, id)
		}
		if err != nil || !ok {
			t.Fatalf("Get(%s) = found %v, %v", id, ok, err)
		}
		if !reflect.DeepEqual(got, w) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(w)
			t.Errorf("view %s from the store differs from Fold:\n got %s (ratingSum %d)\nwant %s (ratingSum %d)", id, gj, got.RatingSum, wj, w.RatingSum)
			if bad++; bad > 5 {
				t.FailNow()
			}
		}
	}
}
