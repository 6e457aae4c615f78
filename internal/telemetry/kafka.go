package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/streamview/streamview/internal/logkey"
)

// Kafka returns the options of one Kafka client whose role is client (e.g.
// "decider", "api-sender", "projector-product-view-g1"): kprom's metrics
// (streamview_kafka_*, labelled client=<role>), kotel's tracer when tracing
// is on, and kslog's logger. Call it once per client: kprom's hooks belong
// to one client at a time (clients made one after another may share them).
func (t *Telemetry) Kafka(client string) []kgo.Opt {
	m := kprom.NewMetrics(Namespace,
		kprom.Subsystem("kafka"),
		kprom.Registerer(&safeRegisterer{Registerer: t.reg, log: t.log}),
		kprom.Gatherer(t.reg),
		kprom.WithStaticLabel(prometheus.Labels{"client": client}),
		kprom.FetchAndProduceDetail(kprom.ByTopic, kprom.Batches, kprom.Records, kprom.UncompressedBytes),
	)
	hooks := []kgo.Hook{m}
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
