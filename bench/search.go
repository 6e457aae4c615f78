package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/thousands"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/sinks/esindex"
)

// SearchTarget is the share of the smaller raw rate that the search
// projection should reach: the raw side writes the very same documents at
// the same concurrency.
const SearchTarget = 0.9

// SearchProjection measures the product search projection on Elasticsearch
// (sinks/esindex through the runtime) against a bare franz-go consume
// and a bare esutil.BulkIndexer writing the projection's very documents,
// on cfg.Events pre-produced events.
func SearchProjection(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	url := cfg.withDefaults().ElasticsearchURL
	esCfg := elasticsearch.Config{Addresses: strings.Split(url, ",")}
	if cfg.Elasticsearch != nil {
		esCfg = *cfg.Elasticsearch
		url = strings.Join(esCfg.Addresses, ",")
	}
	client, err := elasticsearch.NewClient(esCfg)
	if err != nil {
		return Report{}, fmt.Errorf("bench: elasticsearch client for %s: %w", url, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	res, err := client.Cluster.Health(client.Cluster.Health.WithContext(pctx))
	cancel()
	if err == nil {
		res.Body.Close()
		if res.IsError() {
			err = errors.New(res.Status())
		}
	}
	if err != nil {
		return Report{}, fmt.Errorf("bench: elasticsearch at %s does not answer: %w", url, err)
	}
	return Run(ctx, cfg, &searchSink{client: client, local: loopback(esCfg.Addresses)})
}

// searchSink measures the search projection. Round n's projection writes
// generation n of index <run>; the raw writes go to <run>-raw, a fresh
// index of the same mapping.
type searchSink struct {
	client *elasticsearch.Client
	local  bool           // every address is on this machine: its CPU can be read from /proc
	pid    int            // the Elasticsearch process's, once found
	index  *esindex.Index // the projection's, of the last round
	gen    int            // the generation it writes: the round's number
	raw    *esindex.Index // where the raw writes go
	folded map[string]productsearch.Doc
}

func (s *searchSink) Name() string { return "search" }

func (s *searchSink) Target() float64 { return SearchTarget }

// rawIndex makes the Index of the raw writes, once.
func (s *searchSink) rawIndex(d *Dataset) error {
	if s.raw != nil {
		return nil
	}
	var err error
	s.raw, err = esindex.New(s.client, esindex.Config{IndexPrefix: d.Run + "-raw", Alias: d.Run + "-raw-read"})
	return err
}

// Raw bulk-indexes exactly the documents the projection writes, as the
// projection sends them: per batch of each lane (partition), one document
// per product, its events of the batch folded onto what it was
// (productsearch.Fold), as plain index actions with no read and no version
// check, in one bare _bulk request per batch (5,000 documents or 5 MiB at
// most a request, as the projection's bulk writer), the lanes at once and
// each lane's batches in order. It is timed as the projection is, from the
// first event to the last write acknowledged, folding and encoding
// included. The gap to the projection is its reads (_mget, on a cache
// miss), its conditional writes, and its runtime (consuming, decoding,
// committing).
func (s *searchSink) Raw(ctx context.Context, d *Dataset, progress func(int)) (Figure, error) {
	return s.rawWrites(ctx, d, progress, true)
}

// RawSecond writes the same documents through one esutil.BulkIndexer
// shared by the lanes, with its 5 MiB buffers filled across batches:
// fewer, larger requests than any projection that commits its offsets
// after writing a batch can send (a small run sends everything at the
// end), so it is shown and not compared with.
func (s *searchSink) RawSecond(ctx context.Context, d *Dataset, progress func(int)) (Figure, error) {
	if err := s.rawIndex(d); err != nil {
		return Figure{}, err
	}
	if err := s.ResetRaw(ctx); err != nil {
		return Figure{}, err
	}
	return s.rawWrites(ctx, d, progress, false)
}

// rawWrites writes the folded documents of d's batches into a fresh raw
// index: in a bulk request per batch when perBatch, else through one
// BulkIndexer for all lanes.
func (s *searchSink) rawWrites(ctx context.Context, d *Dataset, progress func(int), perBatch bool) (Figure, error) {
	if err := s.rawIndex(d); err != nil {
		return Figure{}, err
	}
	if err := s.raw.EnsureIndex(ctx, 1); err != nil {
		return Figure{}, err
	}
	lanes := d.Lanes()
	var writes atomic.Int64
	start := time.Now()
	var w rawWriter
	if perBatch {
		w = newRawBulks(s.client, s.raw.IndexName(1), len(lanes))
	} else {
		bi, err := newSharedIndexer(s.client, s.raw.IndexName(1), len(lanes))
		if err != nil {
			return Figure{}, err
		}
		w = bi
	}
	folded := make([]map[string]productsearch.Doc, len(lanes)) // a lane's products are its own
	g, gctx := errgroup.WithContext(ctx)
	for l, lane := range lanes {
		folded[l] = make(map[string]productsearch.Doc)
		g.Go(func() error {
			docs := folded[l]
			for _, b := range lane {
				for _, p := range productsearch.Shares(b) {
					doc, applied, _ := productsearch.FoldAll(docs[p.ID], p.Events)
					if applied == 0 {
						continue
					}
					docs[p.ID] = doc
					body, err := doc.EncodeJSON()
					if err != nil {
						return fmt.Errorf("product %s: %w", p.ID, err)
					}
					writes.Add(1)
					if err := w.add(gctx, l, p.ID, body); err != nil {
						return err
					}
				}
				if err := w.endBatch(gctx, l); err != nil {
					return err
				}
				progress(len(b))
			}
			return nil
		})
	}
	err := g.Wait()
	requests, ferr := w.close(ctx) // also when a lane failed: the shared indexer's workers end
	elapsed := time.Since(start)
	if err == nil {
		err = ferr
	}
	if err != nil {
		return Figure{}, err
	}
	s.folded = make(map[string]productsearch.Doc, d.Products)
	for _, m := range folded {
		maps.Copy(s.folded, m)
	}
	label := fmt.Sprintf("raw search: the same %s documents, a bulk request per batch, %d lanes at once, %d requests", thousands.Format(int(writes.Load())), len(lanes), requests)
	if !perBatch {
		label = fmt.Sprintf("raw search: the same documents, one BulkIndexer, %d workers, 5 MiB buffers across batches, %d requests", len(lanes), requests)
	}
	return Figure{Label: label, Unit: "events", Count: len(d.Events), Elapsed: elapsed}, nil
}

// rawWriter sends the raw side's documents: add one of lane l, endBatch
// at the end of each of its batches, close once the lanes are done (with
// the number of requests sent).
type rawWriter interface {
	add(ctx context.Context, l int, id string, body []byte) error
	endBatch(ctx context.Context, l int) error
	close(ctx context.Context) (requests int, err error)
}

// rawBulks is the compared raw side: a lane's documents go in bare _bulk
// requests of plain index actions, one per batch (or more: 5,000
// documents or 5 MiB at most a request, the projection's bulk writer's
// bounds), from a buffer reused per lane.
type rawBulks struct {
	client   *elasticsearch.Client
	index    string
	lanes    []rawBulk
	requests atomic.Int64
}

type rawBulk struct {
	buf  bytes.Buffer
	docs int
}

func newRawBulks(client *elasticsearch.Client, index string, lanes int) *rawBulks {
	return &rawBulks{client: client, index: index, lanes: make([]rawBulk, lanes)}
}

func (r *rawBulks) add(ctx context.Context, l int, id string, body []byte) error {
	quoted, err := json.Marshal(id)
	if err != nil {
		return err
	}
	b := &r.lanes[l]
	b.buf.WriteString(`{"index":{"_id":`)
	b.buf.Write(quoted)
	b.buf.WriteString("}}\n")
	b.buf.Write(body)
	b.buf.WriteByte('\n')
	b.docs++
	if b.docs < esindex.DefaultBulkMaxDocs && b.buf.Len() < esindex.DefaultBulkMaxBytes {
		return nil
	}
	return r.endBatch(ctx, l)
}

// endBatch sends what lane l holds, if anything, and checks every item.
func (r *rawBulks) endBatch(ctx context.Context, l int) error {
	b := &r.lanes[l]
	if b.docs == 0 {
		return nil
	}
	defer func() { b.buf.Reset(); b.docs = 0 }()
	r.requests.Add(1)
	res, err := r.client.Bulk(bytes.NewReader(b.buf.Bytes()), r.client.Bulk.WithContext(ctx), r.client.Bulk.WithIndex(r.index),
		r.client.Bulk.WithFilterPath("errors", "items.*.status", "items.*.error"))
	if err != nil {
		return fmt.Errorf("raw bulk of %d documents: %w", b.docs, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("raw bulk of %d documents: %s", b.docs, res.String())
	}
	// A struct per item, not a map, as the projection's bulk writer decodes
	// its answers: a third less time for 5,000 items.
	var reply struct {
		Errors bool `json:"errors"`
		Items  []struct {
			Index struct {
				Status int `json:"status"`
				Error  *struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"error"`
			} `json:"index"`
		} `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&reply); err != nil {
		return fmt.Errorf("raw bulk of %d documents: reply: %w", b.docs, err)
	}
	if !reply.Errors {
		return nil
	}
	for _, item := range reply.Items {
		if it := item.Index; it.Error != nil {
			return fmt.Errorf("raw bulk: a document failed: %d %s: %s", it.Status, it.Error.Type, it.Error.Reason)
		}
	}
	return errors.New("raw bulk: errors reported, none named")
}

func (r *rawBulks) close(context.Context) (int, error) { return int(r.requests.Load()), nil }

// sharedIndexer is the second raw line: one esutil.BulkIndexer for all
// lanes, its buffers filled across batches.
type sharedIndexer struct {
	bi           esutil.BulkIndexer
	failed       atomic.Int64
	firstFailure atomic.Value
}

func newSharedIndexer(client *elasticsearch.Client, index string, workers int) (*sharedIndexer, error) {
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: client, Index: index, NumWorkers: workers, FlushBytes: esindex.DefaultBulkMaxBytes})
	if err != nil {
		return nil, err
	}
	return &sharedIndexer{bi: bi}, nil
}

func (s *sharedIndexer) add(ctx context.Context, _ int, id string, body []byte) error {
	return s.bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: id, Body: bytes.NewReader(body), OnFailure: s.onFailure})
}

func (s *sharedIndexer) onFailure(_ context.Context, _ esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem, err error) {
	s.failed.Add(1)
	if err == nil {
		err = fmt.Errorf("%d %s: %s", r.Status, r.Error.Type, r.Error.Reason)
	}
	s.firstFailure.CompareAndSwap(nil, err)
}

func (s *sharedIndexer) endBatch(context.Context, int) error { return nil } // its buffers span batches

func (s *sharedIndexer) close(ctx context.Context) (int, error) {
	err := s.bi.Close(ctx)
	if n := s.failed.Load(); n > 0 && err == nil {
		err = fmt.Errorf("%d raw documents failed, the first: %v", n, s.firstFailure.Load())
	}
	return int(s.bi.Stats().NumRequests), err
}

// ServerCPU is the CPU time the Elasticsearch process has used, read from
// /proc when it runs on this machine (its own node stats refresh the
// process's CPU once a second at most, too coarse for steps of a second or
// two). Elsewhere it fails, and the report shows no server figure.
func (s *searchSink) ServerCPU(ctx context.Context) (time.Duration, error) {
	if !s.local {
		return 0, errors.New("elasticsearch is not on this machine")
	}
	if s.pid == 0 {
		var res struct {
			Nodes map[string]struct {
				Process struct {
					ID int `json:"id"`
				} `json:"process"`
			} `json:"nodes"`
		}
		r, err := s.client.Nodes.Info(s.client.Nodes.Info.WithContext(ctx), s.client.Nodes.Info.WithNodeID("_local"),
			s.client.Nodes.Info.WithMetric("process"), s.client.Nodes.Info.WithFilterPath("nodes.*.process.id"))
		if err != nil {
			return 0, err
		}
		defer r.Body.Close()
		if r.IsError() {
			return 0, fmt.Errorf("node info: %s", r.Status())
		}
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			return 0, fmt.Errorf("node info: %w", err)
		}
		if len(res.Nodes) != 1 {
			return 0, fmt.Errorf("node info: %d nodes, want the one local node", len(res.Nodes))
		}
		for _, n := range res.Nodes {
			s.pid = n.Process.ID
		}
		if s.pid == 0 {
			return 0, errors.New("node info: no process id")
		}
	}
	return procCPU(s.pid)
}

