package telemetry

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
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

	kafkaRequests *prometheus.CounterVec

	mu          sync.Mutex
	projections func() []ProjectionStats
	decider     func() DeciderStats
	outcomes    func() OutcomeStats
	notifier    func() NotifierStats
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
	t.kafkaRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "kafka", Name: "requests_total",
		Help: "Requests a Kafka client wrote to the brokers, by client and request kind (the Kafka API: Produce, Fetch, EndTxn...): what loads the brokers.",
	}, []string{"client", "request"})
	t.reg.MustRegister(t.apply, t.batch, t.applyErrors, t.txns, t.txnDuration, t.txnCommands, t.outcome, t.kafkaRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		projectionCollector{t}, deciderCollector{t}, outcomeCollector{t}, notifierCollector{t})
	// Label values known in advance start at 0, so that dashboards and
	// alerts see the series before the first event.
	for _, o := range []string{"committed", "aborted"} {
		t.txns.WithLabelValues(o)
		t.txnDuration.WithLabelValues(o)
	}
	for _, s := range []string{"accepted", "rejected"} {
		t.outcome.WithLabelValues(s)
	}
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

// safeRegisterer is the Registerer of one Kafka client's kprom metrics. It
// never panics: a client whose label values another live client already
// has (one made while the last one of its role is still closing) loses its
// kprom metrics, with a warning, instead of crashing the process. And it
// renames kprom's two gauges whose names end in _total, which Prometheus
// keeps for counters (promtool check metrics refuses them).
type safeRegisterer struct {
	prometheus.Registerer
	log     *slog.Logger
	mu      sync.Mutex
	renamed map[prometheus.Collector]prometheus.Collector
}

// gaugeRenames are kprom's gauges whose names break the conventions.
var gaugeRenames = map[string]string{
	Namespace + "_kafka_buffered_fetch_records_total":   Namespace + "_kafka_buffered_fetch_records",
	Namespace + "_kafka_buffered_produce_records_total": Namespace + "_kafka_buffered_produce_records",
}

func (r *safeRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			r.log.Warn("telemetry: a Kafka client's metrics are not registered", "err", err)
		}
	}
}

func (r *safeRegisterer) Register(c prometheus.Collector) error {
	if to := renameOf(c); to != nil {
		r.mu.Lock()
		if r.renamed == nil {
			r.renamed = map[prometheus.Collector]prometheus.Collector{}
		}
		r.renamed[c] = to
		r.mu.Unlock()
		c = to
	}
	return r.Registerer.Register(c)
}

func (r *safeRegisterer) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	if to, ok := r.renamed[c]; ok {
		delete(r.renamed, c)
		c = to
	}
	r.mu.Unlock()
	return r.Registerer.Unregister(c)
}

// renameOf returns a collector that reports c's single gauge under its
// conventional name, or nil when c needs no renaming.
func renameOf(c prometheus.Collector) prometheus.Collector {
	descs := make(chan *prometheus.Desc, 4)
	go func() { c.Describe(descs); close(descs) }()
	var all []*prometheus.Desc
	for d := range descs {
		all = append(all, d)
	}
	if len(all) != 1 {
		return nil
	}
	for from, to := range gaugeRenames {
		if strings.Contains(all[0].String(), `fqName: "`+from+`"`) {
			return &renamedGauge{c: c, name: to}
		}
	}
	return nil
}

// renamedGauge reports the gauge of c under name, with c's labels.
type renamedGauge struct {
	c    prometheus.Collector
	name string
}

func (g *renamedGauge) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(g, ch)
}

func (g *renamedGauge) Collect(ch chan<- prometheus.Metric) {
	ms := make(chan prometheus.Metric, 4)
	go func() { g.c.Collect(ms); close(ms) }()
	for m := range ms {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil || pb.Gauge == nil {
			continue
		}
		labels := prometheus.Labels{}
		for _, l := range pb.Label {
			labels[l.GetName()] = l.GetValue()
		}
		d := prometheus.NewDesc(g.name, "Records buffered in the client (kprom), waiting to be fetched by the application or produced.", nil, labels)
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, pb.Gauge.GetValue())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
