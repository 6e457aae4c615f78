package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamview/streamview/api/auth"
	"github.com/streamview/streamview/api/auth/authtest"
)

func TestHealthz(t *testing.T) {
	w := serve(t, testServer(t, Deps{}).Handler(), request{method: "GET", path: "/healthz"})
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("answer %d %s, want 200 {\"status\":\"ok\"}", w.Code, w.Body)
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("dial tcp 127.0.0.1:6379: connection refused") }
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := func(context.Context) error { <-release; return nil }
	tests := []struct {
		name    string
		checks  []Check
		status  int
		failing []string
	}{
		{"no checks", nil, 200, nil},
		{"all pass", []Check{{"kafka", ok}, {"redis", ok}, {"elasticsearch", ok}}, 200, nil},
		{"one down", []Check{{"kafka", ok}, {"redis", down}, {"elasticsearch", ok}}, 503, []string{"redis"}},
		{"two failing, one by timeout", []Check{{"kafka", hang}, {"redis", down}, {"elasticsearch", ok}}, 503, []string{"kafka", "redis"}},
		{"a check that ignores its context", []Check{{"elasticsearch", stuck}}, 503, []string{"elasticsearch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testServer(t, Deps{Ready: tt.checks})
			w := serve(t, s.Handler(), request{method: "GET", path: "/readyz"})
			if tt.status == http.StatusOK {
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"ok"`) {
					t.Errorf("answer %d %s, want 200 ok", w.Code, w.Body)
				}
				return
			}
			p := wantProblem(t, w, tt.status, tt.failing...)
			for _, name := range tt.failing {
				if !strings.Contains(p.Detail, name) || p.Checks[name] != "failing" {
					t.Errorf("problem %+v does not name %s as failing", p, name)
				}
			}
			if len(p.Checks) != len(tt.checks) {
				t.Errorf("checks = %v, want all %d", p.Checks, len(tt.checks))
			}
		})
	}
}

func TestProjections(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		wantProblem(t, serve(t, testServer(t, Deps{}).Handler(), request{method: "GET", path: "/v1/projections"}), http.StatusServiceUnavailable)
	})
	t.Run("state", func(t *testing.T) {
		s := testServer(t, Deps{Projections: func(context.Context) (any, error) {
			return []map[string]any{{"projection": "product-view", "generation": 1, "state": "live", "lag": map[string]int{"0": 0}}}, nil
		}})
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/projections"})
		want := `[{"generation":1,"lag":{"0":0},"projection":"product-view","state":"live"}]`
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != want {
			t.Errorf("answer %d %s, want 200 %s", w.Code, w.Body, want)
		}
	})
	t.Run("fails", func(t *testing.T) {
		s := testServer(t, Deps{Projections: func(context.Context) (any, error) { return nil, errors.New("kafka: timeout") }})
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/projections"}), http.StatusServiceUnavailable)
	})
}

func TestMetrics(t *testing.T) {
	// Deps.Metrics stands for the process's registry; its projection
	// label holds every character the text format must escape.
	extra := prometheus.NewRegistry()
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamview_consumer_lag", Help: "Lag."}, []string{"projection", "partition"})
	extra.MustRegister(lag)
	lag.WithLabelValues("product-view", "0").Set(7)
	lag.WithLabelValues("a\"b\\c\nd", "1").Set(1)
	s := testServer(t, Deps{
		Views:    newFakeViews(view(1)),
		Commands: newFakeBus(),
		Metrics:  extra,
	})
	h := s.Handler()
	serve(t, h, request{method: "GET", path: "/v1/products/" + productID})
	serve(t, h, request{method: "GET", path: "/v1/products/" + productID})
	serve(t, h, request{method: "GET", path: "/v1/products/" + otherID})
	serve(t, h, request{method: "GET", path: "/nowhere"})
	serve(t, h, request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":-1}`})
	serve(t, h, request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":1}`})

	w := serve(t, h, request{method: "GET", path: "/metrics"})
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("answer %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	body := w.Body.String()
	// client_golang writes labels sorted by name.
	for _, want := range []string{
		`streamview_http_requests_total{code="200",method="GET",route="/v1/products/{id}"} 2`,
		`streamview_http_requests_total{code="404",method="GET",route="/v1/products/{id}"} 1`,
		`streamview_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`streamview_http_requests_total{code="422",method="PUT",route="/v1/products/{id}/stock"} 1`,
		`streamview_http_request_duration_seconds_bucket{code="200",method="GET",route="/v1/products/{id}",le="+Inf"} 2`,
		`streamview_http_request_duration_seconds_count{code="200",method="GET",route="/v1/products/{id}"} 2`,
		`# TYPE streamview_http_request_duration_seconds histogram`,
		`streamview_api_commands_total{result="invalid",type="ChangeProductStock"} 1`,
		`streamview_api_commands_total{result="sent",type="ChangeProductStock"} 1`,
		`streamview_http_requests_in_flight 1`,
		`streamview_consumer_lag{partition="0",projection="product-view"} 7`,
		// Prometheus escaping: backslash, double quote and line feed only.
		`streamview_consumer_lag{partition="1",projection="a\"b\\c\nd"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Every sample line is well-formed text format.
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfNa]+$`)
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "#") && !sample.MatchString(line) {
			t.Errorf("malformed sample line %q", line)
		}
	}
	// Buckets are cumulative.
	if !strings.Contains(body, `le="30"} 2`) {
		t.Errorf("the largest finite bucket does not hold every request:\n%s", body)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	s := testServer(t, Deps{})
	tests := []struct {
		name   string
		req    request
		status int
		allow  string
	}{
		{"unknown path", request{method: "GET", path: "/v2/products"}, 404, ""},
		{"unknown subpath", request{method: "GET", path: "/v1/products/" + productID + "/colour"}, 404, ""},
		// GET / is the console (API.md, "Operations"); what is not a
		// route under it is still a problem+json 404.
		{"a file under the root", request{method: "GET", path: "/index.html"}, 404, ""},
		{"not a file of the console", request{method: "GET", path: "/console/nope.js"}, 404, ""},
		{"POST to the console", request{method: "POST", path: "/", body: `{}`}, 405, "GET, HEAD"},
		{"POST to a query", request{method: "POST", path: "/healthz", body: `{}`}, 405, "GET, HEAD"},
		{"PUT a product", request{method: "PUT", path: "/v1/products/" + productID, body: `{}`}, 405, "DELETE, GET, HEAD, PATCH"},
		{"GET a price", request{method: "GET", path: "/v1/products/" + productID + "/price"}, 405, "PUT"},
		// /v1/products/search is no product: the methods of
		// /v1/products/{id} are not allowed there.
		{"POST a search", request{method: "POST", path: "/v1/products/search", body: `{}`}, 405, "GET, HEAD"},
		{"DELETE a search", request{method: "DELETE", path: "/v1/products/search"}, 405, "GET, HEAD"},
		{"PATCH a search", request{method: "PATCH", path: "/v1/products/search", body: `{}`}, 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, s.Handler(), tt.req)
			wantProblem(t, w, tt.status)
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestPanicIsA500(t *testing.T) {
	views := newFakeViews()
	views.panic = true
	s := testServer(t, Deps{Views: views})
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID}), http.StatusInternalServerError)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		errs []string
	}{
		{"zero", Config{}, nil},
		{"JPY", Config{Currency: "JPY"}, nil},
		{"everything wrong", Config{Currency: "euro", MaxWait: -1, PollInterval: -1, MaxBodyBytes: -1},
			[]string{"Currency", "MaxWait", "PollInterval", "MaxBodyBytes"}},
		{"read wait over max", Config{MaxWait: time.Second, ReadWait: 2 * time.Second}, []string{"ReadWait"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.errs == nil) {
				t.Fatalf("Validate() = %v, want errors about %v", err, tt.errs)
			}
			for _, e := range tt.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("Validate() = %v, does not name %s", err, e)
				}
			}
		})
	}
}

func TestNewPanicsOnBadConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New did not panic on a bad currency")
		}
	}()
	New(Config{Currency: "eur"}, Deps{})
}

// TestReadyzHidesErrorsWithAuthOn: /readyz answers without a token, so
// with auth on it names a failing part but not its error, which may name
// servers' addresses and accounts; with auth off (this machine only) it
// says the error.
func TestReadyzHidesErrorsWithAuthOn(t *testing.T) {
	down := func(context.Context) error {
		return errors.New("dial tcp 10.0.3.4:6379: connection refused (user streamview-prod)")
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		auth  *auth.Verifier
		shows bool
	}{{"auth off", nil, true}, {"auth on", v, false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, Deps{Ready: []Check{{"redis", down}}}, func(c *Config) { c.Auth = tc.auth })
			w := serve(t, s.Handler(), request{method: "GET", path: "/readyz"})
			wantProblem(t, w, http.StatusServiceUnavailable, "redis")
			if got := strings.Contains(w.Body.String(), "10.0.3.4"); got != tc.shows {
				t.Errorf("the answer shows the error: %v, want %v; body %s", got, tc.shows, w.Body)
			}
		})
	}
}
