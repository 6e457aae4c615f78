package schemas

import (
	"slices"
	"testing"
	"time"
)

func fields(err error) []string {
	var out []string
	for _, fe := range FieldErrors(err) {
		out = append(out, fe.Field)
	}
	slices.Sort(out)
	return out
}

func TestSamplesAreValid(t *testing.T) {
	for _, tc := range sampleEvents {
		if err := tc.e.Validate(); err != nil {
			t.Errorf("event %s: %v", tc.name, err)
		}
	}
	for _, tc := range sampleCommands {
		if err := tc.c.Validate(); err != nil {
			t.Errorf("command %s: %v", tc.name, err)
		}
	}
}

func TestEventValidate(t *testing.T) {
	created := func(f func(*ProductCreated)) Event {
		d := &ProductCreated{Name: "Kettle", Price: eur(100), Tags: []string{}, ImageURLs: []string{}}
		f(d)
		return event(1, d)
	}
	tests := []struct {
		name string
		e    Event
		want []string
	}{
		{"zero event", Event{}, []string{"aggregateId", "aggregateType", "eventId", "eventType", "metadata.causationId", "metadata.correlationId", "timestamp", "version"}},
		{"bad envelope", func() Event {
			e := created(func(*ProductCreated) {})
			e.ID, e.AggregateID, e.AggregateType, e.Version = "42", "not-a-uuid", "Order", 0
			e.Metadata.CausationID = ""
			e.Timestamp = time.Time{}
			return e
		}(), []string{"aggregateId", "aggregateType", "eventId", "metadata.causationId", "timestamp", "version"}},
		{"typed nil data", event(1, (*ProductCreated)(nil)), []string{"data"}},
		{"created: blank name, free, negative stock", created(func(d *ProductCreated) {
			d.Name, d.Price.Amount, d.Stock = " ", 0, -1
		}), []string{"data.name", "data.price.amount", "data.stock"}},
		{"created: bad currency", created(func(d *ProductCreated) { d.Price.Currency = "eur" }), []string{"data.price.currency"}},
		{"details: nothing to change", event(2, &ProductDetailsUpdated{}), []string{"data"}},
		{"details: half a category, empty name", event(2, &ProductDetailsUpdated{Name: ptr(""), CategoryID: ptr("c"), BrandName: ptr("b")}),
			[]string{"data.brandId", "data.categoryId", "data.name"}},
		{"price: negative old, missing currency", event(3, &ProductPriceChanged{OldPrice: eur(-5), NewPrice: Money{Amount: 5}}),
			[]string{"data.newPrice.currency", "data.oldPrice.amount"}},
		{"stock: negative", event(4, &ProductStockChanged{OldQuantity: -1, Quantity: -2}), []string{"data.oldQuantity", "data.quantity"}},
		{"review: rating 0, no user, bad review ID", event(5, &ProductReviewAdded{ReviewID: "r1", Rating: 0}),
			[]string{"data.rating", "data.reviewId", "data.userId"}},
		{"review: rating 6", event(5, &ProductReviewAdded{ReviewID: reviewID, Rating: 6, UserID: "u"}), []string{"data.rating"}},
		{"foreign type", event(1, &foreignData{}), []string{"eventType"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.e.Validate()
			if got := fields(err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields %v, want %v\nerr: %v", got, tc.want, err)
			}
		})
	}
}

func TestCommandValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Command
		want []string
	}{
		{"zero command", Command{}, []string{"commandId", "commandType", "issuedAt", "metadata.correlationId", "productId"}},
		{"expected version 0", command(ptr[int64](0), &DiscontinueProduct{}), []string{"expectedVersion"}},
		{"create: everything wrong", command(nil, &CreateProduct{Price: Money{Amount: -1, Currency: "EURO"}, Stock: -3}),
			[]string{"data.name", "data.price.amount", "data.price.currency", "data.stock"}},
		{"update: nothing", command(nil, &UpdateProductDetails{}), []string{"data"}},
		{"update: brand without name", command(nil, &UpdateProductDetails{BrandID: ptr("b")}), []string{"data.brandId"}},
		{"price: zero", command(nil, &ChangeProductPrice{Price: eur(0)}), []string{"data.price.amount"}},
		{"stock: negative", command(nil, &ChangeProductStock{Quantity: -1}), []string{"data.quantity"}},
		{"review: rating 9, no user", command(nil, &AddProductReview{Rating: 9}), []string{"data.rating", "data.userId"}},
		{"typed nil data", command(nil, (*ChangeProductStock)(nil)), []string{"data"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if got := fields(err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields %v, want %v\nerr: %v", got, tc.want, err)
			}
		})
	}
}

func TestReferenceCommandKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		data CommandData
		ok   bool
	}{
		{"category", "category:books", &RenameCategory{Name: "Books"}, true},
		{"brand", "brand:a.b-c_9", &RenameBrand{Name: "ABC"}, true},
		{"brand key on a category", "brand:books", &RenameCategory{Name: "Books"}, false},
		{"uuid key", productID, &RenameCategory{Name: "Books"}, false},
		{"bad id", "category:a b", &RenameCategory{Name: "Books"}, false},
		{"empty id", "category:", &RenameCategory{Name: "Books"}, false},
		{"reference key on a product command", "category:books", &DiscontinueProduct{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := command(nil, tc.data)
			c.ProductID = tc.key
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
	if typ, id, ok := ParseReferenceKey(ReferenceKey(AggregateBrand, "x.y")); !ok || typ != AggregateBrand || id != "x.y" {
		t.Fatalf("ParseReferenceKey(brand:x.y) = %q, %q, %v", typ, id, ok)
	}
	if _, _, ok := ParseReferenceKey(productID); ok {
		t.Fatal("ParseReferenceKey took a product ID for a reference key")
	}
}
