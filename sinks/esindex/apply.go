package esindex

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// maxIDLength is Elasticsearch's limit on a document _id, in bytes.
const maxIDLength = 512

// groupEvents splits a batch per product (productsearch.StorableShares).
// The events no document can hold (productsearch.Unstorable), and those
// of a product no document can hold (no aggregate ID, or one too long for
// an _id), come back as permanent failures instead.
func groupEvents(events []schemas.Event) ([]*productsearch.Share, []batch.Failure) {
	var out []*productsearch.Share
	shares, bad := productsearch.StorableShares(events)
	for _, p := range shares {
		if p.ID != "" && len(p.ID) <= maxIDLength && !isRefKey(p.ID) {
			out = append(out, p)
			continue
		}
		for i, e := range p.Events {
			bad = append(bad, batch.Permanent(p.At[i], fmt.Errorf("event %s (%s v%d): aggregate ID %q cannot be a document ID",
				e.ID, e.Type(), e.Version, e.AggregateID)))
		}
	}
	return out, bad
}

// Apply folds batch into the write index. See productsearch.Index.
//
// Per round it reads the batch's documents with _mget (realtime, with
// _seq_no and _primary_term), folds each product's events in Go and writes
// the changed documents in bulk: op_type=create for a product the index
// lacks, index with if_seq_no/if_primary_term otherwise. A product this
// Index wrote recently is folded from its cache instead of read, when the
// batch holds something newer than the cached version; a product whose
// batch starts with its creation (version 1) and that the cache does not
// hold is taken to be new, folded onto nothing and written with
// op_type=create, without a read. The conditional write checks both
// guesses. Documents that meet a version conflict (a
// concurrent writer, or a redelivery racing this one) are re-read and
// re-folded in the next round; 429/5xx items are re-sent after a pause that
// doubles, with jitter, up to a cap (Config.Retry). Events whose version
// the stored document already has are skipped and counted as duplicates.
//
// An event no document can hold (productsearch.Unstorable) is taken out
// before the fold and named as permanent on its own; its product's other
// events are written. A document Elasticsearch rejects (a 4xx other than
// 409/429) is written
// again one event at a time to find the event that makes it unacceptable;
// that event comes back named as permanent in a *batch.Error once the rest
// of the batch is stored, so the runtime dead-letters exactly that event.
// A _bulk or _mget request refused whole (400, 413: refusedRequest) names
// no document, so its documents are sent again in halves until the ones at
// fault stand alone in a request: a document whose write alone is refused
// is rejected as above; one whose read alone is refused has nothing to fold
// onto, and its first event is named permanent. Any other failure of a
// whole request (429, 5xx, the network) is returned as it is: transient.
func (ix *Index) Apply(ctx context.Context, events []schemas.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := ix.ensureWrite(ctx); err != nil {
		return err
	}
	ix.stats.events.Add(int64(len(events)))
	productEvents, at, refs, permanent := productsearch.SplitReferences(events)
	if len(refs) > 0 {
		failed, err := ix.applyRefs(ctx, refs)
		if err != nil {
			return err
		}
		permanent = append(permanent, failed...)
	}
	pending, bad := groupEvents(productEvents)
	productsearch.Reindex(at, pending, bad)
	permanent = append(permanent, bad...)
	joined := newJoinLog()
	var rejected []*productsearch.Share
	pause := ix.cfg.Retry.Start()
	var why string // the last throttled item's error
	for round := 1; len(pending) > 0; round++ {
		if round > ix.cfg.MaxRounds {
			if why != "" {
				why = "; the last refusal: " + why
			}
			return fmt.Errorf("elasticsearch: %d products of the batch still in conflict or throttled after %d rounds (first %s)%s", len(pending), ix.cfg.MaxRounds, pending[0].ID, why)
		}
		if round > 1 {
			ix.cfg.Logger.DebugContext(ctx, "re-folding products", "products", len(pending), "round", round, logkey.Projection, "product-search")
		}
		r, err := ix.applyRound(ctx, pending, false, round == 1, joined)
		if err != nil {
			return err
		}
		permanent = append(permanent, r.permanent...)
		rejected = append(rejected, r.rejected...)
		pending = r.retry
		why = cmp.Or(r.why, why)
		if r.throttled && len(pending) > 0 && !backoff.Sleep(ctx, pause.Next()) {
			return ctx.Err()
		}
	}
	for _, p := range rejected {
		if err := ix.isolate(ctx, p, &permanent, joined); err != nil {
			return err
		}
	}
	if err := ix.recheck(ctx, joined); err != nil {
		return err
	}
	return batch.Fail(permanent...)
}

