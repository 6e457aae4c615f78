package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/api/auth"
	"github.com/streamview/streamview/api/auth/authtest"
	"github.com/streamview/streamview/schemas"
)

// TestEveryRouteHasAPolicy fails for a route whose scope nobody decided:
// add its pattern to routePolicies (access.go).
func TestEveryRouteHasAPolicy(t *testing.T) {
	s := testServer(t, Deps{})
	for _, rt := range s.routes {
		if _, ok := routePolicies[rt.pattern]; !ok {
			method, path, _ := strings.Cut(rt.pattern, " ")
			rule := policyByRule(method, path)
			t.Errorf("route %q has no entry in routePolicies (access.go); until it has, the rule gives it %v", rt.pattern, rule)
		}
	}
}

func authServer(t *testing.T, deps Deps, tweak ...func(*Config)) *Server {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret})
	if err != nil {
		t.Fatal(err)
	}
	return testServer(t, deps, append([]func(*Config){func(c *Config) { c.Auth = v }}, tweak...)...)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// concrete turns a route pattern into a request.
func concrete(pattern string) request {
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "{$}")
	path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, productID)
	rq := request{method: method, path: path}
	if method != "GET" && method != "DELETE" {
		rq.body = `{}`
	}
	return rq
}

// TestScopes runs every route with every token: a token works for exactly
// its scopes (403 otherwise), no token is a 401, the open routes answer
// anyone. Scopes the API does not know, as an identity provider's
// "openid", are ignored: they neither grant nor refuse.
func TestScopes(t *testing.T) {
	tokens := map[string]string{"none": ""}
	for _, set := range []string{"", "catalog:read", "catalog:write", "ops", "catalog:read catalog:write ops", "openid catalog:write profile", "openid email"} {
		tokens["scope "+strconv.Quote(set)] = authtest.HS256(t, authtest.Secret, authtest.Valid("alice", set))
	}
	for _, public := range []bool{false, true} {
		s := authServer(t, Deps{Commands: newFakeBus(), Views: newFakeViews(), Search: &fakeSearch{}}, func(c *Config) { c.PublicReads = public })
		for _, rt := range s.routes {
			p := routePolicies[rt.pattern]
			for name, tok := range tokens {
				t.Run(fmt.Sprintf("public=%v/%s/%s", public, rt.pattern, name), func(t *testing.T) {
					rq := concrete(rt.pattern)
					if tok != "" {
						rq.header = bearer(tok)
					}
					w := serve(t, s.Handler(), rq)
					var granted []auth.Scope
					if tok != "" {
						c, err := s.cfg.Auth.Verify(context.Background(), tok)
						if err != nil {
							t.Fatal(err)
						}
						granted = c.Scopes
					}
					isPublic := p.open || public && slices.Contains(p.scopes, auth.CatalogRead)
					switch {
					case isPublic || slices.ContainsFunc(p.scopes, func(s auth.Scope) bool { return slices.Contains(granted, s) }):
						if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
							t.Errorf("status %d, want the route's own answer; body %s", w.Code, w.Body)
						}
					case tok == "":
						wantProblem(t, w, http.StatusUnauthorized, "Authorization")
						if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") {
							t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
						}
					default:
						wantProblem(t, w, http.StatusForbidden, "Authorization")
						if got := w.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
							t.Errorf("WWW-Authenticate = %q, want insufficient_scope", got)
						}
					}
				})
			}
		}
	}
}

// TestAuthOffByDefault: without a verifier every route answers without a
// token, as before.
func TestAuthOffByDefault(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), request{method: "POST", path: "/v1/products", body: createBody})
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d; body %s", w.Code, w.Body)
	}
}

// TestBadTokensAreRefused sends 1,000 bad tokens of every kind to command
// routes: each is a 401 (a good token without the scope a 403), and
// nothing is published.
func TestBadTokensAreRefused(t *testing.T) {
	keys := authtest.NewKeys(t)
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret, JWKS: keys.WriteJWKS(t), Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus}, func(c *Config) { c.Auth = v })
	bad := authtest.BadTokens(t, keys, "iss", "aud")
	routes := []request{
		{method: "POST", path: "/v1/products", body: createBody},
		{method: "PUT", path: "/v1/products/" + productID + "/price", body: `{"price":{"amount":"1","currency":"EUR"}}`},
		{method: "POST", path: "/v1/products/" + productID + "/reviews", body: `{"rating":5}`},
		{method: "DELETE", path: "/v1/products/" + productID},
	}
	for i := range 1000 {
		b := bad[i%len(bad)]
		rq := routes[i%len(routes)]
		rq.header = map[string]string{"Authorization": b.Header}
		w := serve(t, s.Handler(), rq)
		if w.Code != b.Status {
			t.Fatalf("token %d (%s) on %s %s: status %d, want %d; body %s", i, b.Name, rq.method, rq.path, w.Code, b.Status, w.Body)
		}
		if b.Status == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("token %d (%s): no Bearer challenge", i, b.Name)
		}
	}
	if n := len(bus.commands()); n != 0 {
		t.Fatalf("%d commands published for bad tokens, want none", n)
	}
	// The same server takes a good token.
	rq := routes[0]
	rq.header = bearer(authtest.RS256(t, keys.RSA, "rsa-1", authtest.Claims{Sub: "a", Scope: "catalog:write", Iss: "iss", Aud: []string{"aud"}, Exp: time.Now().Add(time.Minute)}))
	if w := serve(t, s.Handler(), rq); w.Code != http.StatusAccepted {
		t.Fatalf("a good token: status %d; body %s", w.Code, w.Body)
	}
}

