package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/streamview/streamview/schemas"
)

// opt is a JSON member that may be absent, null or a value, which a plain
// field cannot tell apart.
type opt[T any] struct {
	Set   bool // the member was there, possibly null
	Null  bool
	Value T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// given reports a non-null value.
func (o opt[T]) given() bool { return o.Set && !o.Null }

// priceJSON is a price as API.md writes it: {"amount": "19.99", "currency": "EUR"}.
type priceJSON struct {
	Amount   opt[string] `json:"amount"`
	Currency opt[string] `json:"currency"`
}

// UnmarshalJSON decodes strictly, naming an unknown member with its path
// ("price.cents"); encoding/json would name only "cents".
func (p *priceJSON) UnmarshalJSON(b []byte) error {
	type plain priceJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v plain
	if err := dec.Decode(&v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &unknownFieldError{field: "price." + strings.Trim(name, `"`)}
		}
		return err // a *json.UnmarshalTypeError: the caller's decoder adds "price." to its Field
	}
	*p = priceJSON(v)
	return nil
}

// Request bodies. Field order is the order of API.md.
type (
	createRequest struct {
		ProductID    opt[string]    `json:"productId"`
		Name         opt[string]    `json:"name"`
		Description  opt[string]    `json:"description"`
		Price        opt[priceJSON] `json:"price"`
		CategoryID   opt[string]    `json:"categoryId"`
		CategoryName opt[string]    `json:"categoryName"`
		BrandID      opt[string]    `json:"brandId"`
		BrandName    opt[string]    `json:"brandName"`
		Tags         opt[[]string]  `json:"tags"`
		ImageURLs    opt[[]string]  `json:"imageUrls"`
		Stock        opt[int64]     `json:"stock"`
	}
	updateRequest struct {
		Name         opt[string]   `json:"name"`
		Description  opt[string]   `json:"description"`
		Tags         opt[[]string] `json:"tags"`
		ImageURLs    opt[[]string] `json:"imageUrls"`
		CategoryID   opt[string]   `json:"categoryId"`
		CategoryName opt[string]   `json:"categoryName"`
		BrandID      opt[string]   `json:"brandId"`
		BrandName    opt[string]   `json:"brandName"`
	}
	priceRequest struct {
		Price opt[priceJSON] `json:"price"`
	}
	stockRequest struct {
		Quantity opt[int64] `json:"quantity"`
	}
	reviewRequest struct {
		Rating  opt[int64]  `json:"rating"`
		UserID  opt[string] `json:"userId"`
		Comment opt[string] `json:"comment"`
	}
	discontinueRequest struct {
		Reason opt[string] `json:"reason"`
	}
)

// fieldErrors collects the problems found while turning a request into a
// command, before product.Check adds its own.
type fieldErrors []FieldError

func (e *fieldErrors) add(field, msg string) { *e = append(*e, FieldError{field, msg}) }

// required reports a field that is absent or null as "is required".
func required[T any](errs *fieldErrors, field string, o opt[T]) {
	if !o.given() {
		errs.add(field, "is required")
	}
}

// notNull reports a null member of a PATCH body: merge-patch null means
// "remove", and no field of a product can be removed.
func notNull[T any](errs *fieldErrors, field string, o opt[T], hint string) {
	if o.Null {
		errs.add(field, "must not be null"+hint)
	}
}

func ptrIf(o opt[string]) *string {
	if !o.given() {
		return nil
	}
	return &o.Value
}

func (r *createRequest) command(s *Server, errs *fieldErrors) schemas.CommandData {
	required(errs, "description", r.Description)
	return &schemas.CreateProduct{
		Name:         r.Name.Value,
		Description:  r.Description.Value,
		Price:        s.money(r.Price, errs),
		CategoryID:   r.CategoryID.Value,
		CategoryName: r.CategoryName.Value,
		BrandID:      r.BrandID.Value,
		BrandName:    r.BrandName.Value,
		Tags:         r.Tags.Value,
		ImageURLs:    r.ImageURLs.Value,
		Stock:        r.Stock.Value,
	}
}

