package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// durationBuckets are the upper bounds, in seconds, of the request latency
// histogram: from a cached read to the longest Prefer: wait.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// httpMetrics are the server's own metrics, in a registry of the server's.
type httpMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	commands *prometheus.CounterVec
	inFlight prometheus.Gauge
}

func newHTTPMetrics() *httpMetrics {
	labels := []string{"method", "route", "code"}
	m := &httpMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamview_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streamview_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method, route pattern and status code.",
			Buckets: durationBuckets,
		}, labels),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamview_api_commands_total",
			Help: "Command requests, by command type and result: sent, invalid, replayed, key_reused, in_flight, failed.",
		}, []string{"type", "result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "streamview_http_requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.commands, m.inFlight)
	return m
}

// observe counts one answered request. route is a pattern's path, or
// "unmatched", so the label set stays small.
func (m *httpMetrics) observe(method, route string, code int, d time.Duration) {
	if !knownMethod(method) {
		method = "other"
	}
	c := strconv.Itoa(code)
	m.requests.WithLabelValues(method, route, c).Inc()
	m.duration.WithLabelValues(method, route, c).Observe(d.Seconds())
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
	m.commands.WithLabelValues(typ, result).Inc()
}

// serveMetrics answers GET /metrics in the Prometheus text format (or
// OpenMetrics, when asked for): the server's metrics, then those of
// Deps.Metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	g := prometheus.Gatherers{s.metrics.reg}
	if s.deps.Metrics != nil {
		g = append(g, s.deps.Metrics)
	}
	promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		EnableOpenMetrics: true,
	}).ServeHTTP(w, r)
}
