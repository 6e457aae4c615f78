package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview"
)

// envNotifyChild carries the arguments of `streamview notify` to
// TestNotifyChild, which the notifier test runs as a subprocess (this very
// test binary) so that it can kill -9 it.
const envNotifyChild = "SV_NOTIFY_CHILD_ARGS"

// TestNotifyChild is the notifier subprocess of TestNotifierWebhooks; it
// does nothing in a normal run.
func TestNotifyChild(t *testing.T) {
	args := os.Getenv(envNotifyChild)
	if args == "" {
		t.Skip("the notifier subprocess of TestNotifierWebhooks")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, append([]string{"notify"}, strings.Split(args, "\x1f")...), nil, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// receiver is a webhook receiver started by the test: it checks every
// request's signature and dedups by Webhook-Id, as API.md asks receivers to.
type receiver struct {
	name   string
	secret string
	answer func(n int) (status int, hang bool) // n: requests before this one

	srv      *httptest.Server
	mu       sync.Mutex
	requests int
	badSig   []string
	bodies   map[string]notifier.Body // first arrival per Webhook-Id
	order    map[string][]int64       // subscription → versions, in first-arrival order
	accepted map[string]int           // Webhook-Id → 2xx answers
	last     time.Time                // last 2xx
	release  chan struct{}
}

func newReceiver(t *testing.T, name, secret string, answer func(n int) (int, bool)) *receiver {
	r := &receiver{name: name, secret: secret, answer: answer, bodies: map[string]notifier.Body{},
		order: map[string][]int64{}, accepted: map[string]int{}, release: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() { close(r.release); r.srv.Close() })
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := r.requests
	r.requests++
	status, hang := r.answer(n)
	id := req.Header.Get(webhook.HeaderID)
	ts, err := strconv.ParseInt(req.Header.Get(webhook.HeaderTimestamp), 10, 64)
	if err != nil || !notifier.Verify(r.secret, ts, body, req.Header.Get(webhook.HeaderSignature)) {
		r.badSig = append(r.badSig, id)
	}
	var b notifier.Body
	if err := json.Unmarshal(body, &b); err != nil || id != notifier.WebhookID(b.EventID, b.SubscriptionID) {
		r.badSig = append(r.badSig, "bad body or Webhook-Id: "+id+" "+string(body))
	}
	if !hang && status/100 == 2 {
		if _, seen := r.bodies[id]; !seen {
			r.bodies[id] = b
			r.order[b.SubscriptionID] = append(r.order[b.SubscriptionID], b.Version)
		}
		r.accepted[id]++
		r.last = time.Now()
	}
	r.mu.Unlock()
	if hang {
		select { // never answers: the notifier's time-out ends the attempt
		case <-req.Context().Done():
		case <-r.release:
		}
		return
	}
	w.WriteHeader(status)
}

// eventRecord is e, checked and encoded, as a record of topic keyed by
// product.
func eventRecord(t *testing.T, codec *schemas.Codec, topic, product string, e schemas.Event) *kgo.Record {
	t.Helper()
	if err := e.Validate(); err != nil {
		t.Fatalf("event %s: %v", e.ID, err)
	}
	b, err := codec.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(product), Value: b}
}

func (r *receiver) url(path string) string { return r.srv.URL + path }

// missing lists the expected Webhook-Ids r has not accepted yet.
func (r *receiver) missing(want map[string]bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range want {
		if _, ok := r.bodies[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// notifyChild is a running `streamview notify` subprocess.
type notifyChild struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startNotifyChild(t *testing.T, args []string) *notifyChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNotifyChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envNotifyChild+"="+strings.Join(args, "\x1f"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the notifier: %v", err)
	}
	c := &notifyChild{cmd: cmd, out: &out}
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		if strings.Contains(c.out.String(), "WARNING: DATA RACE") {
			t.Errorf("the notifier subprocess reported a data race")
			t.Logf("notifier output:\n%s", tail(c.out.String(), 16384))
		} else if t.Failed() {
			t.Logf("notifier output (last 4 KiB):\n%s", tail(c.out.String(), 4096))
		}
	})
	return c
}

// kill9 ends the notifier the hard way: no shutdown, nothing flushed.
func (c *notifyChild) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the notifier: %v", err)
	}
	c.cmd.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestNotifierWebhooks runs the notifier as a subprocess against real Kafka,
