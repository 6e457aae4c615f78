package esindex

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/streamview/streamview/processors/productsearch"
)

// textFields are the fields q searches, with their boosts: a word in the
// name counts most, one in the description least.
var textFields = []string{"name^3", "brandName^2", "categoryName^2", "tags^2", "description"}

// hitFields are the _source fields a Hit needs.
var hitFields = []string{"id", "name", "price", "currency", "categoryId", "categoryName", "brandId", "brandName", "averageRating", "ratingSum", "reviewCount", "inStock"}

// searchable is the filter every read applies.
func searchable() []any {
	return []any{map[string]any{"term": map[string]any{"discontinued": false}}}
}

// Search answers q from the read alias. See productsearch.Index.
//
// The text goes through a multi_match query (cross_fields, operator and):
// every word must occur in one of the text fields, and no character of it is
// query syntax, so no input can make the query fail. Category, brand and
// price filters are a post_filter, so that each facet's aggregation can
// apply the other two (disjunctive facets, see productsearch.Facets).
// Pages use from/size up to productsearch.MaxWindow, cursors search_after.
func (ix *Index) Search(ctx context.Context, q productsearch.Query) (productsearch.Result, error) {
	if err := q.Validate(); err != nil {
		return productsearch.Result{}, err
	}
	n := q.Normalized()
	page := n.Page
	var after []json.RawMessage
	if q.Cursor != "" {
		c, err := productsearch.DecodeCursor(q, q.Cursor)
		if err != nil {
			return productsearch.Result{}, err
		}
		if err := checkAfter(n.Sort, c.After); err != nil {
			return productsearch.Result{}, err
		}
		page, after = c.Page, c.After
	}
	body, err := json.Marshal(ix.searchBody(n, page, after))
	if err != nil {
		return productsearch.Result{}, fmt.Errorf("elasticsearch: encoding the search: %w", err)
	}
	var res searchAnswer
	op := "search " + ix.cfg.Alias
	if err := ix.do(ctx, op, esapi.SearchRequest{Index: []string{ix.cfg.Alias}, Body: bytes.NewReader(body)}, &res); err != nil {
		return productsearch.Result{}, err
	}
	return ix.result(n, page, after != nil, &res), nil
}

// sortOf is the Elasticsearch sort of a productsearch sort, the keyword id
// always last (sorting on _id would need fielddata).
func sortOf(s string) []any {
	f := func(field, order string) any { return map[string]any{field: map[string]any{"order": order}} }
	id := f("id", "asc")
	switch s {
	case productsearch.SortPriceAsc:
		return []any{f("price", "asc"), id}
	case productsearch.SortPriceDesc:
		return []any{f("price", "desc"), id}
	case productsearch.SortRating:
		return []any{f("averageRating", "desc"), f("reviewCount", "desc"), id}
	case productsearch.SortNewest:
		return []any{f("createdAt", "desc"), id}
	default:
		return []any{f("_score", "desc"), id}
	}
}

// checkAfter rejects a cursor whose values cannot be this sort's: numbers,
// then the id string. A cursor is only ever built by Search, but it travels
// through clients, and a bad one must be a 400, not an index error.
func checkAfter(sort string, after []json.RawMessage) error {
	bad := &productsearch.ValidationError{Errors: []productsearch.FieldError{{Field: "cursor", Message: "is not a cursor this service issued"}}}
	if len(after) != len(sortOf(sort)) {
		return bad
	}
	for i, v := range after {
		var x any
		if json.Unmarshal(v, &x) != nil {
			return bad
		}
		if _, isString := x.(string); isString != (i == len(after)-1) {
			return bad
		}
		if _, isNumber := x.(float64); !isNumber && i < len(after)-1 {
			return bad
		}
	}
	return nil
}

