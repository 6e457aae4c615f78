package schemas

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// FieldError is one problem with one field, named by its JSON path
// (data.price.amount), so that an API can point at it.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// FieldErrors collects every *FieldError in err's tree, as joined by
// Validate or wrapped by ParseEventJSON.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			walk(errors.Unwrap(err))
		}
	}
	walk(err)
	return out
}

// problems gathers every problem so that a caller can fix them all at
// once.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p *problems) uuid(field, s string) {
	switch {
	case s == "":
		p.add(field, "missing")
	case !IsUUID(s):
		p.add(field, "not a UUID: %q", s)
	}
}

func (p *problems) nonEmpty(field, s string) {
	if strings.TrimSpace(s) == "" {
		p.add(field, "missing")
	}
}

func (p *problems) price(field string, m Money) {
	if m.Amount <= 0 {
		p.add(field+".amount", "must be > 0, got %d", m.Amount)
	}
	p.currency(field+".currency", m.Currency)
}

func (p *problems) currency(field, c string) {
	if !ValidCurrency(c) {
		p.add(field, "not an ISO 4217 code (three upper-case letters): %q", c)
	}
}

func (p *problems) quantity(field string, q int64) {
	if q < 0 {
		p.add(field, "must be >= 0, got %d", q)
	}
}

func (p *problems) rating(field string, r int32) {
	if r < 1 || r > 5 {
		p.add(field, "must be 1..5, got %d", r)
	}
}

func (p problems) err() error { return errors.Join(p...) }

// Validate checks that e is a well-formed event: UUID-shaped IDs, a known
// aggregate and event type, version >= 1, a timestamp, a correlation ID, a
// causation ID (the command's UUID), and a payload within its ranges. It
// does not check business rules, which need the product's state. The
// result joins one *FieldError per problem.
func (e Event) Validate() error {
	var p problems
	p.uuid("eventId", e.ID)
	switch e.AggregateType {
	case AggregateSubscription:
		p.subscriptionID("aggregateId", e.AggregateID)
	case AggregateProduct:
		p.uuid("aggregateId", e.AggregateID)
	case AggregateCategory, AggregateBrand:
		if !ValidReferenceID(e.AggregateID) {
			p.add("aggregateId", "must be 1..64 characters of [A-Za-z0-9._-], got %q", e.AggregateID)
		}
	default:
		p.add("aggregateType", "must be one of %q, %q, %q, %q, got %q", AggregateProduct, AggregateSubscription, AggregateCategory, AggregateBrand, e.AggregateType)
		p.uuid("aggregateId", e.AggregateID)
	}
	if _, sub := e.Data.(interface{ subscriptionEvent() }); sub != (e.AggregateType == AggregateSubscription) && e.Data != nil {
		p.add("aggregateType", "%q does not go with a %s event", e.AggregateType, e.Type())
	}
	if r, ok := e.Data.(interface{ referenceEvent() string }); ok && r.referenceEvent() != e.AggregateType {
		p.add("aggregateType", "%q does not go with a %s event", e.AggregateType, e.Type())
	} else if !ok && e.Data != nil && IsReference(e.AggregateType) {
		p.add("aggregateType", "%q does not go with a %s event", e.AggregateType, e.Type())
	}
	if e.Version < 1 {
		p.add("version", "must be >= 1, got %d", e.Version)
	}
	if e.Timestamp.IsZero() {
		p.add("timestamp", "missing")
	}
	p.nonEmpty("metadata.correlationId", e.Metadata.CorrelationID)
	p.uuid("metadata.causationId", e.Metadata.CausationID)
	if isNilPointer(e.Data) {
		p.add("data", "missing")
		return p.err()
	}
	switch d := e.Data.(type) {
	case nil:
		p.add("eventType", "missing")
	case *ProductCreated:
		p.created("data.", d.Name, d.Price, d.Stock)
	case *ProductDetailsUpdated:
		p.details("data.", *d)
	case *ProductPriceChanged:
		p.price("data.oldPrice", d.OldPrice)
		p.price("data.newPrice", d.NewPrice)
	case *ProductStockChanged:
		p.quantity("data.oldQuantity", d.OldQuantity)
		p.quantity("data.quantity", d.Quantity)
	case *ProductReviewAdded:
		p.uuid("data.reviewId", d.ReviewID)
		p.rating("data.rating", d.Rating)
		p.nonEmpty("data.userId", d.UserID)
	case *ProductDiscontinued:
	case *SubscriptionCreated:
		p.uuid("data.productId", d.ProductID)
		p.subscription("data.", d.URL, d.Events, d.Secret)
		if pid, _ := SubscriptionProduct(e.AggregateID); pid != "" && pid != d.ProductID {
			p.add("data.productId", "is not the product of subscription %s", e.AggregateID)
		}
	case *SubscriptionDeleted:
		p.uuid("data.productId", d.ProductID)
	case *CategoryRenamed:
		p.nonEmpty("data.name", d.Name)
	case *BrandRenamed:
		p.nonEmpty("data.name", d.Name)
	default:
		p.add("eventType", "unknown event type %q", e.Type())
	}
	return p.err()
}

