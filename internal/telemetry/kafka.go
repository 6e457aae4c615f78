package telemetry

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kotel"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/streamview/streamview/internal/logkey"
)

// Kafka returns the options of one Kafka client whose role is client (e.g.
// "decider", "api-sender", "projector-product-view-g1"): kprom's metrics
// (streamview_kafka_*, labelled client=<role>), the requests it writes by
// kind (streamview_kafka_requests_total), kotel's tracer when tracing is
// on, and kslog's logger. Call it once per client: kprom's hooks belong to
// one client at a time (clients made one after another may share them).
func (t *Telemetry) Kafka(client string) []kgo.Opt {
	m := kprom.NewMetrics(Namespace,
		kprom.Subsystem("kafka"),
		kprom.Registerer(&safeRegisterer{Registerer: t.reg, log: t.log}),
		kprom.Gatherer(t.reg),
		kprom.WithStaticLabel(prometheus.Labels{"client": client}),
		kprom.FetchAndProduceDetail(kprom.ByTopic, kprom.Batches, kprom.Records, kprom.UncompressedBytes),
	)
	hooks := []kgo.Hook{m, &requestCounter{vec: t.kafkaRequests, client: client}}
	if t.tp != nil {
		hooks = append(hooks, t.kotel(client).Hooks()...)
	}
	return append(t.KafkaLog(client), kgo.WithHooks(hooks...))
}

// KafkaLog returns the options of a Kafka client that only logs through
// kslog, for short-lived helper clients (readers of a partition's history),
// whose per-record traces and metrics would be noise.
func (t *Telemetry) KafkaLog(client string) []kgo.Opt {
	return []kgo.Opt{kgo.WithLogger(kslog.New(t.log.With(logkey.Client, client)))}
}

func (t *Telemetry) kotel(client string) *kotel.Kotel {
	return kotel.NewKotel(kotel.WithTracer(kotel.NewTracer(
		kotel.TracerProvider(t.tp),
		kotel.TracerPropagator(t.prop),
		kotel.ClientID(client),
	)))
}

// requestCounter counts the requests of one client role by kind. The
// counters are looked up once per kind and kept.
type requestCounter struct {
	vec    *prometheus.CounterVec
	client string
	byKey  [kmsg.MaxKey + 1]atomic.Pointer[prometheus.Counter]
}

var (
	_ kgo.HookBrokerWrite  = (*requestCounter)(nil)
	_ kgo.HookClientClosed = (*requestCounter)(nil)
)

// OnClientClosed removes the client's series, as kprom removes its own: a
// projector of a generation a rebuild retired, or a rebuild's runner, is
// gone for good, and its series would stay in every scrape, one set more
// per rebuild. (Each client has a name of its own while it runs.)
// A client made after with the same options (a decider's next session)
// counts anew.
func (r *requestCounter) OnClientClosed(*kgo.Client) {
	r.vec.DeletePartialMatch(prometheus.Labels{"client": r.client})
	for i := range r.byKey {
		r.byKey[i].Store(nil)
	}
}

// OnBrokerWrite counts a request written in full.
func (r *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil || key < 0 || int(key) >= len(r.byKey) {
		return
	}
	c := r.byKey[key].Load()
	if c == nil {
		n := r.vec.WithLabelValues(r.client, kmsg.NameForKey(key))
		c = &n
		r.byKey[key].Store(c)
	}
	(*c).Inc()
}