// loopback reports whether every address (URLs) names this machine.
func loopback(addrs []string) bool {
	for _, a := range addrs {
		u, err := url.Parse(strings.TrimSpace(a))
		if err != nil {
			return false
		}
		if !connect.IsLoopback(u.Hostname()) {
			return false
		}
	}
	return len(addrs) > 0
}

// Aggregates: the search projection joins category and brand names in.
func (s *searchSink) Aggregates() []string { return productsearch.Aggregates() }

// ResetRaw deletes the raw index, for Raw to run again into a fresh one:
// creating documents, as the first run did, not overwriting them.
func (s *searchSink) ResetRaw(ctx context.Context) error {
	if err := s.deleteIndices(ctx, s.raw.IndexName(1)); err != nil {
		return fmt.Errorf("deleting the raw index: %w", err)
	}
	return nil
}

// Projection gives round n a new Index (its document cache empty)
// writing generation n, after deleting the round before's index.
func (s *searchSink) Projection(ctx context.Context, d *Dataset, n int) (processors.Projection, string, error) {
	if s.index != nil {
		if err := s.deleteIndices(ctx, s.index.IndexName(s.gen)); err != nil {
			return nil, "", fmt.Errorf("bench: deleting round %d's index %s (the clean-up at the end tries again): %w", s.gen, s.index.IndexName(s.gen), err)
		}
	}
	index, err := esindex.New(s.client, esindex.Config{IndexPrefix: d.Run, Alias: d.Run + "-read", Generation: n})
	if err != nil {
		return nil, "", err
	}
	s.index, s.gen = index, n
	// Made before the projection is timed, as a rebuild makes its
	// generation's index before it starts the runtime and as Raw makes its
	// own before it is timed.
	if err := s.index.EnsureIndex(ctx, n); err != nil {
		return nil, "", err
	}
	return s.index, "projection (product-search)", nil
}

