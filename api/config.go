package api

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/streamview/streamview/api/auth"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
)

// Defaults of Config.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultCurrency        = product.DefaultCurrency
	DefaultMaxWait         = 30 * time.Second
	DefaultReadWait        = 5 * time.Second
	DefaultPollInterval    = 50 * time.Millisecond
	DefaultReadyTimeout    = 2 * time.Second
	DefaultQueryTimeout    = 5 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxBodyBytes    = 1 << 20
	DefaultRateClients     = 10000
	// MinCursorSecretBytes is the shortest Config.CursorSecret accepted.
	MinCursorSecretBytes = 16
)

// Config configures a Server. The zero value serves a EUR catalogue with the
// defaults of API.md.
type Config struct {
	// OpsOnly makes a server of GET /healthz, /readyz and /metrics alone
	// (with the same authentication): the listener of a serve that runs
	// no api role (a decider or projector process, --ops-addr), so that
	// it can be probed and scraped too. Every other path is a 404.
	OpsOnly bool
	// Currency is the catalogue's ISO 4217 currency: every price must be in
	// it. Default DefaultCurrency (EUR).
	Currency string
	// MaxWait caps `Prefer: wait=N` on commands and `?wait=` on reads.
	// Default DefaultMaxWait (30s).
	MaxWait time.Duration
	// ReadWait is how long GET /v1/products/{id}?minVersion= waits when no
	// ?wait= is given. Default DefaultReadWait (5s).
	ReadWait time.Duration
	// PollInterval is how often a read with ?minVersion= looks at the view
	// store again while it waits. Default DefaultPollInterval (50ms).
	PollInterval time.Duration
	// ReadyTimeout bounds each readiness check of GET /readyz. Default
	// DefaultReadyTimeout (2s).
	ReadyTimeout time.Duration
	// QueryTimeout bounds each read of a store: a product search, a read of
	// a product view, the history, GET /v1/projections, a list of dead
	// letters. A store that has not answered by then (down, or
	// accepting connections and never answering) makes the request a 503
	// with Retry-After instead of a hang. A read with ?minVersion= may
	// wait its ?wait= and then one more read. Default DefaultQueryTimeout
	// (5s).
	QueryTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown of ListenAndServe.
	// Default DefaultShutdownTimeout (10s).
	ShutdownTimeout time.Duration
	// MaxBodyBytes is the largest request body; a larger one is a 413.
	// Default DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// WebhookAllow is the allowlist of webhook target hosts
	// (STREAMVIEW_WEBHOOK_ALLOW); a subscription to a URL outside it is a
	// 422. nil allows loopback only.
	WebhookAllow *subscription.Allowlist
	// Logger receives request failures (Error) and an access line per
	// request (Debug). Nil discards.
	Logger *slog.Logger

	// Auth checks bearer tokens (API.md, "Authentication"). Nil: auth is
	// off, every route answers without a token.
	Auth *auth.Verifier
	// AnyHost, while Auth is off, answers requests whatever their Host
	// names: serve --insecure, behind something that authenticates and
	// forwards its own host name. Without it, and without Auth, a request
	// must name localhost or an IP address (see Server's DNS rebinding
	// defence).
	AnyHost bool
	// PublicReads lets the catalog:read routes (queries, history) answer
	// without a token while Auth is on. A bad token is refused all the same.
	PublicReads bool
	// TokenHint says, in the 401 of a request without a token, where a
	// caller gets one. Empty: "mint one with `streamview token`".
	TokenHint string
	// RateLimit is the requests per second allowed to each caller: a
	// token's subject, or the client's address without a valid token.
	// Over it: 429 with Retry-After. 0: no limit. The open routes
	// (/healthz, /readyz, /v1/openapi.json) are never limited.
	RateLimit float64
	// RateBurst is how many requests a caller may send at once above its
	// rate. Default: RateLimit rounded up, at least 1.
	RateBurst int
	// RateClients bounds the callers whose rate is tracked (the least
	// recently seen is forgotten first). Default DefaultRateClients.
	RateClients int
	// CursorSecret signs search cursors (HMAC-SHA256), so that a changed
	// or forged cursor is a 400. Servers behind one load balancer need the
	// same secret. Empty: a random secret per Server.
	CursorSecret []byte
	// TracerProvider, when set, traces each request (otelhttp): a server
	// span named by the route pattern, child of the caller's W3C
	// traceparent if it sent one; a command's record carries the span's
	// context on to the decider. Nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Currency != "" && !schemas.ValidCurrency(c.Currency) {
		errs = append(errs, fmt.Errorf("api: Currency %q is not an ISO 4217 code", c.Currency))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"MaxWait", c.MaxWait}, {"ReadWait", c.ReadWait}, {"PollInterval", c.PollInterval},
		{"ReadyTimeout", c.ReadyTimeout}, {"QueryTimeout", c.QueryTimeout}, {"ShutdownTimeout", c.ShutdownTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("api: %s %v is negative", d.name, d.v))
		}
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("api: MaxBodyBytes %d is negative", c.MaxBodyBytes))
	}
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("api: RateLimit %v: want requests per second, 0 for none", c.RateLimit))
	}
	if c.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("api: RateBurst %d is negative", c.RateBurst))
	}
	if c.RateClients < 0 {
		errs = append(errs, fmt.Errorf("api: RateClients %d is negative", c.RateClients))
	}
	if n := len(c.CursorSecret); n > 0 && n < MinCursorSecretBytes {
		errs = append(errs, fmt.Errorf("api: CursorSecret has %d bytes; use at least %d (e.g. `openssl rand -base64 32`)", n, MinCursorSecretBytes))
	}
	if c.PublicReads && c.Auth == nil {
		errs = append(errs, errors.New("api: PublicReads without Auth: reads are public anyway; configure a JWT secret or JWKS"))
	}
	if c.MaxWait > 0 && c.ReadWait > c.MaxWait {
		errs = append(errs, fmt.Errorf("api: ReadWait %v exceeds MaxWait %v", c.ReadWait, c.MaxWait))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.ReadWait == 0 {
		c.ReadWait = min(DefaultReadWait, c.MaxWait)
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RateLimit > 0 && c.RateBurst == 0 {
		c.RateBurst = max(1, int(math.Ceil(c.RateLimit)))
	}
	if c.RateClients == 0 {
		c.RateClients = DefaultRateClients
	}
	if len(c.CursorSecret) == 0 {
		c.CursorSecret = make([]byte, 32)
		rand.Read(c.CursorSecret) // never fails (crypto/rand)
	}
	return c
}
