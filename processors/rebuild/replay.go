package rebuild

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors"
)

// ReplayResult says what Replay did, or with DryRun would do.
type ReplayResult struct {
	Projection string
	Generation int    // the live generation, replayed in place (NoLive: the next start's)
	Group      string // its consumer group
	Topic      string
	// Offsets are the partitions' start offsets, where the group now points.
	Offsets map[int32]int64
	// Records is how many offsets lie between them and the end: what the
	// next projector start reads.
	Records int64
	// Documents is how many documents the generation held and were
	// removed (with DryRun: would be).
	Documents int64
	DryRun    bool
	// NoLive: the store held no live generation (never projected, or it
	// lost its data); the group of the generation the projector's next
	// start runs was reset (NextStarter; generation 1 without one), which
	// that start fills from the log and makes live.
	NoLive bool
}

// NextStarter is a store whose projector's next start, while the store
// holds no live generation, may run another generation than 1: a Redis
// that lost its data is read again into the newest generation that had
// read anything, which a rebuild may have moved past 1. Replay resets that
// generation's group: generation 1's would be one that nothing reads.
type NextStarter interface {
	// NextStart is the generation the projector's next start runs while
	// the store holds no live generation.
	NextStart(ctx context.Context) (int, error)
}

// Replay rebuilds the live generation of target in place, with downtime:
// the generation's group must have no members (processors.ErrGroupActive
// names them otherwise); its committed offsets go back to each partition's
// start offset (the log start, not 0: retention may have removed the head)
// and its store is emptied. The next projector start reads the log again.
// control, when not nil, is checked for a rebuild handing over: then the
// replay waits for it (it refuses). A store with no live generation has
// the group reset of the generation the projector's next start runs
// (ReplayResult.NoLive): target's NextStart when it is a NextStarter,
// generation 1 otherwise; that start makes it live. Only cfg's Kafka
// fields and Topic are used.
func Replay(ctx context.Context, cfg Config, target Generations, control *Control, dryRun bool) (ReplayResult, error) {
	cfg = cfg.withDefaults()
	name := target.Name()
	res := ReplayResult{Projection: name, Topic: cfg.Topic, DryRun: dryRun}
	cl, err := kgo.NewClient(cfg.kafkaOpts()...)
	if err != nil {
		return res, fmt.Errorf("replay: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	live, err := target.Live(ctx)
	if err != nil {
		return res, err
	}
	if live == 0 {
		// Never projected, or the store lost its data (a Redis restarted
		// without persistence): the projector's next start makes a
		// generation live (1, unless the store says another), and reads
		// the log from where that generation's group points.
		live, res.NoLive = 1, true
		if ns, ok := target.(NextStarter); ok {
			if live, err = ns.NextStart(ctx); err != nil {
				return res, fmt.Errorf("replay %s: the generation the projector's next start runs: %w", name, err)
			}
			if live < 1 {
				return res, fmt.Errorf("replay %s: the projector's next start runs generation %d: want 1 or more", name, live)
			}
		}
	}
	if control != nil && !res.NoLive {
		st, ok, err := control.Load(ctx)
		if err != nil {
			return res, err
		}
		if ok && st.Phase == Handover && st.From == live {
			return res, fmt.Errorf("replay %s: a rebuild is swapping g%d for g%d right now; wait for it or abort it", name, live, st.Generation)
		}
	}
	res.Generation, res.Group = live, processors.GroupName(name, live)
	offsets, err := processors.ResetToStart(ctx, adm, res.Group, cfg.Topic, dryRun)
	if err != nil {
		return res, fmt.Errorf("replay %s: %w", name, err)
	}
	res.Offsets = map[int32]int64{}
	for _, o := range offsets[cfg.Topic] {
		res.Offsets[o.Partition] = o.At
	}
	ends, err := endOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		return res, err
	}
	for p, end := range ends {
		res.Records += end - res.Offsets[p]
	}
	if res.NoLive {
		// Nothing to empty that the store shows: what the generation may
		// still hold (an index kept when its alias was lost) is older
		// than the log, and the version guard writes the log over it.
		return res, nil
	}
	if dryRun {
		res.Documents, err = target.Count(ctx, live)
		return res, err
	}
	if res.Documents, err = target.Reset(ctx, live); err != nil {
		return res, fmt.Errorf("replay %s: offsets reset, but emptying g%d failed (run the replay again): %w", name, live, err)
	}
	// A projector that started meanwhile may have written into the store
	// while it was emptied.
	if err := processors.CheckIdle(ctx, adm, res.Group); err != nil {
		return res, fmt.Errorf("replay %s: a projector started during the replay; stop it and run the replay again: %w", name, err)
	}
	return res, nil
}