// Redis and HTTP receivers: 1,000 price and stock changes of 8 products, the
// notifier killed with SIGKILL halfway and started again, then replayed.
func TestNotifierWebhooks(t *testing.T) {
	brokers := testenv.Kafka(t)
	redisAddr := testenv.Redis(t)
	events := testenv.Topic(t, brokers, "notify-events", 4)
	dlq := testenv.Topic(t, brokers, "notify-dlq", 1)
	journal := testenv.Topic(t, brokers, "notify-journal", 1, "cleanup.policy", "compact")
	group := testenv.Name("notify-group")
	prefix := testenv.Name("svtest:notifier") + ":"
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	store := redisnotify.New(rdb, prefix)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	const (
		workers         = 8
		deadLetterAfter = 15 * time.Second
	)

	ok := func(int) (int, bool) { return http.StatusNoContent, false }
	healthy1 := newReceiver(t, "healthy1", "secret-one", ok)
	healthy2 := newReceiver(t, "healthy2", "secret-two", ok)
	failing := newReceiver(t, "failing", "secret-three", func(n int) (int, bool) {
		if n < 3 {
			return http.StatusServiceUnavailable, false
		}
		return http.StatusOK, false
	})
	silent := newReceiver(t, "silent", "secret-four", func(int) (int, bool) { return 0, true })
	gone := newReceiver(t, "gone", "secret-five", func(int) (int, bool) { return http.StatusGone, false })
	unsubscribed := newReceiver(t, "unsubscribed", "secret-six", ok)

	// 8 products; subscriptions on them; 1,000 changes.
	var products []string
	for i := range 8 {
		products = append(products, schemas.NameUUID([16]byte{7}, group+strconv.Itoa(i)))
	}
	type sub struct {
		id, product string
		r           *receiver
		kinds       []string
		deleted     bool
	}
	both := []string{schemas.NotifyPriceDrop, schemas.NotifyBackInStock}
	var subs []sub
	addSub := func(p int, r *receiver, kinds []string, deleted bool) {
		id := schemas.SubscriptionID(products[p], schemas.NameUUID([16]byte{8}, group+r.name+strconv.Itoa(p)))
		subs = append(subs, sub{id: id, product: products[p], r: r, kinds: kinds, deleted: deleted})
	}
	for p := range products {
		addSub(p, healthy1, both, false)
		addSub(p, healthy2, []string{schemas.NotifyPriceDrop}, false)
	}
	for p := range 4 {
		addSub(p, failing, both, false)
	}
	addSub(7, silent, []string{schemas.NotifyBackInStock}, false)
	addSub(6, gone, both, false)
	addSub(5, unsubscribed, both, true)

	at := time.Now().UTC().Truncate(time.Millisecond)
	version := map[string]int64{}
	n := 0
	event := func(aggType, aggID, product string, data schemas.EventData) (*kgo.Record, schemas.Event) {
		n++
		var v int64 = 1
		if aggType == schemas.AggregateProduct {
			version[product]++
			v = version[product]
		} else if _, del := data.(*schemas.SubscriptionDeleted); del {
			v = 2
		}
		e := schemas.Event{ID: schemas.NameUUID([16]byte{9}, group+strconv.Itoa(n)), AggregateType: aggType, AggregateID: aggID,
			Version: v, Timestamp: at, Metadata: schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{10}, strconv.Itoa(n)), UserID: "test"},
			Data: data}
		return eventRecord(t, codec, events, product, e), e
	}
	var setup []*kgo.Record
	price := map[string]int64{}
	stock := map[string]int64{}
	for _, p := range products {
		price[p] = 10000
		r, _ := event(schemas.AggregateProduct, p, p, &schemas.ProductCreated{Name: "P", Price: schemas.Money{Amount: 10000, Currency: "EUR"}})
		setup = append(setup, r)
	}
	for _, s := range subs {
		r, _ := event(schemas.AggregateSubscription, s.id, s.product, &schemas.SubscriptionCreated{ProductID: s.product, URL: s.r.url("/hook"), Events: s.kinds, Secret: s.r.secret})
		setup = append(setup, r)
		if s.deleted {
			r, _ := event(schemas.AggregateSubscription, s.id, s.product, &schemas.SubscriptionDeleted{ProductID: s.product})
			setup = append(setup, r)
		}
	}
	// The changes, and the Webhook-Ids each receiver must get, worked out
	// here without the notifier's code.
	want := map[*receiver]map[string]bool{}
	for _, r := range []*receiver{healthy1, healthy2, failing, silent, gone, unsubscribed} {
		want[r] = map[string]bool{}
	}
	var changes [2][]*kgo.Record
	for i := range 1000 {
		p := products[i%8]
		k := i / 8 // the product's k-th change
		var data schemas.EventData
		switch {
		case i%8 == 7 && (k == 10 || k == 80):
			data = &schemas.ProductStockChanged{OldQuantity: 0, Quantity: 5}
		case i%8 == 7 && (k == 30):
			data = &schemas.ProductStockChanged{OldQuantity: 5, Quantity: 0}
		case i%8 == 7 || k%3 != 0:
			next := price[p] + int64((i*7919)%41) - 20
			if next == price[p] || next <= 0 {
				next = price[p] + 1
			}
			data = &schemas.ProductPriceChanged{OldPrice: schemas.Money{Amount: price[p], Currency: "EUR"}, NewPrice: schemas.Money{Amount: next, Currency: "EUR"}}
			price[p] = next
		default:
			next := int64(0)
			if stock[p] == 0 {
				next = int64(1 + i%4)
			}
			data = &schemas.ProductStockChanged{OldQuantity: stock[p], Quantity: next}
		}
		if d, ok := data.(*schemas.ProductStockChanged); ok {
			stock[p] = d.Quantity
		}
		r, e := event(schemas.AggregateProduct, p, p, data)
		changes[i/500] = append(changes[i/500], r)
		kind := ""
		switch d := data.(type) {
		case *schemas.ProductPriceChanged:
			if d.NewPrice.Amount < d.OldPrice.Amount {
				kind = schemas.NotifyPriceDrop
			}
		case *schemas.ProductStockChanged:
			if d.OldQuantity == 0 && d.Quantity > 0 {
				kind = schemas.NotifyBackInStock
			}
		}
		for _, s := range subs {
			if kind != "" && s.product == p && !s.deleted && slices.Contains(s.kinds, kind) {
				want[s.r][e.ID+"."+s.id] = true
			}
		}
	}
	if len(want[silent]) != 2 || len(want[gone]) < 10 || len(want[healthy1]) < 300 {
		t.Fatalf("test data: silent %d, gone %d, healthy1 %d notifications", len(want[silent]), len(want[gone]), len(want[healthy1]))
	}
	t.Logf("expected deliveries: healthy1 %d, healthy2 %d, failing %d, silent %d (dead letters), gone %d (dead letters)",
		len(want[healthy1]), len(want[healthy2]), len(want[failing]), len(want[silent]), len(want[gone]))

	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	produce := func(recs []*kgo.Record) {
		t.Helper()
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	// The dead-letter topic, read as it fills.
	var (
		deadMu sync.Mutex
		dead   = map[string][]deadletter.Letter{} // by Webhook-Id
	)
	dlqReader, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(dlq), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	readCtx, stopReading := context.WithCancel(ctx)
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for readCtx.Err() == nil {
			dlqReader.PollFetches(readCtx).EachRecord(func(r *kgo.Record) {
				l := deadletter.FromRecord(r)
				deadMu.Lock()
				for _, h := range r.Headers {
					if h.Key == webhook.HeaderDLQWebhookID {
						dead[string(h.Value)] = append(dead[string(h.Value)], l)
					}
				}
				deadMu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { stopReading(); readers.Wait(); dlqReader.Close() })
	deadReasons := func(ids map[string]bool) (missing int, reasons map[string]int) {
		deadMu.Lock()
		defer deadMu.Unlock()
		reasons = map[string]int{}
		for id := range ids {
			ls := dead[id]
			if len(ls) == 0 {
				missing++
				continue
			}
			reasons[ls[0].Reason]++
		}
		return missing, reasons
	}

	// --stop-on-gone: the 410 receiver's subscription stops (without it,
	// a 410 is retried as any failure: TestNext).
	args := []string{"--brokers", strings.Join(brokers, ","), "--redis", redisAddr, "--group", group, "--topic", events,
		"--dlq-topic", dlq, "--journal-topic", journal, "--redis-prefix", prefix, "--workers", strconv.Itoa(workers), "--timeout", "500ms",
		"--dead-letter-after", deadLetterAfter.String(), "--retry-min", "100ms", "--retry-max", "1s", "--lease", "3s", "--session-timeout", "6s", "--log-level", "info",
		"--stop-on-gone"}

	// First half, then the second half; kill -9 the notifier as soon as it
	// delivers from the second half.
	produce(setup)
	produce(changes[0])
	child := startNotifyChild(t, args)
	testenv.Eventually(t, 60*time.Second, func() error {
		if m := healthy1.missing(want[healthy1]); len(m) > len(want[healthy1])*2/3 {
			return testenv.Errorf("healthy1 still misses %d of %d", len(m), len(want[healthy1]))
		}
		return nil
	})
	testenv.Eventually(t, 30*time.Second, func() error {
		if silent.count() == 0 {
			return testenv.Errorf("no attempt at the silent receiver yet")
		}
		return nil
	})
	produce(changes[1])
	before := len(want[healthy1]) - len(healthy1.missing(want[healthy1]))
	testenv.Eventually(t, 60*time.Second, func() error {
		if got := len(want[healthy1]) - len(healthy1.missing(want[healthy1])); got <= before {
			return testenv.Errorf("no delivery from the second half yet")
		}
		return nil
	})
	// The silent receiver must not hold the others up: the second half is
	// being delivered while its first notification (from the first half)
	// is still being retried, which takes deadLetterAfter from its first
	// attempt, made before the second half was even written.
	if missing, _ := deadReasons(want[silent]); missing != len(want[silent]) {
		t.Errorf("the silent receiver's first notification was dead-lettered before the second half was delivered: it held the others up")
	}
	child.kill9(t)
	t.Logf("killed the notifier with SIGKILL; healthy1 had %d of %d, healthy2 %d of %d",
		len(want[healthy1])-len(healthy1.missing(want[healthy1])), len(want[healthy1]),
		len(want[healthy2])-len(healthy2.missing(want[healthy2])), len(want[healthy2]))

	child = startNotifyChild(t, args)
	testenv.Eventually(t, 90*time.Second, func() error {
		for _, r := range []*receiver{healthy1, healthy2, failing} {
			if m := r.missing(want[r]); len(m) > 0 {
				return testenv.Errorf("%s misses %d deliveries, e.g. %s", r.name, len(m), m[0])
			}
		}
		return nil
	})
	testenv.Eventually(t, 4*deadLetterAfter+30*time.Second, func() error {
		for _, r := range []*receiver{silent, gone} {
			if missing, _ := deadReasons(want[r]); missing > 0 {
				return testenv.Errorf("%s: %d notifications not in the dead-letter topic", r.name, missing)
			}
		}
		return nil
	})

	// What the receivers saw.
	for _, r := range []*receiver{healthy1, healthy2, failing} {
		r.mu.Lock()
		if len(r.badSig) > 0 {
			t.Errorf("%s: %d requests with a bad signature or body, e.g. %s", r.name, len(r.badSig), r.badSig[0])
		}
		for id := range r.bodies {
			if !want[r][id] {
				t.Errorf("%s got %s, which it should not", r.name, id)
			}
		}
		dups := 0
		for _, n := range r.accepted {
			dups += n - 1
		}
		// A kill between a receiver's 2xx and its record sends that one
		// again (at-least-once to the receiver, which drops it by
		// Webhook-Id): at most one per worker in flight at the kill.
		if dups > workers {
			t.Errorf("%s: %d repeated deliveries, want at most %d (those in flight at the kill)", r.name, dups, workers)
		}
		for s, versions := range r.order {
			if !slices.IsSorted(versions) {
				t.Errorf("%s: subscription %s got its notifications out of order: versions %v", r.name, s, versions)
			}
		}
		t.Logf("%s: %d requests, %d Webhook-Ids, %d repeated after the kill", r.name, r.requests, len(r.bodies), dups)
		r.mu.Unlock()
	}
	if failing.count() < len(want[failing])+3 {
		t.Errorf("failing receiver: %d requests, want at least %d (3 failures, then every delivery)", failing.count(), len(want[failing])+3)
	}
	if _, reasons := deadReasons(want[silent]); reasons[notifier.ReasonUndeliverable] != len(want[silent]) {
		t.Errorf("silent receiver's dead letters: %v, want %d undeliverable", reasons, len(want[silent]))
	}
	if silent.count() < 2 {
		t.Errorf("silent receiver: %d attempts, want retries", silent.count())
	}
	if _, reasons := deadReasons(want[gone]); reasons[notifier.ReasonGone] != len(want[gone]) {
		t.Errorf("410 receiver's dead letters: %v, want %d gone", reasons, len(want[gone]))
	}
	if c := gone.count(); c < 1 || c > 1+workers {
		t.Errorf("410 receiver: %d requests, want 1 (and no more once it said 410, but for a kill in between)", c)
	}
	if c := unsubscribed.count(); c != 0 {
		t.Errorf("a deleted subscription got %d deliveries", c)
	}

	// `streamview dlq` lists the notifier's dead letters, and refuses to
	// re-drive them into the events topic (they are notifications, not
	// events).
	var dlqOut bytes.Buffer
	if err := run(ctx, []string{"dlq", "list", "--topic", dlq, "--brokers", strings.Join(brokers, ",")}, nil, &dlqOut, &dlqOut); err != nil {
		t.Fatalf("dlq list: %v\n%s", err, dlqOut.String())
	}
	for _, w := range []string{notifier.ReasonUndeliverable, notifier.ReasonGone, strconv.Itoa(len(want[silent]) + len(want[gone]))} {
		if !strings.Contains(dlqOut.String(), w) {
			t.Errorf("dlq list does not mention %q:\n%s", w, tail(dlqOut.String(), 2000))
		}
	}
	// --all leaves every one out and says why; one named is refused.
	dlqOut.Reset()
	if err := run(ctx, []string{"dlq", "redrive", "--all", "--topic", dlq, "--brokers", strings.Join(brokers, ",")}, nil, &dlqOut, &dlqOut); err != nil ||
		!strings.Contains(dlqOut.String(), "re-drove 0 of ") || !strings.Contains(dlqOut.String(), "not re-driven") {
		t.Errorf("dlq redrive --all of notifications: %v, want nothing re-driven, each left out:\n%s", err, tail(dlqOut.String(), 2000))
	}
	dlqOut.Reset()
	if err := run(ctx, []string{"dlq", "redrive", "--offset", "0", "--topic", dlq, "--brokers", strings.Join(brokers, ",")}, nil, &dlqOut, &dlqOut); err == nil {
		t.Errorf("dlq redrive of a notification succeeded:\n%s", dlqOut.String())
	}

	// Replay the notifier's group from the start of the log: nothing new.
	child.cmd.Process.Signal(syscall.SIGTERM)
	child.cmd.Wait()
	counts := map[*receiver]int{}
	for _, r := range []*receiver{healthy1, healthy2, failing, silent, gone, unsubscribed} {
		counts[r] = r.count()
	}
	deadMu.Lock()
	deadBefore := 0
	for _, ls := range dead {
		deadBefore += len(ls)
	}
	deadMu.Unlock()
	var out bytes.Buffer
	testenv.Eventually(t, 60*time.Second, func() error { // the group empties once the session times out
		out.Reset()
		return run(ctx, []string{"replay", "--projection", "notifier", "--group", group, "--topic", events, "--brokers", strings.Join(brokers, ",")}, nil, &out, &out)
	})
	t.Logf("replay: %s", strings.TrimSpace(out.String()))
	startNotifyChild(t, args)
	testenv.Eventually(t, 60*time.Second, groupCaughtUp(ctx, kadm.NewClient(prod), group, events))
	// Every queue was filled before the commit that ended the lag: an empty
	// store means nothing is left to send.
	st, err := store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued != 0 {
		t.Errorf("the replay queued %d notifications again", st.Queued)
	}
	for r, c := range counts {
		if got := r.count(); got != c {
			t.Errorf("%s got %d requests during the replay", r.name, got-c)
		}
	}
	deadMu.Lock()
	deadAfter := 0
	for _, ls := range dead {
		deadAfter += len(ls)
	}
	deadMu.Unlock()
	if deadAfter != deadBefore {
		t.Errorf("the replay dead-lettered %d notifications again", deadAfter-deadBefore)
	}
	t.Logf("store after the replay: %+v", st)
}

// groupCaughtUp is a condition: group has committed up to the end of
// topic (a replay read to its end).
func groupCaughtUp(ctx context.Context, adm *kadm.Client, group, topic string) func() error {
	return func() error {
		lag, err := adm.Lag(ctx, group)
		if err != nil {
			return err
		}
		l := lag[group].Lag.TotalByTopic()[topic]
		if l.Lag != 0 || l.Topic == "" {
			return testenv.Errorf("group %s not caught up on %s: lag %d", group, topic, l.Lag)
		}
		return nil
	}
}

// notifyWorld is what the notifier's tests on real Kafka and Redis share:
// a group, its events, dead-letter and journal topics, a Redis prefix
// emptied at the end, the codec, a producer, and a stack that logs to
// logs (shown when the test fails).
type notifyWorld struct {
	brokers                             []string
	group, events, dlq, journal, prefix string
	rdb                                 *redis.Client
	codec                               *schemas.Codec
	prod                                *kgo.Client
	logs                                *testenv.Buffer
	st                                  stack
}

func newNotifyWorld(t *testing.T, name string, partitions int32) *notifyWorld {
	t.Helper()
	w := &notifyWorld{brokers: testenv.Kafka(t), logs: &testenv.Buffer{}}
	addr := testenv.Redis(t)
	w.group = testenv.Name(name)
	w.events = testenv.Topic(t, w.brokers, name+"-events", partitions)
	w.dlq = testenv.Topic(t, w.brokers, name+"-dlq", 1)
	w.journal = testenv.Topic(t, w.brokers, name+"-journal", 1, "cleanup.policy", "compact")
	w.prefix = testenv.Name("svtest:notifier") + ":"
	w.rdb = redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { w.deleteKeys(); w.rdb.Close() })
	var err error
	if w.codec, err = schemas.NewCodec(); err != nil {
		t.Fatal(err)
	}
	if w.prod, err = kgo.NewClient(kgo.SeedBrokers(w.brokers...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.prod.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("notifier log:\n%s", tail(w.logs.String(), 8192))
		}
	})
	w.st = stack{brokers: w.brokers, logger: slog.New(slog.NewTextHandler(w.logs, nil)), redis: w.rdb, epoch: redisview.NewEpochReader(w.rdb, 0)}
	return w
}

// deleteKeys deletes the world's Redis keys: the store loses its data.
func (w *notifyWorld) deleteKeys() {
	ctx := context.Background()
	iter := w.rdb.Scan(ctx, 0, w.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		w.rdb.Del(ctx, iter.Val())
	}
}

func (w *notifyWorld) produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	if err := w.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}