type roundResult struct {
	retry     []*productsearch.Share // conflict or throttled: read and fold again
	throttled bool
	why       string                 // a throttled item's status and error, for the error of the last round
	rejected  []*productsearch.Share // a document of several new events was rejected
	permanent []batch.Failure
}

// applyRound reads, folds and writes products once, in chunks of
// BulkMaxDocs. With single it folds only the first new event of each
// product. With guessNew a product the cache does not hold whose events
// start with version 1 is not read: it is folded as new and written with
// op_type=create, which conflicts (and so is read in the next round) if
// the document exists after all (a redelivery, or a replay over a live
// index). Creates are a tenth of bench api's commands and the one product
// write the cache cannot spare a read: without the guess most Applies
// paid an _mget round trip for them (330 of 442 Applies of a 1,000/s run).
func (ix *Index) applyRound(ctx context.Context, products []*productsearch.Share, single, guessNew bool, joined *joinLog) (roundResult, error) {
	var r roundResult
	reject := func(op *bulkOp, why error) {
		if op.applied > 1 {
			r.rejected = append(r.rejected, op.product) // find which event
			return
		}
		ix.stats.permanent.Add(1)
		p, i := op.product, op.firstNew
		r.permanent = append(r.permanent, batch.Permanent(p.At[i],
			fmt.Errorf("product %s, %s v%d, in %s: %w", p.ID, p.Events[i].Type(), p.Events[i].Version, ix.write, why)))
		ix.cfg.Logger.WarnContext(ctx, "search document rejected", logkey.AggregateID, p.ID, logkey.EventType, p.Events[i].Type(),
			"version", p.Events[i].Version, "err", why, logkey.Projection, "product-search")
	}
	// The bulk writer hands results over from its own goroutine while this
	// one folds the next documents: mu guards r.
	var mu sync.Mutex
	w := ix.newBulkWriter(func(op *bulkOp, item bulkItem) {
		mu.Lock()
		defer mu.Unlock()
		switch ix.settle(op, item) {
		case writeDone:
			ix.stats.applied.Add(int64(op.applied))
			ix.stats.duplicates.Add(int64(op.duplicates))
			if single && op.firstNew < len(op.product.Events)-1 {
				r.retry = append(r.retry, op.product) // on to the next event
			}
		case writeConflict:
			r.retry = append(r.retry, op.product)
		case writeThrottled:
			r.throttled = true
			if item.Error != nil {
				r.why = fmt.Sprintf("%d %s: %s", item.Status, item.Error.Type, item.Error.Reason)
			}
			r.retry = append(r.retry, op.product)
		case writeRefused:
			reject(op, fmt.Errorf("%d %s: %s", item.Status, item.Error.Type, item.Error.Reason))
		}
	})
	// fold folds a product's new events; the chunk's folds are joined with
	// the reference names of their categories and brands, read once per
	// chunk, before they are written.
	var folded []*bulkOp
	fold := func(p *productsearch.Share, s storedDoc, slot cacheSlot) {
		first := p.FirstNew(s.doc.Version)
		if first < 0 {
			ix.stats.duplicates.Add(int64(len(p.Events)))
			return
		}
		events := p.Events
		if single {
			events = events[:first+1]
		}
		doc, applied, dups := productsearch.FoldAll(s.doc, events)
		folded = append(folded, &bulkOp{product: p, create: !s.found, seqNo: s.seqNo, primaryTerm: s.primaryTerm,
			folded: doc, applied: applied, duplicates: dups, firstNew: first, slot: slot})
	}
	write := func(op *bulkOp) error {
		body, err := op.folded.EncodeJSON()
		if err != nil { // a timestamp past year 9999, say
			mu.Lock()
			reject(op, fmt.Errorf("encoding the document: %w", err))
			mu.Unlock()
			return nil
		}
		op.doc = body
		return w.add(ctx, op)
	}
	defer w.wait() // on an early return, no result may come in after it
	for start := 0; start < len(products); start += ix.cfg.BulkMaxDocs {
		chunk := products[start:min(start+ix.cfg.BulkMaxDocs, len(products))]
		// A cached document with something newer to fold needs no read; the
		// conditional write checks the guess. Anything else is read.
		var read []*productsearch.Share
		for _, p := range chunk {
			c, slot, ok := ix.cache.get(p.ID)
			if !ok && guessNew && p.Events[0].Version == 1 {
				ix.stats.newGuesses.Add(1)
				fold(p, storedDoc{}, cacheSlot{})
				continue
			}
			if !ok || p.MaxVersion() <= c.doc.Version {
				read = append(read, p)
				continue
			}
			ix.stats.cacheHits.Add(1)
			fold(p, storedDoc{found: true, doc: c.doc, seqNo: c.seqNo, primaryTerm: c.primaryTerm}, slot)
		}
		var stored []storedDoc
		if len(read) > 0 {
			ids := make([]string, len(read))
			for i, p := range read {
				ids[i] = p.ID
			}
			var err error
			if stored, err = ix.mget(ctx, ids); err != nil {
				return r, err
			}
		}
		for i, p := range read {
			s := stored[i]
			if s.err != nil {
				// Nothing can be folded onto it; each retry dead-letters one
				// of the product's events until someone repairs the document.
				ix.stats.permanent.Add(1)
				mu.Lock()
				r.permanent = append(r.permanent, batch.Permanent(p.At[0],
					fmt.Errorf("product %s in %s: %w", p.ID, ix.write, s.err)))
				mu.Unlock()
				continue
			}
			fold(p, s, cacheSlot{})
		}
		if err := ix.join(ctx, folded, joined); err != nil {
			return r, err
		}
		if ix.afterJoin != nil {
			ix.afterJoin()
		}
		for _, op := range folded {
			if err := write(op); err != nil {
				return r, err
			}
		}
		folded = folded[:0]
	}
	err := w.flush(ctx) // before r is read: the flush fills it
	return r, err
}

