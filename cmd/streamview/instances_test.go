package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// binaryOnce builds the streamview binary once per test run, for tests
// that need real processes (to kill -9 them).
var binaryOnce struct {
	sync.Once
	path string
	err  error
}

func streamviewBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "streamview-bin-")
		if err != nil {
			binaryOnce.err = err
			return
		}
		binaryOnce.path = filepath.Join(dir, "streamview")
		out, err := exec.Command("go", "build", "-o", binaryOnce.path, ".").CombinedOutput()
		if err != nil {
			binaryOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryOnce.err != nil {
		t.Fatal(binaryOnce.err)
	}
	return binaryOnce.path
}

// instance is one `streamview serve` process.
type instance struct {
	name string
	base string
	cmd  *exec.Cmd
	log  string // its stderr, kept in the test's temp dir
	done chan struct{}
}

// startInstance starts `streamview serve` with every role on a free port
// and waits until /readyz answers 200.
func startInstance(t *testing.T, bin, name string, args ...string) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{name: name, base: "http://" + addr, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(in.done)
	}()
	t.Cleanup(func() {
		in.stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s log (last 4000 bytes):\n%s", name, b)
		}
	})
	testenv.Eventually(t, 2*time.Minute, func() error {
		select {
		case <-in.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited: %s", name, b)
		default:
		}
		resp, err := http.Get(in.base + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s readyz %d: %s", name, resp.StatusCode, b)
		}
		return nil
	})
	return in
}

// kill ends the process as a crash would: SIGKILL, no shutdown.
func (in *instance) kill() {
	_ = in.cmd.Process.Kill()
	<-in.done
}

// pause stops the process (SIGSTOP) until resume; the test's end resumes
// it, so that it can be stopped.
func (in *instance) pause(t *testing.T) {
	t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pause %s: %v", in.name, err)
	}
	t.Cleanup(func() { _ = in.cmd.Process.Signal(syscall.SIGCONT) })
}

// resume lets a paused process run again (SIGCONT).
func (in *instance) resume(t *testing.T) {
	t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("resume %s: %v", in.name, err)
	}
}

// stop asks the process to shut down, and kills it if it does not.
func (in *instance) stop() {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(os.Interrupt)
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
		in.kill()
	}
}

// pool is the load balancer of the test: the instances taking requests.
type pool struct {
	mu    sync.Mutex
	live  []*instance
	httpc *http.Client
}

func (p *pool) pick(i int) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live[i%len(p.live)]
}

func (p *pool) remove(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live = slices.DeleteFunc(p.live, func(x *instance) bool { return x == in })
}

func (p *pool) add(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live = append(p.live, in)
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	by     *instance
}

// do sends one request to instance i of the pool (round robin).
func (p *pool) do(ctx context.Context, i int, method, path, body string, headers ...string) (reply, error) {
	return p.doOn(ctx, p.pick(i), method, path, body, headers...)
}

// other returns a live instance other than in, when there is one.
func (p *pool) other(in *instance, i int) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.live {
		if o := p.live[(i+k)%len(p.live)]; o != in {
			return o
		}
	}
	return p.live[0]
}

// doOn sends one request to instance in.
func (p *pool) doOn(ctx context.Context, in *instance, method, path, body string, headers ...string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, in.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k := 0; k+1 < len(headers); k += 2 {
		req.Header.Set(headers[k], headers[k+1])
	}
	resp, err := p.httpc.Do(req)
	if err != nil {
		return reply{by: in}, err
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header, by: in}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, err
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	return r, nil
}

// scaleCommand is one command of the load and what became of it.
type scaleCommand struct {
	method, path, body, key string
	product                 string
	wait                    bool
	// after the load
	commandID string
	status    int // the 2xx that took it
	version   int64
	by        *instance
}

