package productview

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/streamview/streamview/schemas"
)

// Projector applies batches of product events to one generation of the view
// store. It is what the projection runtime calls; it is safe for concurrent
// use by the goroutines of several partitions.
type Projector struct {
	store      Store
	gen        int
	applied    atomic.Int64
	duplicates atomic.Int64
}

// New returns a Projector that writes generation gen (>= 1) of store.
func New(store Store, gen int) (*Projector, error) {
	if store == nil {
		return nil, errors.New("productview: nil store")
	}
	if gen < 1 {
		return nil, fmt.Errorf("productview: %w: got %d", ErrGeneration, gen)
	}
	return &Projector{store: store, gen: gen}, nil
}

// Generation is the generation p writes.
func (p *Projector) Generation() int { return p.gen }

// EventError says which event of a batch is invalid; it wraps ErrInvalidEvent.
type EventError struct {
	Index int // position in the batch
	Event schemas.Event
	Err   error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("productview: event %d of batch (aggregate_id %s, version %d, event_type %s, event %s): %v",
		e.Index, e.Event.AggregateID, e.Event.Version, e.Event.Type(), e.Event.ID, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

// PermanentEvent tells the projection runtime which event of the batch to
// dead-letter: no retry makes an invalid event valid.
func (e *EventError) PermanentEvent() int { return e.Index }

// Apply writes every event of batch, in the order given (partition order),
// to the store in one round trip. It returns nil only when the store holds
// them all. It is idempotent: events already applied (a redelivery, a
// retried batch, a replay over a live store) are skipped by version and
// counted as duplicates, so the runtime may retry a failed batch whole.
//
// An invalid event fails the batch before anything is written, with an
// *EventError wrapping ErrInvalidEvent (permanent). Any other error is the
// store's (network, server) and worth retrying with backoff.
func (p *Projector) Apply(ctx context.Context, batch []schemas.Event) error {
	changes := make([]Change, len(batch))
	for i, e := range batch {
		c, err := ChangeOf(e)
		if err != nil {
			return &EventError{Index: i, Event: e, Err: err}
		}
		changes[i] = c
	}
	res, err := p.store.Apply(ctx, p.gen, changes)
	// Counted even on error: what Redis confirmed is done, and a retry will
	// count it as a duplicate. So Applied is exactly the events written.
	p.applied.Add(int64(res.Applied))
	p.duplicates.Add(int64(res.Duplicates))
	if err != nil {
		return fmt.Errorf("productview: apply batch of %d events to generation %d: %w", len(batch), p.gen, err)
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
func (p *Projector) Stats() Stats {
	return Stats{Applied: p.applied.Load(), Duplicates: p.duplicates.Load()}
}
