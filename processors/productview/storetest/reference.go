package storetest

import (
	"context"
	"testing"

	"github.com/streamview/streamview/processors/productview"
)

// Reference records (productview.IsReference IDs: "category:<id>",
// "brand:<id>") are documents of the generation like views, version-guarded
// the same way, read with GetMany (of gen, or of the live one for gen 0)
// together with views, cleared with their generation, but not counted by
// Count, which counts views.
func testReferenceRecords(t *testing.T, s Store) {
	ctx := context.Background()
	const cat, brand, product = "category:home.kitchen-1", "brand:acme", "00000000-0000-4000-8000-0000000000a1"
	apply(t, s, 1, productview.Result{Applied: 3},
		productview.Change{ID: cat, Version: 1, Set: set("name", "Kitchen")},
		productview.Change{ID: product, Version: 1, Set: set("name", "Kettle", "categoryId", "home.kitchen-1")},
		productview.Change{ID: cat, Version: 2, Set: set("name", "Cookware")},
	)
	// Redelivered and older renames are duplicates: the newest name stays.
	apply(t, s, 1, productview.Result{Applied: 1, Duplicates: 2},
		productview.Change{ID: cat, Version: 1, Set: set("name", "Kitchen")},
		productview.Change{ID: cat, Version: 2, Set: set("name", "Cookware")},
		productview.Change{ID: brand, Version: 1, Set: set("name", "ACME")},
	)
	docs, err := s.GetMany(ctx, 1, []string{cat, product, brand, "brand:never", "category:{bad}"})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(docs) != 3 {
		t.Fatalf("GetMany found %d documents, want 3: %v", len(docs), docs)
	}
	wantDoc(t, docs[cat], 2, "name", "Cookware")
	wantDoc(t, docs[brand], 1, "name", "ACME")
	wantDoc(t, docs[product], 1, "name", "Kettle", "categoryId", "home.kitchen-1")
	if d := docs[cat]; d.ID != cat || d.Generation != 1 {
		t.Fatalf("GetMany doc = %q g%d, want %q g1", d.ID, d.Generation, cat)
	}
	wantDoc(t, get(t, s, 1, cat), 2, "name", "Cookware")

	if n, err := s.Count(ctx, 1); err != nil || n != 1 {
		t.Fatalf("Count(1) = %d, %v; want 1: the view, not the reference records", n, err)
	}
	if docs, err := s.GetMany(ctx, 2, []string{cat}); err != nil || len(docs) != 0 {
		t.Fatalf("GetMany of generation 2 = %v, %v; want nothing: generations are apart", docs, err)
	}
	if err := s.SetLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if docs, err := s.GetMany(ctx, 0, []string{brand}); err != nil || len(docs) != 1 {
		t.Fatalf("GetMany of the live generation = %v, %v; want the brand", docs, err)
	}
	if _, err := s.Clear(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if docs, err := s.GetMany(ctx, 1, []string{cat, brand, product}); err != nil || len(docs) != 0 {
		t.Fatalf("GetMany after Clear(1) = %v, %v; want nothing", docs, err)
	}
}
