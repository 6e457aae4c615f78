package rebuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

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
	// Logger receives the switches; nil discards.
	Logger *slog.Logger
}

// Follower runs the live generation of one projection and follows
// rebuilds: asked to hand over, it stops the live generation's processor
// until the rebuild has swapped, then runs the new live generation, which
// continues from its group's committed offsets. It is what the projector
// role of `streamview serve` runs for each projection.
type Follower struct {
	cfg FollowerConfig
	cur atomic.Pointer[processors.Runner]
}

// NewFollower returns a Follower that starts with first, the processor of
// the live generation.
func NewFollower(cfg FollowerConfig, first *processors.Runner) (*Follower, error) {
	var errs []error
	if cfg.Control == nil || cfg.Live == nil || cfg.Runner == nil {
		errs = append(errs, errors.New("rebuild: follower: Control, Live and Runner are required"))
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
	var answered time.Time // the handover request already answered
	for {
		f.cur.Store(p)
		gen := p.Config().Generation
		log := f.cfg.Logger.With(logkey.Projection, p.Config().Name, logkey.Generation, gen)
		pctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(pctx) }()

		next, req, err := f.watch(ctx, gen, done, answered)
		stop()
		if err != nil || ctx.Err() != nil {
			<-done
			return err
		}
		if perr := <-done; perr != nil {
			return perr
		}
		if !req.Requested.IsZero() {
			answered = req.Requested
			log.Info("handing the live stream over to a rebuilt generation: stopped", "to", req.Generation)
			next, err = f.frozen(ctx, gen, req)
			if err != nil {
				return err
			}
			if next == gen {
				log.Warn("the rebuild did not swap in time; resuming the live generation", "waited", f.cfg.FreezeTimeout)
			}
		}
		if next != gen {
			log.Info("the live generation moved: switching", "to", next)
			if p, err = f.cfg.Runner(next); err != nil {
				return fmt.Errorf("rebuild: follower: processor of generation %d: %w", next, err)
			}
		}
	}
}

// watch returns when the processor of gen must stop: with the generation
// to run next when the live one moved, or with the handover request to
// answer. It returns an error when the processor stopped on its own.
func (f *Follower) watch(ctx context.Context, gen int, done chan error, answered time.Time) (int, State, error) {
	t := time.NewTicker(f.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return gen, State{}, nil
		case err := <-done:
			done <- err // for the caller
			if ctx.Err() != nil {
				return gen, State{}, nil
			}
			if err == nil {
				err = errors.New("stopped")
			}
			return gen, State{}, fmt.Errorf("rebuild: follower: processor of generation %d: %w", gen, err)
		case <-t.C:
		}
		live, err := f.cfg.Live(ctx)
		if err != nil {
			f.cfg.Logger.Warn("follower: reading the live generation failed", "err", err)
			continue
		}
		if live > 0 && live != gen {
			return live, State{}, nil
		}
		st, ok, err := f.cfg.Control.Load(ctx)
		if err != nil {
			f.cfg.Logger.Warn("follower: reading the rebuild state failed", "err", err)
			continue
		}
		if ok && st.Phase == Handover && st.From == gen && st.Generation > gen && !st.Requested.Equal(answered) {
			return gen, st, nil
		}
	}
}

// frozen waits, with no processor running, until the rebuild of req has
// swapped (it returns the new generation), withdrawn its request or run out
// of FreezeTimeout (it returns gen).
func (f *Follower) frozen(ctx context.Context, gen int, req State) (int, error) {
	deadline := time.Now().Add(f.cfg.FreezeTimeout)
	t := time.NewTicker(min(f.cfg.Poll, 100*time.Millisecond))
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return gen, nil
		case <-t.C:
		}
		live, err := f.cfg.Live(ctx)
		if err == nil && live > 0 && live != gen {
			return live, nil
		}
		st, ok, err := f.cfg.Control.Load(ctx)
		if err == nil && (!ok || st.Phase == Building || !st.Requested.Equal(req.Requested)) {
			// Withdrawn (the rebuild gave up, or was aborted); one last look
			// at the pointer, in case it swapped and then cleared its state.
			if live, err := f.cfg.Live(ctx); err == nil && live > 0 && live != gen {
				return live, nil
			}
			return gen, nil
		}
	}
	return gen, nil
}
