package elasticsearch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/elasticsearch"
)

// benchEnv reads an integer knob of the benchmark from the environment.
func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkProjection measures Apply's throughput against the raw rate of
// bulk-indexing the same final documents with esutil.BulkIndexer, in the
// same run on the same server.
//
// Knobs (environment): SV_BENCH_EVENTS (default 20000; the full run uses
// 200000), SV_BENCH_BATCH (events per Apply, default 1000), SV_BENCH_PARTITIONS
// (concurrent Apply callers, each with its own aggregates, default 2).
// About ten events per product.
//
//	SV_BENCH_EVENTS=200000 go test -run '^$' -bench Projection -benchtime 1x ./sinks/elasticsearch
func BenchmarkProjection(b *testing.B) {
	c := client(b)
	target := benchEnv("SV_BENCH_EVENTS", 20000)
	batchSize := benchEnv("SV_BENCH_BATCH", 1000)
	partitions := benchEnv("SV_BENCH_PARTITIONS", 2)
	events := indextest.Generate(42, max(1, target/10), 18)
	model := indextest.NewModel(indextest.Currency, events)
	docs := slices.Collect(func(yield func([]byte) bool) {
		for _, d := range model.Docs {
			j, _ := json.Marshal(d)
			if !yield(j) {
				return
			}
		}
	})
	ids := make([]string, 0, len(model.Docs))
	for id := range model.Docs {
		ids = append(ids, id)
	}
	parts := make([][]schemas.Event, partitions)
	for _, e := range events {
		h := fnv.New32a()
		h.Write([]byte(e.AggregateID))
		p := int(h.Sum32()) % partitions
		parts[p] = append(parts[p], e)
	}
	b.Logf("%d events, %d products, batches of %d, %d partitions, GOMAXPROCS %d", len(events), len(docs), batchSize, partitions, runtime.GOMAXPROCS(0))
	ctx := context.Background()

	// Warm the server's JIT and caches on a throwaway index.
	warm := newIndex(b, c, elasticsearch.Config{})
	if err := warm.Apply(ctx, indextest.Generate(1, 300, 9)); err != nil {
		b.Fatal(err)
	}

	// raw bulk-indexes the final documents into generation gen of ix's
	// prefix, a fresh index of the same mapping, and returns the time taken.
	raw := func(ix *elasticsearch.Index, gen int) time.Duration {
		if err := ix.EnsureIndex(ctx, gen); err != nil {
			b.Fatal(err)
		}
		bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: c, Index: ix.IndexName(gen), NumWorkers: partitions, FlushBytes: 2 << 20})
		if err != nil {
			b.Fatal(err)
		}
		var failed atomic.Int64
		start := time.Now()
		for i, d := range docs {
			err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: ids[i], Body: bytes.NewReader(d),
				OnFailure: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error) { failed.Add(1) }})
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := bi.Close(ctx); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d raw documents failed", n)
		}
		return took
	}

	for b.Loop() {
		ix := newIndex(b, c, elasticsearch.Config{})
		// Raw before and after the projection, so that neither side alone
		// pays for the other's background merges; the faster one counts.
		rawBefore := raw(ix, 2)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, partitions)
		for _, log := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for batch := range slices.Chunk(log, batchSize) {
					if err := ix.Apply(ctx, batch); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		projection := time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		st := ix.Stats()
		rawAfter := raw(ix, 3)
		raw := min(rawBefore, rawAfter)

		// The projection must have stored exactly the fold.
		stored, err := ix.Get(ctx, ids...)
		if err != nil {
			b.Fatal(err)
		}
		for id, want := range model.Docs {
			if !indextest.EqualDocs(stored[id], want) {
				b.Fatalf("product %s differs from its fold", id)
			}
		}

		projDocs := float64(len(docs)) / projection.Seconds()
		rawDocs := float64(len(docs)) / raw.Seconds()
		fmt.Printf("projection: %d events → %d documents in %v: %.0f events/s, %.0f final documents/s, %.0f document writes/s (%d writes, %d duplicates skipped, %d conflicts, %d cache hits, %d mget in %v, %d bulk in %v)\n",
			len(events), len(docs), projection.Round(time.Millisecond), float64(len(events))/projection.Seconds(), projDocs,
			float64(st.Writes)/projection.Seconds(), st.Writes, st.Duplicates, st.Conflicts, st.CacheHits,
			st.Mgets, st.MgetTime.Round(time.Millisecond), st.Bulks, st.BulkTime.Round(time.Millisecond))
		fmt.Printf("raw esutil.BulkIndexer: %d documents in %v before the projection, %v after: %.0f documents/s (the faster)\n",
			len(docs), rawBefore.Round(time.Millisecond), rawAfter.Round(time.Millisecond), rawDocs)
		fmt.Printf("ratio: projection final documents/s ÷ raw documents/s = %.2f; projection document writes/s ÷ raw = %.2f\n",
			projDocs/rawDocs, float64(st.Writes)/projection.Seconds()/rawDocs)
		b.ReportMetric(float64(len(events))/projection.Seconds(), "events/s")
		b.ReportMetric(projDocs, "proj-docs/s")
		b.ReportMetric(rawDocs, "raw-docs/s")
		b.ReportMetric(projDocs/rawDocs, "ratio")
	}
}
