package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamview/streamview/api/auth"
)

// policy is who may call a route: anyone (open), or a token with any of
// scopes. With Config.PublicReads a route that catalog:read allows is open.
type policy struct {
	open   bool
	scopes []auth.Scope
}

var (
	open       = policy{open: true}
	readScope  = policy{scopes: []auth.Scope{auth.CatalogRead}}
	writeScope = policy{scopes: []auth.Scope{auth.CatalogWrite}}
	opsScope   = policy{scopes: []auth.Scope{auth.Ops}}
)

// routePolicies declares the policy of every route pattern (API.md,
// "Authentication" and "Operations"). A route of s.routes missing here
// falls back to policyByRule, and TestEveryRouteHasAPolicy fails, so that
// whoever adds a route decides its scope. Some patterns are of routes that
// API.md describes and other branches add (history, reference data,
// subscriptions, dead letters, rebuilds, the console).
var routePolicies = map[string]policy{
	// Commands.
	"POST /v1/products":              writeScope,
	"PATCH /v1/products/{id}":        writeScope,
	"PUT /v1/products/{id}/price":    writeScope,
	"PUT /v1/products/{id}/stock":    writeScope,
	"POST /v1/products/{id}/reviews": writeScope,
	"DELETE /v1/products/{id}":       writeScope,
	// A command's outcome: the writer follows its Location; a reader may
	// look too.
	"GET /v1/commands/{commandId}": {scopes: []auth.Scope{auth.CatalogWrite, auth.CatalogRead}},
	// Reference data and subscriptions.
	"PUT /v1/categories/{categoryId}":           writeScope,
	"PUT /v1/brands/{brandId}":                  writeScope,
	"POST /v1/products/{id}/subscriptions":      writeScope,
	"DELETE /v1/subscriptions/{subscriptionId}": writeScope,
	// Queries and history.
	"GET /v1/products/{id}":        readScope,
	"GET /v1/products/search":      readScope,
	"GET /v1/products/{id}/events": readScope,
	// Reference data are a query, and API.md also lists them under
	// catalog:write: either scope reads them.
	"GET /v1/categories/{categoryId}": {scopes: []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},
	"GET /v1/brands/{brandId}":        {scopes: []auth.Scope{auth.CatalogRead, auth.CatalogWrite}},
	// Operations.
	"GET /v1/projections":                              opsScope,
	"GET /v1/projections/{name}/dead-letters":          opsScope,
	"POST /v1/projections/{name}/dead-letters/redrive": opsScope,
	"POST /v1/projections/{name}/rebuild":              opsScope,
	"DELETE /v1/projections/{name}/rebuild":            opsScope,
	"GET /metrics":                                     opsScope,
	// Open: probes, the API's description, the console's page (its calls
	// carry the token the person pastes).
	"GET /healthz":         open,
	"GET /readyz":          open,
	"GET /v1/openapi.json": open,
	"GET /{$}":             open,
	"GET /console/{file}":  open,
}

// policyOf returns the policy of a route pattern, or for a request that
// matched no declared pattern (a route without a policy, an unknown path,
// a method the path does not allow) the rule's.
func policyOf(pattern string, r *http.Request) policy {
	if p, ok := routePolicies[pattern]; ok {
		return p
	}
	return policyByRule(r.Method, r.URL.Path)
}

// policyByRule is the policy of what routePolicies does not name: the
// operations' paths need ops, reads need catalog:read, anything else
// catalog:write. Never open: a route is open only by declaration.
func policyByRule(method, path string) policy {
	switch {
	case path == "/metrics" || path == "/v1/projections" || strings.HasPrefix(path, "/v1/projections/"):
		return opsScope
	case method == http.MethodGet || method == http.MethodHead:
		return readScope
	}
	return writeScope
}

// subjectKey keys the request context's token subject.
type subjectKey struct{}

// subjectOf returns the subject of r's valid token, if it had one.
func subjectOf(r *http.Request) (string, bool) {
	s, ok := r.Context().Value(subjectKey{}).(string)
	return s, ok
}

// guard authenticates, authorizes and rate-limits r before it reaches its
// route. It answers 401, 403 or 429 itself and returns false; otherwise
// it returns r with the caller in its context.
func (s *Server) guard(w http.ResponseWriter, r *http.Request, pattern string) (*http.Request, bool) {
	p := policyOf(pattern, r)
	if p.open {
		return r, true // probes and the API's description: no token, no limit
	}
	authOn := s.cfg.Auth != nil
	public := !authOn || s.cfg.PublicReads && slices.Contains(p.scopes, auth.CatalogRead)
	if !authOn {
		if err := s.unauthenticated(r); err != nil {
			writeProblem(w, newProblem(http.StatusForbidden, problemBlank, err.Error()))
			return r, false
		}
	}

	var (
		claims  auth.Claims
		tokErr  error
		hasAuth = r.Header.Get("Authorization") != ""
	)
	if authOn && (hasAuth || !public) {
		claims, tokErr = s.authenticate(r)
	}
	valid := authOn && hasAuth && tokErr == nil

	if s.limits != nil {
		key := "addr " + clientAddr(r)
		if valid {
			key = "sub " + claims.Subject
		}
		if ok, wait := s.limits.allow(key, time.Now()); !ok {
			w.Header().Set("Retry-After", strconv.FormatInt(retryAfter(wait), 10))
			writeProblem(w, newProblem(http.StatusTooManyRequests, problemBlank,
				fmt.Sprintf("More than %g requests per second from this caller; retry after the Retry-After seconds.", s.cfg.RateLimit)))
			return r, false
		}
	}
	if !authOn {
		return r, true
	}
	if tokErr != nil {
		// A bad token is refused even where none is needed: a client
		// sending one has a problem it should hear about.
		// Debug, not Info: a flood of bad tokens must not flood the log;
		// the 401s are counted in the request metrics.
		s.log.Debug("api: refused a token", "method", r.Method, "path", r.URL.Path, "err", tokErr)
		unauthorized(w, tokErr, s.cfg.TokenHint)
		return r, false
	}
	if !valid {
		return r, true // public, and no token
	}
	if !public && !slices.ContainsFunc(p.scopes, claims.Has) {
		forbidden(w, p.scopes)
		return r, false
	}
	// The subject is the caller: of the Idempotency-Key binding (callerOf)
	// and of a review (userId).
	ctx := context.WithValue(r.Context(), subjectKey{}, claims.Subject)
	ctx = context.WithValue(ctx, callerKey{}, claims.Subject)
	return r.WithContext(ctx), true
}

