package api

import (
	"slices"
	"strings"
	"testing"
)

// TestOpenAPISecurity checks that the document states each route's policy
// (routePolicies) and its 401, 403 and 429 answers.
func TestOpenAPISecurity(t *testing.T) {
	doc := loadOpenAPI(t)
	if resolve(doc, "#/components/securitySchemes/bearer") == nil {
		t.Fatal("no bearer security scheme")
	}
	paths := doc["paths"].(map[string]any)
	s := testServer(t, Deps{})
	for _, rt := range s.routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = openAPIPath(path)
		op, ok := paths[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		if !ok {
			continue // TestOpenAPICoversRoutes reports it
		}
		p := routePolicies[rt.pattern]
		sec, ok := op["security"].([]any)
		if !ok {
			t.Errorf("%s: no security requirement", rt.pattern)
			continue
		}
		var scopes []string
		for _, req := range sec {
			for _, sc := range req.(map[string]any)["bearer"].([]any) {
				scopes = append(scopes, sc.(string))
			}
		}
		var want []string
		for _, sc := range p.scopes {
			want = append(want, string(sc))
		}
		slices.Sort(scopes)
		slices.Sort(want)
		if !slices.Equal(scopes, want) || p.open != (len(sec) == 0) {
			t.Errorf("%s: the document's scopes %v, the server's %v (open %v)", rt.pattern, scopes, want, p.open)
		}
		responses := op["responses"].(map[string]any)
		for _, code := range []string{"401", "403", "429"} {
			if _, ok := responses[code]; ok == p.open {
				t.Errorf("%s: %s response described %v, want %v", rt.pattern, code, ok, !p.open)
			}
		}
	}
}
