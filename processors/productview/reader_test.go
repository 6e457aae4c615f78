package productview_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// readCounter counts the reads a Reader asks of its store, each one round
// trip.
type readCounter struct {
	productview.Store
	reads atomic.Int64
}

func (c *readCounter) Get(ctx context.Context, id string) (productview.Doc, bool, error) {
	c.reads.Add(1)
	return c.Store.Get(ctx, id)
}

func (c *readCounter) GetAt(ctx context.Context, gen int, id string) (productview.Doc, bool, error) {
	c.reads.Add(1)
	return c.Store.GetAt(ctx, gen, id)
}

func (c *readCounter) GetMany(ctx context.Context, gen int, ids []string) (map[string]productview.Doc, error) {
	c.reads.Add(1)
	return c.Store.GetMany(ctx, gen, ids)
}

// A Reader reads a product it has read before in one round trip, the view
// with the reference records it was joined with; the names are read each
// time, and a view whose category or brand changed is joined with its new
// ones.
func TestReaderReadsViewAndNamesInOneRoundTrip(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		store, w := liveWriter(t, c)
		const p = "00000000-0000-4000-8000-0000000000b1"
		versions := map[string]int64{}
		events := 0
		apply := func(typ, id string, data schemas.EventData) {
			t.Helper()
			versions[typ+id]++
			events++
			e := schemas.Event{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", events),
				AggregateType: typ, AggregateID: id, Version: versions[typ+id], Timestamp: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Data: data,
				Metadata: schemas.Metadata{CorrelationID: "c", CausationID: "00000000-0000-4000-8000-000000000000"}}
			if err := w.Apply(ctx, []schemas.Event{e}); err != nil {
				t.Fatal(err)
			}
		}
		str := func(s string) *string { return &s }
		apply(schemas.AggregateCategory, "alpha", &schemas.CategoryRenamed{Name: "Alpha"})
		apply(schemas.AggregateCategory, "beta", &schemas.CategoryRenamed{Name: "Beta"})
		apply(schemas.AggregateBrand, "xeno", &schemas.BrandRenamed{Name: "Xeno"})
		apply(schemas.AggregateProduct, p, &schemas.ProductCreated{Name: "Kettle", Price: schemas.Money{Amount: 100, Currency: "EUR"},
			CategoryID: "alpha", CategoryName: "own alpha", BrandID: "xeno", BrandName: "own xeno"})

		counter := &readCounter{Store: store}
		reader := productview.NewReader(counter)
		read := func(what, category, brand string, reads int64) {
			t.Helper()
			before := counter.reads.Load()
			v, ok, err := reader.Get(ctx, p)
			if err != nil || !ok {
				t.Fatalf("%s: Get = %v, %v", what, ok, err)
			}
			if v.CategoryName != category || v.BrandName != brand {
				t.Fatalf("%s: names %q and %q, want %q and %q", what, v.CategoryName, v.BrandName, category, brand)
			}
			if n := counter.reads.Load() - before; n != reads {
				t.Fatalf("%s: %d reads of the store, want %d", what, n, reads)
			}
		}
		read("the first read", "Alpha", "Xeno", 2)
		read("a read again", "Alpha", "Xeno", 1)
		apply(schemas.AggregateCategory, "alpha", &schemas.CategoryRenamed{Name: "Alpha 2"})
		read("after a rename", "Alpha 2", "Xeno", 1)
		apply(schemas.AggregateProduct, p, &schemas.ProductDetailsUpdated{CategoryID: str("beta"), CategoryName: str("own beta")})
		read("after the category changed", "Beta", "Xeno", 2)
		read("then", "Beta", "Xeno", 1)
		apply(schemas.AggregateProduct, p, &schemas.ProductDetailsUpdated{BrandID: str("never-named"), BrandName: str("Own brand")})
		read("after the brand changed to one never named", "Beta", "Own brand", 2)
		read("then", "Beta", "Own brand", 1)
		// A past version joined (?asOfVersion=) names other records than
		// the product does now: it shows their names, and the next read
		// still asks for the current ones with the view.
		past, err := reader.Join(ctx, productview.View{ID: p, CategoryID: "alpha", CategoryName: "own alpha", BrandID: "xeno", BrandName: "own xeno"})
		if err != nil || past.CategoryName != "Alpha 2" || past.BrandName != "Xeno" {
			t.Fatalf("Join of a past version = %+v, %v; want today's names Alpha 2 and Xeno", past, err)
		}
		read("after a past version was joined", "Beta", "Own brand", 1)
		if _, ok, err := reader.GetAt(ctx, 0, "category:alpha"); ok || err != nil {
			t.Fatalf("GetAt(0) of a reference record = found %v, %v; want not found: it is no product", ok, err)
		}

		// GetAt of a generation uses what Get learnt; of generation 0 it
		// fails as the store's GetAt does.
		before := counter.reads.Load()
		if v, ok, err := reader.GetAt(ctx, 1, p); err != nil || !ok || v.CategoryName != "Beta" {
			t.Fatalf("GetAt(1) = %+v, %v, %v", v, ok, err)
		}
		if n := counter.reads.Load() - before; n != 1 {
			t.Fatalf("GetAt(1): %d reads, want 1", n)
		}
		if _, _, err := reader.GetAt(ctx, 0, p); err == nil {
			t.Fatal("GetAt(0) read the live generation; want the store's error")
		}
		if _, _, want := store.GetAt(ctx, 0, p); want == nil {
			t.Fatal("the store's GetAt(0) does not fail: the check above checks nothing")
		}
		// Another generation without the product: not found, in one read.
		before = counter.reads.Load()
		if _, ok, err := reader.GetAt(ctx, 2, p); err != nil || ok {
			t.Fatalf("GetAt(2) of a generation never written = found %v, %v", ok, err)
		}
		if n := counter.reads.Load() - before; n != 1 {
			t.Fatalf("GetAt(2): %d reads, want 1", n)
		}
		read("after a read that found nothing", "Beta", "Own brand", 2)
	})
}
