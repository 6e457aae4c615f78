package product

import "github.com/streamview/streamview/schemas"

// State is what Decide needs to know about one product: a fold of its
// events by Evolve. The zero State is a product that does not exist.
//
// Tags and ImageURLs are nil when empty, whatever the events carried, so
// that two folds to the same product are reflect.DeepEqual.
type State struct {
	Exists       bool
	Discontinued bool
	// Version is the version of the last applied event; 0 before any.
	Version int64

	Name         string
	Description  string
	Price        schemas.Money
	CategoryID   string
	CategoryName string
	BrandID      string
	BrandName    string
	Tags         []string
	ImageURLs    []string
	Stock        int64
}

// Evolve returns s with e applied and s.Version set to e.Version. An event
// type it does not know only moves the version, so that a newer producer's
// events do not stop an older reader's fold. s is not modified and the
// result shares no slices with e.
func Evolve(s State, e schemas.Event) State {
	s.Version = e.Version
	switch d := e.Data.(type) {
	case *schemas.ProductCreated:
		if d == nil {
			break
		}
		s.Exists = true
		s.Name = d.Name
		s.Description = d.Description
		s.Price = d.Price
		s.CategoryID, s.CategoryName = d.CategoryID, d.CategoryName
		s.BrandID, s.BrandName = d.BrandID, d.BrandName
		s.Tags = cloneList(d.Tags)
		s.ImageURLs = cloneList(d.ImageURLs)
		s.Stock = d.Stock
	case *schemas.ProductDetailsUpdated:
		if d == nil {
			break
		}
		setIf(&s.Name, d.Name)
		setIf(&s.Description, d.Description)
		setIf(&s.CategoryID, d.CategoryID)
		setIf(&s.CategoryName, d.CategoryName)
		setIf(&s.BrandID, d.BrandID)
		setIf(&s.BrandName, d.BrandName)
		if d.Tags != nil {
			s.Tags = cloneList(d.Tags)
		}
		if d.ImageURLs != nil {
			s.ImageURLs = cloneList(d.ImageURLs)
		}
	case *schemas.ProductPriceChanged:
		if d != nil {
			s.Price = d.NewPrice
		}
	case *schemas.ProductStockChanged:
		if d != nil {
			s.Stock = d.Quantity
		}
	case *schemas.ProductDiscontinued:
		if d != nil {
			s.Discontinued = true
		}
	}
	// ProductReviewAdded changes nothing a decision needs.
	return s
}

func setIf(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// cloneList copies l, turning an empty list into nil.
func cloneList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return append([]string(nil), l...)
}
