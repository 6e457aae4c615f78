package productview

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/streamview/streamview/schemas"
)

// ErrInvalidEvent marks an event the view cannot take: an unknown event type,
// no payload, no aggregate ID, a version < 1. It is permanent: retrying the
// batch does not help (dead-letter the event instead).
var ErrInvalidEvent = errors.New("invalid product event")

// Names of the stored hash fields. Derived values (averageRating, inStock)
// are not stored; reviewCount and ratingSum are counters.
const (
	fieldName          = "name"
	fieldDescription   = "description"
	fieldPriceAmount   = "priceAmount" // minor units, decimal integer
	fieldPriceCurrency = "priceCurrency"
	fieldCategoryID    = "categoryId"
	fieldCategoryName  = "categoryName"
	fieldBrandID       = "brandId"
	fieldBrandName     = "brandName"
	fieldStock         = "stock"
	fieldTags          = "tags"      // JSON array
	fieldImageURLs     = "imageUrls" // JSON array
	fieldDiscontinued  = "discontinued"
	fieldCreatedAt     = "createdAt" // TimeLayout
	fieldUpdatedAt     = "updatedAt" // TimeLayout
	fieldReviewCount   = "reviewCount"
	fieldRatingSum     = "ratingSum"

	fieldRefName = "name" // of a reference record
)

// detailFields are the stored fields of the product details.
var detailFields = [...]string{
	schemas.DetailName: fieldName, schemas.DetailDescription: fieldDescription,
	schemas.DetailCategoryID: fieldCategoryID, schemas.DetailCategoryName: fieldCategoryName,
	schemas.DetailBrandID: fieldBrandID, schemas.DetailBrandName: fieldBrandName,
	schemas.DetailTags: fieldTags, schemas.DetailImageURLs: fieldImageURLs,
}

// ChangeOf is what event e does to its product's stored view: fields to set and
// counters to increment, at e's version. It is pure; the store applies it
// only when e.Version is newer than the view's version.
func ChangeOf(e schemas.Event) (Change, error) {
	if e.AggregateID == "" || e.Version < 1 {
		return Change{}, fmt.Errorf("%w: aggregate ID %q, version %d", ErrInvalidEvent, e.AggregateID, e.Version)
	}
	c := Change{ID: e.AggregateID, Version: e.Version}
	// Set is made once per event at its final size: Change runs for every
	// event a projection applies.
	fields := func(n int) { c.Set = make([]Field, 0, n+1) } // +1: updatedAt
	set := func(name, value string) { c.Set = append(c.Set, Field{Name: name, Value: value}) }
	missing := func() error { return fmt.Errorf("%w: %s without payload", ErrInvalidEvent, e.Type()) }

	switch d := e.Data.(type) {
	case *schemas.ProductCreated:
		if d == nil {
			return Change{}, missing()
		}
		fields(12)
		set(fieldName, d.Name)
		set(fieldDescription, d.Description)
		set(fieldPriceAmount, strconv.FormatInt(d.Price.Amount, 10))
		set(fieldPriceCurrency, d.Price.Currency)
		set(fieldCategoryID, d.CategoryID)
		set(fieldCategoryName, d.CategoryName)
		set(fieldBrandID, d.BrandID)
		set(fieldBrandName, d.BrandName)
		set(fieldTags, jsonList(d.Tags))
		set(fieldImageURLs, jsonList(d.ImageURLs))
		set(fieldStock, strconv.FormatInt(d.Stock, 10))
		set(fieldCreatedAt, FormatTime(e.Timestamp))
	case *schemas.ProductDetailsUpdated:
		if d == nil {
			return Change{}, missing()
		}
		fields(8)
		d.EachChange(func(detail schemas.ProductDetail, text string, list []string) {
			if detail == schemas.DetailTags || detail == schemas.DetailImageURLs {
				text = jsonList(list)
			}
			set(detailFields[detail], text)
		})
	case *schemas.ProductPriceChanged:
		if d == nil {
			return Change{}, missing()
		}
		fields(2)
		set(fieldPriceAmount, strconv.FormatInt(d.NewPrice.Amount, 10))
		set(fieldPriceCurrency, d.NewPrice.Currency)
	case *schemas.ProductStockChanged:
		if d == nil {
			return Change{}, missing()
		}
		fields(1)
		set(fieldStock, strconv.FormatInt(d.Quantity, 10))
	case *schemas.ProductReviewAdded:
		if d == nil {
			return Change{}, missing()
		}
		fields(0)
		c.Incr = []Incr{{Name: fieldReviewCount, By: 1}, {Name: fieldRatingSum, By: int64(d.Rating)}}
	case *schemas.ProductDiscontinued:
		if d == nil {
			return Change{}, missing()
		}
		fields(1)
		set(fieldDiscontinued, "1")
	case *schemas.CategoryRenamed:
		if d == nil {
			return Change{}, missing()
		}
		return referenceChange(e, d.Name)
	case *schemas.BrandRenamed:
		if d == nil {
			return Change{}, missing()
		}
		return referenceChange(e, d.Name)
	default:
		return Change{}, fmt.Errorf("%w: unknown event type %q", ErrInvalidEvent, e.Type())
	}
	set(fieldUpdatedAt, FormatTime(e.Timestamp))
	return c, nil
}

