package rebuild_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("REBUILD_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// follow runs what serve's projector role runs for target: a Follower that
// starts on generation gen. tweak, when given, changes its config.
func (w *world) follow(t testing.TB, target rebuild.Target, control *rebuild.Control, gen int, tweak ...func(*rebuild.FollowerConfig)) *rebuild.Follower {
	t.Helper()
	cfg := rebuild.FollowerConfig{
		Control: control,
		Live:    target.Live,
		Runner:  func(gen int) (*processors.Runner, error) { return w.processor(t, target, gen), nil },
		Poll:    100 * time.Millisecond,
		Logger:  testLogger(t),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	f, err := rebuild.NewFollower(cfg, w.processor(t, target, gen))
	if err != nil {
		t.Fatal(err)
	}
	background(t, "follower of "+target.Name(), f.Run)
	return f
}

// querier reads products through the live pointers the whole time and
// remembers every failure: an error, a product not found that exists, or a
// version older than one seen before.
type querier struct {
	views *productview.Reader
	es    *elasticsearch.Client
	alias string
	ids   []string
	// hot are products that change all the time: half the reads go there.
	hot   []string
	mu    sync.Mutex
	fails []string
	reads atomic.Int64
}

func (q *querier) fail(format string, args ...any) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.fails) < 20 {
		q.fails = append(q.fails, fmt.Sprintf(format, args...))
	}
}

// saw checks a read against the reads before it of the same loop: reads
// of two loops running side by side are not ordered.
// underLoad starts l publishing events and three query loops of q, and
// returns once both are under way, with their stop functions.
func (q *querier) underLoad(t *testing.T, l *loader, events []schemas.Event) (stopLoad, stopQueries func()) {
	t.Helper()
	var stops []func()
	for i := range 3 {
		stops = append(stops, background(t, "query loop", func(ctx context.Context) error { return q.run(ctx, uint64(i)) }))
	}
	stopQueries = func() {
		for _, stop := range stops {
			stop()
		}
	}
	stopLoad = background(t, "load", func(ctx context.Context) error { return l.run(ctx, events) })
	testenv.Eventually(t, 30*time.Second, func() error {
		if q.reads.Load() < 50 || l.count() < l.rate {
			return errors.New("load and queries not yet under way")
		}
		return nil
	})
	return stopLoad, stopQueries
}

// pastSwap keeps the load and the query loops running for 200 more reads
// after a swap, stops them, and fails t for every failure the loops saw.
func (q *querier) pastSwap(t *testing.T, stopLoad, stopQueries func()) {
	t.Helper()
	reads := q.reads.Load()
	testenv.Eventually(t, 30*time.Second, func() error {
		if q.reads.Load() < reads+200 {
			return errors.New("few queries since the swap")
		}
		return nil
	})
	stopLoad()
	stopQueries()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.fails) > 0 {
		t.Errorf("the query loops saw %d failures in %d reads: %v", len(q.fails), q.reads.Load(), q.fails)
	}
}

func (q *querier) saw(seen map[string]int64, key string, version int64) {
	if prev := seen[key]; version < prev {
		q.fail("%s: version %d after %d", key, version, prev)
	} else {
		seen[key] = version
	}
}

func (q *querier) run(ctx context.Context, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2))
	seen := map[string]int64{} // "v/"+id or "s/"+id → highest version seen
	for ctx.Err() == nil {
		id := q.ids[r.IntN(len(q.ids))]
		if len(q.hot) > 0 && r.IntN(2) == 0 {
			id = q.hot[r.IntN(len(q.hot))]
		}
		if q.views != nil {
			v, found, err := q.views.Get(ctx, id)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				q.fail("view %s: %v", id, err)
			case !found:
				q.fail("view %s: not found", id)
			default:
				q.saw(seen, "v/"+id, v.Version)
			}
		}
		if q.es != nil {
			version, found, err := q.searchDoc(ctx, id)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				q.fail("search document %s: %v", id, err)
			case !found:
				q.fail("search document %s: not found", id)
			default:
				q.saw(seen, "s/"+id, version)
			}
		}
		q.reads.Add(1)
	}
	return nil
}

