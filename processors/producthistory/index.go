package producthistory

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/schemas"
)

// Name is the projection's name: consumer groups streamview.product-history.g<N>.
const Name = "product-history"

// Entry is where version Version of product AggregateID lies in the events
// topic.
type Entry struct {
	AggregateID string
	Version     int64
	Partition   int32
	Offset      int64
}

// Store keeps the index. Implementations must be safe for concurrent use.
type Store interface {
	// Put records entries (in any order, several products mixed). An entry
	// whose product and version are recorded already keeps its first
	// position; Put returns how many entries were new.
	Put(ctx context.Context, entries []Entry) (added int, err error)
	// Range returns product id's entries for versions from, from+1, … up to
	// n of them, stopping at the first version not recorded, and how many
	// versions of id the index holds in all (0: an unknown product).
	Range(ctx context.Context, id string, from int64, n int) (entries []Entry, total int64, err error)
}

// ErrNoPositions is the error of Indexer.Apply: the index needs each event's
// position, which the runtime passes to ApplyAt.
var ErrNoPositions = errors.New("producthistory: events without their positions; run the indexer in processors.Runner, which calls ApplyAt")

// Indexer is the projection the runtime drives.
type Indexer struct {
	store              Store
	applied, duplicate atomic.Int64
}

// NewIndexer returns the indexer of store.
func NewIndexer(store Store) *Indexer { return &Indexer{store: store} }

// Apply fails: see ErrNoPositions.
func (ix *Indexer) Apply(ctx context.Context, events []schemas.Event) error {
	return ErrNoPositions
}

// ApplyAt records the position of each event: offsets[i] is that of
// events[i] in partition. An event without a product or with a version
// below 1 is rejected permanently (it is dead-lettered); the runtime
// validates events first, so this only guards the index.
func (ix *Indexer) ApplyAt(ctx context.Context, events []schemas.Event, partition int32, offsets []int64) error {
	if len(offsets) != len(events) {
		return fmt.Errorf("producthistory: %d events with %d offsets", len(events), len(offsets))
	}
	entries := make([]Entry, 0, len(events))
	var fails []batch.Failure
	for i, e := range events {
		if e.AggregateID == "" || e.Version < 1 {
			fails = append(fails, batch.Permanent(i,
				fmt.Errorf("event %s at partition %d offset %d: no product or version %d", e.ID, partition, offsets[i], e.Version)))
			continue
		}
		entries = append(entries, Entry{AggregateID: e.AggregateID, Version: e.Version, Partition: partition, Offset: offsets[i]})
	}
	if len(entries) > 0 {
		added, err := ix.store.Put(ctx, entries)
		if err != nil {
			return fmt.Errorf("producthistory: partition %d offsets %d..%d: %w", partition, offsets[0], offsets[len(offsets)-1], err)
		}
		ix.applied.Add(int64(added))
		ix.duplicate.Add(int64(len(entries) - added))
	}
	return batch.Fail(fails...)
}

// Stats counts what the indexer did since it was made.
type Stats struct {
	Applied   int64 // entries recorded
	Duplicate int64 // entries recorded already, skipped
}

// Stats returns the indexer's counts.
func (ix *Indexer) Stats() Stats {
	return Stats{Applied: ix.applied.Load(), Duplicate: ix.duplicate.Load()}
}
