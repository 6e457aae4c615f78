package rebuild_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// fakeKafka starts an in-process broker for the test and returns its
// address.
func fakeKafka(t testing.TB) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

// fakeViews is the fast tier's world of the product view: an in-process
// broker holding events, miniredis, and the view's target on it.
type fakeViews struct {
	w      *world
	rc     redis.UniversalClient
	events []schemas.Event
	vt     rebuild.Target
	store  *redisview.Store
	vctl   *rebuild.Control
}

// newFakeViews publishes the events of opts and, with live, makes
// generation 1 live, as the projector role does at its start.
func newFakeViews(t *testing.T, opts eventgen.Options, live bool) fakeViews {
	t.Helper()
	f := fakeViews{w: newWorld(t, fakeKafka(t)), rc: redistest.Miniredis(t), events: eventgen.Stream(opts)}
	f.w.publish(t, f.events)
	f.vt, f.store, f.vctl = views(t, f.rc)
	if live {
		if _, err := f.store.EnsureLive(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// The whole life of a view generation on an in-process broker and Redis
// (the fast tier): a rebuild with a running Follower swaps and hands over,
// a killed one is aborted, a replay empties the live one.
func TestViewsLifeFake(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 300, Events: 3000, Seed: 3, Discontinue: true}, true)
	w, events, vt, store, vctl := fv.w, fv.events, fv.vt, fv.store, fv.vctl
	ctx := context.Background()
	switched := make(chan [2]int, 4)
	f := w.follow(t, vt, vctl, 1, func(c *rebuild.FollowerConfig) {
		c.Switched = func(from, to int) { switched <- [2]int{from, to} }
	})
	w.waitCommitted(t, processors.GroupName(vt.Name(), 1), time.Minute)
	ids := keys(foldViews(events))
	checkViews(t, viewSnapshot(t, store, 1, ids), foldViews(events))

	var phases []rebuild.Phase
	cfg := w.config()
	cfg.ProgressInterval = 10 * time.Millisecond
	cfg.Progress = func(p rebuild.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}
	r, err := rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Records counts what was read until the build was caught up, which
	// includes "under a second left" by its rate: under load that is
	// before the end, and the handover reads the rest.
	if !res.Swapped || res.To != 2 || res.Documents != 300 || res.Expected != 300 || res.LiveDocuments != 300 || res.Records <= 0 || res.Records > int64(len(events)) {
		t.Fatalf("rebuild = %+v", res)
	}
	if want := []rebuild.Phase{rebuild.Building, rebuild.Handover, rebuild.Swapped}; !slices.Equal(phases, want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	if live, _ := vt.Live(ctx); live != 2 {
		t.Fatalf("live generation %d, want 2", live)
	}
	checkViews(t, viewSnapshot(t, store, 2, ids), foldViews(events))
	if n, _ := store.Count(ctx, 1); n != 0 {
		t.Fatalf("generation 1 still holds %d views", n)
	}
	waitGen(t, f, 2)
	if got := <-switched; got != [2]int{1, 2} {
		t.Fatalf("Switched(%d, %d), want (1, 2): the retired generation's metrics are forgotten there", got[0], got[1])
	}

	// Events after the swap reach generation 2 through the follower.
	more := eventgen.Stream(eventgen.Options{Products: 10, Events: 30, Seed: 99})
	w.publish(t, more)
	all := append(events, more...)
	w.waitCommitted(t, processors.GroupName(vt.Name(), 2), time.Minute)
	checkViews(t, viewSnapshot(t, store, 2, keys(foldViews(all))), foldViews(all))

	// A rebuild stopped at once is abandoned.
	kctx, kill := context.WithCancel(ctx)
	cfg.Progress = func(rebuild.Progress) { kill() }
	r, _ = rebuild.New(cfg, vt, vctl)
	if _, err := r.Run(kctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed rebuild: %v", err)
	}
	if s, ok, _ := vctl.Load(ctx); !ok || s.Generation != 3 {
		t.Fatalf("state after the kill: %+v %v", s, ok)
	}
	ab, err := r.Abort(ctx)
	if err != nil || ab.Generation != 3 || !ab.Recorded {
		t.Fatalf("abort = %+v, %v", ab, err)
	}
	if _, ok, _ := vctl.Load(ctx); ok {
		t.Fatal("state left after the abort")
	}

	// Replay refuses a running projector, then empties the live generation.
	if _, err := rebuild.Replay(ctx, w.config(), vt, vctl, false); !errors.Is(err, processors.ErrGroupActive) {
		t.Fatalf("replay with the follower running = %v, want ErrGroupActive", err)
	}
}

// TestRebuildChecksAShortLog: a log shorter than CaughtUpLag is read
// whole before the check, which then counts what it holds. (The build
// once counted as caught up before reading anything, and checked 0
// documents against the 0 that no records make.)
func TestRebuildChecksAShortLog(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 40, Events: 200, Seed: 5}, true)
	w, events, vt, store, vctl := fv.w, fv.events, fv.vt, fv.store, fv.vctl
	ctx := context.Background()
	cfg := w.config()
	cfg.CaughtUpLag = 1000 // the CLI's default, above the log's 200
	r, err := rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Swapped || res.Records != int64(len(events)) || res.Documents != 40 || res.Expected != 40 {
		t.Fatalf("rebuild = %+v, want all %d records read and 40 documents checked", res, len(events))
	}
	checkViews(t, viewSnapshot(t, store, 2, keys(foldViews(events))), foldViews(events))
}

