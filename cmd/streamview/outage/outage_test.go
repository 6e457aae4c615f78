package outage

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/netcut"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/topics"
)

// outageFor is how long Kafka and Elasticsearch stay out.
const outageFor = 30 * time.Second

// TestOutagesUnderLoad runs one `streamview serve` (all roles) on servers
// of its own under ~200 commands/s through the HTTP API (creates, price
// and stock changes, reviews, each with an Idempotency-Key, a third with
// Prefer: wait) plus view reads and searches, through five outages in a
// row: the Kafka broker stopped for 30 s and started again, Redis
// restarted, Redis emptied (its data lost under serve), Elasticsearch
// stopped for 30 s and started again, and
// Elasticsearch blackholed for 30 s (accepts, never answers).
//
// During each, every answer is a documented one within its configured
// bound, never a hang (see checkAnswers); the requests that need the part
// that is out get 503 + Retry-After (commands while Kafka is out, views
// while Redis is, searches while Elasticsearch is) while the others keep
// answering (views while Elasticsearch is out, searches while Redis is,
// commands while either is); and /readyz names the part. After each, the load stops, a sample of the
// 503'd commands is retried with their keys (and must be taken), and the
// whole run's log and stores are checked exactly (see checkLog and
// checkStores): every command the API took decided once, every view and
// search document the fold of its product's events, versions gap-free.
func TestOutagesUnderLoad(t *testing.T) {
	needScripts(t)
	w := newWorld(t)
	for _, sc := range []struct {
		name   string
		outage func(t *testing.T, w *world, l *load)
	}{
		{"kafka stopped 30s", kafkaStopped},
		{"redis restarted", redisRestarted},
		{"redis emptied", redisEmptied},
		{"elasticsearch stopped 30s", elasticsearchStopped},
		{"elasticsearch blackholed 30s", elasticsearchBlackholed},
	} {
		if !t.Run(sc.name, func(t *testing.T) { w.scenario(t, sc.outage) }) {
			// A scenario that failed leaves the service in a state the
			// next ones would only report again.
			return
		}
	}
}

// newWorld starts the servers, builds and starts serve through an
// Elasticsearch proxy (the blackhole), and creates the seed products.
func newWorld(t *testing.T) *world {
	start := time.Now()
	root := repoRoot(t)
	w := &world{bin: buildStreamview(t, root), base: "http://" + apiAddr, created: map[string]bool{}}
	w.svc = startServices(t)
	runCLI(t, w.bin, "topics", "apply", "--brokers", kafkaAddr, "--file", filepath.Join(root, "topics.yaml"))

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	w.adm = kadm.NewClient(cl)
	// The run's records start at today's ends: the servers may be reused
	// (STREAMVIEW_OUTAGE_KEEP) and hold earlier runs'.
	w.from = map[string]map[int32]int64{}
	for _, topic := range []string{topics.Commands, topics.CommandResults, topics.Events} {
		ends, err := w.adm.ListEndOffsets(context.Background(), topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatalf("end offsets of %s: %v", topic, err)
		}
		w.from[topic] = map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) { w.from[topic][o.Partition] = o.Offset })
	}
	w.rc = redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { w.rc.Close() })
	if w.es, err = elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{esURL}}); err != nil {
		t.Fatal(err)
	}

	proxy, err := netcut.New("127.0.0.1:" + esPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	w.esProxy = proxy
	w.serve = startServe(t, w.bin, "--brokers", kafkaAddr, "--redis", redisAddr, "--elasticsearch", "http://"+proxy.Addr(),
		"--addr", apiAddr, "--log-level", "warn", "--query-timeout", queryTimeout.String(), "--delivery-timeout", deliveryTimeout.String())
	waitReady(t, w.base, w.serve)

	w.load = &load{base: w.base, run: fmt.Sprintf("outage-%d", time.Now().UnixNano())}
	w.seed(t, 100)
	t.Logf("world ready in %v: serve on %s, %d seed products", time.Since(start).Round(time.Second), w.base, len(w.load.seeds))
	return w
}

// seed creates n products and waits until each is in the view, so that
// the load's updates and reads have targets.
func (w *world) seed(t *testing.T, n int) {
	t.Helper()
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 10)
	)
	for i := range n {
		id := newUUID()
		o := &outcome{kind: kindCreate, method: http.MethodPost, path: "/v1/products", body: createBody(id, rnd),
			key: fmt.Sprintf("%s-seed-%d", w.load.run, i), productID: id}
		w.created[id] = true
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			testenv.Eventually(t, 2*time.Minute, func() error {
				a := *o
				a.wait = true
				do(&a, w.base)
				if a.err != nil || a.status != http.StatusCreated {
					return fmt.Errorf("seed create: %s", &a)
				}
				*o = a
				v := get(w.base + "/v1/products/" + id + "?minVersion=1&wait=20")
				if v.err != nil || v.status != http.StatusOK {
					return fmt.Errorf("seed view: %s", &v)
				}
				return nil
			})
			mu.Lock()
			w.load.seeds = append(w.load.seeds, id)
			w.answers = append(w.answers, o)
			mu.Unlock()
		}()
	}
	wg.Wait()
}

