package bleveindex_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/blevesearch/bleve/v2"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/sinks/bleveindex"
)

func TestContractMemory(t *testing.T) {
	indextest.Run(t, indextest.Backend{New: func(t *testing.T) productsearch.Index {
		ix, err := bleveindex.NewMemory(bleveindex.WithCurrency(indextest.Currency))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ix.Close() })
		return ix
	}, Refuse: refuse})
}

// TestContractDisk runs the contract on the engine of on-disk indexes
// (scorch, which NewMemory does not use); TestDiskSurvivesReopen covers the
// disk in -short runs.
func TestContractDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("the on-disk contract runs without -short")
	}
	indextest.Run(t, indextest.Backend{New: func(t *testing.T) productsearch.Index {
		return openDisk(t, filepath.Join(t.TempDir(), "search"))
	}, Refuse: refuse})
}

// refuse plants a stored document that does not decode at id.
func refuse(t *testing.T, ix productsearch.Index, id string) {
	t.Helper()
	if err := bleveindex.PlantUnreadable(ix.(*bleveindex.Index), id); err != nil {
		t.Fatal(err)
	}
}

func openDisk(t *testing.T, path string) *bleveindex.Index {
	t.Helper()
	ix, err := bleveindex.Open(path, bleveindex.WithCurrency(indextest.Currency))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}

// everything pages through q with cursors.
func everything(t *testing.T, ix productsearch.Index, q productsearch.Query) []productsearch.Hit {
	t.Helper()
	q.Page, q.PageSize = 1, productsearch.MaxPageSize
	var all []productsearch.Hit
	for {
		r, err := ix.Search(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r.Products...)
		if r.NextCursor == "" {
			return all
		}
		q.Cursor = r.NextCursor
	}
}

func TestDiskSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "search")
	events := indextest.Catalogue()
	half := len(events) / 2
	model := indextest.NewModel(indextest.Currency, events)
	q := productsearch.Query{Sort: productsearch.SortPriceAsc}
	want, _ := model.Search(q)

	ix, err := bleveindex.Open(path, bleveindex.WithCurrency(indextest.Currency))
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Apply(t.Context(), events[:half]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened, it has the first half and folds the rest (and a redelivery
	// of the first half) onto it.
	ix = openDisk(t, path)
	if err := ix.Apply(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = openDisk(t, path)
	n, err := ix.Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != model.Count() {
		t.Fatalf("Count after reopening = %d, want %d", n, model.Count())
	}
	got := everything(t, ix, q)
	if len(got) != len(want) {
		t.Fatalf("after reopening: %d hits, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i].Hit() {
			t.Fatalf("after reopening: hit %d is %+v, want %+v", i, got[i], want[i].Hit())
		}
	}
	if s := ix.Stats(); s.Applied != 0 || s.Duplicates != 0 {
		t.Fatalf("Stats of the reopened index = %+v, want zero", s)
	}
	// Every event is a duplicate now.
	if err := ix.Apply(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	if s := ix.Stats(); s.Applied != 0 || s.Duplicates != int64(len(events)) || s.Writes != 0 {
		t.Fatalf("Stats after a full redelivery = %+v, want %d duplicates and nothing written", s, len(events))
	}
}

func TestOpenEmptyDirectory(t *testing.T) {
	dir := t.TempDir() // exists, empty
	ix := openDisk(t, dir)
	if n, err := ix.Count(t.Context()); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v; want 0", n, err)
	}
}

func TestOpenNestedPath(t *testing.T) {
	openDisk(t, filepath.Join(t.TempDir(), "a", "b", "search"))
}

func TestOpenOtherMappingVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "search")
	ix, err := bleveindex.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := bleve.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.SetInternal([]byte("streamview/mapping-version"), []byte("0")); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	if ix, err := bleveindex.Open(path); !errors.Is(err, bleveindex.ErrIncompatible) {
		if err == nil {
			_ = ix.Close()
		}
		t.Fatalf("Open = %v, want ErrIncompatible", err)
	}
}

func TestOpenHeldDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "search")
	openDisk(t, path)
	if ix, err := bleveindex.Open(path); err == nil {
		_ = ix.Close()
		t.Fatal("a second Open of a held directory succeeded")
	}
}

