package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/streamview/streamview/api/auth/authtest"
)

// TestLimiters runs the token buckets on a clock of the test's.
func TestLimiters(t *testing.T) {
	l := newLimiters(2, 2, 100)
	now := time.Unix(1_000_000, 0)
	for i := range 2 {
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a", now)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("third request at once: allow = %v, wait %v; want refused with a wait of at most 500ms", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("another caller refused: buckets are per caller")
	}
	// Refused requests cost nothing: after the wait one passes.
	for range 5 {
		l.allow("a", now)
	}
	if ok, _ := l.allow("a", now.Add(wait)); !ok {
		t.Fatal("refused after waiting the wait it was given")
	}
	if got := retryAfter(wait); got != 1 {
		t.Errorf("retryAfter(%v) = %d, want 1", wait, got)
	}
	if got := retryAfter(1500 * time.Millisecond); got != 2 {
		t.Errorf("retryAfter(1.5s) = %d, want 2", got)
	}
}

// TestLimitersBounded: a flood of distinct callers keeps at most max
// buckets, dropping the least recently seen.
func TestLimitersBounded(t *testing.T) {
	l := newLimiters(1, 1, 1000)
	now := time.Unix(1_000_000, 0)
	l.allow("steady", now)
	for i := range 50_000 {
		l.allow(fmt.Sprintf("flood-%d", i), now)
		if i%100 == 0 {
			l.allow("steady", now) // recently seen: kept, still limited
		}
	}
	if n := l.len(); n > 1000 {
		t.Fatalf("%d buckets, want at most 1000", n)
	}
	if ok, _ := l.allow("steady", now); ok {
		t.Error("the steady caller's bucket was dropped while in use")
	}
}

// TestRateLimitHTTP: a client over its rate gets 429 with Retry-After, and
// succeeds once it has waited that long. Callers are told apart by token
// subject, or by address without a token.
func TestRateLimitHTTP(t *testing.T) {
	s := authServer(t, Deps{Views: newFakeViews(), Search: &fakeSearch{}}, func(c *Config) {
		c.RateLimit, c.RateBurst, c.PublicReads = 2, 2, true
	})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/products/search", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	alice := authtest.HS256(t, authtest.Secret, authtest.Valid("alice", "catalog:read"))
	bob := authtest.HS256(t, authtest.Secret, authtest.Valid("bob", "catalog:read"))

	// Send until refused: the burst is 2, and a slow machine may refill a
	// token between requests, so allow a few more before the refusal.
	var refused *http.Response
	for i := 0; i < 100 && refused == nil; i++ {
		if resp := get(alice); resp.StatusCode == http.StatusTooManyRequests {
			refused = resp
		} else if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, resp.StatusCode)
		}
	}
	if refused == nil {
		t.Fatal("100 requests at once at 2/s were never refused")
	}
	refusedAt := time.Now()
	if ct := refused.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("429 Content-Type %q", ct)
	}
	secs, err := strconv.Atoi(refused.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q: want whole seconds ≥ 1", refused.Header.Get("Retry-After"))
	}
	// Another caller has a bucket of its own, and so do clients without a token.
	if resp := get(bob); resp.StatusCode != http.StatusOK {
		t.Errorf("bob: status %d, want 200", resp.StatusCode)
	}
	if resp := get(""); resp.StatusCode != http.StatusOK {
		t.Errorf("no token: status %d, want 200", resp.StatusCode)
	}
	// Waiting Retry-After is enough: the next request passes.
	time.Sleep(time.Until(refusedAt.Add(time.Duration(secs) * time.Second)))
	if resp := get(alice); resp.StatusCode != http.StatusOK {
		t.Fatalf("after Retry-After: status %d, want 200", resp.StatusCode)
	}
	// The open routes are never limited.
	for range 20 {
		resp, err := srv.Client().Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: status %d", resp.StatusCode)
		}
	}
}

// TestClientAddr: a caller without a token is its address, and an IPv6
// caller its /64, which one host usually holds whole: cycling through its
// addresses took a fresh bucket per request.
func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:4321", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:4321", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:80", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"[::ffff:192.0.2.7]:80", "::ffff:192.0.2.7"},
		{"[::1]:80", "::/64"},
		{"not an address", "not an address"},
	} {
		r := httptest.NewRequest("GET", "/v1/products/search", nil)
		r.RemoteAddr = tc.remote
		if got := clientAddr(r); got != tc.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
