package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
)

func init() {
	commands["rebuild"] = command{
		summary: "build a projection's next generation beside the live one, swap to it with no downtime, retire the old",
		usage:   "--projection NAME [--keep-old] [--grace 30s] [--force] [--abort] [connection flags]",
		help: `Builds generation N+1 of a projection beside the live generation N, from the
start of the events topic, with a new consumer group
(streamview.<projection>.g<N+1>), new Redis keys (sv:product-view:g<N+1>:…)
or a new index (product-search-g<N+1>). The build runs in this process; the
projectors of ` + "`streamview serve`" + ` keep serving generation N meanwhile. Progress
(records done and in the log, rate, time left) is one updating line on a
terminal and a log line every --progress-interval otherwise.

Once caught up, the new generation is checked: its document count must equal
the number of products the log makes up to the same offsets (for
product-search, those not discontinued; --force swaps anyway). Then the
running projectors are asked to stop generation N, the new generation takes
in everything they had applied, and the Redis live pointer or the
Elasticsearch alias moves to it in one step: queries never see an older
version than before. The projectors then run generation N+1 from its
committed offsets, without a gap, and this process stops consuming. N's
group is deleted, and after --grace its documents are removed (--keep-old
keeps them).

Stopped (Ctrl-C, a crash), a rebuild leaves the live generation untouched:
run it again to continue where it stopped (the group holds its progress), or
with --abort to delete what it built. Its state is in Redis at
sv:<projection>:rebuild. A crash during the handover leaves its request
there: projectors that had stopped for it resume within 2 minutes, and a
serve started after the crash does not stop for it.

Examples:
  streamview rebuild --projection product-view
  streamview rebuild --projection product-search --keep-old
  streamview rebuild --projection product-view --abort`,
		run: runRebuild,
	}
}

func runRebuild(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "rebuild")
	var f projectionFlags
	f.register(fs, e)
	projection := fs.String("projection", "", "the projection to rebuild: product-view or product-search")
	keepOld := fs.Bool("keep-old", false, "keep the old generation's documents after the swap")
	grace := fs.Duration("grace", 30*time.Second, "wait this long after the swap before removing the old generation's documents")
	force := fs.Bool("force", false, "swap even when the new generation's document count differs from the log's")
	abort := fs.Bool("abort", false, "abandon the rebuild under way: delete its group, documents and state (one running in a server or another terminal is asked to stop first; this waits up to 30 s for it)")
	handover := fs.Duration("handover-timeout", time.Minute, "how long the running projectors have to hand over")
	caughtUp := fs.Int64("caught-up-lag", 1000, "records behind the end that count as caught up, before the exact checks")
	batch := fs.Int("batch", 0, "records per batch of the new generation (default: 5000 for product-search, the runtime's 2000 for product-view)")
	progress := fs.String("progress", "auto", "auto, terminal (one updating line), log (log lines) or off")
	every := fs.Duration("progress-interval", 5*time.Second, "time between progress log lines")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, logger, err := f.openOne(ctx, e, fs, *projection)
	if err != nil {
		return err
	}
	defer p.Close()
	target := p.targets[0]
	cfg := f.config(logger)
	cfg.KeepOld, cfg.Grace, cfg.Force, cfg.HandoverTimeout, cfg.CaughtUpLag, cfg.MaxBatch = *keepOld, *grace, *force, *handover, *caughtUp, *batch
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = batchOf(*projection)
	}
	cfg.Aggregates = aggregatesOf(*projection)
	cfg.StoreEpoch = storeEpoch(*projection, p.redis)
	pp, err := newProgressPrinter(e, *progress, *every, logger)
	if err != nil {
		return err
	}
	cfg.Progress, cfg.ProgressInterval = pp.show, pp.interval()
	r, err := rebuild.New(cfg, target, p.control(target))
	if err != nil {
		return err
	}
	if *abort {
		res, err := r.Abort(ctx)
		if err != nil {
			return err
		}
		printAbort(e.stdout, res)
		return nil
	}
	res, err := r.Run(ctx)
	pp.end()
	if err != nil {
		if ctx.Err() != nil && res.Retiring {
			return fmt.Errorf("rebuild of %s stopped while retiring generation %d; generation %d is live: run the same command to finish retiring (%w)",
				target.Name(), res.From, res.To, err)
		}
		if ctx.Err() != nil && !res.Swapped && res.To > 0 {
			return fmt.Errorf("rebuild of %s stopped; generation %d keeps what it built and the live generation %d is untouched: run the same command to continue, or add --abort to remove it (%w)",
				target.Name(), res.To, res.From, err)
		}
		return err
	}
	printRebuild(e.stdout, res, cfg)
	return nil
}

