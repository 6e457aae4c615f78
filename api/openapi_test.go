package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/producers/product"
)

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	return doc
}

// TestOpenAPICoversRoutes checks both ways that the document and the mux
// agree: every route served is described, every operation described is
// served by the route of that name.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	s := testServer(t, Deps{})

	for _, rt := range s.routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = openAPIPath(path)
		item, ok := paths[path].(map[string]any)
		if !ok {
			t.Errorf("route %s: path %s is not in openapi.json", rt.pattern, path)
			continue
		}
		if _, ok := item[strings.ToLower(method)]; !ok {
			t.Errorf("route %s: openapi.json has no %s operation for %s", rt.pattern, strings.ToLower(method), path)
		}
	}

	param := regexp.MustCompile(`\{[^}]+\}`)
	operations := 0
	for path, item := range paths {
		for method := range item.(map[string]any) {
			operations++
			concrete := param.ReplaceAllString(path, productID)
			r := httptest.NewRequest(strings.ToUpper(method), concrete, nil)
			if _, pattern := s.mux.Handler(r); openAPIPattern(pattern) != strings.ToUpper(method)+" "+path {
				t.Errorf("openapi.json describes %s %s, but the mux serves it with %q", strings.ToUpper(method), path, pattern)
			}
		}
	}
	if operations != len(s.routes) {
		t.Errorf("openapi.json has %d operations, the mux %d routes", operations, len(s.routes))
	}
}

// openAPIPath is the OpenAPI path of a mux path: "/{$}", the mux's "/
// and nothing after it", is OpenAPI's "/".
func openAPIPath(muxPath string) string { return strings.TrimSuffix(muxPath, "{$}") }

func openAPIPattern(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	return method + " " + openAPIPath(path)
}

// TestOpenAPIRefsResolve walks the document and resolves every $ref.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if resolve(doc, ref) == nil {
					t.Errorf("%s: $ref %s does not resolve", at, ref)
				}
			}
			for k, e := range v {
				walk(e, at+"/"+k)
			}
		case []any:
			for _, e := range v {
				walk(e, at+"[]")
			}
		}
	}
	walk(doc, "#")
}

func resolve(doc map[string]any, ref string) any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// TestOpenAPIDescribesErrors checks that each operation lists the answers
// this package gives it.
func TestOpenAPIDescribesErrors(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	op := func(path, method string) map[string]any {
		return paths[path].(map[string]any)[method].(map[string]any)
	}
	commands := [][2]string{
		{"/v1/products", "post"}, {"/v1/products/{id}", "patch"}, {"/v1/products/{id}", "delete"},
		{"/v1/products/{id}/price", "put"}, {"/v1/products/{id}/stock", "put"}, {"/v1/products/{id}/reviews", "post"},
	}
	for _, c := range commands {
		o := op(c[0], c[1])
		for _, code := range []string{"202", "400", "404", "409", "413", "415", "422", "503"} {
			if _, ok := o["responses"].(map[string]any)[code]; !ok {
				t.Errorf("%s %s: no %s response", c[1], c[0], code)
			}
		}
		// The idempotency and delivery answers: 409 and 503 with
		// Retry-After, 422 naming the key's reuse.
		for code, want := range map[string]string{"409": "idempotency-key-in-flight", "422": "idempotency-key-reused", "503": "delivery timeout"} {
			ref, _ := o["responses"].(map[string]any)[code].(map[string]any)["$ref"].(string)
			resp, _ := resolve(doc, ref).(map[string]any)
			if desc, _ := resp["description"].(string); !strings.Contains(desc, want) {
				t.Errorf("%s %s: the %s response does not describe %q", c[1], c[0], code, want)
			}
			headers, _ := resp["headers"].(map[string]any)
			if _, ok := headers["Retry-After"]; !ok && code != "422" {
				t.Errorf("%s %s: the %s response has no Retry-After", c[1], c[0], code)
			}
		}
		var params []string
		for _, p := range o["parameters"].([]any) {
			params = append(params, resolve(doc, p.(map[string]any)["$ref"].(string)).(map[string]any)["name"].(string))
		}
		for _, h := range []string{"Prefer", "If-Match", "Idempotency-Key", "X-Correlation-ID", "X-User-ID"} {
			if !slices.Contains(params, h) {
				t.Errorf("%s %s: header %s is not described", c[1], c[0], h)
			}
		}
	}
	var params []string
	for _, p := range op("/v1/products/search", "get")["parameters"].([]any) {
		params = append(params, resolve(doc, p.(map[string]any)["$ref"].(string)).(map[string]any)["name"].(string))
	}
	s := testServer(t, Deps{Search: &fakeSearch{}})
	for _, name := range []string{"q", "category", "brand", "minPrice", "maxPrice", "inStock", "sort", "page", "pageSize", "cursor"} {
		if !slices.Contains(params, name) {
			t.Errorf("search parameter %s is not described", name)
		}
		if w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search?" + name + "=zz&" + name + "=zz"}); strings.Contains(w.Body.String(), "not a known parameter") {
			t.Errorf("described search parameter %s is unknown to the handler", name)
		}
	}
}

// TestOpenAPILimits checks the limits the document states against the
// rules' constants.
func TestOpenAPILimits(t *testing.T) {
	doc := loadOpenAPI(t)
	tests := []struct {
		ref  string
		want float64
	}{
		{"#/components/schemas/Name/maxLength", product.MaxNameLength},
		{"#/components/schemas/Description/maxLength", product.MaxDescriptionLength},
		{"#/components/schemas/Ref/maxLength", product.MaxRefLength},
		{"#/components/schemas/Tags/maxItems", product.MaxTags},
		{"#/components/schemas/Tags/items/maxLength", product.MaxTagLength},
		{"#/components/schemas/ImageURLs/maxItems", product.MaxImageURLs},
		{"#/components/schemas/ImageURLs/items/maxLength", product.MaxImageURLLength},
		{"#/components/schemas/AddReviewRequest/properties/rating/minimum", product.MinRating},
		{"#/components/schemas/AddReviewRequest/properties/rating/maximum", product.MaxRating},
		{"#/components/schemas/AddReviewRequest/properties/comment/maxLength", product.MaxCommentLength},
		{"#/components/schemas/DiscontinueRequest/properties/reason/maxLength", product.MaxReasonLength},
		{"#/components/parameters/PageSize/schema/maximum", productsearch.MaxPageSize},
		{"#/components/parameters/PageSize/schema/default", productsearch.DefaultPageSize},
		{"#/components/parameters/Category/schema/maxItems", productsearch.MaxFilterValues},
		{"#/components/parameters/Category/schema/items/maxLength", productsearch.MaxFilterValueLength},
		{"#/components/parameters/IdempotencyKey/schema/maxLength", maxIdempotencyKeyLength + 2}, // with quotes
	}
	for _, tt := range tests {
		if got, _ := resolve(doc, tt.ref).(float64); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := testServer(t, Deps{})
	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/openapi.json"})
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(OpenAPI()) {
		t.Fatalf("answer %d %q, want 200 JSON with the document", w.Code, w.Header().Get("Content-Type"))
	}
	again := serve(t, s.Handler(), request{method: "GET", path: "/v1/openapi.json", header: map[string]string{"If-None-Match": w.Header().Get("ETag")}})
	if again.Code != http.StatusNotModified {
		t.Errorf("with its ETag: status %d, want 304", again.Code)
	}
}
