package rebuild

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

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
