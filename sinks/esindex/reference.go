package esindex

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// fanOutPage is how many documents one search page of a rename's fan-out
// reads: _search's default max_result_window is far above it, and a page
// becomes one bulk request.
const fanOutPage = 1000

// refDoc is how a Ref is stored: a document of the generation's own index,
// at _id Ref.Key(), holding only the "ref" object (mapped enabled:false, so
// nothing of it is indexed). It has none of the product fields, so the
// searchable filter (discontinued:false) of every read leaves it out.
type refDoc struct {
	Ref *productsearch.Ref `json:"ref"`
}

// isRefKey reports whether id is the _id a Ref is stored at: a product may
// not have it.
func isRefKey(id string) bool {
	return isPrefix(id, "category:") || isPrefix(id, "brand:")
}

func isPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// storedRef is one Ref document as _mget returned it.
type storedRef struct {
	found              bool
	ref                productsearch.Ref
	seqNo, primaryTerm int64
}

// readRefs reads the stored Refs of keys (realtime: no refresh needed).
func (ix *Index) readRefs(ctx context.Context, keys []string) (map[string]storedRef, error) {
	out := make(map[string]storedRef, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	body, _ := json.Marshal(map[string]any{"ids": keys})
	var res struct {
		Docs []struct {
			ID          string     `json:"_id"`
			Found       bool       `json:"found"`
			SeqNo       int64      `json:"_seq_no"`
			PrimaryTerm int64      `json:"_primary_term"`
			Source      refDoc     `json:"_source"`
			Error       *errorBody `json:"error"`
		} `json:"docs"`
	}
	op := "mget references " + ix.write
	ix.stats.mgets.Add(1)
	if err := ix.do(ctx, op, esapi.MgetRequest{Index: ix.write, Body: bytes.NewReader(body)}, &res); err != nil {
		return nil, err
	}
	for _, d := range res.Docs {
		if d.Error != nil {
			return nil, fmt.Errorf("elasticsearch %s: %s: %s: %s", op, d.ID, d.Error.Type, d.Error.Reason)
		}
		if d.Found && d.Source.Ref != nil {
			out[d.ID] = storedRef{found: true, ref: *d.Source.Ref, seqNo: d.SeqNo, primaryTerm: d.PrimaryTerm}
		}
	}
	return out, nil
}

// refsOf is the Refs of m, by key.
func refsOf(m map[string]storedRef) map[string]productsearch.Ref {
	out := make(map[string]productsearch.Ref, len(m))
	for k, s := range m {
		out[k] = s.ref
	}
	return out
}

// joinLog records, during one Apply, which reference version each written
// product was joined with, so that Apply can check afterwards that no
// rename overtook it (recheck).
type joinLog struct {
	version map[string]int64    // by Ref key: the oldest version joined (0: none stored)
	ids     map[string][]string // by Ref key: the products joined with it
}

func newJoinLog() *joinLog {
	return &joinLog{version: map[string]int64{}, ids: map[string][]string{}}
}

func (l *joinLog) add(key string, version int64, id string) {
	if v, ok := l.version[key]; !ok || version < v {
		l.version[key] = version
	}
	l.ids[key] = append(l.ids[key], id)
}

// join shows, in each folded document of ops, the reference names of its
// category and brand (productsearch.Doc.JoinAll), as remembered (refCache)
// or else read, and logs what it joined.
func (ix *Index) join(ctx context.Context, ops []*bulkOp, joined *joinLog) error {
	if len(ops) == 0 {
		return nil
	}
	var keys []string
	for _, op := range ops {
		keys = append(keys, op.folded.RefKeys()...)
	}
	slices.Sort(keys)
	refs, missing := ix.refs.lookup(slices.Compact(keys))
	if len(missing) > 0 {
		stored, err := ix.readRefs(ctx, missing)
		if err != nil {
			return err
		}
		ix.refs.remember(missing, stored)
		maps.Copy(refs, refsOf(stored))
	}
	for _, op := range ops {
		op.folded = op.folded.JoinAll(refs)
		for _, k := range op.folded.RefKeys() {
			joined.add(k, refs[k].Version, op.product.ID)
		}
	}
	return nil
}

// recheck closes the race between a product write and a rename on another
// lane: a rename stored after this Apply read the reference names, whose
// fan-out searched before this Apply's writes were refreshed, would miss
// them. Reading the names again after the writes are acknowledged sees every
// rename whose fan-out could have missed them (a rename not seen here is
// stored later, and its fan-out refreshes first, so it finds these
// documents); the products joined with an older name are joined again.
func (ix *Index) recheck(ctx context.Context, joined *joinLog) error {
	if len(joined.version) == 0 {
		return nil
	}
	keys := make([]string, 0, len(joined.version))
	for k := range joined.version {
		keys = append(keys, k)
	}
	stored, err := ix.readRefs(ctx, keys)
	if err != nil {
		return err
	}
	ix.refs.remember(keys, stored)
	var ids []string
	for k, s := range stored {
		if s.ref.Version > joined.version[k] {
			ids = append(ids, joined.ids[k]...)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return ix.rejoin(ctx, slices.Compact(ids))
}

// rejoin joins the stored documents of ids with the current reference
// names, writing those that change with if_seq_no, until none is in
// conflict.
func (ix *Index) rejoin(ctx context.Context, ids []string) error {
	pause := ix.cfg.Retry.Start()
	for round := 1; len(ids) > 0; round++ {
		if round > ix.cfg.MaxRounds {
			return fmt.Errorf("elasticsearch: %d products still in conflict after %d rounds of joining a rename (first %s)", len(ids), ix.cfg.MaxRounds, ids[0])
		}
		docs, err := ix.mget(ctx, ids)
		if err != nil {
			return err
		}
		var keys []string
		for _, d := range docs {
			keys = append(keys, d.doc.RefKeys()...)
		}
		slices.Sort(keys)
		stored, err := ix.readRefs(ctx, slices.Compact(keys))
		if err != nil {
			return err
		}
		refs := refsOf(stored)
		var ops []*bulkOp
		for i, d := range docs {
			if !d.found || d.err != nil {
				continue // nothing to join: its own events report it
			}
			j := d.doc.JoinAll(refs)
			if productsearch.SameStored(j, d.doc) {
				continue
			}
			ops = append(ops, &bulkOp{product: &productsearch.Share{ID: ids[i]}, seqNo: d.seqNo, primaryTerm: d.primaryTerm, folded: j})
		}
		retry, _, throttled, err := ix.writeJoined(ctx, ops)
		if err != nil {
			return err
		}
		ix.stats.rejoined.Add(int64(len(ops) - len(retry)))
		ids = retry
		if throttled && !backoff.Sleep(ctx, pause.Next()) {
			return ctx.Err()
		}
	}
	return nil
}

// writeJoined writes ops (documents only joined again, no event folded)
// conditionally and returns the IDs to read and join again: conflicts and
// throttled writes; and the IDs of documents refused now, which were
// accepted with another name: they are logged and left as they are.
func (ix *Index) writeJoined(ctx context.Context, ops []*bulkOp) (retry, refused []string, throttled bool, err error) {
	var mu sync.Mutex
	w := ix.newBulkWriter(func(op *bulkOp, item bulkItem) {
		mu.Lock()
		defer mu.Unlock()
		id := op.product.ID
		switch ix.settle(op, item) {
		case writeConflict:
			retry = append(retry, id)
		case writeThrottled:
			throttled = true
			retry = append(retry, id)
		case writeRefused:
			ix.stats.permanent.Add(1)
			refused = append(refused, id)
			ix.cfg.Logger.WarnContext(ctx, "search document refused with a new reference name", logkey.AggregateID, id,
				"err", fmt.Sprintf("%d %s: %s", item.Status, item.Error.Type, item.Error.Reason), logkey.Projection, "product-search")
		}
	})
	defer w.wait()
	for _, op := range ops {
		if op.doc, err = op.folded.EncodeJSON(); err != nil {
			continue // it was stored with the same fields before: cannot happen
		}
		if err := w.add(ctx, op); err != nil {
			return nil, nil, false, err
		}
	}
	err = w.flush(ctx)
	return retry, refused, throttled, err
}

// applyRefs stores the newest name of each category and brand of a batch
// (unless a newer one is stored) and fans each stored name out to the
// documents of its category or brand. A Ref document Elasticsearch refuses
// names its event as permanent.
func (ix *Index) applyRefs(ctx context.Context, refs []productsearch.RefAt) ([]batch.Failure, error) {
	var permanent []batch.Failure
	current := map[string]productsearch.Ref{}
	pending := refs
	pause := ix.cfg.Retry.Start()
	for round := 1; len(pending) > 0; round++ {
		if round > ix.cfg.MaxRounds {
			return nil, fmt.Errorf("elasticsearch: %d reference names still in conflict after %d rounds (first %s)", len(pending), ix.cfg.MaxRounds, pending[0].Key())
		}
		keys := make([]string, len(pending))
		for i, r := range pending {
			keys[i] = r.Key()
		}
		stored, err := ix.readRefs(ctx, keys)
		if err != nil {
			return nil, err
		}
		var ops []*bulkOp
		at := map[*bulkOp]productsearch.RefAt{}
		for _, r := range pending {
			s := stored[r.Key()]
			if s.found && s.ref.Version >= r.Version {
				ix.stats.duplicates.Add(1)
				current[r.Key()] = s.ref // fanned out again: the last fan-out may not have ended
				continue
			}
			ref := r.Ref
			body, _ := json.Marshal(refDoc{Ref: &ref})
			op := &bulkOp{product: &productsearch.Share{ID: r.Key()}, create: !s.found, seqNo: s.seqNo, primaryTerm: s.primaryTerm, doc: body}
			ops = append(ops, op)
			at[op] = r
		}
		var mu sync.Mutex
		var retry []productsearch.RefAt
		throttled := false
		w := ix.newBulkWriter(func(op *bulkOp, item bulkItem) {
			mu.Lock()
			defer mu.Unlock()
			r := at[op]
			switch status := item.Status; {
			case status < 300:
				ix.stats.writes.Add(1)
				ix.stats.applied.Add(1)
				current[r.Key()] = r.Ref
			case status == http.StatusConflict:
				ix.stats.conflicts.Add(1)
				retry = append(retry, r)
			case retryableStatus(status):
				ix.stats.throttled.Add(1)
				throttled = true
				retry = append(retry, r)
			default:
				ix.stats.permanent.Add(1)
				permanent = append(permanent, batch.Permanent(r.At, fmt.Errorf("%s %s v%d in %s: %d %s: %s",
					r.Type, r.ID, r.Version, ix.write, status, item.Error.Type, item.Error.Reason)))
			}
		})
		for _, op := range ops {
			if err := w.add(ctx, op); err != nil {
				_ = w.wait()
				return nil, err
			}
		}
		if err := w.flush(ctx); err != nil {
			return nil, err
		}
		pending = retry
		if throttled && !backoff.Sleep(ctx, pause.Next()) {
			return nil, ctx.Err()
		}
	}
	ix.refs.learn(current)
	for _, r := range refs {
		if c, ok := current[r.Key()]; ok {
			if err := ix.FanOut(ctx, c); err != nil {
				return nil, err
			}
			delete(current, r.Key())
		}
	}
	return permanent, nil
}

// FanOut shows r's name in every document of r's category or brand that
// shows an older one. Apply calls it for each rename; it is exported for
// the rename benchmark. It is idempotent, and a document joined with a
// newer name is left alone.
//
// Elasticsearch here has no update_by_query (nor scripts), so a pass
// refreshes the index (so that documents written before it are searchable),
// pages through the documents whose reference version is older than r's
// with search_after, and writes each joined again with if_seq_no. A
// document changed in between meets a conflict; the next pass finds it
// again, and a pass that finds nothing ends the fan-out.
func (ix *Index) FanOut(ctx context.Context, r productsearch.Ref) error {
	field, versionField := "categoryId", "categoryRefVersion"
	if r.Type == schemas.AggregateBrand {
		field, versionField = "brandId", "brandRefVersion"
	}
	refused := []string{} // never null in the query
	pause := ix.cfg.Retry.Start()
	for pass := 1; ; pass++ {
		if pass > ix.cfg.MaxRounds {
			return fmt.Errorf("elasticsearch: renaming %s %s to v%d: documents still in conflict after %d passes", r.Type, r.ID, r.Version, ix.cfg.MaxRounds)
		}
		if err := ix.Refresh(ctx); err != nil {
			return err
		}
		query := map[string]any{"bool": map[string]any{
			"filter":   []any{map[string]any{"term": map[string]any{field: r.ID}}},
			"must_not": []any{map[string]any{"range": map[string]any{versionField: map[string]any{"gte": r.Version}}}, map[string]any{"ids": map[string]any{"values": refused}}},
		}}
		found, throttled := 0, false
		var after []any
		for {
			body := map[string]any{"size": fanOutPage, "seq_no_primary_term": true, "track_total_hits": false,
				"query": query, "sort": []any{map[string]any{"id": "asc"}}}
			if after != nil {
				body["search_after"] = after
			}
			b, _ := json.Marshal(body)
			var res struct {
				Hits struct {
					Hits []struct {
						ID          string            `json:"_id"`
						SeqNo       int64             `json:"_seq_no"`
						PrimaryTerm int64             `json:"_primary_term"`
						Source      productsearch.Doc `json:"_source"`
						Sort        []any             `json:"sort"`
					} `json:"hits"`
				} `json:"hits"`
			}
			if err := ix.do(ctx, "search "+ix.write+" for a rename", esapi.SearchRequest{Index: []string{ix.write}, Body: bytes.NewReader(b)}, &res); err != nil {
				return err
			}
			hits := res.Hits.Hits
			if len(hits) == 0 {
				break
			}
			found += len(hits)
			after = hits[len(hits)-1].Sort
			ops := make([]*bulkOp, 0, len(hits))
			for _, h := range hits {
				j := h.Source.Join(r)
				ops = append(ops, &bulkOp{product: &productsearch.Share{ID: h.ID}, seqNo: h.SeqNo, primaryTerm: h.PrimaryTerm, folded: j})
			}
			// Conflicts and throttled writes are found again by the next pass.
			retry, bad, th, err := ix.writeJoined(ctx, ops)
			if err != nil {
				return err
			}
			throttled = throttled || th
			refused = append(refused, bad...)
			ix.stats.fannedOut.Add(int64(len(ops) - len(retry) - len(bad)))
			if len(hits) < fanOutPage {
				break
			}
		}
		if found == 0 {
			return nil
		}
		ix.cfg.Logger.DebugContext(ctx, "fanned out a rename", "ref", r.Key(), "version", r.Version, "documents", found, "pass", pass, logkey.Projection, "product-search")
		if throttled && !backoff.Sleep(ctx, pause.Next()) {
			return ctx.Err()
		}
	}
}

// Aggregates are the aggregate types this projection takes: products,
// categories and brands (productsearch.Aggregates). A runtime that asks a
// projection for them (rather than being told in its config) gets them here.
func (ix *Index) Aggregates() []string { return productsearch.Aggregates() }

// refCache remembers the reference names last read from or written to the
// index, so that joining a product write needs no read of them. A name
// may be stale here (a rename stored by another instance or lane since):
// recheck, which reads the names again after the writes, joins again the
// products any newer name overtook, exactly as for a rename stored between
// a read and the writes. A key read and not found is remembered too (no
// name yet); a rename of it then shows in recheck the same way.
type refCache struct {
	mu   sync.Mutex
	refs map[string]storedRef // by Ref key
}

// refCacheMax bounds the keys remembered: past it the cache starts over.
// Categories and brands are few next to products.
const refCacheMax = 100_000

// lookup returns the remembered names of keys that are stored, and the keys
// not remembered at all.
func (c *refCache) lookup(keys []string) (known map[string]productsearch.Ref, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	known = make(map[string]productsearch.Ref, len(keys))
	for _, k := range keys {
		s, ok := c.refs[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case s.found:
			known[k] = s.ref
		}
	}
	return known, missing
}

// remember notes what a read of keys found (stored holds the found ones);
// a version never goes back.
func (c *refCache) remember(keys []string, stored map[string]storedRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs == nil || len(c.refs)+len(keys) > refCacheMax {
		c.refs = make(map[string]storedRef, len(keys))
	}
	for _, k := range keys {
		s := stored[k]
		if old, ok := c.refs[k]; ok && old.found && (!s.found || old.ref.Version > s.ref.Version) {
			continue
		}
		c.refs[k] = storedRef{found: s.found, ref: s.ref} // its seqNo is of that read only
	}
}

// learn notes names just written (stored), as remember does.
func (c *refCache) learn(written map[string]productsearch.Ref) {
	stored := make(map[string]storedRef, len(written))
	for k, r := range written {
		stored[k] = storedRef{found: true, ref: r}
	}
	c.remember(slices.Collect(maps.Keys(stored)), stored)
}

// clear forgets every name: the index was deleted or reset.
func (c *refCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs = nil
}
