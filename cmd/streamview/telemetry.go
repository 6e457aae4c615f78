package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/streamview/streamview/internal/telemetry"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/sinks/bleveindex"
	"github.com/streamview/streamview/sinks/esindex"
)

// projectionHooks are the runtime hooks of generation gen of projection
// name: st's telemetry, or none.
func (st stack) projectionHooks(name string, gen int) processors.Hooks {
	if st.tel == nil {
		return processors.Hooks{}
	}
	return st.tel.Projection(name, gen)
}

// rebuildHooks are projectionHooks for a rebuild's runner of generation
// gen, whose Kafka client has a name of its own (telemetry.Rebuild).
func (st stack) rebuildHooks(name string, gen int) processors.Hooks {
	if st.tel == nil {
		return processors.Hooks{}
	}
	return st.tel.Rebuild(name, gen)
}

// projectionStats reads the counters of the runners running now, and of
// their sinks, for GET /metrics.
func projectionStats(procs []*processors.Runner) []telemetry.ProjectionStats {
	out := make([]telemetry.ProjectionStats, 0, len(procs))
	for _, p := range procs {
		s, cfg := p.Stats(), p.Config()
		out = append(out, telemetry.ProjectionStats{
			Projection: cfg.Name, Generation: cfg.Generation,
			Records: s.Records, Applied: s.Applied, Duplicates: duplicates(p),
			DeadLettered: s.DeadLettered, Retries: s.Retries,
			Offsets: s.Offsets, HighWatermarks: s.HighWatermarks,
		})
	}
	return out
}

// duplicates is how many events p's sink, and those of the runners p
// continues, skipped as already stored; each sink counts them in its own
// Stats.
func duplicates(p *processors.Runner) int64 {
	var n int64
	for ; p != nil; p = p.Continues() {
		proj := p.Projection()
		if w, ok := proj.(interface{ Unwrap() processors.Projection }); ok {
			proj = w.Unwrap() // a rebuild's gate around its sink
		}
		switch x := proj.(type) {
		case *productview.Writer:
			n += x.Stats().Duplicates
		case *esindex.Index:
			n += x.Stats().Duplicates
		case *bleveindex.Index:
			n += x.Stats().Duplicates
		}
	}
	return n
}

func deciderStats(s decider.Stats) telemetry.DeciderStats {
	return telemetry.DeciderStats{
		Accepted: s.Accepted, Rejected: s.Rejected, Duplicates: s.Duplicates, Undecodable: s.Undecodable,
		Events: s.Events, Partitions: s.Partitions,
	}
}

// statsNotifier is a notifier with counters: *webhook.Notifier, and serve's
// journaledNotifier around one.
type statsNotifier interface{ Stats() webhook.Stats }

var _ statsNotifier = (*journaledNotifier)(nil)

// watchNotifier makes tel's scrapes report n's counters, when it has them.
func watchNotifier(tel *telemetry.Telemetry, n any) {
	sn, ok := n.(statsNotifier)
	if !ok {
		return
	}
	tel.WatchNotifier(func() telemetry.NotifierStats {
		s := sn.Stats()
		return telemetry.NotifierStats{Events: s.Events, Queued: s.Queued, Delivered: s.Delivered, Failed: s.Failed,
			DeadLettered: s.DeadLettered, Undecodable: s.Undecodable, Restored: s.Restored, Stale: s.Stale, Trimmed: s.Trimmed, Dropped: s.Dropped}
	})
}

// newTelemetry returns the process's metrics and, when the OTEL_*
// environment asks for it, its tracer exporting over OTLP; shutdown
// flushes the spans still buffered.
func newTelemetry(ctx context.Context, e env, logger *slog.Logger) (*telemetry.Telemetry, func(), error) {
	tp, shutdownTP, err := telemetry.Tracing(ctx, e.getenv)
	if err != nil {
		return nil, nil, err
	}
	cfg := telemetry.Config{Logger: logger}
	if tp != nil {
		cfg.TracerProvider = tp
		logger.Info("tracing: exporting spans over OTLP",
			"endpoint", e.or("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")))
	}
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdownTP(sctx); err != nil {
			logger.Warn("tracing: flushing the last spans failed", "err", err)
		}
	}
	return telemetry.New(cfg), shutdown, nil
}
