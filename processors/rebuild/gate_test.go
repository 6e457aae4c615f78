package rebuild

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

type countingProjection struct {
	calls   atomic.Int64
	release chan struct{}
}

func (c *countingProjection) Apply(ctx context.Context, batch []schemas.Event) error {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	return nil
}

// Pausing waits for the write in flight and holds the next one back until
// resume; a paused write gives up when its context ends.
func TestGate(t *testing.T) {
	ctx := context.Background()
	inner := &countingProjection{release: make(chan struct{})}
	g := newGate(inner)
	first := make(chan error, 1)
	go func() { first <- g.Apply(ctx, make([]schemas.Event, 3)) }()
	for inner.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	paused := make(chan error, 1)
	go func() { paused <- g.pause(ctx) }()
	select {
	case <-paused:
		t.Fatal("pause returned with a write in flight")
	case <-time.After(20 * time.Millisecond):
	}
	close(inner.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-paused; err != nil {
		t.Fatal(err)
	}
	if g.applied.Load() != 3 {
		t.Fatalf("applied %d, want 3", g.applied.Load())
	}
	second := make(chan error, 1)
	go func() { second <- g.Apply(ctx, make([]schemas.Event, 2)) }()
	time.Sleep(20 * time.Millisecond)
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("a write went through the paused gate (%d calls)", n)
	}
	g.resume()
	if err := <-second; err != nil || g.applied.Load() != 5 {
		t.Fatalf("after resume: %v, applied %d", err, g.applied.Load())
	}

	if err := g.pause(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := g.Apply(cctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("paused Apply with an ending context = %v", err)
	}
	g.resume()
	g.resume() // twice is harmless
}

// positionedProjection records the partition ApplyAt is given, and the
// one Forget is.
type positionedProjection struct {
	countingProjection
	partition int32
	forgot    int32
}

func (p *positionedProjection) Forget(partition int32) { p.forgot = partition }

func (p *positionedProjection) ApplyAt(ctx context.Context, batch []schemas.Event, partition int32, offsets []int64) error {
	p.partition = partition
	return p.Apply(ctx, batch)
}

// The gate passes the batch's positions on to a projection that takes them
// (the product view's writer gives its store the partition), and the
// runtime's Forget, and counts
// the events applied as Apply does.
func TestGatePassesPositions(t *testing.T) {
	inner := &positionedProjection{partition: -1, forgot: -1}
	g := newGate(inner)
	if err := g.ApplyAt(context.Background(), make([]schemas.Event, 2), 4, []int64{7, 8}); err != nil {
		t.Fatal(err)
	}
	if inner.partition != 4 || g.applied.Load() != 2 {
		t.Fatalf("inner got partition %d, gate applied %d; want 4 and 2", inner.partition, g.applied.Load())
	}
	processors.Forget(g, 5)
	if inner.forgot != 5 {
		t.Fatalf("inner told to forget partition %d; want 5", inner.forgot)
	}
	plain := &countingProjection{}
	if err := newGate(plain).ApplyAt(context.Background(), make([]schemas.Event, 1), 4, []int64{7}); err != nil || plain.calls.Load() != 1 {
		t.Fatalf("plain projection: %v, %d calls; want its Apply called", err, plain.calls.Load())
	}
}

// firstApplyBlocks reports each Apply's size and holds the first until
// release is closed.
type firstApplyBlocks struct {
	calls   atomic.Int64
	sizes   chan int
	release chan struct{}
}

func (p *firstApplyBlocks) Apply(ctx context.Context, batch []schemas.Event) error {
	p.sizes <- len(batch)
	if p.calls.Add(1) == 1 {
		<-p.release
	}
	return nil
}

// A lane that takes more records than MaxBatch applies them in several
// batches. With the gate paused between two of them (a rebuild's count),
// settled must see the first one committed: the runtime hands each batch to
// its committer once stored, not after the whole take, whose next batch the
// pause holds back (helper 90: settled waited for that commit for good, and
// the rebuild failed its count).
func TestSettledBetweenBatchesOfOneTake(t *testing.T) {
	ctx := context.Background()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "g.events", "g.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	events := eventgen.Stream(eventgen.Options{Products: 5, Events: 25, Seed: 1})
	if _, err := producers.NewPublisher(cl, codec, "g.events").Publish(ctx, events...); err != nil {
		t.Fatal(err)
	}

	inner := &firstApplyBlocks{sizes: make(chan int, 100), release: make(chan struct{})}
	g := newGate(inner)
	proc, err := processors.New(processors.Config{Name: "g", Generation: 1, Topic: "g.events", DeadLetterTopic: "g.dlq", MaxBatch: 10},
		codec, g, kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proc.Run(rctx) }()
	defer func() { g.resume(); stop(); <-done }()

	if n := <-inner.sizes; n != 10 { // the take's first batch is in Apply
		t.Fatalf("first Apply of %d events, want a full batch of 10 (the take must hold more than one batch)", n)
	}
	paused := make(chan error, 1)
	go func() { paused <- g.pause(ctx) }()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	closed := func() (bool, error) { // pause has closed the gate
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-g.open:
			return false, nil
		default:
			return true, nil
		}
	}
	if err := poll(wctx, time.Millisecond, closed); err != nil {
		t.Fatal(err)
	}
	close(inner.release)
	if err := <-paused; err != nil {
		t.Fatal(err)
	}
	if err := g.settled(wctx, proc); err != nil {
		t.Fatalf("settled with the gate paused between two batches of one take: %v (gate applied %d, runtime committed %d, Apply calls %d)",
			err, g.applied.Load(), proc.Stats().Applied, inner.calls.Load())
	}
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("%d Apply calls through the paused gate, want 1", n)
	}
	g.resume()
	for got := 10; got < 25; got += <-inner.sizes {
	}
}