func printRebuild(w io.Writer, r rebuild.Result, cfg rebuild.Config) {
	name := r.Projection
	if !r.Swapped {
		fmt.Fprintf(w, "rebuild %s: finished retiring generation %d (generation %d was live already, from an earlier rebuild); run it again to build generation %d\n", name, r.From, r.To, r.To+1)
	} else {
		fmt.Fprintf(w, "rebuild %s: generation %d is live in place of generation %d\n", name, r.To, r.From)
		how := "built"
		if r.Resumed {
			how = "continued an interrupted build:"
		}
		fmt.Fprintf(w, "  %s %s records in %v (%s records/s)\n", how, thousands.Format(r.Records), r.Build.Round(time.Millisecond), thousands.Format(int64(r.Rate()+0.5)))
		if r.Documents == r.Expected {
			fmt.Fprintf(w, "  checked: %s documents, as many as the log makes (generation %d had %s)\n",
				thousands.Format(r.Documents), r.From, thousands.Format(r.LiveDocuments))
		} else {
			fmt.Fprintf(w, "  NOT checked (--force): %s documents where the log makes %s (generation %d had %s)\n",
				thousands.Format(r.Documents), thousands.Format(r.Expected), r.From, thousands.Format(r.LiveDocuments))
		}
	}
	group := processors.GroupName(name, r.From)
	switch {
	case r.OldRemoved:
		fmt.Fprintf(w, "  generation %d: group %s deleted, documents removed after a %v grace period\n", r.From, group, cfg.Grace)
	default:
		fmt.Fprintf(w, "  generation %d: group %s deleted, documents kept (--keep-old)\n", r.From, group)
	}
	fmt.Fprintf(w, "  in all %v\n", r.Elapsed.Round(time.Millisecond))
}

func printAbort(w io.Writer, r rebuild.AbortResult) {
	if !r.Recorded && !r.Group && !r.Documents {
		fmt.Fprintf(w, "rebuild %s --abort: no rebuild under way, nothing to remove\n", r.Projection)
		return
	}
	fmt.Fprintf(w, "rebuild %s --abort: abandoned generation %d\n", r.Projection, r.Generation)
	say := func(done bool, what string) {
		if done {
			fmt.Fprintf(w, "  %s: removed\n", what)
		} else {
			fmt.Fprintf(w, "  %s: none\n", what)
		}
	}
	say(r.Recorded, "rebuild state")
	say(r.Group, "consumer group "+processors.GroupName(r.Projection, r.Generation))
	say(r.Documents, "documents")
}

// progressPrinter shows a rebuild's progress: one line rewritten in place
// on a terminal, log lines otherwise.
type progressPrinter struct {
	w        io.Writer
	terminal bool
	off      bool
	every    time.Duration
	logger   *slog.Logger
	lastKey  string
	lastLog  time.Time
	open     bool
}

func newProgressPrinter(e env, mode string, every time.Duration, logger *slog.Logger) (*progressPrinter, error) {
	p := &progressPrinter{w: e.stdout, every: every, logger: logger}
	switch mode {
	case "auto":
		p.terminal = isTerminal(e.stdout)
	case "terminal":
		p.terminal = true
	case "log":
	case "off":
		p.off = true
	default:
		return nil, fmt.Errorf("--progress %q: want auto, terminal, log or off", mode)
	}
	return p, nil
}

