package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// Server is the HTTP API. Build it with New; serve it with ListenAndServe or
// mount Handler in a server of your own. It is safe for concurrent use.
type Server struct {
	cfg  Config
	deps Deps
	// failures spaces the log lines of reads that fail alike: during an
	// outage or a refill every read is one.
	failures logLimiter
	rules    product.Rules
	log      *slog.Logger
	mux      *http.ServeMux
	routes   []route
	known    map[string]bool // the patterns of routes
	metrics  *httpMetrics
	handler  http.Handler
	limits   *limiters // nil: no rate limit
	// crossOrigin refuses, while auth is off, the cross-site requests a
	// browser may send (see unauthenticated).
	crossOrigin *http.CrossOriginProtection
	cursors     cursorSigner
	// firstPoll is the first pause of a ?minVersion= wait (the const
	// firstPoll; tests lengthen it to see a wait woken by ViewChanges).
	firstPoll time.Duration
}

// route is one endpoint: a ServeMux pattern "METHOD /path".
type route struct {
	pattern string
	handle  http.HandlerFunc
}

// New returns a Server with cfg's defaults applied. It panics if
// cfg.Validate fails, which is a programming error: call Validate first to
// report a bad configuration to a person.
func New(cfg Config, deps Deps) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:         cfg,
		deps:        deps,
		rules:       product.Rules{Currency: cfg.Currency, ReferenceIDs: true},
		log:         cfg.Logger,
		mux:         http.NewServeMux(),
		known:       map[string]bool{},
		metrics:     newHTTPMetrics(),
		cursors:     cursorSigner{key: cfg.CursorSecret},
		firstPoll:   firstPoll,
		crossOrigin: http.NewCrossOriginProtection(),
	}
	if cfg.RateLimit > 0 {
		s.limits = newLimiters(cfg.RateLimit, cfg.RateBurst, cfg.RateClients)
	}
	s.routes = []route{
		{"POST /v1/products", s.commandHandler(func() commandBody { return new(createRequest) }, false)},
		{"PATCH /v1/products/{id}", s.commandHandler(func() commandBody { return new(updateRequest) }, false)},
		{"PUT /v1/products/{id}/price", s.commandHandler(func() commandBody { return new(priceRequest) }, false)},
		{"PUT /v1/products/{id}/stock", s.commandHandler(func() commandBody { return new(stockRequest) }, false)},
		{"POST /v1/products/{id}/reviews", s.commandHandler(func() commandBody { return new(reviewRequest) }, false)},
		{"DELETE /v1/products/{id}", s.commandHandler(func() commandBody { return new(discontinueRequest) }, true)},
		{"POST /v1/products/{id}/subscriptions", s.commandHandler(func() commandBody { return new(subscribeRequest) }, false)},
		{"DELETE /v1/subscriptions/{subscriptionId}", s.commandHandler(func() commandBody { return new(unsubscribeRequest) }, true)},
		{"PUT /v1/categories/{categoryId}", s.commandHandler(func() commandBody { return new(categoryRequest) }, false)},
		{"PUT /v1/brands/{brandId}", s.commandHandler(func() commandBody { return new(brandRequest) }, false)},
		{"GET /v1/categories/{categoryId}", s.getReference(schemas.AggregateCategory, "categoryId")},
		{"GET /v1/brands/{brandId}", s.getReference(schemas.AggregateBrand, "brandId")},
		{"GET /v1/commands/{commandId}", s.getCommand},
		{"GET /v1/products/{id}", s.getProduct},
		{"GET /v1/products/search", s.search},
		{"GET /v1/products/{id}/events", s.productEvents},
		{"GET /v1/projections", s.projections},
		{"GET /v1/projections/{name}/dead-letters", s.deadLetters},
		{"POST /v1/projections/{name}/dead-letters/redrive", s.redrive},
		{"POST /v1/projections/{name}/rebuild", s.startRebuild},
		{"DELETE /v1/projections/{name}/rebuild", s.abortRebuild},
		{"GET /v1/openapi.json", s.openAPI},
		{"GET /healthz", s.healthz},
		{"GET /readyz", s.readyz},
		{"GET /metrics", s.serveMetrics},
		{"GET /{$}", s.consolePage},
		{"GET /console/{file}", s.consoleAsset},
	}
	if cfg.OpsOnly {
		s.routes = slices.DeleteFunc(s.routes, func(rt route) bool {
			return rt.pattern != "GET /healthz" && rt.pattern != "GET /readyz" && rt.pattern != "GET /metrics"
		})
	}
	// /v1/products/search is no product ID: DELETE and PATCH there are a
	// 405, not a command to a product "search" (a 400). Their patterns are
	// no route of ours, so Allow leaves them out.
	for _, m := range []string{"DELETE", "PATCH"} {
		if !cfg.OpsOnly {
			s.mux.HandleFunc(m+" /v1/products/search", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusMethodNotAllowed) })
		}
	}
	for _, rt := range s.routes {
		s.mux.HandleFunc(rt.pattern, rt.handle)
		s.known[rt.pattern] = true
	}
	s.handler = http.HandlerFunc(s.serve)
	if cfg.TracerProvider != nil {
		s.handler = s.traced(s.handler, cfg.TracerProvider)
	}
	return s
}

