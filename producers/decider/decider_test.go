package decider

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// testLogger logs to stderr when DECIDER_LOG is set (debug, info, warn).
func testLogger() *slog.Logger {
	var lvl slog.Level
	switch os.Getenv("DECIDER_LOG") {
	case "":
		return nil
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

func eur(minor int64) schemas.Money { return schemas.Money{Amount: minor, Currency: "EUR"} }

func createCmd(productID string, price int64) schemas.Command {
	return schemas.Command{
		ID: commandbus.NewID(), ProductID: productID,
		Metadata: schemas.Metadata{CorrelationID: commandbus.NewID(), UserID: "user-1"},
		Data: &schemas.CreateProduct{
			Name: "Trail Shoe", Description: "Light.", Price: eur(price),
			CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME",
			Tags: []string{"running"}, ImageURLs: []string{}, Stock: 3,
		},
	}
}

func priceCmd(productID string, price int64) schemas.Command {
	return schemas.Command{
		ID: commandbus.NewID(), ProductID: productID,
		Metadata: schemas.Metadata{CorrelationID: commandbus.NewID(), UserID: "user-2"},
		Data:     &schemas.ChangeProductPrice{Price: eur(price)},
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"brokers only", Config{Brokers: []string{"x:9092"}}, true},
		{"no brokers", Config{}, false},
		{"same topics", Config{Brokers: []string{"x"}, CommandsTopic: "a", EventsTopic: "a"}, false},
		{"negative batch", Config{Brokers: []string{"x"}, MaxBatch: -1}, false},
		{"tiny txn timeout", Config{Brokers: []string{"x"}, TransactionTimeout: time.Millisecond}, false},
		{"bad currency", Config{Brokers: []string{"x"}, Rules: product.Rules{Currency: "EURO"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestDecideFlow(t *testing.T) {
	f := newFixture(t, 3)
	f.start(t, f.config(), nil)
	b := f.bus(t)

	pid := commandbus.NewID()
	var events int
	check := func(name string, res schemas.CommandResult, status, code string, version int64) {
		t.Helper()
		if res.Status != status || res.Code != code || res.Version != version {
			t.Errorf("%s: result %+v, want status %q code %q version %d", name, res, status, code, version)
		}
	}

	create := createCmd(pid, 8999)
	check("create", b.do(t, create), schemas.StatusAccepted, "", 1)
	events++
	if st, ok := b.results.Status(create.ID); !ok || st.State != schemas.StatusAccepted {
		t.Errorf("Status after create = %+v, %v", st, ok)
	}

	check("price change", b.do(t, priceCmd(pid, 7999)), schemas.StatusAccepted, "", 2)
	events++

	check("unknown product", b.do(t, priceCmd(commandbus.NewID(), 100)), schemas.StatusRejected, schemas.RejectNotFound, 0)
	check("taken productId", b.do(t, createCmd(pid, 100)), schemas.StatusRejected, schemas.RejectConflict, 2)

	stale := priceCmd(pid, 5)
	one := int64(1)
	stale.ExpectedVersion = &one
	check("stale expected version", b.do(t, stale), schemas.StatusRejected, schemas.RejectConflict, 2)

	current := priceCmd(pid, 6)
	two := int64(2)
	current.ExpectedVersion = &two
	check("current expected version", b.do(t, current), schemas.StatusAccepted, "", 3)
	events++

	invalid := priceCmd(pid, -5)
	check("invalid price", b.do(t, invalid), schemas.StatusRejected, schemas.RejectInvalid, 3)

	// The same command ID twice, as a retried request with the same
	// Idempotency-Key: one event, the same outcome.
	key := "retry-" + commandbus.NewID()
	dup := priceCmd(pid, 4242)
	dup.ID = commandbus.CommandID(key, "PUT", "/v1/products/"+pid+"/price")
	dup.IdempotencyKey = key
	first := b.do(t, dup)
	check("first of a retried request", first, schemas.StatusAccepted, "", 4)
	events++
	dup.Data = &schemas.ChangeProductPrice{Price: eur(1)} // a retry with another body still gets the first outcome
	if _, err := b.send.Send(context.Background(), dup); err != nil {
		t.Fatal(err)
	}
	// Wait for the second result: the first one is known already, so
	// wait until the results topic holds two for this command.
	testenv.Eventually(t, 30*time.Second, func() error {
		n := 0
		for _, r := range f.readResults(t) {
			if r.CommandID == dup.ID {
				n++
				if r.Status != first.Status || r.Version != first.Version || !r.DecidedAt.Equal(first.DecidedAt) {
					return fmt.Errorf("second result %+v differs from the first %+v", r, first)
				}
			}
		}
		if n != 2 {
			return fmt.Errorf("%d results for the retried command, want 2", n)
		}
		return nil
	})

	evs := f.readEvents(t)
	if len(evs) != events {
		t.Fatalf("%d events, want %d: %+v", len(evs), events, evs)
	}
	wantTypes := []string{schemas.TypeProductCreated, schemas.TypeProductPriceChanged, schemas.TypeProductPriceChanged, schemas.TypeProductPriceChanged}
	for i, e := range evs {
		if e.Type() != wantTypes[i] || e.Version != int64(i+1) || e.AggregateID != pid || e.AggregateType != schemas.AggregateProduct {
			t.Errorf("event %d: %s v%d of %s, want %s v%d of %s", i, e.Type(), e.Version, e.AggregateID, wantTypes[i], i+1, pid)
		}
		if e.Metadata.CausationID == "" || e.Metadata.CorrelationID == "" || e.ID == "" || e.Timestamp.IsZero() {
			t.Errorf("event %d lacks IDs or a timestamp: %+v", i, e)
		}
	}
	if c := evs[0].Metadata; c.CausationID != create.ID || c.CorrelationID != create.Metadata.CorrelationID || c.UserID != "user-1" {
		t.Errorf("created event metadata %+v, want causation %s correlation %s user-1", c, create.ID, create.Metadata.CorrelationID)
	}
	if evs[0].ID != EventID(create.ID, 0) {
		t.Errorf("event ID %s, want the deterministic %s", evs[0].ID, EventID(create.ID, 0))
	}
	if p := evs[3].Data.(*schemas.ProductPriceChanged); p.OldPrice != eur(6) || p.NewPrice != eur(4242) {
		t.Errorf("last price change %+v, want 6 → 4242", p)
	}
}

// TestConcurrentPriceChanges sends 200 price changes to one product from 4
// goroutines: the decider must serialize them into versions 2..201.
func TestConcurrentPriceChanges(t *testing.T) {
	f := newFixture(t, 3)
	f.start(t, f.config(), nil)
	b := f.bus(t)

	pid := commandbus.NewID()
	if res := b.do(t, createCmd(pid, 1)); res.Status != schemas.StatusAccepted {
		t.Fatalf("create: %+v", res)
	}
	const workers, each = 4, 50
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				// Every price differs from every other, so none is a no-op.
				res := b.do(t, priceCmd(pid, int64(1000+g*each+i)))
				if res.Status != schemas.StatusAccepted {
					t.Errorf("price change: %+v", res)
				}
			}
		})
	}
	wg.Wait()

	var versions []int64
	for _, e := range f.readEvents(t) {
		if e.Type() == schemas.TypeProductPriceChanged {
			versions = append(versions, e.Version)
		}
	}
	if len(versions) != workers*each {
		t.Fatalf("%d price changes, want %d", len(versions), workers*each)
	}
	for i, v := range versions {
		if v != int64(i+2) {
			t.Fatalf("price change %d has version %d, want %d (versions %v)", i, v, i+2, versions)
		}
	}
}

// crashWorkload is products creates each followed by changes price changes,
// in order per product.
func crashWorkload(products, changes int) ([]schemas.Command, map[string]int) {
	var cmds []schemas.Command
	ids := make([]string, products)
	want := map[string]int{}
	for i := range ids {
		ids[i] = commandbus.NewID()
		cmds = append(cmds, createCmd(ids[i], 1))
		want[ids[i]] = 1 + changes
	}
	for c := range changes {
		for _, id := range ids {
			cmds = append(cmds, priceCmd(id, int64(100+c)))
		}
	}
	return cmds, want
}

// checkExactlyOnce checks that every command has exactly one result, all
// accepted, and exactly one event, and that every product's versions run
// 1..n with no gap.
func checkExactlyOnce(t *testing.T, f *fixture, cmds []schemas.Command, want map[string]int) {
	t.Helper()
	// Wait until every command has a visible result.
	testenv.Eventually(t, 3*time.Minute, func() error {
		if n := len(f.readResults(t)); n < len(cmds) {
			return fmt.Errorf("%d results of %d commands", n, len(cmds))
		}
		return nil
	})
	results := map[string]int{}
	for _, r := range f.readResults(t) {
		results[r.CommandID]++
		if r.Status != schemas.StatusAccepted {
			t.Errorf("result %+v, want accepted", r)
		}
	}
	for _, c := range cmds {
		if n := results[c.ID]; n != 1 {
			t.Errorf("command %s has %d results, want 1", c.ID, n)
		}
	}
	if len(results) != len(cmds) {
		t.Errorf("%d commands with results, want %d", len(results), len(cmds))
	}

	byCause := map[string]int{}
	versions := map[string][]int64{}
	for _, e := range f.readEvents(t) {
		byCause[e.Metadata.CausationID]++
		versions[e.AggregateID] = append(versions[e.AggregateID], e.Version)
	}
	lost, dups := 0, 0
	for _, c := range cmds {
		switch byCause[c.ID] {
		case 0:
			lost++
		case 1:
		default:
			dups++
		}
	}
	if lost > 0 || dups > 0 {
		t.Errorf("%d accepted commands without an event, %d with more than one", lost, dups)
	}
	for id, n := range want {
		vs := versions[id]
		if len(vs) != n || !slices.Equal(vs, seq(n)) {
			t.Errorf("product %s versions %v, want 1..%d", id, vs, n)
		}
	}
}

func seq(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(i + 1)
	}
	return s
}

// TestCrashAndTakeOver kills a decider in the middle of 10,000 commands,
// as a crashed process would leave it (no leave, no abort), and starts
// another: every command is decided exactly once. It dies either with a
// transaction's records produced and nothing else, or in the middle of
// ending it: offsets added to the transaction, EndTxn never sent, so the
// next owner's offset fetch must wait for the broker to abort it.
func TestCrashAndTakeOver(t *testing.T) {
	for _, tc := range []struct {
		name  string
		arm   func(*netCut) bool // the crash hook's action
		crash bool               // whether the hook itself ends the decider
	}{
		{"before EndTxn", func(n *netCut) bool { n.kill(); return true }, true},
		{"during End", func(n *netCut) bool { n.cutOn.Store(int32(kmsg.EndTxn)); return false }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3)
			cmds, want := crashWorkload(50, 199) // 10,000 commands
			f.produceCommands(t, cmds)

			cut := newNetCut()
			cfg := f.config()
			cfg.MaxBatch = 500
			cfg.SessionTimeout = 3 * time.Second
			cfg.TransactionTimeout = 3 * time.Second
			heard := new(heardOutcomes)
			cfg.Outcomes = heard.hear
			crashCfg := cfg
			crashCfg.ClientOpts = append(slices.Clone(crashCfg.ClientOpts), kgo.Dialer(cut.dial))
			a := f.start(t, crashCfg, func(d *Decider) bool {
				if d.stats.committed.Load() >= 4 {
					return tc.arm(cut)
				}
				return false
			})
			select {
			case <-cut.killed:
			case <-time.After(2 * time.Minute):
				t.Fatal("the first decider never died")
			}
			if !tc.crash {
				a.stop(t) // give up on its End; its network is gone
			}
			decided := a.d.Stats().Decided
			t.Logf("first decider died after %d committed transactions, %d commands", a.d.Stats().Committed, decided)
			if decided == 0 || decided >= int64(len(cmds)) {
				t.Fatalf("crash not in the middle: %d of %d decided", decided, len(cmds))
			}

			cfg.TransactionalID = testenv.Name("t.txn")
			b := f.start(t, cfg, nil)
			began := time.Now()
			checkExactlyOnce(t, f, cmds, want)
			st := b.d.Stats()
			t.Logf("second decider: %d decided in %v, %d rebuilds reading %d events in %v",
				st.Decided, time.Since(began).Round(time.Millisecond), st.Rebuilds, st.RebuildEvents, st.RebuildTime.Round(time.Millisecond))
			if st.Decided+decided != int64(len(cmds)) {
				t.Errorf("deciders decided %d + %d commands, want %d in all", decided, st.Decided, len(cmds))
			}
			// It read back at most the first one's committed events (one
			// per command here); fewer when a partition got no commands
			// after the crash, as states are built lazily.
			if st.RebuildEvents > decided {
				t.Errorf("second decider rebuilt from %d events, more than the %d the first one committed", st.RebuildEvents, decided)
			}
			// Of the crashed transaction, nothing was heard: its commands
			// were heard once, decided by the second.
			heard.check(t, f.readResults(t))
		})
	}
}

