package productsearch

import (
	"fmt"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/schemas"
)

// Ref is the current name of a category or brand (reference data, API.md
// "Reference data"): the fold of its CategoryRenamed or BrandRenamed
// events, of which only the newest counts.
type Ref struct {
	Type    string `json:"type"` // schemas.AggregateCategory or schemas.AggregateBrand
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// Key is the Ref's Kafka key and store key: schemas.ReferenceKey.
func (r Ref) Key() string { return schemas.ReferenceKey(r.Type, r.ID) }

// RefOf returns the Ref that reference event e names, and false for any
// other event (a product's, or a reference event without data).
func RefOf(e schemas.Event) (Ref, bool) {
	switch p := e.Data.(type) {
	case *schemas.CategoryRenamed:
		if p != nil && e.AggregateType == schemas.AggregateCategory {
			return Ref{Type: schemas.AggregateCategory, ID: e.AggregateID, Name: p.Name, Version: e.Version}, true
		}
	case *schemas.BrandRenamed:
		if p != nil && e.AggregateType == schemas.AggregateBrand {
			return Ref{Type: schemas.AggregateBrand, ID: e.AggregateID, Name: p.Name, Version: e.Version}, true
		}
	}
	return Ref{}, false
}

// IsReference reports whether e belongs to a category or brand rather than
// to a product: an index keeps it as a Ref, never as a document.
func IsReference(e schemas.Event) bool { return schemas.IsReference(e.AggregateType) }

// Join returns d showing r's name when r is d's category or brand and newer
// than the reference name d shows (CategoryRefVersion, BrandRefVersion):
// the reference name wins over the one the product's own events carried,
// and an older rename never undoes a newer one. Any other r leaves d as it
// is, so Join may be called with every Ref an index knows.
func (d Doc) Join(r Ref) Doc {
	switch {
	case r.Version <= 0:
	case r.Type == schemas.AggregateCategory && r.ID == d.CategoryID && r.Version > d.CategoryRefVersion:
		d.CategoryName, d.CategoryRefVersion = r.Name, r.Version
	case r.Type == schemas.AggregateBrand && r.ID == d.BrandID && r.Version > d.BrandRefVersion:
		d.BrandName, d.BrandRefVersion = r.Name, r.Version
	}
	return d
}

// RefKeys are the keys of the Refs that can name d's category and brand.
func (d Doc) RefKeys() []string {
	var out []string
	if schemas.ValidReferenceID(d.CategoryID) {
		out = append(out, schemas.ReferenceKey(schemas.AggregateCategory, d.CategoryID))
	}
	if schemas.ValidReferenceID(d.BrandID) {
		out = append(out, schemas.ReferenceKey(schemas.AggregateBrand, d.BrandID))
	}
	return out
}

// JoinAll joins d with the Refs of its category and brand found in refs
// (keyed by Ref.Key).
func (d Doc) JoinAll(refs map[string]Ref) Doc {
	for _, k := range d.RefKeys() {
		if r, ok := refs[k]; ok {
			d = d.Join(r)
		}
	}
	return d
}

// Stale reports whether r is d's category or brand and newer than the name
// d shows: d needs joining again.
func (d Doc) Stale(r Ref) bool {
	j := d.Join(r)
	return j.CategoryRefVersion != d.CategoryRefVersion || j.BrandRefVersion != d.BrandRefVersion
}

// RefAt is the newest Ref of one category or brand in a batch, with the
// batch index of the event that named it.
type RefAt struct {
	Ref
	At int
}

// SplitReferences separates a batch's reference events from its product
// events: products are the product events, at[i] the batch index of
// products[i]; refs the newest name of each category or brand in the batch
// (Newest); bad the reference events no index can keep (no data, or an ID
// API.md does not allow), each named as permanent by its batch index.
func SplitReferences(events []schemas.Event) (products []schemas.Event, at []int, refs []RefAt, bad []batch.Failure) {
	seen := map[string]int{}
	// Nearly every event is a product's: sized for all, as growing the
	// slice of 144-byte events one append at a time copied it again and
	// again.
	products, at = make([]schemas.Event, 0, len(events)), make([]int, 0, len(events))
	for i, e := range events {
		if !IsReference(e) {
			products = append(products, e)
			at = append(at, i)
			continue
		}
		r, ok := RefOf(e)
		if !ok || !schemas.ValidReferenceID(r.ID) {
			bad = append(bad, batch.Permanent(i, fmt.Errorf("%s %q, %s v%d, event %s: not a reference name an index can keep", e.AggregateType, e.AggregateID, e.Type(), e.Version, e.ID)))
			continue
		}
		if j, ok := seen[r.Key()]; !ok {
			seen[r.Key()] = len(refs)
			refs = append(refs, RefAt{Ref: r, At: i})
		} else if r.Version > refs[j].Version {
			refs[j] = RefAt{Ref: r, At: i}
		}
	}
	return products, at, refs, bad
}

// Reindex maps the batch indexes of shares and failures computed on a part
// of a batch (SplitReferences' products) back to the whole batch: at[i] is
// the whole batch's index of the part's event i.
func Reindex(at []int, shares []*Share, failures []batch.Failure) {
	for _, s := range shares {
		for j := range s.At {
			s.At[j] = at[s.At[j]]
		}
	}
	for i := range failures {
		failures[i].Index = at[failures[i].Index]
	}
}

// Aggregates are the aggregate types whose events the search projection
// takes (processors.Config.Aggregates): products, and the categories and
// brands whose names it joins in.
func Aggregates() []string {
	return []string{schemas.AggregateProduct, schemas.AggregateCategory, schemas.AggregateBrand}
}