// Validate checks that c is a well-formed command: UUID-shaped command and
// product IDs, a known command type, an issue time, a correlation ID, an
// expected version >= 1 when set, and a payload within its ranges. The
// result joins one *FieldError per problem.
func (c Command) Validate() error {
	var p problems
	p.uuid("commandId", c.ID)
	if r, ok := c.Data.(interface{ referenceCommand() string }); ok {
		// A reference command's key is its aggregate's: "category:<id>".
		if typ, _, ok := ParseReferenceKey(c.ProductID); !ok || typ != r.referenceCommand() {
			p.add("productId", "must be the key %q of a %s (1..64 characters of [A-Za-z0-9._-]), got %q",
				ReferenceKey(r.referenceCommand(), "<id>"), r.referenceCommand(), c.ProductID)
		}
	} else {
		p.uuid("productId", c.ProductID)
	}
	if c.IssuedAt.IsZero() {
		p.add("issuedAt", "missing")
	}
	p.nonEmpty("metadata.correlationId", c.Metadata.CorrelationID)
	if c.ExpectedVersion != nil && *c.ExpectedVersion < 1 {
		p.add("expectedVersion", "must be >= 1, got %d", *c.ExpectedVersion)
	}
	if isNilPointer(c.Data) {
		p.add("data", "missing")
		return p.err()
	}
	switch d := c.Data.(type) {
	case nil:
		p.add("commandType", "missing")
	case *CreateProduct:
		p.created("data.", d.Name, d.Price, d.Stock)
	case *UpdateProductDetails:
		p.details("data.", ProductDetailsUpdated(*d))
	case *ChangeProductPrice:
		p.price("data.price", d.Price)
	case *ChangeProductStock:
		p.quantity("data.quantity", d.Quantity)
	case *AddProductReview:
		p.rating("data.rating", d.Rating)
		p.nonEmpty("data.userId", d.UserID)
	case *DiscontinueProduct:
	case *CreateSubscription:
		p.subscriptionID("data.subscriptionId", d.SubscriptionID)
		p.subscription("data.", d.URL, d.Events, d.Secret)
	case *DeleteSubscription:
		p.subscriptionID("data.subscriptionId", d.SubscriptionID)
	case *RenameCategory:
		p.nonEmpty("data.name", d.Name)
	case *RenameBrand:
		p.nonEmpty("data.name", d.Name)
	default:
		p.add("commandType", "unknown command type %q", c.Type())
	}
	return p.err()
}

func (p *problems) created(prefix, name string, price Money, stock int64) {
	p.nonEmpty(prefix+"name", name)
	p.price(prefix+"price", price)
	p.quantity(prefix+"stock", stock)
}

// details checks a partial update: something must change, a name must not
// be blank, and category and brand change as ID and name pairs.
func (p *problems) details(prefix string, d ProductDetailsUpdated) {
	if d.Name == nil && d.Description == nil && d.Tags == nil && d.ImageURLs == nil &&
		d.CategoryID == nil && d.CategoryName == nil && d.BrandID == nil && d.BrandName == nil {
		p.add(prefix[:len(prefix)-1], "no field to change")
	}
	if d.Name != nil {
		p.nonEmpty(prefix+"name", *d.Name)
	}
	if (d.CategoryID == nil) != (d.CategoryName == nil) {
		p.add(prefix+"categoryId", "categoryId and categoryName change together")
	}
	if (d.BrandID == nil) != (d.BrandName == nil) {
		p.add(prefix+"brandId", "brandId and brandName change together")
	}
}

// isNilPointer catches a typed nil payload, such as (*ProductCreated)(nil).
func isNilPointer(x any) bool {
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
