package rebuild

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/schemas"
)

// gate wraps a projection so that its writes can be paused between batches:
// while paused, Apply waits before writing, so the store holds exactly the
// batches applied so far, and the runtime has committed their offsets once
// settled says so.
type gate struct {
	inner processors.Projection

	mu     sync.Mutex
	open   chan struct{} // closed while writes may go on
	active int

	applied atomic.Int64 // events of successful Apply calls
}

// Unwrap is the projection the gate holds writes back for (a sink's
// counters are read through it).
func (g *gate) Unwrap() processors.Projection { return g.inner }

func newGate(inner processors.Projection) *gate {
	open := make(chan struct{})
	close(open)
	return &gate{inner: inner, open: open}
}

// Aggregates forwards the wrapped projection's aggregate types
// (processors.AggregateProjection); nil leaves the runner's default.
func (g *gate) Aggregates() []string {
	if ap, ok := g.inner.(processors.AggregateProjection); ok {
		return ap.Aggregates()
	}
	return nil
}

func (g *gate) Apply(ctx context.Context, batch []schemas.Event) error {
	return g.through(ctx, batch, func() error { return g.inner.Apply(ctx, batch) })
}

// ApplyAt forwards the batch's positions to a wrapped
// processors.PositionedProjection (Apply otherwise), under the same gate.
func (g *gate) ApplyAt(ctx context.Context, batch []schemas.Event, partition int32, offsets []int64) error {
	return g.through(ctx, batch, func() error { return processors.ApplyAt(ctx, g.inner, batch, partition, offsets) })
}

// Forget passes the runtime's word on to a wrapped
// processors.PartitionMemory.
func (g *gate) Forget(partition int32) { processors.Forget(g.inner, partition) }

// through runs apply, the write of batch, once the gate is open.
func (g *gate) through(ctx context.Context, batch []schemas.Event, apply func() error) error {
	for {
		g.mu.Lock()
		open := g.open
		select {
		case <-open:
			g.active++
			g.mu.Unlock()
			err := apply()
			if err == nil {
				g.applied.Add(int64(len(batch)))
			}
			g.mu.Lock()
			g.active--
			g.mu.Unlock()
			return err
		default:
		}
		g.mu.Unlock()
		select {
		case <-open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pause stops writes and waits until none is in flight.
func (g *gate) pause(ctx context.Context) error {
	g.mu.Lock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
	g.mu.Unlock()
	return poll(ctx, 2*time.Millisecond, func() (bool, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.active == 0, nil
	})
}

// settled waits, with writes paused, until the runtime has committed the
// last batch the gate let through: its Applied counter (bumped after the
// commit) has reached the gate's.
func (g *gate) settled(ctx context.Context, proc *processors.Runner) error {
	return poll(ctx, 2*time.Millisecond, func() (bool, error) {
		return proc.Stats().Applied >= g.applied.Load(), nil
	})
}

// resume lets writes go on.
func (g *gate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// poll calls cond every d until it reports true or an error, or ctx ends.
func poll(ctx context.Context, d time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