func waitGen(t *testing.T, f *rebuild.Follower, gen int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.Runner().Config().Generation != gen {
		if time.Now().After(deadline) {
			t.Fatalf("the follower runs generation %d, want %d", f.Runner().Config().Generation, gen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJobsAbortAfterSwapFake: an abort of a rebuild that has swapped and is
// retiring the old generation fails with ErrSwapped and leaves the job to
// finish: the old generation is removed after the grace. (An abort once
// stopped the retiring there, and the old generation stayed.)
func TestJobsAbortAfterSwapFake(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 100, Events: 1000, Seed: 4}, true)
	w, vt, store, vctl := fv.w, fv.vt, fv.store, fv.vctl
	ctx := t.Context()
	jobs := rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) {
		cfg := w.config()
		cfg.Grace = 10 * time.Second // the window for the abort below
		return rebuild.New(cfg, vt, vctl)
	}, nil)
	name := vt.Name()
	if start, err := jobs.Start(name); err != nil || start.Retiring {
		t.Fatalf("Start = %+v, %v", start, err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if st, ok, err := vctl.Load(ctx); err != nil || !ok || st.Phase != rebuild.Swapped {
			return fmt.Errorf("rebuild state %+v, %v, %v; want swapped", st, ok, err)
		}
		return nil
	})
	// The retiring generation's group is gone: the report gives it no
	// lag (it once gave the whole log's).
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rs, err := rebuild.Report(ctx, cl, rebuild.ReportConfig{Topic: w.topic}, rebuild.Source{Target: vt, Control: vctl, DeadLetterTopic: w.dlq})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].State != rebuild.StateRetiring || rs[1].Generation != 1 || rs[1].Lag != 0 || rs[1].Partitions == nil || len(rs[1].Partitions) != 0 {
		t.Fatalf("report during the retiring = %+v, want generation 1 retiring with no lag", rs)
	}
	if _, err := jobs.Abort(ctx, name); !errors.Is(err, rebuild.ErrSwapped) {
		t.Fatalf("abort after the swap = %v, want ErrSwapped", err)
	}
	if !jobs.Running(name) {
		t.Fatal("the abort stopped the job that was retiring the old generation")
	}
	testenv.Eventually(t, time.Minute, func() error {
		o, ok := jobs.Last(name)
		if jobs.Running(name) || !ok {
			return errors.New("the rebuild is still running")
		}
		if o.Err != nil || !o.Result.OldRemoved {
			return fmt.Errorf("the rebuild ended %+v, %v; want the old generation removed", o.Result, o.Err)
		}
		return nil
	})
	if n, err := store.Count(ctx, 1); err != nil || n != 0 {
		t.Fatalf("generation 1 has %d views (%v) after the retiring", n, err)
	}
}

