package decider

import (
	"context"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// BenchmarkCreateWithWait is the latency of POST /v1/products with
// Prefer: wait as the API sees it: Sender.Send, then Results.Wait for the
// decider's outcome, one request at a time.
func BenchmarkCreateWithWait(b *testing.B) {
	f := newFixture(b, 3)
	f.start(b, f.config(), nil)
	bs := f.bus(b)
	bs.do(b, createCmd(commandbus.NewID(), 1)) // warm up: join, rebuild

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		if res := bs.do(b, createCmd(commandbus.NewID(), 100)); res.Status != schemas.StatusAccepted {
			b.Fatalf("create: %+v", res)
		}
		lat = append(lat, time.Since(began))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkCreateWithWaitParallel is the same with 64 requests in flight:
// commands/s with every sender waiting for its outcome.
func BenchmarkCreateWithWaitParallel(b *testing.B) {
	f := newFixture(b, 3)
	f.start(b, f.config(), nil)
	bs := f.bus(b)
	bs.do(b, createCmd(commandbus.NewID(), 1))

	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	b.SetParallelism(32) // × GOMAXPROCS goroutines
	b.ResetTimer()
	began := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if res := bs.do(b, createCmd(commandbus.NewID(), 100)); res.Status != schemas.StatusAccepted {
				b.Errorf("create: %+v", res)
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(len(lat))/time.Since(began).Seconds(), "commands/s")
	reportLatency(b, lat)
}

// BenchmarkDeciderBacklog is how fast a decider works off a backlog of
// price changes (one transaction per polled batch).
func BenchmarkDeciderBacklog(b *testing.B) {
	n := envInt("DECIDER_BACKLOG", 20_000)
	for range b.N {
		b.StopTimer()
		f := newFixture(b, 3)
		cmds, _ := crashWorkload(100, n/100-1)
		f.produceCommands(b, cmds)
		b.StartTimer()
		began := time.Now()
		r := f.start(b, f.config(), nil)
		for r.d.Stats().Decided < int64(len(cmds)) {
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(began)
		b.StopTimer()
		r.stop(b)
		st := r.d.Stats()
		b.ReportMetric(float64(len(cmds))/took.Seconds(), "commands/s")
		b.ReportMetric(float64(len(cmds))/float64(st.Committed), "commands/txn")
		b.StartTimer()
	}
}

// BenchmarkRebuild is the time to build one partition's state from N
// events (DECIDER_REBUILD_EVENTS, default 100,000), all within the
// idempotency window so that every command ID is remembered: the worst
// case for memory.
func BenchmarkRebuild(b *testing.B) {
	n := envInt("DECIDER_REBUILD_EVENTS", 100_000)
	f := newFixture(b, 1)
	events := eventgen.Stream(eventgen.Options{Products: max(1, n/50), Events: n, Seed: 42, Start: time.Now().Add(-time.Hour)})
	produceEvents(b, f, events)

	d, err := New(f.config(), f.codec)
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadmClient(cl)

	var before, after runtime.MemStats
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		cpu0 := cpuTime()
		began := time.Now()
		states, err := d.rebuild(context.Background(), adm, []int32{0})
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(began)
		cpu := cpuTime() - cpu0
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := states[0]
		if len(st.products) != max(1, n/50) {
			b.Fatalf("%d products, want %d", len(st.products), n/50)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "events/s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "state-MiB")
		runtime.KeepAlive(states)
	}
}

func produceEvents(b *testing.B, f *fixture, events []schemas.Event) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.DefaultProduceTopic(f.events),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	// Encode on every core; produce in order.
	recs := make([]*kgo.Record, len(events))
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(events); i = int(next.Add(1) - 1) {
				e := events[i]
				v, err := f.codec.EncodeEvent(e)
				if err != nil {
					b.Error(err)
					return
				}
				recs[i] = &kgo.Record{Key: []byte(e.AggregateID), Value: v, Headers: producers.EventHeaders(e), Timestamp: e.Timestamp}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	var failed atomic.Value
	for _, r := range recs {
		cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.90), "p90-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(0, "ns/op") // latency percentiles say more
}

// cpuTime is the CPU time this process has used; on a shared machine it
// says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkRestore restores one partition's state twice in one run: by a
// replay of its whole events log, and from a snapshot plus the events
// written after it (DECIDER_RESTORE_TAIL, DefaultSnapshotEvery by default:
// at most about that many commands' events follow the latest snapshot),
// and checks that both hold the same products. It also reports the
// decider's memory per 100,000 products (heap after GC, product states
// only: the events are older than the idempotency window, so no command
// outcomes are remembered by either path; those come from the results
// topic, the same in both).
//
//	DECIDER_RESTORE_EVENTS=1000000 go test -run '^$' -bench BenchmarkRestore -benchtime 1x ./producers/decider
func BenchmarkRestore(b *testing.B) {
	n := envInt("DECIDER_RESTORE_EVENTS", 100_000)
	products := max(1, n/10)
	tail := min(envInt("DECIDER_RESTORE_TAIL", DefaultSnapshotEvery), n-products)
	f := newFixture(b, 1)
	events := eventgen.Stream(eventgen.Options{Products: products, Events: n, Seed: 42, Start: time.Now().Add(-48 * time.Hour)})
	d, err := New(f.config(), f.codec)
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadmClient(cl)
	ctx := context.Background()
	ps := []int32{0}

	// The snapshot is of the state before the tail, written as the
	// decider writes a first snapshot: every product, then a checkpoint.
	produceEvents(b, f, events[:n-tail])
	head, err := d.rebuildFrom(ctx, adm, ps, false)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := d.snapshotRecords(0, newOverlay(head[0]), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range snap {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	head = nil
	produceEvents(b, f, events[n-tail:])

	var with, without runtime.MemStats
	for b.Loop() {
		s0 := d.Stats()
		began := time.Now()
		restored, err := d.rebuildFrom(ctx, adm, ps, true)
		if err != nil {
			b.Fatal(err)
		}
		snapTook := time.Since(began)
		s1 := d.Stats()
		if s1.SnapshotRestores-s0.SnapshotRestores != 1 {
			b.Fatal("the restore did not start from the snapshot")
		}

		began = time.Now()
		full, err := d.rebuildFrom(ctx, adm, ps, false)
		if err != nil {
			b.Fatal(err)
		}
		fullTook := time.Since(began)
		// The replayed state's size: the heap with it and without it.
		runtime.GC()
		runtime.ReadMemStats(&with)
		if len(full[0].products) != products || !reflect.DeepEqual(full[0].products, restored[0].products) {
			b.Fatalf("the restore from the snapshot holds %d products, the replay %d, or they differ", len(restored[0].products), len(full[0].products))
		}
		full = nil
		runtime.GC()
		runtime.ReadMemStats(&without)
		heap := float64(with.HeapAlloc - min(without.HeapAlloc, with.HeapAlloc))

		b.ReportMetric(fullTook.Seconds(), "replay-s")
		b.ReportMetric(snapTook.Seconds(), "snapshot-s")
		b.ReportMetric(float64(s1.RebuildEvents-s0.RebuildEvents), "events-after-snapshot")
		b.ReportMetric(fullTook.Seconds()/snapTook.Seconds(), "speedup")
		b.ReportMetric(heap/float64(products)*100_000/(1<<20), "MiB/100k-products")
		b.ReportMetric(0, "ns/op")
		runtime.KeepAlive(restored)
	}
}