func (ix *Index) searchBody(q productsearch.Query, page int, after []json.RawMessage) map[string]any {
	filters := searchable()
	if q.InStockOnly {
		filters = append(filters, map[string]any{"term": map[string]any{"inStock": true}})
	}
	main := map[string]any{"filter": filters}
	if q.Text != "" {
		main["must"] = []any{map[string]any{"multi_match": map[string]any{
			"query":            q.Text,
			"type":             "cross_fields",
			"operator":         "and",
			"fields":           textFields,
			"zero_terms_query": "all",
		}}}
		// Ranks the words in the name's order first; matches nothing more.
		main["should"] = []any{map[string]any{"match_phrase": map[string]any{"name": map[string]any{"query": q.Text, "boost": 2}}}}
	}

	var catF, brandF, priceF any
	if len(q.Categories) > 0 {
		catF = map[string]any{"terms": map[string]any{"categoryId": q.Categories}}
	}
	if len(q.Brands) > 0 {
		brandF = map[string]any{"terms": map[string]any{"brandId": q.Brands}}
	}
	if q.MinPrice != nil || q.MaxPrice != nil {
		r := map[string]any{}
		if q.MinPrice != nil {
			r["gte"] = *q.MinPrice
		}
		if q.MaxPrice != nil {
			r["lte"] = *q.MaxPrice
		}
		priceF = map[string]any{"range": map[string]any{"price": r}}
	}
	all := func(fs ...any) map[string]any {
		out := []any{}
		for _, f := range fs {
			if f != nil {
				out = append(out, f)
			}
		}
		return map[string]any{"bool": map[string]any{"filter": out}}
	}
	byCount := []any{map[string]any{"_count": "desc"}, map[string]any{"_key": "asc"}}
	termsFacet := func(idField, labelField string, others ...any) map[string]any {
		return map[string]any{
			"filter": all(others...),
			"aggs": map[string]any{"values": map[string]any{
				"terms": map[string]any{"field": idField, "size": productsearch.MaxFacetValues, "order": byCount},
				"aggs": map[string]any{"label": map[string]any{
					"terms": map[string]any{"field": labelField, "size": 1, "order": byCount},
				}},
			}},
		}
	}
	var ranges []any
	for _, b := range productsearch.PriceBands(ix.cfg.Currency) {
		r := map[string]any{}
		if b.From != nil {
			r["from"] = *b.From
		}
		if b.To != nil {
			r["to"] = *b.To
		}
		ranges = append(ranges, r)
	}

	body := map[string]any{
		"query":            map[string]any{"bool": main},
		"post_filter":      all(catF, brandF, priceF),
		"sort":             sortOf(q.Sort),
		"track_total_hits": true,
		"_source":          hitFields,
		"aggs": map[string]any{
			"category": termsFacet("categoryId", "categoryName.raw", brandF, priceF),
			"brand":    termsFacet("brandId", "brandName.raw", catF, priceF),
			"price": map[string]any{
				"filter": all(catF, brandF),
				"aggs":   map[string]any{"values": map[string]any{"range": map[string]any{"field": "price", "ranges": ranges}}},
			},
		},
	}
	if after != nil {
		// One more than a page tells whether another page follows.
		body["size"] = q.PageSize + 1
		body["search_after"] = after
	} else {
		body["from"] = (page - 1) * q.PageSize
		body["size"] = q.PageSize
	}
	return body
}

type termsAgg struct {
	Values struct {
		Buckets []struct {
			Key      string `json:"key"`
			DocCount int64  `json:"doc_count"`
			Label    struct {
				Buckets []struct {
					Key string `json:"key"`
				} `json:"buckets"`
			} `json:"label"`
		} `json:"buckets"`
	} `json:"values"`
}

type searchAnswer struct {
	Hits struct {
		Total struct {
			Value int64 `json:"value"`
		} `json:"total"`
		Hits []struct {
			Source productsearch.Doc `json:"_source"`
			Sort   []json.RawMessage `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
	Aggregations struct {
		Category termsAgg `json:"category"`
		Brand    termsAgg `json:"brand"`
		Price    struct {
			Values struct {
				Buckets []struct {
					DocCount int64 `json:"doc_count"`
				} `json:"buckets"`
			} `json:"values"`
		} `json:"price"`
	} `json:"aggregations"`
}

func (ix *Index) result(q productsearch.Query, page int, byCursor bool, res *searchAnswer) productsearch.Result {
	out := productsearch.Result{
		Products: []productsearch.Hit{},
		Total:    res.Hits.Total.Value,
		Page:     page,
		PageSize: q.PageSize,
		Facets: productsearch.Facets{
			Category: buckets(&res.Aggregations.Category),
			Brand:    buckets(&res.Aggregations.Brand),
			Price:    productsearch.PriceBands(ix.cfg.Currency),
		},
	}
	hits := res.Hits.Hits
	more := false
	if byCursor {
		more = len(hits) > q.PageSize
		hits = hits[:min(len(hits), q.PageSize)]
	} else {
		more = int64((page-1)*q.PageSize+len(hits)) < out.Total
	}
	for _, h := range hits {
		out.Products = append(out.Products, h.Source.Hit())
	}
	if more && len(hits) > 0 {
		out.NextCursor = productsearch.EncodeCursor(q, productsearch.Cursor{Page: page + 1, After: hits[len(hits)-1].Sort})
	}
	for i, b := range res.Aggregations.Price.Values.Buckets {
		if i < len(out.Facets.Price) {
			out.Facets.Price[i].Count = b.DocCount
		}
	}
	return out
}

func buckets(a *termsAgg) []productsearch.Bucket {
	out := []productsearch.Bucket{}
	for _, b := range a.Values.Buckets {
		label := ""
		if len(b.Label.Buckets) > 0 {
			label = b.Label.Buckets[0].Key
		}
		out = append(out, productsearch.Bucket{Value: b.Key, Label: label, Count: b.DocCount})
	}
	return out
}