// TestJobsSayTheyOnlyFinishARetiring: a rebuild asked of Jobs after an
// earlier one swapped and stopped while retiring the old generation only
// finishes that retiring, and Start says so. (Over HTTP it was answered
// "building", and no new generation was built.)
func TestJobsSayTheyOnlyFinishARetiring(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 500, Seed: 9}, true)
	w, vt, store, vctl := fv.w, fv.vt, fv.store, fv.vctl
	ctx := t.Context()
	cfg := w.config()
	cfg.Grace = time.Hour // stopped during it
	stopped, err := rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := stopped.Run(rctx); done <- err }()
	testenv.Eventually(t, time.Minute, func() error {
		if st, ok, err := vctl.Load(ctx); err != nil || !ok || st.Phase != rebuild.Swapped {
			return fmt.Errorf("rebuild state %+v, %v, %v; want swapped", st, ok, err)
		}
		return nil
	})
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped rebuild: %v", err)
	}

	jobs := rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) { return rebuild.New(w.config(), vt, vctl) }, nil)
	start, err := jobs.Start(vt.Name())
	if err != nil || !start.Retiring || start.From != 1 {
		t.Fatalf("Start during a stopped rebuild's retiring = %+v, %v; want retiring g1", start, err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if o, ok := jobs.Last(vt.Name()); jobs.Running(vt.Name()) || !ok || o.Err != nil || !o.Result.OldRemoved {
			return fmt.Errorf("the job: running %v, last %+v", jobs.Running(vt.Name()), o)
		}
		return nil
	})
	if live, _ := vt.Live(ctx); live != 2 {
		t.Fatalf("live generation %d, want 2 (no new one built)", live)
	}
	if n, err := store.Count(ctx, 1); err != nil || n != 0 {
		t.Fatalf("generation 1 has %d views (%v) after the retiring", n, err)
	}
	if start, err := jobs.Start(vt.Name()); err != nil || start.Retiring {
		t.Fatalf("Start after the retiring = %+v, %v; want a new build", start, err)
	}
}

// heldWhileBuilding returns cfg with a Progress that holds the build once
// it has committed (its group has joined): building is closed then, and
// the build goes on when release is closed.
func heldWhileBuilding(cfg rebuild.Config) (held rebuild.Config, building, release chan struct{}) {
	building, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg.ProgressInterval = 10 * time.Millisecond
	cfg.Progress = func(p rebuild.Progress) {
		if p.Phase == rebuild.Building && p.Done > 0 {
			once.Do(func() { close(building) })
			<-release
		}
	}
	return cfg, building, release
}

// TestJobsShowWhatTheyBuild: while a rebuild of Jobs builds, Building
// returns its processor, made with the hooks Config.Hooks gives for the
// new generation (its metrics) and Config.SessionTimeout. (The build ran
// without hooks, and a serve's GET /metrics showed nothing of it; and
// with the Kafka client's 45 s session, so that a rebuild whose serve was
// killed kept its group, and its resume and abort were refused, for 45 s.)
func TestJobsShowWhatTheyBuild(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 500, Seed: 10}, true)
	w, vt, vctl := fv.w, fv.vt, fv.vctl
	ctx := t.Context()
	cfg, building, release := heldWhileBuilding(w.config())
	cfg.SessionTimeout = 7 * time.Second
	var hooked []int
	jobs := rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) {
		cfg.Hooks = func(gen int) processors.Hooks {
			hooked = append(hooked, gen)
			return processors.Hooks{}
		}
		return rebuild.New(cfg, vt, vctl)
	}, nil)
	if len(jobs.Building()) != 0 {
		t.Fatal("Building before any rebuild")
	}
	if _, err := jobs.Start(vt.Name()); err != nil {
		t.Fatal(err)
	}
	<-building
	ps := jobs.Building()
	close(release)
	if len(ps) != 1 || ps[0].Config().Generation != 2 || ps[0].Config().Name != vt.Name() {
		t.Fatalf("Building while generation 2 builds = %d processors", len(ps))
	}
	if got := ps[0].Config().SessionTimeout; got != cfg.SessionTimeout {
		t.Errorf("the build's processor has a session timeout of %v, want Config.SessionTimeout's %v", got, cfg.SessionTimeout)
	}
	if !slices.Equal(hooked, []int{2}) {
		t.Fatalf("hooks asked for generations %v, want [2]", hooked)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if jobs.Running(vt.Name()) || len(jobs.Building()) != 0 {
			return errors.New("still building")
		}
		return nil
	})
}

