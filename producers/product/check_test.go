package product_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

type fe = product.FieldError

// unknownCommand is a payload type the aggregate does not know.
type unknownCommand struct{}

func (unknownCommand) CommandType() string { return "PaintProduct" }

func TestCheck(t *testing.T) {
	create := func(edit func(*schemas.CreateProduct)) schemas.Command {
		d := validCreate()
		edit(d)
		return cmd(d)
	}
	update := func(u schemas.UpdateProductDetails) schemas.Command { return cmd(&u) }
	list := func(n int, item func(i int) string) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = item(i)
		}
		return l
	}
	tags := func(n int) []string { return list(n, func(i int) string { return "t" + strings.Repeat("x", i) }) }
	urls := func(n int) []string {
		return list(n, func(i int) string { return "https://img.example.com/" + strings.Repeat("x", i+1) + ".jpg" })
	}
	long := func(n int) string { return strings.Repeat("é", n) } // 2 bytes, 1 rune
	refIDs := product.Rules{ReferenceIDs: true}

	tests := []struct {
		name  string
		rules product.Rules
		cmd   schemas.Command
		want  []product.FieldError
	}{
		// envelope
		{name: "productId missing", cmd: func() schemas.Command { c := cmd(validCreate()); c.ProductID = ""; return c }(),
			want: []fe{{"productId", "is required"}}},
		{name: "productId not a UUID", cmd: func() schemas.Command { c := cmd(validCreate()); c.ProductID = "p-1"; return c }(),
			want: []fe{{"productId", "must be a UUID"}}},
		{name: "productId UUID without hyphens", cmd: func() schemas.Command {
			c := cmd(validCreate())
			c.ProductID = strings.ReplaceAll(pid, "-", "") + "xxxx"
			return c
		}(), want: []fe{{"productId", "must be a UUID"}}},
		{name: "productId upper-case UUID", cmd: func() schemas.Command { c := cmd(validCreate()); c.ProductID = strings.ToUpper(pid); return c }()},
		{name: "no payload", cmd: cmd(nil), want: []fe{{"", "command has no payload"}}},
		{name: "typed nil payload", cmd: cmd((*schemas.ChangeProductPrice)(nil)), want: []fe{{"", "command has no payload"}}},
		{name: "unknown command type", cmd: cmd(unknownCommand{}), want: []fe{{"", `unknown command type "PaintProduct"`}}},

		// create
		{name: "create valid", cmd: cmd(validCreate())},
		{name: "create minimal", cmd: create(func(d *schemas.CreateProduct) {
			d.Description, d.Tags, d.ImageURLs, d.Stock = "", nil, nil, 0
		})},
		{name: "create name missing", cmd: create(func(d *schemas.CreateProduct) { d.Name = "" }),
			want: []fe{{"name", "is required"}}},
		{name: "create name blank", cmd: create(func(d *schemas.CreateProduct) { d.Name = " \t " }),
			want: []fe{{"name", "must not be blank"}}},
		{name: "create name 200 runes", cmd: create(func(d *schemas.CreateProduct) { d.Name = long(200) })},
		{name: "create name 201 runes", cmd: create(func(d *schemas.CreateProduct) { d.Name = long(201) }),
			want: []fe{{"name", "must be 1 to 200 characters long, not 201"}}},
		{name: "create name with line break", cmd: create(func(d *schemas.CreateProduct) { d.Name = "Trail\nShoe" }),
			want: []fe{{"name", "must not contain control characters"}}},
		{name: "create name not UTF-8", cmd: create(func(d *schemas.CreateProduct) { d.Name = "Trail \xff" }),
			want: []fe{{"name", "must be valid UTF-8"}}},
		{name: "create description 5000 runes", cmd: create(func(d *schemas.CreateProduct) { d.Description = long(5000) })},
		{name: "create description 5001 runes", cmd: create(func(d *schemas.CreateProduct) { d.Description = long(5001) }),
			want: []fe{{"description", "must be at most 5000 characters long, not 5001"}}},
		{name: "create description with NUL", cmd: create(func(d *schemas.CreateProduct) { d.Description = "a\x00b" }),
			want: []fe{{"description", "must not contain control characters"}}},
		{name: "create price missing", cmd: create(func(d *schemas.CreateProduct) { d.Price = schemas.Money{} }),
			want: []fe{{"price", "is required"}}},
		{name: "create price zero", cmd: create(func(d *schemas.CreateProduct) { d.Price = eur(0) }),
			want: []fe{{"price.amount", "must be greater than 0"}}},
		{name: "create price negative", cmd: create(func(d *schemas.CreateProduct) { d.Price = eur(-1) }),
			want: []fe{{"price.amount", "must be greater than 0"}}},
		{name: "create price currency missing", cmd: create(func(d *schemas.CreateProduct) { d.Price = schemas.Money{Amount: 100} }),
			want: []fe{{"price.currency", "is required"}}},
		{name: "create price in another currency", cmd: create(func(d *schemas.CreateProduct) { d.Price.Currency = "USD" }),
			want: []fe{{"price.currency", "must be EUR, the catalogue's currency"}}},
		{name: "create price in the configured currency", rules: product.Rules{Currency: "USD"},
			cmd: create(func(d *schemas.CreateProduct) { d.Price.Currency = "USD" })},
		{name: "create EUR price in a USD catalogue", rules: product.Rules{Currency: "USD"}, cmd: cmd(validCreate()),
			want: []fe{{"price.currency", "must be USD, the catalogue's currency"}}},
		{name: "create category and brand missing", cmd: create(func(d *schemas.CreateProduct) {
			d.CategoryID, d.CategoryName, d.BrandID, d.BrandName = "", " ", "", ""
		}), want: []fe{
			{"categoryId", "is required"}, {"categoryName", "must not be blank"},
			{"brandId", "is required"}, {"brandName", "is required"},
		}},
		// The decider's rules (no ReferenceIDs): what earlier APIs took.
		{name: "create category and brand 200 runes", cmd: create(func(d *schemas.CreateProduct) {
			d.CategoryID, d.CategoryName, d.BrandID, d.BrandName = long(200), long(200), long(200), long(200)
		})},
		{name: "create category and brand 201 runes", cmd: create(func(d *schemas.CreateProduct) {
			d.CategoryID, d.CategoryName, d.BrandID, d.BrandName = long(201), long(201), long(201), long(201)
		}), want: []fe{
			{"categoryId", "must be 1 to 200 characters long, not 201"},
			{"categoryName", "must be 1 to 200 characters long, not 201"},
			{"brandId", "must be 1 to 200 characters long, not 201"},
			{"brandName", "must be 1 to 200 characters long, not 201"},
		}},
		{name: "create category and brand IDs of an earlier API", cmd: create(func(d *schemas.CreateProduct) { d.CategoryID, d.BrandID = "Home & Garden", "brand/1" })},
		// The API's (ReferenceIDs): IDs reference data can take.
		{name: "create category and brand at their limits", rules: refIDs, cmd: create(func(d *schemas.CreateProduct) {
			d.CategoryID, d.CategoryName, d.BrandID, d.BrandName = strings.Repeat("a", 64), long(200), strings.Repeat("Z.9_-", 12), long(200)
		})},
		{name: "create category and brand past their limits", rules: refIDs, cmd: create(func(d *schemas.CreateProduct) {
			d.CategoryID, d.CategoryName, d.BrandID, d.BrandName = strings.Repeat("a", 65), long(201), strings.Repeat("b", 65), long(201)
		}), want: []fe{
			{"categoryId", "must be 1 to 64 characters long, not 65"},
			{"categoryName", "must be 1 to 200 characters long, not 201"},
			{"brandId", "must be 1 to 64 characters long, not 65"},
			{"brandName", "must be 1 to 200 characters long, not 201"},
		}},
		// A rename reaches a product through its categoryId and brandId:
		// they must be IDs that reference data can take.
		{name: "create category and brand IDs reference data refuses", rules: refIDs, cmd: create(func(d *schemas.CreateProduct) {
			d.CategoryID, d.BrandID = "bad id!", "brand/1"
		}), want: []fe{
			{"categoryId", "must be characters of [A-Za-z0-9._-], and not . or .., as a category's or brand's ID is (PUT /v1/categories/{id}, /v1/brands/{id})"},
			{"brandId", "must be characters of [A-Za-z0-9._-], and not . or .., as a category's or brand's ID is (PUT /v1/categories/{id}, /v1/brands/{id})"},
		}},
		{name: "create dot-segment IDs no URL can hold", rules: refIDs, cmd: create(func(d *schemas.CreateProduct) {
			d.CategoryID, d.BrandID = "..", "."
		}), want: []fe{
			{"categoryId", "must be characters of [A-Za-z0-9._-], and not . or .., as a category's or brand's ID is (PUT /v1/categories/{id}, /v1/brands/{id})"},
			{"brandId", "must be characters of [A-Za-z0-9._-], and not . or .., as a category's or brand's ID is (PUT /v1/categories/{id}, /v1/brands/{id})"},
		}},
		{name: "update categoryId reference data refuses", rules: refIDs, cmd: update(schemas.UpdateProductDetails{CategoryID: new("lamps & lights"), CategoryName: new("Lamps")}),
			want: []fe{{"categoryId", "must be characters of [A-Za-z0-9._-], and not . or .., as a category's or brand's ID is (PUT /v1/categories/{id}, /v1/brands/{id})"}}},
		{name: "create 50 tags", cmd: create(func(d *schemas.CreateProduct) { d.Tags = tags(50) })},
		{name: "create 51 tags", cmd: create(func(d *schemas.CreateProduct) { d.Tags = tags(51) }),
			want: []fe{{"tags", "must have at most 50 tags, not 51"}}},
		{name: "create bad tags", cmd: create(func(d *schemas.CreateProduct) {
			d.Tags = []string{"ok", "", " ", long(50), long(51), "ok", "a\tb"}
		}), want: []fe{
			{"tags[1]", "must not be empty"},
			{"tags[2]", "must not be blank"},
			{"tags[4]", "must be 1 to 50 characters long, not 51"},
			{"tags[5]", "repeats tags[0]"},
			{"tags[6]", "must not contain control characters"},
		}},
		{name: "create 20 image URLs", cmd: create(func(d *schemas.CreateProduct) { d.ImageURLs = urls(20) })},
		{name: "create 21 image URLs", cmd: create(func(d *schemas.CreateProduct) { d.ImageURLs = urls(21) }),
			want: []fe{{"imageUrls", "must have at most 20 URLs, not 21"}}},
		{name: "create bad image URLs", cmd: create(func(d *schemas.CreateProduct) {
			d.ImageURLs = []string{
				"http://img.example.com/a.png",
				"/a.png",
				"ftp://img.example.com/a.png",
				"mailto:someone@example.com",
				"https://",
				"https://user:secret@img.example.com/a.png",
				"https://img.example.com/a b.png",
				"HTTPS://IMG.EXAMPLE.COM/A.PNG",
				"http://img.example.com/a.png",
				"",
				"https://img.example.com/" + strings.Repeat("x", 2048),
			}
		}), want: []fe{
			{"imageUrls[1]", "must be an absolute http or https URL"},
			{"imageUrls[2]", "must be an absolute http or https URL"},
			{"imageUrls[3]", "must be an absolute http or https URL"},
			{"imageUrls[4]", "must be an absolute http or https URL"},
			{"imageUrls[5]", "must not contain credentials"},
			{"imageUrls[6]", "must be an absolute http or https URL"},
			{"imageUrls[8]", "repeats imageUrls[0]"},
			{"imageUrls[9]", "must not be empty"},
			{"imageUrls[10]", "must be 1 to 2048 characters long, not 2072"},
		}},
		{name: "create stock zero", cmd: create(func(d *schemas.CreateProduct) { d.Stock = 0 })},
		{name: "create stock negative", cmd: create(func(d *schemas.CreateProduct) { d.Stock = -1 }),
			want: []fe{{"stock", "must be 0 or more"}}},
		{name: "create everything wrong, in field order", cmd: func() schemas.Command {
			c := cmd(&schemas.CreateProduct{Tags: []string{""}, ImageURLs: []string{"x"}, Stock: -5})
			c.ProductID = "nope"
			return c
		}(), want: []fe{
			{"productId", "must be a UUID"},
			{"name", "is required"},
			{"price", "is required"},
			{"categoryId", "is required"},
			{"categoryName", "is required"},
			{"brandId", "is required"},
			{"brandName", "is required"},
			{"tags[0]", "must not be empty"},
			{"imageUrls[0]", "must be an absolute http or https URL"},
			{"stock", "must be 0 or more"},
		}},

		// update
		{name: "update nothing", cmd: update(schemas.UpdateProductDetails{})},
		{name: "update every field", cmd: update(schemas.UpdateProductDetails{
			Name: new("Road Shoe"), Description: new(""), Tags: []string{}, ImageURLs: []string{},
			CategoryID: new("c"), CategoryName: new("C"), BrandID: new("b"), BrandName: new("B"),
		})},
		{name: "update name empty", cmd: update(schemas.UpdateProductDetails{Name: new("")}),
			want: []fe{{"name", "must not be empty"}}},
		{name: "update name blank", cmd: update(schemas.UpdateProductDetails{Name: new("  ")}),
			want: []fe{{"name", "must not be blank"}}},
		{name: "update name 201 runes", cmd: update(schemas.UpdateProductDetails{Name: new(long(201))}),
			want: []fe{{"name", "must be 1 to 200 characters long, not 201"}}},
		{name: "update description 5001 runes", cmd: update(schemas.UpdateProductDetails{Description: new(long(5001))}),
			want: []fe{{"description", "must be at most 5000 characters long, not 5001"}}},
		{name: "update categoryId without categoryName", cmd: update(schemas.UpdateProductDetails{CategoryID: new("c")}),
			want: []fe{{"categoryName", "is required with categoryId"}}},
		{name: "update categoryName without categoryId", cmd: update(schemas.UpdateProductDetails{CategoryName: new("C")}),
			want: []fe{{"categoryId", "is required with categoryName"}}},
		{name: "update brandId without brandName", cmd: update(schemas.UpdateProductDetails{BrandID: new("b")}),
			want: []fe{{"brandName", "is required with brandId"}}},
		{name: "update brandName without brandId", cmd: update(schemas.UpdateProductDetails{BrandName: new("B")}),
			want: []fe{{"brandId", "is required with brandName"}}},
		{name: "update empty category pair", cmd: update(schemas.UpdateProductDetails{CategoryID: new(""), CategoryName: new(long(201))}),
			want: []fe{{"categoryId", "must not be empty"}, {"categoryName", "must be 1 to 200 characters long, not 201"}}},
		{name: "update 51 tags", cmd: update(schemas.UpdateProductDetails{Tags: tags(51)}),
			want: []fe{{"tags", "must have at most 50 tags, not 51"}}},
		{name: "update repeated tag", cmd: update(schemas.UpdateProductDetails{Tags: []string{"a", "b", "a"}}),
			want: []fe{{"tags[2]", "repeats tags[0]"}}},
		{name: "update 21 image URLs", cmd: update(schemas.UpdateProductDetails{ImageURLs: urls(21)}),
			want: []fe{{"imageUrls", "must have at most 20 URLs, not 21"}}},
		{name: "update relative image URL", cmd: update(schemas.UpdateProductDetails{ImageURLs: []string{"img/a.png"}}),
			want: []fe{{"imageUrls[0]", "must be an absolute http or https URL"}}},

		// price
		{name: "price valid", cmd: cmd(&schemas.ChangeProductPrice{Price: eur(1)})},
		{name: "price missing", cmd: cmd(&schemas.ChangeProductPrice{}), want: []fe{{"price", "is required"}}},
		{name: "price zero", cmd: cmd(&schemas.ChangeProductPrice{Price: eur(0)}),
			want: []fe{{"price.amount", "must be greater than 0"}}},
		{name: "price negative in another currency", cmd: cmd(&schemas.ChangeProductPrice{Price: schemas.Money{Amount: -100, Currency: "JPY"}}),
			want: []fe{{"price.amount", "must be greater than 0"}, {"price.currency", "must be EUR, the catalogue's currency"}}},

		// stock
		{name: "stock zero", cmd: cmd(&schemas.ChangeProductStock{Quantity: 0})},
		{name: "stock negative", cmd: cmd(&schemas.ChangeProductStock{Quantity: -1}),
			want: []fe{{"quantity", "must be 0 or more"}}},

		// review
		{name: "review valid", cmd: cmd(&schemas.AddProductReview{Rating: 5, UserID: "u1", Comment: long(2000)})},
		{name: "review without comment", cmd: cmd(&schemas.AddProductReview{Rating: 1, UserID: "u1"})},
		{name: "review rating 0", cmd: cmd(&schemas.AddProductReview{Rating: 0, UserID: "u1"}),
			want: []fe{{"rating", "must be 1 to 5"}}},
		{name: "review rating 6", cmd: cmd(&schemas.AddProductReview{Rating: 6, UserID: "u1"}),
			want: []fe{{"rating", "must be 1 to 5"}}},
		{name: "review userId missing", cmd: cmd(&schemas.AddProductReview{Rating: 3}),
			want: []fe{{"userId", "is required"}}},
		{name: "review comment 2001 runes", cmd: cmd(&schemas.AddProductReview{Rating: 3, UserID: "u1", Comment: long(2001)}),
			want: []fe{{"comment", "must be at most 2000 characters long, not 2001"}}},

		// discontinue
		{name: "discontinue without reason", cmd: cmd(&schemas.DiscontinueProduct{})},
		{name: "discontinue reason 2001 runes", cmd: cmd(&schemas.DiscontinueProduct{Reason: long(2001)}),
			want: []fe{{"reason", "must be at most 2000 characters long, not 2001"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := product.Check(tt.cmd, tt.rules)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestRulesValidate(t *testing.T) {
	for _, tt := range []struct {
		currency string
		ok       bool
	}{{"", true}, {"EUR", true}, {"JPY", true}, {"eur", false}, {"EURO", false}} {
		if err := (product.Rules{Currency: tt.currency}).Validate(); (err == nil) != tt.ok {
			t.Errorf("Rules{Currency: %q}.Validate() = %v, want ok=%v", tt.currency, err, tt.ok)
		}
	}
}
