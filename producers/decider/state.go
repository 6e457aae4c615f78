package decider

import (
	"encoding/hex"
	"sync"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/producers/reference"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
)

// outcome is a decided command, enough to answer it again; small, since a
// partition remembers up to MaxDecided of them. The product ID is not kept:
// a command ID names one request to one product.
type outcome struct {
	version  int64
	at       int64      // decided, Unix ms
	rejected *rejection // nil: accepted
	// fp is the fingerprint of the request the command was decided for.
	// A command ID is the same for every request with one Idempotency-Key,
	// method and path, whatever the body: the API tells a retry from a
	// reuse of the key by it.
	fp fingerprint
}

type rejection struct{ code, reason string }

func (o outcome) result(commandID, productID string) schemas.CommandResult {
	r := schemas.CommandResult{
		CommandID: commandID, ProductID: productID, Status: schemas.StatusAccepted, Version: o.version, DecidedAt: msTime(o.at),
		Fingerprint: o.fp.String(),
	}
	if o.rejected != nil {
		r.Status, r.Code, r.Reason = schemas.StatusRejected, o.rejected.code, o.rejected.reason
	}
	return r
}

type decidedRef struct {
	id string
	at int64
}

// partState is what the decider knows of one commands partition: the
// products of its events partition and the command IDs decided lately.
// Only the Run goroutine reads or writes it.
type partState struct {
	products map[string]product.State
	// subs are the webhook subscriptions of those products, by
	// subscription ID (their events are keyed by product ID).
	subs map[string]subscription.State
	// refs are the categories and brands whose keys (schemas.ReferenceKey)
	// hash to this partition, by key.
	refs map[string]reference.State
	// broken names products whose state cannot be trusted (an event of
	// theirs did not decode), with why; their commands are rejected.
	broken  map[string]string
	decided map[string]outcome
	order   []decidedRef // decided in insertion order, for forgetting
	head    int

	// Snapshot bookkeeping (see snapshot.go). eventsEnd is the events
	// offset the products reflect: every committed event of the
	// partition before it is folded in. snapshotted says the state topic
	// holds a usable snapshot of every product; without one the next
	// snapshot writes them all. dirty names the products changed since
	// the last snapshot, sinceSnapshot counts the commands decided since,
	// lastSnapshot is when it was written (or the state restored), Unix ms.
	eventsEnd     int64
	snapshotted   bool
	dirty         map[string]struct{}
	sinceSnapshot int
	lastSnapshot  int64

	bytes int64 // decidedBytes of every entry of decided
}

// decidedOverhead is what a remembered outcome costs besides its command
// ID's bytes: its map slot, the outcome and its place in order. A heap
// measurement of 200,000 outcomes with 36-byte IDs (Go 1.26, amd64) gave
// 137 bytes an entry, so 101 of overhead; 128 leaves room for a map that
// has just doubled. The request fingerprint added 32 bytes to each.
const decidedOverhead = 160

// fingerprint is a request fingerprint (commandbus.Request.Fingerprint, 64
// hex digits) in 32 bytes; zero when unknown.
type fingerprint [32]byte

// parseFingerprint reads a fingerprint header; anything but 64 hex digits
// is unknown.
func parseFingerprint(s string) fingerprint {
	var f fingerprint
	if len(s) != hex.EncodedLen(len(f)) {
		return fingerprint{}
	}
	if _, err := hex.Decode(f[:], []byte(s)); err != nil {
		return fingerprint{}
	}
	return f
}

// String is the fingerprint's header value, "" when unknown.
func (f fingerprint) String() string {
	if f == (fingerprint{}) {
		return ""
	}
	return hex.EncodeToString(f[:])
}

// decidedBytes is the memory a remembered outcome of command id is counted
// for against Config.MaxDecidedBytes.
func decidedBytes(id string) int64 { return int64(len(id)) + decidedOverhead }

func newPartState() *partState {
	return &partState{products: map[string]product.State{}, subs: map[string]subscription.State{}, refs: map[string]reference.State{}, broken: map[string]string{}, decided: map[string]outcome{},
		dirty: map[string]struct{}{}}
}

// remember notes a decided command ID.
func (s *partState) remember(id string, o outcome) {
	if _, ok := s.decided[id]; !ok {
		s.bytes += decidedBytes(id)
	}
	s.decided[id] = o
	s.order = append(s.order, decidedRef{id: id, at: o.at})
}