// unauthenticated refuses, while auth is off, what a web page of another
// site could make a browser on this machine send to an API that answers
// anyone who reaches it (dev, serve on loopback):
//   - a request whose Host is a name other than localhost, unless
//     Config.AnyHost: a page's own name that its DNS turned to 127.0.0.1
//     (DNS rebinding) would otherwise read and change everything;
//   - a cross-origin request that changes something (net/http's
//     CrossOriginProtection: Sec-Fetch-Site, or else Origin against Host):
//     a form posted from another site, which needs no CORS preflight,
//     started a rebuild.
//
// Clients other than browsers send neither header and name the host they
// dial; the console is served by the API itself, same-origin.
func (s *Server) unauthenticated(r *http.Request) error {
	if !s.cfg.AnyHost && !localHost(r.Host) {
		return fmt.Errorf("Host %q is not localhost or an IP address: with authentication off this API answers only those "+
			"(a defence against DNS rebinding). Turn authentication on, address it by localhost or its IP, "+
			"or pass --insecure if something in front of it authenticates", r.Host)
	}
	if err := s.crossOrigin.Check(r); err != nil {
		return fmt.Errorf("%s %s from another site's page refused: with authentication off, only this API's own console "+
			"and clients other than browsers may change anything (%v)", r.Method, r.URL.Path, err)
	}
	return nil
}

// localHost reports whether a Host header names localhost (or a name
// under .localhost, which resolves to loopback), an IP address, or
// nothing (an HTTP/1.0 request).
func localHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// errNoToken is the 401 of a request without a bearer token.
var errNoToken = errors.New("no bearer token")

// otherScheme is the 401 of a request whose Authorization header is of
// another scheme (Basic, Digest): like no token, it carries no error code
// (RFC 6750 §3.1: an unsupported authentication method).
type otherScheme struct{ scheme string }

func (o otherScheme) Error() string {
	return fmt.Sprintf("the Authorization header is of the %s scheme, not Bearer", o.scheme)
}
func (otherScheme) Is(target error) bool { return target == errNoToken }

// authenticate reads and verifies r's bearer token.
func (s *Server) authenticate(r *http.Request) (auth.Claims, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Claims{}, errNoToken
	}
	scheme, token, ok := strings.Cut(h, " ")
	if ok && scheme != "" && !strings.EqualFold(scheme, "Bearer") {
		return auth.Claims{}, otherScheme{scheme}
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return auth.Claims{}, fmt.Errorf("%w: the Authorization header is not \"Bearer <token>\"", auth.ErrInvalid)
	}
	return s.cfg.Auth.Verify(r.Context(), strings.TrimSpace(token))
}

// unauthorized is the 401 of a missing or invalid token (RFC 6750 §3).
func unauthorized(w http.ResponseWriter, err error, hint string) {
	if hint == "" {
		hint = "mint one with `streamview token`"
	}
	challenge := `Bearer realm="streamview"`
	detail := "The request needs a bearer token: send Authorization: Bearer <token> (" + hint + ")."
	msg := "is missing"
	var other otherScheme
	if errors.As(err, &other) {
		msg = other.Error()
		detail = "The request needs a bearer token: " + msg + "; send Authorization: Bearer <token> (" + hint + ")."
	}
	if !errors.Is(err, errNoToken) {
		challenge += `, error="invalid_token"`
		msg = strings.TrimPrefix(err.Error(), auth.ErrInvalid.Error()+": ")
		detail = "The bearer token is invalid: " + msg + "."
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeProblem(w, newProblem(http.StatusUnauthorized, problemBlank, detail, FieldError{Field: "Authorization", Message: msg}))
}

// forbidden is the 403 of a valid token without the route's scope.
func forbidden(w http.ResponseWriter, scopes []auth.Scope) {
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		names[i] = string(sc)
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="streamview", error="insufficient_scope", scope="`+strings.Join(names, " ")+`"`)
	writeProblem(w, newProblem(http.StatusForbidden, problemBlank,
		"The token does not grant the scope this request needs: "+strings.Join(names, " or ")+".",
		FieldError{Field: "Authorization", Message: "lacks the scope " + strings.Join(names, " or ")}))
}

// clientAddr is the host of r's peer; X-Forwarded-For is not trusted,
// since any client can send one. An IPv6 peer is its /64: one host
// usually holds a whole /64 and could take a fresh address, and so a
// fresh rate, per request.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() && !a.Is4In6() {
		if p, err := a.WithZone("").Prefix(64); err == nil {
			return p.String()
		}
	}
	return host
}
