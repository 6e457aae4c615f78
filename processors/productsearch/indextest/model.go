package indextest

import (
	"slices"
	"strings"
	"unicode"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// Model is the brute-force reference index: every document in a map,
// every search a scan. The suite checks implementations against it.
type Model struct {
	Currency string
	Docs     map[string]productsearch.Doc
}

// NewModel folds events into a new Model.
func NewModel(currency string, events []schemas.Event) *Model {
	m := &Model{Currency: currency, Docs: map[string]productsearch.Doc{}}
	m.Apply(events)
	return m
}

// Apply folds events in.
func (m *Model) Apply(events []schemas.Event) {
	for _, e := range events {
		m.Docs[e.AggregateID] = productsearch.Fold(m.Docs[e.AggregateID], e)
	}
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

// EqualDocs reports whether a and b store alike: productsearch.SameStored.
func EqualDocs(a, b productsearch.Doc) bool { return productsearch.SameStored(a, b) }