// TestMemberDiesInGroup runs two deciders in one group and kills one in the
// middle of a transaction: the other takes its partitions over.
func TestMemberDiesInGroup(t *testing.T) {
	f := newFixture(t, 3)
	cmds, want := crashWorkload(50, 199)

	cfg := f.config()
	cfg.MaxBatch = 200
	cfg.SessionTimeout = 3 * time.Second
	cfg.RebalanceTimeout = 5 * time.Second
	cfg.TransactionTimeout = 3 * time.Second
	survivor := f.start(t, cfg, nil)

	cut := newNetCut()
	crashCfg := cfg
	crashCfg.TransactionalID = testenv.Name("t.txn")
	crashCfg.ClientOpts = append(slices.Clone(crashCfg.ClientOpts), kgo.Dialer(cut.dial))
	victim := f.start(t, crashCfg, func(d *Decider) bool {
		if d.stats.committed.Load() >= 3 {
			cut.kill()
			return true
		}
		return false
	})
	// Let both join before the commands arrive, so both get partitions.
	testenv.Eventually(t, 30*time.Second, func() error {
		g, err := f.adm.DescribeGroups(context.Background(), f.group)
		if err != nil {
			return err
		}
		if n := len(g[f.group].Members); n != 2 || g[f.group].State != "Stable" {
			return fmt.Errorf("group has %d members, state %s", n, g[f.group].State)
		}
		return nil
	})
	f.produceCommands(t, cmds)

	select {
	case err := <-victim.done:
		if err == nil {
			t.Fatal("the victim ended without crashing")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the victim never crashed")
	}
	victim.cancel = nil
	t.Logf("victim crashed after %d commands", victim.d.Stats().Decided)

	checkExactlyOnce(t, f, cmds, want)
	sv, vs := survivor.d.Stats(), victim.d.Stats()
	t.Logf("survivor decided %d, victim %d; survivor rebuilt %d partitions from %d events", sv.Decided, vs.Decided, sv.Rebuilds, sv.RebuildEvents)
	if sv.Decided+vs.Decided != int64(len(cmds)) {
		t.Errorf("deciders decided %d + %d commands, want %d in all", sv.Decided, vs.Decided, len(cmds))
	}
	if vs.Decided == 0 {
		t.Errorf("the victim decided nothing before it died")
	}
}

// TestPoisonCommands: records that do not decode, or sit on the wrong
// partition, are answered or skipped, and never block the partition.
func TestPoisonCommands(t *testing.T) {
	f := newFixture(t, 1)
	f.start(t, f.config(), nil)
	b := f.bus(t)

	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.DefaultProduceTopic(f.commands))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	pid, namedID := commandbus.NewID(), commandbus.NewID()
	garbage := []byte{0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Key: []byte(pid), Value: garbage}, // nobody to answer
		&kgo.Record{Key: []byte(pid), Value: garbage, Headers: []kgo.RecordHeader{{Key: commandbus.HeaderCommandID, Value: []byte(namedID)}}},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	res, err := b.results.Wait(waitFor(t, 30*time.Second), namedID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != schemas.StatusRejected || res.Code != schemas.RejectInvalid || res.ProductID != pid {
		t.Errorf("undecodable command with an ID: %+v, want rejected invalid", res)
	}

	// A command keyed by something else than its product.
	misrouted := createCmd(pid, 100)
	v, err := f.codec.EncodeCommand(misrouted)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("another-key"), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if res, err := b.results.Wait(waitFor(t, 30*time.Second), misrouted.ID); err != nil || res.Code != schemas.RejectInvalid {
		t.Errorf("misrouted command: %+v, %v; want rejected invalid", res, err)
	}

	// The partition goes on.
	if res := b.do(t, createCmd(pid, 100)); res.Status != schemas.StatusAccepted || res.Version != 1 {
		t.Errorf("create after the poison: %+v", res)
	}
}

// TestRestartRemembersAcceptedCommands: a new decider rebuilds the state
// from the events, continues the versions, and knows from the events'
// causationId which commands it accepted before, so a retried request
// yields no second event.
func TestRestartRemembersAcceptedCommands(t *testing.T) {
	f := newFixture(t, 3)
	b := f.bus(t)
	first := f.start(t, f.config(), nil)
	pid := commandbus.NewID()
	create := createCmd(pid, 100)
	change := priceCmd(pid, 200)
	b.do(t, create)
	want := b.do(t, change)
	first.stop(t)

	second := f.start(t, f.config(), nil)
	ctx := waitFor(t, 30*time.Second)
	if _, err := b.send.Send(ctx, change); err != nil { // the retry
		t.Fatal(err)
	}
	if res := b.do(t, priceCmd(pid, 300)); res.Status != schemas.StatusAccepted || res.Version != 3 {
		t.Errorf("change after the restart: %+v, want accepted at version 3", res)
	}
	results := 0
	for _, r := range f.readResults(t) {
		if r.CommandID == change.ID {
			results++
			if r.Status != want.Status || r.Version != want.Version {
				t.Errorf("answer to the retry %+v, want %+v", r, want)
			}
		}
	}
	if results != 2 {
		t.Errorf("%d results for the retried command, want 2", results)
	}
	if n := len(f.readEvents(t)); n != 3 {
		t.Errorf("%d events, want 3", n)
	}
	if st := second.d.Stats(); st.Duplicates != 1 || st.Rebuilds == 0 {
		t.Errorf("second decider stats %+v, want 1 duplicate after a rebuild", st)
	}
}

func waitFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