func TestOptions(t *testing.T) {
	if _, err := bleveindex.NewMemory(bleveindex.WithCurrency("euro")); err == nil {
		t.Fatal(`NewMemory(WithCurrency("euro")) succeeded`)
	}
	ix, err := bleveindex.NewMemory(bleveindex.WithCurrency("JPY"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	r, err := ix.Search(t.Context(), productsearch.Query{Page: 1, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	// JPY has no minor unit, and a yen is worth about a hundredth of a
	// euro: the first edge is 1000 yen.
	if to := r.Facets.Price[0].To; to == nil || *to != 1000 {
		t.Fatalf("first JPY price band ends at %v, want 1000", to)
	}
}

func TestEmptyProductIDIsPermanent(t *testing.T) {
	ix, err := bleveindex.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ok := indextest.Generate(1, 1, 0)
	bad := slices.Clone(ok)
	bad[0].AggregateID = ""
	err = ix.Apply(t.Context(), append(bad, ok...))
	// The index names the event, so the runtime can dead-letter it rather
	// than retry the batch for ever.
	var be *batch.Error
	if !errors.As(err, &be) || len(be.Failures) != 1 || be.Failures[0].Index != 0 || !be.Failures[0].Permanent {
		t.Fatalf("Apply = %v, want a batch.Error naming event 0 as permanent", err)
	}
	// The rest of the batch is written.
	if n, err := ix.Count(t.Context()); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
	if s := ix.Stats(); s.Permanent != 1 {
		t.Fatalf("Stats = %+v, want 1 permanent", s)
	}
}

func TestTamperedCursor(t *testing.T) {
	ix, err := bleveindex.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	q := productsearch.Query{Sort: productsearch.SortPriceAsc, Page: 1, PageSize: 2}
	for name, after := range map[string][]string{
		"too few values":   {`"id"`},
		"too many values":  {`1`, `2`, `"id"`},
		"string for price": {`"1"`, `"id"`},
		"null for price":   {`null`, `"id"`},
		"number for id":    {`1`, `2`},
		"object":           {`{}`, `"id"`},
	} {
		t.Run(name, func(t *testing.T) {
			c := productsearch.Cursor{Page: 2}
			for _, v := range after {
				c.After = append(c.After, []byte(v))
			}
			q := q
			q.Cursor = productsearch.EncodeCursor(q, c)
			_, err := ix.Search(t.Context(), q)
			var ve *productsearch.ValidationError
			if !errors.As(err, &ve) || !slices.Equal(ve.Fields(), []string{"cursor"}) {
				t.Fatalf("Search = %v, want a ValidationError on cursor", err)
			}
		})
	}
}

func TestApplyCanceled(t *testing.T) {
	ix, err := bleveindex.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := ix.Apply(ctx, indextest.Generate(1, 1, 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply = %v, want context.Canceled", err)
	}
}

// Concurrent Apply calls and searches: run with -race. The result is the
// model's whatever the interleaving, since every batch is folded whole.
func TestConcurrentApplyAndSearch(t *testing.T) {
	ix, err := bleveindex.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	events := indextest.Generate(5, 120, 6)
	model := indextest.NewModel(indextest.Currency, events)
	batches := slices.Collect(slices.Chunk(events, 25))

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(batches)+2)
	// Two writers send every batch in log order: each batch twice, in
	// overlapping turns.
	for range 2 {
		wg.Go(func() {
			for _, b := range batches {
				if err := ix.Apply(t.Context(), b); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			r, err := ix.Search(t.Context(), productsearch.Query{Text: "lamp", Page: 1, PageSize: 5})
			if err != nil {
				errs <- err
				return
			}
			var sum int64
			for _, b := range r.Facets.Price {
				sum += b.Count
			}
			if sum != r.Total {
				errs <- fmt.Errorf("price facet counts %d products, total %d", sum, r.Total)
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want, _ := model.Search(productsearch.Query{})
	got := everything(t, ix, productsearch.Query{})
	if len(got) != len(want) {
		t.Fatalf("%d hits, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i].Hit() {
			t.Fatalf("hit %d is %+v, want %+v", i, got[i], want[i].Hit())
		}
	}
}