// interval is how often the rebuild reports.
func (p *progressPrinter) interval() time.Duration {
	if p.terminal {
		return 500 * time.Millisecond
	}
	return min(p.every, time.Second)
}

func (p *progressPrinter) show(pr rebuild.Progress) {
	if p.off {
		return
	}
	key := string(pr.Phase) + "/" + pr.Step
	changed := key != p.lastKey
	p.lastKey = key
	if p.terminal {
		if changed && p.open {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "\r\033[K%s", pr)
		p.open = true
		return
	}
	now := time.Now()
	if !changed && now.Sub(p.lastLog) < p.every {
		return
	}
	p.lastLog = now
	left := "unknown"
	if pr.Left >= 0 {
		left = pr.Left.Round(time.Second).String()
	}
	p.logger.Info("rebuild progress", logkey.Projection, pr.Projection, logkey.Generation, pr.Generation, "phase", pr.Phase,
		"step", pr.Step, "done", pr.Done, "total", pr.Total, "lag", pr.Lag, "records_per_second", int64(pr.Rate+0.5), "left", left)
}

// end finishes an open terminal line.
func (p *progressPrinter) end() {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// followRebuilds runs p, the processor of projection name's live
// generation that newProjector made, under a rebuild.Follower: when a
// rebuild asks, it stops p for the handover and then runs the new live
// generation. The projector role of serve runs each projection this way.
// built, when set, returns the processor that built a generation in this
// process (the API's rebuilds): the live one continues its counters.
func followRebuilds(ctx context.Context, st stack, codec *schemas.Codec, views *redisview.Store, p *processors.Runner, built func(name string, gen int) *processors.Runner) (*rebuild.Follower, error) {
	name := p.Config().Name
	live, err := liveFunc(st, name)
	if err != nil {
		return nil, err
	}
	cfg := rebuild.FollowerConfig{
		Control: rebuildControl(st.redis, name),
		Live:    live,
		Runner: func(gen int) (*processors.Runner, error) {
			p, err := projectorAt(st, codec, views, name, gen)
			if err == nil && built != nil {
				p.Continue(built(name, gen))
			}
			return p, err
		},
		Logger: st.logger,
	}
	if st.tel != nil {
		tel := st.tel
		cfg.Switched = func(from, _ int) { tel.ForgetProjection(name, from) }
	}
	switch name {
	case productview.Name:
		r := newRedisRefill(ctx, st, name, views)
		cfg.Lost, cfg.Refill = r.lost, r.refill
	case historyProjection:
		r := newRedisRefill(ctx, st, name, nil)
		cfg.Lost, cfg.Refill = r.lost, r.refill
	}
	return rebuild.NewFollower(cfg, p)
}

// projectorAt returns the processor of generation gen of projection name.
func projectorAt(st stack, codec *schemas.Codec, views *redisview.Store, name string, gen int) (*processors.Runner, error) {
	var (
		proj processors.Projection
		err  error
	)
	switch name {
	case productview.Name:
		proj, err = viewWriter(views, gen, st.viewChanges)
	case searchProjection:
		if st.searchWrite == nil {
			return nil, fmt.Errorf("projection %s: no search index configured", name)
		}
		proj, err = st.searchWrite(gen)
	case historyProjection:
		proj, err = historyIndexer(st)
	default:
		err = fmt.Errorf("unknown projection %q (want %s, %s or %s)", name, productview.Name, searchProjection, historyProjection)
	}
	if err != nil {
		return nil, err
	}
	return projectorRunner(st, codec, name, gen, proj)
}

// followed returns the processors the followers run now, for reports and
// metrics.
func followed(fs []*rebuild.Follower) []*processors.Runner {
	out := make([]*processors.Runner, len(fs))
	for i, f := range fs {
		out[i] = f.Runner()
	}
	return out
}
