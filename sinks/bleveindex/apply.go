package bleveindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/blevesearch/bleve/v2"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// Apply folds batch into the index. See productsearch.Index.
//
// It reads the stored Doc of every product in the batch, folds the
// product's events into it (events not newer than its version are skipped
// as duplicates) and writes the changed documents in one bleve batch. On
// disk, that batch is synced before Apply returns. A document bleve rejects
// (such as one with an empty product ID) is written up to the event that
// makes it unacceptable, and that event is named as permanent in a
// *batch.Error after the rest is written; so is the first event of a
// product whose stored document does not decode (nothing can be folded onto
// it). So is each event no index can store (productsearch.Unstorable),
// taken out before the fold, its product's other events written. The
// runtime dead-letters those events and applies the rest again.
func (ix *Index) Apply(ctx context.Context, events []schemas.Event) error {
	if len(events) == 0 {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	ix.stats.events.Add(int64(len(events)))
	productEvents, at, refs, refBad := productsearch.SplitReferences(events)
	products, unstorable := productsearch.StorableShares(productEvents)
	productsearch.Reindex(at, products, unstorable)
	ids := make([]string, 0, len(products))
	for _, p := range products {
		if p.ID != "" {
			ids = append(ids, p.ID)
		}
	}
	stored, unreadable, err := ix.load(ctx, ids)
	if err != nil {
		return err
	}

	b := ix.idx.NewBatch()
	// Renames first: the product documents this batch writes overwrite
	// their renamed copies in b, joined with the same names.
	var keys []string
	for _, p := range products {
		keys = append(keys, stored[p.ID].RefKeys()...)
		for _, e := range p.Events {
			if c, ok := e.Data.(*schemas.ProductCreated); ok && c != nil {
				keys = append(keys, productsearch.Doc{CategoryID: c.CategoryID, BrandID: c.BrandID}.RefKeys()...)
			} else if u, ok := e.Data.(*schemas.ProductDetailsUpdated); ok && u != nil {
				keys = append(keys, productsearch.Doc{CategoryID: deref(u.CategoryID), BrandID: deref(u.BrandID)}.RefKeys()...)
			}
		}
	}
	names, err := ix.renameAll(ctx, b, refs, keys)
	if err != nil {
		return err
	}
	permanent := append(refBad, unstorable...)
	ix.stats.permanent.Add(int64(len(permanent)))
	reject := func(p *productsearch.Share, i int, err error) {
		ix.stats.permanent.Add(1)
		ev := p.Events[i]
		ix.opts.logger.WarnContext(ctx, "search document rejected", logkey.AggregateID, p.ID, logkey.EventType, ev.Type(), logkey.Err, err, logkey.Projection, "product-search")
		permanent = append(permanent, batch.Permanent(p.At[i], fmt.Errorf("bleve: product %q, %s v%d: %w", p.ID, ev.Type(), ev.Version, err)))
	}
	for _, p := range products {
		if err := unreadable[p.ID]; err != nil {
			reject(p, 0, err)
			continue
		}
		d, applied, duplicates := productsearch.FoldAll(stored[p.ID], p.Events)
		ix.stats.duplicates.Add(int64(duplicates))
		if applied == 0 {
			continue
		}
		d = d.JoinAll(names)
		if err := ix.add(b, p.ID, d); err != nil {
			i, good, applied, err := ix.culprit(stored[p.ID], p, err)
			reject(p, i, err)
			if applied == 0 {
				continue
			}
			if err := ix.add(b, p.ID, good.JoinAll(names)); err != nil { // accepted once already
				return fmt.Errorf("bleve: product %q: %w", p.ID, err)
			}
		}
		ix.stats.applied.Add(int64(applied))
	}
	if n := b.Size(); n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ix.idx.Batch(b); err != nil {
			return fmt.Errorf("bleve: writing %d documents: %w", n, err)
		}
		ix.stats.writes.Add(int64(n))
		ix.stats.batches.Add(1)
	}
	return batch.Fail(permanent...)
}

// culprit folds p's events onto base one at a time to find the first whose
// document bleve refuses (refused says why the whole fold was refused, in
// case none is). It returns that event's index in p.Events, why, and the
// document of the events before it with how many of them it applies.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (ix *Index) culprit(base productsearch.Doc, p *productsearch.Share, refused error) (int, productsearch.Doc, int, error) {
	probe := ix.idx.NewBatch()
	d, applied := base, 0
	for i := range p.Events {
		next, n, _ := productsearch.FoldAll(d, p.Events[i:i+1])
		if n == 0 {
			continue
		}
		if err := ix.add(probe, p.ID, next); err != nil {
			return i, d, applied, err
		}
		d, applied = next, applied+1
	}
	return len(p.Events) - 1, base, 0, refused
}

func (ix *Index) add(b *bleve.Batch, id string, d productsearch.Doc) error {
	if id == "" {
		return errors.New("empty product ID")
	}
	fields, err := fieldsOf(d)
	if err != nil {
		return err
	}
	return b.Index(id, fields)
}

// load returns the stored Doc of each of ids that the index has, and why
// for each whose stored document does not decode.
func (ix *Index) load(ctx context.Context, ids []string) (map[string]productsearch.Doc, map[string]error, error) {
	out := make(map[string]productsearch.Doc, len(ids))
	var unreadable map[string]error
	if len(ids) == 0 {
		return out, nil, nil
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDocIDQuery(ids), len(ids), 0, false)
	req.Score = bleve.ScoreNone
	req.Fields = []string{fieldSource}
	res, err := ix.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("bleve: reading %d stored documents: %w", len(ids), err)
	}
	for _, h := range res.Hits {
		d, err := source(h.ID, h.Fields)
		if err != nil {
			if unreadable == nil {
				unreadable = make(map[string]error)
			}
			unreadable[h.ID] = err
			continue
		}
		out[h.ID] = d
	}
	return out, unreadable, nil
}

// source decodes the stored Doc of a hit.
func source(id string, fields map[string]any) (productsearch.Doc, error) {
	var d productsearch.Doc
	s, ok := fields[fieldSource].(string)
	if !ok {
		return d, fmt.Errorf("bleve: product %q: no stored document", id)
	}
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return d, fmt.Errorf("bleve: product %q: decoding the stored document: %w", id, err)
	}
	return d, nil
}
