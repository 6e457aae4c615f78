package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestConsoleServed(t *testing.T) {
	s := testServer(t, Deps{})
	for _, tt := range []struct{ path, contentType, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/console/app.js" defer></script>`},
		{"/console/index.html", "text/html; charset=utf-8", "<title>streamview console</title>"},
		{"/console/app.js", "text/javascript; charset=utf-8", `"/v1/products/search?"`},
		{"/console/app.css", "text/css; charset=utf-8", ".badge.live"},
	} {
		w := serve(t, s.Handler(), request{method: "GET", path: tt.path})
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != tt.contentType || !strings.Contains(w.Body.String(), tt.contains) {
			t.Errorf("GET %s: %d %q, want 200 %s with %q", tt.path, w.Code, w.Header().Get("Content-Type"), tt.contentType, tt.contains)
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", tt.path, csp)
		}
		again := serve(t, s.Handler(), request{method: "GET", path: tt.path, header: map[string]string{"If-None-Match": w.Header().Get("ETag")}})
		if again.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", tt.path, again.Code)
		}
	}
}
