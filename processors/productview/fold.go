package productview

import (
	"slices"

	"github.com/streamview/streamview/schemas"
)

// Fold is the reference semantics of the view: v after event e. It follows
// the store's rule: an event whose version is not newer than v.Version is a
// duplicate and leaves v as it is; so does an event that Change refuses
// (ErrInvalidEvent). Fold is written apart from Change on purpose: tests compare what the
// store builds from Changes with what Fold builds, so one checks the other.
func Fold(v View, e schemas.Event) View {
	if e.Version <= v.Version || e.AggregateID == "" {
		return v
	}
	switch d := e.Data.(type) {
	case *schemas.ProductCreated:
		if d == nil {
			return v
		}
		v.Name, v.Description = d.Name, d.Description
		v.Price = PriceOf(d.Price)
		v.CategoryID, v.CategoryName = d.CategoryID, d.CategoryName
		v.BrandID, v.BrandName = d.BrandID, d.BrandName
		v.Tags, v.ImageURLs = slices.Clone(d.Tags), slices.Clone(d.ImageURLs)
		v.Stock = d.Stock
		v.CreatedAt = FormatTime(e.Timestamp)
	case *schemas.ProductDetailsUpdated:
		if d == nil {
			return v
		}
		setIf(&v.Name, d.Name)
		setIf(&v.Description, d.Description)
		setIf(&v.CategoryID, d.CategoryID)
		setIf(&v.CategoryName, d.CategoryName)
		setIf(&v.BrandID, d.BrandID)
		setIf(&v.BrandName, d.BrandName)
		if d.Tags != nil {
			v.Tags = slices.Clone(d.Tags)
		}
		if d.ImageURLs != nil {
			v.ImageURLs = slices.Clone(d.ImageURLs)
		}
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

func setIf(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}
