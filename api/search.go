package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// The answer of GET /v1/products/search, as API.md writes it.
type (
	searchAnswer struct {
		Products   []searchHit  `json:"products"`
		Total      int64        `json:"total"`
		Page       int          `json:"page"`
		PageSize   int          `json:"pageSize"`
		NextCursor string       `json:"nextCursor,omitempty"`
		Facets     searchFacets `json:"facets"`
	}
	searchHit struct {
		ID            string            `json:"id"`
		Name          string            `json:"name"`
		Price         productview.Price `json:"price"`
		CategoryID    string            `json:"categoryId"`
		CategoryName  string            `json:"categoryName"`
		BrandID       string            `json:"brandId"`
		BrandName     string            `json:"brandName"`
		AverageRating float64           `json:"averageRating"`
		ReviewCount   int64             `json:"reviewCount"`
		InStock       bool              `json:"inStock"`
	}
	searchFacets struct {
		Category []productsearch.Bucket `json:"category"`
		Brand    []productsearch.Bucket `json:"brand"`
		Price    []priceBand            `json:"price"`
	}
	// priceBand is a price facet bucket with decimal-string bounds: from
	// inclusive, to exclusive, an open end left out.
	priceBand struct {
		From  string `json:"from,omitempty"`
		To    string `json:"to,omitempty"`
		Count int64  `json:"count"`
	}
)

// search answers GET /v1/products/search.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	index := s.deps.Search
	if index == nil {
		unavailable(w, "This server does not serve searches.")
		return
	}
	params, ok := queryParams(w, r,
		[]string{"q", "minPrice", "maxPrice", "inStock", "sort", "page", "pageSize", "cursor"},
		[]string{"category", "brand"})
	if !ok {
		return
	}
	q, errs := s.searchQuery(params)
	if q.Cursor != "" {
		if inner, ok := s.cursors.open(q, q.Cursor); ok {
			q.Cursor = inner
		} else {
			errs = append(errs, FieldError{Field: "cursor", Message: errCursorInvalid})
		}
	}
	if err := q.Validate(); err != nil {
		errs = mergeSearchErrors(errs, err)
	}
	if len(errs) > 0 {
		badParams(w, errs)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	res, err := index.Search(ctx, q)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = &queryTimeout{timeout: s.cfg.QueryTimeout, err: err}
	}
	if err != nil {
		if ve, ok := errors.AsType[*productsearch.ValidationError](err); ok {
			badParams(w, fromSearch(ve.Errors))
			return
		}
		s.internalError(w, r, "search the products", err)
		return
	}
	writeJSON(w, http.StatusOK, s.searchAnswer(q, res))
}

// searchQuery maps the parameters to a Query, reporting those it cannot
// read; the rules on the values read are Query.Validate's.
func (s *Server) searchQuery(p url.Values) (productsearch.Query, []FieldError) {
	var errs []FieldError
	q := productsearch.Query{
		Text:       p.Get("q"),
		Categories: p["category"],
		Brands:     p["brand"],
		Sort:       p.Get("sort"),
		Page:       1,
		PageSize:   intParam(p, "pageSize", productsearch.DefaultPageSize, &errs),
		Cursor:     p.Get("cursor"),
	}
	if !p.Has("cursor") { // API.md: page is ignored with a cursor, whatever it holds
		q.Page = intParam(p, "page", 1, &errs)
	}
	q.MinPrice = s.priceParam(p, "minPrice", &errs)
	q.MaxPrice = s.priceParam(p, "maxPrice", &errs)
	if p.Has("inStock") {
		if v := p.Get("inStock"); v == "true" {
			q.InStockOnly = true
		} else {
			errs = append(errs, FieldError{Field: "inStock", Message: "must be true; leave it out to include products out of stock"})
		}
	}
	if p.Has("sort") && q.Sort == "" {
		errs = append(errs, FieldError{Field: "sort", Message: "must not be empty"})
	}
	if p.Has("cursor") && q.Cursor == "" {
		errs = append(errs, FieldError{Field: "cursor", Message: "must not be empty"})
	}
	return q, errs
}

// priceParam reads a price bound: a decimal string in the catalogue's
// currency.
func (s *Server) priceParam(p url.Values, name string, errs *[]FieldError) *int64 {
	if !p.Has(name) {
		return nil
	}
	cur := s.cfg.Currency
	v, err := schemas.ParseAmount(p.Get(name), cur)
	switch {
	case errors.Is(err, schemas.ErrAmountPrecision):
		*errs = append(*errs, FieldError{Field: name, Message: fmt.Sprintf("must have at most %d decimals in %s", schemas.MinorDigits(cur), cur)})
	case errors.Is(err, schemas.ErrAmountRange):
		*errs = append(*errs, FieldError{Field: name, Message: "is too large"})
	case err != nil:
		*errs = append(*errs, FieldError{Field: name, Message: fmt.Sprintf("must be a decimal amount in %s, such as 19.99", cur)})
	default:
		return &v
	}
	return nil
}

// mergeSearchErrors adds the errors of Query.Validate for parameters not
// already named: a parameter that could not be read has a zero value that
// Validate would blame again.
func mergeSearchErrors(errs []FieldError, err error) []FieldError {
	ve, ok := errors.AsType[*productsearch.ValidationError](err)
	if !ok {
		return append(errs, FieldError{Message: err.Error()})
	}
	for _, e := range fromSearch(ve.Errors) {
		if !slices.ContainsFunc(errs, func(f FieldError) bool { return f.Field == e.Field }) {
			errs = append(errs, e)
		}
	}
	return errs
}

func fromSearch(errs []productsearch.FieldError) []FieldError {
	out := make([]FieldError, len(errs))
	for i, e := range errs {
		out[i] = FieldError{Field: e.Field, Message: e.Message}
	}
	return out
}

func (s *Server) searchAnswer(q productsearch.Query, res productsearch.Result) searchAnswer {
	a := searchAnswer{
		Products:   make([]searchHit, len(res.Products)),
		Total:      res.Total,
		Page:       res.Page,
		PageSize:   res.PageSize,
		NextCursor: s.cursors.sign(q, res.NextCursor),
		Facets: searchFacets{
			Category: nonNil(res.Facets.Category),
			Brand:    nonNil(res.Facets.Brand),
			Price:    make([]priceBand, len(res.Facets.Price)),
		},
	}
	if a.Page == 0 {
		a.Page = q.Page
	}
	if a.PageSize == 0 {
		a.PageSize = q.PageSize
	}
	for i, h := range res.Products {
		a.Products[i] = searchHit{
			ID: h.ID, Name: h.Name, Price: productview.PriceOf(h.Price),
			CategoryID: h.CategoryID, CategoryName: h.CategoryName,
			BrandID: h.BrandID, BrandName: h.BrandName,
			AverageRating: h.AverageRating, ReviewCount: h.ReviewCount, InStock: h.InStock,
		}
	}
	for i, b := range res.Facets.Price {
		band := priceBand{Count: b.Count}
		if b.From != nil {
			band.From = schemas.FormatAmount(*b.From, s.cfg.Currency)
		}
		if b.To != nil {
			band.To = schemas.FormatAmount(*b.To, s.cfg.Currency)
		}
		a.Facets.Price[i] = band
	}
	return a
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
