package product_test

import (
	"reflect"
	"testing"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

type ev = []schemas.EventData

func TestDecide(t *testing.T) {
	discontinued := live()
	discontinued.Discontinued = true
	discontinued.Version = 2
	at := func(s product.State, v int64) product.State { s.Version = v; return s }
	noTags := live()
	noTags.Tags = nil

	tests := []struct {
		name  string
		state product.State
		cmd   schemas.Command
		want  []schemas.EventData
		rej   *product.Rejection
	}{
		// create
		{name: "create", cmd: cmd(validCreate()), want: ev{&schemas.ProductCreated{
			Name: "Trail Shoe", Description: "Light.\nGrippy.", Price: eur(8999),
			CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME",
			Tags: []string{"running", "trail"}, ImageURLs: []string{"https://img.example.com/shoe.jpg"}, Stock: 12,
		}}},
		{name: "create minimal", cmd: cmd(&schemas.CreateProduct{
			Name: "N", Price: eur(1), CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B",
		}), want: ev{&schemas.ProductCreated{
			Name: "N", Price: eur(1), CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B",
		}}},
		{name: "create expecting version 0", cmd: withVersion(cmd(validCreate()), 0), want: ev{&schemas.ProductCreated{
			Name: "Trail Shoe", Description: "Light.\nGrippy.", Price: eur(8999),
			CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME",
			Tags: []string{"running", "trail"}, ImageURLs: []string{"https://img.example.com/shoe.jpg"}, Stock: 12,
		}}},
		{name: "create expecting version 3", cmd: withVersion(cmd(validCreate()), 3),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + " does not exist yet: expected version 3, but it is at 0"}},
		{name: "create with a taken productId", state: live(), cmd: cmd(validCreate()),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + " already exists"}},
		{name: "create over a discontinued product", state: discontinued, cmd: cmd(validCreate()),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + " already exists"}},
		{name: "create invalid beats taken", state: live(), cmd: cmd(&schemas.CreateProduct{
			Name: "N", Price: eur(0), CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B",
		}), rej: &product.Rejection{
			Code:   schemas.RejectInvalid,
			Reason: "invalid command: price.amount: must be greater than 0",
			Fields: []product.FieldError{{Field: "price.amount", Message: "must be greater than 0"}},
		}},

		// state rules shared by every other command
		{name: "update unknown product", cmd: cmd(&schemas.UpdateProductDetails{Name: new("X")}),
			rej: &product.Rejection{Code: schemas.RejectNotFound, Reason: "product " + pid + " does not exist"}},
		{name: "update unknown product with a version", cmd: withVersion(cmd(&schemas.UpdateProductDetails{Name: new("X")}), 4),
			rej: &product.Rejection{Code: schemas.RejectNotFound, Reason: "product " + pid + " does not exist"}},
		{name: "update discontinued product", state: discontinued, cmd: cmd(&schemas.UpdateProductDetails{Name: new("X")}),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + " is discontinued"}},
		{name: "update at a stale version", state: at(live(), 5), cmd: withVersion(cmd(&schemas.UpdateProductDetails{Name: new("X")}), 4),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + ": expected version 4, but it is at 5"}},
		{name: "no-op update at a stale version", state: at(live(), 5), cmd: withVersion(cmd(&schemas.UpdateProductDetails{}), 4),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + ": expected version 4, but it is at 5"}},
		{name: "update at the expected version", state: at(live(), 5), cmd: withVersion(cmd(&schemas.UpdateProductDetails{Name: new("X")}), 5),
			want: ev{&schemas.ProductDetailsUpdated{Name: new("X")}}},
		{name: "update invalid", state: live(), cmd: cmd(&schemas.UpdateProductDetails{BrandID: new("b")}), rej: &product.Rejection{
			Code:   schemas.RejectInvalid,
			Reason: "invalid command: brandName: is required with brandId",
			Fields: []product.FieldError{{Field: "brandName", Message: "is required with brandId"}},
		}},

		// details
		{name: "update name", state: live(), cmd: cmd(&schemas.UpdateProductDetails{Name: new("Road Shoe")}),
			want: ev{&schemas.ProductDetailsUpdated{Name: new("Road Shoe")}}},
		{name: "update with nothing", state: live(), cmd: cmd(&schemas.UpdateProductDetails{})},
		{name: "update to the same values", state: live(), cmd: cmd(&schemas.UpdateProductDetails{
			Name: new("Trail Shoe"), Description: new("Light.\nGrippy."),
			Tags: []string{"running", "trail"}, ImageURLs: []string{"https://img.example.com/shoe.jpg"},
			CategoryID: new("shoes"), CategoryName: new("Shoes"), BrandID: new("acme"), BrandName: new("ACME"),
		})},
		{name: "update emits only what differs", state: live(), cmd: cmd(&schemas.UpdateProductDetails{
			Name:        new("Trail Shoe"),
			Description: new("Heavy."),
			Tags:        []string{"running", "trail"},
			ImageURLs:   []string{"https://img.example.com/a.jpg", "https://img.example.com/b.jpg"},
			BrandID:     new("acme"),
			BrandName:   new("ACME"),
		}), want: ev{&schemas.ProductDetailsUpdated{
			Description: new("Heavy."),
			ImageURLs:   []string{"https://img.example.com/a.jpg", "https://img.example.com/b.jpg"},
		}}},
		{name: "update clears tags", state: live(), cmd: cmd(&schemas.UpdateProductDetails{Tags: []string{}}),
			want: ev{&schemas.ProductDetailsUpdated{Tags: []string{}}}},
		{name: "update clears image URLs", state: live(), cmd: cmd(&schemas.UpdateProductDetails{ImageURLs: []string{}}),
			want: ev{&schemas.ProductDetailsUpdated{ImageURLs: []string{}}}},
		{name: "update clears tags already empty", state: noTags, cmd: cmd(&schemas.UpdateProductDetails{Tags: []string{}})},
		{name: "update reorders tags", state: live(), cmd: cmd(&schemas.UpdateProductDetails{Tags: []string{"trail", "running"}}),
			want: ev{&schemas.ProductDetailsUpdated{Tags: []string{"trail", "running"}}}},
		{name: "update category name only moves the pair", state: live(), cmd: cmd(&schemas.UpdateProductDetails{
			CategoryID: new("shoes"), CategoryName: new("Footwear"),
		}), want: ev{&schemas.ProductDetailsUpdated{CategoryID: new("shoes"), CategoryName: new("Footwear")}}},
		{name: "update brand ID only moves the pair", state: live(), cmd: cmd(&schemas.UpdateProductDetails{
			BrandID: new("acme-eu"), BrandName: new("ACME"),
		}), want: ev{&schemas.ProductDetailsUpdated{BrandID: new("acme-eu"), BrandName: new("ACME")}}},
		{name: "update same category and brand", state: live(), cmd: cmd(&schemas.UpdateProductDetails{
			CategoryID: new("shoes"), CategoryName: new("Shoes"), BrandID: new("acme"), BrandName: new("ACME"),
		})},

		// price
		{name: "price change", state: live(), cmd: cmd(&schemas.ChangeProductPrice{Price: eur(7999)}),
			want: ev{&schemas.ProductPriceChanged{OldPrice: eur(8999), NewPrice: eur(7999)}}},
		{name: "price unchanged", state: live(), cmd: cmd(&schemas.ChangeProductPrice{Price: eur(8999)})},
		{name: "price in another currency", state: live(), cmd: cmd(&schemas.ChangeProductPrice{Price: schemas.Money{Amount: 100, Currency: "USD"}}),
			rej: &product.Rejection{
				Code:   schemas.RejectInvalid,
				Reason: "invalid command: price.currency: must be EUR, the catalogue's currency",
				Fields: []product.FieldError{{Field: "price.currency", Message: "must be EUR, the catalogue's currency"}},
			}},
		{name: "price on unknown product", cmd: cmd(&schemas.ChangeProductPrice{Price: eur(100)}),
			rej: &product.Rejection{Code: schemas.RejectNotFound, Reason: "product " + pid + " does not exist"}},
		{name: "price on discontinued product", state: discontinued, cmd: cmd(&schemas.ChangeProductPrice{Price: eur(100)}),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + " is discontinued"}},

		// stock
		{name: "stock change", state: live(), cmd: cmd(&schemas.ChangeProductStock{Quantity: 0}),
			want: ev{&schemas.ProductStockChanged{OldQuantity: 12, Quantity: 0}}},
		{name: "stock unchanged", state: live(), cmd: cmd(&schemas.ChangeProductStock{Quantity: 12})},
		{name: "stock negative", state: live(), cmd: cmd(&schemas.ChangeProductStock{Quantity: -3}), rej: &product.Rejection{
			Code:   schemas.RejectInvalid,
			Reason: "invalid command: quantity: must be 0 or more",
			Fields: []product.FieldError{{Field: "quantity", Message: "must be 0 or more"}},
		}},
		{name: "stock on unknown product", cmd: cmd(&schemas.ChangeProductStock{Quantity: 1}),
			rej: &product.Rejection{Code: schemas.RejectNotFound, Reason: "product " + pid + " does not exist"}},
		{name: "stock at a stale version", state: at(live(), 2), cmd: withVersion(cmd(&schemas.ChangeProductStock{Quantity: 1}), 1),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + ": expected version 1, but it is at 2"}},

		// review
		{name: "review", state: live(), cmd: cmd(&schemas.AddProductReview{Rating: 4, UserID: "u1", Comment: "Good grip."}),
			want: ev{&schemas.ProductReviewAdded{ReviewID: commandID, Rating: 4, UserID: "u1", Comment: "Good grip."}}},
		{name: "review without command ID", state: live(), cmd: func() schemas.Command {
			c := cmd(&schemas.AddProductReview{Rating: 4, UserID: "u1"})
			c.ID = ""
			return c
		}(), rej: &product.Rejection{
			Code:   schemas.RejectInvalid,
			Reason: "invalid command: commandId: is required: it becomes the review's ID",
			Fields: []product.FieldError{{Field: "commandId", Message: "is required: it becomes the review's ID"}},
		}},
		{name: "review rating out of range", state: live(), cmd: cmd(&schemas.AddProductReview{Rating: 9, UserID: "u1"}), rej: &product.Rejection{
			Code:   schemas.RejectInvalid,
			Reason: "invalid command: rating: must be 1 to 5",
			Fields: []product.FieldError{{Field: "rating", Message: "must be 1 to 5"}},
		}},
		{name: "review on unknown product", cmd: cmd(&schemas.AddProductReview{Rating: 4, UserID: "u1"}),
			rej: &product.Rejection{Code: schemas.RejectNotFound, Reason: "product " + pid + " does not exist"}},
		{name: "review on discontinued product", state: discontinued, cmd: cmd(&schemas.AddProductReview{Rating: 4, UserID: "u1"}),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + " is discontinued"}},

		// discontinue
		{name: "discontinue", state: live(), cmd: cmd(&schemas.DiscontinueProduct{Reason: "recalled"}),
			want: ev{&schemas.ProductDiscontinued{Reason: "recalled"}}},
		{name: "discontinue twice", state: discontinued, cmd: cmd(&schemas.DiscontinueProduct{}),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + " is discontinued"}},
		{name: "discontinue unknown product", cmd: cmd(&schemas.DiscontinueProduct{}),
			rej: &product.Rejection{Code: schemas.RejectNotFound, Reason: "product " + pid + " does not exist"}},
		{name: "discontinue at a stale version", state: live(), cmd: withVersion(cmd(&schemas.DiscontinueProduct{}), 0),
			rej: &product.Rejection{Code: schemas.RejectConflict, Reason: "product " + pid + ": expected version 0, but it is at 1"}},

		// payloads
		{name: "no payload", state: live(), cmd: cmd(nil), rej: &product.Rejection{
			Code:   schemas.RejectInvalid,
			Reason: "invalid command: command has no payload",
			Fields: []product.FieldError{{Message: "command has no payload"}},
		}},
		{name: "unknown command type", state: live(), cmd: cmd(unknownCommand{}), rej: &product.Rejection{
			Code:   schemas.RejectInvalid,
			Reason: `invalid command: unknown command type "PaintProduct"`,
			Fields: []product.FieldError{{Message: `unknown command type "PaintProduct"`}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := product.Decide(tt.state, tt.cmd, product.Rules{})
			if !reflect.DeepEqual(rej, tt.rej) {
				t.Fatalf("Decide() rejection = %s, want %s", show(rej), show(tt.rej))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide() events = %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

// TestDecideSharesNothing makes sure that events do not alias the command:
// the decider may reuse a decoded command's buffers.
func TestDecideSharesNothing(t *testing.T) {
	c := validCreate()
	got, _ := product.Decide(product.State{}, cmd(c), product.Rules{})
	c.Tags[0], c.ImageURLs[0] = "changed", "https://changed.example.com/"
	e := got[0].(*schemas.ProductCreated)
	if e.Tags[0] != "running" || e.ImageURLs[0] != "https://img.example.com/shoe.jpg" {
		t.Errorf("ProductCreated shares its lists with the command: %s", show(e))
	}

	name := "Road Shoe"
	u := &schemas.UpdateProductDetails{Name: &name, Tags: []string{"x"}}
	got, _ = product.Decide(live(), cmd(u), product.Rules{})
	name, u.Tags[0] = "changed", "changed"
	d := got[0].(*schemas.ProductDetailsUpdated)
	if *d.Name != "Road Shoe" || d.Tags[0] != "x" {
		t.Errorf("ProductDetailsUpdated shares values with the command: %s", show(d))
	}
}

func TestRejectionError(t *testing.T) {
	_, rej := product.Decide(product.State{}, cmd(&schemas.DiscontinueProduct{}), product.Rules{})
	var err error = rej
	if got, want := err.Error(), "product: command rejected (not_found): product "+pid+" does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
