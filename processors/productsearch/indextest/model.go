package indextest

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// Model is the brute-force reference index: every document in a map,
// every search a scan. The suite checks implementations against it.
//
// It folds events with its own fold, written from the event semantics
// (ARCHITECTURE.md, the schemas and productsearch.Doc's field comments) and
// not with productsearch.Fold, which the indexes use: an oracle that shared
// the code under test could not catch a bug in it. The two are meant to
// agree; processors/productsearch's tests check that they do, and that a
// broken fold does not.
type Model struct {
	Currency string
	Docs     map[string]productsearch.Doc
	// Refs are the newest names of categories and brands, by
	// schemas.ReferenceKey.
	Refs map[string]productsearch.Ref
}

// NewModel folds events into a new Model.
func NewModel(currency string, events []schemas.Event) *Model {
	m := &Model{Currency: currency, Docs: map[string]productsearch.Doc{}, Refs: map[string]productsearch.Ref{}}
	m.Apply(events)
	return m
}

// Apply folds events in, in order. An event not newer than its product's
// document (or its category's or brand's name) is a redelivery and changes
// nothing. Reference events rename every document of their category or
// brand, and every document shows the newest reference name of its
// category and brand, whichever came first.
func (m *Model) Apply(events []schemas.Event) {
	for _, e := range events {
		if schemas.IsReference(e.AggregateType) {
			m.rename(e)
			continue
		}
		if d := m.Docs[e.AggregateID]; e.Version > d.Version {
			m.Docs[e.AggregateID] = m.join(modelFold(d, e))
		}
	}
}

func (m *Model) rename(e schemas.Event) {
	r := productsearch.Ref{Type: e.AggregateType, ID: e.AggregateID, Version: e.Version}
	switch p := e.Data.(type) {
	case *schemas.CategoryRenamed:
		r.Name = p.Name
	case *schemas.BrandRenamed:
		r.Name = p.Name
	default:
		return
	}
	key := schemas.ReferenceKey(r.Type, r.ID)
	if r.Version <= m.Refs[key].Version {
		return
	}
	m.Refs[key] = r
	for id, d := range m.Docs {
		m.Docs[id] = m.join(d)
	}
}

// join shows the reference names of d's category and brand, when there are.
func (m *Model) join(d productsearch.Doc) productsearch.Doc {
	if r, ok := m.Refs[schemas.ReferenceKey(schemas.AggregateCategory, d.CategoryID)]; ok && d.CategoryID != "" {
		d.CategoryName, d.CategoryRefVersion = r.Name, r.Version
	}
	if r, ok := m.Refs[schemas.ReferenceKey(schemas.AggregateBrand, d.BrandID)]; ok && d.BrandID != "" {
		d.BrandName, d.BrandRefVersion = r.Name, r.Version
	}
	return d
}

// modelFold is what event e, newer than d, makes of product document d.
func modelFold(d productsearch.Doc, e schemas.Event) productsearch.Doc {
	// Stores keep milliseconds, in UTC.
	at := e.Timestamp.UTC().Truncate(time.Millisecond)
	d.ID = e.AggregateID
	d.Version = e.Version
	d.UpdatedAt = at
	if d.CreatedAt.IsZero() {
		d.CreatedAt = at // its ProductCreated was lost: the first event seen stands in
	}
	switch p := e.Data.(type) {
	case *schemas.ProductCreated:
		if p != nil {
			d.Name = p.Name
			d.Description = p.Description
			d.Price = p.Price.Amount
			d.Currency = p.Price.Currency
			d.CategoryID = p.CategoryID
			d.CategoryName = p.CategoryName
			d.BrandID = p.BrandID
			d.BrandName = p.BrandName
			d.Tags = slices.Clone(p.Tags)
			d.Stock = p.Stock
			d.CreatedAt = at
			d.CategoryRefVersion, d.BrandRefVersion = 0, 0 // its own names, until joined
		}
	case *schemas.ProductDetailsUpdated:
		// Only the fields present change; an empty tag list clears.
		if p == nil {
			break
		}
		if p.Name != nil {
			d.Name = *p.Name
		}
		if p.Description != nil {
			d.Description = *p.Description
		}
		if p.CategoryID != nil {
			d.CategoryID = *p.CategoryID
			d.CategoryRefVersion = 0
		}
		if p.CategoryName != nil {
			d.CategoryName = *p.CategoryName
			d.CategoryRefVersion = 0
		}
		if p.BrandID != nil {
			d.BrandID = *p.BrandID
			d.BrandRefVersion = 0
		}
		if p.BrandName != nil {
			d.BrandName = *p.BrandName
			d.BrandRefVersion = 0
		}
		if p.Tags != nil {
			d.Tags = slices.Clone(p.Tags)
		}
	case *schemas.ProductPriceChanged:
		if p != nil {
			d.Price = p.NewPrice.Amount
			d.Currency = p.NewPrice.Currency
		}
	case *schemas.ProductStockChanged:
		if p != nil {
			d.Stock = p.Quantity
		}
	case *schemas.ProductReviewAdded:
		if p != nil {
			d.ReviewCount++
			d.RatingSum += int64(p.Rating)
		}
	case *schemas.ProductDiscontinued:
		if p != nil {
			d.Discontinued = true
		}
	}
	// What follows from the rest.
	if d.Tags == nil {
		d.Tags = []string{}
	}
	d.InStock = d.Stock > 0
	d.AverageRating = 0
	if d.ReviewCount > 0 {
		d.AverageRating = float64(d.RatingSum) / float64(d.ReviewCount)
	}
	return d
}

