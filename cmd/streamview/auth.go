package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/api/auth"
	"github.com/streamview/streamview/internal/connect"
)

// Environment variables of API authentication (API.md, "Authentication").
const (
	envJWTSecret        = "STREAMVIEW_JWT_SECRET"
	envJWTSecretFile    = "STREAMVIEW_JWT_SECRET_FILE"
	envJWKS             = "STREAMVIEW_JWKS"
	envJWTIssuer        = "STREAMVIEW_JWT_ISSUER"
	envJWTAudience      = "STREAMVIEW_JWT_AUDIENCE"
	envPublicReads      = "STREAMVIEW_PUBLIC_READS"
	envRateLimit        = "STREAMVIEW_RATE_LIMIT"
	envRateBurst        = "STREAMVIEW_RATE_BURST"
	envCursorSecret     = "STREAMVIEW_CURSOR_SECRET"
	envCursorSecretFile = "STREAMVIEW_CURSOR_SECRET_FILE"
)

// tokenFlags are the flags that say which tokens are valid: serve and dev
// check them, token signs with them. The HS256 secret itself has no flag,
// so that it never shows in a process list or --help: it comes from
// STREAMVIEW_JWT_SECRET or a file.
type tokenFlags struct {
	secretFile string
	jwks       string
	issuer     string
	audience   string
	e          env
}

func (t *tokenFlags) register(fs *flag.FlagSet, e env) {
	t.e = e
	fs.StringVar(&t.secretFile, "jwt-secret-file", e.or(envJWTSecretFile, ""), "`file` holding the HS256 secret of API tokens, at least 32 bytes (env "+envJWTSecretFile+"; or the secret itself in "+envJWTSecret+")")
	fs.StringVar(&t.jwks, "jwks", e.or(envJWKS, ""), "JSON Web Key Set `file or URL` whose keys verify RS256/ES256 API tokens (env "+envJWKS+")")
	fs.StringVar(&t.issuer, "jwt-issuer", e.or(envJWTIssuer, ""), "when set, a token's iss must be this (env "+envJWTIssuer+")")
	fs.StringVar(&t.audience, "jwt-audience", e.or(envJWTAudience, ""), "when set, a token's aud must include this (env "+envJWTAudience+")")
}

// secret returns the HS256 secret: STREAMVIEW_JWT_SECRET, or the file's
// content without surrounding white space; nil when neither is set.
func (t *tokenFlags) secret() ([]byte, error) {
	inline := t.e.getenv(envJWTSecret)
	switch {
	case inline != "" && t.secretFile != "":
		return nil, fmt.Errorf("both %s and --jwt-secret-file (%s) are set; keep one", envJWTSecret, envJWTSecretFile)
	case inline != "":
		return []byte(inline), nil
	case t.secretFile != "":
		return readSecretFile(t.secretFile, "--jwt-secret-file")
	}
	return nil, nil
}

// readSecretFile reads a secret from path; what names the setting in errors
// (never the secret).
func readSecretFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: %s is empty", what, path)
	}
	return b, nil
}

// config returns the verifier's configuration; Enabled is false when no
// secret and no JWKS is configured.
func (t *tokenFlags) config() (auth.Config, error) {
	secret, err := t.secret()
	if err != nil {
		return auth.Config{}, err
	}
	c := auth.Config{Secret: secret, JWKS: t.jwks, Issuer: t.issuer, Audience: t.audience}
	if err := c.Validate(); err != nil {
		return auth.Config{}, err
	}
	return c, nil
}

// accessFlags are the API's access settings of serve and dev: tokens,
// public reads, rate limit, the cursor secret, --insecure.
type accessFlags struct {
	tokens      tokenFlags
	publicReads bool
	rateLimit   float64
	rateBurst   int
	cursorFile  string
	insecure    bool
	// secretLater says that auth will be on though no secret is
	// configured: dev --auth makes one after resolve.
	secretLater bool
	errs        []error // environment values that did not parse
}