// TestJobsRefuseWhatCannotStart: a rebuild asked of Jobs is refused at
// once, not started to fail in the background, when the projection has no
// live generation yet, or when a rebuild of it runs elsewhere. (Both were
// answered 202 over HTTP, and failed where only the log said so.)
func TestJobsRefuseWhatCannotStart(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 500, Seed: 6}, false)
	w, vt, store, vctl := fv.w, fv.vt, fv.store, fv.vctl
	ctx := t.Context()
	jobs := rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) { return rebuild.New(w.config(), vt, vctl) }, nil)
	if _, err := jobs.Start(vt.Name()); !errors.Is(err, rebuild.ErrNoLive) || jobs.Running(vt.Name()) {
		t.Fatalf("Start without a live generation = %v (running %v), want ErrNoLive", err, jobs.Running(vt.Name()))
	}

	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// A rebuild elsewhere (the CLI's), held while it builds.
	cfg, building, release := heldWhileBuilding(w.config())
	elsewhere, err := rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := elsewhere.Run(ctx); done <- err }()
	<-building
	_, err = jobs.Start(vt.Name())
	close(release)
	if !errors.Is(err, rebuild.ErrRunning) || !strings.Contains(err.Error(), "elsewhere") || jobs.Running(vt.Name()) {
		t.Fatalf("Start while a rebuild runs elsewhere = %v (running %v), want ErrRunning, elsewhere", err, jobs.Running(vt.Name()))
	}
	if err := <-done; err != nil {
		t.Fatalf("the rebuild elsewhere: %v", err)
	}
}

// TestReplayAfterTheStoreLostItsData: a store emptied under its projector
// (a Redis restarted without persistence) has no live generation; a
// replay resets generation 1's group, and the projector's next start
// makes it live and fills it from the log. (The replay refused: "no live
// generation: nothing to replay".)
func TestReplayAfterTheStoreLostItsData(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 60, Events: 400, Seed: 8}, false)
	w, rc, events, vt, store, vctl := fv.w, fv.rc, fv.events, fv.vt, fv.store, fv.vctl
	ctx := t.Context()
	project := func() {
		t.Helper()
		if _, err := store.EnsureLive(ctx, 1); err != nil { // as the projector role does at its start
			t.Fatal(err)
		}
		stop := background(t, "view projector", w.processor(t, vt, 1).Run)
		w.waitCommitted(t, processors.GroupName(vt.Name(), 1), time.Minute)
		stop()
	}
	project()
	ids := keys(foldViews(events))
	checkViews(t, viewSnapshot(t, store, 1, ids), foldViews(events))

	if err := rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := rebuild.Replay(ctx, w.config(), vt, vctl, false)
	if err != nil || !res.NoLive || res.Generation != 1 || res.Records != int64(len(events)) {
		t.Fatalf("replay of an emptied store = %+v, %v; want generation 1's group reset, %d records to read", res, err, len(events))
	}
	project()
	checkViews(t, viewSnapshot(t, store, 1, ids), foldViews(events))
}

