package schemas_test

import (
	"reflect"
	"testing"

	"github.com/streamview/streamview/schemas"
)

// details is a fold's copy of the product details, for the ApplyTo tests.
type details struct {
	Name, Description, CategoryID, CategoryName, BrandID, BrandName string
	Tags, ImageURLs                                                 []string
}

func (d *details) fields() schemas.ProductDetailFields {
	return schemas.ProductDetailFields{Name: &d.Name, Description: &d.Description, CategoryID: &d.CategoryID, CategoryName: &d.CategoryName,
		BrandID: &d.BrandID, BrandName: &d.BrandName, Tags: &d.Tags, ImageURLs: &d.ImageURLs}
}

func before() details {
	return details{Name: "n", Description: "d", CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B",
		Tags: []string{"t"}, ImageURLs: []string{"u"}}
}

func TestDetailsUpdatedApplyTo(t *testing.T) {
	tests := []struct {
		name   string
		update *schemas.ProductDetailsUpdated
		want   func(*details)
	}{
		{"nil update changes nothing", nil, func(*details) {}},
		{"no field changes nothing", &schemas.ProductDetailsUpdated{}, func(*details) {}},
		{"name only", &schemas.ProductDetailsUpdated{Name: new("m")}, func(d *details) { d.Name = "m" }},
		{"empty text is a change", &schemas.ProductDetailsUpdated{Description: new("")}, func(d *details) { d.Description = "" }},
		{"category pair", &schemas.ProductDetailsUpdated{CategoryID: new("c2"), CategoryName: new("C2")},
			func(d *details) { d.CategoryID, d.CategoryName = "c2", "C2" }},
		{"brand pair", &schemas.ProductDetailsUpdated{BrandID: new("b2"), BrandName: new("B2")},
			func(d *details) { d.BrandID, d.BrandName = "b2", "B2" }},
		{"tags replaced", &schemas.ProductDetailsUpdated{Tags: []string{"x", "y"}}, func(d *details) { d.Tags = []string{"x", "y"} }},
		{"image URLs replaced", &schemas.ProductDetailsUpdated{ImageURLs: []string{"v"}}, func(d *details) { d.ImageURLs = []string{"v"} }},
		{"empty lists clear, non-nil", &schemas.ProductDetailsUpdated{Tags: []string{}, ImageURLs: []string{}},
			func(d *details) { d.Tags, d.ImageURLs = []string{}, []string{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := before(), before()
			tt.update.ApplyTo(got.fields())
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ApplyTo: got %+v, want %+v", got, want)
			}
		})
	}
}

func TestDetailsApplyToSharesNothingAndSkipsUnkeptFields(t *testing.T) {
	u := &schemas.ProductDetailsUpdated{Name: new("m"), Tags: []string{"x"}, ImageURLs: []string{"v"}}
	var name string
	var tags []string
	u.ApplyTo(schemas.ProductDetailFields{Name: &name, Tags: &tags}) // no image URLs kept: must not panic
	u.Tags[0] = "changed"
	if name != "m" || !reflect.DeepEqual(tags, []string{"x"}) {
		t.Errorf("got name %q tags %q, want m [x] (a copy)", name, tags)
	}

	c := &schemas.ProductCreated{Name: "n", Tags: []string{"a"}}
	var d details
	c.ApplyTo(d.fields())
	c.Tags[0] = "changed"
	want := details{Name: "n", Tags: []string{"a"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("ProductCreated.ApplyTo: got %+v, want %+v", d, want)
	}
}

func TestProductCreatedApplyToSetsEveryDetail(t *testing.T) {
	c := &schemas.ProductCreated{Name: "n2", Description: "d2", CategoryID: "c2", CategoryName: "C2", BrandID: "b2", BrandName: "B2",
		Tags: []string{}, ImageURLs: nil}
	d := before()
	c.ApplyTo(d.fields())
	want := details{Name: "n2", Description: "d2", CategoryID: "c2", CategoryName: "C2", BrandID: "b2", BrandName: "B2", Tags: []string{}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got %+v, want %+v", d, want)
	}
	var none *schemas.ProductCreated
	d = before()
	none.ApplyTo(d.fields())
	if !reflect.DeepEqual(d, before()) {
		t.Errorf("a nil ProductCreated wrote %+v", d)
	}
}

func TestEachChangeOrder(t *testing.T) {
	u := &schemas.ProductDetailsUpdated{Name: new("n"), Description: new("d"), Tags: []string{}, ImageURLs: []string{"u"},
		CategoryID: new("c"), CategoryName: new("C"), BrandID: new("b"), BrandName: new("B")}
	var got []schemas.ProductDetail
	u.EachChange(func(d schemas.ProductDetail, text string, list []string) {
		got = append(got, d)
		isList := d == schemas.DetailTags || d == schemas.DetailImageURLs
		if isList != (list != nil) {
			t.Errorf("detail %d: text %q list %v", d, text, list)
		}
	})
	want := []schemas.ProductDetail{schemas.DetailName, schemas.DetailDescription, schemas.DetailCategoryID, schemas.DetailCategoryName,
		schemas.DetailBrandID, schemas.DetailBrandName, schemas.DetailTags, schemas.DetailImageURLs}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