func (a *accessFlags) register(fs *flag.FlagSet, e env) {
	a.tokens.register(fs, e)
	fs.BoolVar(&a.publicReads, "public-reads", a.envBool(e, envPublicReads), "with auth on, let queries and history answer without a token (env "+envPublicReads+")")
	fs.Float64Var(&a.rateLimit, "rate-limit", a.envFloat(e, envRateLimit), "requests per second per caller (token subject, or client address without a token); over it: 429 with Retry-After; 0 = no limit (env "+envRateLimit+")")
	fs.IntVar(&a.rateBurst, "rate-burst", int(a.envFloat(e, envRateBurst)), "requests a caller may send at once above --rate-limit; 0 = the rate rounded up (env "+envRateBurst+")")
	fs.StringVar(&a.cursorFile, "cursor-secret-file", e.or(envCursorSecretFile, ""), "`file` holding the secret that signs search cursors; give every instance behind one load balancer the same; default random per process (env "+envCursorSecretFile+"; or the secret itself in "+envCursorSecret+")")
	fs.BoolVar(&a.insecure, "insecure", false, "listen on a non-loopback --addr without authentication (only behind something that authenticates)")
}

func (a *accessFlags) envBool(e env, key string) bool {
	v := e.getenv(key)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		a.errs = append(a.errs, fmt.Errorf("%s %q: want true or false", key, v))
	}
	return b
}

func (a *accessFlags) envFloat(e env, key string) float64 {
	v := e.getenv(key)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		a.errs = append(a.errs, fmt.Errorf("%s %q: want a number ≥ 0", key, v))
	}
	return f
}

// access is the API's access configuration, ready for api.Config.
type access struct {
	auth        auth.Config // Enabled() false: auth off
	publicReads bool
	rateLimit   float64
	rateBurst   int
	cursor      []byte
	tokenHint   string         // api.Config.TokenHint
	insecure    bool           // --insecure: api.Config.AnyHost
	verifier    *auth.Verifier // set by start
}

// resolve checks the flags and reads the secrets.
func (a *accessFlags) resolve() (access, error) {
	errs := append([]error(nil), a.errs...)
	ac, err := a.tokens.config()
	errs = append(errs, err)
	out := access{auth: ac, publicReads: a.publicReads, rateLimit: a.rateLimit, rateBurst: a.rateBurst, insecure: a.insecure}
	if a.rateLimit < 0 {
		errs = append(errs, fmt.Errorf("--rate-limit %v: want requests per second ≥ 0", a.rateLimit))
	}
	if a.rateBurst < 0 {
		errs = append(errs, fmt.Errorf("--rate-burst %d: want ≥ 0", a.rateBurst))
	}
	if a.publicReads && !ac.Enabled() && !a.secretLater {
		errs = append(errs, errors.New("--public-reads needs auth on: reads are public anyway without a JWT secret or JWKS"))
	}
	inline := a.tokens.e.getenv(envCursorSecret)
	switch {
	case inline != "" && a.cursorFile != "":
		errs = append(errs, fmt.Errorf("both %s and --cursor-secret-file are set; keep one", envCursorSecret))
	case inline != "":
		out.cursor = []byte(inline)
	case a.cursorFile != "":
		out.cursor, err = readSecretFile(a.cursorFile, "--cursor-secret-file")
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// start builds the verifier (a JWKS URL is fetched now and refreshed until
// ctx ends).
func (ac *access) start(ctx context.Context) error {
	if !ac.auth.Enabled() {
		return nil
	}
	v, err := auth.NewVerifier(ctx, ac.auth)
	if err != nil {
		return err
	}
	ac.verifier = v
	return nil
}

// apply puts the access settings into an API configuration.
func (ac access) apply(c *api.Config) {
	c.Auth = ac.verifier
	c.AnyHost = ac.insecure
	c.PublicReads = ac.publicReads
	c.TokenHint = ac.tokenHint
	c.RateLimit = ac.rateLimit
	c.RateBurst = ac.rateBurst
	c.CursorSecret = ac.cursor
}

// checkListen refuses an address that is not host:port, and a
// non-loopback one without auth, unless insecure.
func checkListen(addr string, authOn, insecure bool) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port, such as 127.0.0.1:8080 or :8080 (%v)", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("--addr %q: the port %q is not a port number (0 to 65535) nor a service name", addr, port)
	}
	if authOn || insecure || isLoopback(addr) {
		return nil
	}
	return fmt.Errorf("--addr %s listens beyond this machine, and API authentication is off: anyone who reaches the port could change the catalogue. "+
		"Turn authentication on (%s or %s for HS256 tokens, %s for RS256/ES256; see 'streamview help token'), "+
		"or listen on 127.0.0.1, or pass --insecure if something in front of the API authenticates", addr, envJWTSecretFile, envJWTSecret, envJWKS)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return connect.IsLoopback(host)
}

