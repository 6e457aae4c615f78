package decider

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/producers/reference"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
)

func TestSnapshotRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		s      product.State
		broken string
	}{
		{"zero", product.State{}, ""},
		{"full", product.State{Exists: true, Discontinued: true, Version: 1 << 40, Name: "Lamp", Description: "Wärm\x00light",
			Price: schemas.Money{Amount: -12345, Currency: "EUR"}, CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B",
			Tags: []string{"a", ""}, ImageURLs: []string{"https://x/y.png"}, Stock: -3}, ""},
		{"broken", product.State{Exists: true, Version: 7}, "event at offset 9 does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := encodeProduct(tt.s, tt.broken)
			if k, err := snapshotKind(v); err != nil || k != kindProduct {
				t.Fatalf("kind %d, %v", k, err)
			}
			s, broken, err := decodeProduct(v)
			if err != nil || broken != tt.broken || !reflect.DeepEqual(s, tt.s) {
				t.Fatalf("decoded %+v %q %v, want %+v %q", s, broken, err, tt.s, tt.broken)
			}
			for n := range len(v) - 1 {
				if _, _, err := decodeProduct(v[:n]); err == nil {
					t.Errorf("a value cut to %d of %d bytes decodes", n, len(v))
				}
			}
		})
	}
	c, err := decodeCheckpoint(encodeCheckpoint(checkpoint{eventsEnd: 123456789, products: 42}))
	if err != nil || c != (checkpoint{eventsEnd: 123456789, products: 42}) {
		t.Errorf("checkpoint %+v, %v", c, err)
	}
	for _, ss := range []subscription.State{{}, {Exists: true, Version: 1}, {Exists: true, Deleted: true, Version: 2}} {
		got, err := decodeSubscription(encodeSubscription(ss))
		if err != nil || got != ss {
			t.Errorf("subscription %+v decoded as %+v, %v", ss, got, err)
		}
	}
	for _, rs := range []struct {
		s      reference.State
		broken string
	}{{reference.State{}, ""}, {reference.State{Name: "Küche", Version: 3}, ""}, {reference.State{Name: "x", Version: 1}, "undecodable"}} {
		v := encodeReference(rs.s, rs.broken)
		if k, err := snapshotKind(v); err != nil || k != kindReference {
			t.Fatalf("reference kind %d, %v", k, err)
		}
		got, broken, err := decodeReference(v)
		if err != nil || got != rs.s || broken != rs.broken {
			t.Errorf("reference %+v %q decoded as %+v %q, %v", rs.s, rs.broken, got, broken, err)
		}
		for n := 2; n < len(v)-1; n++ {
			if _, _, err := decodeReference(v[:n]); err == nil {
				t.Errorf("a reference value cut to %d of %d bytes decodes", n, len(v))
			}
		}
	}
	other := encodeCheckpoint(checkpoint{eventsEnd: 1})
	other[0] = snapshotFormat + 1
	if _, err := snapshotKind(other); err == nil {
		t.Error("a record of another format is taken")
	}
}

