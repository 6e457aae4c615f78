package esindex_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
)

// TestDeepPaging pages past Elasticsearch's 10,000-hit window with cursors.
func TestDeepPaging(t *testing.T) {
	c := client(t)
	ix := newIndex(t, c, esindex.Config{BulkMaxDocs: 2500})
	const n = productsearch.MaxWindow + 150
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]schemas.Event, n)
	for i := range events {
		id := fmt.Sprintf("deep-%05d", i)
		events[i] = schemas.Event{ID: id, AggregateType: schemas.AggregateProduct, AggregateID: id, Version: 1, Timestamp: at,
			Data: &schemas.ProductCreated{Name: "Deep item", Price: schemas.Money{Amount: int64(100 + i%50), Currency: "EUR"}, Stock: 1}}
	}
	for batch := range slices.Chunk(events, 2500) {
		if err := ix.Apply(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	refresh(t, ix)

	_, err := ix.Search(t.Context(), productsearch.Query{Page: 101, PageSize: 100})
	var ve *productsearch.ValidationError
	if !errors.As(err, &ve) || !slices.Contains(ve.Fields(), "page") {
		t.Fatalf("page 101 of 100 without a cursor: %v", err)
	}

	q := productsearch.Query{Sort: productsearch.SortPriceAsc, Page: 1, PageSize: 100}
	seen := make(map[string]bool, n)
	var prev productsearch.Hit
	pages := 0
	for {
		r, err := ix.Search(t.Context(), q)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, h := range r.Products {
			if seen[h.ID] {
				t.Fatalf("page %d: %s again", pages, h.ID)
			}
			if prev.ID != "" && (h.Price.Amount < prev.Price.Amount || (h.Price.Amount == prev.Price.Amount && h.ID < prev.ID)) {
				t.Fatalf("page %d: %s (%d) after %s (%d)", pages, h.ID, h.Price.Amount, prev.ID, prev.Price.Amount)
			}
			seen[h.ID], prev = true, h
		}
		if r.NextCursor == "" {
			break
		}
		q.Cursor = r.NextCursor
	}
	if len(seen) != n || pages != (n+99)/100 {
		t.Fatalf("cursors visited %d products in %d pages, want %d in %d", len(seen), pages, n, (n+99)/100)
	}
}

// TestOversizedValues checks that no value an event can carry makes
// Elasticsearch reject the document: Lucene refuses keyword terms over 32 KB
// and the mapping ignores such values instead.
func TestOversizedValues(t *testing.T) {
	c := client(t)
	ix := newIndex(t, c, esindex.Config{})
	huge := strings.Repeat("x", 40<<10)
	e := schemas.Event{ID: "1", AggregateType: schemas.AggregateProduct, AggregateID: "big", Version: 1, Timestamp: time.Now(),
		Data: &schemas.ProductCreated{Name: "Huge " + huge, Description: huge, Price: schemas.Money{Amount: 100, Currency: "EUR"},
			CategoryID: huge, CategoryName: "Giant " + huge, BrandID: huge, BrandName: huge, Tags: []string{huge}, Stock: 1}}
	if err := ix.Apply(t.Context(), []schemas.Event{e}); err != nil {
		t.Fatal(err)
	}
	refresh(t, ix)
	r, err := ix.Search(t.Context(), productsearch.Query{Text: "giant", Page: 1, PageSize: 10})
	if err != nil || r.Total != 1 {
		t.Fatalf("Search = %+v, %v", r.Total, err)
	}
}
