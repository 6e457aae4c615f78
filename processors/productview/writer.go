package productview

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/schemas"
)

// Writer applies batches of product events to one generation of the view
// store: it implements the runtime's Projection port (Apply), beside the
// Reader that reads views back. It is safe for concurrent use by the lanes
// of several partitions.
type Writer struct {
	store      Store
	gen        int
	applied    atomic.Int64
	duplicates atomic.Int64
	changes    *Changes
}

// NewWriter returns a Writer that writes generation gen (>= 1) of store.
func NewWriter(store Store, gen int) (*Writer, error) {
	if store == nil {
		return nil, errors.New("productview: nil store")
	}
	if gen < 1 {
		return nil, fmt.Errorf("productview: %w: got %d", ErrGeneration, gen)
	}
	return &Writer{store: store, gen: gen}, nil
}

// Tell makes p tell c of the products each Apply wrote (see Changes). Call
// it before the first Apply.
func (p *Writer) Tell(c *Changes) { p.changes = c }

// Generation is the generation p writes.
func (p *Writer) Generation() int { return p.gen }

// Apply writes every event of batch, in the order given (partition order),
// to the store in one round trip. It returns nil only when the store holds
// them all. It is idempotent: events already applied (a redelivery, a
// retried batch, a replay over a live store) are skipped by version and
// counted as duplicates, so the runtime may retry a failed batch whole.
// The store folds the events of one product into one guarded write.
//
// An invalid event (its cause wraps ErrInvalidEvent) is named as permanent
// in a *batch.Error, each on its own, and the rest of the batch, the other
// events of its product included, is written first. A document the store
// refuses comes back as the store reports it: a *batch.Error naming its
// events as permanent, the rest of the batch stored. Any other error is
// the store's (network, server) and worth retrying with backoff.
func (p *Writer) Apply(ctx context.Context, events []schemas.Event) error {
	return p.apply(ctx, events, -1)
}

// ApplyAt is Apply for a batch of one partition (the runtime's
// processors.PositionedProjection): a PartitionStore gets the partition
// (ApplyIn); the offsets are not needed.
func (p *Writer) ApplyAt(ctx context.Context, events []schemas.Event, partition int32, _ []int64) error {
	return p.apply(ctx, events, partition)
}

// Forget tells a PartitionStore that the runtime no longer gives this
// writer partition (processors.PartitionMemory).
func (p *Writer) Forget(partition int32) {
	if ps, ok := p.store.(PartitionStore); ok {
		ps.Forget(p.gen, partition)
	}
}

// apply is Apply, through the store's ApplyIn when partition >= 0 and the
// store is a PartitionStore.
func (p *Writer) apply(ctx context.Context, events []schemas.Event, partition int32) error {
	changes := make([]Change, 0, len(events))
	var invalid []batch.Failure
	var at []int // at[j] is the index in events of changes[j], once an event is invalid
	for i, e := range events {
		c, err := ChangeOf(e)
		if err != nil {
			if at == nil {
				at = make([]int, len(changes), len(events))
				for j := range at {
					at[j] = j
				}
			}
			invalid = append(invalid, batch.Permanent(i, fmt.Errorf("productview: aggregate_id %s, version %d, event_type %s, event %s: %w",
				e.AggregateID, e.Version, e.Type(), e.ID, err)))
			continue
		}
		changes = append(changes, c)
		if at != nil {
			at = append(at, i)
		}
	}
	var res Result
	var err error
	if ps, ok := p.store.(PartitionStore); ok && partition >= 0 {
		res, err = ps.ApplyIn(ctx, p.gen, partition, changes)
	} else {
		res, err = p.store.Apply(ctx, p.gen, changes)
	}
	p.changes.tell(events)
	// Counted even on error: what Redis confirmed is done, and a retry will
	// count it as a duplicate. So Applied is exactly the events written.
	p.applied.Add(int64(res.Applied))
	p.duplicates.Add(int64(res.Duplicates))
	if err != nil {
		var be *batch.Error
		if at == nil || !errors.As(err, &be) {
			return fmt.Errorf("productview: apply batch of %d events to generation %d: %w", len(events), p.gen, err)
		}
		// The store names changes: name their events.
		for _, f := range be.Failures {
			f.Index = at[f.Index]
			invalid = append(invalid, f)
		}
	}
	return batch.Fail(invalid...)
}

// Stats counts the events p has applied and skipped as duplicates since it
// was made: for the runtime's metrics.
type Stats struct {
	Applied    int64
	Duplicates int64
}

// Stats returns p's counters.
func (p *Writer) Stats() Stats {
	return Stats{Applied: p.applied.Load(), Duplicates: p.duplicates.Load()}
}