// randomCommands is a random mix over products: creates (some of taken
// IDs), details, price, stock, reviews, discontinuations, commands for
// products that do not exist, and retries of earlier commands (same ID).
func randomCommands(rng *rand.Rand, products, n int) []schemas.Command {
	ids := make([]string, products)
	for i := range ids {
		ids[i] = commandbus.NewID()
	}
	var (
		out  []schemas.Command
		subs [][2]string // product, subscription
	)
	for range n {
		pid := ids[rng.IntN(len(ids))]
		var c schemas.Command
		switch k := rng.IntN(24); {
		case k < 4:
			c = createCmd(pid, 100+rng.Int64N(900))
		case k < 8:
			c = priceCmd(pid, 100+rng.Int64N(5)) // often the same price: accepted, no event
		case k < 11:
			c = schemas.Command{ID: commandbus.NewID(), ProductID: pid, Data: &schemas.ChangeProductStock{Quantity: rng.Int64N(4)}}
		case k < 13:
			name := fmt.Sprintf("name %d", rng.IntN(3))
			c = schemas.Command{ID: commandbus.NewID(), ProductID: pid, Data: &schemas.UpdateProductDetails{Name: &name,
				Tags: []string{fmt.Sprint("t", rng.IntN(3))}}}
		case k < 16:
			c = schemas.Command{ID: commandbus.NewID(), ProductID: pid, Data: &schemas.AddProductReview{Rating: 1 + rng.Int32N(5), UserID: "u"}}
		case k < 17:
			c = schemas.Command{ID: commandbus.NewID(), ProductID: pid, Data: &schemas.DiscontinueProduct{Reason: "old"}}
		case k < 18:
			c = priceCmd(commandbus.NewID(), 100) // no such product: rejected
		case k == 20: // a webhook subscription: decider state the snapshot carries too
			sub := schemas.SubscriptionID(pid, commandbus.NewID())
			subs = append(subs, [2]string{pid, sub})
			c = subscribeCmd(pid, sub)
		case k == 21:
			if len(subs) == 0 {
				continue
			}
			ps := subs[rng.IntN(len(subs))]
			c = unsubscribeCmd(ps[0], ps[1])
		case k == 22: // a category's or brand's (re)name, often the same: their state is snapshotted too
			c = renameCmd(schemas.AggregateCategory, fmt.Sprint("c", rng.IntN(5)), fmt.Sprint("Category ", rng.IntN(3)), nil)
		case k == 23:
			c = renameCmd(schemas.AggregateBrand, fmt.Sprint("b", rng.IntN(5)), fmt.Sprint("Brand ", rng.IntN(3)), nil)
		default:
			if len(out) == 0 {
				continue
			}
			c = out[rng.IntN(len(out))] // a retry: same command ID
		}
		if c.Metadata.CorrelationID == "" {
			c.Metadata = schemas.Metadata{CorrelationID: commandbus.NewID(), UserID: "user-3"}
		}
		out = append(out, c)
	}
	return out
}

