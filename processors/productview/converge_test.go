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
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

var seedFlag = flag.Uint64("seed", 0, "seed of TestConvergence's random stream (0: the fixed default)")

const defaultSeed = 20261126

// TestConvergence applies a random stream of product events through
// Projector, the way the runtime delivers it at its worst: partitions in
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
	stream := randomStream(rand.New(rand.NewPCG(seed, 0)), products)
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

	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		store := redistest.NewStore(t, c)
		proj, err := productview.New(store, 1)
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
				n, err := deliver(ctx, rng, proj, events)
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
		for _, events := range parts {
			for len(events) > 0 {
				n := min(len(events), 500)
				if err := proj.Apply(ctx, events[:n]); err != nil {
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
		proj2, err := productview.New(store, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, events := range parts {
			if err := proj2.Apply(ctx, events); err != nil {
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

// deliver applies events, one partition in order, as a flaky runtime would,
// and returns how many events it handed to Apply.
func deliver(ctx context.Context, rng *rand.Rand, p *productview.Projector, events []schemas.Event) (int, error) {
	var batches [][]schemas.Event
	for len(events) > 0 {
		n := min(len(events), 1+rng.IntN(64))
		batches = append(batches, events[:n])
		events = events[n:]
	}
	delivered := 0
	apply := func(b []schemas.Event) error {
		delivered += len(b)
		return p.Apply(ctx, b)
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

// randomStream makes a valid event stream: per product, versions 1, 2, 3 …
// starting with ProductCreated and, for some, ending with ProductDiscontinued;
// products interleaved at random.
func randomStream(rng *rand.Rand, products int) []schemas.Event {
	words := []string{"steel", "oak", "led", "kids", "eco", "sale", "new", "café", "<b>"}
	pick := func(max int) []string {
		l := []string{}
		for range rng.IntN(max + 1) {
			l = append(l, words[rng.IntN(len(words))])
		}
		return l
	}
	money := func() schemas.Money { return schemas.Money{Amount: 1 + rng.Int64N(100_000), Currency: "EUR"} }

	perProduct := make([][]schemas.EventData, products)
	for i := range perProduct {
		n := 10 + rng.IntN(29)
		evs := []schemas.EventData{&schemas.ProductCreated{
			Name: fmt.Sprintf("Product %d", i), Description: fmt.Sprintf("about %d", rng.IntN(1000)),
			Price:      money(),
			CategoryID: fmt.Sprintf("c-%d", rng.IntN(5)), CategoryName: fmt.Sprintf("Category %d", rng.IntN(5)),
			BrandID: fmt.Sprintf("b-%d", rng.IntN(5)), BrandName: fmt.Sprintf("Brand %d", rng.IntN(5)),
			Tags: pick(3), ImageURLs: pick(2), Stock: rng.Int64N(21),
		}}
		stock := int64(0)
		for len(evs) < n {
			switch r := rng.IntN(100); {
			case r < 15:
				d := &schemas.ProductDetailsUpdated{}
				if rng.IntN(2) == 0 {
					d.Name = ptr(fmt.Sprintf("Product %d v%d", i, len(evs)))
				}
				if rng.IntN(3) == 0 {
					d.Description = ptr(fmt.Sprintf("text %d", rng.IntN(1000)))
				}
				if rng.IntN(3) == 0 {
					d.Tags = pick(3)
				}
				if rng.IntN(5) == 0 {
					d.ImageURLs = pick(2)
				}
				if rng.IntN(5) == 0 {
					c := rng.IntN(9)
					d.CategoryID, d.CategoryName = ptr(fmt.Sprintf("c-%d", c)), ptr(fmt.Sprintf("Category %d", c))
				}
				if rng.IntN(5) == 0 {
					b := rng.IntN(9)
					d.BrandID, d.BrandName = ptr(fmt.Sprintf("b-%d", b)), ptr(fmt.Sprintf("Brand %d", b))
				}
				evs = append(evs, d)
			case r < 30:
				evs = append(evs, &schemas.ProductPriceChanged{OldPrice: money(), NewPrice: money()})
			case r < 55:
				q := rng.Int64N(31)
				evs = append(evs, &schemas.ProductStockChanged{OldQuantity: stock, Quantity: q})
				stock = q
			default:
				evs = append(evs, &schemas.ProductReviewAdded{
					ReviewID: fmt.Sprintf("r-%d-%d", i, len(evs)), Rating: int32(1 + rng.IntN(5)), UserID: "u",
				})
			}
		}
		if rng.IntN(3) == 0 {
			evs = append(evs, &schemas.ProductDiscontinued{Reason: "gone"})
		}
		perProduct[i] = evs
	}

	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var stream []schemas.Event
	next := make([]int, products)
	open := make([]int, products)
	for i := range open {
		open[i] = i
	}
	for len(open) > 0 {
		k := rng.IntN(len(open))
		i := open[k]
		v := next[i]
		next[i]++
		stream = append(stream, schemas.Event{
			ID:            fmt.Sprintf("e-%d-%d", i, v+1),
			AggregateType: schemas.AggregateProduct,
			AggregateID:   fmt.Sprintf("%08x-0000-4000-8000-%012d", i, i),
			Version:       int64(v + 1),
			Timestamp:     base.Add(time.Duration(len(stream)) * 1234567 * time.Nanosecond),
			Data:          perProduct[i][v],
		})
		if next[i] == len(perProduct[i]) {
			open[k] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	return stream
}
