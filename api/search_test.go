package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

func TestSearchParameters(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  productsearch.Query
	}{
		{"defaults", "", productsearch.Query{Page: 1, PageSize: 20}},
		{"everything", "q=trail+shoe&category=shoes&category=boots&brand=acme&minPrice=10&maxPrice=99.5&inStock=true&sort=price_asc&page=3&pageSize=50",
			productsearch.Query{Text: "trail shoe", Categories: []string{"shoes", "boots"}, Brands: []string{"acme"},
				MinPrice: ptr(int64(1000)), MaxPrice: ptr(int64(9950)), InStockOnly: true, Sort: "price_asc", Page: 3, PageSize: 50}},
		{"prices compare by value", "minPrice=24.50&maxPrice=24.5", productsearch.Query{MinPrice: ptr(int64(2450)), MaxPrice: ptr(int64(2450)), Page: 1, PageSize: 20}},
		{"empty q", "q=", productsearch.Query{Page: 1, PageSize: 20}},
		{"sort rating", "sort=rating", productsearch.Query{Sort: "rating", Page: 1, PageSize: 20}},
		{"largest page", "page=100&pageSize=100", productsearch.Query{Page: 100, PageSize: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx := &fakeSearch{}
			s := testServer(t, Deps{Search: idx})
			w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search?" + tt.query})
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			if got := idx.calls(); len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("queries = %+v,\nwant [%+v]", got, tt.want)
			}
		})
	}
}

// TestSearchWithCursor follows a cursor the index issued.
func TestSearchWithCursor(t *testing.T) {
	q := productsearch.Query{Text: "shoe", Page: 1, PageSize: 10}
	cursor := productsearch.EncodeCursor(q, productsearch.Cursor{Page: 2, After: []json.RawMessage{json.RawMessage(`1.5`), json.RawMessage(`"id"`)}})
	idx := &fakeSearch{}
	s := testServer(t, Deps{Search: idx})
	// page is ignored with a cursor, even one past the deep-paging limit,
	// or one that is not a number.
	for i, page := range []string{"5000", "abc", ""} {
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search?q=shoe&pageSize=10&page=" + page + "&cursor=" + s.cursors.sign(q, cursor)})
		if w.Code != http.StatusOK {
			t.Fatalf("page=%s: status = %d; body %s", page, w.Code, w.Body)
		}
		if got := idx.calls(); len(got) != i+1 || got[i].Cursor != cursor {
			t.Errorf("page=%s: queries = %+v, want the cursor passed on", page, got)
		}
	}
}

func TestSearchRefused(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		fields []string
	}{
		{"unknown parameter", "color=red", []string{"color"}},
		{"q twice", "q=a&q=b", []string{"q"}},
		{"q not UTF-8", "q=%ff", []string{"q"}},
		{"brand not UTF-8", "brand=acme&brand=a%ffb", []string{"brand"}},
		{"empty category", "category=", []string{"category"}},
		{"category too long", "category=" + strings.Repeat("c", 257), []string{"category"}},
		{"empty brand", "brand=acme&brand=", []string{"brand"}},
		{"minPrice not a number", "minPrice=cheap", []string{"minPrice"}},
		{"minPrice with a currency", "minPrice=10EUR", []string{"minPrice"}},
		{"minPrice with an exponent", "minPrice=1e3", []string{"minPrice"}},
		{"minPrice with three decimals", "minPrice=1.001", []string{"minPrice"}},
		{"maxPrice with a third decimal of zero", "maxPrice=1.000", []string{"maxPrice"}},
		{"minPrice negative", "minPrice=-1", []string{"minPrice"}},
		{"maxPrice empty", "maxPrice=", []string{"maxPrice"}},
		{"maxPrice too large", "maxPrice=999999999999999999999", []string{"maxPrice"}},
		{"minPrice above maxPrice", "minPrice=20&maxPrice=10", []string{"minPrice"}},
		{"inStock false", "inStock=false", []string{"inStock"}},
		{"inStock 1", "inStock=1", []string{"inStock"}},
		{"inStock empty", "inStock=", []string{"inStock"}},
		{"unknown sort", "sort=cheapest", []string{"sort"}},
		{"empty sort", "sort=", []string{"sort"}},
		{"page zero", "page=0", []string{"page"}},
		{"page negative", "page=-1", []string{"page"}},
		{"page not a number", "page=two", []string{"page"}},
		{"page past the window", "page=101&pageSize=100", []string{"page"}},
		{"page overflows", "page=99999999999999", []string{"page"}},
		{"pageSize zero", "pageSize=0", []string{"pageSize"}},
		{"pageSize over 100", "pageSize=101", []string{"pageSize"}},
		{"pageSize a fraction", "pageSize=2.5", []string{"pageSize"}},
		{"empty cursor", "cursor=", []string{"cursor"}},
		{"forged cursor", "cursor=abc", []string{"cursor"}},
		{"cursor of another query", "q=hat&pageSize=10&cursor=" + productsearch.EncodeCursor(productsearch.Query{Text: "shoe", PageSize: 10},
			productsearch.Cursor{Page: 2, After: []json.RawMessage{json.RawMessage(`"x"`)}}), []string{"cursor"}},
		{"several bad", "page=0&pageSize=1000&sort=x&inStock=no", []string{"inStock", "pageSize", "page", "sort"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx := &fakeSearch{}
			s := testServer(t, Deps{Search: idx})
			wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search?" + tt.query}), http.StatusBadRequest, tt.fields...)
			if n := len(idx.calls()); n != 0 {
				t.Errorf("index searched %d times, want none", n)
			}
		})
	}
}