// send sends c until an instance takes it (2xx), as a client behind a
// load balancer would: a connection error (the instance died), a 503 or a
// 409 (its key still being written) is retried on the next instance with
// the same Idempotency-Key. It returns the last error when ctx ends.
func (p *pool) send(ctx context.Context, start int, c *scaleCommand) error {
	headers := []string{"Idempotency-Key", c.key}
	if c.wait {
		headers = append(headers, "Prefer", "wait=30")
	}
	var last error
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w (last: %v)", c.method, c.path, ctx.Err(), last)
		}
		r, err := p.do(ctx, start+attempt, c.method, c.path, c.body, headers...)
		switch {
		case err != nil:
			last = err
		case r.status == 200 || r.status == 201 || r.status == 202:
			id, _ := r.body["commandId"].(string)
			if id == "" {
				return fmt.Errorf("%s %s: %d without a commandId: %v", c.method, c.path, r.status, r.body)
			}
			c.commandID, c.status, c.by = id, r.status, r.by
			if v, ok := r.body["version"].(float64); ok {
				c.version = int64(v)
			}
			return nil
		case r.status == 409 && r.header.Get("Retry-After") != "", r.status == 503:
			last = fmt.Errorf("%d %v", r.status, r.body)
		default:
			return fmt.Errorf("%s %s: %d %v", c.method, c.path, r.status, r.body)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func money(minor int64) string {
	return fmt.Sprintf(`{"amount":"%d.%02d","currency":"EUR"}`, minor/100, minor%100)
}

// TestManyInstances runs three `streamview serve` processes on the real
// Kafka, Redis and Elasticsearch and sends commands over the three APIs
// (creates, then price changes, stock changes and reviews, each with an
// Idempotency-Key); halfway one instance is killed (SIGKILL), and at three
// quarters a fourth is started. Every command an API took (2xx) is decided
// exactly once (one event per command), every product's versions are
// gap-free, and every view and search document equals a fold of the log.
// Instances answer Prefer: wait and minVersion for commands decided by the
// others.
//
// STREAMVIEW_SCALE_COMMANDS sets the number of commands (20,000 by
// default; a tenth of them are creates).
func TestManyInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes on the real servers")
	}
	var victim *instance
	runScale(t, scaleRun{
		brokers: strings.Join(testenv.Kafka(t), ","),
		atHalf: func(_ *testing.T, p *pool, all []*instance, _ func(string) *instance) {
			victim = all[0]
			p.remove(victim)
			victim.kill()
			t.Logf("%s killed", victim.name)
		},
		atThreeQuarters: func(_ *testing.T, p *pool, _ []*instance, start func(string) *instance) {
			p.add(start("serve-4"))
			t.Log("serve-4 started")
		},
	})
}

// TestManyInstancesPausedInstance is TestManyInstances with one instance
// paused (SIGSTOP, as a machine that stalls or a process swapped out)
// halfway, for longer than the group session (--session-timeout, 10s by
// default): its groups take it for dead and give its partitions to the
// others. Once they have, it is resumed (SIGCONT): it finds itself out of
// its groups, and whatever it still held (a decider's transaction, a
// projector's batch, a delivery) must change nothing, as it rejoins; the
// load's last 600 changes go out then, over all three instances. Every
// command is decided exactly once and the views and search documents
// equal the fold of the log, as in TestManyInstances.
func TestManyInstancesPausedInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes on the real servers")
	}
	var victim *instance
	var pausedAt time.Time
	runScale(t, scaleRun{
		brokers:  strings.Join(testenv.Kafka(t), ","),
		commands: 4000,
		atHalf: func(t *testing.T, p *pool, all []*instance, _ func(string) *instance) {
			victim = all[0]
			p.remove(victim)
			victim.pause(t)
			pausedAt = time.Now()
			t.Logf("%s paused", victim.name)
		},
		atThreeQuarters: func(t *testing.T, p *pool, _ []*instance, _ func(string) *instance) {
			waitGroupMembers(t, decider.DefaultGroup, 2)
			t.Logf("the decider's group let %s go %v after its pause", victim.name, time.Since(pausedAt).Round(time.Millisecond))
			victim.resume(t)
			p.add(victim)
			t.Logf("%s resumed", victim.name)
		},
		// Commands through the resumed instance too, while it rejoins.
		after: 600,
		checkAfter: func(t *testing.T, late []*scaleCommand) {
			n := 0
			for _, c := range late {
				if c.by == victim {
					n++
				}
			}
			t.Logf("%d of the %d changes sent after the resume taken by %s", n, len(late), victim.name)
			if n == 0 {
				t.Errorf("no change sent after the resume was taken by %s", victim.name)
			}
		},
	})
}

