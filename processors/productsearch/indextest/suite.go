package indextest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// NewIndex returns a new, empty index for one test, its removal registered
// with t.Cleanup. Its Search must read what its Apply writes.
type NewIndex func(t *testing.T) productsearch.Index

// Refresh makes what Apply wrote to ix searchable (an Elasticsearch
// refresh); nil when writes are searchable as soon as Apply returns.
type Refresh func(t *testing.T, ix productsearch.Index)

// Refuse plants in ix, at product id, a document the index can never fold
// an event onto (a stored document that does not decode), so that ix
// refuses id's events for good. The planted document is a discontinued
// one: searches and Count never see it.
type Refuse func(t *testing.T, ix productsearch.Index, id string)

// Backend is what the suite runs on.
type Backend struct {
	New     NewIndex
	Refresh Refresh // nil when writes are searchable at once
	Refuse  Refuse
}

// Run runs the contract of productsearch.Index on indexes from b.New: one
// loaded with the fixed catalogue for the read-only cases, a fresh small one
// for each case that writes. The catalogue's currency is Currency: the
// implementation under test must use it for price facets.
func Run(t *testing.T, b Backend) {
	newIndex := b.New
	s := &suite{newIndex: newIndex, refresh: b.Refresh, refuse: b.Refuse}

	t.Run("Catalogue", func(t *testing.T) {
		events := Catalogue()
		s.model = NewModel(Currency, events)
		s.ix = newIndex(t)
		for batch := range slices.Chunk(events, 500) {
			s.apply(t, s.ix, batch)
		}
		for _, c := range []struct {
			name string
			fn   func(*testing.T)
		}{
			{"Count", s.testCount},
			{"EveryProductOnce", s.testEveryProductOnce},
			{"TextMatchesEachField", s.testTextFields},
			{"TextWordsAreAnded", s.testTextWords},
			{"Filters", s.testFilters},
			{"Sorts", s.testSorts},
			{"Facets", s.testFacets},
			{"Pages", s.testPages},
			{"CursorVisitsEveryHitOnce", s.testCursor},
			{"CursorBelongsToItsQuery", s.testCursorMismatch},
			{"DiscontinuedNeverReturned", s.testDiscontinued},
			{"Validation", s.testValidation},
			{"HostileText", s.testHostileText},
		} {
			t.Run(c.name, c.fn)
		}
	})
	t.Run("DuplicatesAndOlderVersionsSkipped", s.testDuplicates)
	t.Run("HitRatingRounded", s.testHitRating)
	t.Run("PriceChangeMovesBetweenFilters", s.testPriceChange)
	t.Run("DiscontinueHidesProduct", s.testDiscontinue)
	t.Run("RedeliveredBatchesConverge", s.testRedelivery)
	t.Run("BurstOfOneProduct", s.testBurst)
	t.Run("ManyEventsOfOneProductSomeUnstorable", s.testMixedUnstorable)
	t.Run("RefusedDocumentNamedRestApplied", s.testRefused)
	t.Run("RefusedEventDeadLettered", s.testRefusedDeadLettered)
	t.Run("ReferenceNamesJoined", s.testReferenceJoin)
	t.Run("ReferenceInterleavingsConverge", s.testReferenceInterleavings)
}

type suite struct {
	newIndex NewIndex
	refresh  Refresh
	refuse   Refuse
	ix       productsearch.Index // loaded with the catalogue
	model    *Model
}