// isolate writes a rejected product one event at a time, so that the events
// before the culprit are stored and the culprit is reported.
func (ix *Index) isolate(ctx context.Context, p *productsearch.Share, permanent *[]batch.Failure, joined *joinLog) error {
	pending := []*productsearch.Share{p}
	pause := ix.cfg.Retry.Start()
	for steps := 0; len(pending) > 0; steps++ {
		if steps > len(p.Events)+ix.cfg.MaxRounds {
			return fmt.Errorf("elasticsearch: product %s still in conflict or throttled while isolating a rejected event", p.ID)
		}
		r, err := ix.applyRound(ctx, pending, true, false, joined)
		if err != nil {
			return err
		}
		*permanent = append(*permanent, r.permanent...)
		if len(r.permanent) > 0 {
			return nil // the culprit; the events after it wait for the runtime's next attempt
		}
		pending = r.retry
		if r.throttled && !backoff.Sleep(ctx, pause.Next()) {
			return ctx.Err()
		}
	}
	return nil
}

// storedDoc is one document as _mget returned it.
type storedDoc struct {
	found       bool
	doc         productsearch.Doc
	seqNo       int64
	primaryTerm int64
	// err says why the document cannot be read: its stored source does not
	// decode, or a request reading it alone is refused (refusedRequest).
	err error
}

// mget reads the current documents of ids (no duplicates), in their order.
// A request Elasticsearch refuses whole (refusedRequest) is sent again in
// halves, down to requests of one document, whose refusal is that
// document's err; the other documents are read.
func (ix *Index) mget(ctx context.Context, ids []string) ([]storedDoc, error) {
	out, err := ix.mget1(ctx, ids)
	if !refusedRequest(err) {
		return out, err
	}
	ix.stats.refused.Add(1)
	if len(ids) == 1 {
		return []storedDoc{{err: fmt.Errorf("reading it alone: %w", err)}}, nil
	}
	half := len(ids) / 2
	a, err := ix.mget(ctx, ids[:half])
	if err != nil {
		return nil, err
	}
	b, err := ix.mget(ctx, ids[half:])
	if err != nil {
		return nil, err
	}
	return append(a, b...), nil
}