// scenario runs the load through one outage, then checks every answer and
// the whole log and stores.
func (w *world) scenario(t *testing.T, outage func(t *testing.T, w *world, l *load)) {
	start := time.Now()
	l := w.load
	l.done = nil
	l.skipped.Store(0)
	l.start()
	halted := false
	defer func() {
		if !halted {
			l.setOutage("")
			l.halt()
		}
	}()
	began := time.Now()
	waitTaken(t, l, began, 100)
	outage(t, w, l)
	recovered := time.Now()
	waitTaken(t, l, recovered, 200)
	l.halt()
	halted = true
	answers := l.all()
	t.Logf("load: %d requests (%s), %d skipped at the in-flight bound", len(answers), summary(answers), l.skipped.Load())
	t.Logf("slowest answers: %s", slowest(answers))
	if stray := checkAnswers(t, answers); stray > 0 {
		t.Logf("%d answers were 503s of a part that was up (slow: over its timeout on this machine)", stray)
	}
	for _, o := range answers {
		if o.kind == kindCreate {
			w.created[o.productID] = true
		}
	}
	retries := w.retry503(t, answers, 300)
	w.answers = append(append(w.answers, answers...), retries...)
	if t.Failed() {
		return
	}
	w.settle(t, w.answers)
	t.Logf("scenario took %v", time.Since(start).Round(time.Second))
}

// retry503 sends again, with its key, up to n of the commands answered
// 503, as a client told to retry would; each must now be taken, under the
// command ID the decider sees once (a 503'd send may have landed after
// all).
func (w *world) retry503(t *testing.T, answers []*outcome, n int) []*outcome {
	t.Helper()
	var todo []*outcome
	for _, o := range answers {
		if isCommand(o.kind) && o.status == http.StatusServiceUnavailable {
			todo = append(todo, o)
		}
	}
	mrand.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	todo = todo[:min(n, len(todo))]
	out := make([]*outcome, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i, first := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := &outcome{kind: first.kind, method: first.method, path: first.path, body: first.body, key: first.key,
				wait: first.wait, productID: first.productID, retryOf: first}
			// A client told 409 or 503 waits Retry-After and tries again.
			for range 10 {
				do(r, w.base)
				if r.err != nil || (r.status != http.StatusConflict && r.status != http.StatusServiceUnavailable) {
					break
				}
				wait, err := strconv.Atoi(r.retryAfter)
				if err != nil || wait < 1 {
					break
				}
				time.Sleep(time.Duration(wait) * time.Second)
			}
			out[i] = r
		}()
	}
	wg.Wait()
	for _, r := range out {
		if !succeeded(r) {
			t.Errorf("retry of a 503'd command with its key: %s", r)
		}
	}
	if len(out) > 0 {
		t.Logf("retried %d of the 503'd commands with their keys: all taken", len(out))
	}
	return out
}

// waitTaken waits until n commands started at or after since were taken.
func waitTaken(t *testing.T, l *load, since time.Time, n int) {
	t.Helper()
	testenv.Eventually(t, 3*time.Minute, func() error {
		got := 0
		for _, o := range l.since(since) {
			if succeeded(o) {
				got++
			}
		}
		if got < n {
			return fmt.Errorf("%d commands taken since %s, want %d", got, since.Format("15:04:05"), n)
		}
		return nil
	})
}

// waitSeen waits until, for each kind named, an answer to a request of
// that kind started at or after since had that status.
func waitSeen(t *testing.T, l *load, since time.Time, want map[string]int) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, func() error {
		seen := map[string]bool{}
		for _, o := range l.since(since) {
			kind := o.kind
			if isCommand(kind) {
				kind = "command"
			}
			if st, ok := want[kind]; ok && o.err == nil && o.status == st {
				seen[kind] = true
			}
		}
		for kind, st := range want {
			if !seen[kind] {
				return fmt.Errorf("no %s answered %d since %s yet", kind, st, since.Format("15:04:05"))
			}
		}
		return nil
	})
}

// readyzNames waits until /readyz answers 503, within its bound, naming
// part as failing.
func readyzNames(t *testing.T, base, part string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, func() error {
		a := get(base + "/readyz")
		if a.err != nil || a.took > bound(kindView, false) {
			t.Fatalf("readyz while %s is out: %s", part, &a)
		}
		// a.checks is read from the whole body: a.raw is cut short, and a
		// failing part's message can be longer than the cut.
		if a.status != http.StatusServiceUnavailable || a.checks[part] != "failing" {
			return fmt.Errorf("readyz: %s: want 503 naming %s", &a, part)
		}
		return nil
	})
}

// holdUntil waits out the rest of an outage: the one fixed wait of these
// tests, since the outage's length is the point.
func holdUntil(t time.Time) { time.Sleep(time.Until(t)) }

// recovered waits until probe passes, then ends the outage window of the
// load's answers.
func recovered(t *testing.T, l *load, part string, probe func() error) {
	t.Helper()
	start := time.Now()
	testenv.Eventually(t, 4*time.Minute, probe)
	l.setOutage("")
	t.Logf("%s back: the service recovered in %v", part, time.Since(start).Round(100*time.Millisecond))
}

