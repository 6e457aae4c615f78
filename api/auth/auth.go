package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Scope is a permission a token grants.
type Scope string

// The scopes of API.md.
const (
	// CatalogWrite allows commands, reference data and subscriptions.
	CatalogWrite Scope = "catalog:write"
	// CatalogRead allows queries and history.
	CatalogRead Scope = "catalog:read"
	// Ops allows /v1/projections and everything under it (dead letters,
	// rebuilds) and /metrics.
	Ops Scope = "ops"
)

// Scopes are all the scopes, in the order of API.md.
var Scopes = []Scope{CatalogWrite, CatalogRead, Ops}

// ParseScopes reads a space-separated scope string that a person wrote,
// as `streamview token --scope`: unknown scopes are an error, a typo
// would mint a token without the scope meant. A token's `scope` claim is
// read by GrantedScopes instead.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.Fields(s) {
		if !slices.Contains(Scopes, Scope(f)) {
			return nil, fmt.Errorf("auth: unknown scope %q (want catalog:write, catalog:read or ops)", f)
		}
		if !slices.Contains(out, Scope(f)) {
			out = append(out, Scope(f))
		}
	}
	return out, nil
}

// GrantedScopes returns the scopes a token's space-separated `scope` claim
// grants, each once, in the claim's order. Values the API does not know
// are ignored: an identity provider's token carries others ("openid",
// "profile", another API's) beside the ones it grants here.
func GrantedScopes(s string) []Scope {
	var out []Scope
	for _, f := range strings.Fields(s) {
		if slices.Contains(Scopes, Scope(f)) && !slices.Contains(out, Scope(f)) {
			out = append(out, Scope(f))
		}
	}
	return out
}

// Default of Config.
const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultJWKSRefresh is how often a JWKS URL is fetched again.
	DefaultJWKSRefresh = time.Hour
)

// Config says which tokens a Verifier accepts. Auth is on when Secret or
// JWKS is set (Enabled).
type Config struct {
	// Secret is the HS256 key. Empty: HS256 tokens are refused.
	Secret []byte
	// JWKS is a JSON Web Key Set, as a file path or an http(s) URL, whose
	// RSA and EC P-256 keys verify RS256 and ES256 tokens. Empty: those
	// tokens are refused.
	JWKS string
	// Issuer, when set, must be the token's iss.
	Issuer string
	// Audience, when set, must be one of the token's aud.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default
	// DefaultLeeway (30s); negative means none.
	Leeway time.Duration
	// JWKSRefresh is how often a JWKS URL is fetched again (a token with an
	// unknown kid also triggers a fetch, at most every 5 minutes). Default
	// DefaultJWKSRefresh (1h).
	JWKSRefresh time.Duration
	// HTTPClient fetches a JWKS URL. Default: a client with a 10s timeout.
	HTTPClient *http.Client
}

// Enabled reports whether c configures any key, that is whether the API
// checks tokens at all.
func (c Config) Enabled() bool { return len(c.Secret) > 0 || c.JWKS != "" }

// MinSecretBytes is the shortest HS256 secret accepted: RFC 7518 §3.2
// wants a key at least as long as the hash.
const MinSecretBytes = 32

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Secret) > 0 && len(c.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("auth: the HS256 secret has %d bytes; use at least %d (e.g. `openssl rand -base64 48`)", len(c.Secret), MinSecretBytes))
	}
	if c.JWKS != "" && isURL(c.JWKS) {
		if _, err := url.ParseRequestURI(c.JWKS); err != nil {
			errs = append(errs, fmt.Errorf("auth: JWKS URL %q: %w", c.JWKS, err))
		}
	}
	if c.JWKSRefresh < 0 {
		errs = append(errs, fmt.Errorf("auth: JWKSRefresh %v is negative", c.JWKSRefresh))
	}
	return errors.Join(errs...)
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// Claims are what a valid token says.
type Claims struct {
	// Subject is the token's sub: the caller.
	Subject string
	// Scopes are the scopes the token grants.
	Scopes []Scope
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// Has reports whether c grants s.
func (c Claims) Has(s Scope) bool { return slices.Contains(c.Scopes, s) }

// ErrInvalid is the error of every refused token; the message says why
// (for the log and the 401's detail: it names no key or secret).
var ErrInvalid = errors.New("invalid token")

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	methods []string
	jwks    keyfunc.Keyfunc // nil without JWKS
	parser  *jwt.Parser
}

