package telemetry

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/producers/decider"
)

// Projection returns the runtime hooks of generation gen of projection
// name: the sink's latency, batch sizes and errors, the Kafka client's
// metrics (client "projector-<name>-g<gen>"), and, with tracing on, an
// apply span per record of each batch, a child of the record's own span
// (kotel's receive span, itself a child of the publish span whose context
// travelled in the record's headers).
func (t *Telemetry) Projection(name string, gen int) processors.Hooks {
	return t.projection("projector-", name, gen)
}

// Rebuild is Projection for the runner of a rebuild that builds generation
// gen beside the live one: its Kafka client is "rebuild-<name>-g<gen>".
// The projector that runs gen once it is live has a client of its own,
// whose metrics could not be registered under the same name while the
// rebuild's were (and went with them when the rebuild's client closed).
func (t *Telemetry) Rebuild(name string, gen int) processors.Hooks {
	return t.projection("rebuild-", name, gen)
}

func (t *Telemetry) projection(role, name string, gen int) processors.Hooks {
	g := itoa(gen)
	apply, batch, errs := t.apply.WithLabelValues(name, g), t.batch.WithLabelValues(name, g), t.applyErrors.WithLabelValues(name, g)
	client := role + name + "-g" + g
	return processors.Hooks{
		Client: func() []kgo.Opt { return t.Kafka(client) },
		Apply: func(ctx context.Context, recs []*kgo.Record) (context.Context, func(error)) {
			began := time.Now()
			batch.Observe(float64(len(recs)))
			spans := t.applySpans(name, gen, recs)
			return ctx, func(err error) {
				apply.Observe(time.Since(began).Seconds())
				if err != nil {
					errs.Inc()
				}
				for _, s := range spans {
					if err != nil {
						s.SetStatus(codes.Error, err.Error())
					}
					s.End()
				}
			}
		},
	}
}

// ForgetProjection removes the sink's series (latency, batch sizes,
// errors) of generation gen of projection name: a generation a rebuild
// retired, whose series would otherwise stay, frozen, beside the new
// one's. Its counters and lag go with its processor already.
func (t *Telemetry) ForgetProjection(name string, gen int) {
	g := itoa(gen)
	t.apply.DeleteLabelValues(name, g)
	t.batch.DeleteLabelValues(name, g)
	t.applyErrors.DeleteLabelValues(name, g)
}

// applySpans starts one span per traced record of a batch: the batch holds
// many commands' events, each in its own trace.
func (t *Telemetry) applySpans(name string, gen int, recs []*kgo.Record) []trace.Span {
	if t.tracer == nil {
		return nil
	}
	var spans []trace.Span
	for _, r := range recs {
		if r.Context == nil || !trace.SpanContextFromContext(r.Context).IsValid() {
			continue
		}
		_, s := t.tracer.Start(r.Context, name+" apply", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String(logkey.Projection, name), attribute.Int(logkey.Generation, gen),
			attribute.String(logkey.Topic, r.Topic), attribute.Int(logkey.Partition, int(r.Partition)),
			attribute.Int64(logkey.Offset, r.Offset), attribute.String(logkey.AggregateID, string(r.Key)),
			attribute.Int("batch.events", len(recs)),
		))
		spans = append(spans, s)
	}
	return spans
}

// Decider returns the decider's hooks: transactions, their commit latency
// and size, its session client's metrics, and, with tracing on, a decide
// span per command record whose context the produced events carry.
func (t *Telemetry) Decider() decider.Hooks {
	h := decider.Hooks{
		Transaction: t.Transaction,
		Session:     func() []kgo.Opt { return t.Kafka("decider") },
	}
	if t.tracer != nil {
		h.Command = func(ctx context.Context, r *kgo.Record) (context.Context, func()) {
			// The span of the record (kotel's receive span) is the parent;
			// ctx keeps the transaction's deadline for the produce.
			parent := ctx
			if r.Context != nil {
				parent = trace.ContextWithSpan(ctx, trace.SpanFromContext(r.Context))
			}
			ctx, s := t.tracer.Start(parent, "decide", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
				attribute.String(logkey.Topic, r.Topic), attribute.Int(logkey.Partition, int(r.Partition)),
				attribute.Int64(logkey.Offset, r.Offset), attribute.String(logkey.AggregateID, string(r.Key)),
			))
			return ctx, func() { s.End() }
		}
	}
	return h
}
