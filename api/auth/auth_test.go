package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/streamview/streamview/api/auth"
	"github.com/streamview/streamview/api/auth/authtest"
)

const (
	issuer   = "https://issuer.example"
	audience = "streamview"
)

func TestVerify(t *testing.T) {
	keys := authtest.NewKeys(t)
	other := authtest.NewKeys(t)
	now := time.Now()
	good := func() authtest.Claims {
		c := authtest.Valid("alice", "catalog:read catalog:write")
		c.Iss, c.Aud = issuer, []string{audience}
		return c
	}
	with := func(f func(*authtest.Claims)) authtest.Claims { c := good(); f(&c); return c }

	ctx := context.Background()
	v, err := auth.NewVerifier(ctx, auth.Config{Secret: authtest.Secret, JWKS: keys.WriteJWKS(t), Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	hsOnly, err := auth.NewVerifier(ctx, auth.Config{Secret: authtest.Secret})
	if err != nil {
		t.Fatal(err)
	}
	jwksOnly, err := auth.NewVerifier(ctx, auth.Config{JWKS: keys.WriteJWKS(t), Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		v      *auth.Verifier
		token  string
		scopes []auth.Scope // nil: refused
	}{
		{"HS256", v, authtest.HS256(t, authtest.Secret, good()), []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},
		{"RS256 with kid", v, authtest.RS256(t, keys.RSA, "rsa-1", good()), []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},
		{"RS256 without kid", v, authtest.RS256(t, keys.RSA, "", good()), []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},
		{"ES256 with kid", v, authtest.ES256(t, keys.EC, "ec-1", good()), []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},
		{"ES256 without kid", jwksOnly, authtest.ES256(t, keys.EC, "", good()), []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},
		{"no scope", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Scope = "" })), []auth.Scope{}},
		{"within the leeway", hsOnly, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Exp = now.Add(-5 * time.Second) })), []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},

		{"wrong secret", v, authtest.HS256(t, []byte(strings.Repeat("x", 40)), good()), nil},
		{"tampered", v, authtest.Tamper(authtest.HS256(t, authtest.Secret, good())), nil},
		{"expired", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Exp = now.Add(-time.Hour) })), nil},
		{"no exp", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Exp = time.Time{} })), nil},
		{"not yet valid", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Nbf = now.Add(time.Hour) })), nil},
		{"issued in the future", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Iat = now.Add(time.Hour) })), nil},
		{"wrong issuer", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Iss = "https://evil.example" })), nil},
		{"no issuer", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Iss = "" })), nil},
		{"wrong audience", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Aud = []string{"billing"} })), nil},
		{"no audience", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Aud = nil })), nil},
		{"no sub", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Sub = "" })), nil},
		// An identity provider's token carries scopes of others beside
		// the API's: they are ignored, not a reason to refuse it.
		{"unknown scopes ignored", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Scope = "openid catalog:read admin catalog:read" })), []auth.Scope{auth.CatalogRead}},
		{"unknown scopes only", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Scope = "openid catalog:*" })), []auth.Scope{}},
		{"unknown scopes ignored RS256", v, authtest.RS256(t, keys.RSA, "rsa-1", with(func(c *authtest.Claims) { c.Scope = "profile ops email" })), []auth.Scope{auth.Ops}},
		// RFC 7515 §4.1.11: critical extensions not understood (none is)
		// make the token invalid.
		{"crit", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Header = map[string]any{"crit": []string{"foo"}, "foo": "bar"} })), nil},
		{"crit naming a registered claim", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Header = map[string]any{"crit": []string{"exp"}, "exp": 1} })), nil},
		{"crit ES256", v, authtest.ES256(t, keys.EC, "ec-1", with(func(c *authtest.Claims) { c.Header = map[string]any{"crit": []string{"b64"}, "b64": true} })), nil},
		{"crit empty", v, authtest.HS256(t, authtest.Secret, with(func(c *authtest.Claims) { c.Header = map[string]any{"crit": []string{}} })), nil},
		{"alg none", v, authtest.None(t, good()), nil},
		{"HS256 with the RSA public key", v, authtest.HS256WithPublicKey(t, &keys.RSA.PublicKey, good()), nil},
		{"HS256 with the RSA public key, no secret configured", jwksOnly, authtest.HS256WithPublicKey(t, &keys.RSA.PublicKey, good()), nil},
		{"HS256 when only a JWKS is configured", jwksOnly, authtest.HS256(t, authtest.Secret, good()), nil},
		{"RS256 when only a secret is configured", hsOnly, authtest.RS256(t, keys.RSA, "rsa-1", good()), nil},
		{"RS256 by a key not in the JWKS", v, authtest.RS256(t, other.RSA, "rsa-1", good()), nil},
		{"RS256 by a key not in the JWKS, no kid", v, authtest.RS256(t, other.RSA, "", good()), nil},
		{"ES256 by a key not in the JWKS", v, authtest.ES256(t, other.EC, "ec-1", good()), nil},
		{"RS256 naming the EC key", v, authtest.RS256(t, keys.RSA, "ec-1", good()), nil},
		{"unknown kid", v, authtest.RS256(t, keys.RSA, "rsa-9", good()), nil},
		{"empty", v, "", nil},
		{"garbage", v, "not-a-jwt", nil},
		{"two parts", v, "eyJhbGciOiJIUzI1NiJ9.e30", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.v.Verify(ctx, tt.token)
			if tt.scopes == nil {
				if !errors.Is(err, auth.ErrInvalid) {
					t.Fatalf("Verify = %+v, %v; want ErrInvalid", c, err)
				}
				t.Log(err)
				if strings.Contains(err.Error(), string(authtest.Secret)) {
					t.Errorf("the error %q shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "alice" || !slices.Equal(c.Scopes, tt.scopes) && !(len(c.Scopes) == 0 && len(tt.scopes) == 0) {
				t.Errorf("claims = %+v, want sub alice and scopes %v", c, tt.scopes)
			}
		})
	}
}