// TestRebuildStopsWhenTheStoreLostItsData: Redis loses its data while a
// rebuild of the view builds generation 2. The rebuild stops with
// ErrStoreLost and swaps nothing, and removes generation 2's documents,
// group and state, so that the next rebuild starts clean. (It went on
// writing into the emptied Redis, and swapped in a generation that lacked
// what it had written before the loss, or resumed it at the next run.)
func TestRebuildStopsWhenTheStoreLostItsData(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 500, Seed: 12}, true)
	w, rc, events, vt, store, vctl := fv.w, fv.rc, fv.events, fv.vt, fv.store, fv.vctl
	ctx := t.Context()
	cfg, building, release := heldWhileBuilding(w.config())
	cfg.StoreEpoch = func(ctx context.Context) (string, error) { return redisview.Epoch(ctx, rc) }
	r, err := rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	type ran struct {
		res rebuild.Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := r.Run(ctx)
		done <- ran{res, err}
	}()
	<-building
	if err := rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsureLive(ctx, 1); err != nil { // as serve's refill does once it has read the log
		t.Fatal(err)
	}
	close(release)
	got := <-done
	if !errors.Is(got.err, rebuild.ErrStoreLost) || got.res.Swapped {
		t.Fatalf("rebuild across the loss = %+v, %v; want ErrStoreLost, nothing swapped", got.res, got.err)
	}
	if !strings.Contains(got.err.Error(), "run the rebuild again once g1 is live") {
		t.Errorf("the error does not say what to do: %v", got.err)
	}
	if live, err := store.Live(ctx); err != nil || live != 1 {
		t.Errorf("live generation after the stopped rebuild = %d, %v; want 1", live, err)
	}
	if _, ok, err := vctl.Load(ctx); err != nil || ok {
		t.Errorf("the rebuild's state is still recorded (%v, %v): the next run would resume a generation missing what the loss took", ok, err)
	}
	if n, err := store.Count(ctx, 2); err != nil || n != 0 {
		t.Errorf("generation 2 keeps %d documents written after the loss (%v)", n, err)
	}
	read, err := processors.ReadPastStart(ctx, w.adm, processors.GroupName(vt.Name(), 2), w.topic)
	if err != nil || read {
		t.Errorf("generation 2's group still has its offsets (read past start %v, %v)", read, err)
	}

	// The next rebuild starts from the start of the log, and swaps in
	// every product.
	cfg.Progress = nil
	r, err = rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	if err != nil || !res.Swapped || res.Resumed || res.Records != int64(len(events)) {
		t.Fatalf("the rebuild run again = %+v, %v; want a new build of every record, swapped", res, err)
	}
	checkViews(t, viewSnapshot(t, store, 2, keys(foldViews(events))), foldViews(events))
}

// TestRebuildStoppedThenStoreLostStartsAgain: a rebuild stopped while it
// builds, then the store loses data its state did not live with (another
// master of a Redis Cluster: here the epoch alone moves). Run again, it
// does not resume the generation the loss cut into: it builds a new one
// from the start of the log. (It resumed, and swapped in views missing
// what the loss took.)
func TestRebuildStoppedThenStoreLostStartsAgain(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 500, Seed: 13}, true)
	w, rc, events, vt, store, vctl := fv.w, fv.rc, fv.events, fv.vt, fv.store, fv.vctl
	cfg, building, release := heldWhileBuilding(w.config())
	cfg.StoreEpoch = func(ctx context.Context) (string, error) { return redisview.Epoch(ctx, rc) }
	r, err := rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx)
		done <- err
	}()
	<-building
	stop()
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped rebuild = %v, want context.Canceled", err)
	}
	if st, ok, err := vctl.Load(t.Context()); err != nil || !ok || st.Epoch == "" {
		t.Fatalf("state of the stopped rebuild = %+v, %v, %v; want it recorded with its epoch", st, ok, err)
	}
	if err := rc.Set(t.Context(), redisview.EpochKey, "after-a-loss", 0).Err(); err != nil {
		t.Fatal(err)
	}

	cfg.Progress = nil
	r, err = rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(t.Context())
	if err != nil || res.Resumed || !res.Swapped || res.Records != int64(len(events)) {
		t.Fatalf("the rebuild run after the loss = %+v, %v; want a new build of every record, not resumed, swapped", res, err)
	}
	checkViews(t, viewSnapshot(t, store, res.To, keys(foldViews(events))), foldViews(events))
}

