package rebuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamview/streamview/processors"
)

// ErrRunning is Jobs.Start's error when a rebuild of the projection runs
// in this process already, or elsewhere (Rebuilder.CanStart).
var ErrRunning = errors.New("a rebuild of this projection is running")

// Jobs runs rebuilds in the background, at most one per projection, for a
// long-lived process that starts and aborts them on request (the HTTP
// API). A rebuild runs until it has swapped and retired the old generation,
// fails, is aborted, or the context given to NewJobs ends; its progress is
// in its Control, where Report reads it. Safe for concurrent use.
type Jobs struct {
	ctx  context.Context
	make func(name string) (*Rebuilder, error)
	log  *slog.Logger

	mu      sync.Mutex
	running map[string]*job
	last    map[string]Outcome
}

// Outcome is how the last rebuild a Jobs ran of a projection ended.
type Outcome struct {
	Result Result
	Err    error
	At     time.Time // when it ended
	r      *Rebuilder
	// aborted: Abort stopped it; Err is then only the cancellation that
	// stopped it, wherever it struck.
	aborted bool
}

// Ended is how a rebuild ended, as a report shows it: GET /v1/projections
// shows the progress of a rebuild started over HTTP, and one that failed
// leaves no generation to show (its error was only in the log).
type Ended struct {
	Projection string `json:"projection"`
	// Generation is the generation it built, 0 when it ended before
	// building one.
	Generation int `json:"generation,omitempty"`
	// Outcome is "swapped" (the new generation is live; Error says why
	// the old one's retiring did not finish, if it did not), "retired" (it
	// finished retiring an earlier swap), "aborted" or "failed".
	Outcome string    `json:"outcome"`
	Error   string    `json:"error,omitempty"`
	At      time.Time `json:"at"`
}

// Ended returns how the last rebuild of each projection that this Jobs
// ran ended, for those none runs of now, by projection name.
func (j *Jobs) Ended() []Ended {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []Ended{}
	for name, o := range j.last {
		if _, running := j.running[name]; running {
			continue
		}
		e := Ended{Projection: name, Generation: o.Result.To, At: o.At}
		switch {
		case o.Result.Swapped: // live, though its retiring may have failed
			e.Outcome = "swapped"
		case o.aborted || errors.Is(o.Err, ErrAborted) || errors.Is(o.Err, context.Canceled):
			e.Outcome = "aborted"
		case o.Err != nil:
			e.Outcome = "failed"
		default:
			e.Outcome = "retired"
		}
		if o.Err != nil && !(o.aborted && e.Outcome == "aborted") {
			e.Error = o.Err.Error()
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Ended) int { return strings.Compare(a.Projection, b.Projection) })
	return out
}

type job struct {
	cancel  context.CancelFunc
	done    chan struct{}
	r       *Rebuilder // nil while Start checks
	aborted bool       // Abort stopped it; guarded by Jobs.mu
}

// NewJobs returns Jobs whose rebuilds live until ctx ends; newRebuilder
// returns the Rebuilder of projection name (an error for a name it does
// not know). logger may be nil.
func NewJobs(ctx context.Context, newRebuilder func(name string) (*Rebuilder, error), logger *slog.Logger) *Jobs {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Jobs{ctx: ctx, make: newRebuilder, log: logger, running: map[string]*job{}, last: map[string]Outcome{}}
}

// Start starts a rebuild of projection name in the background. It
// continues a rebuild that was stopped, as Rebuilder.Run does, and says
// what it will do (Rebuilder.CanStart).
func (j *Jobs) Start(name string) (Start, error) {
	j.mu.Lock()
	if _, ok := j.running[name]; ok {
		j.mu.Unlock()
		return Start{}, fmt.Errorf("rebuild %s: %w", name, ErrRunning)
	}
	// Held for name while it is checked, without the lock (the check
	// reads the stores and Kafka): an abort meanwhile cancels it.
	ctx, cancel := context.WithCancel(j.ctx)
	jb := &job{cancel: cancel, done: make(chan struct{})}
	j.running[name] = jb
	j.mu.Unlock()
	var start Start
	r, err := j.make(name)
	if err == nil {
		cctx, stop := context.WithTimeout(ctx, 10*time.Second)
		if start, err = r.CanStart(cctx); err == nil {
			// Taken before the answer: of two servers asked at once, the
			// second is refused here rather than both starting (Run
			// renews it, or it expires).
			if err = r.Claim(cctx); err != nil && !errors.Is(err, ErrRunning) {
				r.release(cctx) // its answer may have been lost after it was taken
			}
		}
		stop()
	}
	if err != nil {
		j.mu.Lock()
		delete(j.running, name)
		j.mu.Unlock()
		cancel()
		close(jb.done)
		return Start{}, err
	}
	j.mu.Lock()
	jb.r = r
	j.mu.Unlock()
	go func() {
		defer close(jb.done)
		defer cancel()
		j.log.Info("rebuild started", "projection", name)
		res, err := r.Run(ctx)
		switch {
		case errors.Is(err, ErrAborted):
			j.log.Info("rebuild aborted by another process", "projection", name, "err", err)
		case err != nil:
			j.log.Error("rebuild ended", "projection", name, "err", err)
		default:
			j.log.Info("rebuild finished", "projection", name, "generation", res.To, "records", res.Records)
		}
		j.mu.Lock()
		delete(j.running, name)
		j.last[name] = Outcome{Result: res, Err: err, At: time.Now().UTC(), r: r, aborted: jb.aborted}
		j.mu.Unlock()
	}()
	return start, nil
}

