package esindex_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
)

// BenchmarkRenameFanout measures how long a category rename takes to reach
// every product of the category: SV_BENCH_RENAME_PRODUCTS products (default
// 10,000) in one category, then one CategoryRenamed through Apply, timed
// until Apply returns, which is when every document shows the new name and
// is searchable (the fan-out's last pass refreshes and finds none left);
// the benchmark then checks that a search for the new name finds them all
// and that the category facet is labelled with it.
//
// For comparison it times a bare esutil.BulkIndexer writing the same
// documents with the next name (bodies encoded in advance, IDs known: no
// search, no reads, no version checks) plus one refresh: the floor of any
// fan-out on this server, which has no update_by_query.
//
//	go test -run '^$' -bench RenameFanout -benchtime 1x ./sinks/esindex
func BenchmarkRenameFanout(b *testing.B) {
	c := client(b)
	n := benchEnv("SV_BENCH_RENAME_PRODUCTS", 10000)
	ctx := context.Background()
	ix := newIndex(b, c, esindex.Config{})
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, n)
	events := make([]schemas.Event, n)
	for i := range n {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		events[i] = schemas.Event{ID: ids[i], AggregateType: schemas.AggregateProduct, AggregateID: ids[i], Version: 1, Timestamp: at,
			Data: &schemas.ProductCreated{Name: fmt.Sprintf("Widget %d", i), Description: "a widget", Price: schemas.Money{Amount: int64(100 + i%5000), Currency: "EUR"},
				CategoryID: "bench-cat", CategoryName: "Gadgets", BrandID: fmt.Sprintf("brand-%d", i%20), BrandName: "Brand", Tags: []string{"bench"}, Stock: 1}}
	}
	for chunk := range slices.Chunk(events, productsearch.Batch) {
		if err := ix.Apply(ctx, chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := ix.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("data set: %d products, all in category bench-cat, 20 brands; index of %d shard(s)", n, ix.Config().Shards)

	b.ResetTimer()
	var fanout time.Duration
	for i := range b.N {
		name := fmt.Sprintf("Renamedcategory%d", i+1)
		rename := schemas.Event{ID: fmt.Sprintf("rename-%d", i+1), AggregateType: schemas.AggregateCategory, AggregateID: "bench-cat", Version: int64(i + 1),
			Timestamp: at, Data: &schemas.CategoryRenamed{Name: name}}
		start := time.Now()
		if err := ix.Apply(ctx, []schemas.Event{rename}); err != nil {
			b.Fatal(err)
		}
		fanout = time.Since(start)
		b.StopTimer()
		res, err := ix.Search(ctx, productsearch.Query{Text: name, Page: 1, PageSize: 1})
		if err != nil {
			b.Fatal(err)
		}
		if res.Total != int64(n) || len(res.Facets.Category) != 1 || res.Facets.Category[0].Label != name {
			b.Fatalf("after the rename, a search for %s finds %d of %d products, category facet %+v", name, res.Total, n, res.Facets.Category)
		}
		b.StartTimer()
	}
	b.StopTimer()
	s := ix.Stats()
	b.ReportMetric(float64(fanout.Milliseconds()), "ms/rename")
	b.ReportMetric(float64(n)/fanout.Seconds(), "docs/s")

	// The floor: the same documents, renamed again, written blind in bulk.
	docs, err := ix.Get(ctx, ids...)
	if err != nil {
		b.Fatal(err)
	}
	next := productsearch.Ref{Type: schemas.AggregateCategory, ID: "bench-cat", Name: "Rawname", Version: int64(b.N + 1)}
	bodies := make([][]byte, n)
	for i, id := range ids {
		bodies[i], _ = json.Marshal(docs[id].Join(next))
	}
	var failed atomic.Int64
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: c, Index: ix.IndexName(1), NumWorkers: 1, FlushBytes: 2 << 20})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i, id := range ids {
		if err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: id, Body: bytes.NewReader(bodies[i]),
			OnFailure: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error) { failed.Add(1) }}); err != nil {
			b.Fatal(err)
		}
	}
	if err := bi.Close(ctx); err != nil || failed.Load() > 0 {
		b.Fatalf("raw updates: %v, %d failed", err, failed.Load())
	}
	if err := ix.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	raw := time.Since(start)
	b.Logf("rename fan-out of %d documents: %v (%.0f docs/s; %d written, %d conflicts, %d bulks, %d mgets); raw bulk index + refresh of the same documents: %v (%.0f docs/s)",
		n, fanout.Round(time.Millisecond), float64(n)/fanout.Seconds(), s.FannedOut, s.Conflicts, s.Bulks, s.Mgets, raw.Round(time.Millisecond), float64(n)/raw.Seconds())
}