// referenceChange is the change of a category's or brand's event: its
// reference record, keyed by schemas.ReferenceKey, takes the name, guarded
// by the reference's version like any document.
func referenceChange(e schemas.Event, name string) (Change, error) {
	key := schemas.ReferenceKey(e.AggregateType, e.AggregateID)
	if !IsReference(key) {
		return Change{}, fmt.Errorf("%w: %s of aggregate %s %q", ErrInvalidEvent, e.Type(), e.AggregateType, e.AggregateID)
	}
	return Change{ID: key, Version: e.Version, Set: []Field{{Name: fieldRefName, Value: name}, {Name: fieldUpdatedAt, Value: FormatTime(e.Timestamp)}}}, nil
}

// jsonList is json.Marshal(s), with nil as []. Lists of plain ASCII strings
// (the usual tags and URLs) are written directly, byte for byte as
// json.Marshal would, without its reflection.
func jsonList(s []string) string {
	if s == nil {
		return "[]"
	}
	n := 2
	for _, v := range s {
		if !plainJSON(v) {
			b, _ := json.Marshal(s) // cannot fail for a []string
			return string(b)
		}
		n += len(v) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	b = append(b, ']')
	return string(b)
}

// plainJSON reports whether json.Marshal writes s as is between quotes:
// printable ASCII that it neither escapes nor HTML-escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// Decode turns a stored document into its view. Absent fields take the
// view's defaults (0, "", false, empty lists).
func Decode(d Doc) (View, error) {
	f := d.Fields
	v := View{
		ID:           d.ID,
		Version:      d.Version,
		Name:         f[fieldName],
		Description:  f[fieldDescription],
		CategoryID:   f[fieldCategoryID],
		CategoryName: f[fieldCategoryName],
		BrandID:      f[fieldBrandID],
		BrandName:    f[fieldBrandName],
		Discontinued: f[fieldDiscontinued] == "1",
		CreatedAt:    f[fieldCreatedAt],
		UpdatedAt:    f[fieldUpdatedAt],
	}
	var errs []error
	num := func(name string) int64 {
		s, ok := f[name]
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s = %q: not an integer", name, s))
		}
		return n
	}
	list := func(name string) []string {
		var l []string
		if s, ok := f[name]; ok {
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				errs = append(errs, fmt.Errorf("field %s = %q: %v", name, s, err))
			}
		}
		return l
	}
	v.Stock = num(fieldStock)
	v.ReviewCount = num(fieldReviewCount)
	v.RatingSum = num(fieldRatingSum)
	v.Tags = list(fieldTags)
	v.ImageURLs = list(fieldImageURLs)
	if cur, ok := f[fieldPriceCurrency]; ok {
		v.Price = PriceOf(schemas.Money{Amount: num(fieldPriceAmount), Currency: cur})
	}
	if err := errors.Join(errs...); err != nil {
		return View{}, fmt.Errorf("%w: product %q generation %d: %w", ErrCorrupt, d.ID, d.Generation, err)
	}
	v.derive()
	return v, nil
}
