package product_test

import (
	"reflect"
	"testing"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// unknownEvent is an event type from a newer producer.
type unknownEvent struct{}

func (unknownEvent) EventType() string { return "ProductRepainted" }

func TestEvolve(t *testing.T) {
	edit := func(f func(*product.State)) product.State {
		s := live()
		s.Version = 2
		f(&s)
		return s
	}
	tests := []struct {
		name  string
		state product.State
		data  schemas.EventData
		want  product.State
	}{
		{name: "created", data: &schemas.ProductCreated{
			Name: "Trail Shoe", Description: "Light.\nGrippy.", Price: eur(8999),
			CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME",
			Tags: []string{"running", "trail"}, ImageURLs: []string{"https://img.example.com/shoe.jpg"}, Stock: 12,
		}, want: edit(func(s *product.State) {})},
		{name: "created with empty lists keeps them nil", data: &schemas.ProductCreated{
			Name: "N", Price: eur(1), Tags: []string{}, ImageURLs: []string{},
		}, want: product.State{Exists: true, Version: 2, Name: "N", Price: eur(1)}},
		{name: "details: nothing", state: live(), data: &schemas.ProductDetailsUpdated{}, want: edit(func(*product.State) {})},
		{name: "details: every field", state: live(), data: &schemas.ProductDetailsUpdated{
			Name: new("Road Shoe"), Description: new(""), Tags: []string{"road"}, ImageURLs: []string{"https://img.example.com/r.jpg"},
			CategoryID: new("c"), CategoryName: new("C"), BrandID: new("b"), BrandName: new("B"),
		}, want: edit(func(s *product.State) {
			s.Name, s.Description = "Road Shoe", ""
			s.Tags, s.ImageURLs = []string{"road"}, []string{"https://img.example.com/r.jpg"}
			s.CategoryID, s.CategoryName, s.BrandID, s.BrandName = "c", "C", "b", "B"
		})},
		{name: "details: cleared lists", state: live(), data: &schemas.ProductDetailsUpdated{Tags: []string{}, ImageURLs: []string{}},
			want: edit(func(s *product.State) { s.Tags, s.ImageURLs = nil, nil })},
		{name: "price changed", state: live(), data: &schemas.ProductPriceChanged{OldPrice: eur(8999), NewPrice: eur(100)},
			want: edit(func(s *product.State) { s.Price = eur(100) })},
		{name: "stock changed", state: live(), data: &schemas.ProductStockChanged{OldQuantity: 12, Quantity: 3},
			want: edit(func(s *product.State) { s.Stock = 3 })},
		{name: "review added moves the version only", state: live(), data: &schemas.ProductReviewAdded{ReviewID: "r", Rating: 5, UserID: "u"},
			want: edit(func(*product.State) {})},
		{name: "discontinued", state: live(), data: &schemas.ProductDiscontinued{Reason: "recalled"},
			want: edit(func(s *product.State) { s.Discontinued = true })},
		{name: "unknown event moves the version only", state: live(), data: unknownEvent{}, want: edit(func(*product.State) {})},
		{name: "no payload moves the version only", state: live(), data: nil, want: edit(func(*product.State) {})},
		{name: "typed nil payload moves the version only", state: live(), data: (*schemas.ProductPriceChanged)(nil),
			want: edit(func(*product.State) {})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := product.Evolve(tt.state, schemas.Event{Version: 2, Data: tt.data})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Evolve() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestEvolveSharesNothing(t *testing.T) {
	e := &schemas.ProductCreated{Name: "N", Tags: []string{"a"}, ImageURLs: []string{"https://x.example/"}}
	s := product.Evolve(product.State{}, schemas.Event{Version: 1, Data: e})
	e.Tags[0], e.ImageURLs[0] = "changed", "changed"
	if s.Tags[0] != "a" || s.ImageURLs[0] != "https://x.example/" {
		t.Errorf("State shares its lists with the event: %+v", s)
	}
}

// TestFold decides a product's life command by command, folds the events
// Decide returns, and checks the state at the end.
func TestFold(t *testing.T) {
	cmds := []schemas.Command{
		cmd(validCreate()),
		cmd(&schemas.ChangeProductPrice{Price: eur(7999)}),
		cmd(&schemas.ChangeProductPrice{Price: eur(7999)}), // no-op
		cmd(&schemas.UpdateProductDetails{Name: new("Trail Shoe 2"), Tags: []string{}, BrandID: new("acme"), BrandName: new("Acme Corp")}),
		cmd(&schemas.ChangeProductStock{Quantity: 3}),
		cmd(&schemas.AddProductReview{Rating: 5, UserID: "u1"}),
		withVersion(cmd(&schemas.ChangeProductStock{Quantity: 2}), 5),
		withVersion(cmd(&schemas.ChangeProductStock{Quantity: 1}), 5), // stale
		cmd(&schemas.DiscontinueProduct{Reason: "end of line"}),
		cmd(&schemas.ChangeProductStock{Quantity: 0}), // discontinued
	}
	wantEvents := []int{1, 1, 0, 1, 1, 1, 1, 0, 1, 0}
	wantRejected := []bool{false, false, false, false, false, false, false, true, false, true}

	var s product.State
	for i, c := range cmds {
		data, rej := product.Decide(s, c, product.Rules{})
		if (rej != nil) != wantRejected[i] || len(data) != wantEvents[i] {
			t.Fatalf("command %d (%s): %d events, rejection %v; want %d events, rejected %v",
				i, c.Type(), len(data), rej, wantEvents[i], wantRejected[i])
		}
		for _, e := range envelope(s, data) {
			s = product.Evolve(s, e)
		}
	}
	want := product.State{
		Exists:       true,
		Discontinued: true,
		Version:      7,
		Name:         "Trail Shoe 2",
		Description:  "Light.\nGrippy.",
		Price:        eur(7999),
		CategoryID:   "shoes",
		CategoryName: "Shoes",
		BrandID:      "acme",
		BrandName:    "Acme Corp",
		ImageURLs:    []string{"https://img.example.com/shoe.jpg"},
		Stock:        2,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("folded state =\n%+v\nwant\n%+v", s, want)
	}
}
