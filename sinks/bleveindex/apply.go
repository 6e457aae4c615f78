package bleveindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/blevesearch/bleve/v2"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// product is one product's share of a batch: its events in version order.
type product struct {
	id     string
	events []schemas.Event
}

// groupEvents splits a batch per aggregate, keeping each aggregate's order
// and the order in which aggregates first appear.
func groupEvents(batch []schemas.Event) []*product {
	byID := make(map[string]*product)
	var out []*product
	for _, e := range batch {
		p := byID[e.AggregateID]
		if p == nil {
			p = &product{id: e.AggregateID}
			byID[e.AggregateID] = p
			out = append(out, p)
		}
		p.events = append(p.events, e)
	}
	return out
}

// Apply folds batch into the index. See productsearch.Index.
//
// It reads the stored Doc of every product in the batch, folds the
// product's events into it (events not newer than its version are skipped
// as duplicates) and writes the changed documents in one bleve batch. On
// disk, that batch is synced before Apply returns. A document bleve rejects
// (such as one with an empty product ID) is left out and reported with
// productsearch.ErrPermanent after the rest is written.
func (ix *Index) Apply(ctx context.Context, batch []schemas.Event) error {
	if len(batch) == 0 {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	ix.stats.events.Add(int64(len(batch)))
	products := groupEvents(batch)
	ids := make([]string, 0, len(products))
	for _, p := range products {
		if p.id != "" {
			ids = append(ids, p.id)
		}
	}
	stored, err := ix.load(ctx, ids)
	if err != nil {
		return err
	}

	b := ix.idx.NewBatch()
	var permanent []error
	for _, p := range products {
		d, applied, duplicates := productsearch.FoldAll(stored[p.id], p.events)
		ix.stats.duplicates.Add(int64(duplicates))
		if applied == 0 {
			continue
		}
		err := ix.add(b, p.id, d)
		if err != nil {
			ix.stats.permanent.Add(1)
			ev := p.events[len(p.events)-1]
			ix.opts.logger.WarnContext(ctx, "search document rejected", "aggregate_id", p.id, "event_type", ev.Type(), "error", err, "projection", "product-search")
			permanent = append(permanent, fmt.Errorf("%w: bleve: product %q at version %d (%s): %v", productsearch.ErrPermanent, p.id, d.Version, ev.Type(), err))
			continue
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
	return errors.Join(permanent...)
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

// load returns the stored Doc of each of ids that the index has.
func (ix *Index) load(ctx context.Context, ids []string) (map[string]productsearch.Doc, error) {
	out := make(map[string]productsearch.Doc, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDocIDQuery(ids), len(ids), 0, false)
	req.Score = bleve.ScoreNone
	req.Fields = []string{fieldSource}
	res, err := ix.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("bleve: reading %d stored documents: %w", len(ids), err)
	}
	for _, h := range res.Hits {
		d, err := source(h.ID, h.Fields)
		if err != nil {
			return nil, err
		}
		out[h.ID] = d
	}
	return out, nil
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
