// Package authtest makes keys, JSON Web Key Sets and tokens of every kind,
// good and bad, for the tests of auth, api and cmd/streamview. Only tests
// import it.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Secret is an HS256 secret of the minimum length.
var Secret = []byte("streamview-test-secret-0123456789abcdef")

// Keys are an RSA and an EC P-256 key pair, and their public JWKS.
type Keys struct {
	RSA  *rsa.PrivateKey
	EC   *ecdsa.PrivateKey
	JWKS []byte // the public keys, kid "rsa-1" (RS256) and "ec-1" (ES256)
}

// NewKeys generates Keys.
func NewKeys(t testing.TB) Keys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var set jwkset.JWKSMarshal
	for _, k := range []struct {
		key any
		kid string
		alg jwkset.ALG
	}{{&rk.PublicKey, "rsa-1", jwkset.AlgRS256}, {&ek.PublicKey, "ec-1", jwkset.AlgES256}} {
		jwk, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return Keys{RSA: rk, EC: ek, JWKS: b}
}

// WriteJWKS writes k's JWKS to a file in a temporary folder and returns its path.
func (k Keys) WriteJWKS(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(p, k.JWKS, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Claims are the claims of a test token; zero fields are left out.
type Claims struct {
	Sub, Iss, Scope string
	Aud             []string
	Exp, Nbf, Iat   time.Time
	// StringTimes names time claims (exp, nbf, iat) written as strings of
	// digits, which RFC 7519 does not allow ("exp":"1700000000").
	StringTimes []string
	// Header holds JOSE header parameters to add beside alg and typ, such
	// as "crit".
	Header map[string]any
}

// token returns an unsigned token of c for m, with c's extra header
// parameters.
func (c Claims) token(m jwt.SigningMethod) *jwt.Token {
	t := jwt.NewWithClaims(m, c.mapClaims())
	maps.Copy(t.Header, c.Header)
	return t
}

func (c Claims) mapClaims() jwt.MapClaims {
	m := jwt.MapClaims{}
	if c.Sub != "" {
		m["sub"] = c.Sub
	}
	if c.Iss != "" {
		m["iss"] = c.Iss
	}
	if c.Scope != "" {
		m["scope"] = c.Scope
	}
	if len(c.Aud) > 0 {
		m["aud"] = c.Aud
	}
	for name, t := range map[string]time.Time{"exp": c.Exp, "nbf": c.Nbf, "iat": c.Iat} {
		switch {
		case t.IsZero():
		case slices.Contains(c.StringTimes, name):
			m[name] = strconv.FormatInt(t.Unix(), 10)
		default:
			m[name] = t.Unix()
		}
	}
	return m
}

// Valid returns claims for sub with scope, expiring in an hour.
func Valid(sub, scope string) Claims {
	return Claims{Sub: sub, Scope: scope, Exp: time.Now().Add(time.Hour), Iat: time.Now()}
}

// HS256 signs c with secret.
func HS256(t testing.TB, secret []byte, c Claims) string {
	t.Helper()
	s, err := c.token(jwt.SigningMethodHS256).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RS256 signs c with key, naming kid in the header when not empty.
func RS256(t testing.TB, key *rsa.PrivateKey, kid string, c Claims) string {
	return sign(t, jwt.SigningMethodRS256, key, kid, c)
}

// ES256 signs c with key, naming kid in the header when not empty.
func ES256(t testing.TB, key *ecdsa.PrivateKey, kid string, c Claims) string {
	return sign(t, jwt.SigningMethodES256, key, kid, c)
}

func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c Claims) string {
	t.Helper()
	tok := c.token(m)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// None returns c as an unsigned token, alg "none".
func None(t testing.TB, c Claims) string {
	t.Helper()
	s, err := c.token(jwt.SigningMethodNone).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// HS256WithPublicKey is the algorithm-confusion attack: an HS256 token
// whose HMAC key is the RSA public key (PKIX DER and PEM forms are
// both tried by attackers; this uses the PEM text), with kid naming the RSA key.
func HS256WithPublicKey(t testing.TB, pub *rsa.PublicKey, c Claims) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pem := "-----BEGIN PUBLIC KEY-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END PUBLIC KEY-----\n"
	tok := c.token(jwt.SigningMethodHS256)
	tok.Header["kid"] = "rsa-1"
	s, err := tok.SignedString([]byte(pem))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Tamper returns token with one character of its payload changed.
func Tamper(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) < 2 {
		return token + "x"
	}
	p := []byte(parts[1])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

// Bad is an Authorization header that a server must refuse with Status.
type Bad struct {
	Name, Header string
	Status       int // 401, or 403 for a valid token without the scope
}

// BadTokens are Authorization headers that a server configured with
// Secret, keys' JWKS, issuer iss and audience aud must refuse on a
// catalog:write route: forged, expired, without exp, for another
// audience or issuer, alg none, HS256 signed with the RS256 public key,
// with a critical header extension, malformed, and valid but without the
// scope (none, or only scopes the API does not know).
func BadTokens(t testing.TB, keys Keys, iss, aud string) []Bad {
	t.Helper()
	other := NewKeys(t)
	now := time.Now()
	good := func() Claims {
		return Claims{Sub: "mallory", Scope: "catalog:write", Iss: iss, Aud: []string{aud}, Exp: now.Add(time.Hour)}
	}
	with := func(f func(*Claims)) Claims { c := good(); f(&c); return c }
	hs := func(c Claims) string { return "Bearer " + HS256(t, Secret, c) }
	return []Bad{
		{"forged (another secret)", "Bearer " + HS256(t, []byte(strings.Repeat("f", 40)), good()), 401},
		{"forged (tampered payload)", "Bearer " + Tamper(HS256(t, Secret, good())), 401},
		{"forged RS256 (another key)", "Bearer " + RS256(t, other.RSA, "rsa-1", good()), 401},
		{"forged ES256 (another key)", "Bearer " + ES256(t, other.EC, "ec-1", good()), 401},
		{"expired", hs(with(func(c *Claims) { c.Exp = now.Add(-time.Hour) })), 401},
		{"expired RS256", "Bearer " + RS256(t, keys.RSA, "rsa-1", with(func(c *Claims) { c.Exp = now.Add(-time.Hour) })), 401},
		{"no exp", hs(with(func(c *Claims) { c.Exp = time.Time{} })), 401},
		{"wrong audience", hs(with(func(c *Claims) { c.Aud = []string{"other"} })), 401},
		{"wrong audience ES256", "Bearer " + ES256(t, keys.EC, "ec-1", with(func(c *Claims) { c.Aud = []string{"other"} })), 401},
		{"wrong issuer", hs(with(func(c *Claims) { c.Iss = "other" })), 401},
		{"alg none", "Bearer " + None(t, good()), 401},
		{"HS256 with the RS256 public key", "Bearer " + HS256WithPublicKey(t, &keys.RSA.PublicKey, good()), 401},
		{"critical header extension", hs(with(func(c *Claims) { c.Header = map[string]any{"crit": []string{"foo"}, "foo": true} })), 401},
		{"critical header extension RS256", "Bearer " + RS256(t, keys.RSA, "rsa-1", with(func(c *Claims) { c.Header = map[string]any{"crit": []string{"exp"}, "exp": 1} })), 401},
		{"malformed", "Bearer abc.def.ghi", 401},
		{"not a JWT", "Bearer hello", 401},
		{"empty bearer", "Bearer ", 401},
		{"basic auth", "Basic YWxpY2U6c2VjcmV0", 401},
		{"no header", "", 401},
		{"wrong scope (read)", hs(with(func(c *Claims) { c.Scope = "catalog:read" })), 403},
		{"wrong scope (ops)", "Bearer " + RS256(t, keys.RSA, "rsa-1", with(func(c *Claims) { c.Scope = "ops" })), 403},
		{"no scope", hs(with(func(c *Claims) { c.Scope = "" })), 403},
		{"only scopes of others", hs(with(func(c *Claims) { c.Scope = "openid profile catalog:writer" })), 403},
	}
}
