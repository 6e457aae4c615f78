package productview_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// referenceEvents renames every category and brand the products use, and
// one nobody uses, 1 to 4 times each; about one in four used ones is never
// named, so its products keep the names their own events carry.
func referenceEvents(rng *rand.Rand, products []schemas.Event) []schemas.Event {
	ids := map[string]bool{}
	note := func(typ string, id *string) {
		if id != nil && *id != "" {
			ids[schemas.ReferenceKey(typ, *id)] = true
		}
	}
	for _, e := range products {
		switch d := e.Data.(type) {
		case *schemas.ProductCreated:
			note(schemas.AggregateCategory, &d.CategoryID)
			note(schemas.AggregateBrand, &d.BrandID)
		case *schemas.ProductDetailsUpdated:
			note(schemas.AggregateCategory, d.CategoryID)
			note(schemas.AggregateBrand, d.BrandID)
		}
	}
	ids[schemas.ReferenceKey(schemas.AggregateCategory, "unused")] = true
	var out []schemas.Event
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for _, key := range sortedKeys(ids) {
		if rng.IntN(4) == 0 && key != "category:unused" {
			continue
		}
		typ, id, _ := schemas.ParseReferenceKey(key)
		for v := range int64(1 + rng.IntN(4)) {
			name := fmt.Sprintf("%s v%d", key, v+1)
			var data schemas.EventData = &schemas.CategoryRenamed{Name: name}
			if typ == schemas.AggregateBrand {
				data = &schemas.BrandRenamed{Name: name}
			}
			out = append(out, schemas.Event{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", len(out)), AggregateType: typ, AggregateID: id,
				Version: v + 1, Timestamp: at.Add(time.Duration(len(out)) * time.Second), Data: data,
				Metadata: schemas.Metadata{CorrelationID: "c", CausationID: "00000000-0000-4000-8000-000000000000"}})
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := range out { // insertion sort: a few dozen keys
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// joinedWant is what every view must show: the fold of its product's
// events with the latest name of its category and brand, where they have
// one.
func joinedWant(products, refs []schemas.Event) map[string]productview.View {
	names := referenceNames(refs)
	want := foldAll(products)
	for id, v := range want {
		if n, ok := names[schemas.ReferenceKey(schemas.AggregateCategory, v.CategoryID)]; ok {
			v.CategoryName, v.Joined = n, true
		}
		if n, ok := names[schemas.ReferenceKey(schemas.AggregateBrand, v.BrandID)]; ok {
			v.BrandName, v.Joined = n, true
		}
		want[id] = v
	}
	return want
}

// TestJoinProperty is the join's property: product events (whose category
// and brand names are those of the product's own commands, so stale ones
// among them) and category and brand renames, on different partitions,
// applied by concurrent lanes with redelivery, duplicates, crashes and
// rewinds, in any order (every rename before the first product, every
// product before the first rename, or all at once), always end with every
// view showing the latest reference name; a replay and a rebuild keep it.
func TestJoinProperty(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	if testing.Short() {
		seeds = seeds[:2]
	}
	orders := []string{"references first", "products first", "interleaved"}
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		for _, seed := range seeds {
			for oi, order := range orders {
				t.Run(fmt.Sprintf("seed-%d/%s", seed, order), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, uint64(oi)))
					products := eventgen.Stream(eventgen.Options{
						Products: 80, Seed: seed, Updates: eventgen.Range{Min: 2, Max: 12},
						Mix:         eventgen.Mix{Price: 20, Stock: 20, Review: 20, Details: 40},
						ManyDetails: true,
					})
					refs := referenceEvents(rng, products)
					want := joinedWant(products, refs)
					runJoin(t, c, rng, order, products, refs, want)
				})
			}
		}
	})
}