// Count is the number of searchable products.
func (m *Model) Count() int64 {
	var n int64
	for _, d := range m.Docs {
		if !d.Discontinued {
			n++
		}
	}
	return n
}

// Tokens splits s into lower-case words as the standard analyzer does for
// the generated vocabulary: runs of letters and digits.
func Tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func matchesText(d productsearch.Doc, words []string) bool {
	have := map[string]bool{}
	for _, f := range append([]string{d.Name, d.Description, d.BrandName, d.CategoryName}, d.Tags...) {
		for _, w := range Tokens(f) {
			have[w] = true
		}
	}
	for _, w := range words {
		if !have[w] {
			return false
		}
	}
	return true
}

// filter names, for facets that leave their own filter out.
const (
	facetNone = iota
	facetCategory
	facetBrand
	facetPrice
)

func (m *Model) matches(q productsearch.Query, words []string, d productsearch.Doc, skip int) bool {
	if d.Discontinued || (q.InStockOnly && !d.InStock) || !matchesText(d, words) {
		return false
	}
	if skip != facetCategory && len(q.Categories) > 0 && !slices.Contains(q.Categories, d.CategoryID) {
		return false
	}
	if skip != facetBrand && len(q.Brands) > 0 && !slices.Contains(q.Brands, d.BrandID) {
		return false
	}
	if skip != facetPrice && ((q.MinPrice != nil && d.Price < *q.MinPrice) || (q.MaxPrice != nil && d.Price > *q.MaxPrice)) {
		return false
	}
	return true
}

// Search returns every product matching q, in q's sort (by ID for
// relevance: the model has no scores), and the facets (see
// productsearch.Facets). It ignores paging.
func (m *Model) Search(q productsearch.Query) ([]productsearch.Doc, productsearch.Facets) {
	q = q.Normalized()
	words := Tokens(q.Text)
	var hits []productsearch.Doc
	for _, d := range m.Docs {
		if m.matches(q, words, d, facetNone) {
			hits = append(hits, d)
		}
	}
	slices.SortFunc(hits, func(a, b productsearch.Doc) int { return productsearch.Compare(q.Sort, a, b) })

	f := productsearch.Facets{Price: productsearch.PriceBands(m.Currency)}
	var cats, brands productsearch.TermFacet
	for _, d := range m.Docs {
		if m.matches(q, words, d, facetCategory) {
			cats.Add(d.CategoryID, d.CategoryName, 1)
		}
		if m.matches(q, words, d, facetBrand) {
			brands.Add(d.BrandID, d.BrandName, 1)
		}
		if m.matches(q, words, d, facetPrice) {
			for i := range f.Price {
				if f.Price[i].Contains(d.Price) {
					f.Price[i].Count++
				}
			}
		}
	}
	f.Category, f.Brand = cats.Buckets(), brands.Buckets()
	return hits, f
}

// Mismatches lists, sorted, the products whose document in docs does not
// store alike (EqualDocs) the model's, and those only one side has. An
// index's stored documents, or a fold's, should give none.
func (m *Model) Mismatches(docs map[string]productsearch.Doc) []string {
	var out []string
	for id, want := range m.Docs {
		if got, ok := docs[id]; !ok {
			out = append(out, id+": missing")
		} else if !EqualDocs(got, want) {
			out = append(out, fmt.Sprintf("%s: got %+v, want %+v", id, got, want))
		}
	}
	for id := range docs {
		if _, ok := m.Docs[id]; !ok {
			out = append(out, id+": not in the model")
		}
	}
	slices.Sort(out)
	return out
}

// EqualDocs reports whether a and b store alike: productsearch.SameStored.
func EqualDocs(a, b productsearch.Doc) bool { return productsearch.SameStored(a, b) }
