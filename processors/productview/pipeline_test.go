package productview_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// pipeline is one events topic on the real broker with a Redis view store.
type pipeline struct {
	brokers []string
	topic   string
	dlq     string
	codec   *schemas.Codec
	store   *redisview.Store
}

func newPipeline(t *testing.T, rc redis.UniversalClient, events []schemas.Event) *pipeline {
	t.Helper()
	brokers := testenv.Kafka(t)
	p := &pipeline{brokers: brokers, topic: testenv.Topic(t, brokers, "t.events", 6), dlq: testenv.Topic(t, brokers, "t.dlq", 1)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if p.codec, err = schemas.NewCodec(); err != nil {
		t.Fatal(err)
	}
	p.publish(t, events)
	p.store = redistest.NewStore(t, rc)
	return p
}

func (p *pipeline) publish(t *testing.T, events []schemas.Event) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := producers.NewPublisher(cl, p.codec, p.topic).Publish(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
}

func (p *pipeline) run(ctx context.Context, t *testing.T, proj processors.Projection, group string) (*processors.Runner, chan error) {
	t.Helper()
	proc, err := processors.New(processors.Config{
		Name: group, Generation: 1, Topic: p.topic, DeadLetterTopic: p.dlq, MaxBatch: 1000,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}, p.codec, proj, kgo.SeedBrokers(p.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	return proc, done
}

// checkViews compares every view in the store with the pure fold.
func checkStoreViews(t *testing.T, store *redisview.Store, events []schemas.Event) {
	t.Helper()
	want := map[string]productview.View{}
	for _, e := range events {
		want[e.AggregateID] = productview.Fold(want[e.AggregateID], e)
	}
	reader := productview.NewReader(store)
	for id, w := range want {
		got, ok, err := reader.GetAt(context.Background(), 1, id)
		if err != nil || !ok {
			t.Fatalf("view %s: found %v, err %v", id, ok, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("view %s differs from the fold:\n got %+v\nwant %+v", id, got, w)
		}
	}
	if n, err := store.Count(context.Background(), 1); err != nil || n != len(want) {
		t.Fatalf("store holds %d views (err %v), want %d", n, err, len(want))
	}
}

// crashing applies half of one batch and then fails and kills its
// processor: the store has part of a batch whose offsets are not committed.
type crashing struct {
	inner  *productview.Writer
	after  int64 // crash once this many events were handed over
	seen   atomic.Int64
	cancel context.CancelFunc
	once   sync.Once
}

func (c *crashing) Apply(ctx context.Context, batch []schemas.Event) error {
	return c.apply(ctx, len(batch), func(n int) error { return c.inner.Apply(ctx, batch[:n]) })
}

// ApplyAt passes the partition on, as the runtime hands it to the writer
// (its store then writes through ApplyIn: on one server, versions known
// per partition under its fence).
func (c *crashing) ApplyAt(ctx context.Context, batch []schemas.Event, partition int32, offsets []int64) error {
	return c.apply(ctx, len(batch), func(n int) error { return c.inner.ApplyAt(ctx, batch[:n], partition, offsets[:n]) })
}

// apply writes a batch of n events through write(n), or, once the crash
// is due, half of it through write(n/2) and crashes.
func (c *crashing) apply(ctx context.Context, n int, write func(n int) error) error {
	if c.seen.Add(int64(n)) < c.after {
		return write(n)
	}
	crashed := false
	c.once.Do(func() {
		_ = write(n / 2)
		c.cancel()
		crashed = true
	})
	if crashed {
		return errors.New("crash")
	}
	<-ctx.Done()
	return ctx.Err()
}

// A projector killed in the middle of a batch (half of it written) and
// started again converges to the fold of the log, on a real server and on a
// real Redis Cluster.
func TestCrashMidBatchConverges(t *testing.T) {
	for _, b := range []struct {
		name   string
		client func(testing.TB) redis.UniversalClient
	}{{redistest.Real, redistest.RealRedis}, {redistest.Cluster, redistest.RealCluster}} {
		t.Run(b.name, func(t *testing.T) { crashMidBatchConverges(t, b.client(t)) })
	}
}

func crashMidBatchConverges(t *testing.T, rc redis.UniversalClient) {
	events := eventgen.Stream(eventgen.Options{Products: 2000, Events: 50000, Seed: 41, Discontinue: true})
	p := newPipeline(t, rc, events)
	group := testenv.Name("crash")

	first, err := productview.NewWriter(p.store, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	proc, done := p.run(ctx, t, &crashing{inner: first, after: 20000, cancel: cancel}, group)
	if err := <-done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	if s := proc.Stats(); s.Records >= int64(len(events)) || s.Records == 0 {
		t.Fatalf("first run committed %d of %d records; the crash should come mid-stream", s.Records, len(events))
	}
	t.Logf("crashed after committing %d of %d records", proc.Stats().Records, len(events))

	// The process that takes over has a store of its own: it knows
	// nothing of the versions the first one wrote.
	again, err := redisview.New(rc, redisview.Config{Projection: p.store.Projection()})
	if err != nil {
		t.Fatal(err)
	}
	second, _ := productview.NewWriter(again, 1)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	proc2, done2 := p.run(ctx2, t, second, group)
	testenv.Eventually(t, 3*time.Minute, func() error {
		if s := proc.Stats().Records + proc2.Stats().Records; s != int64(len(events)) {
			return fmt.Errorf("committed %d of %d records", s, len(events))
		}
		return nil
	})
	cancel2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	if s := proc2.Stats(); s.DeadLettered != 0 {
		t.Fatalf("%d dead letters", s.DeadLettered)
	}
	t.Logf("second run: %d applied, %d duplicates skipped", second.Stats().Applied, second.Stats().Duplicates)
	if second.Stats().Duplicates == 0 {
		t.Errorf("the second run should have skipped the half batch the crash left behind")
	}
	checkStoreViews(t, p.store, events)
}

// TestRedisOutageResumes stops a Redis server of the test's own for ten
// seconds in the middle of a stream (persisted to disk, so it comes back
// with its data): the projection retries, dead-letters nothing, and
// converges once Redis is back.
func TestRedisOutageResumes(t *testing.T) {
	testenv.Kafka(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; `make services-up` installs it")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", dir, "--appendonly", "yes", "--save", "")
		logf, err := os.OpenFile(filepath.Join(dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	srv := start()
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { rc.Close() })
	testenv.Eventually(t, 10*time.Second, func() error { return rc.Ping(context.Background()).Err() })

	// The first quarter of the stream is published before the outage, the
	// rest while Redis is down.
	events := eventgen.Stream(eventgen.Options{Products: 500, Events: 20000, Seed: 43})
	p := newPipeline(t, rc, events[:5000])
	proj, _ := productview.NewWriter(p.store, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proc, done := p.run(ctx, t, proj, testenv.Name("outage"))

	testenv.Eventually(t, time.Minute, func() error {
		if n := proc.Stats().Records; n < 5000 {
			return fmt.Errorf("%d of the first 5000 records so far", n)
		}
		return nil
	})
	// Stop Redis (it writes its append-only file on shutdown).
	if err := rc.Do(context.Background(), "SHUTDOWN").Err(); err != nil && !errors.Is(err, redis.ErrClosed) && err.Error() != "EOF" {
		t.Logf("shutdown: %v", err)
	}
	srv.Wait()
	p.publish(t, events[5000:])
	before := proc.Stats().Retries
	downAt := time.Now()
	testenv.Eventually(t, time.Minute, func() error {
		if proc.Stats().Retries < before+3 {
			return fmt.Errorf("no retries yet")
		}
		return nil
	})
	time.Sleep(10*time.Second - time.Since(downAt)) // the outage the scenario calls for, not a wait for a condition
	if s := proc.Stats(); s.Records != 5000 {
		t.Fatalf("committed %d records with Redis down; only the 5000 before the outage were stored", s.Records)
	}
	srv = start()
	testenv.Eventually(t, 10*time.Second, func() error { return rc.Ping(context.Background()).Err() })

	testenv.Eventually(t, 2*time.Minute, func() error {
		if s := proc.Stats(); s.Records != int64(len(events)) {
			return fmt.Errorf("committed %d of %d records after the outage", s.Records, len(events))
		}
		return nil
	})
	cancel()
	<-done
	s := proc.Stats()
	if s.DeadLettered != 0 {
		t.Fatalf("%d records dead-lettered during a Redis outage", s.DeadLettered)
	}
	t.Logf("retries during the outage: %d", s.Retries-before)
	checkStoreViews(t, p.store, events)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
