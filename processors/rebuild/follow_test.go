package rebuild_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/rebuild"
)

// handoverUnderWay records what a rebuild of generation 2 keeps while it
// hands over from generation 1, its request made at at, and what its
// state stays at when its process dies then.
func handoverUnderWay(t *testing.T, ctl *rebuild.Control, at time.Time) rebuild.State {
	t.Helper()
	st := rebuild.State{Generation: 2, From: 1, Phase: rebuild.Handover, Started: at.Add(-time.Minute), Requested: at, Updated: at}
	if err := ctl.Save(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	return st
}

// polledFollower runs a Follower of fv's views on generation 1 and
// returns it with a function that waits until it has read the live
// generation and the rebuild state n more times.
func polledFollower(t *testing.T, fv fakeViews) (*rebuild.Follower, func(n int64)) {
	var polls atomic.Int64
	f := fv.w.follow(t, fv.vt, fv.vctl, 1, func(c *rebuild.FollowerConfig) {
		live := c.Live
		c.Live = func(ctx context.Context) (int, error) {
			polls.Add(1)
			return live(ctx)
		}
	})
	return f, func(n int64) {
		t.Helper()
		want := polls.Load() + n
		testenv.Eventually(t, 10*time.Second, func() error {
			if polls.Load() < want {
				return errors.New("the follower has not polled yet")
			}
			return nil
		})
	}
}

// runsOn checks that generation 1's processor runs: it applies events
// published now.
func runsOn(t *testing.T, fv fakeViews, seed uint64) {
	t.Helper()
	fv.w.publish(t, eventgen.Stream(eventgen.Options{Products: 5, Events: 20, Seed: seed}))
	fv.w.waitCommitted(t, processors.GroupName(fv.vt.Name(), 1), 15*time.Second)
}

// TestFollowerStartedAfterACrashedHandoverRunsOn: a rebuild whose process
// died during the handover leaves its request in the state; a follower
// started after runs the live generation on, and the rebuild run again
// from that state hands over to it and swaps. (The follower obeyed the
// dead rebuild's request and stopped the live generation for its
// FreezeTimeout, 2 minutes, at every start of serve.)
func TestFollowerStartedAfterACrashedHandoverRunsOn(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 300, Seed: 11}, true)
	ctx := t.Context()
	handoverUnderWay(t, fv.vctl, time.Now().Add(-5*time.Second))
	f, polled := polledFollower(t, fv)
	fv.w.waitCommitted(t, processors.GroupName(fv.vt.Name(), 1), 15*time.Second)
	polled(3)
	runsOn(t, fv, 111)
	if gen := f.Runner().Config().Generation; gen != 1 {
		t.Fatalf("the follower runs generation %d, want 1", gen)
	}

	r, err := rebuild.New(fv.w.config(), fv.vt, fv.vctl)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	if err != nil || !res.Resumed || !res.Swapped || res.From != 1 || res.To != 2 {
		t.Fatalf("the rebuild run again = %+v, %v; want g2 resumed and swapped", res, err)
	}
	waitGen(t, f, 2)
}

// TestFollowerObeysAHandoverUnderWayOnceItBeats: a follower that finds a
// handover under way at its start stops the live generation once the
// rebuild moves the state's Updated, as it does every second of its
// handover; aborted, the rebuild lets it go on.
func TestFollowerObeysAHandoverUnderWayOnceItBeats(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 300, Seed: 12}, true)
	ctx := t.Context()
	st := handoverUnderWay(t, fv.vctl, time.Now())
	_, polled := polledFollower(t, fv)
	group := processors.GroupName(fv.vt.Name(), 1)
	fv.w.waitCommitted(t, group, 15*time.Second)
	polled(3)
	runsOn(t, fv, 120)

	st.Updated = st.Updated.Add(time.Second)
	if err := fv.vctl.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, func() error {
		gs, err := fv.w.adm.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		if n := len(gs[group].Members); n > 0 {
			return fmt.Errorf("group %s has %d members; want none, the follower stopped", group, n)
		}
		return nil
	})

	r, err := rebuild.New(fv.w.config(), fv.vt, fv.vctl)
	if err != nil {
		t.Fatal(err)
	}
	if ab, err := r.Abort(ctx); err != nil || !ab.Recorded || ab.Generation != 2 {
		t.Fatalf("abort = %+v, %v", ab, err)
	}
	runsOn(t, fv, 121)
}

// TestRebuildBeatsDuringItsHandover: while a rebuild waits for the old
// generation's projectors to stop, it moves its state's Updated every
// second, which tells a follower started meanwhile that it runs.
func TestRebuildBeatsDuringItsHandover(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 300, Seed: 13}, true)
	ctx := t.Context()
	// A projector that does not follow rebuilds keeps the handover going
	// until HandoverTimeout.
	old := fv.w.processor(t, fv.vt, 1)
	background(t, "projector of g1", old.Run)
	fv.w.waitCommitted(t, processors.GroupName(fv.vt.Name(), 1), 15*time.Second)

	var (
		mu    sync.Mutex
		beats = map[time.Time]bool{}
	)
	stop := background(t, "state reader", func(ctx context.Context) error {
		for ctx.Err() == nil {
			if st, ok, err := fv.vctl.Load(ctx); err == nil && ok && st.Phase == rebuild.Handover {
				mu.Lock()
				beats[st.Updated] = true
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	})
	cfg := fv.w.config()
	cfg.HandoverTimeout = 3500 * time.Millisecond
	r, err := rebuild.New(cfg, fv.vt, fv.vctl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx); !errors.Is(err, rebuild.ErrNoHandover) {
		t.Fatalf("rebuild with a projector that does not hand over = %v, want ErrNoHandover", err)
	}
	stop()
	// The request, then a beat a second for 3.5 s.
	if len(beats) < 4 {
		t.Fatalf("the state's Updated took %d values during the handover, want 4 or more: %v", len(beats), beats)
	}
}