func TestSearchAnswer(t *testing.T) {
	edges := productsearch.PriceBands("EUR")
	for i := range edges {
		edges[i].Count = int64(i)
	}
	idx := &fakeSearch{result: productsearch.Result{
		Products: []productsearch.Hit{{
			ID: productID, Name: "Trail Shoe", Price: schemas.Money{Amount: 8990, Currency: "EUR"},
			CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME",
			AverageRating: 4.33, ReviewCount: 3, InStock: true,
		}},
		Total: 41, Page: 2, PageSize: 1, NextCursor: "next",
		Facets: productsearch.Facets{
			Category: []productsearch.Bucket{{Value: "shoes", Label: "Shoes", Count: 41}},
			Price:    edges,
		},
	}}
	s := testServer(t, Deps{Search: idx})
	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search?q=shoe&pageSize=1"})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"products": []any{map[string]any{
			"id": productID, "name": "Trail Shoe", "price": map[string]any{"amount": "89.90", "currency": "EUR"},
			"categoryId": "shoes", "categoryName": "Shoes", "brandId": "acme", "brandName": "ACME",
			"averageRating": 4.33, "reviewCount": 3.0, "inStock": true,
		}},
		"total": 41.0, "page": 2.0, "pageSize": 1.0, "nextCursor": "next",
		"facets": map[string]any{
			"category": []any{map[string]any{"value": "shoes", "label": "Shoes", "count": 41.0}},
			"brand":    []any{},
			"price": []any{
				map[string]any{"to": "10.00", "count": 0.0},
				map[string]any{"from": "10.00", "to": "25.00", "count": 1.0},
				map[string]any{"from": "25.00", "to": "50.00", "count": 2.0},
				map[string]any{"from": "50.00", "to": "100.00", "count": 3.0},
				map[string]any{"from": "100.00", "to": "250.00", "count": 4.0},
				map[string]any{"from": "250.00", "count": 5.0},
			},
		},
	}
	// The index's cursor reaches the client signed for this query.
	next, _ := got["nextCursor"].(string)
	if inner, ok := s.cursors.open(productsearch.Query{Text: "shoe", PageSize: 1}, next); !ok || inner != "next" {
		t.Errorf("nextCursor %q opens to %q, %v; want the index's \"next\"", next, inner, ok)
	}
	want["nextCursor"] = next
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answer = %v\nwant     %v", got, want)
	}
}

func TestSearchAnswerLastPage(t *testing.T) {
	s := testServer(t, Deps{Search: &fakeSearch{}})
	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search?page=3"})
	if strings.Contains(w.Body.String(), "nextCursor") || !strings.Contains(w.Body.String(), `"products":[]`) {
		t.Errorf("answer %s: want no nextCursor and an empty product list", w.Body)
	}
	if got := decodeAs[searchAnswer](t, w); got.Page != 3 || got.PageSize != 20 {
		t.Errorf("page %d, pageSize %d: want the query's 3 and 20 when the index leaves them out", got.Page, got.PageSize)
	}
}

func TestSearchFails(t *testing.T) {
	t.Run("index refuses the query", func(t *testing.T) {
		idx := &fakeSearch{err: &productsearch.ValidationError{Errors: []productsearch.FieldError{{Field: "cursor", Message: "expired"}}}}
		s := testServer(t, Deps{Search: idx})
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search"}), http.StatusBadRequest, "cursor")
	})
	t.Run("index down", func(t *testing.T) {
		s := testServer(t, Deps{Search: &fakeSearch{err: errors.New("elasticsearch: 503")}})
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search"}), http.StatusServiceUnavailable)
	})
	t.Run("no index", func(t *testing.T) {
		wantProblem(t, serve(t, testServer(t, Deps{}).Handler(), request{method: "GET", path: "/v1/products/search"}), http.StatusServiceUnavailable)
	})
}
