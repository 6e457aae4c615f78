package rebuild_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// The views are rebuilt on a real Redis Cluster while events flow in and
// query loops read through the live pointer: no read fails, misses a
// product or sees a version go back; after the swap every view is the
// fold of the whole log, generation 1 is gone from every master, and the
// rebuild state is removed. The views' part of TestRebuildUnderLoad, with
// the live pointer, the rebuild state and the documents spread over the
// cluster's masters.
func TestRebuildOnCluster(t *testing.T) {
	w := newWorld(t, testenv.Kafka(t))
	rc := redistest.RealCluster(t)
	ctx := context.Background()

	n := envInt("REBUILD_CLUSTER_EVENTS", 20_000)
	initial := eventgen.Stream(eventgen.Options{Products: n / 5, Events: n, Seed: 17, Discontinue: true})
	w.publish(t, initial)
	rate := envInt("REBUILD_LOAD_RATE", 400)
	hot, live := hotTail(initial, 8, rate*180)

	vt, store, vctl := views(t, rc)
	w.cleanupGroups(t, vt.Name())
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	fv := w.follow(t, vt, vctl, 1)
	w.waitCommitted(t, processors.GroupName(vt.Name(), 1), 5*time.Minute)

	q := &querier{views: productview.NewReader(store), ids: keys(foldViews(initial)), hot: hot}
	l := &loader{w: w, rate: rate}
	stopLoad, stopQueries := q.underLoad(t, l, live)

	cfg := w.config()
	cfg.Grace = time.Second
	cfg.CaughtUpLag = 200
	cfg.ProgressInterval = 2 * time.Second
	cfg.Logger = testLogger(t)
	cfg.Progress = func(p rebuild.Progress) { t.Log(p) }
	// The new generation trails the old one: a swap before the old one
	// stopped would show the query loops versions going back.
	r, err := rebuild.New(cfg, slowTarget(vt, 100*time.Millisecond), vctl)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	t.Logf("%s: g%d → g%d, %d records in %v, %d documents (log %d, live %d)",
		res.Projection, res.From, res.To, res.Records, res.Build.Round(time.Millisecond), res.Documents, res.Expected, res.LiveDocuments)
	if !res.Swapped || !res.OldRemoved || res.To != 2 {
		t.Fatalf("result %+v: want swapped to generation 2 and generation 1 removed", res)
	}

	q.pastSwap(t, stopLoad, stopQueries)
	if q.reads.Load() == 0 {
		t.Fatal("no reads")
	}

	if gen, err := vt.Live(ctx); err != nil || gen != 2 {
		t.Fatalf("live generation %d (err %v), want 2", gen, err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if g := fv.Runner().Config().Generation; g != 2 {
			return fmt.Errorf("follower runs generation %d", g)
		}
		return nil
	})
	if _, ok, err := vctl.Load(ctx); err != nil || ok {
		t.Fatalf("rebuild state still there (err %v)", err)
	}
	w.waitCommitted(t, processors.GroupName(vt.Name(), 2), 2*time.Minute)
	all := append(slices.Clone(initial), l.published...)
	checkViews(t, viewSnapshot(t, store, 2, keys(foldViews(all))), foldViews(all))
	if n, err := store.Count(ctx, 1); err != nil || n != 0 {
		t.Fatalf("generation 1 still holds %d views (err %v)", n, err)
	}
	// The documents of generation 2 are spread over every master.
	var mu sync.Mutex
	perMaster := map[string]int{}
	err = rc.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n := 0
		iter := m.Scan(ctx, 0, store.Prefix(2)+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		mu.Lock()
		perMaster[m.Options().Addr] = n
		mu.Unlock()
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(perMaster) < 3 {
		t.Errorf("documents on %d masters, want 3: %v", len(perMaster), perMaster)
	}
	for addr, n := range perMaster {
		if n == 0 {
			t.Errorf("master %s holds no document of generation 2: %v", addr, perMaster)
		}
	}
}
