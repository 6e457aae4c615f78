package productsearch_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/schemas"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 123_456_789, time.UTC)

func ev(version int64, data schemas.EventData) schemas.Event {
	return schemas.Event{ID: "e", AggregateType: schemas.AggregateProduct, AggregateID: "p1", Version: version,
		Timestamp: t0.Add(time.Duration(version) * time.Hour), Data: data}
}

func str(s string) *string { return &s }

func eur(a int64) schemas.Money { return schemas.Money{Amount: a, Currency: "EUR"} }

var createdEvent = ev(1, &schemas.ProductCreated{
	Name: "Lamp", Description: "A lamp", Price: eur(1999), CategoryID: "c1", CategoryName: "Lighting",
	BrandID: "b1", BrandName: "Lux", Tags: []string{"sale", "eco"}, ImageURLs: []string{"x"}, Stock: 3,
})

var createdDoc = productsearch.Doc{
	ID: "p1", Name: "Lamp", Description: "A lamp", Price: 1999, Currency: "EUR", CategoryID: "c1", CategoryName: "Lighting",
	BrandID: "b1", BrandName: "Lux", Tags: []string{"sale", "eco"}, InStock: true, Stock: 3,
	CreatedAt: time.Date(2025, 3, 1, 11, 0, 0, 123_000_000, time.UTC), UpdatedAt: time.Date(2025, 3, 1, 11, 0, 0, 123_000_000, time.UTC),
	Version: 1,
}

func TestFold(t *testing.T) {
	at := func(v int64) time.Time { return t0.Add(time.Duration(v) * time.Hour).Truncate(time.Millisecond) }
	with := func(f func(*productsearch.Doc)) productsearch.Doc {
		d := createdDoc
		d.Tags = slices.Clone(d.Tags)
		f(&d)
		return d
	}
	cases := []struct {
		name  string
		start productsearch.Doc
		event schemas.Event
		want  productsearch.Doc
	}{
		{"created", productsearch.Doc{}, createdEvent, createdDoc},
		{"details: only what is set", createdDoc, ev(2, &schemas.ProductDetailsUpdated{Name: str("Big lamp")}),
			with(func(d *productsearch.Doc) { d.Name, d.Version, d.UpdatedAt = "Big lamp", 2, at(2) })},
		{"details: category and brand pairs", createdDoc, ev(2, &schemas.ProductDetailsUpdated{CategoryID: str("c2"), CategoryName: str("Home"), BrandID: str("b2"), BrandName: str("Nor")}),
			with(func(d *productsearch.Doc) {
				d.CategoryID, d.CategoryName, d.BrandID, d.BrandName, d.Version, d.UpdatedAt = "c2", "Home", "b2", "Nor", 2, at(2)
			})},
		{"details: empty tags clear", createdDoc, ev(2, &schemas.ProductDetailsUpdated{Tags: []string{}}),
			with(func(d *productsearch.Doc) { d.Tags, d.Version, d.UpdatedAt = []string{}, 2, at(2) })},
		{"details: nil tags keep", createdDoc, ev(2, &schemas.ProductDetailsUpdated{Description: str("new")}),
			with(func(d *productsearch.Doc) { d.Description, d.Version, d.UpdatedAt = "new", 2, at(2) })},
		{"price", createdDoc, ev(2, &schemas.ProductPriceChanged{OldPrice: eur(1999), NewPrice: schemas.Money{Amount: 500, Currency: "JPY"}}),
			with(func(d *productsearch.Doc) { d.Price, d.Currency, d.Version, d.UpdatedAt = 500, "JPY", 2, at(2) })},
		{"stock to zero", createdDoc, ev(2, &schemas.ProductStockChanged{OldQuantity: 3, Quantity: 0}),
			with(func(d *productsearch.Doc) { d.Stock, d.InStock, d.Version, d.UpdatedAt = 0, false, 2, at(2) })},
		{"review", with(func(d *productsearch.Doc) { d.ReviewCount, d.RatingSum, d.AverageRating = 2, 9, 4.5 }), ev(2, &schemas.ProductReviewAdded{Rating: 1}),
			with(func(d *productsearch.Doc) {
				d.ReviewCount, d.RatingSum, d.AverageRating, d.Version, d.UpdatedAt = 3, 10, 10.0/3, 2, at(2)
			})},
		{"discontinued", createdDoc, ev(2, &schemas.ProductDiscontinued{Reason: "x"}),
			with(func(d *productsearch.Doc) { d.Discontinued, d.Version, d.UpdatedAt = true, 2, at(2) })},
		{"same version: duplicate", createdDoc, ev(1, &schemas.ProductDetailsUpdated{Name: str("x")}), createdDoc},
		{"older version: duplicate", with(func(d *productsearch.Doc) { d.Version = 5 }), ev(3, &schemas.ProductStockChanged{Quantity: 0}),
			with(func(d *productsearch.Doc) { d.Version = 5 })},
		{"unknown payload: version only", createdDoc, ev(2, nil),
			with(func(d *productsearch.Doc) { d.Version, d.UpdatedAt = 2, at(2) })},
		{"no creation seen", productsearch.Doc{}, ev(4, &schemas.ProductStockChanged{Quantity: 2}),
			productsearch.Doc{ID: "p1", Tags: []string{}, Stock: 2, InStock: true, CreatedAt: at(4), UpdatedAt: at(4), Version: 4}},
		{"a gap still applies", createdDoc, ev(7, &schemas.ProductStockChanged{Quantity: 9}),
			with(func(d *productsearch.Doc) { d.Stock, d.Version, d.UpdatedAt = 9, 7, at(7) })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := productsearch.Fold(c.start, c.event)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Fold =\n %+v\nwant\n %+v", got, c.want)
			}
		})
	}
}