// Stored counts the projection's documents, reading every product the data
// set has; a document that differs from the fold of its events is an error.
func (s *searchSink) Stored(ctx context.Context) (int, error) {
	if s.index == nil || s.folded == nil {
		return 0, errors.New("bench: the projection did not run")
	}
	ids := make([]string, 0, len(s.folded))
	for id := range s.folded {
		ids = append(ids, id)
	}
	got, err := s.index.Get(ctx, ids...)
	if err != nil {
		return 0, err
	}
	for id, doc := range got {
		if !productsearch.SameStored(doc, s.folded[id]) {
			return len(got), fmt.Errorf("bench: product %s: the projection stored %+v, the fold of its events is %+v", id, doc, s.folded[id])
		}
	}
	return len(got), nil
}

// Cleanup deletes the last round's index (Projection deleted the earlier
// ones) and the raw index, each that was made.
func (s *searchSink) Cleanup(ctx context.Context) error {
	var names []string
	if s.index != nil {
		names = append(names, s.index.IndexName(s.gen))
	}
	if s.raw != nil {
		names = append(names, s.raw.IndexName(1))
	}
	if len(names) == 0 {
		return nil
	}
	if err := s.deleteIndices(ctx, names...); err != nil {
		return fmt.Errorf("deleting the indices %v (curl -XDELETE <es>/<index> removes one by hand): %w", names, err)
	}
	return nil
}

// deleteIndices deletes the named indices; a missing one is no error.
func (s *searchSink) deleteIndices(ctx context.Context, names ...string) error {
	res, err := s.client.Indices.Delete(names,
		s.client.Indices.Delete.WithContext(ctx), s.client.Indices.Delete.WithIgnoreUnavailable(true))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.IsError() {
		return errors.New(res.String())
	}
	return nil
}