// kafkaAdmin is an admin client of the real Kafka, closed at the test's
// end.
func kafkaAdmin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(testenv.Kafka(t)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// waitGroupMembers waits until group is stable with n members.
func waitGroupMembers(t *testing.T, group string, n int) {
	t.Helper()
	adm := kafkaAdmin(t)
	testenv.Eventually(t, 2*time.Minute, func() error {
		gs, err := adm.DescribeGroups(context.Background(), group)
		if err != nil {
			return err
		}
		if g := gs[group]; g.State != "Stable" || len(g.Members) != n {
			return testenv.Errorf("group %s: %s with %d members, want Stable with %d", group, g.State, len(g.Members), n)
		}
		return nil
	})
}

// scaleRun is one run of the scale load.
type scaleRun struct {
	brokers    string   // comma-separated
	commands   int      // the load's commands; 0: STREAMVIEW_SCALE_COMMANDS or 20,000
	topicsArgs []string // extra arguments of topics apply (an overlay)
	// atHalf and atThreeQuarters run on the test goroutine when that
	// share of the changes has been taken, while the load goes on.
	atHalf, atThreeQuarters func(t *testing.T, p *pool, all []*instance, start func(name string) *instance)
	// after holds back the load's last changes until both faults have run
	// and the rest of the load is taken: they go out then, over the pool
	// as the faults left it.
	after int
	// checkAfter, when set, checks those held-back changes once taken.
	checkAfter func(t *testing.T, late []*scaleCommand)
}

// runScale starts three instances on r.brokers, sends the load, runs r's
// faults, and checks the outcome (see TestManyInstances).
func runScale(t *testing.T, r scaleRun) {
	brokers := r.brokers
	redisAddr := testenv.Redis(t)
	esURL := testenv.Elasticsearch(t)
	total := 20_000
	if n, err := strconv.Atoi(os.Getenv("STREAMVIEW_SCALE_COMMANDS")); err == nil && n >= 100 {
		total = n
	}
	if r.commands > 0 {
		total = r.commands
	}
	nProducts := total / 10
	var out bytes.Buffer
	apply := append([]string{"topics", "apply", "--brokers", brokers, "--file", "../../topics.yaml"}, r.topicsArgs...)
	if err := run(context.Background(), apply, nil, &out, &out); err != nil {
		t.Fatalf("topics apply: %v\n%s", err, &out)
	}
	bin := streamviewBinary(t)
	args := []string{"--brokers", brokers, "--redis", redisAddr, "--elasticsearch", esURL}
	start := func(name string) *instance { return startInstance(t, bin, name, args...) }
	p := &pool{httpc: &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var all []*instance
	for i := range 3 {
		in := start(fmt.Sprint("serve-", i+1))
		all = append(all, in)
		p.add(in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// The load: creates first (waited for: a later change of a product
	// must find it), then changes whose values never repeat, so that
	// every accepted command yields exactly one event.
	tag := fmt.Sprintf("%d", time.Now().UnixNano())
	products := make([]string, nProducts)
	var creates, changes []*scaleCommand
	for i := range products {
		products[i] = commandbus.NewID()
		creates = append(creates, &scaleCommand{method: "POST", path: "/v1/products", product: products[i], wait: true,
			key: fmt.Sprintf("scale-%s-create-%d", tag, i),
			body: fmt.Sprintf(`{"productId":%q,"name":"Scale %d","description":"instances test","price":%s,"categoryId":"scale","categoryName":"Scale","brandId":"sv","brandName":"SV"}`,
				products[i], i, money(5_000_000+int64(i)))})
	}
	for k := range total - nProducts {
		id := products[k%nProducts]
		c := &scaleCommand{product: id, key: fmt.Sprintf("scale-%s-change-%d", tag, k), wait: k%10 == 0}
		switch k % 3 {
		case 0:
			c.method, c.path, c.body = "PUT", "/v1/products/"+id+"/price", fmt.Sprintf(`{"price":%s}`, money(1000+int64(k)))
		case 1:
			c.method, c.path, c.body = "PUT", "/v1/products/"+id+"/stock", fmt.Sprintf(`{"quantity":%d}`, k+1)
		default:
			c.method, c.path, c.body = "POST", "/v1/products/"+id+"/reviews", fmt.Sprintf(`{"rating":%d,"userId":"u%d"}`, 1+k%5, k%7)
		}
		changes = append(changes, c)
	}

	sendAll := func(cmds []*scaleCommand, workers int, sent *atomic.Int64) {
		var (
			next atomic.Int64
			wg   sync.WaitGroup
		)
		for w := range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(cmds); i = int(next.Add(1) - 1) {
					if err := p.send(ctx, i+w, cmds[i]); err != nil {
						t.Errorf("command %d: %v", i, err)
						return
					}
					if sent != nil {
						sent.Add(1)
					}
				}
			})
		}
		wg.Wait()
	}
	began := time.Now()
	sendAll(creates, 32, nil)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d creates taken in %v", len(creates), time.Since(began).Round(time.Millisecond))
	// A create whose wait ran out (202) must be decided before its
	// product's changes go out, or they would find no product.
	awaitDecided(t, ctx, p, creates)

	// The changes, with the faults at half and three quarters, and
	// r.after of them held back until both have run.
	early, late := changes[:len(changes)-r.after], changes[len(changes)-r.after:]
	var sent atomic.Int64
	loaded := make(chan struct{})
	began = time.Now()
	go func() {
		defer close(loaded)
		sendAll(early, 48, &sent)
	}()
	for _, f := range []struct {
		share int
		fn    func(*testing.T, *pool, []*instance, func(string) *instance)
	}{{2, r.atHalf}, {4, r.atThreeQuarters}} {
		at := int64(len(early) / f.share)
		if f.share == 4 {
			at *= 3
		}
		for sent.Load() < at {
			select {
			case <-loaded:
				t.Fatalf("the load ended at %d of %d changes, before its faults", sent.Load(), len(early))
			case <-time.After(20 * time.Millisecond):
			}
		}
		if f.fn != nil {
			f.fn(t, p, all, start)
		}
	}
	<-loaded
	if len(late) > 0 {
		sendAll(late, 16, nil)
		if r.checkAfter != nil {
			r.checkAfter(t, late)
		}
	}
	t.Logf("%d changes taken in %v (%d after the faults)", len(changes), time.Since(began).Round(time.Millisecond), len(late))
	if t.Failed() {
		t.FailNow()
	}

	// Prefer: wait answered by an instance for commands decided
	// wherever the partition's decider runs, then minVersion on another
	// instance: read-your-writes across instances.
	waited := 0
	for i, c := range slices.Concat(creates, changes) {
		if !c.wait || c.status == 202 {
			continue // the wait ran out (a decider moving): followed below
		}
		waited++
		if i%20 != 0 {
			continue
		}
		other := p.other(c.by, i)
		testenv.Eventually(t, 2*time.Minute, func() error {
			r, err := p.doOn(ctx, other, "GET", fmt.Sprintf("/v1/products/%s?minVersion=%d&wait=10", c.product, c.version), "")
			if err != nil {
				return err
			}
			if v, _ := r.body["version"].(float64); r.status != 200 || int64(v) < c.version {
				return fmt.Errorf("view of %s on %s: %d version %v, want at least %d", c.product, other.name, r.status, r.body["version"], c.version)
			}
			return nil
		})
	}
	if waited == 0 {
		t.Error("no Prefer: wait command was answered with its outcome")
	}

	// Every command ends accepted, as any instance tells.
	cmds := slices.Concat(creates, changes)
	awaitDecided(t, ctx, p, cmds)

	// Exactly once, gap-free: one event per command, versions 1..n.
	byCause, folds := readScaleEvents(t, brokers, products)
	for _, c := range cmds {
		if n := byCause[c.commandID]; n != 1 {
			t.Errorf("command %s %s (%s) has %d events, want 1", c.method, c.path, c.commandID, n)
		}
	}
	events := 0
	for id, f := range folds {
		events += len(f.versions)
		if !slices.Equal(f.versions, seqFrom1(len(f.versions))) {
			t.Errorf("product %s versions %v, want 1..%d", id, f.versions, len(f.versions))
		}
	}
	if events != len(cmds) {
		t.Errorf("%d events of the test's products, want one per command: %d", events, len(cmds))
	}

	// Views and search documents equal the fold of the log.
	testenv.Eventually(t, 5*time.Minute, func() error {
		for i, id := range products {
			f := folds[id]
			r, err := p.do(ctx, i, "GET", fmt.Sprintf("/v1/products/%s?minVersion=%d&wait=5", id, f.version), "")
			if err != nil {
				return err
			}
			if err := f.matchView(r); err != nil {
				return fmt.Errorf("view on %s: %w", r.by.name, err)
			}
		}
		return nil
	})
	testenv.Eventually(t, 5*time.Minute, func() error { return matchSearchDocs(ctx, esURL, products, folds) })
	t.Logf("%d commands over %d products, %d events: exactly once, gap-free, views and search documents equal the fold", len(cmds), len(products), events)
}

// awaitDecided waits until every command of cmds is accepted, asking any
// instance (GET /v1/commands/{id}); a rejection fails the test.
func awaitDecided(t *testing.T, ctx context.Context, p *pool, cmds []*scaleCommand) {
	t.Helper()
	testenv.Eventually(t, 5*time.Minute, func() error {
		pending := 0
		for i, c := range cmds {
			if c.version > 0 {
				continue
			}
			r, err := p.do(ctx, i, "GET", "/v1/commands/"+c.commandID, "")
			if err != nil {
				return err
			}
			switch r.body["status"] {
			case "accepted":
				v, _ := r.body["version"].(float64)
				c.version = int64(v)
			case "rejected":
				t.Fatalf("command %s %s rejected: %v", c.method, c.path, r.body)
			default:
				pending++
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d of %d commands not decided yet", pending, len(cmds))
		}
		return nil
	})
}

func seqFrom1(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(i + 1)
	}
	return s
}

// scaleFold is the test's own fold of a product's events: what its view
// and search document must say.
type scaleFold struct {
	versions              []int64
	version, price, stock int64
	reviews, ratingSum    int64
	created               bool
}

func (f *scaleFold) apply(e schemas.Event) {
	f.versions = append(f.versions, e.Version)
	f.version = max(f.version, e.Version)
	switch d := e.Data.(type) {
	case *schemas.ProductCreated:
		f.created, f.price, f.stock = true, d.Price.Amount, d.Stock
	case *schemas.ProductPriceChanged:
		f.price = d.NewPrice.Amount
	case *schemas.ProductStockChanged:
		f.stock = d.Quantity
	case *schemas.ProductReviewAdded:
		f.reviews++
		f.ratingSum += int64(d.Rating)
	}
}

func (f *scaleFold) matchView(r reply) error {
	price, _ := r.body["price"].(map[string]any)
	v, _ := r.body["version"].(float64)
	stock, _ := r.body["stock"].(float64)
	reviews, _ := r.body["reviewCount"].(float64)
	want := fmt.Sprintf("%d.%02d", f.price/100, f.price%100)
	if r.status != 200 || int64(v) != f.version || price["amount"] != want || int64(stock) != f.stock || int64(reviews) != f.reviews {
		return fmt.Errorf("%d version %v price %v stock %v reviews %v; the log says version %d price %s stock %d reviews %d",
			r.status, r.body["version"], price["amount"], r.body["stock"], r.body["reviewCount"], f.version, want, f.stock, f.reviews)
	}
	return nil
}

// awaitReadable waits until everything written to topic so far can be
// read committed: a command is answered when the decider's transaction
// commits, and its events can be read once the broker has written the
// commit markers, a moment later. Transactions begun after the call do not
// hold it back.
func awaitReadable(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) {
	t.Helper()
	wait := 60 * time.Second
	testenv.Eventually(t, wait, func() error { // a listing may fail while leaders move
		ends, open, err := topics.StableEnds(ctx, adm, topic, nil, wait)
		if err == nil && len(open) > 0 {
			err = fmt.Errorf("%s: partitions %v not readable committed after %v (last stable offsets %v)", topic, open, wait, ends)
		}
		return err
	})
}

// readScaleEvents reads the whole events topic and returns, for the
// test's products, the number of events per causing command and the fold
// of each product.
func readScaleEvents(t *testing.T, brokers string, products []string) (map[string]int, map[string]*scaleFold) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeds := strings.Split(brokers, ",")
	awaitReadable(t, ctx, testenv.Admin(t, seeds), topics.Events)
	spans, err := topics.Spans(ctx, testenv.Admin(t, seeds), topics.Events)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	folds := map[string]*scaleFold{}
	for _, id := range products {
		folds[id] = &scaleFold{}
	}
	byCause := map[string]int{}
	var mu sync.Mutex
	err = topics.ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(seeds...)}, topics.Events, spans, func(recs []*kgo.Record) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			f, ok := folds[string(r.Key)]
			if !ok {
				continue
			}
			e, err := codec.DecodeEvent(r.Value)
			if err != nil {
				return fmt.Errorf("partition %d offset %d: %w", r.Partition, r.Offset, err)
			}
			byCause[e.Metadata.CausationID]++
			f.apply(e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return byCause, folds
}