// TestReviewUserIsTheSubject: with auth on, a review's userId and the
// command's metadata are the token's sub.
func TestReviewUserIsTheSubject(t *testing.T) {
	tok := authtest.HS256(t, authtest.Secret, authtest.Valid("alice", "catalog:write"))
	path := "/v1/products/" + productID + "/reviews"
	t.Run("absent: taken from sub", func(t *testing.T) {
		bus := newFakeBus()
		s := authServer(t, Deps{Commands: bus})
		w := serve(t, s.Handler(), request{method: "POST", path: path, body: `{"rating":4}`, header: bearer(tok)})
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d; body %s", w.Code, w.Body)
		}
		cmds := bus.commands()
		if len(cmds) != 1 || cmds[0].Data.(*schemas.AddProductReview).UserID != "alice" || cmds[0].Metadata.UserID != "alice" {
			t.Fatalf("commands = %+v, want one review by alice", cmds)
		}
	})
	t.Run("the same: accepted", func(t *testing.T) {
		bus := newFakeBus()
		s := authServer(t, Deps{Commands: bus})
		w := serve(t, s.Handler(), request{method: "POST", path: path, body: `{"rating":4,"userId":"alice"}`, header: bearer(tok)})
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d; body %s", w.Code, w.Body)
		}
	})
	for name, rq := range map[string]request{
		"another userId":    {method: "POST", path: path, body: `{"rating":4,"userId":"bob"}`, header: bearer(tok)},
		"another X-User-ID": {method: "POST", path: path, body: `{"rating":4}`, header: map[string]string{"Authorization": "Bearer " + tok, "X-User-ID": "bob"}},
	} {
		t.Run(name, func(t *testing.T) {
			bus := newFakeBus()
			s := authServer(t, Deps{Commands: bus})
			wantProblem(t, serve(t, s.Handler(), rq), http.StatusUnprocessableEntity)
			if n := len(bus.commands()); n != 0 {
				t.Errorf("%d commands published, want none", n)
			}
		})
	}
}

// TestIdempotencyKeyPerCaller: the key is bound to the token's subject, so
// another caller reusing it gets a 422.
func TestIdempotencyKeyPerCaller(t *testing.T) {
	bus := newFakeBus()
	s := authServer(t, Deps{Commands: bus})
	send := func(sub string) *httptest.ResponseRecorder {
		tok := authtest.HS256(t, authtest.Secret, authtest.Valid(sub, "catalog:write"))
		return serve(t, s.Handler(), request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":3}`,
			header: map[string]string{"Authorization": "Bearer " + tok, "Idempotency-Key": "k-1"}})
	}
	if w := send("alice"); w.Code != http.StatusAccepted {
		t.Fatalf("alice: status %d; body %s", w.Code, w.Body)
	}
	if w := send("alice"); w.Code != http.StatusAccepted {
		t.Fatalf("alice again: status %d; body %s", w.Code, w.Body)
	}
	p := wantProblem(t, send("bob"), http.StatusUnprocessableEntity, headerIdempotencyKey)
	if p.Type != problemKeyReused {
		t.Errorf("type %q, want %q", p.Type, problemKeyReused)
	}
	if n := len(bus.commands()); n != 1 {
		t.Errorf("%d commands published, want 1", n)
	}
}

// TestBadTokenOnPublicRead: public reads need no token, but a bad one is
// still refused, so that its sender learns of it.
func TestBadTokenOnPublicRead(t *testing.T) {
	s := authServer(t, Deps{Views: newFakeViews(), Search: &fakeSearch{}}, func(c *Config) { c.PublicReads = true })
	if w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search"}); w.Code != http.StatusOK {
		t.Fatalf("no token: status %d; body %s", w.Code, w.Body)
	}
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/search", header: bearer("garbage")}), http.StatusUnauthorized)
	// Open routes ignore the header altogether: probes must not fail.
	if w := serve(t, s.Handler(), request{method: "GET", path: "/healthz", header: bearer("garbage")}); w.Code != http.StatusOK {
		t.Fatalf("healthz with a bad token: status %d", w.Code)
	}
}