// restoreBoth builds the states of every partition twice, from the
// snapshots and from the whole log, with a decider that does not run.
func restoreBoth(t *testing.T, f *fixture, cfg Config, partitions int32) (snap, full map[int32]*partState, st Stats) {
	t.Helper()
	d, err := New(cfg, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ps := make([]int32, partitions)
	for i := range ps {
		ps[i] = int32(i)
	}
	ctx := waitFor(t, 2*time.Minute)
	if snap, err = d.rebuildFrom(ctx, kadmClient(cl), ps, true); err != nil {
		t.Fatalf("restore from snapshots: %v", err)
	}
	st = d.Stats()
	if full, err = d.rebuildFrom(ctx, kadmClient(cl), ps, false); err != nil {
		t.Fatalf("full replay: %v", err)
	}
	return snap, full, st
}

// sameStates fails unless two restores hold the same products, broken
// products and remembered outcomes.
func sameStates(t *testing.T, snap, full map[int32]*partState) {
	t.Helper()
	for p, want := range full {
		got := snap[p]
		if !reflect.DeepEqual(got.products, want.products) {
			n := 0
			for id, s := range want.products {
				if g := got.products[id]; !reflect.DeepEqual(g, s) && n < 5 {
					n++
					t.Errorf("partition %d product %s: from the snapshot %+v, replayed %+v", p, id, g, s)
				}
			}
			t.Errorf("partition %d: %d products from the snapshot, %d replayed", p, len(got.products), len(want.products))
		}
		if !reflect.DeepEqual(got.subs, want.subs) {
			t.Errorf("partition %d: subscriptions %v from the snapshot, %v replayed", p, got.subs, want.subs)
		}
		if !reflect.DeepEqual(got.refs, want.refs) {
			t.Errorf("partition %d: categories and brands %v from the snapshot, %v replayed", p, got.refs, want.refs)
		}
		if !reflect.DeepEqual(got.broken, want.broken) {
			t.Errorf("partition %d: broken %v from the snapshot, %v replayed", p, got.broken, want.broken)
		}
		if !reflect.DeepEqual(got.decided, want.decided) {
			t.Errorf("partition %d: %d outcomes remembered from the snapshot, %d replayed", p, len(got.decided), len(want.decided))
		}
		if got.eventsEnd != want.eventsEnd {
			t.Errorf("partition %d: events end %d from the snapshot, %d replayed", p, got.eventsEnd, want.eventsEnd)
		}
	}
}

// TestSnapshotRestoreEqualsReplay is the snapshot's property: whatever the
// commands, and wherever a decider dies between (or while writing)
// snapshots, a restore from the snapshots and the events after them holds
// exactly what a replay of the whole log holds.
func TestSnapshotRestoreEqualsReplay(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			const partitions = 3
			f := newFixture(t, partitions)
			cmds := randomCommands(rng, 200, 1500)
			f.produceCommands(t, cmds)

			cfg := f.config()
			cfg.MaxBatch = 5 + rng.IntN(20)
			cfg.SnapshotEvery = 10 + rng.IntN(60)
			cfg.SessionTimeout = 3 * time.Second
			cfg.TransactionTimeout = 3 * time.Second
			dieAt := int64(5 + rng.IntN(20))
			t.Logf("batches of %d, a snapshot every %d commands, the first decider dies with its transaction %d open",
				cfg.MaxBatch, cfg.SnapshotEvery, dieAt+1)

			// The first decider dies with a transaction open: between
			// snapshots, or in the middle of writing one.
			a := f.start(t, cfg, func(d *Decider) bool { return d.stats.committed.Load() >= dieAt })
			select {
			case err := <-a.done:
				a.cancel, a.done = nil, nil
				if err == nil {
					t.Fatal("the first decider ended without crashing")
				}
			case <-time.After(2 * time.Minute):
				t.Fatal("the first decider never died")
			}
			if a.d.Stats().Snapshots == 0 {
				t.Fatalf("the first decider wrote no snapshot: %+v", a.d.Stats())
			}
			// (The first snapshot of a partition may come before any of
			// its events: then the restore reads them all.)
			snap, full, st := restoreBoth(t, f, cfg, partitions)
			sameStates(t, snap, full)
			if st.SnapshotRestores == 0 {
				t.Errorf("after the crash: no partition restored from a snapshot: %+v", st)
			}

			// A second decider restores, decides the rest, and stops.
			cfg.TransactionalID = testenv.Name("t.txn")
			log := newRebuildLog(cfg.Logger)
			cfg.Logger = slog.New(log)
			b := f.start(t, cfg, nil)
			testenv.Eventually(t, 3*time.Minute, func() error {
				if n := a.d.Stats().Decided + a.d.Stats().Duplicates + b.d.Stats().Decided + b.d.Stats().Duplicates; n < int64(len(cmds)) {
					return fmt.Errorf("%d of %d commands decided", n, len(cmds))
				}
				return nil
			})
			b.stop(t)
			t.Logf("first decider: %+v", a.d.Stats())
			t.Logf("second decider: %+v", b.d.Stats())
			// Every partition it rebuilt that had a snapshot by then, it
			// restored from one. (It rebuilds only the partitions it gets
			// commands of: the first decider may have decided all of one.)
			t.Logf("second decider's rebuilds (partition: from a snapshot): %v", log.rebuilt())
			for p, fromSnapshot := range log.rebuilt() {
				if snap[p] != nil && snap[p].snapshotted && !fromSnapshot {
					t.Errorf("the second decider rebuilt partition %d by a replay, though it had a snapshot: %+v", p, b.d.Stats())
				}
			}
			if len(log.rebuilt()) == 0 {
				t.Errorf("the second decider rebuilt no partition: %+v", b.d.Stats())
			}
			snap, full, st = restoreBoth(t, f, cfg, partitions)
			sameStates(t, snap, full)
			// Every partition decided hundreds of commands, several
			// snapshots' worth, so at most the last SnapshotEvery +
			// MaxBatch commands of each come after its latest snapshot.
			if events := int64(len(f.readEvents(t))); st.SnapshotRestores != partitions || st.RebuildEvents >= events {
				t.Errorf("at the end: %d of %d partitions restored from snapshots, reading %d of the %d events; want all, reading fewer",
					st.SnapshotRestores, partitions, st.RebuildEvents, events)
			}

			// The snapshots come from the decider's own producer, which
			// writes uncompressed batches.
			state := f.readAll(t, f.state)
			if len(state) == 0 {
				t.Error("no snapshot record in the state topic")
			}
			for _, r := range state {
				uncompressed(t, r)
			}

			// Versions stay gap-free across the crash and the snapshots.
			versions := map[string][]int64{}
			for _, e := range f.readEvents(t) {
				versions[e.AggregateID] = append(versions[e.AggregateID], e.Version)
			}
			for id, vs := range versions {
				if !slices.Equal(vs, seq(len(vs))) {
					t.Errorf("product %s versions %v", id, vs)
				}
			}
		})
	}
}

