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

// Generation is the generation p writes.
func (p *Writer) Generation() int { return p.gen }

// Apply writes every event of batch, in the order given (partition order),
// to the store in one round trip. It returns nil only when the store holds
// them all. It is idempotent: events already applied (a redelivery, a
// retried batch, a replay over a live store) are skipped by version and
// counted as duplicates, so the runtime may retry a failed batch whole.
//
// An invalid event fails the batch before anything is written, with a
// *batch.Error naming it as permanent (its cause wraps ErrInvalidEvent). A
// document the store refuses comes back as the store reports it: a
// *batch.Error naming its events as permanent, the rest of the batch
// stored (the store's changes are one per event, in batch order). Any other
// error is the store's (network, server) and worth retrying with backoff.
func (p *Writer) Apply(ctx context.Context, events []schemas.Event) error {
	changes := make([]Change, len(events))
	for i, e := range events {
		c, err := ChangeOf(e)
		if err != nil {
			return batch.Fail(batch.Permanent(i, fmt.Errorf("productview: aggregate_id %s, version %d, event_type %s, event %s: %w",
				e.AggregateID, e.Version, e.Type(), e.ID, err)))
		}
		changes[i] = c
	}
	res, err := p.store.Apply(ctx, p.gen, changes)
	// Counted even on error: what Redis confirmed is done, and a retry will
	// count it as a duplicate. So Applied is exactly the events written.
	p.applied.Add(int64(res.Applied))
	p.duplicates.Add(int64(res.Duplicates))
	if err != nil {
		return fmt.Errorf("productview: apply batch of %d events to generation %d: %w", len(events), p.gen, err)
	}
	return nil
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
