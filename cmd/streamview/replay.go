package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/processors/webhook"
)

func init() {
	commands["replay"] = command{
		summary: "replay a projection's live generation from the start of the log, in place (with downtime)",
		usage:   "--projection NAME [--dry-run] [connection flags]",
		help: `Resets the consumer group of the projection's live generation to the start
offset of every partition of the events topic (where the log starts now, not a
literal 0: retention may have removed the head) and empties the generation's
store (its Redis keys, or its Elasticsearch index, deleted and created again).
The next projector start reads the whole log again and rebuilds it.

The group must have no live members: stop the projector role of
` + "`streamview serve`" + ` first (the command names the members that are still
running). Queries answer 404 or nothing until the projector has caught up
again; ` + "`streamview rebuild`" + ` rebuilds beside the live generation instead,
with no downtime. --dry-run says what it would do and changes nothing.
` + "`streamview dev`" + ` needs none: it rebuilds its embedded views at every start.

A Redis that holds no live product-view generation (it lost its data while
serve was down) is read again into the generation serve's next start runs:
the newest whose group had read the log (a rebuild may have moved it past
1), or generation 1 when none has. The replay resets that generation's group
and records the refill, as serve's start would, and deletes the groups of
older generations, which nothing runs again.

--projection notifier resets the notifier's group (streamview.notifier, or
--group) the same way and empties nothing: its store remembers every
Webhook-Id it delivered or dead-lettered, so the replay reads the whole log
again and sends nothing that was sent before.

--projection product-history resets the history index's group the same way
and empties nothing: indexing an event again is a no-op, so the replay
fills in what the index lacks (after Redis lost its data, say).

Examples:
  streamview replay --projection notifier
  streamview replay --projection product-history
  streamview replay --projection product-view --dry-run
  streamview replay --projection product-search`,
		run: runReplay,
	}
}

func runReplay(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "replay")
	var f projectionFlags
	f.register(fs, e)
	projection := fs.String("projection", "", "the projection to replay: product-view, product-search, product-history or notifier")
	dryRun := fs.Bool("dry-run", false, "say what would be done and change nothing")
	group := fs.String("group", webhook.Group, "notifier: its consumer group")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *projection == webhook.Name {
		if _, err := newLogger(e.stderr, f.logLevel, *f.logFormat); err != nil {
			return err
		}
		return replayGroup(ctx, e, &f.kafka, webhook.Name, *group, f.topic, *dryRun,
			"nothing is emptied: Webhook-Ids delivered or dead-lettered before are never sent again")
	}
	if *projection == historyProjection {
		if _, err := newLogger(e.stderr, f.logLevel, *f.logFormat); err != nil {
			return err
		}
		return replayGroup(ctx, e, &f.kafka, historyProjection, processors.GroupName(historyProjection, 1), f.topic, *dryRun,
			"nothing is emptied: an event indexed again is a no-op, and what the index lacks is filled in")
	}
	p, logger, err := f.openOne(ctx, e, fs, *projection)
	if err != nil {
		return err
	}
	defer p.Close()
	target := p.targets[0]
	var (
		gens    rebuild.Generations = target
		start   viewStart
		dropped []string
	)
	if p.views != nil {
		if start, err = replayViewStart(ctx, p, *dryRun); err != nil {
			return err
		}
		gens = startsAt{target, start.gen}
	}
	res, err := rebuild.Replay(ctx, f.config(logger), gens, p.control(target), *dryRun)
	if err != nil {
		return err
	}
	if res.NoLive && (start.lost || start.refilling) {
		if dropped, err = dropOlderGenerations(ctx, kadm.NewClient(p.kafka), target.Name(), res.Generation, *dryRun); err != nil {
			logger.Warn("groups of older generations are left", logkey.Projection, target.Name(), "err", err)
		}
	}
	printReplay(e.stdout, res, start, dropped)
	return nil
}

