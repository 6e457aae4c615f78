package product

import (
	"fmt"
	"slices"
	"strings"

	"github.com/streamview/streamview/schemas"
)

// DefaultCurrency is the catalogue currency when Rules.Currency is empty.
const DefaultCurrency = "EUR"

// Rules configures the aggregate for one catalogue. The zero value is a
// catalogue priced in EUR.
type Rules struct {
	// Currency is the ISO 4217 code every price must be in. Default
	// DefaultCurrency.
	Currency string
	// ReferenceIDs holds a new command's categoryId and brandId to what
	// reference data takes (1..64 of [A-Za-z0-9._-]), so that a rename can
	// reach the product: the API's rule. The decider leaves it off, and
	// takes commands an earlier API accepted (1..200 characters, one
	// line), as they may be in the commands topic still.
	ReferenceIDs bool
}

// Validate reports a Currency that is not an ISO 4217 code.
func (r Rules) Validate() error {
	if r.Currency != "" && !schemas.ValidCurrency(r.Currency) {
		return fmt.Errorf("product rules: currency %q is not an ISO 4217 code", r.Currency)
	}
	return nil
}

func (r Rules) currency() string {
	if r.Currency == "" {
		return DefaultCurrency
	}
	return r.Currency
}

// Rejection is why a command was refused. It is an outcome, not a failure:
// the decider writes it as the command's result and produces no event.
type Rejection struct {
	// Code is schemas.RejectNotFound, RejectConflict or RejectInvalid; the
	// API answers 404, 409 or 422.
	Code string
	// Reason is for a person. For RejectInvalid it names every field, since
	// a command result carries the reason only.
	Reason string
	// Fields lists the broken stateless rules (RejectInvalid only).
	Fields []FieldError
}

func (r *Rejection) Error() string { return "product: command rejected (" + r.Code + "): " + r.Reason }

// Decide returns the payloads of the events that c yields on a product in
// state s, in order, or why c is refused. The caller puts them in envelopes
// with versions s.Version+1, s.Version+2, …
//
// An accepted command may yield no event at all when it would change
// nothing (see the package documentation); the product stays at s.Version.
// Rules are checked in this order: Check and, for a review, a command ID
// (invalid); then existence (not_found, or conflict for a create);
// discontinuation (conflict); c.ExpectedVersion (conflict).
func Decide(s State, c schemas.Command, cfg Rules) ([]schemas.EventData, *Rejection) {
	if errs := Check(c, cfg); len(errs) > 0 {
		return nil, invalid(errs)
	}
	if _, review := c.Data.(*schemas.AddProductReview); review && c.ID == "" {
		// Not in Check: the API may check a request before it has named the
		// command, and only a review needs the name.
		return nil, invalid([]FieldError{{Field: "commandId", Message: "is required: it becomes the review's ID"}})
	}
	if r := guard(s, c); r != nil {
		return nil, r
	}
	switch d := c.Data.(type) {
	case *schemas.CreateProduct:
		return []schemas.EventData{&schemas.ProductCreated{
			Name:         d.Name,
			Description:  d.Description,
			Price:        d.Price,
			CategoryID:   d.CategoryID,
			CategoryName: d.CategoryName,
			BrandID:      d.BrandID,
			BrandName:    d.BrandName,
			Tags:         slices.Clone(d.Tags),
			ImageURLs:    slices.Clone(d.ImageURLs),
			Stock:        d.Stock,
		}}, nil
	case *schemas.UpdateProductDetails:
		if e := detailsChanges(s, d); e != nil {
			return []schemas.EventData{e}, nil
		}
		return nil, nil
	case *schemas.ChangeProductPrice:
		if d.Price == s.Price {
			return nil, nil
		}
		return []schemas.EventData{&schemas.ProductPriceChanged{OldPrice: s.Price, NewPrice: d.Price}}, nil
	case *schemas.ChangeProductStock:
		if d.Quantity == s.Stock {
			return nil, nil
		}
		return []schemas.EventData{&schemas.ProductStockChanged{OldQuantity: s.Stock, Quantity: d.Quantity}}, nil
	case *schemas.AddProductReview:
		return []schemas.EventData{&schemas.ProductReviewAdded{
			ReviewID: c.ID,
			Rating:   d.Rating,
			UserID:   d.UserID,
			Comment:  d.Comment,
		}}, nil
	case *schemas.DiscontinueProduct:
		return []schemas.EventData{&schemas.ProductDiscontinued{Reason: d.Reason}}, nil
	}
	// Unreachable: Check refuses every other payload.
	return nil, invalid([]FieldError{{Message: "unknown command type"}})
}

// guard applies the rules that need the product's state.
func guard(s State, c schemas.Command) *Rejection {
	if _, create := c.Data.(*schemas.CreateProduct); create {
		if s.Exists {
			return conflict("product %s already exists", c.ProductID)
		}
		if v := c.ExpectedVersion; v != nil && *v != 0 {
			return conflict("product %s does not exist yet: expected version %d, but it is at 0", c.ProductID, *v)
		}
		return nil
	}
	if !s.Exists {
		return &Rejection{Code: schemas.RejectNotFound, Reason: fmt.Sprintf("product %s does not exist", c.ProductID)}
	}
	if s.Discontinued {
		return conflict("product %s is discontinued", c.ProductID)
	}
	if v := c.ExpectedVersion; v != nil && *v != s.Version {
		return conflict("product %s: expected version %d, but it is at %d", c.ProductID, *v, s.Version)
	}
	return nil
}

// detailsChanges is the event for the fields of d that differ from s, or
// nil when none does.
func detailsChanges(s State, d *schemas.UpdateProductDetails) *schemas.ProductDetailsUpdated {
	var e schemas.ProductDetailsUpdated
	changed := false
	if d.Name != nil && *d.Name != s.Name {
		e.Name, changed = new(*d.Name), true
	}
	if d.Description != nil && *d.Description != s.Description {
		e.Description, changed = new(*d.Description), true
	}
	// nil means unchanged; an empty list clears, so it must stay non-nil.
	if d.Tags != nil && !slices.Equal(d.Tags, s.Tags) {
		e.Tags, changed = append([]string{}, d.Tags...), true
	}
	if d.ImageURLs != nil && !slices.Equal(d.ImageURLs, s.ImageURLs) {
		e.ImageURLs, changed = append([]string{}, d.ImageURLs...), true
	}
	// Check has made sure that IDs and names come in pairs; a pair moves
	// as a whole when either half differs.
	if d.CategoryID != nil && (*d.CategoryID != s.CategoryID || *d.CategoryName != s.CategoryName) {
		e.CategoryID, e.CategoryName, changed = new(*d.CategoryID), new(*d.CategoryName), true
	}
	if d.BrandID != nil && (*d.BrandID != s.BrandID || *d.BrandName != s.BrandName) {
		e.BrandID, e.BrandName, changed = new(*d.BrandID), new(*d.BrandName), true
	}
	if !changed {
		return nil
	}
	return &e
}

func conflict(format string, args ...any) *Rejection {
	return &Rejection{Code: schemas.RejectConflict, Reason: fmt.Sprintf(format, args...)}
}

func invalid(errs []FieldError) *Rejection {
	msgs := make([]string, len(errs))
	for i, f := range errs {
		msgs[i] = f.String()
	}
	return &Rejection{Code: schemas.RejectInvalid, Reason: "invalid command: " + strings.Join(msgs, "; "), Fields: errs}
}
