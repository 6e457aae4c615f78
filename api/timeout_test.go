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

// unreadBus is a command bus that has not read the earlier commands yet
// until ready is closed (*commandbus.Results.Ready); each call of Ready is
// told on asked.
type unreadBus struct {
	*fakeBus
	ready, asked chan struct{}
}

func (b unreadBus) Ready() <-chan struct{} {
	select {
	case b.asked <- struct{}{}:
	default:
	}
	return b.ready
}

// A keyed command, or GET /v1/commands/{id}, that comes before the bus has
// read the commands and outcomes written before the start waits for that,
// up to the query timeout, and is then a 503 with nothing published; once
// read, the command goes through (helper 91: a key reused at the start
// acted). A command without a key waits for nothing.
func TestCommandsWaitForTheEarlierOutcomes(t *testing.T) {
	bus := unreadBus{newFakeBus(), make(chan struct{}), make(chan struct{}, 100)}
	s := testServer(t, Deps{Commands: bus}, func(c *Config) { c.QueryTimeout = 50 * time.Millisecond })
	create := request{method: "POST", path: "/v1/products", body: createBody, header: map[string]string{"Idempotency-Key": "k1"}}
	p := wantProblem(t, serve(t, s.Handler(), create), http.StatusServiceUnavailable)
	if !strings.Contains(p.Detail, "still reading") {
		t.Errorf("detail %q", p.Detail)
	}
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + productID}), http.StatusServiceUnavailable)
	if n := len(bus.commands()); n != 0 {
		t.Fatalf("%d commands published before the bus had read the earlier ones", n)
	}
	unkeyed := create
	unkeyed.header = nil
	if w := serve(t, s.Handler(), unkeyed); w.Code != http.StatusAccepted {
		t.Fatalf("a command without a key before the read: %d %s", w.Code, w.Body)
	}
	bus.fakeBus = newFakeBus()

	// Read while the request waits: it goes through.
	s = testServer(t, Deps{Commands: bus}, func(c *Config) { c.QueryTimeout = time.Minute })
	for len(bus.asked) > 0 {
		<-bus.asked
	}
	go func() {
		<-bus.asked // the look at once
		<-bus.asked // the wait
		close(bus.ready)
	}()
	if w := serve(t, s.Handler(), create); w.Code != http.StatusAccepted {
		t.Fatalf("the command after the read: %d %s", w.Code, w.Body)
	}
	if n := len(bus.commands()); n != 1 {
		t.Fatalf("%d commands published, want 1", n)
	}
}