// An abort asked of a process that does not run the rebuild (another
// server behind the same load balancer, the CLI) asks the one that does to
// stop, waits for its group to empty and removes what it built. It was
// refused: "stop the processes they run in first".
func TestAbortOfARebuildRunningElsewhereFake(t *testing.T) {
	testAbortElsewhere(t, fakeKafka(t), redistest.Miniredis(t))
}

// The same on real Kafka and Redis.
func TestAbortOfARebuildRunningElsewhere(t *testing.T) {
	testAbortElsewhere(t, testenv.Kafka(t), redistest.RealRedis(t))
}

func testAbortElsewhere(t *testing.T, brokers []string, rc redis.UniversalClient) {
	w := newWorld(t, brokers)
	w.publish(t, eventgen.Stream(eventgen.Options{Products: 50, Events: 500, Seed: 12}))
	vt, store, vctl := views(t, rc)
	ctx := t.Context()
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cfg, building, release := heldWhileBuilding(w.config())
	running, err := rebuild.New(cfg, vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := running.Run(ctx); done <- err }()
	<-building

	elsewhere, err := rebuild.New(w.config(), vt, vctl)
	if err != nil {
		t.Fatal(err)
	}
	type aborted struct {
		res rebuild.AbortResult
		err error
	}
	abort := make(chan aborted, 1)
	go func() { res, err := elsewhere.Abort(ctx); abort <- aborted{res, err} }()
	testenv.Eventually(t, 30*time.Second, func() error {
		if st, ok, err := vctl.Load(ctx); err != nil || !ok || st.AbortRequested.IsZero() {
			return fmt.Errorf("rebuild state %+v, %v, %v; want an abort requested", st, ok, err)
		}
		return nil
	})
	close(release)
	if err := <-done; !errors.Is(err, rebuild.ErrAborted) {
		t.Fatalf("the running rebuild ended with %v, want ErrAborted", err)
	}
	a := <-abort
	if a.err != nil || !a.res.Recorded || a.res.Generation != 2 || !a.res.Group {
		t.Fatalf("abort from elsewhere = %+v, %v; want g2 recorded and its group deleted", a.res, a.err)
	}
	if _, ok, _ := vctl.Load(ctx); ok {
		t.Fatal("state left after the abort")
	}
	if n, err := store.Count(ctx, 2); err != nil || n != 0 {
		t.Fatalf("generation 2 holds %d views (%v) after the abort", n, err)
	}
	if live, _ := vt.Live(ctx); live != 1 {
		t.Fatalf("live generation %d, want 1", live)
	}
	// The next rebuild builds again, undisturbed by an old request (one
	// that landed after the state was cleared: two aborts at once).
	if err := vctl.RequestAbort(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if res, err := running.Run(ctx); err != nil || !res.Swapped || res.To != 2 {
		t.Fatalf("the rebuild after the abort = %+v, %v", res, err)
	}
}

// While one process retires the old generation after its swap, another
// neither starts a rebuild (it said "retiring" and retired the same
// generation beside it) nor tells the user to run the rebuild again.
func TestRetiringElsewhereIsRunningFake(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 500, Seed: 13}, true)
	w, vt, vctl := fv.w, fv.vt, fv.vctl
	ctx := t.Context()
	newJobs := func(grace time.Duration) *rebuild.Jobs {
		return rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) {
			cfg := w.config()
			cfg.Grace = grace
			return rebuild.New(cfg, vt, vctl)
		}, nil)
	}
	a, b := newJobs(time.Hour), newJobs(0)
	name := vt.Name()
	if _, err := a.Start(name); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if st, ok, err := vctl.Load(ctx); err != nil || !ok || st.Phase != rebuild.Swapped {
			return fmt.Errorf("rebuild state %+v, %v, %v; want swapped", st, ok, err)
		}
		return nil
	})
	if start, err := b.Start(name); !errors.Is(err, rebuild.ErrRunning) || !strings.Contains(fmt.Sprint(err), "retiring g1, which it finishes by itself") {
		t.Fatalf("start elsewhere during the retiring = %+v, %v; want ErrRunning", start, err)
	}
	if _, err := b.Abort(ctx, name); !errors.Is(err, rebuild.ErrSwapped) || !strings.Contains(err.Error(), "it is retiring g1 and will finish by itself") {
		t.Fatalf("abort elsewhere during the retiring = %v", err)
	}
	// (Stopped, a retiring beats no more, and another process finishes
	// it at once: TestJobsSayTheyOnlyFinishARetiring.)
}

