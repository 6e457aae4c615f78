package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkDecodeBody: the strict decode of a command's body (checkKeys,
// then the decoder) for the largest body (a create) and the commonest (a
// price change), the request included.
func BenchmarkDecodeBody(b *testing.B) {
	for _, tc := range []struct {
		name string
		body string
		dst  func() any
	}{
		{"create", `{"name":"Trail shoe","description":"A light shoe for rough paths","price":{"amount":"89.90","currency":"EUR"},"categoryId":"shoes","categoryName":"Shoes","brandId":"acme","brandName":"Acme","tags":["trail","running"],"stock":12}`,
			func() any { return new(createRequest) }},
		{"price", `{"price":{"amount":"79.90","currency":"EUR"}}`, func() any { return new(priceRequest) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPut, "/", strings.NewReader(tc.body))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				if _, ok := decodeBody(w, r, 1<<20, tc.dst(), false); !ok {
					b.Fatalf("decodeBody refused the body: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkCheckKeys: checkKeys scanning the bytes against the walk of
// json.Decoder's tokens it replaced, on a create's body and a price
// change's, in one run.
func BenchmarkCheckKeys(b *testing.B) {
	create := []byte(`{"name":"Trail shoe","description":"A light shoe for rough paths","price":{"amount":"89.90","currency":"EUR"},"categoryId":"shoes","categoryName":"Shoes","brandId":"acme","brandName":"Acme","tags":["trail","running"],"stock":12}`)
	price := []byte(`{"price":{"amount":"79.90","currency":"EUR"}}`)
	for _, tc := range []struct {
		name  string
		check func([]byte, any) *keyError
	}{{"scan", checkKeys}, {"tokens", checkKeysByTokens}} {
		for _, body := range []struct {
			name string
			data []byte
			dst  any
		}{{"create", create, new(createRequest)}, {"price", price, new(priceRequest)}} {
			b.Run(tc.name+"/"+body.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if ke := tc.check(body.data, body.dst); ke != nil {
						b.Fatal(ke)
					}
				}
			})
		}
	}
}

// BenchmarkCheckKeysWide: one object of 100,000 keys (a 1 MiB body's
// worth), which checkKeys must take in time proportional to its keys.
func BenchmarkCheckKeysWide(b *testing.B) {
	body := []byte(wideObject(100_000, ""))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if ke := checkKeys(body, new(map[string]any)); ke != nil {
			b.Fatal(ke)
		}
	}
}
