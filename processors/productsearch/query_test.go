package productsearch_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
)

func p64(v int64) *int64 { return &v }

func TestNormalized(t *testing.T) {
	long := strings.Repeat("é", productsearch.MaxTextLength+50)
	cases := []struct {
		name string
		in   productsearch.Query
		want productsearch.Query
	}{
		{"defaults to newest", productsearch.Query{}, productsearch.Query{Sort: productsearch.SortNewest}},
		{"text defaults to relevance", productsearch.Query{Text: " lamp "}, productsearch.Query{Text: "lamp", Sort: productsearch.SortRelevance}},
		{"blank text is no text", productsearch.Query{Text: " \t\n"}, productsearch.Query{Sort: productsearch.SortNewest}},
		{"explicit sort kept", productsearch.Query{Text: "x", Sort: productsearch.SortPriceAsc}, productsearch.Query{Text: "x", Sort: productsearch.SortPriceAsc}},
		{"long text cut by characters", productsearch.Query{Text: long}, productsearch.Query{Text: long[:2*productsearch.MaxTextLength], Sort: productsearch.SortRelevance}},
		{"invalid UTF-8 dropped", productsearch.Query{Text: "la\xffmp"}, productsearch.Query{Text: "lamp", Sort: productsearch.SortRelevance}},
		{"filters sorted and deduplicated", productsearch.Query{Categories: []string{"b", "a", "b"}, Brands: []string{"z", "z"}},
			productsearch.Query{Categories: []string{"a", "b"}, Brands: []string{"z"}, Sort: productsearch.SortNewest}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.in.Normalized()
			if got.Text != c.want.Text || got.Sort != c.want.Sort || !slices.Equal(got.Categories, c.want.Categories) || !slices.Equal(got.Brands, c.want.Brands) {
				t.Fatalf("Normalized = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := productsearch.Query{Page: 1, PageSize: 20}
	cursor := productsearch.EncodeCursor(ok, productsearch.Cursor{Page: 2, After: []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"id"`)}})
	cases := []struct {
		name   string
		q      productsearch.Query
		fields []string // nil: valid
	}{
		{"minimal", ok, nil},
		{"last page of the window", productsearch.Query{Page: 100, PageSize: 100}, nil},
		{"cursor ignores page", productsearch.Query{Page: 1 << 40, PageSize: 20, Cursor: cursor}, nil},
		{"equal price bounds", productsearch.Query{Page: 1, PageSize: 20, MinPrice: p64(100), MaxPrice: p64(100)}, nil},
		{"pageSize 0", productsearch.Query{Page: 1}, []string{"pageSize"}},
		{"pageSize 101", productsearch.Query{Page: 1, PageSize: 101}, []string{"pageSize"}},
		{"page 0", productsearch.Query{PageSize: 20}, []string{"page"}},
		{"past the window", productsearch.Query{Page: 501, PageSize: 20}, []string{"page"}},
		{"overflowing page", productsearch.Query{Page: 1 << 62, PageSize: 100}, []string{"page"}},
		{"min above max", productsearch.Query{Page: 1, PageSize: 20, MinPrice: p64(2), MaxPrice: p64(1)}, []string{"minPrice"}},
		{"negative prices", productsearch.Query{Page: 1, PageSize: 20, MinPrice: p64(-2), MaxPrice: p64(-1)}, []string{"minPrice", "maxPrice"}},
		{"sort", productsearch.Query{Page: 1, PageSize: 20, Sort: "best"}, []string{"sort"}},
		{"too many categories", productsearch.Query{Page: 1, PageSize: 20, Categories: slices.Repeat([]string{"c"}, 101)}, []string{"category"}},
		{"long brand", productsearch.Query{Page: 1, PageSize: 20, Brands: []string{strings.Repeat("b", 257)}}, []string{"brand"}},
		{"cursor of another query", productsearch.Query{PageSize: 21, Cursor: cursor}, []string{"cursor"}},
		{"tampered cursor", productsearch.Query{PageSize: 20, Cursor: cursor[:len(cursor)-2]}, []string{"cursor"}},
		{"all at once", productsearch.Query{Sort: "x", MinPrice: p64(3), MaxPrice: p64(1)}, []string{"pageSize", "page", "minPrice", "sort"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.q.Validate()
			if c.fields == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ve *productsearch.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, productsearch.ErrInvalidQuery) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if got := ve.Fields(); !slices.Equal(got, c.fields) {
				t.Fatalf("Validate names %v, want %v (%v)", got, c.fields, err)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	q := productsearch.Query{Text: "lamp", Categories: []string{"a", "b"}, PageSize: 10, Page: 3}
	after := []json.RawMessage{json.RawMessage(`1.5`), json.RawMessage(`"p9"`)}
	s := productsearch.EncodeCursor(q, productsearch.Cursor{Page: 4, After: after})

	same := q
	same.Page, same.Categories, same.Text = 1, []string{"b", "a", "a"}, " lamp " // same after normalization
	c, err := productsearch.DecodeCursor(same, s)
	if err != nil {
		t.Fatal(err)
	}
	if c.Page != 4 || len(c.After) != 2 || string(c.After[1]) != `"p9"` {
		t.Fatalf("decoded %+v", c)
	}
	for name, other := range map[string]productsearch.Query{
		"text":      {Text: "lamps", Categories: q.Categories, PageSize: 10},
		"filters":   {Text: "lamp", Categories: []string{"a"}, PageSize: 10},
		"page size": {Text: "lamp", Categories: q.Categories, PageSize: 11},
		"sort":      {Text: "lamp", Categories: q.Categories, PageSize: 10, Sort: productsearch.SortNewest},
		"in stock":  {Text: "lamp", Categories: q.Categories, PageSize: 10, InStockOnly: true},
		"price":     {Text: "lamp", Categories: q.Categories, PageSize: 10, MinPrice: p64(0)},
	} {
		if _, err := productsearch.DecodeCursor(other, s); !errors.Is(err, productsearch.ErrInvalidQuery) {
			t.Errorf("%s: DecodeCursor = %v, want invalid", name, err)
		}
	}
	for _, bad := range []string{"", "!!", "e30", strings.Repeat("A", 5000)} {
		if _, err := productsearch.DecodeCursor(q, bad); err == nil {
			t.Errorf("DecodeCursor(%q) = nil error", bad)
		}
	}
}

func TestPriceBands(t *testing.T) {
	for cur, want := range map[string][]int64{
		"EUR": {1000, 2500, 5000, 10000, 25000},
		"JPY": {1000, 2500, 5000, 10000, 25000},
		"SEK": {10000, 25000, 50000, 100000, 250000},
		"VND": {100000, 250000, 500000, 1000000, 2500000},
		"KWD": {10000, 25000, 50000, 100000, 250000},
	} {
		if got := productsearch.PriceEdges(cur); !slices.Equal(got, want) {
			t.Errorf("PriceEdges(%s) = %v, want %v", cur, got, want)
		}
	}
	b := productsearch.PriceBands("EUR")
	if len(b) != 6 || b[0].From != nil || b[5].To != nil || *b[0].To != 1000 || *b[1].From != 1000 || *b[5].From != 25000 {
		t.Fatalf("PriceBands(EUR) = %+v", b)
	}
	if !b[1].Contains(1000) || b[1].Contains(2500) || !b[1].Contains(2499) || b[0].Contains(1000) || !b[5].Contains(1<<60) {
		t.Fatal("bands are [from, to)")
	}
}

func TestCompare(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	docs := []productsearch.Doc{
		{ID: "b", Price: 100, AverageRating: 4, ReviewCount: 1, CreatedAt: day(2)},
		{ID: "a", Price: 100, AverageRating: 4, ReviewCount: 3, CreatedAt: day(2)},
		{ID: "c", Price: 50, AverageRating: 5, ReviewCount: 1, CreatedAt: day(1)},
		{ID: "d", Price: 300, AverageRating: 0, ReviewCount: 0, CreatedAt: day(3)},
	}
	for sort, want := range map[string]string{
		productsearch.SortPriceAsc:  "cabd",
		productsearch.SortPriceDesc: "dabc",
		productsearch.SortRating:    "cabd",
		productsearch.SortNewest:    "dabc",
		productsearch.SortRelevance: "abcd",
	} {
		l := slices.Clone(docs)
		slices.SortFunc(l, func(a, b productsearch.Doc) int { return productsearch.Compare(sort, a, b) })
		got := ""
		for _, d := range l {
			got += d.ID
		}
		if got != want {
			t.Errorf("%s: %s, want %s", sort, got, want)
		}
	}
}
