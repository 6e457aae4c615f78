package productview

import (
	"context"
	"errors"

	"github.com/streamview/streamview/schemas"
)

// Store is the port the view's store implements (sinks/redisview is one):
// versioned documents, one per product, in numbered generations, of which
// one is live. storetest.Run is its contract.
type Store interface {
	// Apply writes changes to generation gen, in the order given (partition
	// order), each only when its version is newer than the version its
	// document holds; the others are counted as duplicates. It is
	// idempotent. It returns nil only when every change is applied or known
	// to be a duplicate. Invalid changes wrap ErrInvalidChange and are
	// refused, the whole slice, before anything is written. A document the
	// store refuses for good is reported as a *batch.Error naming its
	// changes (by index in changes) as permanent, once every other change is
	// applied; any other error is transient: retry the whole slice.
	Apply(ctx context.Context, gen int, changes []Change) (Result, error)
	// Get reads document id from the live generation; found is false when
	// it is not there, and err wraps ErrNoLive when no generation is live.
	Get(ctx context.Context, id string) (d Doc, found bool, err error)
	// GetAt reads document id from generation gen.
	GetAt(ctx context.Context, gen int, id string) (d Doc, found bool, err error)
	// GetMany reads documents ids of generation gen (0: the live one, as
	// Get finds it) in one round trip; those not there are left out. The
	// Reader joins the reference records of a view's category and brand
	// with it, and reads a view with them.
	GetMany(ctx context.Context, gen int, ids []string) (map[string]Doc, error)
}

// PartitionStore is a Store that can apply the changes of one partition of
// the projection's topic faster when told which (sinks/redisview on a
// single server: it remembers the partition's versions and writes
// without a script). ApplyIn keeps every rule of Apply; the caller must
// give it only changes of that partition, and a document's changes must
// always come from one partition (a topic keyed by aggregate ID). The Writer calls it when the
// runtime names the partition (processors.PositionedProjection), and
// Forget when the runtime no longer gives this process the partition
// (processors.PartitionMemory): what ApplyIn remembered of it is dropped.
type PartitionStore interface {
	Store
	ApplyIn(ctx context.Context, gen int, partition int32, changes []Change) (Result, error)
	Forget(gen int, partition int32)
}

// IsReference reports whether document ID id names a reference record, a
// category's or brand's name (schemas.ReferenceKey: "category:<id>",
// "brand:<id>"), rather than a product view. Stores keep reference records
// in the generation with the views (written, cleared and swapped with
// them) under keys of their own, and do not count them among a
// generation's documents: a rebuild compares that count with the products
// of the log.
func IsReference(id string) bool {
	_, _, ok := schemas.ParseReferenceKey(id)
	return ok
}

// Change is what one event does to one document: set some fields, add to
// some integer fields, and move the document to Version. The store applies
// it only when Version is newer than the version the document holds.
type Change struct {
	ID      string  // document ID, the event's aggregate ID
	Version int64   // the event's aggregate version, >= 1
	Set     []Field // fields to set, in order
	Incr    []Incr  // integer fields to add to
}

// Field is one document field and its new value.
type Field struct {
	Name, Value string
}

// Incr adds By to the integer held in field Name (0 when absent).
type Incr struct {
	Name string
	By   int64
}

// VersionField is the document field holding its version; Change.Set and
// Change.Incr may not name it.
const VersionField = "_v"

// Result counts the changes of one Apply: Applied were newer than the stored
// document and are now in it; Duplicates were not and were skipped.
type Result struct {
	Applied    int
	Duplicates int
}

// Add returns the sum of r and o.
func (r Result) Add(o Result) Result {
	return Result{Applied: r.Applied + o.Applied, Duplicates: r.Duplicates + o.Duplicates}
}

// Doc is one stored document.
type Doc struct {
	ID         string
	Generation int
	Version    int64             // the newest applied change's version
	Fields     map[string]string // every field but VersionField
}

// Errors of a Store, to test with errors.Is.
var (
	// ErrInvalidChange marks a Change that no store could apply (empty or
	// malformed ID, version < 1, empty or reserved field name). It is
	// permanent: retrying does not help.
	ErrInvalidChange = errors.New("invalid change")
	// ErrGeneration marks a generation number < 1.
	ErrGeneration = errors.New("generation must be >= 1")
	// ErrNoLive is returned when no generation has been made live yet.
	ErrNoLive = errors.New("no live generation")
	// ErrCorrupt marks a stored value that the store did not write.
	ErrCorrupt = errors.New("corrupt stored value")
)