// searchDoc reads a product's document through the alias, realtime.
func (q *querier) searchDoc(ctx context.Context, id string) (int64, bool, error) {
	res, err := q.es.Get(q.alias, id, q.es.Get.WithContext(ctx))
	if err != nil {
		return 0, false, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		var body struct {
			Found *bool `json:"found"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		if body.Found == nil {
			return 0, false, fmt.Errorf("404 without a document answer (no index behind %s?)", q.alias)
		}
		return 0, false, nil
	}
	if res.IsError() {
		return 0, false, errors.New(res.String())
	}
	var body struct {
		Source struct {
			Version int64 `json:"version"`
		} `json:"_source"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return 0, false, err
	}
	return body.Source.Version, true, nil
}

// loader publishes events at a steady rate and records when each batch was
// acknowledged.
type loader struct {
	w         *world
	rate      int // events per second
	mu        sync.Mutex
	published []schemas.Event
	acks      []time.Time
}

func (l *loader) run(ctx context.Context, events []schemas.Event) error {
	const tick = 20 * time.Millisecond
	per := max(1, l.rate*int(tick)/int(time.Second))
	t := time.NewTicker(tick)
	defer t.Stop()
	for len(events) > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n := min(per, len(events))
		if _, err := l.w.pub.Publish(ctx, events[:n]...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		l.mu.Lock()
		l.published = append(l.published, events[:n]...)
		l.acks = append(l.acks, time.Now())
		l.mu.Unlock()
		events = events[n:]
	}
	return errors.New("ran out of events to publish before the test ended")
}

func (l *loader) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.published)
}

// steadiness is the longest pause between acknowledged batches and the
// fewest events published in any whole second.
func (l *loader) steadiness() (maxGap time.Duration, minPerSec, maxPerSec int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.acks) < 2 {
		return 0, 0, 0
	}
	perSec := map[int64]int{}
	first := l.acks[0]
	for i, a := range l.acks {
		if i > 0 {
			maxGap = max(maxGap, a.Sub(l.acks[i-1]))
		}
		perSec[int64(a.Sub(first)/time.Second)]++
	}
	last := int64(l.acks[len(l.acks)-1].Sub(first) / time.Second)
	minPerSec = 1 << 30
	for s := int64(0); s < last; s++ { // whole seconds only
		minPerSec = min(minPerSec, perSec[s])
		maxPerSec = max(maxPerSec, perSec[s])
	}
	per := max(1, l.rate*20/1000)
	return maxGap, minPerSec * per, maxPerSec * per
}

// hotTail continues initial with n events on a few products that are not
// discontinued: stock changes and reviews, so that each of them changes
// every few milliseconds under load. It returns their IDs and the events.
func hotTail(initial []schemas.Event, products, n int) ([]string, []schemas.Event) {
	views := foldViews(initial)
	var hot []string
	var cont []eventgen.Continued
	for _, id := range slices.Sorted(maps.Keys(views)) {
		if v := views[id]; !v.Discontinued && len(hot) < products {
			hot = append(hot, id)
			cont = append(cont, eventgen.Continued{ID: id, Version: v.Version, Stock: v.Stock})
		}
	}
	return hot, eventgen.Stream(eventgen.Options{
		Continue: cont, Events: n, Seed: 3, Start: initial[len(initial)-1].Timestamp,
		Mix: eventgen.Mix{Stock: 1, Review: 1},
	})
}

// slowTarget is target with every write of the generations it builds
// delayed.
func slowTarget(target rebuild.Target, delay time.Duration) rebuild.Target {
	inner := target.Projection
	target.Projection = func(gen int) (processors.Projection, error) {
		p, err := inner(gen)
		return slowProjection{p, delay}, err
	}
	return target
}

type slowProjection struct {
	processors.Projection
	delay time.Duration
}

func (s slowProjection) Apply(ctx context.Context, batch []schemas.Event) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(s.delay):
	}
	return s.Projection.Apply(ctx, batch)
}

