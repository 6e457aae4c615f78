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
		d.ApplyTo(s.details())
		s.Price = d.Price
		s.Stock = d.Stock
		s.emptyListsNil()
	case *schemas.ProductDetailsUpdated:
		if d == nil {
			break
		}
		d.ApplyTo(s.details())
		s.emptyListsNil()
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

// details points at s's product details, for the events that set them.
func (s *State) details() schemas.ProductDetailFields {
	return schemas.ProductDetailFields{Name: &s.Name, Description: &s.Description, CategoryID: &s.CategoryID, CategoryName: &s.CategoryName,
		BrandID: &s.BrandID, BrandName: &s.BrandName, Tags: &s.Tags, ImageURLs: &s.ImageURLs}
}

// emptyListsNil turns empty lists into nil (see State).
func (s *State) emptyListsNil() {
	if len(s.Tags) == 0 {
		s.Tags = nil
	}
	if len(s.ImageURLs) == 0 {
		s.ImageURLs = nil
	}
}
