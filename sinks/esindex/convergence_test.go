package esindex_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
)

// TestConvergence delivers a random product stream the way a crashing,
// rebalancing consumer group does (whole batches redelivered from an older
// offset, duplicates inside batches, a zombie consumer replaying a partition
// from offset zero at the same time as its new owner) and checks that every
// stored document equals the fold of its events.
func TestConvergence(t *testing.T) {
	c := client(t)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ix := newIndex(t, c, esindex.Config{BulkMaxDocs: 50})
			events := indextest.Generate(seed, 250, 12)
			model := indextest.NewModel(indextest.Currency, events)

			// Two partitions by aggregate, as the topic's key hashing does.
			var parts [2][]schemas.Event
			for _, e := range events {
				h := fnv.New32a()
				h.Write([]byte(e.AggregateID))
				parts[h.Sum32()%2] = append(parts[h.Sum32()%2], e)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, 3)
			consume := func(name string, log []schemas.Event, r *rand.Rand) {
				defer wg.Done()
				committed := 0
				for committed < len(log) {
					end := min(len(log), committed+1+r.IntN(80))
					batch := slices.Clone(log[committed:end])
					if r.IntN(5) == 0 { // a duplicate inside the batch, in order
						i := r.IntN(len(batch))
						batch = slices.Insert(batch, i, batch[i])
					}
					if err := ix.Apply(ctx, batch); err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
						return
					}
					if r.IntN(4) == 0 { // crash before the commit: redeliver from an older offset
						committed = max(0, committed-r.IntN(100))
						continue
					}
					committed = end
				}
			}
			wg.Add(3)
			go consume("partition 0", parts[0], rand.New(rand.NewPCG(seed, 10)))
			go consume("partition 1", parts[1], rand.New(rand.NewPCG(seed, 11)))
			go consume("zombie replaying partition 0", parts[0], rand.New(rand.NewPCG(seed, 12)))
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}

			ids := make([]string, 0, len(model.Docs))
			for id := range model.Docs {
				ids = append(ids, id)
			}
			stored, err := ix.Get(ctx, ids...)
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != len(model.Docs) {
				t.Fatalf("%d documents stored, want %d", len(stored), len(model.Docs))
			}
			for id, want := range model.Docs {
				if got := stored[id]; !indextest.EqualDocs(got, want) {
					t.Fatalf("product %s:\n got %+v\nwant %+v", id, got, want)
				}
			}
			refresh(t, ix)
			if n, err := ix.Count(ctx); err != nil || n != model.Count() {
				t.Fatalf("Count = %d, %v; want %d", n, err, model.Count())
			}
			st := ix.Stats()
			t.Logf("%d events, %d products: %+v", len(events), len(model.Docs), st)
			if st.Duplicates == 0 {
				t.Fatal("no duplicate was counted")
			}
			if st.Applied < int64(len(events)) {
				t.Fatalf("%d events applied, want at least %d", st.Applied, len(events))
			}
		})
	}
}

// TestAliasLifecycle builds a second generation beside the live one and
// swaps the alias in one step.
func TestAliasLifecycle(t *testing.T) {
	c := client(t)
	g1 := newIndex(t, c, esindex.Config{})
	ctx := t.Context()
	a := []schemas.Event{{ID: "1", AggregateType: schemas.AggregateProduct, AggregateID: "a", Version: 1, Timestamp: time.Now(),
		Data: &schemas.ProductCreated{Name: "Old Lamp", Price: schemas.Money{Amount: 100, Currency: "EUR"}}}}
	if err := g1.Apply(ctx, a); err != nil {
		t.Fatal(err)
	}
	refresh(t, g1)
	if gen, err := g1.LiveGeneration(ctx); err != nil || gen != 1 {
		t.Fatalf("LiveGeneration = %d, %v", gen, err)
	}

	cfg := g1.Config()
	cfg.Generation = 2
	g2, err := esindex.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := []schemas.Event{{ID: "2", AggregateType: schemas.AggregateProduct, AggregateID: "b", Version: 1, Timestamp: time.Now(),
		Data: &schemas.ProductCreated{Name: "New Lamp", Price: schemas.Money{Amount: 100, Currency: "EUR"}}}}
	if err := g2.Apply(ctx, b); err != nil { // creates generation 2
		t.Fatal(err)
	}
	if err := g2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		r, err := g1.Search(ctx, productsearch.Query{Text: "lamp", Page: 1, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range r.Products {
			out = append(out, h.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"Old Lamp"}) {
		t.Fatalf("before the swap: %v", got)
	}
	if err := g2.DeleteIndex(ctx, 1); err == nil {
		t.Fatal("deleted the live index")
	}
	if err := g2.SwapAlias(ctx, 3, 2); err == nil {
		t.Fatal("swapped from a generation the alias is not on")
	}
	if err := g2.SwapAlias(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"New Lamp"}) {
		t.Fatalf("after the swap: %v", got)
	}
	if gen, err := g2.LiveGeneration(ctx); err != nil || gen != 2 {
		t.Fatalf("LiveGeneration = %d, %v", gen, err)
	}
	if n, err := g2.CountGeneration(ctx, 1); err != nil || n != 1 {
		t.Fatalf("CountGeneration(1) = %d, %v", n, err)
	}
	if err := g2.DeleteIndex(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := g2.DeleteIndex(ctx, 1); err != nil {
		t.Fatalf("deleting a missing index: %v", err)
	}
	if err := g2.EnsureIndex(ctx, 2); err != nil {
		t.Fatalf("EnsureIndex on an existing index: %v", err)
	}
}