// Both projections are rebuilt while events flow in at a steady rate and a
// query loop reads through the live pointers: the loop never sees an
// error, a product missing or a version going back; after the swap every
// view is the fold of the whole log and generation 1 is gone.
func TestRebuildUnderLoad(t *testing.T) {
	w := newWorld(t, testenv.Kafka(t))
	rc := redistest.RealRedis(t)
	ec := esClient(t)
	ctx := context.Background()

	n := envInt("REBUILD_LOAD_EVENTS", 30_000)
	initial := eventgen.Stream(eventgen.Options{Products: n / 5, Events: n, Seed: 11, Discontinue: true})
	w.publish(t, initial)
	rate := envInt("REBUILD_LOAD_RATE", 400)
	hot, live := hotTail(initial, 8, rate*180)

	vt, store, vctl := views(t, rc)
	st, sg, sctl := search(t, ec, rc)
	w.cleanupGroups(t, vt.Name())
	w.cleanupGroups(t, st.Name())
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	fv := w.follow(t, vt, vctl, 1)
	fs := w.follow(t, st, sctl, 1)
	w.waitCommitted(t, processors.GroupName(vt.Name(), 1), 5*time.Minute)
	w.waitCommitted(t, processors.GroupName(st.Name(), 1), 5*time.Minute)

	ix, _ := sg.Index(1)
	q := &querier{views: productview.NewReader(store), es: ec, alias: ix.Alias(), ids: keys(foldViews(initial)), hot: hot}
	l := &loader{w: w, rate: rate}
	// The load settles before the rebuilds start.
	stopLoad, stopQueries := q.underLoad(t, l, live)

	var wg sync.WaitGroup
	results := make([]rebuild.Result, 2)
	errs := make([]error, 2)
	for i, tc := range []struct {
		target  rebuild.Target
		control *rebuild.Control
	}{{vt, vctl}, {st, sctl}} {
		// The new generation writes each batch late, so that it trails the
		// old one by that much: a swap that did not stop the old one first
		// would let the query loop see versions go back.
		slow := slowTarget(tc.target, 100*time.Millisecond)
		cfg := w.config()
		cfg.Grace = time.Second // for queries that read the old pointer just before the swap
		cfg.CaughtUpLag = 200
		cfg.ProgressInterval = 2 * time.Second
		cfg.Logger = testLogger(t)
		cfg.Progress = func(p rebuild.Progress) { t.Log(p) }
		r, err := rebuild.New(cfg, slow, tc.control)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Run(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("rebuild %d: %v", i, err)
		}
		r := results[i]
		t.Logf("%s: g%d → g%d, %d records in %v (%.0f records/s), %d documents (log %d, live %d), in all %v",
			r.Projection, r.From, r.To, r.Records, r.Build.Round(time.Millisecond), r.Rate(), r.Documents, r.Expected, r.LiveDocuments, r.Elapsed.Round(time.Millisecond))
		if !r.Swapped || !r.OldRemoved || r.To != 2 {
			t.Fatalf("result %+v: want swapped to generation 2 and generation 1 removed", r)
		}
	}

	// Keep loading and querying a little past the swap.
	q.pastSwap(t, stopLoad, stopQueries)
	gap, minRate, maxRate := l.steadiness()
	t.Logf("load: %d events at %d/s target: longest pause %v, %d–%d events per second; %d reads by the query loop",
		len(l.published), l.rate, gap.Round(time.Millisecond), minRate, maxRate, q.reads.Load())
	if gap > 3*time.Second {
		t.Errorf("publishing paused for %v during the rebuild", gap)
	}

	// The followers moved; generation 1 is gone; views are the fold.
	for _, c := range []struct {
		f    *rebuild.Follower
		t    rebuild.Target
		ctl  *rebuild.Control
		name string
	}{{fv, vt, vctl, "views"}, {fs, st, sctl, "search"}} {
		if gen, err := c.t.Live(ctx); err != nil || gen != 2 {
			t.Fatalf("%s: live generation %d (err %v), want 2", c.name, gen, err)
		}
		testenv.Eventually(t, 10*time.Second, func() error {
			if g := c.f.Runner().Config().Generation; g != 2 {
				return fmt.Errorf("%s follower runs generation %d", c.name, g)
			}
			return nil
		})
		if _, ok, err := c.ctl.Load(ctx); err != nil || ok {
			t.Fatalf("%s: rebuild state still there (err %v)", c.name, err)
		}
		described, err := w.adm.DescribeGroups(ctx, processors.GroupName(c.t.Name(), 1))
		if err != nil {
			t.Fatal(err)
		}
		if g := described[processors.GroupName(c.t.Name(), 1)]; g.Err == nil && g.State != "Dead" {
			t.Fatalf("%s: group of generation 1 still there: %s with %d members", c.name, g.State, len(g.Members))
		}
		w.waitCommitted(t, processors.GroupName(c.t.Name(), 2), 2*time.Minute)
	}
	all := append(slices.Clone(initial), l.published...)
	ids := keys(foldViews(all))
	checkViews(t, viewSnapshot(t, store, 2, ids), foldViews(all))
	checkDocs(t, docSnapshot(t, ec, sg, 2, ids), foldDocs(all))
	if n, err := store.Count(ctx, 1); err != nil || n != 0 {
		t.Fatalf("generation 1 still holds %d views (err %v)", n, err)
	}
	if indexExists(t, ec, ix.IndexName(1)) {
		t.Fatalf("index %s still exists", ix.IndexName(1))
	}
}

