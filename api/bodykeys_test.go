package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
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

// TestNullElements: a null element of a list of strings (or of offsets) is
// a wrong JSON type, a 400 naming the element; encoding/json would make it
// "" (or offset 0) and the rules a 422 about an empty tag. Lists of
// pointers or of anything keep their nulls.
func TestNullElements(t *testing.T) {
	tests := []struct {
		name, body string
		dst        any
		field, msg string // "" field: no error
	}{
		{"tag", `{"tags":["a", null]}`, new(updateRequest), "tags[1]", "must be a string, not null; leave the element out"},
		{"image URL on create", `{"imageUrls":[null]}`, new(createRequest), "imageUrls[0]", "must be a string, not null; leave the element out"},
		{"event", `{"events":["priceDrop",null]}`, new(subscribeRequest), "events[1]", "must be a string, not null; leave the element out"},
		{"offset", `{"offsets":[null]}`, new(struct {
			Offsets []offsetJSON `json:"offsets"`
		}), "offsets[0]", "must not hold null; leave the element out"},
		{"the first problem wins", `{"tags":[null],"tags":[]}`, new(updateRequest), "tags[0]", "must be a string, not null; leave the element out"},
		{"null list", `{"tags":null}`, new(updateRequest), "", ""},
		{"strings that say null", `{"tags":["null"]}`, new(updateRequest), "", ""},
		{"any value", `{"a":[null]}`, new(map[string]any), "", ""},
		{"pointers", `{"a":[null]}`, new(struct {
			A []*string `json:"a"`
		}), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ke := checkKeys([]byte(tt.body), tt.dst)
			switch {
			case tt.field == "" && ke != nil:
				t.Fatalf("checkKeys: %v, want none", ke)
			case tt.field != "" && (ke == nil || ke.field != tt.field || ke.msg != tt.msg):
				t.Fatalf("checkKeys: %v, want %s %s", ke, tt.field, tt.msg)
			}
		})
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

// checkKeysByTokens is what checkKeys was before it scanned the bytes
// itself: a walk of json.Decoder's tokens (with the null elements it
// refuses since). FuzzCheckKeys holds checkKeys to it.
func checkKeysByTokens(data []byte, dst any) *keyError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var ke *keyError
	if err := walkKeysByTokens(dec, reflect.TypeOf(dst), "", false); errors.As(err, &ke) {
		return ke
	}
	return nil
}