// mget1 reads the current documents of ids in one request.
func (ix *Index) mget1(ctx context.Context, ids []string) ([]storedDoc, error) {
	body, _ := json.Marshal(map[string]any{"ids": ids})
	var res struct {
		Docs []struct {
			ID          string          `json:"_id"`
			Found       bool            `json:"found"`
			SeqNo       int64           `json:"_seq_no"`
			PrimaryTerm int64           `json:"_primary_term"`
			Source      json.RawMessage `json:"_source"`
			Error       *errorBody      `json:"error"`
		} `json:"docs"`
	}
	op := "mget " + ix.write
	start := time.Now()
	defer func() { ix.stats.mgetNanos.Add(int64(time.Since(start))) }()
	err := ix.do(ctx, op, esapi.MgetRequest{Index: ix.write, Body: bytes.NewReader(body)}, &res)
	ix.stats.mgets.Add(1)
	if err != nil {
		if isType(err, "index_not_found_exception") {
			ix.ensured.Store(false) // deleted under us: recreate it on the next Apply
			ix.forget()
		}
		return nil, err
	}
	if len(res.Docs) != len(ids) {
		return nil, fmt.Errorf("elasticsearch %s: asked for %d documents, got %d", op, len(ids), len(res.Docs))
	}
	out := make([]storedDoc, len(ids))
	for i, d := range res.Docs {
		switch {
		case d.Error != nil:
			// A shard-level failure for this document: retry the batch later.
			return nil, fmt.Errorf("elasticsearch %s: product %s: %s: %s", op, ids[i], d.Error.Type, d.Error.Reason)
		case d.ID != ids[i]:
			return nil, fmt.Errorf("elasticsearch %s: answer out of order: %s for %s", op, d.ID, ids[i])
		case !d.Found:
			continue
		}
		out[i] = storedDoc{found: true, seqNo: d.SeqNo, primaryTerm: d.PrimaryTerm}
		if err := json.Unmarshal(d.Source, &out[i].doc); err != nil {
			out[i].err = fmt.Errorf("stored document does not decode: %w", err)
		}
	}
	return out, nil
}

// Get reads the stored documents of ids from the write index, discontinued
// ones included, realtime (no refresh needed). Absent products are absent
// from the map.
func (ix *Index) Get(ctx context.Context, ids ...string) (map[string]productsearch.Doc, error) {
	out := make(map[string]productsearch.Doc, len(ids))
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	for chunk := range slices.Chunk(ids, ix.cfg.BulkMaxDocs) {
		stored, err := ix.mget(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for i, s := range stored {
			switch {
			case s.err != nil:
				return nil, fmt.Errorf("elasticsearch: product %s in %s: %w", chunk[i], ix.write, s.err)
			case s.found:
				out[chunk[i]] = s.doc
			}
		}
	}
	return out, nil
}

// writeOutcome is what became of one conditional document write.
type writeOutcome int

const (
	writeDone      writeOutcome = iota // written: the cache holds it
	writeConflict                      // another write came first: read and fold again
	writeThrottled                     // Elasticsearch was busy: write again later
	writeRefused                       // refused for good
)

// settle does what every conditional document write's result needs, for
// the projection's writes and the reference join's alike: the counters and
// the document cache, by the item's status.
func (ix *Index) settle(op *bulkOp, item bulkItem) writeOutcome {
	switch status := item.Status; {
	case status < 300:
		ix.stats.writes.Add(1)
		ix.cache.put(op.product.ID, cachedDoc{doc: op.folded, seqNo: item.SeqNo, primaryTerm: item.PrimaryTerm, size: len(op.doc)}, op.slot)
		return writeDone
	case status == http.StatusConflict:
		ix.stats.conflicts.Add(1)
		ix.cache.drop(op.product.ID)
		return writeConflict
	case retryableItem(item):
		ix.stats.throttled.Add(1)
		return writeThrottled
	default:
		ix.cache.drop(op.product.ID)
		return writeRefused
	}
}