func (s *suite) apply(t *testing.T, ix productsearch.Index, events []schemas.Event) {
	t.Helper()
	if err := ix.Apply(ctx(t), events); err != nil {
		t.Fatalf("Apply(%d events): %v", len(events), err)
	}
	if s.refresh != nil {
		s.refresh(t, ix)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func search(t *testing.T, ix productsearch.Index, q productsearch.Query) productsearch.Result {
	t.Helper()
	r, err := ix.Search(ctx(t), q)
	if err != nil {
		t.Fatalf("Search(%s): %v", show(q), err)
	}
	return r
}

// searchAll follows cursors from the first page and returns every hit.
func searchAll(t *testing.T, ix productsearch.Index, q productsearch.Query) []productsearch.Hit {
	t.Helper()
	q.Page, q.Cursor = 1, ""
	if q.PageSize == 0 {
		q.PageSize = productsearch.MaxPageSize
	}
	var all []productsearch.Hit
	for range 10000 {
		r := search(t, ix, q)
		all = append(all, r.Products...)
		if r.NextCursor == "" {
			return all
		}
		if len(r.Products) == 0 {
			t.Fatalf("Search(%s): an empty page with a next cursor", show(q))
		}
		q.Cursor = r.NextCursor
	}
	t.Fatalf("Search(%s): cursors never end", show(q))
	return nil
}

func show(q productsearch.Query) string {
	var b strings.Builder
	if q.Text != "" {
		t := q.Text
		if len(t) > 40 {
			t = t[:40] + "…"
		}
		fmt.Fprintf(&b, "q=%q ", t)
	}
	if len(q.Categories) > 0 {
		fmt.Fprintf(&b, "category=%v ", q.Categories)
	}
	if len(q.Brands) > 0 {
		fmt.Fprintf(&b, "brand=%v ", q.Brands)
	}
	if q.MinPrice != nil {
		fmt.Fprintf(&b, "minPrice=%d ", *q.MinPrice)
	}
	if q.MaxPrice != nil {
		fmt.Fprintf(&b, "maxPrice=%d ", *q.MaxPrice)
	}
	if q.InStockOnly {
		b.WriteString("inStock ")
	}
	fmt.Fprintf(&b, "sort=%q page=%d pageSize=%d", q.Sort, q.Page, q.PageSize)
	if q.Cursor != "" {
		b.WriteString(" cursor")
	}
	return b.String()
}

func hits(docs []productsearch.Doc) []productsearch.Hit {
	out := make([]productsearch.Hit, len(docs))
	for i, d := range docs {
		out[i] = d.Hit()
	}
	return out
}

func ids(hs []productsearch.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

// sameHits fails unless got equals want, in order when ordered.
func sameHits(t *testing.T, what string, got, want []productsearch.Hit, ordered bool) {
	t.Helper()
	if !ordered {
		got, want = slices.Clone(got), slices.Clone(want)
		byID := func(a, b productsearch.Hit) int { return strings.Compare(a.ID, b.ID) }
		slices.SortFunc(got, byID)
		slices.SortFunc(want, byID)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d\n got %v\nwant %v", what, len(got), len(want), clip(ids(got)), clip(ids(want)))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: hit %d is\n %+v\nwant\n %+v", what, i, got[i], want[i])
		}
	}
}

func clip(l []string) []string { return l[:min(len(l), 12)] }

func p64(v int64) *int64 { return &v }

func (s *suite) testCount(t *testing.T) {
	n, err := s.ix.Count(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := s.model.Count(); n != want {
		t.Fatalf("Count = %d, want %d (discontinued products are not counted)", n, want)
	}
}

func (s *suite) testEveryProductOnce(t *testing.T) {
	q := productsearch.Query{PageSize: 100}
	want, _ := s.model.Search(q)
	sameHits(t, show(q), searchAll(t, s.ix, q), hits(want), true)
}

// pickWord returns a word of vocab that some searchable product has in
// field, preferring one that few products have.
func (s *suite) pickWord(t *testing.T, vocab []string, field func(productsearch.Doc) string) string {
	t.Helper()
	best, bestN := "", 0
	for _, w := range vocab {
		n := 0
		for _, d := range s.model.Docs {
			if !d.Discontinued && slices.Contains(Tokens(field(d)), w) {
				n++
			}
		}
		if n > 0 && (bestN == 0 || n < bestN) {
			best, bestN = w, n
		}
	}
	if best == "" {
		t.Fatal("no product has a word of the vocabulary")
	}
	return best
}

func (s *suite) testTextFields(t *testing.T) {
	v := eventgen.CatalogueVocabulary()
	cases := []struct {
		field string
		vocab []string
		of    func(productsearch.Doc) string
	}{
		{"name", v.NameNouns, func(d productsearch.Doc) string { return d.Name }},
		{"description", v.DescriptionWords, func(d productsearch.Doc) string { return d.Description }},
		{"tags", v.Tags, func(d productsearch.Doc) string { return strings.Join(d.Tags, " ") }},
		{"brandName", lower(v.BrandNames), func(d productsearch.Doc) string { return d.BrandName }},
		{"categoryName", lower(v.CategoryNames), func(d productsearch.Doc) string { return d.CategoryName }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			w := s.pickWord(t, c.vocab, c.of)
			for _, text := range []string{w, strings.ToUpper(w), "  " + strings.ToUpper(w[:1]) + w[1:] + "  "} {
				q := productsearch.Query{Text: text, PageSize: 100}
				want, _ := s.model.Search(q)
				got := searchAll(t, s.ix, q)
				if len(got) == 0 {
					t.Fatalf("%s: no hit for a word of %s", show(q), c.field)
				}
				sameHits(t, show(q), got, hits(want), false)
			}
		})
	}
}

func lower(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.ToLower(s)
	}
	return out
}

