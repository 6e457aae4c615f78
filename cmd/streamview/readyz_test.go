package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// switchDialer refuses every dial while down and closes the connections it
// made when it goes down: Kafka unreachable for one client only.
type switchDialer struct {
	down  atomic.Bool
	dials atomic.Int64
	mu    sync.Mutex
	conns []net.Conn
}

func (d *switchDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	if d.down.Load() {
		return nil, errors.New("connection refused (test)")
	}
	d.dials.Add(1)
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *switchDialer) cut() {
	d.down.Store(true)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

// TestReadyzKafkaClient: /readyz pings Kafka through one long-lived
// client: repeated calls dial no new connections, an unreachable cluster
// is named, and the same client sees it come back. A failing decider is
// named too.
func TestReadyzKafkaClient(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	d := &switchDialer{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.Dialer(d.dial))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var deciderErr atomic.Pointer[error]
	checks := readiness(stack{}, cl)[:1] // kafka only
	checks = append(checks, api.Check{Name: "decider", Check: func(context.Context) error {
		if p := deciderErr.Load(); p != nil {
			return *p
		}
		return nil
	}})
	srv := httptest.NewServer(api.New(api.Config{ReadyTimeout: 2 * time.Second}, api.Deps{Ready: checks}).Handler())
	defer srv.Close()
	readyz := func() (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Checks map[string]any `json:"checks"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body.Checks
	}

	if code, checks := readyz(); code != 200 || checks["kafka"] != "ok" || checks["decider"] != "ok" {
		t.Fatalf("readyz: %d %v", code, checks)
	}
	// The client may still open its connection to the broker it
	// discovers (besides the seed's); a client per call would dial each
	// time.
	dials := d.dials.Load()
	for range 20 {
		if code, _ := readyz(); code != 200 {
			t.Fatalf("readyz: %d", code)
		}
	}
	if n := d.dials.Load() - dials; n > 2 {
		t.Errorf("20 more /readyz dialled Kafka %d times: want the open connections reused", n)
	}

	d.cut()
	testenv.Eventually(t, time.Minute, func() error {
		if code, checks := readyz(); code != 503 || checks["kafka"] != "failing" {
			return testenv.Errorf("readyz while Kafka is unreachable: %d %v", code, checks)
		}
		return nil
	})
	d.down.Store(false)
	testenv.Eventually(t, time.Minute, func() error {
		if code, checks := readyz(); code != 200 {
			return testenv.Errorf("readyz once Kafka is back: %d %v", code, checks)
		}
		return nil
	})

	e := errors.New("decider: retrying since 2026-01-01T00:00:00Z (6 failed attempts in a row): no broker")
	deciderErr.Store(&e)
	if code, checks := readyz(); code != 503 || checks["decider"] != "failing" || checks["kafka"] != "ok" {
		t.Fatalf("readyz with a failing decider: %d %v", code, checks)
	}
}

// startListening runs a serving command (args), its output to logs, and
// returns its API's base URL once it listens (not once /readyz is 200, as
// waitListening does) and the channel of its end, which the test's
// cleanup drains.
func startListening(t *testing.T, args []string, logs io.Writer) (base string, done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done = make(chan error, 1)
	testReady = func(a string) { addrCh <- a }
	go func() { done <- runEnv(ctx, args, envOf(nil, logs, logs)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", args[0], err)
		}
		testReady = nil
	})
	select {
	case addr := <-addrCh:
		return "http://" + addr, done
	case err := <-done:
		done <- err
		t.Fatalf("%s stopped: %v", args[0], err)
	}
	return "", done
}

// TestServeWaitsForKafkaAtStart: a broker that is down when serve starts
// is waited for, as README "Run it securely" says: the API listens,
// /readyz names kafka, and once the broker is up commands are taken.
// (The API's results reader once stopped serve at its first failed
// listing: "commandbus: list end offsets …: unable to dial".)
func TestServeWaitsForKafkaAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	views := miniredis.RunT(t)
	var logs testenv.Buffer
	base, done := startListening(t, []string{"serve", "--roles", "api", "--brokers", fmt.Sprintf("127.0.0.1:%d", port),
		"--redis", views.Addr(), "--elasticsearch", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "--log-level", "warn"}, &logs)
	kafkaCheck := func() string {
		a := call(t, "GET", base+"/readyz", "")
		checks, _ := a.body["checks"].(map[string]any)
		s, _ := checks["kafka"].(string)
		return s
	}
	if s := kafkaCheck(); s != "failing" {
		t.Fatalf("readyz with the broker down: kafka %q, want failing", s)
	}
	// The results reader has tried the broker before it comes up.
	testenv.Eventually(t, time.Minute, func() error {
		if !strings.Contains(logs.String(), "client=api-results") {
			return errors.New("the API's results reader has not tried the broker yet")
		}
		return nil
	})
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(6, topics.Commands, topics.CommandResults))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	testenv.Eventually(t, time.Minute, func() error {
		select {
		case err := <-done:
			done <- err // for the cleanup, which waits for it too
			t.Fatalf("serve stopped with the broker down: %v", err)
		default:
		}
		if s := kafkaCheck(); s != "ok" {
			return fmt.Errorf("readyz: kafka %q", s)
		}
		return nil
	})
	a := call(t, "POST", base+"/v1/products", `{"name":"Late Lamp","description":"","price":{"amount":"9.99","currency":"EUR"},"categoryId":"lamps","categoryName":"Lamps","brandId":"lumen","brandName":"Lumen"}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("create once the broker is up: %d %v, want 202", a.status, a.body)
	}
}

// TestAPIOnlyReportsEveryProjection: GET /v1/projections of a serve that
// runs the API alone, or beside a projector of some projections, reports
// the projections that run elsewhere too, as `streamview projections`
// does. (It answered an empty list, then only its projector's.)
func TestAPIOnlyReportsEveryProjection(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topics.Commands, topics.CommandResults, topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	views := miniredis.RunT(t)
	store, err := redisview.New(newRedis(views.Addr()), redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsureLive(t.Context(), 1); err != nil { // as a projector elsewhere did
		t.Fatal(err)
	}
	// An API-only serve, and one whose projector runs a subset (it once
	// reported only that subset).
	for _, roles := range [][]string{{"serve", "--roles", "api"}, {"serve", "--roles", "api,projector", "--projections", historyProjection}} {
		base, _ := startListening(t, append(roles, "--brokers", strings.Join(cluster.ListenAddrs(), ","),
			"--redis", views.Addr(), "--elasticsearch", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "--log-level", "error"), io.Discard)
		a := call(t, "GET", base+"/v1/projections", "")
		list, _ := a.body["projections"].([]any)
		got := map[string]string{}
		for _, e := range list {
			m, _ := e.(map[string]any)
			got[fmt.Sprint(m["projection"])] = fmt.Sprint(m["state"])
		}
		want := map[string]string{productview.Name: "live", historyProjection: "live", searchProjection: "unreachable"}
		if a.status != http.StatusOK || !maps.Equal(got, want) {
			t.Fatalf("GET /v1/projections of serve %v: %d %v, want %v", roles, a.status, got, want)
		}
	}
}

// TestReadyzNamesALostLiveGeneration: a Redis emptied under the deployment
// (restarted without persistence) leaves the views without a live
// generation, and every view read a 503: /readyz says so and names the
// replay. Before any projector made one live, it does not fail.
func TestReadyzNamesALostLiveGeneration(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topics.Commands, topics.CommandResults, topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	views := miniredis.RunT(t)
	base, _ := startListening(t, []string{"serve", "--roles", "api", "--brokers", strings.Join(cluster.ListenAddrs(), ","),
		"--redis", views.Addr(), "--elasticsearch", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard)
	viewCheck := func() (string, string) {
		a := call(t, "GET", base+"/readyz", "")
		checks, _ := a.body["checks"].(map[string]any)
		s, _ := checks[productview.Name].(string)
		return s, fmt.Sprint(a.body["errors"])
	}
	if s, _ := viewCheck(); s != "ok" {
		t.Fatalf("readyz before any live generation: product-view %q, want ok (a start, not a loss)", s)
	}
	// A refill under way, which this instance started too late to see
	// the loss of (it said ok while every read answered 503).
	rc := newRedis(views.Addr())
	epoch, err := redisview.Epoch(t.Context(), rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.HSet(t.Context(), "sv:product-view:refill", "epoch", epoch, "generation", 1, "ends", "0=10").Err(); err != nil {
		t.Fatal(err)
	}
	if s, errs := viewCheck(); s != "failing" || !strings.Contains(errs, "reads the log again") {
		t.Fatalf("readyz during a refill: product-view %q (%s), want failing, naming the refill", s, errs)
	}
	// The history index's refill: its reads answer 503 until it is done
	// (they answered a history cut short, or 404 for products that exist).
	if err := rc.HSet(t.Context(), "sv:product-history:refill", "epoch", epoch, "generation", 1, "ends", "0=10", "done", 0).Err(); err != nil {
		t.Fatal(err)
	}
	history := base + "/v1/products/" + commandbus.NewID() + "/events"
	if a := call(t, "GET", history, ""); a.status != http.StatusServiceUnavailable {
		t.Fatalf("GET a history during its refill: %d %v, want 503", a.status, a.body)
	}
	if err := rc.HSet(t.Context(), "sv:product-history:refill", "done", 1).Err(); err != nil {
		t.Fatal(err)
	}
	// Where the index ends a history, the view says whether it ends
	// there: without a live generation it cannot, still a 503.
	if a := call(t, "GET", history, ""); a.status != http.StatusServiceUnavailable {
		t.Fatalf("GET a history while the view has no live generation: %d %v, want 503", a.status, a.body)
	}
	store, err := redisview.New(rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsureLive(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if s, _ := viewCheck(); s != "ok" {
		t.Fatalf("readyz with a live generation: product-view %q", s)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if a := call(t, "GET", history, ""); a.status != http.StatusNotFound {
			return fmt.Errorf("GET a history of an unknown product after the refills: %d, want 404", a.status)
		}
		return nil
	})
	views.FlushAll()
	if s, errs := viewCheck(); s != "failing" || !strings.Contains(errs, "streamview replay --projection product-view") {
		t.Fatalf("readyz after Redis was emptied: product-view %q (%s), want failing, naming the replay", s, errs)
	}
}

// fakeLog is an in-process broker with serve's topics, a client of it and
// a publisher of events to it.
type fakeLog struct {
	cluster *kfake.Cluster
	cl      *kgo.Client
	pub     *producers.Publisher
}

func newFakeLog(t *testing.T) fakeLog {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topics.Commands, topics.CommandResults, topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return fakeLog{cluster: cluster, cl: cl, pub: producers.NewPublisher(cl, codec, topics.Events)}
}

// foldsOf is the view of each product of events, folded.
func foldsOf(events []schemas.Event) map[string]productview.View {
	out := map[string]productview.View{}
	for _, e := range events {
		out[e.AggregateID] = productview.Fold(out[e.AggregateID], e)
	}
	return out
}

// liveEqualsFolds checks that the live generation of store holds want.
func liveEqualsFolds(ctx context.Context, store *redisview.Store, want map[string]productview.View) error {
	gen, err := store.Live(ctx)
	if err != nil {
		return err
	}
	for id, w := range want {
		got, found, err := productview.NewReader(store).GetAt(ctx, gen, id)
		if err != nil || !found {
			return fmt.Errorf("view %s: found %v, %v", id, found, err)
		}
		if !reflect.DeepEqual(got, w) {
			return fmt.Errorf("view %s is not the fold of its events:\n got %+v\nwant %+v", id, got, w)
		}
	}
	return nil
}

// TestServeRefillsALostRedis: serve started on a Redis that lost its data
// (restarted without persistence), while the projection groups have their
// offsets at the end of the log, reads the log again: views and histories
// of products in the log answer. (They answered 404 for good, /readyz
// passing.) Also when a rebuild had moved the view to generation 2 (the
// start looked at generation 1's group only, and the histories stayed
// empty), and when Redis answers only after serve has started (the start
// checked once, for 2 s, and went on from the old offsets).
func TestServeRefillsALostRedis(t *testing.T) {
	for _, tc := range []struct {
		name    string
		viewGen int
		late    bool // Redis starts after serve
	}{
		{"generation 1", 1, false},
		{"generation 2", 2, false},
		{"redis late", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := newFakeLog(t)
			cluster, cl := fl.cluster, fl.cl
			events := eventgen.Stream(eventgen.Options{Products: 20, Events: 100, Seed: 21})
			if _, err := fl.pub.Publish(t.Context(), events...); err != nil {
				t.Fatal(err)
			}
			// The projectors of a Redis now lost had read it all.
			adm := kadm.NewClient(cl)
			ends, err := adm.ListEndOffsets(t.Context(), topics.Events)
			if err != nil {
				t.Fatal(err)
			}
			for _, group := range []string{processors.GroupName(productview.Name, tc.viewGen), processors.GroupName(historyProjection, 1)} {
				if err := adm.CommitAllOffsets(t.Context(), group, ends.Offsets()); err != nil {
					t.Fatal(err)
				}
			}
			views := miniredis.NewMiniRedis()
			addr := "127.0.0.1:0"
			if tc.late {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr = l.Addr().String()
				l.Close()
			} else if err := views.StartAddr(addr); err != nil {
				t.Fatal(err)
			} else {
				addr = views.Addr()
			}
			defer views.Close()
			base, _ := startListening(t, []string{"serve", "--roles", "api,projector", "--projections", "product-view,product-history",
				"--brokers", strings.Join(cluster.ListenAddrs(), ","), "--redis", addr, "--elasticsearch", "http://127.0.0.1:1",
				"--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard)
			if tc.late {
				if err := views.StartAddr(addr); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range []string{events[0].AggregateID, events[len(events)-1].AggregateID} {
				testenv.Eventually(t, time.Minute, func() error {
					for _, path := range []string{"/v1/products/" + id, "/v1/products/" + id + "/events"} {
						if a := call(t, "GET", base+path, ""); a.status != http.StatusOK {
							return fmt.Errorf("GET %s: %d", path, a.status)
						}
					}
					return nil
				})
			}
		})
	}
}

// TestServeRefillsRedisEmptiedUnderIt: a Redis emptied under a running
// serve (FLUSHALL; a restart without persistence looks the same) is read
// again from the log by the running projectors, without a restart: every
// view ends equal to the fold of its product's events, histories list
// every event, and /readyz passes again. Events published right after the
// loss reach the processor before its follower notices: what it wrote
// then is emptied before the log is read again, or those products would
// keep only their latest fields. (The view answered 503 and /readyz
// failed until serve was restarted.)
func TestServeRefillsRedisEmptiedUnderIt(t *testing.T) {
	events := eventgen.Stream(eventgen.Options{Products: 40, Events: 2000, Seed: 27})
	before, after := events[:1500], events[1500:]
	base, mr, pub, store := serveOnMiniredis(t, before)
	folds := foldsOf
	equalFolds := func(want map[string]productview.View) error { return liveEqualsFolds(t.Context(), store, want) }
	viewCheck := func() string { // Elasticsearch is down: the view's check only
		checks, _ := call(t, "GET", base+"/readyz", "").body["checks"].(map[string]any)
		s, _ := checks[productview.Name].(string)
		return s
	}
	testenv.Eventually(t, time.Minute, func() error { return equalFolds(folds(before)) })
	if s := viewCheck(); s != "ok" {
		t.Fatalf("readyz before the loss: product-view %q", s)
	}

	mr.FlushAll()
	if _, err := pub.Publish(t.Context(), after...); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error { return equalFolds(folds(events)) })
	perProduct := map[string]int{}
	for _, e := range events {
		perProduct[e.AggregateID]++
	}
	id := events[0].AggregateID
	testenv.Eventually(t, time.Minute, func() error {
		a := call(t, "GET", base+"/v1/products/"+id+"/events?limit=1000", "")
		if evs, _ := a.body["events"].([]any); a.status != http.StatusOK || len(evs) != perProduct[id] {
			return fmt.Errorf("history of %s: %d, %d events, want %d", id, a.status, len(evs), perProduct[id])
		}
		return nil
	})
	if s := viewCheck(); s != "ok" {
		t.Fatalf("readyz after the refill: product-view %q", s)
	}
}

// TestServeSeesRedisGoBackInTime: a Redis back from an older snapshot
// (RDB after a crash, a failover to a lagging replica) keeps its epoch but
// not the writes since. Its clock (redisview.ClockKey) goes back with it:
// the running projectors see the loss and read the log again, and every
// view and history is whole again. (Nothing noticed: the products written
// after the snapshot stayed missing, for good.)
func TestServeSeesRedisGoBackInTime(t *testing.T) {
	events := eventgen.Stream(eventgen.Options{Products: 40, Events: 1200, Seed: 29})
	before, after := events[:800], events[800:]
	base, mr, pub, store := serveOnMiniredis(t, before)
	equalFolds := func(want map[string]productview.View) error { return liveEqualsFolds(t.Context(), store, want) }
	testenv.Eventually(t, time.Minute, func() error { return equalFolds(foldsOf(before)) })
	snapshot, err := mr.Get(redisview.ClockKey) // the clock when the snapshot was taken
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(t.Context(), after...); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error { return equalFolds(foldsOf(events)) })
	// Let the readers see the clock move past the snapshot's.
	testenv.Eventually(t, 10*time.Second, func() error {
		now, _ := mr.Get(redisview.ClockKey)
		if n, s := atoi(now), atoi(snapshot); n <= s+1 {
			return fmt.Errorf("%s at %d, the snapshot's %d", redisview.ClockKey, n, s)
		}
		return nil
	})

	// Back to the snapshot: what was written of some products since is
	// gone (here all of it), the clock is the snapshot's, the epoch kept.
	seen := map[string]bool{}
	var gone []string
	for _, e := range after {
		if !seen[e.AggregateID] && len(gone) < 5 {
			seen[e.AggregateID] = true
			gone = append(gone, e.AggregateID)
		}
	}
	for _, k := range mr.Keys() {
		for _, id := range gone {
			if strings.Contains(k, id) {
				mr.Del(k)
			}
		}
	}
	mr.Set(redisview.ClockKey, snapshot)

	testenv.Eventually(t, time.Minute, func() error { return equalFolds(foldsOf(events)) })
	perProduct := map[string]int{}
	for _, e := range events {
		perProduct[e.AggregateID]++
	}
	id := gone[0]
	testenv.Eventually(t, time.Minute, func() error {
		a := call(t, "GET", base+"/v1/products/"+id+"/events?limit=1000", "")
		if evs, _ := a.body["events"].([]any); a.status != http.StatusOK || len(evs) != perProduct[id] {
			return fmt.Errorf("history of %s: %d, %d events, want %d", id, a.status, len(evs), perProduct[id])
		}
		return nil
	})
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// serveOnMiniredis publishes events to an in-process broker and starts a
// serve projecting product-view and product-history into a Redis of its
// own (Elasticsearch down), whose data a test may take away.
func serveOnMiniredis(t *testing.T, events []schemas.Event) (base string, mr *miniredis.Miniredis, pub *producers.Publisher, store *redisview.Store) {
	t.Helper()
	fl := newFakeLog(t)
	if _, err := fl.pub.Publish(t.Context(), events...); err != nil {
		t.Fatal(err)
	}
	mr = miniredis.RunT(t)
	base, _ = startListening(t, []string{"serve", "--roles", "api,projector", "--projections", "product-view,product-history",
		"--brokers", strings.Join(fl.cluster.ListenAddrs(), ","), "--redis", mr.Addr(), "--elasticsearch", "http://127.0.0.1:1",
		"--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard)
	store, err := redisview.New(newRedis(mr.Addr()), redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	return base, mr, fl.pub, store
}
