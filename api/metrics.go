package api

import (
	"bufio"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// durationBuckets are the upper bounds, in seconds, of the request latency
// histogram: from a cached read to the longest Prefer: wait.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// httpMetrics are the server's own metrics, written with a MetricWriter.
type httpMetrics struct {
	inFlight atomic.Int64

	mu       sync.Mutex
	requests map[requestKey]*histogram
	commands map[commandKey]uint64
}

type requestKey struct {
	method, route string
	code          int
}

type commandKey struct{ typ, result string }

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{requests: map[requestKey]*histogram{}, commands: map[commandKey]uint64{}}
}

// observe counts one answered request. route is a pattern's path, or
// "unmatched", so the label set stays small.
func (m *httpMetrics) observe(method, route string, code int, d time.Duration) {
	if !knownMethod(method) {
		method = "other"
	}
	secs := d.Seconds()
	k := requestKey{method, route, code}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.requests[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.requests[k] = h
	}
	i, _ := slices.BinarySearch(durationBuckets, secs) // first bound >= secs
	h.counts[i]++
	h.sum += secs
	h.count++
}

func knownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// command counts one command request by its type and what became of it:
// sent, invalid (422), replayed (an Idempotency-Key retry), key_reused
// (422, the key bound to another request), in_flight (409, the key's
// first request still being written), failed (not published).
func (m *httpMetrics) command(typ, result string) {
	m.mu.Lock()
	m.commands[commandKey{typ, result}]++
	m.mu.Unlock()
}

func (m *httpMetrics) write(w io.Writer) {
	m.mu.Lock()
	reqKeys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		reqKeys = append(reqKeys, k)
	}
	cmdKeys := make([]commandKey, 0, len(m.commands))
	for k := range m.commands {
		cmdKeys = append(cmdKeys, k)
	}
	slices.SortFunc(reqKeys, func(a, b requestKey) int {
		return cmpAll(strings.Compare(a.route, b.route), strings.Compare(a.method, b.method), a.code-b.code)
	})
	slices.SortFunc(cmdKeys, func(a, b commandKey) int {
		return cmpAll(strings.Compare(a.typ, b.typ), strings.Compare(a.result, b.result))
	})

	mw := NewMetricWriter(w)
	mw.Family("streamview_http_requests_total", "counter", "HTTP requests answered, by method, route and status code.")
	for _, k := range reqKeys {
		mw.Uint("streamview_http_requests_total", m.requests[k].count, k.labels()...)
	}
	mw.Family("streamview_http_request_duration_seconds", "histogram", "Time to answer an HTTP request, by method, route and status code.")
	for _, k := range reqKeys {
		h, l := m.requests[k], k.labels()
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			mw.Uint("streamview_http_request_duration_seconds_bucket", cum, append(l, Label{"le", formatFloat(le)})...)
		}
		mw.Uint("streamview_http_request_duration_seconds_bucket", h.count, append(l, Label{"le", "+Inf"})...)
		mw.Float("streamview_http_request_duration_seconds_sum", h.sum, l...)
		mw.Uint("streamview_http_request_duration_seconds_count", h.count, l...)
	}
	mw.Family("streamview_api_commands_total", "counter", "Command requests, by command type and result: sent, invalid, replayed, key_reused, in_flight, failed.")
	for _, k := range cmdKeys {
		mw.Uint("streamview_api_commands_total", m.commands[k], Label{"type", k.typ}, Label{"result", k.result})
	}
	m.mu.Unlock()

	mw.Family("streamview_http_requests_in_flight", "gauge", "HTTP requests being answered.")
	mw.Int("streamview_http_requests_in_flight", m.inFlight.Load())
}

// labels are the request's labels, with room for one more (le) so that
// appending it does not touch the shared array.
func (k requestKey) labels() []Label {
	return append(make([]Label, 0, 4), Label{"method", k.method}, Label{"route", k.route}, Label{"code", strconv.Itoa(k.code)})
}

func cmpAll(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

// serveMetrics answers GET /metrics: the server's metrics, then those of
// Deps.Metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	s.metrics.write(bw)
	if s.deps.Metrics != nil {
		s.deps.Metrics(bw)
	}
	bw.Flush()
}