// NewVerifier returns a Verifier for cfg. With a JWKS file it reads the
// file now; with a JWKS URL it fetches it now (an error if that fails, so
// that a wrong URL shows at start) and again every cfg.JWKSRefresh until
// ctx ends.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("auth: no HS256 secret and no JWKS configured")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	} else if cfg.Leeway < 0 {
		cfg.Leeway = 0
	}
	if cfg.JWKSRefresh == 0 {
		cfg.JWKSRefresh = DefaultJWKSRefresh
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	v := &Verifier{cfg: cfg}
	if len(cfg.Secret) > 0 {
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKS != "" {
		kf, err := loadJWKS(ctx, cfg)
		if err != nil {
			return nil, err
		}
		v.jwks = kf
		v.methods = append(v.methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(), // one text per token: no spare base64 bits, no padding
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

func loadJWKS(ctx context.Context, cfg Config) (keyfunc.Keyfunc, error) {
	if !isURL(cfg.JWKS) {
		raw, err := os.ReadFile(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: read the JWKS file: %w", err)
		}
		if !json.Valid(raw) {
			return nil, fmt.Errorf("auth: the JWKS file %s is not JSON", cfg.JWKS)
		}
		kf, err := keyfunc.NewJWKSetJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("auth: the JWKS file %s: %w", cfg.JWKS, err)
		}
		return kf, nil
	}
	fail := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKS}, keyfunc.Override{
		Client:                    cfg.HTTPClient,
		RefreshInterval:           cfg.JWKSRefresh,
		NoErrorReturnFirstHTTPReq: &fail,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: fetch the JWKS from %s: %w (is the URL right and the server up?)", cfg.JWKS, err)
	}
	return kf, nil
}

// tokenClaims is the payload of a token: the registered claims and scope.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
}

// UnmarshalJSON refuses a time claim (exp, nbf, iat) that is not a JSON
// number: RFC 7519 makes each a NumericDate, and the jwt package would
// read a string of digits as one.
func (tc *tokenClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := raw[name]
		if !ok {
			continue
		}
		if !isJSONNumber(v) {
			return &claimTypeError{name, "is not a number of seconds (RFC 7519 NumericDate)"}
		}
		// Beyond year 9999 a time does not fit (1e300 read as expired).
		if f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64); err != nil || f < 0 || f > maxNumericDate {
			return &claimTypeError{name, "is not a time between 1970 and 9999 in seconds (RFC 7519 NumericDate)"}
		}
	}
	if v, ok := raw["scope"]; ok && !bytes.HasPrefix(bytes.TrimSpace(v), []byte(`"`)) {
		return &claimTypeError{"scope", "is not a string of space-separated scopes (RFC 8693), such as \"catalog:read ops\""}
	}
	type plain tokenClaims // without this method
	return json.Unmarshal(b, (*plain)(tc))
}

// maxNumericDate is 9999-12-31T23:59:59Z in Unix seconds.
const maxNumericDate = 253402300799

// claimTypeError is a claim of the wrong JSON type: a time claim that is
// not a number, a scope that is not a string.
type claimTypeError struct{ claim, is string }

func (e *claimTypeError) Error() string {
	return "its " + e.claim + " claim " + e.is
}

// isJSONNumber reports whether v, one JSON value, is a number.
func isJSONNumber(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
}

