package productview_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/streamview/streamview/processors/productview"
)

// The JSON of a View has exactly API.md's fields, in its order.
func TestViewJSONFields(t *testing.T) {
	want := []string{"id", "name", "description", "price", "categoryId", "categoryName",
		"brandId", "brandName", "averageRating", "reviewCount", "inStock", "stock", "tags", "imageUrls",
		"discontinued", "createdAt", "updatedAt", "version"}
	b, err := json.Marshal(productview.View{})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytesReader(b))
	var got []string
	dec.Token() // {
	for dec.More() {
		tok, _ := dec.Token()
		got = append(got, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("View JSON fields\n got %v\nwant %v", got, want)
	}
	pb, _ := json.Marshal(productview.Price{Amount: "1.00", Currency: "EUR"})
	if string(pb) != `{"amount":"1.00","currency":"EUR"}` {
		t.Fatalf("Price JSON = %s", pb)
	}
}
