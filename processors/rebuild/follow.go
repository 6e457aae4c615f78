package rebuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors"
)

// FollowerConfig declares a Follower.
type FollowerConfig struct {
	// Control is the projection's rebuild state. Required.
	Control *Control
	// Live returns the live generation, 0 when none. Required.
	Live func(ctx context.Context) (int, error)
	// Runner returns a processor of generation gen. Required.
	Runner func(gen int) (*processors.Runner, error)
	// Poll is how often the live generation and the rebuild state are read.
	// Default 1 second.
	Poll time.Duration
	// FreezeTimeout bounds how long a handover keeps the live generation's
	// processor stopped: without a swap by then, it resumes. Default 2
	// minutes (longer than a rebuild's HandoverTimeout).
	FreezeTimeout time.Duration
	// Lost reports whether the store lost what the processor wrote: a
	// Redis emptied under it, or restarted without persistence. The
	// follower then stops the processor, calls Refill until it succeeds and
	// runs the generation again from where Refill left its group. Optional;
	// read at every Poll, like Live.
	Lost func(ctx context.Context) (bool, error)
	// Refill makes generation gen read the log again after Lost: it resets
	// the generation's group to the start of the log (refused while any
	// member runs, another instance's follower until it stops too: the
	// follower tries again; such an error wraps ErrRefillWaits), empties
	// what gen wrote since the loss and makes gen live again. Required with
	// Lost.
	Refill func(ctx context.Context, gen int) error
	// Switched, when set, is called after the follower moved from
	// generation from to generation to (a rebuild swapped): from is retired.
	Switched func(from, to int)
	// Logger receives the switches; nil discards.
	Logger *slog.Logger
}

// ErrRefillWaits marks a Refill that cannot go on yet, as expected while
// other instances' followers notice the loss too: the follower logs it
// quietly and tries again.
var ErrRefillWaits = errors.New("waiting for other instances")

// Follower runs the live generation of one projection and follows
// rebuilds: asked to hand over, it stops the live generation's processor
// until the rebuild has swapped, then runs the new live generation, which
// continues from its group's committed offsets. It is what the projector
// role of `streamview serve` runs for each projection.
type Follower struct {
	cfg FollowerConfig
	cur atomic.Pointer[processors.Runner]
	// warned is when watch last logged a failed read: a store that is
	// down fails every Poll.
	warned time.Time
}

// warnEvery spaces the follower's lines about failed reads.
const warnEvery = 10 * time.Second

// warn logs a failed read of the watch loop, once per warnEvery.
func (f *Follower) warn(msg string, err error) {
	if time.Since(f.warned) < warnEvery {
		return
	}
	f.warned = time.Now()
	f.cfg.Logger.Warn(msg+" (such failures are logged once per "+warnEvery.String()+")", "err", err)
}