// Verify checks token (the text after "Bearer ") and returns its claims,
// or an error wrapping ErrInvalid that says why it was refused.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	var tc tokenClaims
	t, err := v.parser.ParseWithClaims(token, &tc, v.keyFor(ctx))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalid, reason(err))
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: a recipient refuses a JWS whose critical
		// extensions it does not understand, and this one understands
		// none (an empty or malformed crit is not allowed either).
		return Claims{}, fmt.Errorf("%w: its header lists critical extensions (crit) that this server does not understand", ErrInvalid)
	}
	if tc.Subject == "" {
		return Claims{}, fmt.Errorf("%w: it has no sub claim", ErrInvalid)
	}
	c := Claims{Subject: tc.Subject, Scopes: GrantedScopes(tc.Scope)}
	if tc.ExpiresAt != nil {
		c.ExpiresAt = tc.ExpiresAt.Time
	}
	return c, nil
}

// keyFor returns the key of a token's algorithm: the secret for HS256,
// a JWKS key of the matching type for RS256 and ES256. The parser has
// already refused any other algorithm (WithValidMethods).
func (v *Verifier) keyFor(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case jwt.SigningMethodHS256.Alg():
			if len(v.cfg.Secret) == 0 {
				return nil, errors.New("HS256 is not accepted")
			}
			return v.cfg.Secret, nil
		case jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg():
			if v.jwks == nil {
				return nil, errors.New(t.Method.Alg() + " is not accepted")
			}
			key, err := v.jwks.KeyfuncCtx(ctx)(t)
			if err != nil {
				return nil, err
			}
			// One key per algorithm family: a JWKS key of another type (an
			// "oct" key, say) never verifies a token.
			return keyOfType(t.Method.Alg(), key)
		}
		return nil, fmt.Errorf("algorithm %s is not accepted", t.Method.Alg())
	}
}

func keyOfType(alg string, key any) (any, error) {
	ok := false
	switch k := key.(type) {
	case *rsa.PublicKey:
		ok = alg == jwt.SigningMethodRS256.Alg()
	case *ecdsa.PublicKey:
		ok = alg == jwt.SigningMethodES256.Alg() && k.Curve.Params().Name == "P-256"
	case jwt.VerificationKeySet:
		var keys []jwt.VerificationKey
		for _, each := range k.Keys {
			if kk, err := keyOfType(alg, each); err == nil {
				keys = append(keys, kk)
			}
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("the JWKS has no key for %s", alg)
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	}
	if !ok {
		return nil, fmt.Errorf("the JWKS key for this token is a %T, not a key for %s", key, alg)
	}
	return key, nil
}

// reason turns a jwt error into a short sentence for a person.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		if e, ok := errors.AsType[*claimTypeError](err); ok {
			return e.Error()
		}
		return "it is not a well-formed JWT"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "it cannot be verified: " + lastCause(err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if c := lastCause(err); strings.Contains(c, "signing method") {
			return "its algorithm is not accepted: " + c
		}
		return "its signature is invalid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "its issuer (iss) is missing or not the configured one"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "its audience (aud) is missing or does not include the configured one"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "it has expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "it lacks a required claim: " + lastCause(err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "it is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "it was issued in the future (iat)"
	}
	return lastCause(err)
}

func lastCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// Token says what Mint puts in a token.
type Token struct {
	Subject  string
	Scopes   []Scope
	TTL      time.Duration // must be positive: every token expires
	Issuer   string        // iss, when set
	Audience string        // aud, when set
	Now      time.Time     // iat; zero is time.Now
}

// Mint returns an HS256 token signed with secret.
func Mint(secret []byte, t Token) (string, error) {
	if len(secret) < MinSecretBytes {
		return "", fmt.Errorf("auth: the HS256 secret has %d bytes; use at least %d", len(secret), MinSecretBytes)
	}
	if t.TTL <= 0 {
		return "", errors.New("auth: a token needs a positive lifetime")
	}
	if t.Subject == "" {
		return "", errors.New("auth: a token needs a subject")
	}
	now := t.Now
	if now.IsZero() {
		now = time.Now()
	}
	scopes := make([]string, len(t.Scopes))
	for i, s := range t.Scopes {
		scopes[i] = string(s)
	}
	c := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   t.Subject,
			Issuer:    t.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.TTL)),
		},
		Scope: strings.Join(scopes, " "),
	}
	if t.Audience != "" {
		c.Audience = jwt.ClaimStrings{t.Audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