func (s *suite) testTextWords(t *testing.T) {
	// A word of the name and one of the brand: both must match, in any field.
	var d productsearch.Doc
	for _, id := range slices.Sorted(maps.Keys(s.model.Docs)) {
		if d = s.model.Docs[id]; !d.Discontinued {
			break
		}
	}
	for _, text := range []string{
		Tokens(d.Name)[1] + " " + d.BrandName,
		d.BrandName + " " + Tokens(d.Name)[0] + " " + Tokens(d.CategoryName)[0],
		Tokens(d.Name)[1] + " nosuchword",
	} {
		q := productsearch.Query{Text: text, PageSize: 100}
		want, _ := s.model.Search(q)
		sameHits(t, show(q), searchAll(t, s.ix, q), hits(want), false)
	}
}

func (s *suite) filterCases() []productsearch.Query {
	return []productsearch.Query{
		{Categories: []string{eventgen.CategoryID(3)}},
		{Categories: []string{eventgen.CategoryID(1), eventgen.CategoryID(7)}},
		{Categories: []string{"cat-none"}},
		{Brands: []string{eventgen.BrandID(1)}},
		{Brands: []string{eventgen.BrandID(2), eventgen.BrandID(5), eventgen.BrandID(40)}},
		{MinPrice: p64(2500)},
		{MaxPrice: p64(2500)},
		{MinPrice: p64(1000), MaxPrice: p64(4999)},
		{MinPrice: p64(2500), MaxPrice: p64(2500)},
		{InStockOnly: true},
		{Text: "lamp", InStockOnly: true, MaxPrice: p64(20000)},
		{Categories: []string{eventgen.CategoryID(2), eventgen.CategoryID(4)}, Brands: []string{eventgen.BrandID(1), eventgen.BrandID(3)}, MinPrice: p64(500), InStockOnly: true},
	}
}

func (s *suite) testFilters(t *testing.T) {
	for _, q := range s.filterCases() {
		q.PageSize = 100
		want, _ := s.model.Search(q)
		sameHits(t, show(q), searchAll(t, s.ix, q), hits(want), q.Text == "")
	}
}

func (s *suite) testSorts(t *testing.T) {
	for _, sort := range []string{productsearch.SortNewest, productsearch.SortPriceAsc, productsearch.SortPriceDesc, productsearch.SortRating, productsearch.SortRelevance} {
		for _, base := range []productsearch.Query{{}, {InStockOnly: true, Categories: []string{eventgen.CategoryID(1), eventgen.CategoryID(2), eventgen.CategoryID(3)}}} {
			q := base
			q.Sort, q.PageSize = sort, 100
			want, _ := s.model.Search(q)
			// Without text every score is equal: relevance is the ID order.
			sameHits(t, show(q), searchAll(t, s.ix, q), hits(want), true)
		}
	}
	// Relevance with text: the right set, and the same order every time.
	q := productsearch.Query{Text: "lamp", PageSize: 100}
	want, _ := s.model.Search(q)
	first := searchAll(t, s.ix, q)
	sameHits(t, show(q), first, hits(want), false)
	sameHits(t, show(q)+" again", searchAll(t, s.ix, q), first, true)
	if q.Normalized().Sort != productsearch.SortRelevance || (productsearch.Query{}).Normalized().Sort != productsearch.SortNewest {
		t.Fatal("the default sort is relevance with text, newest without")
	}
}

