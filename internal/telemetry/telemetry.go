package telemetry

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Namespace prefixes every metric of streamview's own.
const Namespace = "streamview"

// Config configures a Telemetry. The zero value works: metrics on, traces
// off, client logs discarded.
type Config struct {
	// TracerProvider traces HTTP requests, Kafka records, decisions and
	// projector applies; nil turns tracing off (see Tracing for one made
	// from the OTEL_* environment).
	TracerProvider trace.TracerProvider
	// Logger receives the Kafka clients' own logs (kslog); nil discards.
	Logger *slog.Logger
}

// Telemetry holds the process's metric registry and tracer. One per
// process; safe for concurrent use.
type Telemetry struct {
	reg    *prometheus.Registry
	tp     trace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	log    *slog.Logger

	apply       *prometheus.HistogramVec
	batch       *prometheus.HistogramVec
	applyErrors *prometheus.CounterVec

	txns        *prometheus.CounterVec
	txnDuration *prometheus.HistogramVec
	txnCommands prometheus.Histogram

	outcome *prometheus.HistogramVec

	mu          sync.Mutex
	projections func() []ProjectionStats
	decider     func() DeciderStats
}

// Propagator is the trace context format of HTTP headers and Kafka record
// headers: W3C traceparent and baggage.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// latencyBuckets, in seconds, from a cached write to a slow commit.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// sizeBuckets count events or commands: 1 to the runtime's largest batch.
var sizeBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}

// New returns a Telemetry with its metrics registered, the Go runtime's
// and the process's included.
func New(cfg Config) *Telemetry {
	t := &Telemetry{reg: prometheus.NewRegistry(), tp: cfg.TracerProvider, prop: Propagator, log: cfg.Logger}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.tp != nil {
		t.tracer = t.tp.Tracer("github.com/streamview/streamview")
	}
	pg := []string{"projection", "generation"}
	t.apply = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "projection", Name: "apply_duration_seconds",
		Help:    "Time of one call of the projection's sink (one batch, one attempt).",
		Buckets: latencyBuckets,
	}, pg)
	t.batch = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "projection", Name: "batch_events",
		Help:    "Events handed to the projection's sink in one call.",
		Buckets: sizeBuckets,
	}, pg)
	t.applyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "projection", Name: "apply_errors_total",
		Help: "Calls of the projection's sink that failed (the batch is retried, or its rejected events dead-lettered).",
	}, pg)
	t.txns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "decider", Name: "transactions_total",
		Help: "Kafka transactions the decider ended, by outcome: committed or aborted (aborted commands come again).",
	}, []string{"outcome"})
	t.txnDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "decider", Name: "transaction_end_duration_seconds",
		Help:    "Time to end a decider transaction (flush its records, then commit or abort), by outcome.",
		Buckets: latencyBuckets,
	}, []string{"outcome"})
	t.txnCommands = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "decider", Name: "transaction_commands",
		Help:    "Command records decided in one transaction.",
		Buckets: sizeBuckets,
	})
	t.outcome = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "command", Name: "outcome_duration_seconds",
		Help:    "Time from a command's request to its outcome being known to the API that took it, by status: accepted or rejected.",
		Buckets: latencyBuckets,
	}, []string{"status"})
	t.reg.MustRegister(t.apply, t.batch, t.applyErrors, t.txns, t.txnDuration, t.txnCommands, t.outcome,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		projectionCollector{t}, deciderCollector{t})
	return t
}

// Registry is where the metrics live: register more with it, gather it.
func (t *Telemetry) Registry() *prometheus.Registry { return t.reg }

// Handler answers GET /metrics from the registry.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(t.log.Handler(), slog.LevelWarn)})
}

// TracerProvider is Config.TracerProvider: nil when tracing is off.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tp }

// Decided is commandbus.ResultsConfig.Decided: the command outcome latency.
func (t *Telemetry) Decided(status string, took time.Duration) {
	t.outcome.WithLabelValues(status).Observe(took.Seconds())
}

// Transaction is decider.Hooks.Transaction.
func (t *Telemetry) Transaction(commands int, took time.Duration, committed bool) {
	outcome := "aborted"
	if committed {
		outcome = "committed"
	}
	t.txns.WithLabelValues(outcome).Inc()
	t.txnDuration.WithLabelValues(outcome).Observe(took.Seconds())
	t.txnCommands.Observe(float64(commands))
}

// safeRegisterer registers like its Registerer but never panics: a Kafka
// client whose label values another live client already has (a client
// made while the last one with its role is still closing) loses its kprom
// metrics, with a warning, instead of crashing the process.
type safeRegisterer struct {
	prometheus.Registerer
	log *slog.Logger
}

func (r safeRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			r.log.Warn("telemetry: a Kafka client's metrics are not registered", "err", err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
