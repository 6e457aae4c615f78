package product_test

import (
	"fmt"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// The decider folds a product's events into a State, decides each command
// on it, and puts the payloads it gets into envelopes with the next
// versions.
func ExampleDecide() {
	const id = "0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10"
	rules := product.Rules{} // a EUR catalogue
	var s product.State      // a product that does not exist yet

	commands := []schemas.CommandData{
		&schemas.CreateProduct{
			Name: "Trail Shoe", Price: schemas.Money{Amount: 8999, Currency: "EUR"},
			CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME", Stock: 12,
		},
		&schemas.ChangeProductPrice{Price: schemas.Money{Amount: 7999, Currency: "EUR"}},
		&schemas.ChangeProductPrice{Price: schemas.Money{Amount: 7999, Currency: "EUR"}},
		&schemas.ChangeProductStock{Quantity: -1},
		&schemas.DiscontinueProduct{},
		&schemas.ChangeProductStock{Quantity: 5},
	}
	for i, data := range commands {
		c := schemas.Command{ID: fmt.Sprintf("command-%d", i+1), ProductID: id, Data: data}
		events, rej := product.Decide(s, c, rules)
		if rej != nil {
			fmt.Printf("%s: rejected, %s: %s\n", c.Type(), rej.Code, rej.Reason)
			continue
		}
		for _, e := range events {
			s = product.Evolve(s, schemas.Event{AggregateID: id, Version: s.Version + 1, Data: e})
			fmt.Printf("%s: %s, version %d\n", c.Type(), e.EventType(), s.Version)
		}
		if len(events) == 0 {
			fmt.Printf("%s: accepted, nothing changed, version %d\n", c.Type(), s.Version)
		}
	}
	fmt.Println("price:", s.Price)
	// Output:
	// CreateProduct: ProductCreated, version 1
	// ChangeProductPrice: ProductPriceChanged, version 2
	// ChangeProductPrice: accepted, nothing changed, version 2
	// ChangeProductStock: rejected, invalid: invalid command: quantity: must be 0 or more
	// DiscontinueProduct: ProductDiscontinued, version 3
	// ChangeProductStock: rejected, conflict: product 0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10 is discontinued
	// price: 79.99 EUR
}

// Check is what the API runs on a request before it publishes the command.
func ExampleCheck() {
	c := schemas.Command{
		ProductID: "0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10",
		Data:      &schemas.ChangeProductPrice{Price: schemas.Money{Amount: 1999, Currency: "USD"}},
	}
	for _, f := range product.Check(c, product.Rules{}) {
		fmt.Printf("%s: %s\n", f.Field, f.Message)
	}
	// Output:
	// price.currency: must be EUR, the catalogue's currency
}
