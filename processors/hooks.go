package processors

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Hooks let metrics and traces watch a Runner without the runtime knowing
// either: cmd/streamview wires internal/telemetry's. Nil fields are
// skipped, so the zero value watches nothing.
type Hooks struct {
	// Apply is called before each call of Projection.Apply (each attempt,
	// retries included) with the records the batch's events came from. The
	// context it returns is the one Apply gets (a tracer's span context);
	// done is called with Apply's error once Apply returns.
	Apply func(ctx context.Context, recs []*kgo.Record) (context.Context, func(err error))
	// Client are Kafka client options for the runner's own client only,
	// made anew for each Run: hooks that belong to one client (kprom's
	// metrics, kotel's tracer, kslog's logger).
	Client func() []kgo.Opt
}

// Projection is the projection the runner applies to.
func (p *Runner) Projection() Projection { return p.proj }