// TestVerifyTimeClaimsAreNumbers: a time claim written as a string of
// digits is refused, each one, and the reason names it.
func TestVerifyTimeClaimsAreNumbers(t *testing.T) {
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, claim := range []string{"exp", "nbf", "iat"} {
		c := authtest.Valid("alice", "catalog:read")
		c.Nbf = time.Now().Add(-time.Minute)
		c.StringTimes = []string{claim}
		_, err := v.Verify(context.Background(), authtest.HS256(t, authtest.Secret, c))
		if want := "its " + claim + " claim is not a number"; !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s as a string: %v, want ErrInvalid saying %q", claim, err, want)
		}
	}
}

// TestVerifyScopeIsAString: a scope claim that is not a string (an array,
// as some identity providers write "scp") is refused, and the reason
// names the claim. (It said "it is not a well-formed JWT".)
func TestVerifyScopeIsAString(t *testing.T) {
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(),
		"scope": []string{"catalog:read"}}).SignedString(authtest.Secret)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), tok)
	if want := "its scope claim is not a string of space-separated scopes"; !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("scope as an array: %v, want ErrInvalid saying %q", err, want)
	}
}

// TestVerifyTimeClaimsInRange: a time claim past year 9999 or before 1970
// is refused as such; an exp of 1e300 was read as expired.
func TestVerifyTimeClaimsInRange(t *testing.T) {
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		claim string
		value any
	}{{"exp", 1e300}, {"exp", 253402300800}, {"iat", -1}, {"nbf", 1e19}} {
		claims := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "scope": "catalog:read"}
		claims[tc.claim] = tc.value
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(authtest.Secret)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), tok)
		if want := "its " + tc.claim + " claim is not a time between 1970 and 9999"; !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s %v: %v, want ErrInvalid saying %q", tc.claim, tc.value, err, want)
		}
	}
	// The last second of 9999 is a time.
	claims := jwt.MapClaims{"sub": "alice", "exp": 253402300799, "scope": "catalog:read"}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(authtest.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("exp at the end of 9999: %v", err)
	}
}