// A rebuild killed halfway leaves the live generation serving and
// untouched; started again it continues where it stopped; a second one,
// killed, is abandoned with Abort, which removes all it made.
func TestRebuildKilled(t *testing.T) {
	w := newWorld(t, testenv.Kafka(t))
	rc := redistest.RealRedis(t)
	ec := esClient(t)
	ctx := context.Background()
	events := eventgen.Stream(eventgen.Options{Products: 3000, Events: envInt("REBUILD_KILL_EVENTS", 40_000), Seed: 5, Discontinue: true})
	w.publish(t, events)

	vt, store, vctl := views(t, rc)
	st, sg, sctl := search(t, ec, rc)
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		target  rebuild.Target
		control *rebuild.Control
		// snapshot reads every document of a generation.
		snapshot func(gen int) any
		gone     func(gen int) bool
	}{
		{"views", vt, vctl,
			func(gen int) any { return viewSnapshot(t, store, gen, keys(foldViews(events))) },
			func(gen int) bool { n, err := store.Count(ctx, gen); return err == nil && n == 0 }},
		{"search", st, sctl,
			func(gen int) any { return docSnapshot(t, ec, sg, gen, keys(foldViews(events))) },
			func(gen int) bool { ix, _ := sg.Index(gen); return !indexExists(t, ec, ix.IndexName(gen)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w.cleanupGroups(t, c.target.Name())
			f := w.follow(t, c.target, c.control, 1)
			w.waitCommitted(t, processors.GroupName(c.target.Name(), 1), 5*time.Minute)
			before := c.snapshot(1)

			// killed rebuilds the generation after live, once a third is done.
			killed := func(wantGen int) {
				t.Helper()
				kctx, kill := context.WithCancel(ctx)
				defer kill()
				cfg := w.config()
				cfg.MaxBatch = 300
				// The kill comes from the projection, at the batch that
				// would take it past a third of the events, which it does
				// not apply: work is left however fast the rebuild runs (a
				// kill from the progress ticker came too late under load).
				target, seen := c.target, new(atomic.Int64)
				target.Projection = func(gen int) (processors.Projection, error) {
					p, err := c.target.Projection(gen)
					return stopper{inner: p, seen: seen, at: int64(len(events) / 3), kill: kill}, err
				}
				r, err := rebuild.New(cfg, target, c.control)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.Run(kctx); !errors.Is(err, context.Canceled) {
					t.Fatalf("killed rebuild = %v, want context.Canceled", err)
				}
				s, ok, err := c.control.Load(ctx)
				if err != nil || !ok || s.Generation != wantGen || s.Phase != rebuild.Building {
					t.Fatalf("state after the kill = %+v, %v, %v; want building generation %d", s, ok, err, wantGen)
				}
				live := wantGen - 1
				if gen, err := c.target.Live(ctx); err != nil || gen != live {
					t.Fatalf("live generation %d (err %v) after the kill, want %d", gen, err, live)
				}
				if g := f.Runner().Config().Generation; g != live {
					t.Fatalf("the follower runs generation %d after the kill, want %d", g, live)
				}
				if !reflect.DeepEqual(c.snapshot(live), before) {
					t.Fatalf("the live generation changed under a killed rebuild")
				}
			}

			killed(2)
			r, err := rebuild.New(w.config(), c.target, c.control)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(ctx)
			if err != nil {
				t.Fatalf("resumed rebuild: %v", err)
			}
			t.Logf("resumed: %+v", res)
			if !res.Resumed || res.Records >= int64(len(events)) || res.Records == 0 || !res.Swapped || res.To != 2 {
				t.Fatalf("resumed rebuild = %+v; want it resumed, swapped to 2, reading only what was left", res)
			}
			if after := c.snapshot(2); !reflect.DeepEqual(after, before) {
				t.Fatalf("generation 2 differs from generation 1")
			}
			if !c.gone(1) {
				t.Fatal("generation 1 is still there")
			}
			testenv.Eventually(t, 10*time.Second, func() error {
				if g := f.Runner().Config().Generation; g != 2 {
					return fmt.Errorf("the follower runs generation %d", g)
				}
				return nil
			})

			killed(3)
			ab, err := r.Abort(ctx)
			if err != nil {
				t.Fatalf("abort: %v", err)
			}
			if ab.Generation != 3 || !ab.Recorded || !ab.Group || !ab.Documents {
				t.Fatalf("abort = %+v; want generation 3's state, group and documents removed", ab)
			}
			if _, ok, _ := c.control.Load(ctx); ok {
				t.Fatal("state still there after the abort")
			}
			if ms, err := w.adm.DescribeGroups(ctx, processors.GroupName(c.target.Name(), 3)); err != nil {
				t.Fatal(err)
			} else if g := ms[processors.GroupName(c.target.Name(), 3)]; g.Err == nil && g.State != "Dead" {
				t.Fatalf("group of generation 3 still there: %s", g.State)
			}
			if !c.gone(3) {
				t.Fatal("generation 3's documents are still there")
			}
			if gen, _ := c.target.Live(ctx); gen != 2 {
				t.Fatalf("live generation %d after the abort, want 2", gen)
			}
			if again, err := r.Abort(ctx); err != nil || again.Group || again.Documents || again.Recorded {
				t.Fatalf("second abort = %+v, %v; want nothing to do", again, err)
			}
		})
	}
}

// stopper is a projection that kills its rebuild when handed the batch
// that would take it past at events, and does not apply that batch. It
// forwards what the runtime asks of the projection it wraps.
type stopper struct {
	inner processors.Projection
	seen  *atomic.Int64
	at    int64
	kill  context.CancelFunc
}

func (s stopper) Aggregates() []string {
	if ap, ok := s.inner.(processors.AggregateProjection); ok {
		return ap.Aggregates()
	}
	return nil
}

func (s stopper) Apply(ctx context.Context, batch []schemas.Event) error {
	return s.through(ctx, batch, func() error { return s.inner.Apply(ctx, batch) })
}

func (s stopper) ApplyAt(ctx context.Context, batch []schemas.Event, partition int32, offsets []int64) error {
	return s.through(ctx, batch, func() error { return processors.ApplyAt(ctx, s.inner, batch, partition, offsets) })
}

func (s stopper) Forget(partition int32) { processors.Forget(s.inner, partition) }

func (s stopper) through(ctx context.Context, batch []schemas.Event, apply func() error) error {
	if s.seen.Add(int64(len(batch))) > s.at {
		s.kill()
		<-ctx.Done()
		return ctx.Err()
	}
	return apply()
}
