package api

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// openAPIDocument is the OpenAPI 3.1 description of this API.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag changes with the document, for conditional GETs.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// OpenAPI returns the OpenAPI 3.1 document served at GET /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ETag", openAPIETag)
	w.Header().Set("Cache-Control", "no-cache")
	if noneMatch(r.Header, openAPIETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument)
}

// readyMessage is what /readyz says of a failing check. /readyz answers
// without a token; with auth on, anyone may ask it, and a client's error
// names the servers' addresses and the accounts it uses: the answer then
// names the part only, and the log (once per failureLogEvery per part)
// says why. With auth off the API answers this machine only, and the
// error itself is the quickest help.
func (s *Server) readyMessage(name string, err error) string {
	if s.cfg.Auth == nil {
		return err.Error()
	}
	if ok, left := s.failures.allow("be ready: "+name, false, failureLogEvery); ok {
		attrs := []any{"check", name, "err", err}
		if left > 0 {
			attrs = append(attrs, "alikeNotLogged", left)
		}
		s.log.Warn("api: readiness check failing (alike failures are logged once per "+failureLogEvery.String()+")", attrs...)
	}
	return "failing; the server's log says why"
}

// healthz answers while the process can serve HTTP at all.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every readiness check at once, each bounded by
// Config.ReadyTimeout, and answers 503 naming each failing part.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := s.deps.Ready
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
			defer cancel()
			results[i] = runCheck(ctx, c)
		})
	}
	wg.Wait()

	states := make(map[string]string, len(checks))
	var failed []FieldError
	for i, c := range checks {
		if results[i] == nil {
			states[c.Name] = "ok"
			continue
		}
		states[c.Name] = "failing"
		failed = append(failed, FieldError{Field: c.Name, Message: s.readyMessage(c.Name, results[i])})
	}
	if len(failed) == 0 {
		writeJSON(w, http.StatusOK, struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}{"ok", states})
		return
	}
	slices.SortFunc(failed, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	names := make([]string, len(failed))
	for i, f := range failed {
		names[i] = f.Field
	}
	s.log.Warn("api: not ready", "failing", strings.Join(names, ","))
	p := newProblem(http.StatusServiceUnavailable, problemBlank, "Not ready: "+strings.Join(names, ", ")+" failing.", failed...)
	p.Checks = states
	w.Header().Set("Retry-After", "1")
	writeProblem(w, p)
}

// runCheck runs c, turning a panic or an overrun into an error.
func runCheck(ctx context.Context, c Check) (err error) {
	if c.Check == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- c.Check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer in time: %w", ctx.Err())
	}
}

// projections answers GET /v1/projections with what Deps.Projections
// returns.
func (s *Server) projections(w http.ResponseWriter, r *http.Request) {
	if s.deps.Projections == nil {
		unavailable(w, "This server does not report on projections.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	v, err := s.deps.Projections(ctx)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = &queryTimeout{timeout: s.cfg.QueryTimeout, err: err}
	}
	if err != nil {
		s.internalError(w, r, "read the state of the projections", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
