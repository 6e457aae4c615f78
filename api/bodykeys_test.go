package api

import (
	"net/http"
	"testing"
)

// TestStrictKeys: a duplicated key, or a key that matches a field only
// when case is ignored, is a 400 naming it, and nothing is published.
func TestStrictKeys(t *testing.T) {
	price := "/v1/products/" + productID + "/price"
	tests := []struct {
		name, path, body string
		field            string
	}{
		{"duplicated key", price, `{"price":{"amount":"1","currency":"EUR"},"price":{"amount":"2","currency":"EUR"}}`, "price"},
		{"case-variant key alone", price, `{"Price":{"amount":"1","currency":"EUR"}}`, "Price"},
		{"case-variant duplicate", price, `{"price":{"amount":"1","currency":"EUR"},"Price":{"amount":"2","currency":"EUR"}}`, "Price"},
		{"nested duplicate", price, `{"price":{"amount":"1","amount":"2","currency":"EUR"}}`, "price.amount"},
		{"nested case variant", price, `{"price":{"Amount":"1","currency":"EUR"}}`, "price.Amount"},
		{"duplicated number", "/v1/products/" + productID + "/stock", `{"quantity":1,"quantity":2}`, "quantity"},
		{"kelvin sign", "/v1/products", `{"name":"a","description":"","price":{"amount":"1","currency":"EUR"},"categoryId":"c","categoryName":"C","brandId":"b","brandName":"B","stocK":1}`, "stocK"},
		{"upper case field", "/v1/products/" + productID + "/stock", `{"QUANTITY":1}`, "QUANTITY"},
		{"duplicated comment", "/v1/products/" + productID + "/reviews", `{"rating":5,"comment":"a","comment":"b"}`, "comment"},
		{"create: two names", "/v1/products", `{"name":"a","NAME":"b","description":"","price":{"amount":"1","currency":"EUR"},"categoryId":"c","categoryName":"C","brandId":"b","brandName":"B"}`, "NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			s := testServer(t, Deps{Commands: bus})
			method := "PUT"
			if tt.path == "/v1/products" || tt.path == "/v1/products/"+productID+"/reviews" {
				method = "POST"
			}
			wantProblem(t, serve(t, s.Handler(), request{method: method, path: tt.path, body: tt.body}), http.StatusBadRequest, tt.field)
			if n := len(bus.commands()); n != 0 {
				t.Errorf("%d commands published, want none", n)
			}
		})
	}
	// Same keys in different objects, and array elements, are fine.
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), request{method: "POST", path: "/v1/products", body: `{"name":"a","description":"","price":{"amount":"1","currency":"EUR"},"categoryId":"c","categoryName":"C","brandId":"b","brandName":"B","tags":["x","y"],"imageUrls":[]}`})
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d; body %s", w.Code, w.Body)
	}
}

func TestFoldKey(t *testing.T) {
	for _, pair := range [][2]string{{"price", "PRICE"}, {"k", "\u212a"}, {"s", "\u017f"}, {"Straße", "STRASSE"}} {
		same := foldKey(pair[0]) == foldKey(pair[1])
		if want := len([]rune(pair[0])) == len([]rune(pair[1])); same != want {
			t.Errorf("foldKey(%q) == foldKey(%q): %v, want %v", pair[0], pair[1], same, want)
		}
	}
}

// foldKey's ASCII shortcut must give what the rune-by-rune fold gives.
func FuzzFoldKeyASCII(f *testing.F) {
	for _, s := range []string{"price", "Price", "stocK", "kelvin", "s_S", "a-Z.09", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := foldKey(s), foldRunes(s); got != want {
			t.Fatalf("foldKey(%q) = %q, folding each rune gives %q", s, got, want)
		}
	})
}