// TestSnapshotOfAnotherFormatIsIgnored: a state topic holding a record in
// another format (an older or newer decider's) is not used; the restore
// replays the whole log, and the next snapshot writes every product again
// in the current format, which the restore after that uses.
func TestSnapshotOfAnotherFormatIsIgnored(t *testing.T) {
	tests := []struct {
		name   string
		record func(pid string) *kgo.Record // written last to the product's partition
	}{
		{"checkpoint", func(string) *kgo.Record {
			v := encodeCheckpoint(checkpoint{eventsEnd: 0})
			v[0] = snapshotFormat + 1
			return &kgo.Record{Key: []byte(checkpointKey), Value: v}
		}},
		{"product", func(pid string) *kgo.Record {
			v := encodeProduct(product.State{Exists: true, Version: 1000}, "")
			v[0] = snapshotFormat - 1
			return &kgo.Record{Key: []byte(pid), Value: v}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 1)
			b := f.bus(t)
			cfg := f.config()
			a := f.start(t, cfg, nil)
			pids := []string{commandbus.NewID(), commandbus.NewID()}
			for _, pid := range pids {
				if res := b.do(t, createCmd(pid, 100)); res.Status != schemas.StatusAccepted {
					t.Fatalf("create: %+v", res)
				}
				if res := b.do(t, priceCmd(pid, 200)); res.Status != schemas.StatusAccepted {
					t.Fatalf("price: %+v", res)
				}
			}
			a.stop(t)
			if a.d.Stats().Snapshots == 0 {
				t.Fatalf("no snapshot written: %+v", a.d.Stats())
			}

			cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.DefaultProduceTopic(f.state),
				kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.ProduceSync(context.Background(), tt.record(pids[0])).FirstErr(); err != nil {
				t.Fatal(err)
			}

			snap, full, st := restoreBoth(t, f, cfg, 1)
			sameStates(t, snap, full)
			if st.SnapshotRestores != 0 {
				t.Errorf("restored %d partitions from a snapshot with a record of another format", st.SnapshotRestores)
			}

			// The next decider replays the log, and its first batch
			// writes both products again, which the next restore uses.
			c := f.start(t, cfg, nil)
			if res := b.do(t, priceCmd(pids[1], 300)); res.Status != schemas.StatusAccepted || res.Version != 3 {
				t.Fatalf("price after the restart: %+v", res)
			}
			c.stop(t)
			if st := c.d.Stats(); st.SnapshotRestores != 0 || st.SnapshotRecords != 3 {
				t.Errorf("decider after the foreign record: %d snapshot restores, %d snapshot records written, want 0 and 3 (two products, a checkpoint)",
					st.SnapshotRestores, st.SnapshotRecords)
			}
			snap, full, st = restoreBoth(t, f, cfg, 1)
			sameStates(t, snap, full)
			if st.SnapshotRestores != 1 || st.SnapshotProducts != 2 || st.RebuildEvents != 0 {
				t.Errorf("restore after a new snapshot: %d from snapshots with %d products, %d events read; want 1, 2, 0",
					st.SnapshotRestores, st.SnapshotProducts, st.RebuildEvents)
			}
		})
	}
}

// rebuildLog keeps, from a decider's log ("partition state rebuilt"), each
// partition whose state it rebuilt and whether every rebuild of it started
// from a snapshot; it passes every record on to next (nil: none).
type rebuildLog struct {
	next  slog.Handler
	mu    *sync.Mutex
	fromS map[int32]bool
}

func newRebuildLog(next *slog.Logger) rebuildLog {
	h := slog.Handler(slog.DiscardHandler)
	if next != nil {
		h = next.Handler()
	}
	return rebuildLog{next: h, mu: new(sync.Mutex), fromS: map[int32]bool{}}
}

func (h rebuildLog) Enabled(context.Context, slog.Level) bool { return true }

func (h rebuildLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "partition state rebuilt" {
		p, snap := int64(-1), false
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case logkey.Partition:
				p = a.Value.Int64()
			case "from_snapshot":
				snap = a.Value.Bool()
			}
			return true
		})
		h.mu.Lock()
		prev, seen := h.fromS[int32(p)]
		h.fromS[int32(p)] = snap && (!seen || prev)
		h.mu.Unlock()
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h rebuildLog) WithAttrs(as []slog.Attr) slog.Handler {
	h.next = h.next.WithAttrs(as)
	return h
}

func (h rebuildLog) WithGroup(name string) slog.Handler {
	h.next = h.next.WithGroup(name)
	return h
}

// rebuilt returns what the log has kept so far.
func (h rebuildLog) rebuilt() map[int32]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.fromS)
}
