package bleveindex

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/blevesearch/bleve/v2"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// refKeyPrefix prefixes a Ref's key (schemas.ReferenceKey) in the index's
// internal key-value store, where reference names live beside the product
// documents: not documents, so no search sees them.
const refKeyPrefix = "streamview/ref/"

// loadRefs reads the stored Refs of keys; absent ones are absent.
func (ix *Index) loadRefs(keys []string) (map[string]productsearch.Ref, error) {
	out := make(map[string]productsearch.Ref, len(keys))
	for _, k := range keys {
		b, err := ix.idx.GetInternal([]byte(refKeyPrefix + k))
		if err != nil {
			return nil, fmt.Errorf("bleve: reading reference name %s: %w", k, err)
		}
		if b == nil {
			continue
		}
		var r productsearch.Ref
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("bleve: reference name %s does not decode: %w", k, err)
		}
		out[k] = r
	}
	return out, nil
}

// renameAll stores each of refs newer than the stored name in b, and writes
// into b every stored document of that category or brand joined with it.
// The rest of Apply overwrites in b the documents its events change, joined
// with refs too. It returns the Refs now in force, by key.
func (ix *Index) renameAll(ctx context.Context, b *bleve.Batch, refs []productsearch.RefAt, keys []string) (map[string]productsearch.Ref, error) {
	for _, r := range refs {
		keys = append(keys, r.Key())
	}
	current, err := ix.loadRefs(keys)
	if err != nil {
		return nil, err
	}
	// A document renamed twice in one batch (its category and its brand)
	// is written once, with both names.
	renamed := map[string]productsearch.Doc{}
	for _, r := range refs {
		if r.Version <= current[r.Key()].Version {
			ix.stats.duplicates.Add(1)
			continue
		}
		ix.stats.applied.Add(1)
		current[r.Key()] = r.Ref
		v, _ := json.Marshal(r.Ref)
		b.SetInternal([]byte(refKeyPrefix+r.Key()), v)
		field := fieldCategoryID
		if r.Type == schemas.AggregateBrand {
			field = fieldBrandID
		}
		docs, err := ix.docsWith(ctx, field, r.ID)
		if err != nil {
			return nil, err
		}
		for id, d := range docs {
			if p, ok := renamed[id]; ok {
				d = p
			}
			if d.Stale(r.Ref) {
				renamed[id] = d.Join(r.Ref)
			}
		}
	}
	for id, d := range renamed {
		if err := ix.add(b, id, d); err != nil {
			return nil, fmt.Errorf("bleve: renaming product %q: %w", id, err)
		}
	}
	return current, nil
}

// docsWith reads the stored Doc of every product whose keyword field is
// value. A document that does not decode is left out: its own events report
// it.
func (ix *Index) docsWith(ctx context.Context, field, value string) (map[string]productsearch.Doc, error) {
	q := bleve.NewTermQuery(value)
	q.SetField(field)
	out := map[string]productsearch.Doc{}
	const page = 1000
	for from := 0; ; from += page {
		req := bleve.NewSearchRequestOptions(q, page, from, false)
		req.Score = bleve.ScoreNone
		req.Fields = []string{fieldSource}
		req.SortBy([]string{"_id"})
		res, err := ix.idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("bleve: reading the products of %s %q: %w", field, value, err)
		}
		for _, h := range res.Hits {
			if d, err := source(h.ID, h.Fields); err == nil {
				out[h.ID] = d
			}
		}
		if len(res.Hits) < page {
			return out, nil
		}
	}
}

// Aggregates are the aggregate types this projection takes: products,
// categories and brands (productsearch.Aggregates).
func (ix *Index) Aggregates() []string { return productsearch.Aggregates() }