func (s *suite) testFacets(t *testing.T) {
	qs := append(s.filterCases(),
		productsearch.Query{},
		productsearch.Query{Text: "lamp"},
		productsearch.Query{Text: "cookware"},
		productsearch.Query{Text: "nosuchword"},
	)
	for _, q := range qs {
		q.Page, q.PageSize = 1, 5
		_, want := s.model.Search(q)
		got := search(t, s.ix, q).Facets
		checkFacets(t, show(q), got, want)
	}
}

func checkFacets(t *testing.T, what string, got, want productsearch.Facets) {
	t.Helper()
	if !slices.Equal(got.Category, want.Category) {
		t.Fatalf("%s: category facet\n got %+v\nwant %+v", what, got.Category, want.Category)
	}
	if !slices.Equal(got.Brand, want.Brand) {
		t.Fatalf("%s: brand facet\n got %+v\nwant %+v", what, got.Brand, want.Brand)
	}
	if len(got.Price) != len(want.Price) {
		t.Fatalf("%s: %d price buckets, want %d", what, len(got.Price), len(want.Price))
	}
	for i := range want.Price {
		g, w := got.Price[i], want.Price[i]
		if !eqPtr(g.From, w.From) || !eqPtr(g.To, w.To) || g.Count != w.Count {
			t.Fatalf("%s: price bucket %d is %s, want %s", what, i, showBucket(g), showBucket(w))
		}
	}
}