// Building returns the processors of the generations being built in this
// process now, for reports and metrics.
func (j *Jobs) Building() []*processors.Runner {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*processors.Runner
	for _, jb := range j.running {
		if jb.r == nil {
			continue
		}
		if p := jb.r.Building(); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Built returns the processor that built generation gen of projection
// name in this process, in the rebuild running now or the last one that
// ended; nil when none did. The live projector that follows the swap to
// gen continues its counters (processors.Runner.Continue).
func (j *Jobs) Built(name string, gen int) *processors.Runner {
	j.mu.Lock()
	defer j.mu.Unlock()
	// The last one only if it swapped to gen: an aborted or failed build
	// of the same generation number is not what went live.
	last := j.last[name]
	for _, r := range []*Rebuilder{j.running[name].rebuilder(), last.r} {
		if r == nil || (r == last.r && (!last.Result.Swapped || last.Result.To != gen)) {
			continue
		}
		if p := r.Built(); p != nil && p.Config().Generation == gen {
			return p
		}
	}
	return nil
}

// rebuilder is jb's Rebuilder, nil for no job or one still being checked.
func (jb *job) rebuilder() *Rebuilder {
	if jb == nil {
		return nil
	}
	return jb.r
}

// Running reports whether a rebuild of name runs in this process.
func (j *Jobs) Running(name string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.running[name]
	return ok
}

// Last returns how the last rebuild of name that this Jobs ran ended.
func (j *Jobs) Last(name string) (Outcome, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	o, ok := j.last[name]
	return o, ok
}

// Abort stops the rebuild of name running here, if any, waits for it to
// stop, and then abandons it with Rebuilder.Abort (which also removes
// what a rebuild stopped earlier, or run by another process that has
// stopped, left behind).
//
// A rebuild running here that has swapped already is not stopped: it
// finishes retiring the old generation, and Abort fails with ErrSwapped.
// Stopping it would leave the old generation retiring until someone
// started the rebuild again.
func (j *Jobs) Abort(ctx context.Context, name string) (AbortResult, error) {
	r, err := j.make(name)
	if err != nil {
		return AbortResult{Projection: name}, err
	}
	j.mu.Lock()
	jb := j.running[name]
	j.mu.Unlock()
	if jb != nil {
		if _, st, _, err := r.abortable(ctx); err != nil {
			if errors.Is(err, ErrSwapped) {
				err = fmt.Errorf("%w; it is retiring g%d and will finish by itself", err, st.From)
			}
			return AbortResult{Projection: name}, err
		}
		j.mu.Lock()
		jb.aborted = true
		j.mu.Unlock()
		jb.cancel()
		select {
		case <-jb.done:
		case <-ctx.Done():
			return AbortResult{Projection: name}, ctx.Err()
		}
	}
	res, err := r.Abort(ctx)
	if errors.Is(err, ErrSwapped) && jb != nil {
		// It swapped between the check and the stop: it goes on retiring.
		if _, serr := j.Start(name); serr == nil || errors.Is(serr, ErrRunning) {
			err = fmt.Errorf("rebuild %s: %w; it goes on retiring the old generation and will finish by itself", name, ErrSwapped)
		} else {
			// Not ErrSwapped: this abort stopped the retiring and could not
			// start it again, which the caller must hear as a failure.
			err = fmt.Errorf("rebuild %s: it had swapped, and the retiring it stopped could not start again (start the rebuild again to finish it): %v; %v", name, err, serr)
		}
	}
	return res, err
}