// TestVerifyJWKSURL fetches the JWKS from a server, as from an identity
// provider, and verifies RS256 and ES256 tokens with it.
func TestVerifyJWKSURL(t *testing.T) {
	keys := authtest.NewKeys(t)
	var fetched atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(keys.JWKS)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := auth.NewVerifier(ctx, auth.Config{JWKS: srv.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	if fetched.Load() == 0 {
		t.Fatal("the JWKS was not fetched at start")
	}
	for name, tok := range map[string]string{
		"RS256": authtest.RS256(t, keys.RSA, "rsa-1", authtest.Valid("bob", "ops")),
		"ES256": authtest.ES256(t, keys.EC, "ec-1", authtest.Valid("bob", "ops")),
	} {
		c, err := v.Verify(ctx, tok)
		if err != nil || c.Subject != "bob" || !c.Has(auth.Ops) {
			t.Errorf("%s: Verify = %+v, %v", name, c, err)
		}
	}
	if _, err := v.Verify(ctx, authtest.HS256WithPublicKey(t, &keys.RSA.PublicKey, authtest.Valid("bob", "ops"))); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("HS256 with the public key: err = %v, want ErrInvalid", err)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer down.Close()
	tests := []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"nothing", auth.Config{}, "no HS256 secret"},
		{"short secret", auth.Config{Secret: []byte("short")}, "at least 32"},
		{"missing JWKS file", auth.Config{JWKS: "/nonexistent/jwks.json"}, "read the JWKS file"},
		{"JWKS URL answering 500", auth.Config{JWKS: down.URL}, "fetch the JWKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.NewVerifier(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewVerifier = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestMint(t *testing.T) {
	tok, err := auth.Mint(authtest.Secret, auth.Token{Subject: "ops-bot", Scopes: []auth.Scope{auth.Ops}, TTL: time.Minute, Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret, Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok)
	if err != nil || c.Subject != "ops-bot" || !slices.Equal(c.Scopes, []auth.Scope{auth.Ops}) {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if d := time.Until(c.ExpiresAt); d <= 0 || d > time.Minute {
		t.Errorf("expires in %v, want within a minute", d)
	}
	expired, err := auth.Mint(authtest.Secret, auth.Token{Subject: "x", TTL: time.Minute, Now: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), expired); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("an hour-old one-minute token: %v, want ErrInvalid", err)
	}
	for name, tk := range map[string]auth.Token{"no ttl": {Subject: "x"}, "no subject": {TTL: time.Minute}} {
		if _, err := auth.Mint(authtest.Secret, tk); err == nil {
			t.Errorf("%s: Mint succeeded", name)
		}
	}
}

func TestParseScopes(t *testing.T) {
	got, err := auth.ParseScopes("  catalog:write\tcatalog:read catalog:write ")
	if err != nil || !slices.Equal(got, []auth.Scope{auth.CatalogWrite, auth.CatalogRead}) {
		t.Errorf("ParseScopes = %v, %v", got, err)
	}
	// A person's --scope is strict: a typo would mint a token without the
	// scope meant.
	if _, err := auth.ParseScopes("catalog:*"); err == nil {
		t.Error("ParseScopes(catalog:*) succeeded")
	}
}

// TestGrantedScopes: a token's scope claim grants the API's scopes in it
// and ignores the rest, as identity providers put "openid" and other
// APIs' scopes in the same claim. (Verify refused such a token.)
func TestGrantedScopes(t *testing.T) {
	for _, tc := range []struct {
		name, claim string
		want        []auth.Scope
	}{
		{"known", "catalog:write ops", []auth.Scope{auth.CatalogWrite, auth.Ops}},
		{"others ignored", "openid catalog:read profile email", []auth.Scope{auth.CatalogRead}},
		{"once each", "ops\topenid  ops catalog:read", []auth.Scope{auth.Ops, auth.CatalogRead}},
		{"near misses are not granted", "catalog:* Ops catalog:reader catalog", nil},
		{"empty", "  ", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := auth.GrantedScopes(tc.claim); !slices.Equal(got, tc.want) {
				t.Errorf("GrantedScopes(%q) = %v, want %v", tc.claim, got, tc.want)
			}
		})
	}
}