// NewFollower returns a Follower that starts with first, the processor of
// the live generation.
func NewFollower(cfg FollowerConfig, first *processors.Runner) (*Follower, error) {
	var errs []error
	if cfg.Control == nil || cfg.Live == nil || cfg.Runner == nil {
		errs = append(errs, errors.New("rebuild: follower: Control, Live and Runner are required"))
	}
	if (cfg.Lost == nil) != (cfg.Refill == nil) {
		errs = append(errs, errors.New("rebuild: follower: Lost and Refill go together"))
	}
	if first == nil {
		errs = append(errs, errors.New("rebuild: follower: a first processor is required"))
	}
	if cfg.Poll < 0 || cfg.FreezeTimeout < 0 {
		errs = append(errs, errors.New("rebuild: follower: Poll and FreezeTimeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	if cfg.FreezeTimeout == 0 {
		cfg.FreezeTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Follower{cfg: cfg}
	f.cur.Store(first)
	return f, nil
}

// Runner is the processor running now, for stats and reports.
func (f *Follower) Runner() *processors.Runner { return f.cur.Load() }

// Run runs the live generation until ctx ends or a processor fails.
func (f *Follower) Run(ctx context.Context) error {
	p := f.cur.Load()
	var reqs requests
	for {
		f.cur.Store(p)
		gen := p.Config().Generation
		log := f.cfg.Logger.With(logkey.Projection, p.Config().Name, logkey.Generation, gen)
		pctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(pctx) }()

		next, req, lost, err := f.watch(ctx, gen, done, &reqs, log)
		stop()
		if err != nil || ctx.Err() != nil {
			<-done
			return err
		}
		if perr := <-done; perr != nil {
			return perr
		}
		if lost {
			log.Warn("the store lost what this generation wrote (emptied, or restarted without persistence): stopped; the generation reads the log again from its start")
			if err := f.refill(ctx, gen, log); err != nil {
				return nil // ctx ended
			}
			log.Info("refilling: the generation's group is back at the start of the log")
			continue
		}
		if !req.Requested.IsZero() {
			reqs.answered = req.Requested
			log.Info("handing the live stream over to a rebuilt generation: stopped", "to", req.Generation)
			var withdrawn bool
			next, withdrawn, err = f.frozen(ctx, gen, req)
			if err != nil {
				return err
			}
			switch {
			case next != gen:
			case withdrawn:
				log.Info("the rebuild withdrew its handover (it gave up, or was aborted); resuming the live generation")
			default:
				log.Warn("the rebuild did not swap in time; resuming the live generation", "waited", f.cfg.FreezeTimeout)
			}
		}
		if next != gen {
			log.Info("the live generation moved: switching", "to", next)
			if p, err = f.cfg.Runner(next); err != nil {
				return fmt.Errorf("rebuild: follower: processor of generation %d: %w", next, err)
			}
			if f.cfg.Switched != nil {
				f.cfg.Switched(gen, next)
			}
		}
	}
}

// requests tells which handover requests a Follower obeys: each once; one
// made while it watches at once; one already under way when it first read
// the state only once the rebuild shows that it runs, by moving the
// state's Updated (every beatEvery of a handover). A rebuild that crashed
// during its handover leaves its request behind until it is run again or
// aborted, and a follower that obeyed it stopped the live generation for
// FreezeTimeout at every start.
type requests struct {
	read     bool      // a read of the state has succeeded
	answered time.Time // the request answered last
	// found is the request under way at the first read, beat its Updated
	// then.
	found, beat time.Time
}

// obey reports whether the processor of gen stops for st, the state read
// now (ok: a rebuild is recorded).
func (r *requests) obey(st State, ok bool, gen int, log *slog.Logger) bool {
	first := !r.read
	r.read = true
	if !ok || st.Phase != Handover || st.From != gen || st.Generation <= gen || st.Requested.Equal(r.answered) {
		return false
	}
	if first {
		r.found, r.beat = st.Requested, st.Updated
		log.Info("a rebuild's handover was under way before this follower started: it stops once the rebuild shows that it runs "+
			"(one that crashed during its handover left its request behind: run the rebuild again, or abort it)",
			"to", st.Generation, "requested", st.Requested)
		return false
	}
	return !st.Requested.Equal(r.found) || !st.Updated.Equal(r.beat)
}

// watch returns when the processor of gen must stop: with the generation
// to run next when the live one moved, with the handover request to
// answer, or with lost when the store lost what it wrote. It returns an
// error when the processor stopped on its own.
func (f *Follower) watch(ctx context.Context, gen int, done chan error, reqs *requests, log *slog.Logger) (next int, req State, lost bool, err error) {
	t := time.NewTicker(f.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return gen, State{}, false, nil
		case err := <-done:
			done <- err // for the caller
			if ctx.Err() != nil {
				return gen, State{}, false, nil
			}
			if err == nil {
				err = errors.New("stopped")
			}
			return gen, State{}, false, fmt.Errorf("rebuild: follower: processor of generation %d: %w", gen, err)
		case <-t.C:
		}
		live, err := f.cfg.Live(ctx)
		if err != nil {
			f.warn("follower: reading the live generation failed", err)
			continue
		}
		if live > 0 && live != gen {
			return live, State{}, false, nil
		}
		if f.cfg.Lost != nil {
			lost, err := f.cfg.Lost(ctx)
			if err != nil {
				f.warn("follower: checking the store for a loss failed", err)
				continue
			}
			if lost {
				return gen, State{}, true, nil
			}
		}
		st, ok, err := f.cfg.Control.Load(ctx)
		if err != nil {
			f.warn("follower: reading the rebuild state failed", err)
			continue
		}
		if reqs.obey(st, ok, gen, log) {
			return gen, st, false, nil
		}
	}
}

// refill calls Refill until it succeeds, with backoff: other instances'
// processors of gen keep its group busy until their followers see the
// loss too. It fails only when ctx ends.
func (f *Follower) refill(ctx context.Context, gen int, log *slog.Logger) error {
	retry := backoff.Policy{Min: f.cfg.Poll / 2, Max: 10 * f.cfg.Poll}.Start()
	for {
		err := f.cfg.Refill(ctx, gen)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		level := slog.LevelWarn
		if errors.Is(err, ErrRefillWaits) {
			level = slog.LevelInfo // expected: other instances see the loss too
		}
		log.Log(ctx, level, "refilling the generation: not yet; trying again", "err", err, "attempt", retry.Attempt()+1)
		if !backoff.Sleep(ctx, retry.Next()) {
			return ctx.Err()
		}
	}
}

// frozen waits, with no processor running, until the rebuild of req has
// swapped (it returns the new generation), withdrawn its request (gen,
// withdrawn) or run out of FreezeTimeout (gen).
func (f *Follower) frozen(ctx context.Context, gen int, req State) (next int, withdrawn bool, err error) {
	deadline := time.Now().Add(f.cfg.FreezeTimeout)
	t := time.NewTicker(min(f.cfg.Poll, 100*time.Millisecond))
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return gen, false, nil
		case <-t.C:
		}
		live, err := f.cfg.Live(ctx)
		if err == nil && live > 0 && live != gen {
			return live, false, nil
		}
		st, ok, err := f.cfg.Control.Load(ctx)
		if err == nil && (!ok || st.Phase == Building || !st.Requested.Equal(req.Requested)) {
			// Withdrawn (the rebuild gave up, or was aborted); one last look
			// at the pointer, in case it swapped and then cleared its state.
			if live, err := f.cfg.Live(ctx); err == nil && live > 0 && live != gen {
				return live, false, nil
			}
			return gen, true, nil
		}
	}
	return gen, false, nil
}
