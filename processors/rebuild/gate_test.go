package rebuild

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamview/streamview/processors"
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