// matchSearchDocs reads the test's products from the search alias and
// compares them with the folds.
func matchSearchDocs(ctx context.Context, esURL string, products []string, folds map[string]*scaleFold) error {
	for chunk := range slices.Chunk(products, 500) {
		body, _ := json.Marshal(map[string]any{"ids": chunk})
		req, err := http.NewRequestWithContext(ctx, "POST", esURL+"/product-search/_mget", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var got struct {
			Docs []struct {
				ID     string `json:"_id"`
				Found  bool   `json:"found"`
				Source struct {
					Version     int64 `json:"version"`
					Price       int64 `json:"price"`
					Stock       int64 `json:"stock"`
					ReviewCount int64 `json:"reviewCount"`
					RatingSum   int64 `json:"ratingSum"`
				} `json:"_source"`
			} `json:"docs"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("search _mget: %d: %w", resp.StatusCode, err)
		}
		for _, d := range got.Docs {
			f := folds[d.ID]
			s := d.Source
			if !d.Found || s.Version != f.version || s.Price != f.price || s.Stock != f.stock || s.ReviewCount != f.reviews || s.RatingSum != f.ratingSum {
				return fmt.Errorf("search document %s (found %v) %+v; the log says version %d price %d stock %d reviews %d rating sum %d",
					d.ID, d.Found, s, f.version, f.price, f.stock, f.reviews, f.ratingSum)
			}
		}
	}
	return nil
}
