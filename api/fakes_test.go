package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// fakeBus is an in-memory CommandBus. A sent command is pending (as the
// Sender's Tracker makes it) until decide, or the decider func, settles it.
// Keys are claimed while being written and bound to their first request's
// fingerprint once written, as commandbus.Results does.
type fakeBus struct {
	mu       sync.Mutex
	sent     []schemas.Command
	status   map[string]commandbus.Status
	waiters  map[string][]chan schemas.CommandResult
	bindings map[string]commandbus.KeyBinding // key ID → first written command
	writing  map[string]commandbus.KeyBinding // key ID → command being written
	sendErr  error
	// gate, when set, holds every send until it receives the send's
	// outcome: nil writes the command, an error fails the send with it.
	gate    chan error
	sending chan string // gets each command ID held at the gate
	// decider, when set, decides each command as it is sent.
	decider func(schemas.Command) schemas.CommandResult
	// timeOut makes Wait end at once as if its deadline had passed.
	timeOut bool
	// waitDeadlines are the time left on each Wait's context.
	waitDeadlines []time.Duration
	waiting       chan string // gets each command ID Wait blocks on
}

func newFakeBus() *fakeBus {
	return &fakeBus{
		status:   map[string]commandbus.Status{},
		waiters:  map[string][]chan schemas.CommandResult{},
		bindings: map[string]commandbus.KeyBinding{},
		writing:  map[string]commandbus.KeyBinding{},
		waiting:  make(chan string, 16),
		sending:  make(chan string, 16),
	}
}

func (b *fakeBus) SendBound(ctx context.Context, cmd schemas.Command, fingerprint string) (commandbus.Sent, error) {
	keyID := commandbus.KeyID(cmd.IdempotencyKey)
	b.mu.Lock()
	if b.sendErr != nil {
		b.mu.Unlock()
		return commandbus.Sent{}, b.sendErr
	}
	if keyID != "" {
		if w, ok := b.writing[keyID]; ok {
			b.mu.Unlock()
			if !w.Matches(fingerprint) || w.CommandID != cmd.ID {
				return commandbus.Sent{}, commandbus.ErrKeyReused
			}
			return commandbus.Sent{}, commandbus.ErrInFlight
		}
		if bd, ok := b.bindings[keyID]; ok && (!bd.Matches(fingerprint) || bd.CommandID != cmd.ID) {
			b.mu.Unlock()
			return commandbus.Sent{}, commandbus.ErrKeyReused
		}
		b.writing[keyID] = commandbus.KeyBinding{CommandID: cmd.ID, Fingerprint: fingerprint, Writing: true}
	}
	gate := b.gate
	b.mu.Unlock()
	var err error
	if gate != nil {
		b.sending <- cmd.ID
		err = <-gate
	}
	b.mu.Lock()
	delete(b.writing, keyID)
	if err != nil {
		b.mu.Unlock()
		return commandbus.Sent{}, err
	}
	if _, ok := b.bindings[keyID]; keyID != "" && !ok {
		b.bindings[keyID] = commandbus.KeyBinding{CommandID: cmd.ID, Fingerprint: fingerprint}
	}
	b.sent = append(b.sent, cmd)
	b.status[cmd.ID] = commandbus.Status{CommandID: cmd.ID, ProductID: cmd.ProductID, State: commandbus.StatePending}
	decider := b.decider
	b.mu.Unlock()
	if decider != nil {
		b.decide(decider(cmd))
	}
	return commandbus.Sent{CommandID: cmd.ID, ProductID: cmd.ProductID}, nil
}

func (b *fakeBus) Bound(keyID string) (commandbus.KeyBinding, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w, ok := b.writing[keyID]; ok {
		return w, true
	}
	bd, ok := b.bindings[keyID]
	return bd, ok
}

func (b *fakeBus) Status(id string) (commandbus.Status, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.status[id]
	return st, ok
}

func (b *fakeBus) Wait(ctx context.Context, id string) (schemas.CommandResult, error) {
	b.mu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		b.waitDeadlines = append(b.waitDeadlines, time.Until(dl))
	}
	if st, ok := b.status[id]; ok && st.State != commandbus.StatePending {
		b.mu.Unlock()
		return st.Result, nil
	}
	if b.timeOut {
		b.mu.Unlock()
		return schemas.CommandResult{}, context.DeadlineExceeded
	}
	ch := make(chan schemas.CommandResult, 1)
	b.waiters[id] = append(b.waiters[id], ch)
	b.mu.Unlock()
	b.waiting <- id
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return schemas.CommandResult{}, ctx.Err()
	}
}