func init() {
	commands["token"] = command{
		summary: "print an API token signed with the configured HS256 secret",
		usage:   `--scope "catalog:write catalog:read ops" [--sub NAME] [--ttl 1h]`,
		help: `Prints a JWT for the HTTP API's Authorization: Bearer header, signed (HS256)
with the secret the server checks: STREAMVIEW_JWT_SECRET, or the file in
--jwt-secret-file / STREAMVIEW_JWT_SECRET_FILE. --jwt-issuer and
--jwt-audience (STREAMVIEW_JWT_ISSUER, STREAMVIEW_JWT_AUDIENCE) go into the
token when set, as the server requires them then.

Scopes:
  catalog:write  commands, reference data, subscriptions
  catalog:read   queries, history
  ops            /v1/projections (dead letters, rebuilds), /metrics

Example:
  export STREAMVIEW_JWT_SECRET_FILE=/etc/streamview/jwt-secret
  TOKEN=$(streamview token --scope "catalog:write catalog:read" --sub alice --ttl 8h)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v1/products/search`,
		run: runToken,
	}
}

func runToken(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "token")
	var t tokenFlags
	t.register(fs, e)
	scope := fs.String("scope", "", `space-separated scopes: catalog:write, catalog:read, ops`)
	sub := fs.String("sub", "operator", "the token's subject (sub): the caller, a review's userId")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := parse(fs, args); err != nil {
		return err
	}
	scopes, err := auth.ParseScopes(*scope)
	if err != nil {
		return err
	}
	if len(scopes) == 0 {
		return errors.New(`token: --scope is required, e.g. --scope "catalog:write catalog:read"`)
	}
	if *ttl <= 0 {
		return fmt.Errorf("token: --ttl %v: want a positive duration such as 1h", *ttl)
	}
	secret, err := t.secret()
	if err != nil {
		return err
	}
	if secret == nil {
		return fmt.Errorf("token: no HS256 secret configured: set %s to a file holding it (or %s to the secret), as for the server. Make one with: openssl rand -base64 48", envJWTSecretFile, envJWTSecret)
	}
	tok, err := auth.Mint(secret, auth.Token{Subject: *sub, Scopes: scopes, TTL: *ttl, Issuer: t.issuer, Audience: t.audience})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tok)
	return nil
}

// devSecret is a random HS256 secret for one run of dev --auth.
func devSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return []byte(base64.RawURLEncoding.EncodeToString(b))
}