// TestJobsSayHowRebuildsEnded: Jobs.Ended gives the last rebuild of each
// projection that has ended, failed with its error or swapped with its
// generation, for GET /v1/projections (a rebuild started over HTTP that
// failed left no trace there: its error was only in the log).
func TestJobsSayHowRebuildsEnded(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 30, Events: 300, Seed: 4}, true)
	w, vt, vctl := fv.w, fv.vt, fv.vctl
	ctx := t.Context()
	refused := errors.New("the store refused the new generation")
	broken := vt
	broken.Projection = func(int) (processors.Projection, error) { return nil, refused }
	target := broken
	jobs := rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) { return rebuild.New(w.config(), target, vctl) }, nil)
	if got := jobs.Ended(); len(got) != 0 {
		t.Fatalf("Ended before any rebuild = %+v", got)
	}
	ended := func(want string) rebuild.Ended {
		t.Helper()
		var e rebuild.Ended
		testenv.Eventually(t, time.Minute, func() error {
			got := jobs.Ended()
			if len(got) != 1 || got[0].Outcome != want {
				return fmt.Errorf("Ended = %+v, want one %s", got, want)
			}
			e = got[0]
			return nil
		})
		return e
	}
	if _, err := jobs.Start(vt.Name()); err != nil {
		t.Fatal(err)
	}
	if e := ended("failed"); e.Projection != vt.Name() || !strings.Contains(e.Error, refused.Error()) || e.At.IsZero() {
		t.Errorf("the failed rebuild: %+v", e)
	}
	if _, err := vt.Drop(ctx, 2); err != nil { // what the failed one may have left
		t.Fatal(err)
	}
	target = vt
	if _, err := jobs.Start(vt.Name()); err != nil {
		t.Fatal(err)
	}
	if e := ended("swapped"); e.Generation != 2 || e.Error != "" {
		t.Errorf("the rebuild that swapped: %+v", e)
	}
}

// Two servers asked for a rebuild of one projection at the same moment
// (two API instances behind one load balancer): one starts it and the
// other is refused (ErrRunning: a 409), each time. Before the rebuild's
// lease both started it when the second asked before the first's group had
// joined: both ran one generation in one group, and each tried to swap
// (helper 89). Once the rebuild ends its lease is free: the other server
// starts the next one.
func TestTwoServersAskedForOneRebuildAtOnce(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 50, Events: 500, Seed: 11}, true)
	w, vt := fv.w, fv.vt
	ctx := t.Context()
	var servers [2]*rebuild.Jobs
	for i := range servers {
		servers[i] = rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) {
			return rebuild.New(w.config(), vt, rebuild.NewControl(redisview.RebuildState(fv.rc, fv.store.Projection())))
		}, nil)
	}
	name := vt.Name()
	ended := func(j *rebuild.Jobs, gen int) {
		t.Helper()
		testenv.Eventually(t, time.Minute, func() error {
			if o, ok := j.Last(name); j.Running(name) || !ok || o.Err != nil || !o.Result.Swapped || o.Result.To != gen {
				return testenv.Errorf("running %v, last %+v; want swapped to g%d", j.Running(name), o, gen)
			}
			return nil
		})
	}
	for gen := 2; gen <= 4; gen++ {
		var errs [2]error
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for i, j := range servers {
			wg.Go(func() {
				<-ready
				_, errs[i] = j.Start(name)
			})
		}
		close(ready)
		wg.Wait()
		winner := slices.IndexFunc(errs[:], func(err error) bool { return err == nil })
		loser := 1 - winner
		if winner < 0 || !errors.Is(errs[loser], rebuild.ErrRunning) {
			t.Fatalf("g%d: the two Starts = %v, %v; want one started and the other ErrRunning", gen, errs[0], errs[1])
		}
		ended(servers[winner], gen)
		if live, err := vt.Live(ctx); err != nil || live != gen {
			t.Fatalf("live generation %d (%v), want %d", live, err, gen)
		}
	}
	// The lease was released: either server starts the next one alone.
	if _, err := servers[1].Start(name); err != nil {
		t.Fatalf("a Start after the rebuilds ended: %v", err)
	}
	ended(servers[1], 5)
}

