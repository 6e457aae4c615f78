package bleveindex

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/streamview/streamview/processors/productsearch"
)

// textFields are the fields Query.Text searches, with the boosts of the
// Elasticsearch index: a word in the name counts most, one in the
// description least.
var textFields = []struct {
	name  string
	boost float64
}{
	{fieldName, 3}, {fieldBrandName, 2}, {fieldCategoryName, 2}, {fieldTags, 2}, {fieldDescription, 1},
}

// Search answers q. See productsearch.Index.
//
// The text is split into words by the index's analyzer and never parsed as
// query syntax: every word must be a term of one of textFields (a
// disjunction of term queries per word, a conjunction over the words), and
// the whole text as a phrase in the name ranks higher without matching
// more, as in Elasticsearch. Filters do not score. Facets are disjunctive
// (see productsearch.Facets): each is counted by a request that leaves its
// own filter out, shared with the page's request when that filter is unset.
// Pages use from/size, cursors bleve's SearchAfter on the sort values, the
// product ID last.
func (ix *Index) Search(ctx context.Context, q productsearch.Query) (productsearch.Result, error) {
	if err := q.Validate(); err != nil {
		return productsearch.Result{}, err
	}
	n := q.Normalized()
	page := n.Page
	var after []string
	if q.Cursor != "" {
		c, err := productsearch.DecodeCursor(q, q.Cursor)
		if err != nil {
			return productsearch.Result{}, err
		}
		if after, err = searchAfter(n.Sort, c.After); err != nil {
			return productsearch.Result{}, err
		}
		page = c.Page
	}
	p := ix.plan(n)

	main := bleve.NewSearchRequest(p.query(p.all))
	main.SortByCustom(sortOrder(n.Sort))
	main.Fields = []string{fieldSource}
	if len(p.words) == 0 || n.Sort != productsearch.SortRelevance {
		main.Score = bleve.ScoreNone // every hit scores 0: the ID decides
	}
	if after != nil {
		// One more than a page tells whether another page follows.
		main.Size = n.PageSize + 1
		main.SearchAfter = after
	} else {
		main.From = (page - 1) * n.PageSize
		main.Size = n.PageSize
	}

	// The facets' requests, by the filters they apply.
	requests := map[filterSet]*bleve.SearchRequest{p.all: main}
	facet := func(name string, fr *bleve.FacetRequest, without filterSet) {
		set := p.all &^ without
		req := requests[set]
		if req == nil {
			req = bleve.NewSearchRequestOptions(p.query(set), 0, 0, false)
			req.Score = bleve.ScoreNone
			requests[set] = req
		}
		req.AddFacet(name, fr)
	}
	facet(facetCategory, bleve.NewFacetRequest(fieldCategoryFacet, math.MaxInt32), withCategory)
	facet(facetBrand, bleve.NewFacetRequest(fieldBrandFacet, math.MaxInt32), withBrand)
	bands := productsearch.PriceBands(ix.opts.currency)
	prices := bleve.NewFacetRequest(fieldPrice, len(bands))
	for i, b := range bands {
		prices.AddNumericRange(strconv.Itoa(i), toFloat(b.From), toFloat(b.To))
	}
	facet(facetPrice, prices, withPrice)

	out := productsearch.Result{
		Products: []productsearch.Hit{},
		Page:     page,
		PageSize: n.PageSize,
		Facets:   productsearch.Facets{Category: []productsearch.Bucket{}, Brand: []productsearch.Bucket{}, Price: bands},
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	// The page's request first, the others in a fixed order.
	sets := slices.Sorted(func(yield func(filterSet) bool) {
		for s := range requests {
			if s != p.all && !yield(s) {
				return
			}
		}
	})
	for _, set := range append([]filterSet{p.all}, sets...) {
		res, err := ix.idx.SearchInContext(ctx, requests[set])
		if err != nil {
			return productsearch.Result{}, fmt.Errorf("bleve: search: %w", err)
		}
		if set == p.all {
			if err := ix.page(&out, n, after != nil, res); err != nil {
				return productsearch.Result{}, err
			}
		}
		facets(&out.Facets, res.Facets)
	}
	return out, nil
}

// page fills the hits, total and next cursor of out from the page's answer.
func (ix *Index) page(out *productsearch.Result, q productsearch.Query, byCursor bool, res *bleve.SearchResult) error {
	out.Total = int64(res.Total)
	hits := res.Hits
	more := false
	if byCursor {
		more = len(hits) > q.PageSize
		hits = hits[:min(len(hits), q.PageSize)]
	} else {
		more = int64((out.Page-1)*q.PageSize+len(hits)) < out.Total
	}
	var last productsearch.Doc
	for _, h := range hits {
		d, err := source(h.ID, h.Fields)
		if err != nil {
			return err
		}
		out.Products = append(out.Products, d.Hit())
		last = d
	}
	if more && len(hits) > 0 {
		h := hits[len(hits)-1]
		after, err := cursorValues(q.Sort, h.ID, h.Score, last)
		if err != nil {
			return err
		}
		out.NextCursor = productsearch.EncodeCursor(q, productsearch.Cursor{Page: out.Page + 1, After: after})
	}
	return nil
}

// filterSet says which of a query's category, brand and price filters a
// request applies.
type filterSet uint8

const (
	withCategory filterSet = 1 << iota
	withBrand
	withPrice
)

// Names of the facet requests.
const (
	facetCategory = "category"
	facetBrand    = "brand"
	facetPrice    = "price"
)

// plan is a query's clauses.
type plan struct {
	words  []string
	text   []query.Query // one per word, all required
	phrase query.Query   // optional, for the score
	base   []query.Query // always applied
	// category, brand and price are nil when the query does not filter by
	// them; all is the set of those it does.
	category, brand, price query.Query
	all                    filterSet
}

func (ix *Index) plan(q productsearch.Query) plan {
	p := plan{words: ix.words(q.Text), base: searchable()}
	for _, w := range p.words {
		alts := make([]query.Query, len(textFields))
		for i, f := range textFields {
			t := bleve.NewTermQuery(w)
			t.SetField(f.name)
			t.SetBoost(f.boost)
			alts[i] = t
		}
		p.text = append(p.text, bleve.NewDisjunctionQuery(alts...))
	}
	if len(p.words) > 0 {
		phrase := bleve.NewMatchPhraseQuery(q.Text)
		phrase.SetField(fieldName)
		phrase.Analyzer = analyzerName
		phrase.SetBoost(2)
		p.phrase = phrase
	}
	if q.InStockOnly {
		t := bleve.NewBoolFieldQuery(true)
		t.SetField(fieldInStock)
		p.base = append(p.base, t)
	}
	if len(q.Categories) > 0 {
		p.category, p.all = anyTerm(fieldCategoryID, q.Categories), p.all|withCategory
	}
	if len(q.Brands) > 0 {
		p.brand, p.all = anyTerm(fieldBrandID, q.Brands), p.all|withBrand
	}
	if q.MinPrice != nil || q.MaxPrice != nil {
		var lo, hi *float64
		if q.MinPrice != nil {
			lo = new(float64(*q.MinPrice))
		}
		if q.MaxPrice != nil {
			hi = new(float64(*q.MaxPrice))
		}
		r := bleve.NewNumericRangeInclusiveQuery(lo, hi, new(true), new(true))
		r.SetField(fieldPrice)
		p.price, p.all = r, p.all|withPrice
	}
	return p
}

// query is the bleve query of p with the filters of set.
func (p plan) query(set filterSet) query.Query {
	filters := slices.Clone(p.base)
	for _, f := range []struct {
		bit filterSet
		q   query.Query
	}{{withCategory, p.category}, {withBrand, p.brand}, {withPrice, p.price}} {
		if set&f.bit != 0 && f.q != nil {
			filters = append(filters, f.q)
		}
	}
	if len(p.text) == 0 {
		return filterQuery(filters)
	}
	b := bleve.NewBooleanQuery()
	b.AddMust(p.text...)
	if p.phrase != nil {
		b.AddShould(p.phrase)
	}
	b.AddFilter(bleve.NewConjunctionQuery(filters...))
	return b
}

// searchable keeps the products a search may return: not discontinued.
func searchable() []query.Query {
	q := bleve.NewBoolFieldQuery(false)
	q.SetField(fieldDiscontinued)
	return []query.Query{q}
}

// filterQuery matches what filters all match. Its scores mean nothing: it
// is only run with bleve.ScoreNone. (A boolean query's filter clause, which
// never scores, would walk every document of the index instead of the
// filters' postings.)
func filterQuery(filters []query.Query) query.Query {
	return bleve.NewConjunctionQuery(filters...)
}

func anyTerm(field string, values []string) query.Query {
	alts := make([]query.Query, len(values))
	for i, v := range values {
		t := bleve.NewTermQuery(v)
		t.SetField(field)
		alts[i] = t
	}
	return bleve.NewDisjunctionQuery(alts...)
}

// words are the distinct terms of text as the index analyzes it.
func (ix *Index) words(text string) []string {
	if text == "" {
		return nil
	}
	var out []string
	for _, t := range ix.analyzer.Analyze([]byte(text)) {
		if w := string(t.Term); w != "" && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// sortOrder is the bleve sort of a productsearch sort, the document ID (the
// product ID) always last, as productsearch.Compare orders.
func sortOrder(s string) search.SortOrder {
	number := func(field string, desc bool) search.SearchSort {
		return &search.SortField{Field: field, Desc: desc, Type: search.SortFieldAsNumber, Missing: search.SortFieldMissingLast}
	}
	id := &search.SortDocID{}
	switch s {
	case productsearch.SortPriceAsc:
		return search.SortOrder{number(fieldPrice, false), id}
	case productsearch.SortPriceDesc:
		return search.SortOrder{number(fieldPrice, true), id}
	case productsearch.SortRating:
		return search.SortOrder{number(fieldAverageRating, true), number(fieldReviewCount, true), id}
	case productsearch.SortNewest:
		return search.SortOrder{number(fieldCreatedAt, true), id}
	default:
		return search.SortOrder{&search.SortScore{Desc: true}, id}
	}
}

// cursorValues are the sort values of a hit, as JSON: the numbers the index
// sorted by (the same ones fieldsOf indexed), then the product ID.
func cursorValues(sort, id string, score float64, d productsearch.Doc) ([]json.RawMessage, error) {
	var values []any
	switch sort {
	case productsearch.SortPriceAsc, productsearch.SortPriceDesc:
		values = []any{float64(d.Price)}
	case productsearch.SortRating:
		values = []any{d.AverageRating, float64(d.ReviewCount)}
	case productsearch.SortNewest:
		values = []any{float64(d.CreatedAt.UnixMilli())}
	default:
		values = []any{score}
	}
	out := make([]json.RawMessage, 0, len(values)+1)
	for _, v := range append(values, id) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("bleve: cursor of product %q: %w", id, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// searchAfter turns a cursor's values into bleve's SearchAfter: numbers in a
// form that parses back to the same float64, then the ID. A cursor is only
// built by Search, but it travels through clients, and a bad one must be a
// ValidationError, not an index error.
func searchAfter(sort string, after []json.RawMessage) ([]string, error) {
	bad := &productsearch.ValidationError{Errors: []productsearch.FieldError{{Field: "cursor", Message: "is not a cursor this service issued"}}}
	n := len(sortOrder(sort))
	if len(after) != n {
		return nil, bad
	}
	out := make([]string, n)
	for i, raw := range after {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return nil, bad
		}
		if i == n-1 {
			id, ok := v.(string)
			if !ok {
				return nil, bad
			}
			out[i] = id
			continue
		}
		f, ok := v.(float64)
		if !ok {
			return nil, bad
		}
		out[i] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	return out, nil
}

// facets copies the facet results of one request into f.
func facets(f *productsearch.Facets, res search.FacetResults) {
	if r := res[facetCategory]; r != nil {
		f.Category = termBuckets(r)
	}
	if r := res[facetBrand]; r != nil {
		f.Brand = termBuckets(r)
	}
	if r := res[facetPrice]; r != nil {
		for _, nr := range r.NumericRanges {
			if i, err := strconv.Atoi(nr.Name); err == nil && i >= 0 && i < len(f.Price) {
				f.Price[i].Count = int64(nr.Count)
			}
		}
	}
}

// termBuckets turns the counts of [id, name] pairs into buckets
// (productsearch.TermFacet).
func termBuckets(r *search.FacetResult) []productsearch.Bucket {
	var f productsearch.TermFacet
	for _, t := range r.Terms.Terms() {
		if id, name, ok := parsePair(t.Term); ok {
			f.Add(id, name, int64(t.Count))
		}
	}
	return f.Buckets()
}

func toFloat(p *int64) *float64 {
	if p == nil {
		return nil
	}
	return new(float64(*p))
}