// TestChallenges: the 401's WWW-Authenticate names an error only when a
// bearer token was sent (RFC 6750 §3.1): none for no header, nor for
// another scheme (Basic), which the detail names.
func TestChallenges(t *testing.T) {
	s := authServer(t, Deps{Views: newFakeViews()})
	path := "/v1/products/" + productID
	for _, tc := range []struct {
		name, header, challenge, detail string
	}{
		{"no header", "", `Bearer realm="streamview"`, "needs a bearer token"},
		{"basic", "Basic YWxpY2U6c2VjcmV0", `Bearer realm="streamview"`, "of the Basic scheme, not Bearer"},
		{"a bad bearer token", "Bearer garbage", `Bearer realm="streamview", error="invalid_token"`, "The bearer token is invalid"},
		{"bearer without a token", "Bearer", `Bearer realm="streamview", error="invalid_token"`, "the Authorization header is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rq := request{method: "GET", path: path}
			if tc.header != "" {
				rq.header = map[string]string{"Authorization": tc.header}
			}
			w := serve(t, s.Handler(), rq)
			wantProblem(t, w, http.StatusUnauthorized)
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if !strings.Contains(w.Body.String(), tc.detail) {
				t.Errorf("body %s does not say %q", w.Body, tc.detail)
			}
		})
	}
}

// TestUnknownRoutesNeedATokenFirst: with auth on, an unknown path or
// method does not reveal what exists to a caller without a token.
func TestUnknownRoutesNeedATokenFirst(t *testing.T) {
	s := authServer(t, Deps{})
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/nothing"}), http.StatusUnauthorized)
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/projections/x/secrets"}), http.StatusUnauthorized)
	read := authtest.HS256(t, authtest.Secret, authtest.Valid("alice", "catalog:read"))
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/nothing", header: bearer(read)}), http.StatusNotFound)
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/projections/x/secrets", header: bearer(read)}), http.StatusForbidden)
}

func TestPolicyByRule(t *testing.T) {
	tests := []struct {
		method, path string
		want         policy
	}{
		{"GET", "/metrics", opsScope},
		{"GET", "/v1/projections/product-view/anything", opsScope},
		{"POST", "/v1/projections/x", opsScope},
		{"GET", "/v1/whatever", readScope},
		{"HEAD", "/v1/whatever", readScope},
		{"POST", "/v1/whatever", writeScope},
		{"DELETE", "/v1/whatever", writeScope},
		{"GET", "/healthz", readScope}, // open only by declaration
	}
	for _, tt := range tests {
		if got := policyByRule(tt.method, tt.path); !slices.Equal(got.scopes, tt.want.scopes) || got.open != tt.want.open {
			t.Errorf("policyByRule(%s %s) = %+v, want %+v", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestUnauthenticatedRefusesOtherSites: with auth off, the API answers
// anyone who reaches it, and a browser on this machine reaches it. A page
// of another site must not drive it: a form it posts (no CORS preflight)
// started a rebuild, and under a DNS name turned to 127.0.0.1 (DNS
// rebinding) it read and changed everything. Clients other than browsers
// send neither Origin nor Sec-Fetch-Site, and name the host they dial.
func TestUnauthenticatedRefusesOtherSites(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name    string
		anyHost bool
		rq      request
		host    string
		status  int // 503 for GET /v1/projections: past the guard, the route itself (no Projections here)
	}{
		{"a client without browser headers", false, request{method: "POST", path: "/v1/products", body: createBody}, "127.0.0.1:8080", 202},
		{"localhost", false, request{method: "POST", path: "/v1/products", body: createBody}, "localhost:8080", 202},
		{"a name under .localhost", false, request{method: "GET", path: "/v1/projections"}, "api.localhost:8080", 503},
		{"an IPv6 address", false, request{method: "GET", path: "/v1/projections"}, "[::1]:8080", 503},
		{"the console, same origin", false, request{method: "POST", path: "/v1/products", body: createBody,
			header: map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}}, "127.0.0.1:8080", 202},
		{"a form posted from another site", false, request{method: "POST", path: "/v1/projections/product-view/rebuild",
			header: map[string]string{"Origin": "http://evil.example", "Content-Type": form}}, "127.0.0.1:8080", 403},
		{"another site, by Sec-Fetch-Site", false, request{method: "POST", path: "/v1/products", body: createBody,
			header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, "127.0.0.1:8080", 403},
		{"a read from another site's page (a simple GET: the browser keeps the answer from it)", false,
			request{method: "GET", path: "/v1/projections", header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, "127.0.0.1:8080", 503},
		{"DNS rebinding: a write", false, request{method: "POST", path: "/v1/products", body: createBody,
			header: map[string]string{"Origin": "http://rebind.example:8080"}}, "rebind.example:8080", 403},
		{"DNS rebinding: a read", false, request{method: "GET", path: "/v1/projections"}, "rebind.example:8080", 403},
		{"--insecure: a proxy's host name", true, request{method: "POST", path: "/v1/products", body: createBody}, "api.example.com", 202},
		{"--insecure: still no cross-site writes", true, request{method: "POST", path: "/v1/products", body: createBody,
			header: map[string]string{"Origin": "http://evil.example"}}, "api.example.com", 403},
		{"the probes answer any host", false, request{method: "GET", path: "/healthz"}, "rebind.example:8080", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := newFakeBus()
			s := testServer(t, Deps{Commands: bus, Operations: &fakeOps{}}, func(c *Config) { c.AnyHost = tc.anyHost })
			r := tc.rq.build(t)
			r.Host = tc.host
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if tc.status == 403 && len(bus.commands()) != 0 {
				t.Errorf("%d commands published by a refused request", len(bus.commands()))
			}
		})
	}
}