func TestFoldSharesNoSlices(t *testing.T) {
	tags := []string{"a", "b"}
	e := ev(1, &schemas.ProductCreated{Name: "x", Tags: tags})
	d := productsearch.Fold(productsearch.Doc{}, e)
	tags[0] = "changed"
	if d.Tags[0] != "a" {
		t.Fatal("the document shares the event's tags")
	}
}

func TestFoldAll(t *testing.T) {
	events := []schemas.Event{createdEvent, createdEvent, ev(2, &schemas.ProductStockChanged{Quantity: 0}), createdEvent, ev(3, &schemas.ProductReviewAdded{Rating: 5})}
	d, applied, dups := productsearch.FoldAll(productsearch.Doc{}, events)
	if applied != 3 || dups != 2 || d.Version != 3 || d.InStock || d.AverageRating != 5 {
		t.Fatalf("FoldAll: applied %d dups %d doc %+v", applied, dups, d)
	}
	// Folding again from the result changes nothing: idempotent.
	again, applied, dups := productsearch.FoldAll(d, events)
	if applied != 0 || dups != len(events) || !reflect.DeepEqual(again, d) {
		t.Fatalf("refold applied %d, dups %d", applied, dups)
	}
}

// TestHitRating: a hit shows the rating as the product's view does,
// rounded half up to 2 decimals, while the document keeps it unrounded for
// the rating sort.
func TestHitRating(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ratings []int32
		doc     float64 // the document's, unrounded
		hit     float64
	}{
		{"no review", nil, 0, 0},
		{"one", []int32{4}, 4, 4},
		{"a half", []int32{4, 5}, 4.5, 4.5},
		{"sevenths", []int32{5, 5, 2, 2, 2, 1, 1}, 18.0 / 7, 2.57},
		{"thirds up", []int32{5, 5, 4}, 14.0 / 3, 4.67},
		{"half up", []int32{5, 5, 5, 5, 5, 4, 4, 4}, 4.625, 4.63},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := []schemas.Event{createdEvent}
			for i, r := range tc.ratings {
				events = append(events, ev(int64(i)+2, &schemas.ProductReviewAdded{Rating: r}))
			}
			d, _, _ := productsearch.FoldAll(productsearch.Doc{}, events)
			if d.AverageRating != tc.doc {
				t.Errorf("the document's rating is %v, want %v", d.AverageRating, tc.doc)
			}
			h := d.Hit()
			if h.AverageRating != tc.hit || h.AverageRating != schemas.AverageRating(d.RatingSum, d.ReviewCount) || h.ReviewCount != int64(len(tc.ratings)) {
				t.Errorf("the hit's rating is %v of %d reviews, want %v of %d", h.AverageRating, h.ReviewCount, tc.hit, len(tc.ratings))
			}
		})
	}
}

// TestFoldGolden folds the first products of the test catalogue and
// compares the documents with testdata/fold.golden.json.
func TestFoldGolden(t *testing.T) {
	folded := map[string]productsearch.Doc{}
	for _, e := range indextest.Catalogue() {
		folded[e.AggregateID] = productsearch.Fold(folded[e.AggregateID], e)
	}
	ids := slices.Sorted(maps.Keys(folded))
	var docs []productsearch.Doc
	for _, id := range ids[:25] {
		docs = append(docs, folded[id])
	}
	got, err := json.MarshalIndent(docs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/fold.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("folded documents differ from %s (run with -update if intended)", golden)
	}
}
