package decider

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Hooks let metrics and traces watch the decider without it knowing
// either: cmd/streamview wires internal/telemetry's. Nil fields are
// skipped, so the zero value watches nothing.
type Hooks struct {
	// Command is called when the command record r has been decided, with
	// the context its produced records would get. The context it returns,
	// which must keep ctx's deadline, becomes the context of every record
	// produced for r (its events, state and result), so that a tracer's
	// span context travels in their headers; end is called once the
	// transaction has ended.
	Command func(ctx context.Context, r *kgo.Record) (context.Context, func())
	// Transaction is told of each transaction the decider ended: how many
	// command records it held, how long ending it took (the flush and the
	// commit or abort), and whether it committed.
	Transaction func(commands int, took time.Duration, committed bool)
	// Batch is told where each committed batch's time went (the figures
	// of the debug log "decider batch"), for a benchmark's breakdown of a
	// command's wait.
	Batch func(BatchTiming)
	// Session are Kafka client options for each session's client only,
	// made anew per session: hooks that belong to one client (kprom's
	// metrics, kotel's tracer, kslog's logger).
	Session func() []kgo.Opt
}

// BatchTiming is where a committed batch's time went.
type BatchTiming struct {
	// Began is when the decider took the batch from its poll; Issued are
	// the timestamps of its command records (set by whoever sent them:
	// the API, just before its send), in the batch's order.
	Began  time.Time
	Issued []time.Time
	// Decide is building the state and deciding, with the first produce
	// requests already under way; Produce the wait for the rest of the
	// events and results; End ending the transaction (the offsets, the
	// commit).
	Decide, Produce, End time.Duration
}
