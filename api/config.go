package api

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/streamview/streamview/producers/product"
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
)

// Config configures a Server. The zero value serves a EUR catalogue with the
// defaults of API.md.
type Config struct {
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
	// a product view. A store that has not answered by then (down, or
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
	// Logger receives request failures (Error) and an access line per
	// request (Debug). Nil discards.
	Logger *slog.Logger
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
	return c
}