// forget drops remembered command IDs decided before oldest (Unix ms) and
// the oldest beyond max entries or maxBytes (decidedBytes).
func (s *partState) forget(oldest int64, max int, maxBytes int64) {
	for s.head < len(s.order) {
		r := s.order[s.head]
		if r.at >= oldest && len(s.decided) <= max && s.bytes <= maxBytes {
			break
		}
		if o, ok := s.decided[r.id]; ok && o.at == r.at {
			delete(s.decided, r.id)
			s.bytes -= decidedBytes(r.id)
		}
		s.order[s.head] = decidedRef{}
		s.head++
	}
	if s.head > 1024 && s.head > len(s.order)/2 {
		s.order = append([]decidedRef(nil), s.order[s.head:]...)
		s.head = 0
	}
}

// overlay holds one batch's changes to a partition's state until its
// transaction commits.
type overlay struct {
	base     *partState
	products map[string]product.State
	subs     map[string]subscription.State
	refs     map[string]reference.State
	decided  map[string]outcome
	order    []decidedRef

	// eventsEnd is the offset after the batch's last event on this
	// partition, 0 when it wrote none or snapshots are off; snap says
	// the batch's transaction holds a snapshot of the partition, taken
	// at snapAt (Unix ms).
	eventsEnd int64
	snap      bool
	snapAt    int64
}

func newOverlay(base *partState) *overlay {
	return &overlay{base: base, products: map[string]product.State{}, subs: map[string]subscription.State{}, refs: map[string]reference.State{}, decided: map[string]outcome{}}
}

func (o *overlay) product(id string) (product.State, string) {
	if s, ok := o.products[id]; ok {
		return s, ""
	}
	return o.base.products[id], o.base.broken[id]
}

func (o *overlay) subscription(id string) subscription.State {
	if s, ok := o.subs[id]; ok {
		return s
	}
	return o.base.subs[id]
}

// reference returns the category or brand of reference key key, and why
// its state cannot be trusted ("" when it can).
func (o *overlay) reference(key string) (reference.State, string) {
	if s, ok := o.refs[key]; ok {
		return s, ""
	}
	return o.base.refs[key], o.base.broken[key]
}

func (o *overlay) outcome(commandID string) (outcome, bool) {
	if out, ok := o.decided[commandID]; ok {
		return out, true
	}
	out, ok := o.base.decided[commandID]
	return out, ok
}

func (o *overlay) decide(commandID string, out outcome) {
	o.decided[commandID] = out
	o.order = append(o.order, decidedRef{id: commandID, at: out.at})
}

// commit merges the overlay into its base; track keeps the snapshot
// bookkeeping (off when the decider writes no snapshots, so that the dirty
// set does not grow for nothing).
func (o *overlay) commit(oldest int64, maxDecided int, maxBytes int64, track bool) {
	b := o.base
	for id, s := range o.products {
		b.products[id] = s
		if track && !o.snap {
			b.dirty[id] = struct{}{}
		}
	}
	if track {
		b.eventsEnd = max(b.eventsEnd, o.eventsEnd)
		b.sinceSnapshot += len(o.order)
		if o.snap {
			clear(b.dirty)
			b.snapshotted, b.sinceSnapshot, b.lastSnapshot = true, 0, o.snapAt
		}
	}
	for id, s := range o.subs {
		b.subs[id] = s
		if track && !o.snap {
			b.dirty[subKey(id)] = struct{}{}
		}
	}
	for key, s := range o.refs {
		b.refs[key] = s
		if track && !o.snap {
			b.dirty[refKey(key)] = struct{}{}
		}
	}
	for _, r := range o.order {
		o.base.remember(r.id, o.decided[r.id])
	}
	o.base.forget(oldest, maxDecided, maxBytes)
}

// registry holds the states of the partitions this member owns. The Run
// goroutine reads and installs states; the group's callbacks drop them.
// A generation per partition, bumped on every drop, keeps a rebuild that
// raced with a revocation from installing a state that is stale.
type registry struct {
	mu    sync.Mutex
	parts map[int32]*partState
	gen   map[int32]uint64
}

func newRegistry() *registry {
	return &registry{parts: map[int32]*partState{}, gen: map[int32]uint64{}}
}

func (r *registry) get(p int32) (*partState, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[p], r.gen[p]
}

// install sets p's state unless p was dropped since gen was read.
func (r *registry) install(p int32, s *partState, gen uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen[p] != gen {
		return false
	}
	r.parts[p] = s
	return true
}

func (r *registry) drop(ps []int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range ps {
		delete(r.parts, p)
		r.gen[p]++
	}
}

func (r *registry) dropAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.parts {
		delete(r.parts, p)
	}
	for p := range r.gen {
		r.gen[p]++
	}
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts)
}
