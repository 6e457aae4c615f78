package rebuild

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Phase is where a rebuild stands.
type Phase string

// The phases of a rebuild, in order.
const (
	// Building: the new generation consumes the log; the old one is live.
	Building Phase = "building"
	// Handover: the rebuild asks the old generation's projectors to stop,
	// and swaps once they have.
	Handover Phase = "handover"
	// Swapped: the new generation is live; the old one is being retired.
	Swapped Phase = "swapped"
)

// State is a rebuild's record in Redis.
type State struct {
	Generation int   // the generation being built
	From       int   // the generation it replaces
	Phase      Phase // building, handover or swapped
	KeepOld    bool  // keep From's documents after the swap
	Started    time.Time
	// Requested is when the handover was asked for; a Follower answers
	// each request once, and one that was under way when it started only
	// once Updated moves.
	Requested time.Time
	// Progress of the build, refreshed every few seconds.
	Done, Total int64   // records consumed and in the log, since the start offsets
	Rate        float64 // records per second
	// Updated is when the state was last written: at least once a second
	// during the handover, which shows a Follower that the rebuild runs.
	Updated time.Time
	// Epoch is the store's epoch the build began under
	// (Config.StoreEpoch); "" without one.
	Epoch string
	// AbortRequested is when an abort was asked for by a process that
	// does not run the rebuild (Control.RequestAbort): the one that does
	// stops at its next check, and the asker removes what it built.
	// Save never writes it, so that the running rebuild's progress does
	// not wipe a request out.
	AbortRequested time.Time
}

// StateStore keeps one projection's rebuild state as flat string fields:
// the state port, which sinks/redisview implements with one Redis hash,
// sv:<projection>:rebuild (the one store every streamview service and the
// CLI talk to). Control owns the encoding.
type StateStore interface {
	// Load returns every field; none when no state is kept.
	Load(ctx context.Context) (map[string]string, error)
	// Save sets fields.
	Save(ctx context.Context, fields map[string]string) error
	// Delete removes the state.
	Delete(ctx context.Context) error
}

// Control keeps the rebuild state of one projection in a StateStore.
type Control struct {
	store StateStore
}

// NewControl returns the control of the state store keeps.
func NewControl(store StateStore) *Control {
	return &Control{store: store}
}

// Load returns the state; ok is false when no rebuild is under way.
func (c *Control) Load(ctx context.Context) (s State, ok bool, err error) {
	m, err := c.store.Load(ctx)
	if err != nil {
		return State{}, false, fmt.Errorf("rebuild: loading the state: %w", err)
	}
	if len(m) == 0 || m["generation"] == "" {
		// Nothing, or only an abort request written after the state was
		// cleared (Control.RequestAbort races a Clear): no rebuild.
		return State{}, false, nil
	}
	var errs []error
	num := func(k string) int64 {
		if m[k] == "" {
			return 0
		}
		v, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q", k, m[k]))
		}
		return v
	}
	at := func(k string) time.Time {
		if n := num(k); n > 0 {
			return time.UnixMilli(n)
		}
		return time.Time{}
	}
	s = State{
		Generation: int(num("generation")), From: int(num("from")), Phase: Phase(m["phase"]),
		KeepOld: m["keepOld"] == "1", Started: at("started"), Requested: at("requested"),
		Done: num("done"), Total: num("total"), Updated: at("updated"), Epoch: m["epoch"],
		AbortRequested: at("abortRequested"),
	}
	s.Rate, _ = strconv.ParseFloat(m["rate"], 64)
	if len(errs) > 0 || s.Generation < 1 || s.From < 0 {
		return State{}, false, fmt.Errorf("rebuild: the stored state is not one this version wrote: %v", m)
	}
	return s, true, nil
}

