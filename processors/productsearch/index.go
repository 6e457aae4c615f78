package productsearch

import (
	"context"

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
	// caller to retry the whole batch. An event whose document the store
	// refuses for good is named, by its index in batch, as permanent in a
	// *batch.Error, returned once the rest of the batch is stored or can
	// be stored by applying it again: the runtime dead-letters that event
	// and applies the rest again.
	Apply(ctx context.Context, batch []schemas.Event) error
	// Search answers q. A bad q returns a *ValidationError.
	Search(ctx context.Context, q Query) (Result, error)
	// Count is the number of searchable products: discontinued ones are not
	// counted.
	Count(ctx context.Context) (int64, error)
}
