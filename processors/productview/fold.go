package productview

import "github.com/streamview/streamview/schemas"

// Fold is the reference semantics of the view: v after event e. It follows
// the store's rule: an event whose version is not newer than v.Version is a
// duplicate and leaves v as it is; so does an event that Change refuses
// (ErrInvalidEvent). Fold is written apart from Change on purpose: tests compare what the
// store builds from Changes with what Fold builds, so one checks the other.
// Both read the product details through schemas (ApplyTo, EachChange),
// whose own tests check that reading.
func Fold(v View, e schemas.Event) View {
	if e.Version <= v.Version || e.AggregateID == "" {
		return v
	}
	switch d := e.Data.(type) {
	case *schemas.ProductCreated:
		if d == nil {
			return v
		}
		d.ApplyTo(v.details())
		v.Price = PriceOf(d.Price)
		v.Stock = d.Stock
		v.CreatedAt = FormatTime(e.Timestamp)
	case *schemas.ProductDetailsUpdated:
		if d == nil {
			return v
		}
		d.ApplyTo(v.details())
	case *schemas.ProductPriceChanged:
		if d == nil {
			return v
		}
		v.Price = PriceOf(d.NewPrice)
	case *schemas.ProductStockChanged:
		if d == nil {
			return v
		}
		v.Stock = d.Quantity
	case *schemas.ProductReviewAdded:
		if d == nil {
			return v
		}
		v.ReviewCount++
		v.RatingSum += int64(d.Rating)
	case *schemas.ProductDiscontinued:
		if d == nil {
			return v
		}
		v.Discontinued = true
	default:
		return v
	}
	v.ID = e.AggregateID
	v.Version = e.Version
	v.UpdatedAt = FormatTime(e.Timestamp)
	v.derive()
	return v
}

// details points at v's product details, for the events that set them.
func (v *View) details() schemas.ProductDetailFields {
	return schemas.ProductDetailFields{Name: &v.Name, Description: &v.Description, CategoryID: &v.CategoryID, CategoryName: &v.CategoryName,
		BrandID: &v.BrandID, BrandName: &v.BrandName, Tags: &v.Tags, ImageURLs: &v.ImageURLs}
}