// An abort while another process holds the rebuild's lease but has
// recorded no state yet (it is starting) is refused as running elsewhere
// (ErrRunning: a 409 with its reason), and removes nothing; once the lease
// is free, the abort finds nothing to abort.
func TestAbortWhileAnotherProcessStarts(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 20, Events: 100, Seed: 12}, true)
	ctx := t.Context()
	lease := redisview.RebuildState(fv.rc, fv.store.Projection())
	if holder, err := lease.Lease(ctx, "another/pid 1/00", time.Minute); err != nil || holder != "another/pid 1/00" {
		t.Fatalf("taking the lease: %q, %v", holder, err)
	}
	jobs := rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) { return rebuild.New(fv.w.config(), fv.vt, fv.vctl) }, nil)
	if _, err := jobs.Abort(ctx, fv.vt.Name()); !errors.Is(err, rebuild.ErrRunning) || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("abort while another process starts = %v; want ErrRunning", err)
	}
	if _, err := jobs.Start(fv.vt.Name()); !errors.Is(err, rebuild.ErrRunning) || !strings.Contains(err.Error(), "another/pid 1/00") {
		t.Fatalf("start while another holds the lease = %v; want ErrRunning naming the holder", err)
	}
	if err := lease.Release(ctx, "another/pid 1/00"); err != nil {
		t.Fatal(err)
	}
	if res, err := jobs.Abort(ctx, fv.vt.Name()); err != nil || res.Recorded {
		t.Fatalf("abort with the lease free = %+v, %v; want nothing to abort", res, err)
	}
}

// blockingTarget is vt whose projector holds every batch until its
// context ends: a rebuild of it runs until it is stopped.
func blockingTarget(vt rebuild.Target) rebuild.Target {
	vt.Projection = func(int) (processors.Projection, error) { return blockingProjection{}, nil }
	return vt
}

type blockingProjection struct{}

func (blockingProjection) Apply(ctx context.Context, _ []schemas.Event) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestJobsAbortedRebuildEndsWithoutAnError: a rebuild stopped by
// Jobs.Abort ends "aborted", with no error: the console shows it as
// "last rebuild aborted". (It showed the cancellation the abort caused,
// wherever it struck: "last rebuild aborted: list end offsets of
// catalog.product-events: request ListOffsets has 1 separate shard
// errors, first: context canceled".)
func TestJobsAbortedRebuildEndsWithoutAnError(t *testing.T) {
	fv := newFakeViews(t, eventgen.Options{Products: 20, Events: 200, Seed: 13}, true)
	ctx := t.Context()
	target := blockingTarget(fv.vt)
	jobs := rebuild.NewJobs(ctx, func(string) (*rebuild.Rebuilder, error) { return rebuild.New(fv.w.config(), target, fv.vctl) }, nil)
	name := fv.vt.Name()
	if _, err := jobs.Start(name); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if len(jobs.Building()) == 0 {
			return errors.New("the rebuild's processor has not started")
		}
		return nil
	})
	if res, err := jobs.Abort(ctx, name); err != nil || res.Generation != 2 {
		t.Fatalf("Abort = %+v, %v", res, err)
	}
	got := jobs.Ended()
	if len(got) != 1 || got[0].Outcome != "aborted" || got[0].Error != "" || got[0].Generation != 2 || got[0].At.IsZero() {
		t.Fatalf("Ended after the abort = %+v; want g2 aborted, with no error", got)
	}
}