// keptSecret reads the secret in path, or makes one there (a file only
// its owner reads) when it does not exist.
func keptSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return b, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	s := devSecret()
	if err := os.WriteFile(path, s, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// bearerKey keys a context's bearer token, for the requests dev makes to
// its own API (the demo catalogue).
type bearerKey struct{}

// authorize adds the context's bearer token, if any, to req.
func authorize(req *http.Request) {
	if tok, ok := req.Context().Value(bearerKey{}).(string); ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
}

// logAccess says at start how the API is protected (never a secret).
func logAccess(l interface{ Info(string, ...any) }, ac access) {
	if !ac.auth.Enabled() {
		l.Info("api authentication off: no token needed (configure " + envJWTSecretFile + " or " + envJWKS + " to turn it on)")
	} else {
		l.Info("api authentication on", "hs256", len(ac.auth.Secret) > 0, "jwks", ac.auth.JWKS != "", "issuer", ac.auth.Issuer, "audience", ac.auth.Audience, "public_reads", ac.publicReads)
	}
	if ac.rateLimit > 0 {
		l.Info("api rate limit", "per_second", ac.rateLimit, "burst", ac.rateBurst)
	}
}

// withoutUserID drops the "userId" member of a demo review body.
func withoutUserID(body string) string {
	return regexp.MustCompile(`"userId":"[^"]*",`).ReplaceAllString(body, "")
}

// devAccessBanner says how dev's API is protected and returns a token with
// every scope when dev can mint one (auth on with an HS256 secret), for
// dev's own requests (--seed-demo). runSecret says that the secret is
// --auth's, made for this run: only that one's token is printed.
func devAccessBanner(w io.Writer, ac access, addr string, runSecret bool) (string, error) {
	if !ac.auth.Enabled() {
		fmt.Fprintf(w, "auth: OFF: no token needed; anyone who can reach %s can change the catalogue (dev listens on loopback only; --auth turns tokens on)\n", addr)
		return "", nil
	}
	how, token, tok := "", "a token (one is printed when the API is ready)", ""
	switch {
	case len(ac.auth.Secret) == 0:
		how, token = " (JWKS)", "a token from your identity provider"
	case !runSecret:
		token = "a token signed with the configured secret (how to mint one is printed when the API is ready)"
	}
	if len(ac.auth.Secret) > 0 {
		var err error
		if tok, err = auth.Mint(ac.auth.Secret, auth.Token{Subject: "dev", Scopes: auth.Scopes, TTL: 24 * time.Hour, Issuer: ac.auth.Issuer, Audience: ac.auth.Audience}); err != nil {
			return "", err
		}
	}
	if ac.publicReads {
		// The routes that catalog:read allows.
		fmt.Fprintf(w, "auth: on%s, reads public (--public-reads): products, search, history, categories, brands and command outcomes answer without a token; commands, subscriptions and operations (/v1/projections, /metrics) need %s\n", how, token)
	} else {
		fmt.Fprintf(w, "auth: on%s: every request but /healthz, /readyz and /v1/openapi.json needs %s\n", how, token)
	}
	return tok, nil
}

// printTokenWelcome prints the token of dev --auth's secret.
func printTokenWelcome(w io.Writer, tok string) {
	fmt.Fprintf(w, `
Authentication is on (--auth), with a secret made for this run. A token with
every scope (sub "dev"), which the requests below use:
  export TOKEN=%s
No other process knows the secret, so 'streamview token' cannot mint for it
and this token stops working when dev stops. For tokens of your own,
configure a secret (STREAMVIEW_JWT_SECRET_FILE) and mint them with
'streamview token'.
`, tok)
}

// printMintWelcome says how to mint a token for dev's configured HS256
// secret: mint is the command (mintCommand).
func printMintWelcome(w io.Writer, mint string) {
	fmt.Fprintf(w, `
Authentication is on, with the configured HS256 secret. dev prints no token
for it: every server that shares the secret would take one. Mint one for the
requests below (add ops to --scope for /v1/projections and /metrics):
  export TOKEN=$(%s)
`, mint)
}

// mintCommand is the `streamview token` command that mints a token for
// the secret, issuer and audience t configures. The secret itself is never
// in it: a file is named, an inline STREAMVIEW_JWT_SECRET is taken from
// the environment, as dev took it.
func mintCommand(t tokenFlags) string {
	cmd := `streamview token --scope "catalog:write catalog:read" --sub dev`
	for _, f := range []struct{ flag, value string }{
		{"--jwt-secret-file", t.secretFile}, {"--jwt-issuer", t.issuer}, {"--jwt-audience", t.audience},
	} {
		if f.value != "" {
			cmd += " " + f.flag + " " + shellQuote(f.value)
		}
	}
	return cmd
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:=@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
