package rebuild_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// envInt reads a size from the environment, for running the tests bigger.
func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// After 100k events, a replay of each projection leaves every view and
// every search document exactly as it was.
func TestReplay(t *testing.T) {
	w := newWorld(t, testenv.Kafka(t))
	rc := redistest.RealRedis(t)
	ec := esClient(t)
	ctx := context.Background()

	n := envInt("REPLAY_EVENTS", 100_000)
	events := eventgen.Stream(eventgen.Options{Products: n / 10, Events: n, Seed: 7, Discontinue: true})
	start := time.Now()
	w.publish(t, events)
	t.Logf("published %d events of %d products in %v", len(events), n/10, time.Since(start).Round(time.Millisecond))

	vt, store, vctl := views(t, rc)
	st, sg, sctl := search(t, ec, rc)
	w.cleanupGroups(t, vt.Name())
	w.cleanupGroups(t, st.Name())
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}

	project := func(what string) {
		t.Helper()
		start := time.Now()
		stopV := background(t, "view projector", w.processor(t, vt, 1).Run)
		stopS := background(t, "search projector", w.processor(t, st, 1).Run)
		w.waitCommitted(t, processors.GroupName(vt.Name(), 1), 5*time.Minute)
		w.waitCommitted(t, processors.GroupName(st.Name(), 1), 5*time.Minute)
		stopV()
		stopS()
		t.Logf("%s: both projections caught up in %v", what, time.Since(start).Round(time.Millisecond))
	}
	project("first run")

	ids := keys(foldViews(events))
	beforeViews := viewSnapshot(t, store, 1, ids)
	beforeDocs := docSnapshot(t, ec, sg, 1, ids)
	checkViews(t, beforeViews, foldViews(events))
	checkDocs(t, beforeDocs, foldDocs(events))

	t.Run("refused while a projector runs", func(t *testing.T) {
		stop := background(t, "view projector", w.processor(t, vt, 1).Run)
		defer stop()
		testenv.Eventually(t, 30*time.Second, func() error {
			_, err := rebuild.Replay(ctx, w.config(), vt, vctl, true)
			if !errors.Is(err, processors.ErrGroupActive) {
				return testenv.Errorf("replay with a member = %v, want ErrGroupActive", err)
			}
			return nil
		})
	})

	for _, tc := range []struct {
		target rebuild.Target
		ctl    *rebuild.Control
	}{{vt, vctl}, {st, sctl}} {
		target, ctl := tc.target, tc.ctl
		dry, err := rebuild.Replay(ctx, w.config(), target, ctl, true)
		if err != nil {
			t.Fatalf("dry run of %s: %v", target.Name(), err)
		}
		if dry.Records != int64(len(events)) || dry.Generation != 1 {
			t.Fatalf("dry run of %s = %+v; want %d records of generation 1", target.Name(), dry, len(events))
		}
		res, err := rebuild.Replay(ctx, w.config(), target, ctl, false)
		if err != nil {
			t.Fatalf("replay of %s: %v", target.Name(), err)
		}
		if res.Documents != dry.Documents || res.Documents == 0 {
			t.Fatalf("replay of %s removed %d documents, the dry run said %d", target.Name(), res.Documents, dry.Documents)
		}
		if n, err := target.Count(ctx, 1); err != nil || n != 0 {
			t.Fatalf("after the replay %s holds %d documents (err %v)", target.Name(), n, err)
		}
		lag, err := processors.Lag(ctx, w.adm, processors.GroupName(target.Name(), 1), w.topic)
		if err != nil {
			t.Fatal(err)
		}
		var behind int64
		for _, l := range lag {
			if l.Committed != res.Offsets[l.Partition] {
				t.Fatalf("partition %d committed at %d, want the start offset %d", l.Partition, l.Committed, res.Offsets[l.Partition])
			}
			// Reset to the start: no last applied offset at 0.
			if l.Committed == 0 && l.LastApplied != nil {
				t.Fatalf("partition %d committed at 0, last applied %d; want none", l.Partition, *l.LastApplied)
			}
			behind += l.Lag
		}
		if behind != int64(len(events)) {
			t.Fatalf("%s is %d records behind after the replay, want %d", target.Name(), behind, len(events))
		}
	}
	if live, err := st.Live(ctx); err != nil || live != 1 {
		t.Fatalf("search alias on generation %d (err %v) after the replay, want 1", live, err)
	}

	project("replay")
	afterViews := viewSnapshot(t, store, 1, ids)
	afterDocs := docSnapshot(t, ec, sg, 1, ids)
	if !reflect.DeepEqual(afterViews, beforeViews) {
		checkViews(t, afterViews, beforeViews)
		t.Fatal("views differ after the replay")
	}
	checkDocs(t, afterDocs, beforeDocs)
	t.Logf("all %d views and %d search documents are identical after the replay", len(afterViews), len(afterDocs))
}

// nextStart is a store whose projector's next start runs generation gen
// while the store holds no live generation.
type nextStart struct {
	rebuild.Generations
	gen int
}

func (n nextStart) NextStart(context.Context) (int, error) { return n.gen, nil }

// TestReplayResetsTheNextStartsGeneration: a Redis that lost its data
// after two rebuilds is read again into generation 3, the newest that had
// read anything, at the projector's next start (cmd/streamview's
// NextStart says so); the replay resets generation 3's group. It reset
// generation 1's, which nothing reads, and left generation 3's where it
// was (audit on real servers).
func TestReplayResetsTheNextStartsGeneration(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 20, Events: 200, Seed: 9}, false)
	w, vt, vctl := fv.w, fv.vt, fv.vctl
	ctx := t.Context()
	g1, g3 := processors.GroupName(vt.Name(), 1), processors.GroupName(vt.Name(), 3)
	ends, err := w.adm.ListEndOffsets(ctx, w.topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.adm.CommitAllOffsets(ctx, g3, ends.Offsets()); err != nil { // g3 had read everything
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		res, err := rebuild.Replay(ctx, w.config(), nextStart{vt, 3}, vctl, dry)
		if err != nil || !res.NoLive || res.Generation != 3 || res.Group != g3 || res.Records != int64(len(fv.events)) {
			t.Fatalf("replay (dry run %v) of a store that lost generation 3 = %+v, %v; want g3's group, %d records to read", dry, res, err, len(fv.events))
		}
		lag, err := processors.Lag(ctx, w.adm, g3, w.topic)
		if err != nil {
			t.Fatal(err)
		}
		var behind int64
		for _, l := range lag {
			behind += l.Lag
		}
		if want := map[bool]int64{true: 0, false: int64(len(fv.events))}[dry]; behind != want {
			t.Fatalf("after the replay (dry run %v) g3 is %d records behind, want %d", dry, behind, want)
		}
		if has, err := processors.HasOffsets(ctx, w.adm, g1); err != nil || has {
			t.Fatalf("after the replay (dry run %v) g1 has offsets: %v (err %v); want none: nothing runs it", dry, has, err)
		}
	}
}