func eqPtr(a, b *int64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func showBucket(b productsearch.PriceBucket) string {
	f := func(p *int64) string {
		if p == nil {
			return "*"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("[%s, %s): %d", f(b.From), f(b.To), b.Count)
}

func (s *suite) testPages(t *testing.T) {
	q := productsearch.Query{InStockOnly: true, Sort: productsearch.SortPriceAsc, PageSize: 7}
	want, _ := s.model.Search(q)
	pages := (len(want) + 6) / 7
	var got []productsearch.Hit
	for p := 1; p <= pages+1; p++ {
		q.Page = p
		r := search(t, s.ix, q)
		if r.Total != int64(len(want)) || r.Page != p || r.PageSize != 7 {
			t.Fatalf("%s: total %d page %d pageSize %d, want %d %d 7", show(q), r.Total, r.Page, r.PageSize, len(want), p)
		}
		wantLen := min(7, max(0, len(want)-(p-1)*7))
		if len(r.Products) != wantLen {
			t.Fatalf("%s: %d hits, want %d", show(q), len(r.Products), wantLen)
		}
		if (r.NextCursor != "") != (p < pages) {
			t.Fatalf("%s: nextCursor %q with %d pages", show(q), r.NextCursor, pages)
		}
		got = append(got, r.Products...)
	}
	sameHits(t, "pages of "+show(q), got, hits(want), true)

	// The last page a window allows is served.
	r := search(t, s.ix, productsearch.Query{Page: productsearch.MaxWindow / 100, PageSize: 100})
	if len(r.Products) != 0 || r.Total != s.model.Count() {
		t.Fatalf("page 100 of 100: %d hits, total %d", len(r.Products), r.Total)
	}
	// A page's cursor continues where the page ended.
	q.Page = 2
	r = search(t, s.ix, q)
	next := search(t, s.ix, productsearch.Query{InStockOnly: true, Sort: productsearch.SortPriceAsc, PageSize: 7, Page: 99, Cursor: r.NextCursor})
	q.Page = 3
	sameHits(t, "cursor after page 2", next.Products, search(t, s.ix, q).Products, true)
	if next.Page != 3 {
		t.Fatalf("cursor after page 2 reports page %d, want 3", next.Page)
	}
}

func (s *suite) testCursor(t *testing.T) {
	for _, q := range []productsearch.Query{
		{Sort: productsearch.SortNewest, PageSize: 13},
		{Sort: productsearch.SortPriceDesc, InStockOnly: true, PageSize: 13},
		{Sort: productsearch.SortRating, Categories: []string{eventgen.CategoryID(1), eventgen.CategoryID(5)}, PageSize: 7},
		{Text: "lamp", PageSize: 3},
		{Text: s.pickWord(t, eventgen.CatalogueVocabulary().DescriptionWords, func(d productsearch.Doc) string { return d.Description }), PageSize: 11},
		{Sort: productsearch.SortRelevance, PageSize: 41},
	} {
		want, _ := s.model.Search(q)
		q.Page = 1
		var got []productsearch.Hit
		seen := map[string]bool{}
		for page := 1; ; page++ {
			r := search(t, s.ix, q)
			if r.Page != page || r.Total != int64(len(want)) {
				t.Fatalf("%s: page %d total %d, want page %d total %d", show(q), r.Page, r.Total, page, len(want))
			}
			for _, h := range r.Products {
				if seen[h.ID] {
					t.Fatalf("%s: %s seen twice", show(q), h.ID)
				}
				seen[h.ID] = true
			}
			got = append(got, r.Products...)
			if r.NextCursor == "" {
				break
			}
			q.Cursor = r.NextCursor
		}
		sameHits(t, "cursor pages of "+show(q), got, hits(want), q.Text == "")
	}
}

func (s *suite) testCursorMismatch(t *testing.T) {
	q := productsearch.Query{Sort: productsearch.SortPriceAsc, Page: 1, PageSize: 10}
	r := search(t, s.ix, q)
	if r.NextCursor == "" {
		t.Fatal("no nextCursor on page 1")
	}
	for name, other := range map[string]productsearch.Query{
		"sort":     {Sort: productsearch.SortNewest, PageSize: 10},
		"pageSize": {Sort: productsearch.SortPriceAsc, PageSize: 11},
		"filter":   {Sort: productsearch.SortPriceAsc, PageSize: 10, InStockOnly: true},
		"text":     {Sort: productsearch.SortPriceAsc, PageSize: 10, Text: "lamp"},
	} {
		other.Cursor = r.NextCursor
		wantInvalid(t, name, s.ix, other, "cursor")
	}
	// Same query, other page and filter order: still valid.
	same := productsearch.Query{Sort: productsearch.SortPriceAsc, PageSize: 10, Page: 7, Cursor: r.NextCursor}
	search(t, s.ix, same)
}

func wantInvalid(t *testing.T, name string, ix productsearch.Index, q productsearch.Query, fields ...string) {
	t.Helper()
	if err := q.Validate(); err == nil {
		t.Fatalf("%s: Validate(%s) = nil, want errors on %v", name, show(q), fields)
	}
	_, err := ix.Search(ctx(t), q)
	var ve *productsearch.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, productsearch.ErrInvalidQuery) {
		t.Fatalf("%s: Search(%s) = %v, want a *ValidationError", name, show(q), err)
	}
	for _, f := range fields {
		if !slices.Contains(ve.Fields(), f) {
			t.Fatalf("%s: Search(%s) = %v, want it to name %s", name, show(q), err, f)
		}
	}
}

func (s *suite) testValidation(t *testing.T) {
	for _, c := range []struct {
		name   string
		q      productsearch.Query
		fields []string
	}{
		{"pageSize 0", productsearch.Query{Page: 1}, []string{"pageSize"}},
		{"pageSize 101", productsearch.Query{Page: 1, PageSize: 101}, []string{"pageSize"}},
		{"page 0", productsearch.Query{PageSize: 10}, []string{"page"}},
		{"page -1", productsearch.Query{Page: -1, PageSize: 10}, []string{"page"}},
		{"past 10000", productsearch.Query{Page: 101, PageSize: 100}, []string{"page"}},
		{"past 10000 by 1", productsearch.Query{Page: 10001, PageSize: 1}, []string{"page"}},
		{"huge page", productsearch.Query{Page: 1 << 62, PageSize: 100}, []string{"page"}},
		{"minPrice > maxPrice", productsearch.Query{Page: 1, PageSize: 10, MinPrice: p64(2000), MaxPrice: p64(1999)}, []string{"minPrice"}},
		{"negative minPrice", productsearch.Query{Page: 1, PageSize: 10, MinPrice: p64(-1)}, []string{"minPrice"}},
		{"negative maxPrice", productsearch.Query{Page: 1, PageSize: 10, MaxPrice: p64(-5)}, []string{"maxPrice"}},
		{"unknown sort", productsearch.Query{Page: 1, PageSize: 10, Sort: "cheapest"}, []string{"sort"}},
		{"empty category", productsearch.Query{Page: 1, PageSize: 10, Categories: []string{""}}, []string{"category"}},
		{"empty brand", productsearch.Query{Page: 1, PageSize: 10, Brands: []string{"b", ""}}, []string{"brand"}},
		{"garbage cursor", productsearch.Query{PageSize: 10, Cursor: "not a cursor!"}, []string{"cursor"}},
		{"base64 cursor", productsearch.Query{PageSize: 10, Cursor: "eyJxIjoiIn0"}, []string{"cursor"}},
		{"every problem at once", productsearch.Query{PageSize: 0, MinPrice: p64(5), MaxPrice: p64(1), Sort: "x"}, []string{"pageSize", "page", "minPrice", "sort"}},
	} {
		t.Run(c.name, func(t *testing.T) { wantInvalid(t, c.name, s.ix, c.q, c.fields...) })
	}
	// Valid edges.
	for _, q := range []productsearch.Query{
		{Page: 100, PageSize: 100},
		{Page: 10000, PageSize: 1},
		{Page: 1, PageSize: 1, MinPrice: p64(0), MaxPrice: p64(0)},
		{Page: 1, PageSize: 100, Sort: productsearch.SortRelevance},
	} {
		if err := q.Validate(); err != nil {
			t.Fatalf("Validate(%s) = %v", show(q), err)
		}
		search(t, s.ix, q)
	}
}

func (s *suite) testHostileText(t *testing.T) {
	var manyWords strings.Builder
	for i := 0; manyWords.Len() < 12<<10; i++ {
		fmt.Fprintf(&manyWords, "word%d ", i)
	}
	for _, text := range []string{
		"*", "?", `"`, `"lamp`, `lamp"`, `"lamp kettle"`, "AND", "OR", "NOT", "lamp AND OR NOT kettle", "a AND", "NOT NOT",
		"{", "}", "{}", "[", "]", "[1 TO 5]", "(", ")", "(((((", strings.Repeat("(", 5000), ")))",
		`{"query":{"match_all":{}}}`, `"}]}},{"match_all":{}}`, "name:lamp", "_id:1", "*:*", "lamp~2", "lamp^10", "/lam.*/",
		`\`, `\\`, "+", "-", "-lamp", "+lamp", "|", "||", "&&", "!", "~", "^", ":", "/", "<script>alert(1)</script>", "'; DROP TABLE products; --",
		"\x00", "\x00lamp\x01", "\xff\xfe\xfd", "🙂", "ｌａｍｐ", "lamp\tkettle\nmug", "   ", "",
		strings.Repeat("lamp ", 2100), strings.Repeat("a", 10240), manyWords.String(), strings.Repeat("*", 10240),
	} {
		{
			q := productsearch.Query{Text: text, Page: 1, PageSize: 5, InStockOnly: true}
			r, err := s.ix.Search(ctx(t), q)
			if err != nil {
				t.Fatalf("Search(%s): %v", show(q), err)
			}
			if r.Total < int64(len(r.Products)) || len(r.Products) > 5 {
				t.Fatalf("Search(%s): %d hits of total %d", show(q), len(r.Products), r.Total)
			}
			if r.NextCursor != "" {
				q.Cursor = r.NextCursor
				if _, err := s.ix.Search(ctx(t), q); err != nil {
					t.Fatalf("Search(%s) with its cursor: %v", show(q), err)
				}
			}
		}
	}
}

func (s *suite) testDiscontinued(t *testing.T) {
	var gone []productsearch.Doc
	for _, d := range s.model.Docs {
		if d.Discontinued {
			gone = append(gone, d)
		}
	}
	if len(gone) == 0 {
		t.Fatal("the catalogue has no discontinued product")
	}
	for _, d := range gone[:min(len(gone), 10)] {
		for _, q := range []productsearch.Query{
			{Text: d.Name, PageSize: 100},
			{Categories: []string{d.CategoryID}, Brands: []string{d.BrandID}, PageSize: 100},
			{MinPrice: p64(d.Price), MaxPrice: p64(d.Price), PageSize: 100},
		} {
			got := searchAll(t, s.ix, q)
			if slices.Contains(ids(got), d.ID) {
				t.Fatalf("%s: returned discontinued product %s", show(q), d.ID)
			}
		}
	}
}

// event builds test events for product id.
func event(id string, version int64, data schemas.EventData) schemas.Event {
	return schemas.Event{
		ID: fmt.Sprintf("%s-v%d", id, version), AggregateType: schemas.AggregateProduct, AggregateID: id, Version: version,
		Timestamp: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(version) * time.Minute), Data: data,
	}
}

func created(name string, price int64, stock int64) *schemas.ProductCreated {
	return &schemas.ProductCreated{
		Name: name, Description: "test product", Price: schemas.Money{Amount: price, Currency: Currency},
		CategoryID: "cat-t", CategoryName: "Testing", BrandID: "brand-t", BrandName: "Testbrand", Tags: []string{"probe"}, Stock: stock,
	}
}

func (s *suite) only(t *testing.T, ix productsearch.Index, m *Model, q productsearch.Query) {
	t.Helper()
	if q.PageSize == 0 {
		q.PageSize = 100
	}
	want, facets := m.Search(q)
	q.Page = 1
	r := search(t, ix, q)
	sameHits(t, show(q), r.Products, hits(want), true)
	checkFacets(t, show(q), r.Facets, facets)
	n, err := ix.Count(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if n != m.Count() {
		t.Fatalf("Count = %d, want %d", n, m.Count())
	}
}

func (s *suite) testDuplicates(t *testing.T) {
	ix := s.newIndex(t)
	a := "00000000-0000-4000-8000-00000000000a"
	v1 := event(a, 1, created("Quiet Lamp Alpha", 1000, 0))
	v2 := event(a, 2, &schemas.ProductPriceChanged{NewPrice: schemas.Money{Amount: 2000, Currency: Currency}})
	v3 := event(a, 3, &schemas.ProductStockChanged{Quantity: 5})
	m := NewModel(Currency, []schemas.Event{v1, v2, v3})

	s.apply(t, ix, []schemas.Event{v1, v1, v2, v2, v3, v3}) // duplicates inside one batch
	s.only(t, ix, m, productsearch.Query{})
	s.apply(t, ix, []schemas.Event{v1, v2, v3}) // the whole batch again
	s.only(t, ix, m, productsearch.Query{})

	// Older versions with other content change nothing.
	stale1 := event(a, 1, created("Other Name", 9999, 0))
	stale2 := event(a, 2, &schemas.ProductPriceChanged{NewPrice: schemas.Money{Amount: 1, Currency: Currency}})
	s.apply(t, ix, []schemas.Event{stale2, stale1})
	s.only(t, ix, m, productsearch.Query{})
	s.only(t, ix, m, productsearch.Query{Text: "quiet"})
	if got := searchAll(t, ix, productsearch.Query{Text: "other"}); len(got) != 0 {
		t.Fatalf("a stale ProductCreated changed the name: %v", got)
	}

	// A newer one still applies after the duplicates.
	v4 := event(a, 4, &schemas.ProductReviewAdded{Rating: 4})
	v5 := event(a, 5, &schemas.ProductReviewAdded{Rating: 5})
	m.Apply([]schemas.Event{v4, v5})
	s.apply(t, ix, []schemas.Event{v3, v4, v5, v4})
	s.only(t, ix, m, productsearch.Query{})
	h := search(t, ix, productsearch.Query{Page: 1, PageSize: 1}).Products[0]
	if h.ReviewCount != 2 || h.AverageRating != 4.5 || h.Price.Amount != 2000 || !h.InStock {
		t.Fatalf("hit %+v: want 2 reviews averaging 4.5, price 2000, in stock", h)
	}
}

// testHitRating: a hit's averageRating is rounded half up to 2 decimals,
// as a product's view shows it (schemas.AverageRating), however the index
// stores the document's.
func (s *suite) testHitRating(t *testing.T) {
	ix := s.newIndex(t)
	a := "00000000-0000-4000-8000-0000000000a7"
	evs := []schemas.Event{event(a, 1, created("Septimal Lamp", 1000, 1))}
	for i, r := range []int32{5, 5, 2, 2, 2, 1, 1} { // 18/7 = 2.5714…
		evs = append(evs, event(a, int64(i)+2, &schemas.ProductReviewAdded{Rating: r}))
	}
	m := NewModel(Currency, evs)
	s.apply(t, ix, evs)
	s.only(t, ix, m, productsearch.Query{})
	for _, q := range []productsearch.Query{{Page: 1, PageSize: 1}, {Page: 1, PageSize: 1, Text: "septimal", Sort: productsearch.SortRating}} {
		r := search(t, ix, q)
		if len(r.Products) != 1 {
			t.Fatalf("%s: %d hits, want 1", show(q), len(r.Products))
		}
		if h := r.Products[0]; h.AverageRating != 2.57 || h.ReviewCount != 7 {
			t.Fatalf("%s: hit rated %v of %d reviews, want 2.57 of 7", show(q), h.AverageRating, h.ReviewCount)
		}
	}
}

func (s *suite) testPriceChange(t *testing.T) {
	ix := s.newIndex(t)
	a, b := "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000b1"
	evs := []schemas.Event{event(a, 1, created("Amber Mug", 1500, 3)), event(b, 1, created("Bold Mug", 4000, 3))}
	m := NewModel(Currency, evs)
	s.apply(t, ix, evs)
	band := productsearch.Query{MinPrice: p64(1000), MaxPrice: p64(2000)}
	s.only(t, ix, m, band)
	if r := search(t, ix, productsearch.Query{Page: 1, PageSize: 10, MinPrice: p64(1000), MaxPrice: p64(2000)}); len(r.Products) != 1 || r.Products[0].ID != a {
		t.Fatalf("before the change, %s: %v", show(band), ids(r.Products))
	}
	change := event(a, 2, &schemas.ProductPriceChanged{OldPrice: schemas.Money{Amount: 1500, Currency: Currency}, NewPrice: schemas.Money{Amount: 3000, Currency: Currency}})
	m.Apply([]schemas.Event{change})
	s.apply(t, ix, []schemas.Event{change})
	s.only(t, ix, m, band)
	s.only(t, ix, m, productsearch.Query{MinPrice: p64(2500), MaxPrice: p64(3500)})
	s.only(t, ix, m, productsearch.Query{Sort: productsearch.SortPriceAsc})
	if r := search(t, ix, productsearch.Query{Page: 1, PageSize: 10, MinPrice: p64(1000), MaxPrice: p64(2000)}); len(r.Products) != 0 {
		t.Fatalf("after the change, %s still returns %v", show(band), ids(r.Products))
	}
}

func (s *suite) testDiscontinue(t *testing.T) {
	ix := s.newIndex(t)
	a, b := "00000000-0000-4000-8000-0000000000a2", "00000000-0000-4000-8000-0000000000b2"
	evs := []schemas.Event{event(a, 1, created("Crisp Kettle", 2500, 1)), event(b, 1, created("Dapper Kettle", 2600, 1))}
	m := NewModel(Currency, evs)
	s.apply(t, ix, evs)
	s.only(t, ix, m, productsearch.Query{Text: "kettle"})
	gone := event(a, 2, &schemas.ProductDiscontinued{Reason: "test"})
	m.Apply([]schemas.Event{gone})
	s.apply(t, ix, []schemas.Event{gone})
	s.only(t, ix, m, productsearch.Query{Text: "kettle"})
	s.only(t, ix, m, productsearch.Query{})
	// Redelivering its creation does not bring it back.
	s.apply(t, ix, evs)
	s.only(t, ix, m, productsearch.Query{Text: "crisp"})
	if got := searchAll(t, ix, productsearch.Query{Text: "crisp"}); len(got) != 0 {
		t.Fatalf("discontinued product returned: %v", ids(got))
	}
}

func (s *suite) testRedelivery(t *testing.T) {
	ix := s.newIndex(t)
	events := Generate(7, 60, 10)
	m := NewModel(Currency, events)
	batches := slices.Collect(slices.Chunk(events, 37))
	for i, b := range batches {
		if err := ix.Apply(ctx(t), b); err != nil {
			t.Fatal(err)
		}
		// A crash before the commit: the runtime sends an earlier batch and
		// this one again.
		if i%3 == 2 {
			if err := ix.Apply(ctx(t), slices.Concat(batches[i-2], batches[i-1], b)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.refresh != nil {
		s.refresh(t, ix)
	}
	q := productsearch.Query{PageSize: 100}
	want, _ := m.Search(q)
	sameHits(t, "after redeliveries", searchAll(t, ix, q), hits(want), true)
	s.only(t, ix, m, productsearch.Query{})
}