// walkKeysByTokens walks the value that decodes into t; noNull: it is an
// array element that must not be null.
func walkKeysByTokens(dec *json.Decoder, t reflect.Type, path string, noNull bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil && noNull {
		return &keyError{field: path, msg: nullElement(t)}
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	t = jsonTarget(t)
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeysByTokens(dec, elem, path+"["+itoa(i)+"]", refusesNull(elem)); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		if fs := jsonFields(t); fs != nil {
			fields = fs.types
		}
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		seen := map[string]string{} // foldKey → the key as sent
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			at := key
			if path != "" {
				at = path + "." + key
			}
			folded := foldKey(key)
			if prev, dup := seen[folded]; dup {
				if prev == key {
					return &keyError{field: at, msg: "is duplicated; send each member once"}
				}
				return &keyError{field: at, msg: "duplicates " + quote(prev) + " when case is ignored; send each member once, in the case of the API"}
			}
			seen[folded] = key
			ft, exact := fields[key]
			if !exact {
				for name := range fields {
					if strings.EqualFold(name, key) {
						return &keyError{field: at, msg: "matches the field " + quote(name) + " only when case is ignored; member names are case-sensitive"}
					}
				}
			}
			if elem != nil {
				ft = elem
			}
			if err := walkKeysByTokens(dec, ft, at, false); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// FuzzCheckKeys: checkKeys finds what a walk of json.Decoder's tokens
// finds (the same first key error, or none) for any UTF-8 body, decoded
// into any of the request types (decodeBody refuses other bodies first).
func FuzzCheckKeys(f *testing.F) {
	dsts := []func() any{
		func() any { return new(createRequest) }, func() any { return new(updateRequest) },
		func() any { return new(priceRequest) }, func() any { return new(stockRequest) },
		func() any { return new(reviewRequest) }, func() any { return new(subscribeRequest) },
		func() any { return new(categoryRequest) }, func() any { return new(map[string]any) },
	}
	for _, s := range []string{
		`{"price":{"amount":"1","currency":"EUR"},"price":{}}`, `{"Price":{"amount":"1"}}`, `{"price":{"Amount":"1","amount":"2"}}`,
		`{"name":"a","tags":["x",{"a":1,"A":2}],"stock":12}`, `{"quantity":-0.5e+3,"quantity":1}`, `{"stoc\u004b":1,"stocK":2}`,
		`{"a":01,"a":1}`, `{"a":tru,"a":1}`, `{"a":"\ud800","a":"x"}`, `{"k":1,"\u212a":2}`, `{"a":1}x{"a":1,"a":2}`,
		`{"a":[1,2,{"b":null,"b":true}]}`, wideObject(20, `"k3"`), wideObject(20, `"K19"`), wideObject(40, `"k\u0033"`), `{"a" : { } , "A" : [ ] }`, "{\"a\":\"\x01\",\"a\":1}", `{"webhookUrl":"x","WebhookURL":"y"}`,
		`{"tags":["a",null]}`, `{"tags":[null,"a","a"],"Tags":1}`, `{"imageUrls":[ null ]}`, `{"events":["priceDrop",nullx]}`, `{"tags":[nul]}`, `{"a":[null,{"b":1,"b":2}]}`,
	} {
		for k := range dsts {
			f.Add(s, uint8(k))
		}
	}
	f.Fuzz(func(t *testing.T, body string, kind uint8) {
		if !utf8.ValidString(body) || strings.Count(body, "{")+strings.Count(body, "[") > maxDepth {
			return // the old walk had no nesting bound (TestCheckKeysDepth)
		}
		dst := dsts[int(kind)%len(dsts)]
		got, want := checkKeys([]byte(body), dst()), checkKeysByTokens([]byte(body), dst())
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("checkKeys(%q) = %v, the decoder's tokens give %v", body, got, want)
		}
	})
}

// TestCheckKeysDepth: nesting past encoding/json's bound is a syntax
// error for its decoder (which then answers), not checkKeys' business, and
// it bounds checkKeys' recursion; up to the bound the keys are checked. (A
// walk of the decoder's tokens had no bound: it found such a key, and
// recursed as deep as a body went.)
func TestCheckKeysDepth(t *testing.T) {
	deep := func(n int, inner string) []byte {
		return []byte(strings.Repeat(`{"a":`, n-1) + inner + strings.Repeat("}", n-1))
	}
	if ke := checkKeys(deep(maxDepth, `{"b":1,"b":2}`), new(map[string]any)); ke == nil || !strings.HasSuffix(ke.field, ".b") {
		t.Errorf("a duplicate %d objects deep: not found", maxDepth)
	}
	if ke := checkKeys(deep(maxDepth+1, `{"b":1,"b":2}`), new(map[string]any)); ke != nil {
		t.Errorf("a duplicate %d objects deep, past the decoder's bound: found (%s), want nil", maxDepth+1, ke.msg)
	}
	var v any
	if err := json.Unmarshal(deep(maxDepth+1, `{"b":1}`), &v); err == nil {
		t.Errorf("the decoder took %d objects deep: the bound is not what checkKeys assumes", maxDepth+1)
	}
	if ke := checkKeys([]byte(strings.Repeat("[", 1<<20)), new(map[string]any)); ke != nil {
		t.Errorf("a million open arrays: %s", ke.msg)
	}
}

// wideObject is an object of n keys k0..k(n-1), then the member last (a
// key, or "" for none) with value 0.
func wideObject(n int, last string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":0`)
	}
	if last != "" {
		b.WriteString("," + last + ":0")
	}
	b.WriteByte('}')
	return b.String()
}

// TestCheckKeysWide: in an object of more keys than checkKeys compares
// one by one (linearKeys), duplicates and case variants are still found,
// at the start, at the switch to the map and far past it, as the old walk
// finds them.
func TestCheckKeysWide(t *testing.T) {
	for _, tc := range []struct {
		n          int
		last, want string // want: the error's message start, "" for none
	}{
		{linearKeys - 1, `"k0"`, "is duplicated"},
		{linearKeys, `"k0"`, "is duplicated"},
		{linearKeys, `"K15"`, "duplicates \"k15\""},
		{linearKeys + 1, `"K16"`, "duplicates \"k16\""},
		{100_000, `"k99999"`, "is duplicated"},
		{100_000, `"K0"`, "duplicates \"k0\""},
		{100_000, `"\u212a7"`, "duplicates \"k7\""}, // the Kelvin sign folds to k
		{100_000, `"x"`, ""},
		{100_000, "", ""},
	} {
		body := []byte(wideObject(tc.n, tc.last))
		got, want := checkKeys(body, new(map[string]any)), checkKeysByTokens(body, new(map[string]any))
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Errorf("%d keys then %s: checkKeys %v, the old walk %v", tc.n, tc.last, got, want)
		}
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%d keys then %s: %v, want none", tc.n, tc.last, got)
		case tc.want != "" && (got == nil || !strings.HasPrefix(got.msg, tc.want)):
			t.Errorf("%d keys then %s: %v, want %q", tc.n, tc.last, got, tc.want)
		}
	}
}
