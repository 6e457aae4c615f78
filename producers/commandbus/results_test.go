package commandbus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

type fixture struct {
	brokers          []string
	commands, result string
	codec            *schemas.Codec
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	brokers := testenv.KafkaOrFake(t)
	f := &fixture{brokers: brokers, commands: testenv.Topic(t, brokers, "t.commands", 3), result: testenv.Topic(t, brokers, "t.results", 3)}
	var err error
	if f.codec, err = schemas.NewCodec(); err != nil {
		t.Fatal(err)
	}
	return f
}

// results starts a Results reader that runs until the test ends or stop.
func (f *fixture) results(t *testing.T, cfg commandbus.ResultsConfig) (*commandbus.Results, func()) {
	t.Helper()
	cfg.Brokers, cfg.Topic = f.brokers, f.result
	if cfg.CommandsTopic == "" {
		cfg.CommandsTopic = f.commands
	}
	r, err := commandbus.NewResults(cfg, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return r, stop
}

// decide writes results in one transaction, as the decider does, and
// commits or aborts it.
func (f *fixture) decide(t *testing.T, commit bool, rs ...schemas.CommandResult) {
	t.Helper()
	f.decideAt(t, time.Time{}, commit, rs...)
}

// decideAt is decide with records timestamped at, or now when zero.
func (f *fixture) decideAt(t *testing.T, at time.Time, commit bool, rs ...schemas.CommandResult) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.DefaultProduceTopic(f.result), kgo.TransactionalID(testenv.Name("t.txn")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range rs {
		v, err := f.codec.EncodeResult(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(r.ProductID), Value: v, Headers: commandbus.ResultHeaders(r, ""), Timestamp: at}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
	// The broker answers EndTxn before it writes the markers; a reader
	// started now could stop short of the results.
	if _, open, err := topics.StableEnds(ctx, kadm.NewClient(cl), f.result, nil, 30*time.Second); err != nil || len(open) > 0 {
		t.Fatalf("results of %s not readable: %v, open partitions %v", f.result, err, open)
	}
}

// awaitReady fails t unless r has caught up within 30 s.
func awaitReady(t *testing.T, r *commandbus.Results) {
	t.Helper()
	select {
	case <-r.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("never ready")
	}
}

func accepted(commandID, productID string, version int64) schemas.CommandResult {
	return schemas.CommandResult{CommandID: commandID, ProductID: productID, Status: schemas.StatusAccepted, Version: version,
		DecidedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestResultsWait(t *testing.T) {
	f := newFixture(t)
	r, stop := f.results(t, commandbus.ResultsConfig{LookBack: -1})
	pid := commandbus.NewID()

	// A waiter before the result exists wakes when it commits.
	first := accepted(commandbus.NewID(), pid, 1)
	got := make(chan schemas.CommandResult, 1)
	go func() {
		res, err := r.Wait(waitCtx(t), first.CommandID)
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		got <- res
	}()
	aborted := accepted(commandbus.NewID(), pid, 2)
	f.decide(t, false, aborted)
	f.decide(t, true, first)
	if res := <-got; res.CommandID != first.CommandID || res.Version != 1 || res.Status != schemas.StatusAccepted {
		t.Errorf("Wait = %+v, want %+v", res, first)
	}

	// Seen before the call: at once.
	res, err := r.Wait(waitCtx(t), first.CommandID)
	if err != nil || res.Version != 1 {
		t.Errorf("Wait after the result = %+v, %v", res, err)
	}
	if _, ok := r.Lookup(first.CommandID); !ok {
		t.Error("Lookup misses a seen result")
	}
	// An aborted transaction's result is never seen, even after a later
	// committed one is.
	later := accepted(commandbus.NewID(), pid, 2)
	f.decide(t, true, later)
	if _, err := r.Wait(waitCtx(t), later.CommandID); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(aborted.CommandID); ok {
		t.Error("Lookup finds the result of an aborted transaction")
	}

	// A wait that runs out returns ctx's error.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Wait(short, commandbus.NewID()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait for an unknown command = %v, want a deadline", err)
	}
	if s := r.Stats(); s.Waiters != 0 {
		t.Errorf("%d waiters left behind", s.Waiters)
	}

	// Once Run has ended, a wait cannot succeed.
	stop()
	if _, err := r.Wait(waitCtx(t), commandbus.NewID()); !errors.Is(err, commandbus.ErrStopped) {
		t.Errorf("Wait after Run ended = %v, want ErrStopped", err)
	}
}

// TestResultsAfterRestart: a new reader (a restarted or another API
// instance) knows the outcomes of its look-back.
func TestResultsAfterRestart(t *testing.T) {
	f := newFixture(t)
	var rs []schemas.CommandResult
	for i := range 20 {
		rs = append(rs, accepted(commandbus.NewID(), commandbus.NewID(), int64(i+1)))
	}
	f.decide(t, true, rs...)
	f.decide(t, false, accepted(commandbus.NewID(), commandbus.NewID(), 1)) // an aborted tail

	for _, tc := range []struct {
		name     string
		lookBack time.Duration
	}{{"from the start", -1}, {"default look-back", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := f.results(t, commandbus.ResultsConfig{LookBack: tc.lookBack})
			awaitReady(t, r)
			for _, want := range rs {
				if got, ok := r.Lookup(want.CommandID); !ok || got.Version != want.Version {
					t.Errorf("Lookup(%s) = %+v, %v; want version %d", want.CommandID, got, ok, want.Version)
				}
			}
		})
	}
	t.Run("the default look-back is the decider's window", func(t *testing.T) {
		// Outcomes decided 2 h and 23 h ago are known after a restart, as
		// API.md keeps them for 24 h (an hour's look-back forgot them).
		g := newFixture(t)
		old := []schemas.CommandResult{accepted(commandbus.NewID(), commandbus.NewID(), 1), accepted(commandbus.NewID(), commandbus.NewID(), 1)}
		g.decideAt(t, time.Now().Add(-23*time.Hour), true, old[0])
		g.decideAt(t, time.Now().Add(-2*time.Hour), true, old[1])
		r, _ := g.results(t, commandbus.ResultsConfig{})
		awaitReady(t, r)
		for _, want := range old {
			if _, ok := r.Lookup(want.CommandID); !ok {
				t.Errorf("Lookup(%s) of an outcome within 24 h: unknown", want.CommandID)
			}
		}
		hour, _ := g.results(t, commandbus.ResultsConfig{LookBack: time.Hour})
		awaitReady(t, hour)
		if n := hour.Stats().Results; n != 0 {
			t.Errorf("an hour's look-back read %d outcomes decided hours ago", n)
		}
	})
	t.Run("look-back excludes older", func(t *testing.T) {
		r, _ := f.results(t, commandbus.ResultsConfig{LookBack: time.Nanosecond})
		<-r.Ready()
		if n := r.Stats().Results; n != 0 {
			t.Errorf("%d results from before the look-back", n)
		}
	})
}

// TestResultsCatchUpReadsTheNewest: at its start the reader reads a
// partition's last MaxResults records at most, which is all it could keep:
// the newest outcomes are known, the older ones not read.
func TestResultsCatchUpReadsTheNewest(t *testing.T) {
	f := newFixture(t)
	product := commandbus.NewID() // one product: one partition
	var rs []schemas.CommandResult
	for i := range 30 {
		rs = append(rs, accepted(commandbus.NewID(), product, int64(i+1)))
	}
	for i := 0; i < len(rs); i += 10 {
		f.decide(t, true, rs[i:i+10]...) // three transactions: 30 results and 3 markers
	}
	r, _ := f.results(t, commandbus.ResultsConfig{LookBack: -1, MaxResults: 12})
	awaitReady(t, r)
	// The last 12 records: the second transaction's marker, the third's
	// 10 results and its marker.
	if seen := r.Stats().Seen; seen != 10 {
		t.Errorf("read %d results, want the 10 among the last 12 records", seen)
	}
	for i, res := range rs {
		_, known := r.Lookup(res.CommandID)
		if want := i >= 20; known != want {
			t.Errorf("result %d of %d known: %v, want %v", i+1, len(rs), known, want)
		}
	}
}

// TestPendingAcrossInstances: the sending instance and another one both
// answer pending until the result arrives, then its outcome.
func TestPendingAcrossInstances(t *testing.T) {
	f := newFixture(t)
	mine, _ := f.results(t, commandbus.ResultsConfig{})
	other, _ := f.results(t, commandbus.ResultsConfig{})
	local, _ := f.results(t, commandbus.ResultsConfig{CommandsTopic: "-"})
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands, Tracker: mine}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()

	cmd := schemas.Command{ID: commandbus.NewID(), ProductID: commandbus.NewID(), Data: &schemas.DiscontinueProduct{Reason: "old"}}
	sent, err := snd.Send(waitCtx(t), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if sent.CommandID != cmd.ID || sent.ProductID != cmd.ProductID || sent.Offset < 0 {
		t.Errorf("Sent = %+v", sent)
	}
	if st, ok := mine.Status(cmd.ID); !ok || st.State != commandbus.StatePending || st.ProductID != cmd.ProductID {
		t.Errorf("sender's Status = %+v, %v; want pending", st, ok)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if st, ok := other.Status(cmd.ID); !ok || st.State != commandbus.StatePending {
			return testenv.Errorf("other instance's Status = %+v, %v; want pending", st, ok)
		}
		return nil
	})
	if _, ok := local.Status(cmd.ID); ok {
		t.Error("an instance that reads no commands knows another's command")
	}

	f.decide(t, true, schemas.CommandResult{CommandID: cmd.ID, ProductID: cmd.ProductID, Status: schemas.StatusRejected,
		Code: schemas.RejectNotFound, Reason: "no such product", DecidedAt: time.Now()})
	for name, r := range map[string]*commandbus.Results{"sender": mine, "other": other, "local": local} {
		if _, err := r.Wait(waitCtx(t), cmd.ID); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, ok := r.Status(cmd.ID)
		if !ok || st.State != schemas.StatusRejected || st.Result.Code != schemas.RejectNotFound {
			t.Errorf("%s Status after the result = %+v, %v", name, st, ok)
		}
		if s := r.Stats(); s.Pending != 0 {
			t.Errorf("%s still holds %d pending", name, s.Pending)
		}
	}
}

func TestSenderNeedsIDs(t *testing.T) {
	f := newFixture(t)
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	for _, c := range []schemas.Command{
		{ProductID: commandbus.NewID(), Data: &schemas.DiscontinueProduct{}},
		{ID: commandbus.NewID(), Data: &schemas.DiscontinueProduct{}},
	} {
		if _, err := snd.Send(context.Background(), c); !errors.Is(err, commandbus.ErrNoID) {
			t.Errorf("Send(%+v) = %v, want ErrNoID", c, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (commandbus.ResultsConfig{MaxResults: -1}).Validate(); err == nil {
		t.Error("ResultsConfig without brokers and with negative bound validates")
	}
	if err := (commandbus.SenderConfig{}).Validate(); err == nil {
		t.Error("SenderConfig without brokers validates")
	}
	if err := (commandbus.ResultsConfig{Brokers: []string{"x"}}).Validate(); err != nil {
		t.Errorf("minimal ResultsConfig: %v", err)
	}
}

// TestResultsRead: Read hears of each result read live, once, with the
// time since its decision; not of those of the catch-up.
func TestResultsRead(t *testing.T) {
	f := newFixture(t)
	old := accepted(commandbus.NewID(), commandbus.NewID(), 1)
	f.decide(t, true, old)
	var (
		mu   sync.Mutex
		read []time.Duration
	)
	r, _ := f.results(t, commandbus.ResultsConfig{LookBack: -1, Read: func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		read = append(read, d)
	}})
	awaitReady(t, r)
	if _, ok := r.Lookup(old.CommandID); !ok {
		t.Fatal("the catch-up missed the old result")
	}
	live := accepted(commandbus.NewID(), commandbus.NewID(), 1)
	live.DecidedAt = live.DecidedAt.Add(-time.Hour) // decided an hour ago, read now
	f.decide(t, true, live)
	if _, err := r.Wait(waitCtx(t), live.CommandID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(read) != 1 || read[0] < time.Hour || read[0] > time.Hour+time.Minute {
		t.Errorf("Read heard %v, want once, an hour and the read's time (not the catch-up's result)", read)
	}
}

// fetchCounter counts the Fetch requests its clients write.
type fetchCounter struct{ n *atomic.Int64 }

func (c fetchCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 1 && err == nil { // Fetch
		c.n.Add(1)
	}
}

// TestCommandsFetchedInBulk: a steady trickle of commands (one every 2 ms
// for a second, each a produce request of its own) does not make the
// results reader fetch once per command: its commands are fetched by a
// client that waits for CommandsFetchMaxWait or 32 KiB, and the results by
// one that no command wakes, so the two send at most about one fetch each
// per 25 ms. Every command is still known as pending.
func TestCommandsFetchedInBulk(t *testing.T) {
	f := newFixture(t)
	var fetches atomic.Int64
	other, _ := f.results(t, commandbus.ResultsConfig{ClientOpts: []kgo.Opt{kgo.WithHooks(fetchCounter{&fetches})}})
	<-other.Ready()
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	// One send first, so that the sender's connection is up before timing.
	first := schemas.Command{ID: commandbus.NewID(), ProductID: commandbus.NewID(), Data: &schemas.DiscontinueProduct{Reason: "old"}}
	if _, err := snd.Send(waitCtx(t), first); err != nil {
		t.Fatal(err)
	}

	const n = 500
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	before := fetches.Load()
	began := time.Now()
	for i := range n {
		<-tick.C
		cmd := schemas.Command{ID: commandbus.NewID(), ProductID: commandbus.NewID(), Data: &schemas.DiscontinueProduct{Reason: "old"}}
		ids[i] = cmd.ID
		wg.Go(func() {
			if _, err := snd.Send(waitCtx(t), cmd); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	got := fetches.Load() - before
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Two clients, each about one fetch per 25 ms of the run (77 here)
	// and one in flight at either end; twice that and a few more for
	// slack (a fetch the broker answers early). Both in one client, as
	// before, sent one a command (498 here).
	limit := 2*2*(int64(elapsed/commandbus.CommandsFetchMaxWait)+2) + 10
	t.Logf("%d commands in %v: %d fetches by the results reader (limit %d)", n, elapsed.Round(time.Millisecond), got, limit)
	if got > limit {
		t.Errorf("the results reader sent %d fetches while %d commands trickled in over %v; want at most %d", got, n, elapsed.Round(time.Millisecond), limit)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, id := range ids {
			if st, ok := other.Status(id); !ok || st.State != commandbus.StatePending {
				return testenv.Errorf("command %s: Status = %+v, %v; want pending", id, st, ok)
			}
		}
		return nil
	})
}

// TestResultsDeliver: outcomes a decider in this process committed answer
// their waiters before the results topic shows them; read from the topic
// afterwards they change nothing and are not taken twice. A command
// decided anew (its first outcome forgotten by the decider: another
// decision time) replaces what was delivered when the topic brings it,
// but an older decision read from the topic behind a newer one delivered
// does not.
func TestResultsDeliver(t *testing.T) {
	f := newFixture(t)
	var (
		read    atomic.Int64
		mu      sync.Mutex
		decided []string
	)
	r, _ := f.results(t, commandbus.ResultsConfig{LookBack: -1, Read: func(time.Duration) { read.Add(1) },
		Decided: func(status string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			decided = append(decided, status)
		}})
	awaitReady(t, r)

	pid := commandbus.NewID()
	res := accepted(commandbus.NewID(), pid, 1)
	if err := r.Claim(commandbus.Claim{CommandID: res.CommandID, ProductID: pid}); err != nil {
		t.Fatal(err)
	}
	r.Release(commandbus.Claim{CommandID: res.CommandID, ProductID: pid}, true)
	got := make(chan schemas.CommandResult, 1)
	go func() {
		out, err := r.Wait(waitCtx(t), res.CommandID)
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		got <- out
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := r.Stats().Waiters; n != 1 {
			return fmt.Errorf("%d waiters, want the one", n)
		}
		return nil
	})
	r.Deliver([]schemas.CommandResult{res}) // nothing in the topic yet
	select {
	case out := <-got:
		if !out.DecidedAt.Equal(res.DecidedAt) || out.Version != 1 || out.Status != schemas.StatusAccepted {
			t.Fatalf("waiter answered %+v, want %+v", out, res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not answered by the delivered outcome")
	}
	if n := read.Load(); n != 1 {
		t.Fatalf("Read heard %d outcomes, want the delivered one", n)
	}

	// The same outcome from the topic, then a marker of the same product
	// (so the same partition, after it): once the marker is known, the
	// repeat has been taken, and changed nothing.
	marker := accepted(commandbus.NewID(), pid, 2)
	f.decide(t, true, res, marker)
	if _, err := r.Wait(waitCtx(t), marker.CommandID); err != nil {
		t.Fatal(err)
	}
	if n := read.Load(); n != 2 {
		t.Errorf("Read heard %d outcomes, want 2 (the delivered one, the marker): the repeat was taken again", n)
	}
	if st := r.Stats(); st.Results != 2 || st.Delivered != 1 || st.Read != 1 {
		t.Errorf("%d outcomes held, %d first delivered, %d first read; want 2, 1 (the delivered one), 1 (the marker)", st.Results, st.Delivered, st.Read)
	}
	mu.Lock()
	if len(decided) != 1 {
		t.Errorf("Decided heard %v, want the claimed command's outcome once", decided)
	}
	mu.Unlock()

	// Decided anew: another decision, which the topic brings.
	again := accepted(res.CommandID, pid, 3)
	again.DecidedAt = res.DecidedAt.Add(time.Minute)
	f.decide(t, true, again)
	testenv.Eventually(t, 30*time.Second, func() error {
		if out, _ := r.Lookup(res.CommandID); out.Version != 3 {
			return fmt.Errorf("outcome %+v, want version 3 of the new decision", out)
		}
		return nil
	})

	// A newer decision delivered, then an older one read from the topic
	// (as when the topic is behind): the newer stays.
	newer := accepted(res.CommandID, pid, 5)
	newer.DecidedAt = again.DecidedAt.Add(2 * time.Minute)
	r.Deliver([]schemas.CommandResult{newer})
	older := accepted(res.CommandID, pid, 4)
	older.DecidedAt = again.DecidedAt.Add(time.Minute)
	marker2 := accepted(commandbus.NewID(), pid, 6)
	f.decide(t, true, older, marker2)
	if _, err := r.Wait(waitCtx(t), marker2.CommandID); err != nil {
		t.Fatal(err)
	}
	if out, _ := r.Lookup(res.CommandID); out.Version != 5 {
		t.Errorf("outcome %+v, want version 5, the newer decision delivered before the older one was read", out)
	}

	// A retry claimed after its outcome was delivered: the decider's
	// repeated answer, read from the topic, settles the claim (Decided).
	if err := r.Claim(commandbus.Claim{CommandID: res.CommandID, ProductID: pid}); err != nil {
		t.Fatal(err)
	}
	r.Release(commandbus.Claim{CommandID: res.CommandID, ProductID: pid}, true)
	marker3 := accepted(commandbus.NewID(), pid, 7)
	f.decide(t, true, newer, marker3)
	if _, err := r.Wait(waitCtx(t), marker3.CommandID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(decided) != 2 {
		t.Errorf("Decided heard %v, want the first claim's outcome and the retry's", decided)
	}
}

// TestRestartKeepsABindingBehindUnkeyedCommands: MaxResults bounds the
// Idempotency-Key bindings, not the commands: a reader restarted after one
// keyed command and more than MaxResults unkeyed ones on its partition
// still knows the key's binding (it keeps MaxResults of them), and refuses
// another request with the key.
func TestRestartKeepsABindingBehindUnkeyedCommands(t *testing.T) {
	f := newFixture(t)
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	product := commandbus.NewID() // one product: one partition
	cmd := keyedCommand("key-before-unkeyed")
	cmd.ProductID = product
	fp := commandbus.Request{Method: "DELETE", Path: "/v1/products/p"}.Fingerprint()
	if _, err := snd.SendBound(waitCtx(t), cmd, fp); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		c := schemas.Command{ID: commandbus.NewID(), ProductID: product, Data: &schemas.DiscontinueProduct{Reason: "old"}}
		if _, err := snd.Send(waitCtx(t), c); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := f.results(t, commandbus.ResultsConfig{LookBack: -1, MaxResults: 4})
	awaitReady(t, r)
	key := commandbus.KeyID(cmd.IdempotencyKey)
	if b, ok := r.Bound(key); !ok || b.Fingerprint != fp {
		t.Errorf("Bound = %+v, %v after a restart; want the key bound to %.8s (1 binding of MaxResults 4)", b, ok, fp)
	}
	reuse := commandbus.Claim{CommandID: cmd.ID, ProductID: product, KeyID: key, Fingerprint: "another request"}
	if err := r.Claim(reuse); !errors.Is(err, commandbus.ErrKeyReused) {
		t.Errorf("Claim of another request with the key = %v, want ErrKeyReused", err)
	}
}