func (r *updateRequest) command(_ *Server, errs *fieldErrors) schemas.CommandData {
	for _, f := range []struct {
		name string
		o    opt[string]
	}{
		{"name", r.Name}, {"description", r.Description},
		{"categoryId", r.CategoryID}, {"categoryName", r.CategoryName},
		{"brandId", r.BrandID}, {"brandName", r.BrandName},
	} {
		notNull(errs, f.name, f.o, "")
	}
	notNull(errs, "tags", r.Tags, `; send [] to clear the tags`)
	notNull(errs, "imageUrls", r.ImageURLs, `; send [] to clear the image URLs`)
	d := &schemas.UpdateProductDetails{
		Name:         ptrIf(r.Name),
		Description:  ptrIf(r.Description),
		CategoryID:   ptrIf(r.CategoryID),
		CategoryName: ptrIf(r.CategoryName),
		BrandID:      ptrIf(r.BrandID),
		BrandName:    ptrIf(r.BrandName),
	}
	if r.Tags.given() {
		d.Tags = append([]string{}, r.Tags.Value...) // non-nil: [] clears
	}
	if r.ImageURLs.given() {
		d.ImageURLs = append([]string{}, r.ImageURLs.Value...)
	}
	return d
}

func (r *priceRequest) command(s *Server, errs *fieldErrors) schemas.CommandData {
	return &schemas.ChangeProductPrice{Price: s.money(r.Price, errs)}
}

func (r *stockRequest) command(_ *Server, errs *fieldErrors) schemas.CommandData {
	required(errs, "quantity", r.Quantity)
	return &schemas.ChangeProductStock{Quantity: r.Quantity.Value}
}

func (r *reviewRequest) command(_ *Server, errs *fieldErrors) schemas.CommandData {
	required(errs, "rating", r.Rating)
	rating := r.Rating.Value
	if rating < math.MinInt32 || rating > math.MaxInt32 {
		rating = 0 // out of 1..5 all the same; product.Check says so
	}
	return &schemas.AddProductReview{Rating: int32(rating), UserID: r.UserID.Value, Comment: r.Comment.Value}
}

func (r *discontinueRequest) command(*Server, *fieldErrors) schemas.CommandData {
	return &schemas.DiscontinueProduct{Reason: r.Reason.Value}
}

// money turns a JSON price into minor units. Problems of the amount's
// text are reported here; the rules on values (greater than 0, the
// catalogue's currency) are product.Check's.
func (s *Server) money(p opt[priceJSON], errs *fieldErrors) schemas.Money {
	if !p.given() {
		return schemas.Money{} // product.Check: price is required
	}
	var m schemas.Money
	cur := p.Value.Currency
	if cur.given() {
		m.Currency = cur.Value
	}
	// Read the amount with the currency it comes in when that is a
	// currency at all, so that its decimals are judged rightly.
	digitsOf := s.cfg.Currency
	if schemas.ValidCurrency(m.Currency) {
		digitsOf = m.Currency
	}
	amount := p.Value.Amount
	if !amount.given() {
		errs.add("price.amount", "is required")
	} else {
		v, err := schemas.ParseAmount(amount.Value, digitsOf)
		switch {
		case errors.Is(err, schemas.ErrAmountPrecision):
			errs.add("price.amount", fmt.Sprintf("must have at most %d decimals in %s", schemas.MinorDigits(digitsOf), digitsOf))
		case errors.Is(err, schemas.ErrAmountRange):
			errs.add("price.amount", "is too large")
		case err != nil:
			errs.add("price.amount", `must be a decimal string such as "19.99"`)
		default:
			m.Amount = v
		}
	}
	if !cur.given() {
		errs.add("price.currency", "is required")
	}
	return m
}

// merge returns errs and the errors of product.Check that concern no field
// errs already names (nor a part or parent of one), since errs are the more
// precise and one message per field is enough; in the order of API.md's
// fields.
func merge(errs fieldErrors, checked []FieldError) []FieldError {
	out := []FieldError(errs)
	for _, c := range checked {
		if !slices.ContainsFunc(errs, func(e FieldError) bool { return related(e.Field, c.Field) }) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b FieldError) int { return fieldRank(a.Field) - fieldRank(b.Field) })
	return out
}

// fieldOrder is the order of the fields of every command body in API.md.
var fieldOrder = []string{
	"productId", "name", "description", "price", "categoryId", "categoryName", "brandId", "brandName",
	"tags", "imageUrls", "stock", "quantity", "rating", "userId", "comment", "reason",
}

func fieldRank(field string) int {
	if i := strings.IndexAny(field, ".["); i >= 0 {
		field = field[:i]
	}
	if i := slices.Index(fieldOrder, field); i >= 0 {
		return i
	}
	return len(fieldOrder)
}

// related reports whether a and b are the same field or one contains the
// other: "price" and "price.amount", "tags" and "tags[2]".
func related(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if !strings.HasPrefix(b, a) {
		return false
	}
	return len(a) == len(b) || b[len(a)] == '.' || b[len(a)] == '['
}