// decide settles a command as the decider would.
func (b *fakeBus) decide(res schemas.CommandResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status[res.CommandID] = commandbus.Status{CommandID: res.CommandID, ProductID: res.ProductID, State: res.Status, Result: res}
	for _, ch := range b.waiters[res.CommandID] {
		ch <- res
	}
	delete(b.waiters, res.CommandID)
}

func (b *fakeBus) commands() []schemas.Command {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]schemas.Command(nil), b.sent...)
}

func accept(version int64) func(schemas.Command) schemas.CommandResult {
	return func(c schemas.Command) schemas.CommandResult {
		return schemas.CommandResult{CommandID: c.ID, ProductID: c.ProductID, Status: schemas.StatusAccepted, Version: version}
	}
}

func reject(code, reason string, version int64) func(schemas.Command) schemas.CommandResult {
	return func(c schemas.Command) schemas.CommandResult {
		return schemas.CommandResult{CommandID: c.ID, ProductID: c.ProductID, Status: schemas.StatusRejected, Code: code, Reason: reason, Version: version}
	}
}

// fakeViews is an in-memory ViewReader; gets signals every Get.
type fakeViews struct {
	mu    sync.Mutex
	views map[string]productview.View
	err   error
	panic bool
	reads int
}

func newFakeViews(vs ...productview.View) *fakeViews {
	f := &fakeViews{views: map[string]productview.View{}}
	for _, v := range vs {
		f.views[v.ID] = v
	}
	return f
}

func (f *fakeViews) Get(ctx context.Context, id string) (productview.View, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.panic {
		panic("fake views: boom")
	}
	if f.err != nil {
		return productview.View{}, false, f.err
	}
	v, ok := f.views[id]
	return v, ok, nil
}

func (f *fakeViews) put(v productview.View) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.views[v.ID] = v
}

func (f *fakeViews) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// fakeSearch is an in-memory Searcher that records the queries it gets.
type fakeSearch struct {
	mu      sync.Mutex
	queries []productsearch.Query
	result  productsearch.Result
	err     error
}

func (f *fakeSearch) Search(ctx context.Context, q productsearch.Query) (productsearch.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return f.result, f.err
}

func (f *fakeSearch) calls() []productsearch.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]productsearch.Query(nil), f.queries...)
}

// testServer returns a Server on the fakes with a fast poll and, when
// verbose tests ask for it, a logger.
func testServer(t *testing.T, deps Deps, tweak ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{PollInterval: time.Millisecond, ReadyTimeout: 50 * time.Millisecond}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, f := range tweak {
		f(&cfg)
	}
	return New(cfg, deps)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// request is one HTTP request of a test.
type request struct {
	method, path string
	body         string
	header       map[string]string // Content-Type defaults to application/json when there is a body
}

func (rq request) build(t *testing.T) *http.Request {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	r := httptest.NewRequest(rq.method, rq.path, body)
	// As a client that dials the API at its address names it (httptest's
	// default, example.com, is a name: refused with auth off).
	r.Host = "127.0.0.1:8080"
	if rq.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		if v == "" {
			r.Header.Del(k)
			continue
		}
		r.Header.Set(k, v)
	}
	return r
}

// serve runs rq through h and returns the recorded answer.
func serve(t *testing.T, h http.Handler, rq request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, rq.build(t))
	return w
}

// decodeAs decodes a recorded JSON body into a T, failing the test on
// anything else.
func decodeAs[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %T from %q: %v", v, w.Body.String(), err)
	}
	return v
}

// wantProblem checks that w is a problem+json answer with status and,
// when fields are given, that its errors name exactly those fields.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int, fields ...string) problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, w.Body)
	}
	p := decodeAs[problem](t, w)
	if p.Status != status || p.Title != http.StatusText(status) || p.Type == "" || p.Detail == "" || p.Errors == nil {
		t.Errorf("problem = %+v: want status %d, its title, a type, a detail and an errors list", p, status)
	}
	if fields != nil {
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Field)
			if e.Message == "" {
				t.Errorf("error of %q has no message", e.Field)
			}
		}
		if strings.Join(got, ",") != strings.Join(fields, ",") {
			t.Errorf("problem names fields %q, want %q; body %s", got, fields, w.Body)
		}
	}
	return p
}