// Save writes s whole.
func (c *Control) Save(ctx context.Context, s State) error {
	ms := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	keep := "0"
	if s.KeepOld {
		keep = "1"
	}
	err := c.store.Save(ctx, map[string]string{
		"generation": strconv.Itoa(s.Generation), "from": strconv.Itoa(s.From), "phase": string(s.Phase), "keepOld": keep,
		"started": ms(s.Started), "requested": ms(s.Requested),
		"done": strconv.FormatInt(s.Done, 10), "total": strconv.FormatInt(s.Total, 10),
		"rate": strconv.FormatFloat(s.Rate, 'f', 1, 64), "updated": ms(s.Updated), "epoch": s.Epoch,
	})
	if err != nil {
		return fmt.Errorf("rebuild: saving the state: %w", err)
	}
	return nil
}

// RequestAbort asks the process running the recorded rebuild to stop
// (State.AbortRequested), at is the time of the request; the zero time
// withdraws one.
func (c *Control) RequestAbort(ctx context.Context, at time.Time) error {
	v := "0"
	if !at.IsZero() {
		v = strconv.FormatInt(at.UnixMilli(), 10)
	}
	if err := c.store.Save(ctx, map[string]string{"abortRequested": v}); err != nil {
		return fmt.Errorf("rebuild: asking for an abort: %w", err)
	}
	return nil
}

// Clear removes the state: no rebuild is under way.
func (c *Control) Clear(ctx context.Context) error {
	if err := c.store.Delete(ctx); err != nil {
		return fmt.Errorf("rebuild: clearing the state: %w", err)
	}
	return nil
}

// Leaser is a StateStore that also leases the right to run the
// projection's rebuild to one process at a time (redisview.Hash does).
// Two processes asked for a rebuild at once (two servers behind one load
// balancer) could otherwise both start it: each found no rebuild recorded,
// or the build's group still empty, as neither had joined it yet.
type Leaser interface {
	// Lease takes the lease for owner for ttl, or extends it when owner
	// holds it, and returns the holder: owner, or the one that holds it.
	Lease(ctx context.Context, owner string, ttl time.Duration) (holder string, err error)
	// Holder returns the lease's holder, "" when none holds it.
	Holder(ctx context.Context) (string, error)
	// Release gives owner's lease up; a lease another holds stays.
	Release(ctx context.Context, owner string) error
}

// leaseTTL is how long a lease lasts unless renewed; a running rebuild
// renews it every leaseTTL/3. A process that stopped without releasing it
// (killed) holds a rebuild back this long.
const leaseTTL = 15 * time.Second

// Lease takes or extends the lease for owner: an error wrapping
// ErrRunning when another process holds it. Without a Leaser store it
// takes nothing and succeeds.
func (c *Control) Lease(ctx context.Context, owner string) error {
	l, ok := c.store.(Leaser)
	if !ok {
		return nil
	}
	holder, err := l.Lease(ctx, owner, leaseTTL)
	if err != nil {
		return fmt.Errorf("rebuild: taking the lease: %w", err)
	}
	if holder != owner {
		return fmt.Errorf("%w elsewhere (`streamview rebuild`, or another server: %s holds the rebuild's lease; a killed process's runs out within %v)", ErrRunning, holder, leaseTTL)
	}
	return nil
}

// LeaseHolder returns the lease's holder, "" when none holds it or the
// store keeps no lease.
func (c *Control) LeaseHolder(ctx context.Context) (string, error) {
	l, ok := c.store.(Leaser)
	if !ok {
		return "", nil
	}
	holder, err := l.Holder(ctx)
	if err != nil {
		return "", fmt.Errorf("rebuild: reading the lease: %w", err)
	}
	return holder, nil
}

// Release gives owner's lease up.
func (c *Control) Release(ctx context.Context, owner string) error {
	l, ok := c.store.(Leaser)
	if !ok {
		return nil
	}
	if err := l.Release(ctx, owner); err != nil {
		return fmt.Errorf("rebuild: releasing the lease: %w", err)
	}
	return nil
}
