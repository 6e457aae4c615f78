package schemas

import "slices"

// ProductDetail names one of the product details that ProductCreated sets
// and ProductDetailsUpdated may change: the texts and lists a product has
// besides its price, stock, reviews and life cycle.
type ProductDetail int

// The product details, in the order EachChange reports them.
const (
	DetailName ProductDetail = iota
	DetailDescription
	DetailCategoryID
	DetailCategoryName
	DetailBrandID
	DetailBrandName
	DetailTags      // a list
	DetailImageURLs // a list
)

// EachChange calls fn for every detail u changes, in the order of the
// Detail constants: with its text for a text detail, with its list for a
// list detail (non-nil; empty means cleared). A nil field is an unchanged
// detail and is not reported; a nil u changes nothing. This is the one
// reading of ProductDetailsUpdated's "nil means unchanged" rule: every fold
// and change of a product goes through it (or through ApplyTo, built on it).
func (u *ProductDetailsUpdated) EachChange(fn func(detail ProductDetail, text string, list []string)) {
	if u == nil {
		return
	}
	texts := [...]*string{
		DetailName: u.Name, DetailDescription: u.Description,
		DetailCategoryID: u.CategoryID, DetailCategoryName: u.CategoryName,
		DetailBrandID: u.BrandID, DetailBrandName: u.BrandName,
	}
	for d, v := range texts {
		if v != nil {
			fn(ProductDetail(d), *v, nil)
		}
	}
	if u.Tags != nil {
		fn(DetailTags, "", u.Tags)
	}
	if u.ImageURLs != nil {
		fn(DetailImageURLs, "", u.ImageURLs)
	}
}

// ProductDetailFields points at where a fold keeps each product detail. A
// nil pointer is a detail the fold does not keep (the search document has
// no image URLs, say).
type ProductDetailFields struct {
	Name, Description        *string
	CategoryID, CategoryName *string
	BrandID, BrandName       *string
	Tags, ImageURLs          *[]string
}

// set writes one detail into f. A list is copied (nil stays nil, empty
// stays empty and non-nil), so that a fold never shares a slice with an
// event.
func (f ProductDetailFields) set(detail ProductDetail, text string, list []string) {
	switch detail {
	case DetailTags, DetailImageURLs:
		dst := f.Tags
		if detail == DetailImageURLs {
			dst = f.ImageURLs
		}
		if dst != nil {
			*dst = slices.Clone(list)
		}
	default:
		texts := [...]*string{
			DetailName: f.Name, DetailDescription: f.Description,
			DetailCategoryID: f.CategoryID, DetailCategoryName: f.CategoryName,
			DetailBrandID: f.BrandID, DetailBrandName: f.BrandName,
		}
		if dst := texts[detail]; dst != nil {
			*dst = text
		}
	}
}

// ApplyTo writes every detail u changes into f and leaves the others as
// they are (see EachChange). Lists are copied: an empty list stays empty
// and non-nil.
func (u *ProductDetailsUpdated) ApplyTo(f ProductDetailFields) {
	u.EachChange(f.set)
}

// ApplyTo writes every detail c sets into f: all of them, lists copied (a
// nil list stays nil, an empty one empty and non-nil). A nil c writes
// nothing.
func (c *ProductCreated) ApplyTo(f ProductDetailFields) {
	if c == nil {
		return
	}
	for d, v := range [...]string{
		DetailName: c.Name, DetailDescription: c.Description,
		DetailCategoryID: c.CategoryID, DetailCategoryName: c.CategoryName,
		DetailBrandID: c.BrandID, DetailBrandName: c.BrandName,
	} {
		f.set(ProductDetail(d), v, nil)
	}
	f.set(DetailTags, "", c.Tags)
	f.set(DetailImageURLs, "", c.ImageURLs)
}
