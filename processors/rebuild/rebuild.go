package rebuild

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/schemas"
)

// Errors callers can test with errors.Is.
var (
	// ErrNoLive: the projection has no live generation to rebuild or
	// replay; the projector's first start makes generation 1 live.
	ErrNoLive = errors.New("no live generation")
	// ErrMismatch: the new generation does not hold the products the log
	// makes; nothing was swapped (Config.Force swaps anyway).
	ErrMismatch = errors.New("the new generation's documents do not match the log")
	// ErrNoHandover: the old generation's projectors did not stop when
	// asked; nothing was swapped.
	ErrNoHandover = errors.New("the old generation's projectors did not hand over")
	// ErrSwapped: the rebuild has swapped already; it cannot be aborted,
	// only finished.
	ErrSwapped = errors.New("the rebuild has swapped already")
	// ErrStale: the recorded rebuild does not start from the live
	// generation (it was swapped by other means); abort it.
	ErrStale = errors.New("the recorded rebuild does not replace the live generation")
	// ErrStoreLost: the store lost its data during the rebuild
	// (Config.StoreEpoch).
	ErrStoreLost = errors.New("the store lost its data during the rebuild")
	// ErrAborted: another process asked the running rebuild to stop
	// (Abort, from a process that does not run it); the asker removes
	// what it built.
	ErrAborted = errors.New("the rebuild was aborted")
	// ErrLeaseLost ends a rebuild whose lease another process took: this
	// one could not renew it in time (paused, or cut off from the store).
	ErrLeaseLost = errors.New("the rebuild's lease went to another process")
)

// Rebuilder builds a new generation of one projection beside the live one
// from the start of the log, and swaps to it. See the package documentation.
type Rebuilder struct {
	cfg     Config
	target  Target
	control *Control
	dec     processors.Decoder
	// building is the new generation's processor while it runs here.
	building atomic.Pointer[processors.Runner]
	// built is the last processor made here, kept once it has stopped.
	built atomic.Pointer[processors.Runner]
	// owner names this Rebuilder as the holder of the rebuild's lease
	// (Control.Lease).
	owner string
}

// Building is the processor of the generation being built while it runs
// in this process, for reports and metrics; nil otherwise.
func (r *Rebuilder) Building() *processors.Runner { return r.building.Load() }

// Built is the last processor of a new generation this Rebuilder ran,
// running or stopped; nil before the first. The live projector that takes
// the generation over in this process continues its counters
// (processors.Runner.Continue).
func (r *Rebuilder) Built() *processors.Runner { return r.built.Load() }

// New returns a Rebuilder of target that keeps its state in control.
func New(cfg Config, target Target, control *Control) (*Rebuilder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if target.Generations == nil || target.Projection == nil || control == nil {
		return nil, errors.New("rebuild: target (its Generations and Projection) and control are required")
	}
	cfg = cfg.withDefaults()
	dec := cfg.Decoder
	if dec == nil {
		codec, err := schemas.NewCodec()
		if err != nil {
			return nil, err
		}
		dec = codec
	}
	return &Rebuilder{cfg: cfg, target: target, control: control, dec: dec, owner: leaseOwner()}, nil
}

// leaseOwner names a Rebuilder as a lease holder: its host and process,
// and a random part that tells two Rebuilders of one process apart.
func leaseOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/pid %d/%x", host, os.Getpid(), b)
}

// Claim takes the rebuild's lease for r (Control.Lease), before Run:
// Jobs.Start claims it before it answers, so that of two servers asked for
// a rebuild at once one is refused at once. Run takes it again.
func (r *Rebuilder) Claim(ctx context.Context) error {
	if err := r.control.Lease(ctx, r.owner); err != nil {
		return fmt.Errorf("rebuild %s: %w", r.target.Name(), err)
	}
	return nil
}

// holdLease renews r's lease every leaseTTL/3 while the context it returns
// lives; that context ends with ErrLeaseLost as its cause when another
// process turns out to hold the lease. release stops the renewals and
// gives the lease up.
func (r *Rebuilder) holdLease(ctx context.Context) (_ context.Context, release func()) {
	lctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			err := r.control.Lease(lctx, r.owner)
			switch {
			case errors.Is(err, ErrRunning):
				r.log().Error("another process took the rebuild's lease; stopping", "err", err)
				cancel(fmt.Errorf("rebuild %s: %w", r.target.Name(), ErrLeaseLost))
				return
			case err != nil && lctx.Err() == nil:
				r.log().Warn("renewing the rebuild's lease failed; trying again", "err", err)
			}
		}
	}()
	return lctx, func() {
		cancel(nil)
		<-done
		r.release(ctx)
	}
}

// release gives r's lease up, also when ctx has ended.
func (r *Rebuilder) release(ctx context.Context) {
	rctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer stop()
	if err := r.control.Release(rctx, r.owner); err != nil {
		r.log().Warn("releasing the rebuild's lease failed; it expires by itself", "in", leaseTTL, "err", err)
	}
}

// Result is what a rebuild did.
type Result struct {
	Projection string
	From, To   int  // the old and the new live generation
	Resumed    bool // it continued a rebuild that had been stopped
	// Records is how many records the new generation consumed in this run
	// until it caught up, in Build.
	Records int64
	Build   time.Duration
	// Check: documents in the new generation, products the log makes up to
	// the same offsets, and the old generation's documents at that time.
	Documents, Expected, LiveDocuments int64
	// Swapped is false when the run only finished retiring an earlier
	// swap (Retiring). OldRemoved is false with KeepOld.
	Swapped, OldRemoved, Retiring bool
	Elapsed                       time.Duration
}

