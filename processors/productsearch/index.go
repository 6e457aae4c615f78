package productsearch

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamview/streamview/schemas"
)

// Batch is how many events the runtime hands a search index at once
// (streamview serve and rebuild, and the search benchmark): Elasticsearch
// indexes large bulk requests faster, and a larger batch folds more events
// of one product into one write.
const Batch = 5000

// Index is the port every search index implements (Elasticsearch, the
// embedded index). indextest.Run is its contract.
type Index interface {
	// Apply folds a batch of decoded, validated product events into the
	// index. Events of one aggregate come in version order; aggregates are
	// mixed. Apply is idempotent: an event not newer than the stored
	// document's version is skipped, so a batch may be applied any number of
	// times. It returns nil only when the store holds every change. A
	// transient failure (store down, overloaded) is returned as-is for the
	// caller to retry the whole batch; a per-document problem that no retry
	// can fix is wrapped with ErrPermanent.
	Apply(ctx context.Context, batch []schemas.Event) error
	// Search answers q. A bad q returns a *ValidationError.
	Search(ctx context.Context, q Query) (Result, error)
	// Count is the number of searchable products: discontinued ones are not
	// counted.
	Count(ctx context.Context) (int64, error)
}

// ErrPermanent marks an Apply error that retrying cannot fix, such as a
// document the store rejects; the runtime dead-letters the batch's events
// instead of retrying. Test with errors.Is.
var ErrPermanent = errors.New("productsearch: permanent failure")

// EventError reports that batch[Index] of an Apply can never be stored (the
// store rejects the document it makes). The runtime dead-letters that event
// and applies the rest of the batch again; the events before it are stored
// already. It matches ErrPermanent and Err with errors.Is, and its
// PermanentEvent method is what the processors runtime looks for.
type EventError struct {
	Index int // position of the event in the batch given to Apply
	Err   error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("event %d of the batch cannot be applied: %v", e.Index, e.Err)
}

// Unwrap gives ErrPermanent and the cause.
func (e *EventError) Unwrap() []error { return []error{ErrPermanent, e.Err} }

// PermanentEvent is the batch index of the event to dead-letter.
func (e *EventError) PermanentEvent() int { return e.Index }
