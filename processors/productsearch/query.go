package productsearch

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Sorts of a Query.
const (
	SortRelevance = "relevance"  // _score best first; the default with Text
	SortPriceAsc  = "price_asc"  // cheapest first
	SortPriceDesc = "price_desc" // dearest first
	SortRating    = "rating"     // AverageRating best first, then ReviewCount most first
	SortNewest    = "newest"     // CreatedAt latest first; the default without Text
)

// Limits of a Query.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxWindow bounds Page*PageSize without a cursor (Elasticsearch's
	// index.max_result_window); deeper pages need a cursor.
	MaxWindow = 10000
	// MaxTextLength is how many characters of Text a search uses; the rest
	// is dropped, so that no input can build a query the index refuses.
	MaxTextLength = 200
	// MaxFilterValues bounds Categories and Brands each.
	MaxFilterValues = 100
	// MaxFilterValueLength bounds one category or brand ID, in bytes.
	MaxFilterValueLength = 256
	// MaxFacetValues is how many category and brand buckets a Result has at
	// most: the largest counts, ties by value.
	MaxFacetValues = 50
)

// Query is one search: full text, filters, a sort and a page or a cursor.
// The zero Query is not valid: PageSize and Page (without Cursor) must be
// set; the API applies the defaults (page 1, DefaultPageSize).
type Query struct {
	// Text matches name, description, tags, brand and category names. Every
	// word must occur in one of those fields (words as the standard analyzer
	// splits them, case-insensitive). Empty matches every product.
	Text string
	// Categories and Brands keep products whose categoryId (brandId) is one
	// of them; empty means any.
	Categories, Brands []string
	// MinPrice and MaxPrice are inclusive bounds in minor units of the
	// catalogue currency; nil means unbounded.
	MinPrice, MaxPrice *int64
	// InStockOnly keeps products with stock > 0.
	InStockOnly bool
	// Sort is one of the Sort* constants; empty means SortRelevance with
	// Text and SortNewest without. Ties are always broken by product ID.
	Sort string
	// Page (from 1) and PageSize (1..MaxPageSize) pick a page; Page is
	// ignored with a Cursor.
	Page, PageSize int
	// Cursor is a previous Result.NextCursor, valid only with the same
	// Text, filters, Sort and PageSize.
	Cursor string
}

// Normalized returns q as indexes run it: Text without surrounding space,
// invalid UTF-8 or anything past MaxTextLength characters; filter values
// sorted without duplicates; Sort explicit. Validate and the cursor use it.
func (q Query) Normalized() Query {
	t := strings.TrimSpace(strings.ToValidUTF8(q.Text, ""))
	if utf8.RuneCountInString(t) > MaxTextLength {
		n := 0
		for i := range t {
			if n == MaxTextLength {
				t = t[:i]
				break
			}
			n++
		}
		t = strings.TrimSpace(t)
	}
	q.Text = t
	q.Categories = sortedSet(q.Categories)
	q.Brands = sortedSet(q.Brands)
	if q.Sort == "" {
		q.Sort = SortNewest
		if q.Text != "" {
			q.Sort = SortRelevance
		}
	}
	return q
}

func sortedSet(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	l = slices.Clone(l)
	slices.Sort(l)
	return slices.Compact(l)
}

// Validate reports every problem of q at once as a *ValidationError, each
// naming the API parameter: pageSize, page, minPrice, maxPrice, sort,
// category, brand, cursor.
func (q Query) Validate() error {
	n := q.Normalized()
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	pageSizeOK := q.PageSize >= 1 && q.PageSize <= MaxPageSize
	if !pageSizeOK {
		add("pageSize", "must be between 1 and %d", MaxPageSize)
	}
	if q.Cursor == "" {
		switch {
		case q.Page < 1:
			add("page", "must be 1 or more")
		case pageSizeOK && q.Page > MaxWindow/q.PageSize:
			add("page", "times pageSize must not exceed %d; page deeper with nextCursor", MaxWindow)
		}
	} else if _, err := DecodeCursor(q, q.Cursor); err != nil {
		add("cursor", "%s", err.(*ValidationError).Errors[0].Message)
	}
	if q.MinPrice != nil && *q.MinPrice < 0 {
		add("minPrice", "must not be negative")
	}
	if q.MaxPrice != nil && *q.MaxPrice < 0 {
		add("maxPrice", "must not be negative")
	}
	if q.MinPrice != nil && q.MaxPrice != nil && *q.MinPrice > *q.MaxPrice {
		add("minPrice", "must not exceed maxPrice")
	}
	switch n.Sort {
	case SortRelevance, SortPriceAsc, SortPriceDesc, SortRating, SortNewest:
	default:
		add("sort", "must be one of relevance, price_asc, price_desc, rating, newest")
	}
	for _, f := range []struct {
		field  string
		values []string
	}{{"category", q.Categories}, {"brand", q.Brands}} {
		if len(f.values) > MaxFilterValues {
			add(f.field, "at most %d values", MaxFilterValues)
		}
		for _, v := range f.values {
			if v == "" || len(v) > MaxFilterValueLength {
				add(f.field, "values must each be 1 to %d bytes", MaxFilterValueLength)
				break
			}
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// ErrInvalidQuery is what every *ValidationError matches with errors.Is.
var ErrInvalidQuery = errors.New("invalid search query")

// FieldError is one bad parameter of a Query.
type FieldError struct {
	Field   string `json:"field"` // the API parameter's name
	Message string `json:"message"`
}

// ValidationError lists every bad parameter of a Query; the API answers it
// with 400.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidQuery.Error())
	for i, f := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + " " + f.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidQuery) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidQuery }

// Fields names the bad parameters, in order.
func (e *ValidationError) Fields() []string {
	out := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		out[i] = f.Field
	}
	return out
}