// replayViewStart is, while Redis holds no live view generation, the one
// serve's next start runs (nextViewStart); gen 0 while one is live. For a
// generation read again after Redis lost its data it records the refill
// (refillAt) first, as serve's start would: a group reset to the start
// has read nothing, and serve would choose another generation without it.
// The replay's output says what serve's log would.
func replayViewStart(ctx context.Context, p *projectionEnv, dryRun bool) (viewStart, error) {
	name := p.views.Projection()
	if live, err := p.views.Generations().Live(ctx); err != nil || live > 0 {
		return viewStart{}, err
	}
	adm := kadm.NewClient(p.kafka)
	start, err := nextViewStart(ctx, p.redis, adm, name)
	if err != nil || !start.lost || dryRun {
		return start, err
	}
	if err := refillAt(ctx, stack{redis: p.redis, logger: slog.New(slog.DiscardHandler)}, adm, p.views, name, start.gen); err != nil {
		return start, fmt.Errorf("replay %s: %w", name, err)
	}
	return start, nil
}

// startsAt is a store whose projector's next start runs generation gen
// while it holds no live generation (rebuild.NextStarter); 0 leaves it
// to the replay (generation 1).
type startsAt struct {
	rebuild.Generations
	gen int
}

func (s startsAt) NextStart(context.Context) (int, error) { return max(s.gen, 1), nil }

// replayGroup resets the group of projection name (one that empties
// nothing: the notifier, the history index) to the start of the log, and
// says note.
func replayGroup(ctx context.Context, e env, kf *kafkaFlags, name, group, topic string, dryRun bool, note string) error {
	adm, done, err := kf.admin(ctx)
	if err != nil {
		return err
	}
	defer done()
	offsets, err := processors.ResetToStart(ctx, adm, group, topic, dryRun)
	if err != nil {
		return fmt.Errorf("replay %s: %w", name, err)
	}
	var offs []string
	offsets.Each(func(o kadm.Offset) { offs = append(offs, fmt.Sprintf("%d@%d", o.Partition, o.At)) })
	slices.Sort(offs)
	verb := "reset"
	if dryRun {
		verb = "would reset (dry run: nothing changed)"
	}
	fmt.Fprintf(e.stdout, "replay %s (group %s): %s offsets to the start of %s: %s\n", name, group, verb, topic, strings.Join(offs, " "))
	fmt.Fprintf(e.stdout, "  %s\n", note)
	return nil
}

// printReplay says what the replay did; start is what serve's next start
// runs of a view store with no live generation, dropped the groups of
// older generations deleted.
func printReplay(w io.Writer, r rebuild.ReplayResult, start viewStart, dropped []string) {
	would := func(done, dry string) string {
		if r.DryRun {
			return dry
		}
		return done
	}
	var offs []string
	for _, p := range slices.Sorted(maps.Keys(r.Offsets)) {
		offs = append(offs, fmt.Sprintf("%d@%d", p, r.Offsets[p]))
	}
	fmt.Fprintf(w, "replay %s: generation %d (group %s)%s\n", r.Projection, r.Generation, r.Group, would("", " (dry run: nothing changed)"))
	fmt.Fprintf(w, "  %s offsets to the start of %s: %s\n", would("reset", "would reset"), r.Topic, strings.Join(offs, " "))
	switch {
	case r.NoLive && start.refilling:
		fmt.Fprintf(w, "  the store lost its data and generation %d was being read again from the log: the projector's next start reads it again from the start and makes it live once it has caught up\n", r.Generation)
	case r.NoLive && start.lost:
		fmt.Fprintf(w, "  the store holds no live generation, but generation %d had read the log: the store lost its data (check --redis names the deployment's Redis); the projector's next start reads the log again into generation %d and makes it live once it has caught up\n", r.Generation, r.Generation)
	case r.NoLive:
		fmt.Fprintf(w, "  the store holds no live generation (never projected, or it lost its data): the projector's next start makes generation %d live (check --redis / --elasticsearch name the deployment's stores)\n", r.Generation)
	default:
		fmt.Fprintf(w, "  %s %s documents\n", would("removed", "would remove"), thousands.Format(r.Documents))
	}
	if len(dropped) > 0 {
		fmt.Fprintf(w, "  %s the groups of older generations, which nothing runs again: %s\n", would("deleted", "would delete"), strings.Join(dropped, ", "))
	}
	fmt.Fprintf(w, "  the next projector start reads %s records to rebuild it (`streamview serve --roles projector`)\n", thousands.Format(r.Records))
}
