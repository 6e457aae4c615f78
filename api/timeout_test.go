package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
)

// hungStore accepts every read and answers none: it returns only when the
// read's context ends, as a client on a blackholed server does.
type hungStore struct{}

func (hungStore) Get(ctx context.Context, id string) (productview.View, bool, error) {
	<-ctx.Done()
	return productview.View{}, false, ctx.Err()
}

func (hungStore) Search(ctx context.Context, q productsearch.Query) (productsearch.Result, error) {
	<-ctx.Done()
	return productsearch.Result{}, ctx.Err()
}

// TestQueryTimeout: a store that never answers makes a read a 503 with
// Retry-After once Config.QueryTimeout has passed, and the other store's
// endpoint still answers.
func TestQueryTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	for _, tc := range []struct {
		name string
		deps Deps
		path string // answers 503 after the timeout
		ok   string // answers 200 meanwhile
	}{
		{"search hangs", Deps{Search: hungStore{}, Views: newFakeViews(view(1))}, "/v1/products/search?q=shoe", "/v1/products/" + productID},
		{"views hang", Deps{Views: hungStore{}, Search: &fakeSearch{}}, "/v1/products/" + productID, "/v1/products/search?q=shoe"},
		{"views hang during a wait", Deps{Views: hungStore{}, Search: &fakeSearch{}}, "/v1/products/" + productID + "?minVersion=2&wait=1", "/v1/products/search"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, tc.deps, func(c *Config) { c.QueryTimeout = timeout })
			start := time.Now()
			w := serve(t, s.Handler(), request{method: "GET", path: tc.path})
			p := wantProblem(t, w, http.StatusServiceUnavailable)
			if w.Header().Get("Retry-After") == "" {
				t.Errorf("no Retry-After on %s", tc.path)
			}
			if !strings.Contains(p.Detail, "within "+timeout.String()) {
				t.Errorf("detail %q does not name the timeout", p.Detail)
			}
			// Generous for a loaded machine: what matters is that it ends.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("answered after %v", d)
			}
			if w := serve(t, s.Handler(), request{method: "GET", path: tc.ok}); w.Code != http.StatusOK {
				t.Errorf("%s: %d while the other store hangs", tc.ok, w.Code)
			}
		})
	}
}

func TestConfigQueryTimeoutNegative(t *testing.T) {
	if err := (Config{QueryTimeout: -time.Second}).Validate(); err == nil || !strings.Contains(err.Error(), "QueryTimeout") {
		t.Fatalf("Validate: %v", err)
	}
}