func runJoin(t *testing.T, c redis.UniversalClient, rng *rand.Rand, order string, products, refs []schemas.Event, want map[string]productview.View) {
	ctx := context.Background()
	const partitions = 4
	partsOf := func(events []schemas.Event) [][]schemas.Event {
		parts := make([][]schemas.Event, partitions)
		for _, e := range events {
			key := e.AggregateID
			if schemas.IsReference(e.AggregateType) {
				key = schemas.ReferenceKey(e.AggregateType, e.AggregateID)
			}
			h := fnv.New32a()
			h.Write([]byte(key))
			p := h.Sum32() % partitions
			parts[p] = append(parts[p], e)
		}
		return parts
	}
	store, w := liveWriter(t, c)
	run := func(parts [][]schemas.Event) {
		t.Helper()
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for i, events := range parts {
			seed := rng.Uint64()
			wg.Go(func() {
				write := func(b []schemas.Event) error { return w.ApplyAt(ctx, b, int32(i), nil) }
				_, err := deliver(rand.New(rand.NewPCG(seed, uint64(i))), write, events)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	switch order {
	case "references first":
		run(partsOf(refs))
		run(partsOf(products))
	case "products first":
		run(partsOf(products))
		run(partsOf(refs))
	default: // one stream, each partition holding both kinds in a random mix
		all := append(append([]schemas.Event(nil), products...), refs...)
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		// Shuffling breaks each aggregate's order; put each partition's
		// events of one aggregate back in version order, as Kafka keeps them.
		parts := partsOf(all)
		for _, p := range parts {
			sortByAggregateVersion(p)
		}
		run(parts)
	}
	reader := productview.NewReader(store)
	checkViews(t, reader, 0, want)
	checkViews(t, reader, 1, want)

	// The reference records: what GET /v1/categories/{id} reads.
	for _, e := range refs {
		got, ok, err := reader.Reference(ctx, e.AggregateType, e.AggregateID)
		if err != nil || !ok || got.ID != e.AggregateID || got.Version < e.Version {
			t.Fatalf("Reference(%s %s) = %+v, %v, %v; want at least version %d", e.AggregateType, e.AggregateID, got, ok, err, e.Version)
		}
	}
	if _, ok, err := reader.Reference(ctx, schemas.AggregateBrand, "never-named"); ok || err != nil {
		t.Fatalf("Reference of a brand never named: found %v, %v", ok, err)
	}
	if n, err := store.Count(ctx, 1); err != nil || n != len(want) {
		t.Fatalf("Count(1) = %d, %v; want the %d products only", n, err, len(want))
	}

	// A replay over the live store, then a rebuild into generation 2: the
	// reference records are rebuilt with the views.
	for _, p := range partsOf(append(append([]schemas.Event(nil), products...), refs...)) {
		if err := w.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	checkViews(t, reader, 0, want)
	w2, err := productview.NewWriter(store, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range partsOf(append(append([]schemas.Event(nil), refs...), products...)) {
		if err := w2.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	checkViews(t, reader, 2, want)
	if err := store.SetLive(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Clear(ctx, 1); err != nil {
		t.Fatal(err)
	}
	checkViews(t, reader, 0, want)

	// Products created later, carrying an old name in their own event,
	// show the current one too.
	later := 0
	for key := range referenceNames(refs) {
		typ, id, _ := schemas.ParseReferenceKey(key)
		if typ != schemas.AggregateCategory {
			continue
		}
		pid := fmt.Sprintf("00000000-0000-4000-9000-%012d", later)
		later++
		e := schemas.Event{ID: pid, AggregateType: schemas.AggregateProduct, AggregateID: pid, Version: 1, Timestamp: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
			Data: &schemas.ProductCreated{Name: "late", Price: schemas.Money{Amount: 100, Currency: "EUR"}, CategoryID: id, CategoryName: "an old name", BrandID: "nobrand", BrandName: "Own brand"}}
		if err := w2.Apply(ctx, []schemas.Event{e}); err != nil {
			t.Fatal(err)
		}
		v, ok, err := reader.Get(ctx, pid)
		if err != nil || !ok || v.CategoryName != referenceNames(refs)[key] || v.BrandName != "Own brand" {
			t.Fatalf("a later product of %s: %+v, %v, %v; want category name %q and its own brand name", key, v, ok, err, referenceNames(refs)[key])
		}
	}
}

// liveWriter is a store of its own on c with generation 1 live, and a
// Writer of that generation.
func liveWriter(t *testing.T, c redis.UniversalClient) (*redisview.Store, *productview.Writer) {
	t.Helper()
	store := redistest.NewStore(t, c)
	if err := store.SetLive(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	w, err := productview.NewWriter(store, 1)
	if err != nil {
		t.Fatal(err)
	}
	return store, w
}

// referenceNames is the latest name of each category and brand of refs.
func referenceNames(refs []schemas.Event) map[string]string {
	out := map[string]string{}
	latest := map[string]int64{}
	for _, e := range refs {
		key := schemas.ReferenceKey(e.AggregateType, e.AggregateID)
		if e.Version <= latest[key] {
			continue
		}
		latest[key] = e.Version
		switch d := e.Data.(type) {
		case *schemas.CategoryRenamed:
			out[key] = d.Name
		case *schemas.BrandRenamed:
			out[key] = d.Name
		}
	}
	return out
}

// sortByAggregateVersion restores each aggregate's version order within
// events, leaving the interleaving of different aggregates as it is.
func sortByAggregateVersion(events []schemas.Event) {
	slots := map[string][]int{}
	byAgg := map[string][]schemas.Event{}
	for i, e := range events {
		k := e.AggregateType + "/" + e.AggregateID
		slots[k] = append(slots[k], i)
		byAgg[k] = append(byAgg[k], e)
	}
	for k, es := range byAgg {
		for i := range es { // insertion sort by version
			for j := i; j > 0 && es[j].Version < es[j-1].Version; j-- {
				es[j], es[j-1] = es[j-1], es[j]
			}
		}
		for i, at := range slots[k] {
			events[at] = es[i]
		}
	}
}