// probeCommand is a create through the whole pipeline: taken and decided.
func (w *world) probeCommand() error {
	id := newUUID()
	o := outcome{kind: kindCreate, method: http.MethodPost, path: "/v1/products", body: createBody(id, mrand.New(mrand.NewPCG(1, 2))), wait: true}
	do(&o, w.base)
	if o.err != nil || o.status != http.StatusCreated {
		return fmt.Errorf("probe create: %s", &o)
	}
	w.mu.Lock()
	w.created[id] = true
	w.answers = append(w.answers, &o)
	w.mu.Unlock()
	return nil
}

func (w *world) probe(kind string) func() error {
	return func() error {
		var o outcome
		switch kind {
		case kindView:
			o = get(w.base + "/v1/products/" + w.load.seeds[0])
		default:
			o = get(w.base + "/v1/products/search?q=shoe")
		}
		if o.err != nil || o.status != http.StatusOK {
			return fmt.Errorf("probe %s: %s", kind, &o)
		}
		return nil
	}
}

// kafkaStopped: the broker stopped through scripts/services for 30 s.
// Commands answer 503 + Retry-After within the delivery timeout, views and
// searches answer, /readyz names kafka; once it is back, commands are
// taken and decided again.
func kafkaStopped(t *testing.T, w *world, l *load) {
	l.setOutage("kafka")
	w.svc.script(t, "down.sh", "kafka")
	down := time.Now()
	waitSeen(t, l, down, map[string]int{"command": 503, kindView: 200, kindSearch: 200})
	readyzNames(t, w.base, "kafka")
	holdUntil(down.Add(outageFor))
	w.svc.script(t, "up.sh", "kafka")
	recovered(t, l, "kafka", w.probeCommand)
}

// redisRestarted: Redis stopped and started again through
// scripts/services (its append-only file keeps the views). While it is
// down, views answer 503 + Retry-After within the query timeout, commands
// are taken and searches answer, /readyz names redis.
func redisRestarted(t *testing.T, w *world, l *load) {
	l.setOutage("redis")
	w.svc.script(t, "down.sh", "redis")
	down := time.Now()
	waitSeen(t, l, down, map[string]int{"command": 202, kindView: 503, kindSearch: 200})
	readyzNames(t, w.base, "redis")
	w.svc.script(t, "up.sh", "redis")
	recovered(t, l, "redis", w.probe(kindView))
}

// redisEmptied: Redis loses its data under the running serve (FLUSHALL, as
// a restart without persistence would). The projectors read the log again
// by themselves: views answer 503 + Retry-After until the view has read
// it, never 404 for a product that exists (checkAnswers); commands are
// taken and searches answer. The settle then holds every view to the fold
// of its product's events, as after every scenario.
func redisEmptied(t *testing.T, w *world, l *load) {
	l.setOutage("redis")
	if err := w.rc.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	waitSeen(t, l, down, map[string]int{"command": 202, kindView: 503, kindSearch: 200})
	recovered(t, l, "redis", w.probe(kindView))
}

// elasticsearchStopped: Elasticsearch stopped through scripts/services for
// 30 s. Searches answer 503 + Retry-After within the query timeout,
// commands are taken and views answer, /readyz names elasticsearch.
func elasticsearchStopped(t *testing.T, w *world, l *load) {
	l.setOutage("elasticsearch")
	w.svc.script(t, "down.sh", "elasticsearch")
	down := time.Now()
	waitSeen(t, l, down, map[string]int{"command": 202, kindView: 200, kindSearch: 503})
	readyzNames(t, w.base, "elasticsearch")
	holdUntil(down.Add(outageFor))
	w.svc.script(t, "up.sh", "elasticsearch")
	recovered(t, l, "elasticsearch", w.probe(kindSearch))
}

// elasticsearchBlackholed: for 30 s every connection to Elasticsearch is
// accepted and never answered (the open ones reset first). Searches
// answer 503 + Retry-After within the query timeout, not after the
// client's own timeouts; commands are taken and views answer.
func elasticsearchBlackholed(t *testing.T, w *world, l *load) {
	l.setOutage("elasticsearch")
	if err := w.esProxy.Blackhole(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	waitSeen(t, l, down, map[string]int{"command": 202, kindView: 200, kindSearch: 503})
	readyzNames(t, w.base, "elasticsearch")
	holdUntil(down.Add(outageFor))
	if err := w.esProxy.Restore(); err != nil {
		t.Fatal(err)
	}
	recovered(t, l, "elasticsearch", w.probe(kindSearch))
}

// slowest names the slowest answer of each kind and status, for the log.
func slowest(answers []*outcome) string {
	worst := map[string]time.Duration{}
	var keys []string
	for _, o := range answers {
		k := fmt.Sprintf("%s %d", o.kind, o.status)
		if _, ok := worst[k]; !ok {
			keys = append(keys, k)
		}
		worst[k] = max(worst[k], o.took)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %v", k, worst[k].Round(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}