// Rate is the build's records per second.
func (r Result) Rate() float64 {
	if r.Build <= 0 {
		return 0
	}
	return float64(r.Records) / r.Build.Seconds()
}

func (r *Rebuilder) log() *slog.Logger {
	return r.cfg.Logger.With(logkey.Projection, r.target.Name())
}

func (r *Rebuilder) admin() (*kgo.Client, *kadm.Client, error) {
	cl, err := kgo.NewClient(r.cfg.kafkaOpts()...)
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild: kafka client: %w", err)
	}
	return cl, kadm.NewClient(cl), nil
}

// Run builds generation N+1 (or continues the recorded rebuild), checks it,
// swaps it live, hands the live stream over and retires generation N. When
// ctx ends the rebuild stops where it is, recorded: Run again continues,
// Abort removes it; the live generation is untouched until the swap.
func (r *Rebuilder) Run(ctx context.Context) (res Result, err error) {
	began := time.Now()
	name := r.target.Name()
	res.Projection = name
	defer func() { res.Elapsed = time.Since(began) }()
	if err := r.Claim(ctx); err != nil {
		if !errors.Is(err, ErrRunning) { // Jobs.Start's claim is this run's
			r.release(ctx)
		}
		return res, err
	}
	lctx, release := r.holdLease(ctx)
	defer release()
	cl, adm, err := r.admin()
	if err != nil {
		return res, err
	}
	defer cl.Close()
	defer func() {
		if cause := context.Cause(lctx); err != nil && errors.Is(cause, ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	}()
	ctx = lctx
	epoch, err := r.storeEpoch(ctx)
	if err != nil {
		return res, err
	}
	var rn *runner
	defer func() {
		if errors.Is(err, ErrStoreLost) && res.To > 0 && !res.Swapped {
			if rn != nil {
				rn.halt()
			}
			err = errors.Join(err, r.forgetLost(context.WithoutCancel(ctx), adm, res.To))
		}
	}()

	live, err := r.target.Live(ctx)
	if err != nil {
		return res, err
	}
	if live == 0 {
		return res, noLive(name)
	}
	st, ok, err := r.control.Load(ctx)
	if err != nil {
		return res, err
	}
	switch {
	case ok && st.Generation == live && retiringElsewhere(st):
		return res, retiringError(name, st)
	case ok && st.Generation == live:
		// Swapped before it was stopped: only the retiring is left.
		res.From, res.To, res.Resumed, res.Retiring = st.From, st.Generation, true, true
		st.KeepOld = st.KeepOld || r.cfg.KeepOld
		r.log().Info("finishing the retirement of an earlier rebuild", "from", st.From, "to", st.Generation)
		return res, r.retire(ctx, adm, &st, &res)
	case ok && st.From != live:
		return res, fmt.Errorf("rebuild %s: %w: it builds g%d to replace g%d, but g%d is live; run it with --abort", name, ErrStale, st.Generation, st.From, live)
	case ok && st.Epoch != "" && epoch != "" && st.Epoch != epoch:
		// The store lost data since the build stopped (a Redis Cluster's
		// master, while the state lived on another): what it built lacks
		// it, and a resumed build would not write it again.
		r.log().Warn("the store lost data since this rebuild stopped: starting it again from the start", logkey.Generation, st.Generation, "from", st.From)
		if _, _, err := r.remove(ctx, adm, st.Generation); err != nil {
			return res, err
		}
		st = State{Generation: live + 1, From: live, Phase: Building, Started: time.Now()}
	case ok:
		res.Resumed = true
		st.Phase = Building // a handover cut short starts over
		r.log().Info("resuming rebuild", logkey.Generation, st.Generation, "from", st.From)
	default:
		st = State{Generation: live + 1, From: live, Phase: Building, Started: time.Now()}
		// Leftovers of an attempt whose state is gone: start clean.
		if _, _, err := r.remove(ctx, adm, st.Generation); err != nil {
			return res, err
		}
		r.log().Info("starting rebuild", logkey.Generation, st.Generation, "from", st.From)
	}
	st.KeepOld, st.Epoch = r.cfg.KeepOld, epoch
	res.From, res.To = st.From, st.Generation
	group := processors.GroupName(name, st.Generation)
	if err := processors.CheckIdle(ctx, adm, group); err != nil {
		return res, fmt.Errorf("rebuild %s: is another rebuild running? %w", name, err)
	}
	if err := r.control.Save(ctx, st); err != nil {
		return res, err
	}
	// An abort asked of a run that stopped before it saw it (the asker
	// found the group idle and removed what it could itself), or written
	// after a state was cleared, is not this run's.
	if err := r.control.RequestAbort(ctx, time.Time{}); err != nil {
		return res, err
	}
	if err := r.target.Create(ctx, st.Generation); err != nil {
		return res, err
	}

	rn, err = r.start(ctx, st.Generation)
	if err != nil {
		return res, err
	}
	defer rn.halt()
	tr, err := r.newTracker(ctx, adm, &st, group)
	if err != nil {
		return res, err
	}
	tr.epoch = epoch

	if err := tr.catchUp(ctx, rn, "from the start of the log"); err != nil {
		return res, err
	}
	tr.counted(ctx, rn.proc)
	res.Records, res.Build = rn.proc.Stats().Records, time.Since(began)
	r.log().Info("caught up", logkey.Generation, st.Generation, "records", res.Records, "in", res.Build.Round(time.Millisecond),
		"records_per_second", int64(res.Rate()))

	if err := r.verify(ctx, adm, rn, tr, &res); err != nil {
		return res, err
	}
	projectors, err := r.swap(ctx, adm, rn, tr)
	if err != nil {
		return res, err
	}
	res.Swapped = true
	if projectors {
		r.awaitTakeover(ctx, adm, group, tr)
	}
	if err := rn.halt(); err != nil {
		r.log().Warn("the rebuild's processor stopped with an error after the swap", "err", err)
	}
	return res, r.retire(ctx, adm, &st, &res)
}

// Start says what Run will do, as CanStart sees it before.
type Start struct {
	// Retiring: a rebuild swapped already and stopped while retiring the
	// old generation, From: Run only finishes that; it builds no new
	// generation (run it again after).
	Retiring bool
	From     int
}

// CanStart reports, before Run, what would end a new rebuild at once: no
// live generation yet (ErrNoLive), a recorded rebuild that no longer
// replaces the live generation (ErrStale), or a rebuild of the projection
// running elsewhere (ErrRunning: its generation's group has live members);
// and otherwise what Run will do.
func (r *Rebuilder) CanStart(ctx context.Context) (Start, error) {
	name := r.target.Name()
	live, err := r.target.Live(ctx)
	if err != nil {
		return Start{}, err
	}
	if live == 0 {
		return Start{}, noLive(name)
	}
	holder, err := r.control.LeaseHolder(ctx)
	if err != nil {
		return Start{}, err
	}
	st, ok, err := r.control.Load(ctx)
	switch {
	case err != nil:
		return Start{}, err
	case holder != "" && holder != r.owner && ok && st.Generation == live:
		return Start{}, retiringError(name, st)
	case holder != "" && holder != r.owner:
		return Start{}, fmt.Errorf("rebuild %s: %w elsewhere (`streamview rebuild`, or another server: %s holds the rebuild's lease; a killed process's runs out within %v); its progress shows in `streamview projections` and GET /v1/projections", name, ErrRunning, holder, leaseTTL)
	case !ok:
		return Start{}, nil
	}
	if st.Generation == live {
		if retiringElsewhere(st) {
			return Start{}, retiringError(name, st)
		}
		return Start{Retiring: true, From: st.From}, nil
	}
	if st.From != live {
		return Start{}, fmt.Errorf("rebuild %s: %w: it builds g%d to replace g%d, but g%d is live; abort it first", name, ErrStale, st.Generation, st.From, live)
	}
	cl, adm, err := r.admin()
	if err != nil {
		return Start{}, err
	}
	defer cl.Close()
	group := processors.GroupName(name, st.Generation)
	err = processors.CheckIdle(ctx, adm, group)
	if errors.Is(err, processors.ErrGroupActive) {
		return Start{}, fmt.Errorf("rebuild %s: %w elsewhere (`streamview rebuild`, or another server): group %s builds generation %d; its progress shows in `streamview projections` and GET /v1/projections", name, ErrRunning, group, st.Generation)
	}
	return Start{}, err
}

// runner is the new generation's processor running in this process.
type runner struct {
	proc *processors.Runner
	gate *gate
	stop context.CancelFunc
	done chan error
	err  error
	over bool
}

func (r *Rebuilder) start(ctx context.Context, gen int) (*runner, error) {
	proj, err := r.target.Projection(gen)
	if err != nil {
		return nil, err
	}
	g := newGate(proj)
	var hooks processors.Hooks
	if r.cfg.Hooks != nil {
		hooks = r.cfg.Hooks(gen)
	}
	proc, err := processors.New(processors.Config{
		Name: r.target.Name(), Generation: gen, Topic: r.cfg.Topic, DeadLetterTopic: r.cfg.DeadLetterTopic,
		MaxBatch: r.cfg.MaxBatch, Aggregates: r.cfg.Aggregates, SessionTimeout: r.cfg.SessionTimeout, Logger: r.cfg.Logger, Hooks: hooks,
	}, r.dec, g, r.cfg.kafkaOpts(kgo.ClientID(ClientID))...)
	if err != nil {
		return nil, err
	}
	pctx, stop := context.WithCancel(ctx)
	rn := &runner{proc: proc, gate: g, stop: stop, done: make(chan error, 1)}
	r.building.Store(proc)
	r.built.Store(proc)
	go func() {
		err := proc.Run(pctx)
		r.building.CompareAndSwap(proc, nil)
		rn.done <- err
	}()
	return rn, nil
}

// halt stops the processor and waits for it; it may be called again.
func (rn *runner) halt() error {
	if rn.over {
		return rn.err
	}
	rn.stop()
	rn.gate.resume()
	rn.err, rn.over = <-rn.done, true
	return rn.err
}

// check returns an error when the processor stopped on its own.
func (rn *runner) check() error {
	if rn.over {
		return fmt.Errorf("rebuild: the new generation's processor stopped: %v", rn.err)
	}
	select {
	case err := <-rn.done:
		rn.err, rn.over = err, true
		if err == nil {
			err = errors.New("stopped")
		}
		return fmt.Errorf("rebuild: the new generation's processor stopped: %w", err)
	default:
		return nil
	}
}

// tracker measures and reports the new generation's progress.
type tracker struct {
	r      *Rebuilder
	adm    *kadm.Client
	st     *State
	group  string
	began  time.Time
	starts partitionOffsets
	// ends are the end offsets when the build began; pastStart is set once
	// the group has reached them.
	ends                 partitionOffsets
	pastStart            bool
	meter                meter
	lastReport, lastSave time.Time
	last                 Progress
	// epoch is the store's epoch at the start (Config.StoreEpoch), read
	// again at lastEpoch.
	epoch     string
	lastEpoch time.Time
	// lastAbort is when the state was last read for an abort request.
	lastAbort time.Time
	// committed is the group's committed offsets at the last update.
	committed partitionOffsets
}

// abortCheckEvery is how often a running rebuild reads its state for an
// abort requested by another process.
const abortCheckEvery = time.Second

// checkAbort fails with ErrAborted once another process has asked for an
// abort (Control.RequestAbort); it reads the state once per
// abortCheckEvery, and at each step with force. A failed read is not an
// abort.
func (t *tracker) checkAbort(ctx context.Context, force bool) error {
	if !force && time.Since(t.lastAbort) < abortCheckEvery {
		return nil
	}
	t.lastAbort = time.Now()
	st, ok, err := t.r.control.Load(ctx)
	if err != nil || !ok || st.AbortRequested.IsZero() || st.Generation != t.st.Generation {
		return nil
	}
	name := t.r.target.Name()
	return fmt.Errorf("rebuild %s: %w by another process (DELETE /v1/projections/%s/rebuild, or `streamview rebuild --abort`) at %s; it removes g%d",
		name, ErrAborted, name, st.AbortRequested.UTC().Format(time.RFC3339), st.Generation)
}

func (r *Rebuilder) newTracker(ctx context.Context, adm *kadm.Client, st *State, group string) (*tracker, error) {
	starts, err := startOffsets(ctx, adm, r.cfg.Topic)
	if err != nil {
		return nil, err
	}
	ends, err := endOffsets(ctx, adm, r.cfg.Topic)
	if err != nil {
		return nil, err
	}
	return &tracker{r: r, adm: adm, st: st, group: group, began: time.Now(), starts: starts, ends: ends}, nil
}

// update measures the group's lag and reports it when the interval has
// passed, or at once with force.
func (t *tracker) update(ctx context.Context, step string, force bool) (Progress, error) {
	if force || time.Since(t.lastEpoch) >= time.Second {
		t.lastEpoch = time.Now()
		if err := t.storeLost(ctx); err != nil {
			return Progress{}, err
		}
	}
	if err := t.checkAbort(ctx, force); err != nil {
		return Progress{}, err
	}
	lag, err := processors.Lag(ctx, t.adm, t.group, t.r.cfg.Topic)
	if err != nil {
		return Progress{}, err
	}
	now := time.Now()
	p := Progress{Projection: t.r.target.Name(), Generation: t.st.Generation, Phase: t.st.Phase, Step: step,
		Left: -1, Elapsed: now.Sub(t.began)}
	past := true
	t.committed = partitionOffsets{}
	for _, l := range lag {
		t.committed[l.Partition] = l.Committed
		start := t.starts[l.Partition]
		at := max(l.Committed, start)
		past = past && at >= t.ends[l.Partition]
		p.Done += at - start
		p.Total += l.End - start
		p.Lag += l.Lag
	}
	t.pastStart = t.pastStart || past
	p.Rate = t.meter.add(p.Done, now)
	if p.Rate > 0 {
		p.Left = time.Duration(float64(p.Lag) / p.Rate * float64(time.Second))
	}
	t.last = p
	every := t.r.cfg.ProgressInterval
	if force || now.Sub(t.lastReport) >= every {
		t.lastReport = now
		if t.r.cfg.Progress != nil {
			t.r.cfg.Progress(p)
		}
	}
	if force || now.Sub(t.lastSave) >= max(every, 2*time.Second) {
		t.lastSave = now
		t.st.Done, t.st.Total, t.st.Rate, t.st.Updated = p.Done, p.Total, p.Rate, now
		if err := t.r.control.Save(ctx, *t.st); err != nil {
			t.r.log().Warn("could not record progress", "err", err)
		}
	}
	return p, nil
}

// counted waits, for countedWait at most, until proc's stats count the
// commits the group's offsets showed at the last update: the broker has a
// commit before its answer reaches the processor, which counts it then, and
// a run's Records read in between missed that commit's records (ci143: 57
// of 500).
func (t *tracker) counted(ctx context.Context, proc *processors.Runner) {
	ctx, cancel := context.WithTimeout(ctx, countedWait)
	defer cancel()
	_ = poll(ctx, 2*time.Millisecond, func() (bool, error) {
		offsets := proc.Stats().Offsets
		for p, c := range t.committed {
			if c > 0 && offsets[p] < c {
				return false, nil
			}
		}
		return true, nil
	})
}

// countedWait bounds tracker.counted: a commit's answer comes within the
// client's request timeout, and Records is a report, not a check.
const countedWait = 5 * time.Second

// catchUp waits until the new group has read the log as it was when the
// build began and is then within CaughtUpLag records of the end, or within
// a second at the rate it consumes: under a steady load a group that keeps
// up may never be seen at lag 0. The exact checks come after; they count
// what the group has read, so a log shorter than CaughtUpLag must be read
// first, or there would be nothing to check.
func (t *tracker) catchUp(ctx context.Context, rn *runner, step string) error {
	tick := time.NewTicker(min(250*time.Millisecond, t.r.cfg.ProgressInterval))
	defer tick.Stop()
	for {
		if err := rn.check(); err != nil {
			return err
		}
		p, err := t.update(ctx, step, false)
		if err != nil {
			return err
		}
		if t.pastStart && (p.Lag <= t.r.cfg.CaughtUpLag || (p.Left >= 0 && p.Left <= time.Second)) {
			_, err := t.update(ctx, "caught up", true)
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// verify pauses the new generation's writes, counts its documents and the
// offsets they come from, and compares them with the products the log
// makes up to those offsets. A mismatch is tried again twice, in case a
// failed write of the paused batch left extra documents behind.
func (r *Rebuilder) verify(ctx context.Context, adm *kadm.Client, rn *runner, tr *tracker, res *Result) error {
	name, gen := r.target.Name(), tr.st.Generation
	for attempt := 1; ; attempt++ {
		if _, err := tr.update(ctx, "checking document counts", true); err != nil {
			return err
		}
		docs, upto, err := r.countPaused(ctx, adm, rn, tr)
		if err != nil {
			return err
		}
		lc, err := countLog(ctx, r.cfg.kafkaOpts(), r.dec, r.cfg.Topic, tr.starts, upto)
		if err != nil {
			return err
		}
		expected := lc.Searchable()
		if r.target.CountsDiscontinued() {
			expected = lc.Products
		}
		liveDocs, err := r.target.Count(ctx, tr.st.From)
		if err != nil {
			return err
		}
		res.Documents, res.Expected, res.LiveDocuments = docs, expected, liveDocs
		r.log().Info("checked the new generation", logkey.Generation, gen, "documents", docs, "expected", expected,
			"live_documents", liveDocs, "records", lc.Records, "invalid", lc.Invalid, "offsets", upto.String())
		if docs == expected {
			return nil
		}
		if attempt < 3 {
			continue
		}
		err = fmt.Errorf("rebuild %s: %w: g%d holds %d documents, the log up to offsets %s makes %d (%d records, %d invalid; %d dead-lettered by this run; the live g%d holds %d); nothing was swapped: rerun to check again, --force to swap anyway, --abort to give up",
			name, ErrMismatch, gen, docs, upto, expected, lc.Records, lc.Invalid, rn.proc.Stats().DeadLettered, tr.st.From, liveDocs)
		if !r.cfg.Force {
			return err
		}
		r.log().Warn("swapping despite the mismatch (forced)", "err", err)
		return nil
	}
}

// countPaused counts generation gen's documents with its writes paused and
// settled, and returns the committed offsets the documents come from.
func (r *Rebuilder) countPaused(ctx context.Context, adm *kadm.Client, rn *runner, tr *tracker) (int64, partitionOffsets, error) {
	if err := rn.gate.pause(ctx); err != nil {
		return 0, nil, err
	}
	defer rn.gate.resume()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := rn.gate.settled(sctx, rn.proc)
	cancel()
	if err != nil {
		if cerr := rn.check(); cerr != nil {
			return 0, nil, cerr
		}
		return 0, nil, fmt.Errorf("rebuild: waiting for the last batch's commit: %w", err)
	}
	upto, err := committed(ctx, adm, tr.group, r.cfg.Topic)
	if err != nil {
		return 0, nil, err
	}
	for p, s := range tr.starts {
		if _, ok := upto[p]; !ok {
			upto[p] = s
		}
	}
	docs, err := r.target.Count(ctx, tr.st.Generation)
	return docs, upto, err
}

// swap hands over and swaps; it reports whether projectors were running
// the old generation.
func (r *Rebuilder) swap(ctx context.Context, adm *kadm.Client, rn *runner, tr *tracker) (projectors bool, err error) {
	st := tr.st
	oldGroup := processors.GroupName(r.target.Name(), st.From)
	ms, err := members(ctx, adm, oldGroup)
	if err != nil {
		return false, err
	}
	revert := func(cause error) error {
		st.Phase = Building
		st.Requested = time.Time{}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.control.Save(cctx, *st); err != nil {
			return errors.Join(cause, err)
		}
		return cause
	}
	if len(ms) > 0 {
		projectors = true
		// Close in on the end again, so that the old generation is frozen
		// for as short a time as possible.
		if err := tr.catchUp(ctx, rn, "closing in on the end"); err != nil {
			return true, err
		}
		st.Phase, st.Requested = Handover, time.Now()
		if err := r.control.Save(ctx, *st); err != nil {
			return true, err
		}
		r.log().Info("asking the old generation's projectors to hand over", "from", st.From, "members", describeMembers(ms))
		if _, err := tr.update(ctx, fmt.Sprintf("waiting for the projectors of g%d to stop", st.From), true); err != nil {
			return true, revert(err)
		}
		hctx, cancel := context.WithTimeout(ctx, r.cfg.HandoverTimeout)
		err := poll(hctx, 50*time.Millisecond, func() (bool, error) {
			if err := rn.check(); err != nil {
				return false, err
			}
			if err := tr.checkAbort(hctx, false); err != nil {
				return false, err
			}
			tr.beat(hctx)
			ms, err = members(hctx, adm, oldGroup)
			return len(ms) == 0, err
		})
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("rebuild %s: %w within %v: group %s still has %s; they may run a streamview that does not follow rebuilds: stop them and run the rebuild again (it resumes)",
					r.target.Name(), ErrNoHandover, r.cfg.HandoverTimeout, oldGroup, describeMembers(ms))
			}
			return true, revert(err)
		}
		r.log().Info("the old generation's projectors stopped", "from", st.From)
	}

	// The old generation is frozen now: once the new one has committed the
	// end as it is now, it holds everything the old one holds.
	ends, err := endOffsets(ctx, adm, r.cfg.Topic)
	if err != nil {
		return projectors, revert(err)
	}
	err = poll(ctx, 10*time.Millisecond, func() (bool, error) {
		if err := rn.check(); err != nil {
			return false, err
		}
		if err := tr.checkAbort(ctx, false); err != nil {
			return false, err
		}
		if projectors {
			tr.beat(ctx)
		}
		have, err := committed(ctx, adm, tr.group, r.cfg.Topic)
		return reached(have, ends), err
	})
	if err != nil {
		return projectors, revert(err)
	}
	if projectors {
		if ms, err := members(ctx, adm, oldGroup); err != nil || len(ms) > 0 {
			if err == nil {
				err = fmt.Errorf("rebuild %s: %w: a projector of g%d came back before the swap (%s); run the rebuild again",
					r.target.Name(), ErrNoHandover, st.From, describeMembers(ms))
			}
			return projectors, revert(err)
		}
	}
	if err := tr.storeLost(ctx); err != nil {
		return projectors, revert(err)
	}
	if err := tr.checkAbort(ctx, true); err != nil {
		return projectors, revert(err)
	}
	// Still ours, checked now rather than at the last renewal: a run
	// paused past the lease's end must not swap a generation that another
	// process resumed.
	if err := r.Claim(ctx); err != nil {
		if errors.Is(err, ErrRunning) {
			err = fmt.Errorf("%w: %w", ErrLeaseLost, err)
		}
		return projectors, revert(err)
	}
	if err := r.target.Promote(ctx, st.From, st.Generation); err != nil {
		return projectors, revert(err)
	}
	st.Phase = Swapped
	if err := r.control.Save(context.WithoutCancel(ctx), *st); err != nil {
		return projectors, err
	}
	r.log().Info("swapped", "from", st.From, "to", st.Generation, "end_offsets", ends.String())
	_, _ = tr.update(ctx, fmt.Sprintf("g%d is live", st.Generation), true)
	return projectors, nil
}

// noLive is the refusal of a rebuild of projection name while its store
// holds no live generation.
func noLive(name string) error {
	return fmt.Errorf("rebuild %s: %w: the projector's next start makes one live (generation 1 on a first start; after a loss of the store's data, "+
		"the newest generation that had read the log: `streamview projections` names it, and `streamview replay` the projection reads it again)", name, ErrNoLive)
}

// beatEvery is how often a rebuild refreshes its state's Updated during
// the handover: a Follower that started while the handover was under way
// obeys it once it sees Updated move, which the request of a rebuild that
// crashed never does.
const beatEvery = time.Second

// beat refreshes the state's Updated once per beatEvery. A failed write
// only delays such a Follower.
func (t *tracker) beat(ctx context.Context) {
	if time.Since(t.st.Updated) < beatEvery {
		return
	}
	t.st.Updated = time.Now()
	_ = t.r.control.Save(ctx, *t.st)
}

// awaitTakeover waits until a projector (a member other than a rebuild)
// has joined the new generation's group.
func (r *Rebuilder) awaitTakeover(ctx context.Context, adm *kadm.Client, group string, tr *tracker) {
	_, _ = tr.update(ctx, "waiting for the projectors to take over", true)
	tctx, cancel := context.WithTimeout(ctx, r.cfg.TakeoverTimeout)
	defer cancel()
	err := poll(tctx, 50*time.Millisecond, func() (bool, error) {
		tr.beat(tctx) // swapped: other processes see it runs (retiringElsewhere)
		ms, err := members(tctx, adm, group)
		for _, m := range ms {
			if m.ClientID != ClientID {
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		r.log().Warn("no projector took over the new generation; the next projector start continues from its committed offsets",
			"group", group, "waited", r.cfg.TakeoverTimeout, "err", err)
		return
	}
	r.log().Info("a projector took over the new generation", "group", group)
}

// retiringElsewhere reports whether st, a rebuild that has swapped, is
// being retired by a process now: it beats the state's Updated while it
// retires (retire), so a fresh Updated means one runs.
func retiringElsewhere(st State) bool {
	d := time.Since(st.Updated) // negative when the writer's clock is ahead
	return d > -3*beatEvery && d < 3*beatEvery
}

// retiringError refuses to start or abort a rebuild of name that another
// process is retiring.
func retiringError(name string, st State) error {
	return fmt.Errorf("rebuild %s: %w elsewhere (`streamview rebuild`, or another server): g%d is live and it is retiring g%d, which it finishes by itself "+
		"(if that process was killed, its lease runs out within %v: start the rebuild again then to finish it)",
		name, ErrRunning, st.Generation, st.From, leaseTTL)
}

// retire deletes the old generation's group and, after the grace period,
// its documents, then clears the state. It beats the state's Updated
// while it works, which tells other processes that it runs.
func (r *Rebuilder) retire(ctx context.Context, adm *kadm.Client, st *State, res *Result) (err error) {
	name := r.target.Name()
	oldGroup := processors.GroupName(name, st.From)
	stopBeats := r.beatWhileRetiring(ctx, *st)
	defer func() {
		stopBeats()
		if err != nil && ctx.Err() != nil {
			// Stopped: no process retires it now, and another may
			// finish it at once rather than after the beats go stale.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			st.Updated = time.Time{}
			_ = r.control.Save(sctx, *st)
		}
	}()
	// A projector that started on the old generation just before the swap
	// moves on within its Follower's poll interval.
	wctx, cancel := context.WithTimeout(ctx, r.cfg.HandoverTimeout)
	err = poll(wctx, 100*time.Millisecond, func() (bool, error) {
		return processors.CheckIdle(wctx, adm, oldGroup) == nil, nil
	})
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		err := processors.CheckIdle(ctx, adm, oldGroup)
		return fmt.Errorf("rebuild %s: g%d is live but g%d still runs: %w; run the rebuild again to finish retiring it", name, st.Generation, st.From, err)
	}
	if _, err := deleteGroup(ctx, adm, oldGroup); err != nil {
		return err
	}
	if st.KeepOld {
		r.log().Info("kept the old generation's documents", logkey.Generation, st.From)
	} else {
		if r.cfg.Grace > 0 {
			if r.cfg.Progress != nil {
				r.cfg.Progress(Progress{Projection: name, Generation: st.Generation, Phase: Swapped, Left: r.cfg.Grace,
					Step: fmt.Sprintf("removing g%d in %v", st.From, r.cfg.Grace)})
			}
			t := time.NewTimer(r.cfg.Grace)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("rebuild %s: stopped before removing g%d (run the rebuild again to remove it): %w", name, st.From, ctx.Err())
			case <-t.C:
			}
		}
		if _, err := drop(ctx, r.target, st.From); err != nil {
			return err
		}
		res.OldRemoved = true
		r.log().Info("removed the old generation", logkey.Generation, st.From)
	}
	stopBeats() // none may write the state after it is cleared
	return r.control.Clear(ctx)
}

// beatWhileRetiring refreshes the state's Updated every half beatEvery
// until the returned func is called (which waits for the last write) or
// ctx ends: other processes take a rebuild whose Updated is fresh for
// running (retiringElsewhere). It beats from its own goroutine, so that
// a long step (the old generation's removal, a scan of keys) beats too.
func (r *Rebuilder) beatWhileRetiring(ctx context.Context, st State) (stop func()) {
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(beatEvery / 2)
		defer t.Stop()
		for {
			st.Updated = time.Now()
			_ = r.control.Save(bctx, st)
			select {
			case <-bctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// AbortResult says what Abort removed.
type AbortResult struct {
	Projection string
	Generation int  // the abandoned generation
	Recorded   bool // a rebuild state was there
	Group      bool // its consumer group existed and was deleted
	Documents  bool // it had documents, now removed
}

// Abort abandons the recorded rebuild, or the leftovers of one (generation
// live+1) when none is recorded: it deletes the new generation's group and
// documents and the state. The rebuild must not be running. A rebuild that
// has swapped cannot be aborted (ErrSwapped).
func (r *Rebuilder) Abort(ctx context.Context) (AbortResult, error) {
	name := r.target.Name()
	out := AbortResult{Projection: name}
	cl, adm, err := r.admin()
	if err != nil {
		return out, err
	}
	defer cl.Close()
	live, st, ok, err := r.abortable(ctx)
	if errors.Is(err, ErrSwapped) {
		if retiringElsewhere(st) {
			return out, fmt.Errorf("%w; it is retiring g%d and will finish by itself", err, st.From)
		}
		return out, fmt.Errorf("%w; run the rebuild again to finish retiring g%d", err, st.From)
	}
	if err != nil {
		return out, err
	}
	out.Recorded = ok
	gen := live + 1
	if ok {
		gen = st.Generation
	}
	if live == 0 && !ok {
		return out, nil
	}
	out.Generation = gen
	group := processors.GroupName(name, gen)
	// Another process runs it when it holds the lease, or its group has
	// members (a build that takes no lease: a store without one).
	elsewhere := func(ctx context.Context) (bool, error) {
		holder, err := r.control.LeaseHolder(ctx)
		if err != nil || (holder != "" && holder != r.owner) {
			return true, err
		}
		err = processors.CheckIdle(ctx, adm, group)
		if errors.Is(err, processors.ErrGroupActive) {
			return true, nil
		}
		return false, err
	}
	running, err := elsewhere(ctx)
	if err != nil {
		return out, err
	}
	if running && !ok {
		// It is starting: its state is not recorded yet, and an abort
		// asked now would be cleared by its start.
		return out, fmt.Errorf("rebuild %s: %w elsewhere and only starting now; abort it again in a moment", name, ErrRunning)
	}
	if running {
		// It runs in another process (a server's, the CLI's): ask it to
		// stop, and wait for its group to empty.
		if err := r.control.RequestAbort(ctx, time.Now()); err != nil {
			return out, err
		}
		r.log().Info("asked the rebuild running in another process to stop", logkey.Generation, gen)
		wctx, cancel := context.WithTimeout(ctx, r.cfg.AbortTimeout)
		err = poll(wctx, 100*time.Millisecond, func() (bool, error) {
			running, err := elsewhere(wctx)
			return err == nil && !running, nil
		})
		cancel()
		// It may have swapped before it saw the request.
		_, st, ok, aerr := r.abortable(ctx)
		switch {
		case errors.Is(aerr, ErrSwapped):
			return out, fmt.Errorf("%w; it goes on retiring g%d", aerr, st.From)
		case aerr != nil:
			return out, aerr
		case err != nil:
			if running, rerr := elsewhere(ctx); rerr != nil {
				err = rerr
			} else if !running {
				err = errors.New("it stopped just now")
			}
			return out, fmt.Errorf("rebuild %s: %w elsewhere: asked it to stop; it has not within %v (try again): %w", name, ErrRunning, r.cfg.AbortTimeout, err)
		}
		out.Recorded = ok
	}
	if err != nil {
		return out, fmt.Errorf("rebuild %s: the rebuild is still running (stop it first): %w", name, err)
	}
	// The state goes first: a projector frozen for a handover resumes.
	if ok {
		if err := r.control.Clear(ctx); err != nil {
			return out, err
		}
	}
	out.Group, out.Documents, err = r.remove(ctx, adm, gen)
	return out, err
}

// abortable reads the live generation and the recorded rebuild, if any
// (ok), and fails with ErrSwapped when that rebuild has swapped already.
func (r *Rebuilder) abortable(ctx context.Context) (live int, st State, ok bool, err error) {
	if live, err = r.target.Live(ctx); err != nil {
		return 0, st, false, err
	}
	if st, ok, err = r.control.Load(ctx); err != nil {
		return 0, st, false, err
	}
	if ok && (st.Generation == live || st.Phase == Swapped) {
		return live, st, ok, fmt.Errorf("rebuild %s: %w: g%d is live", r.target.Name(), ErrSwapped, st.Generation)
	}
	return live, st, ok, nil
}

// remove deletes generation gen's group and documents.
func (r *Rebuilder) remove(ctx context.Context, adm *kadm.Client, gen int) (group, docs bool, err error) {
	name := processors.GroupName(r.target.Name(), gen)
	if err := processors.CheckIdle(ctx, adm, name); err != nil {
		return false, false, fmt.Errorf("rebuild %s: %w", r.target.Name(), err)
	}
	if group, err = deleteGroup(ctx, adm, name); err != nil {
		return group, false, err
	}
	docs, err = drop(ctx, r.target, gen)
	return group, docs, err
}

// storeEpoch is Config.StoreEpoch's value now, "" without one.
func (r *Rebuilder) storeEpoch(ctx context.Context) (string, error) {
	if r.cfg.StoreEpoch == nil {
		return "", nil
	}
	e, err := r.cfg.StoreEpoch(ctx)
	if err != nil {
		return "", fmt.Errorf("rebuild %s: reading the store's epoch: %w", r.target.Name(), err)
	}
	return e, nil
}

// storeLost returns ErrStoreLost when the store holds another epoch than
// at the start. A store that does not answer is not a loss: its writes
// fail, and the processor retries them.
func (t *tracker) storeLost(ctx context.Context) error {
	if t.r.cfg.StoreEpoch == nil {
		return nil
	}
	e, err := t.r.cfg.StoreEpoch(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.r.log().Warn("cannot read the store's epoch; going on", "err", err)
		}
		return nil
	}
	if e == t.epoch {
		return nil
	}
	return fmt.Errorf("rebuild %s: %w: g%d and the rebuild's state went with it, and nothing was swapped; "+
		"the projectors read the live generation g%d again (serve does it by itself); run the rebuild again once g%d is live (`streamview projections`)",
		t.r.target.Name(), ErrStoreLost, t.st.Generation, t.st.From, t.st.From)
}

// forgetLost removes, after ErrStoreLost, what the rebuild of gen wrote
// since the loss, its group and its state, so that the next rebuild
// starts clean instead of resuming a generation that lacks what the loss
// took. Its processor has stopped; its group empties once Kafka has seen
// it leave.
func (r *Rebuilder) forgetLost(ctx context.Context, adm *kadm.Client, gen int) error {
	if err := r.control.Clear(ctx); err != nil {
		return err
	}
	group := processors.GroupName(r.target.Name(), gen)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := poll(wctx, 100*time.Millisecond, func() (bool, error) {
		err := processors.CheckIdle(wctx, adm, group)
		if errors.Is(err, processors.ErrGroupActive) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("rebuild %s: removing g%d after the loss: %w (run the rebuild with --abort)", r.target.Name(), gen, err)
	}
	if _, _, err := r.remove(ctx, adm, gen); err != nil {
		return fmt.Errorf("rebuild %s: removing g%d after the loss: %w (run the rebuild with --abort)", r.target.Name(), gen, err)
	}
	r.log().Warn("the store lost its data during the rebuild: removed what it built since, its group and its state", logkey.Generation, gen)
	return nil
}
