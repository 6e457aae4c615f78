package esindex_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
)

func refEvent(typ, id string, v int64, name string) schemas.Event {
	var data schemas.EventData = &schemas.CategoryRenamed{Name: name}
	if typ == schemas.AggregateBrand {
		data = &schemas.BrandRenamed{Name: name}
	}
	return schemas.Event{ID: typ + id, AggregateType: typ, AggregateID: id, Version: v, Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Data: data}
}

func productEvent(id string, v int64, data schemas.EventData) schemas.Event {
	return schemas.Event{ID: id, AggregateType: schemas.AggregateProduct, AggregateID: id, Version: v, Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Data: data}
}

// A rename whose fan-out runs while a product of its category is being
// written with the old name (joined before the rename was stored, written
// after the fan-out searched) still ends with the new name: Apply reads the
// names again after its writes and joins the product again.
func TestRenameOvertakesProductWrite(t *testing.T) {
	c := client(t)
	ix := newIndex(t, c, esindex.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := "00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000bb"
	created := func(name string) *schemas.ProductCreated {
		return &schemas.ProductCreated{Name: name, Description: "d", Price: schemas.Money{Amount: 100, Currency: "EUR"},
			CategoryID: "kitchen", CategoryName: "Own Name", BrandID: "acme", BrandName: "Acme", Tags: []string{}, Stock: 1}
	}
	if err := ix.Apply(ctx, []schemas.Event{productEvent(a, 1, created("Lamp"))}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	esindex.SetAfterJoin(ix, func() {
		once.Do(func() {
			// Another lane renames the category now, between the join and
			// the write of the products below.
			if err := ix.Apply(ctx, []schemas.Event{refEvent(schemas.AggregateCategory, "kitchen", 1, "Cookware")}); err != nil {
				t.Errorf("rename: %v", err)
			}
		})
	})
	if err := ix.Apply(ctx, []schemas.Event{
		productEvent(b, 1, created("Kettle")),                                         // new: the fan-out cannot have seen it
		productEvent(a, 2, &schemas.ProductStockChanged{OldQuantity: 1, Quantity: 2}), // stored: the fan-out rewrote it
	}); err != nil {
		t.Fatal(err)
	}
	docs, err := ix.Get(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b} {
		if d := docs[id]; d.CategoryName != "Cookware" || d.CategoryRefVersion != 1 {
			t.Errorf("product %s shows category %q (reference version %d), want Cookware (1)", id, d.CategoryName, d.CategoryRefVersion)
		}
	}
	if s := ix.Stats(); s.Rejoined < 1 || s.FannedOut < 1 {
		t.Errorf("stats %+v: want the new product joined again after its write, and the stored one renamed by the fan-out", s)
	}
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := ix.Search(ctx, productsearch.Query{Text: "cookware", Page: 1, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || len(res.Facets.Category) != 1 || res.Facets.Category[0].Label != "Cookware" {
		t.Errorf("search cookware: %d hits, category facet %+v; want both products, labelled Cookware", res.Total, res.Facets.Category)
	}
}

// Apply joins product writes with the reference names it remembers,
// without reading them, and a rename stored by another instance meanwhile
// still reaches them: the names read again after the writes show it, and
// the product is joined again. Once that read has taught it the new name,
// the next product is joined with it at once.
func TestRememberedNameOvertakenByAnotherInstance(t *testing.T) {
	c := client(t)
	ix := newIndex(t, c, esindex.Config{})
	other, err := esindex.New(c, ix.Config()) // another serve, same index
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b, d := "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000b1", "00000000-0000-4000-8000-0000000000d1"
	created := func(name string) *schemas.ProductCreated {
		return &schemas.ProductCreated{Name: name, Description: "d", Price: schemas.Money{Amount: 100, Currency: "EUR"},
			CategoryID: "garden", CategoryName: "Own Name", BrandID: "acme", BrandName: "Acme", Tags: []string{}, Stock: 1}
	}
	// ix learns that garden has no stored name yet.
	if err := ix.Apply(ctx, []schemas.Event{productEvent(a, 1, created("Rake"))}); err != nil {
		t.Fatal(err)
	}
	if err := other.Apply(ctx, []schemas.Event{refEvent(schemas.AggregateCategory, "garden", 1, "Outdoor")}); err != nil {
		t.Fatal(err)
	}
	// ix still remembers no name: b is written with its own, then joined
	// again.
	if err := ix.Apply(ctx, []schemas.Event{productEvent(b, 1, created("Hose"))}); err != nil {
		t.Fatal(err)
	}
	rejoined := ix.Stats().Rejoined
	if rejoined < 1 {
		t.Errorf("stats %+v: want b joined again (its write used the remembered, stale name)", ix.Stats())
	}
	if err := ix.Apply(ctx, []schemas.Event{productEvent(d, 1, created("Shovel"))}); err != nil {
		t.Fatal(err)
	}
	if s := ix.Stats(); s.Rejoined != rejoined {
		t.Errorf("stats %+v: d was joined again (%d rejoins, %d before); want it joined with the name learnt after b's write", s, s.Rejoined, rejoined)
	}
	docs, err := ix.Get(ctx, a, b, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b, d} {
		if doc := docs[id]; doc.CategoryName != "Outdoor" || doc.CategoryRefVersion != 1 {
			t.Errorf("product %s shows category %q (reference version %d), want Outdoor (1)", id, doc.CategoryName, doc.CategoryRefVersion)
		}
	}
}

// An index created with mapping version 1 (before the reference join) is
// upgraded in place by EnsureIndex, and then takes renames.
func TestMappingVersion1UpgradedInPlace(t *testing.T) {
	c := client(t)
	first := newIndex(t, c, esindex.Config{}) // its cleanup deletes generations 1 to 3
	cfg := first.Config()
	cfg.Generation = 2
	ix, err := esindex.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var m map[string]any
	if err := json.Unmarshal(esindex.Mapping(), &m); err != nil {
		t.Fatal(err)
	}
	props := m["properties"].(map[string]any)
	for _, f := range []string{"categoryRefVersion", "brandRefVersion", "ref"} {
		delete(props, f)
	}
	m["_meta"] = map[string]any{"streamview": map[string]any{"projection": "product-search", "mappingVersion": 1}}
	body, _ := json.Marshal(map[string]any{"mappings": m})
	res, err := c.Indices.Create(ix.IndexName(2), c.Indices.Create.WithBody(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.IsError() {
		t.Fatalf("creating a version 1 index: %s", res.String())
	}
	if err := ix.EnsureIndex(ctx, 2); err != nil {
		t.Fatalf("EnsureIndex on a version 1 index: %v", err)
	}
	if err := ix.EnsureIndex(ctx, 2); err != nil {
		t.Fatalf("EnsureIndex again: %v", err)
	}
	a := "00000000-0000-4000-8000-0000000000cc"
	if err := ix.Apply(ctx, []schemas.Event{
		productEvent(a, 1, &schemas.ProductCreated{Name: "Lamp", Price: schemas.Money{Amount: 1, Currency: "EUR"}, CategoryID: "k", CategoryName: "Own", BrandID: "b", BrandName: "B", Tags: []string{}}),
		refEvent(schemas.AggregateCategory, "k", 1, "Kitchen"),
	}); err != nil {
		t.Fatal(err)
	}
	docs, err := ix.Get(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if d := docs[a]; d.CategoryName != "Kitchen" {
		t.Fatalf("after the rename the product shows %q", d.CategoryName)
	}
}