// Handler returns the API's handler: every route of API.md, with request
// metrics, panic recovery and problem+json for unknown routes (404) and
// methods (405).
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe serves the API on addr (DefaultAddr when empty) until ctx
// ends, then shuts down gracefully: it stops accepting connections, ends the
// waits of Prefer: wait and ?minVersion= early, and lets running requests
// finish for up to Config.ShutdownTimeout. It returns nil after a graceful
// shutdown.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// drainKey keys the context, in every request's context, that ends when
// the server begins to shut down.
type drainKey struct{}

// Serve is ListenAndServe on a listener of the caller's; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	drain, startDrain := context.WithCancel(context.Background())
	defer startDrain()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for the longest wait and an answer after it.
		WriteTimeout: s.cfg.MaxWait + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), drainKey{}, drain)
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("api: serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	startDrain()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		err = errors.Join(fmt.Errorf("api: graceful shutdown: %w", err), srv.Close())
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	s.log.Info("api: stopped", "addr", ln.Addr().String())
	return err
}

// waitContext bounds a wait of a request to d; it also ends when the server
// begins to shut down, or the client goes away.
func waitContext(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), d)
	drain, ok := r.Context().Value(drainKey{}).(context.Context)
	if !ok {
		return ctx, cancel
	}
	stop := context.AfterFunc(drain, cancel)
	return ctx, func() { stop(); cancel() }
}

// serve wraps the mux: metrics, an access log, recovery, and problem+json
// for what the mux itself answers (unknown route or method).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, pattern := s.mux.Handler(r)
	rw := &responseWriter{ResponseWriter: w, problemize: !s.known[pattern], allow: func() string { return s.allowed(r) }}
	s.metrics.inFlight.Add(1)
	defer func() {
		s.metrics.inFlight.Add(-1)
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
			if !rw.wroteHeader {
				writeProblem(rw, newProblem(http.StatusInternalServerError, problemBlank, "The server failed to answer the request."))
			}
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		routeLabel := "unmatched"
		if s.known[pattern] {
			_, routeLabel, _ = strings.Cut(pattern, " ")
		}
		elapsed := time.Since(start)
		s.metrics.observe(r.Method, routeLabel, status, elapsed)
		s.log.Debug("api: request", "method", r.Method, "path", r.URL.Path, "status", status, "duration", elapsed)
	}()
	r, ok := s.guard(rw, r, pattern)
	if !ok {
		return // answered: 401, 403 or 429
	}
	s.mux.ServeHTTP(rw, r)
}

// responseWriter records the status of an answer and, for the mux's own
// 404 and 405 answers, writes problem+json in place of their plain text.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	problemize  bool // the request matched no route of ours
	swallow     bool // the body being written is the mux's plain text
	allow       func() string
}

