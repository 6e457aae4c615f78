package productsearch_test

import (
	"errors"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

func TestJoin(t *testing.T) {
	cat := func(id, name string, v int64) productsearch.Ref {
		return productsearch.Ref{Type: schemas.AggregateCategory, ID: id, Name: name, Version: v}
	}
	brand := func(id, name string, v int64) productsearch.Ref {
		return productsearch.Ref{Type: schemas.AggregateBrand, ID: id, Name: name, Version: v}
	}
	base := productsearch.Doc{ID: "p", CategoryID: "k", CategoryName: "Own", BrandID: "b", BrandName: "Own brand"}
	joined := func(f func(*productsearch.Doc)) productsearch.Doc { d := base; f(&d); return d }
	for _, c := range []struct {
		name string
		doc  productsearch.Doc
		ref  productsearch.Ref
		want productsearch.Doc
	}{
		{"category name wins", base, cat("k", "Kitchen", 1), joined(func(d *productsearch.Doc) { d.CategoryName, d.CategoryRefVersion = "Kitchen", 1 })},
		{"brand name wins", base, brand("b", "Acme", 3), joined(func(d *productsearch.Doc) { d.BrandName, d.BrandRefVersion = "Acme", 3 })},
		{"another category", base, cat("x", "Other", 1), base},
		{"a brand of the category's ID", base, brand("k", "Brand k", 1), base},
		{"an older rename", joined(func(d *productsearch.Doc) { d.CategoryName, d.CategoryRefVersion = "New", 5 }), cat("k", "Old", 4),
			joined(func(d *productsearch.Doc) { d.CategoryName, d.CategoryRefVersion = "New", 5 })},
		{"the same rename again", joined(func(d *productsearch.Doc) { d.CategoryName, d.CategoryRefVersion = "New", 5 }), cat("k", "New", 5),
			joined(func(d *productsearch.Doc) { d.CategoryName, d.CategoryRefVersion = "New", 5 })},
		{"no version", base, cat("k", "Zero", 0), base},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.doc.Join(c.ref); !productsearch.SameStored(got, c.want) {
				t.Fatalf("Join = %+v, want %+v", got, c.want)
			}
			if stale := c.doc.Stale(c.ref); stale != !productsearch.SameStored(c.doc, c.want) {
				t.Fatalf("Stale = %v", stale)
			}
		})
	}
}

// A product event that sets a category or brand makes the name the
// product's own again, until the next join; other events keep the joined
// name.
func TestFoldResetsJoinedNames(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(v int64, data schemas.EventData) schemas.Event {
		return schemas.Event{AggregateType: schemas.AggregateProduct, AggregateID: "p", Version: v, Timestamp: at, Data: data}
	}
	d := productsearch.Fold(productsearch.Doc{}, ev(1, &schemas.ProductCreated{Name: "n", CategoryID: "k", CategoryName: "Own", BrandID: "b", BrandName: "B"}))
	d = d.JoinAll(map[string]productsearch.Ref{
		"category:k": {Type: schemas.AggregateCategory, ID: "k", Name: "Kitchen", Version: 2},
		"brand:b":    {Type: schemas.AggregateBrand, ID: "b", Name: "Acme", Version: 1},
	})
	if d.CategoryName != "Kitchen" || d.CategoryRefVersion != 2 || d.BrandName != "Acme" || d.BrandRefVersion != 1 {
		t.Fatalf("joined: %+v", d)
	}
	d = productsearch.Fold(d, ev(2, &schemas.ProductStockChanged{Quantity: 3}))
	if d.CategoryName != "Kitchen" || d.CategoryRefVersion != 2 {
		t.Fatalf("a stock change undid the join: %+v", d)
	}
	stale := "Stale"
	d = productsearch.Fold(d, ev(3, &schemas.ProductDetailsUpdated{CategoryName: &stale}))
	if d.CategoryName != "Stale" || d.CategoryRefVersion != 0 || d.BrandName != "Acme" || d.BrandRefVersion != 1 {
		t.Fatalf("after a details update naming the category: %+v; want its own category name, the brand still joined", d)
	}
}

func TestSplitReferences(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ref := func(typ, id string, v int64, data schemas.EventData) schemas.Event {
		return schemas.Event{AggregateType: typ, AggregateID: id, Version: v, Timestamp: at, Data: data}
	}
	prod := schemas.Event{AggregateType: schemas.AggregateProduct, AggregateID: "p", Version: 1, Timestamp: at, Data: &schemas.ProductStockChanged{}}
	events := []schemas.Event{
		ref(schemas.AggregateCategory, "k", 1, &schemas.CategoryRenamed{Name: "A"}),
		prod,
		ref(schemas.AggregateCategory, "k", 3, &schemas.CategoryRenamed{Name: "C"}),
		ref(schemas.AggregateCategory, "k", 2, &schemas.CategoryRenamed{Name: "B"}), // a redelivery, older
		ref(schemas.AggregateBrand, "k", 1, &schemas.BrandRenamed{Name: "Brand"}),
		ref(schemas.AggregateBrand, "bad id!", 1, &schemas.BrandRenamed{Name: "X"}),
		ref(schemas.AggregateCategory, "k", 4, &schemas.BrandRenamed{Name: "wrong type"}),
	}
	products, at2, refs, bad := productsearch.SplitReferences(events)
	if len(products) != 1 || at2[0] != 1 {
		t.Fatalf("products %v at %v", products, at2)
	}
	want := []productsearch.RefAt{
		{Ref: productsearch.Ref{Type: schemas.AggregateCategory, ID: "k", Name: "C", Version: 3}, At: 2},
		{Ref: productsearch.Ref{Type: schemas.AggregateBrand, ID: "k", Name: "Brand", Version: 1}, At: 4},
	}
	if len(refs) != len(want) || refs[0] != want[0] || refs[1] != want[1] {
		t.Fatalf("refs %+v, want %+v", refs, want)
	}
	if got := batch.PermanentAt(batch.Fail(bad...)); len(got) != 2 || got[0] != 5 || got[1] != 6 {
		t.Fatalf("permanent at %v, want [5 6]", got)
	}
	var be *batch.Error
	if !errors.As(batch.Fail(bad...), &be) {
		t.Fatal("not a batch error")
	}
}