// allowed is the Allow header of a 405 for r's path: the methods that reach
// a route of ours there. (The mux's own names every method of a pattern
// that matches the path, also one a more specific pattern shadows: DELETE
// and PATCH of /v1/products/{id} for /v1/products/search.)
func (s *Server) allowed(r *http.Request) string {
	var methods []string
	for _, m := range []string{"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"} {
		if _, p := s.mux.Handler(&http.Request{Method: m, URL: r.URL, Host: r.Host}); s.known[p] {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, ", ")
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if w.problemize && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.problemize = false // writeProblem comes back here
		w.Header().Del("Content-Length")
		detail := "No such resource; see /v1/openapi.json for the API."
		if code == http.StatusMethodNotAllowed {
			detail = "The resource does not support this method; see the Allow header."
			if w.allow != nil {
				w.Header().Set("Allow", w.allow())
			}
		}
		writeProblem(w, newProblem(code, problemBlank, detail))
		w.swallow = true
		return
	}
	w.status, w.wroteHeader = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// unavailable is a 503 for a part the server was not given or cannot reach.
func unavailable(w http.ResponseWriter, detail string) {
	w.Header().Set("Retry-After", "1")
	writeProblem(w, newProblem(http.StatusServiceUnavailable, problemBlank, detail))
}

// internalError logs err and answers 503: a store or broker that fails is
// worth a retry.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, what string, err error, attrs ...any) {
	if r.Context().Err() != nil {
		return // the client has gone
	}
	noLive := errors.Is(err, productview.ErrNoLive)
	level, every := slog.LevelError, failureLogEvery
	if noLive {
		level, every = slog.LevelWarn, noLiveLogEvery
	}
	if ok, left := s.failures.allow(what, noLive, every); ok {
		attrs = append([]any{"method", r.Method, "path", r.URL.Path, "err", err}, attrs...)
		if left > 0 {
			attrs = append(attrs, "alikeNotLogged", left)
		}
		s.log.Log(r.Context(), level, "api: "+what+" (alike failures are logged once per "+every.String()+")", attrs...)
	}
	if noLive {
		unavailable(w, "The server could not "+what+": the product view has no live generation in its store. Its projector has not started yet, or is reading the log again after the store lost its data; without a projector running, replay it (`streamview replay --projection product-view`, and product-history).")
		return
	}
	if qt, ok := errors.AsType[*queryTimeout](err); ok {
		unavailable(w, fmt.Sprintf("The server could not %s: the store did not answer within %v; try again.", what, qt.timeout))
		return
	}
	unavailable(w, "The server could not "+what+"; try again.")
}

// noLiveLogEvery and failureLogEvery space the log lines of reads that
// fail alike: without a live view generation, and the other failures.
const (
	noLiveLogEvery  = 10 * time.Second
	failureLogEvery = time.Second
)

// logLimiter lets one log line through per interval for each kind of
// failure (what failed, and whether the view had no live generation),
// and counts the others.
type logLimiter struct {
	mu    sync.Mutex
	kinds map[logKind]*logSpacing
}

type logKind struct {
	what   string
	noLive bool
}

type logSpacing struct {
	last time.Time
	left int
}

// allow reports whether a failure of this kind may be logged now, and how
// many alike were not logged since the last one that was.
func (l *logLimiter) allow(what string, noLive bool, every time.Duration) (ok bool, left int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil {
		l.kinds = map[logKind]*logSpacing{}
	}
	k := logKind{what, noLive}
	sp := l.kinds[k]
	if sp == nil {
		sp = &logSpacing{}
		l.kinds[k] = sp
	}
	if now := time.Now(); now.Sub(sp.last) >= every {
		left, sp.last, sp.left = sp.left, now, 0
		return true, left
	}
	sp.left++
	return false, 0
}

// queryTimeout is a store read that did not end within Config.QueryTimeout.
type queryTimeout struct {
	timeout time.Duration
	err     error
}

func (e *queryTimeout) Error() string {
	return fmt.Sprintf("no answer within the query timeout %v: %v", e.timeout, e.err)
}

func (e *queryTimeout) Unwrap() error { return e.err }
