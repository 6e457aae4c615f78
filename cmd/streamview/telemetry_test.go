package main

import (
	"context"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// wrapped stands for a rebuild's gate: a projection around the sink.
type wrapped struct{ processors.Projection }

func (w wrapped) Unwrap() processors.Projection { return w.Projection }

// The duplicates a projection reports are its sink's, through a rebuild's
// gate too, and those of the runner it continues (the rebuild's processor,
// whose sink sits in a gate: it counted 0).
func TestDuplicatesThroughAGateAndAContinuedRunner(t *testing.T) {
	ctx := context.Background()
	store := redistest.NewStore(t, redistest.Miniredis(t))
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	events := eventgen.Stream(eventgen.Options{Products: 3, Events: 12, Seed: 6})
	runner := func(proj processors.Projection) *processors.Runner {
		t.Helper()
		p, err := processors.New(processors.Config{Name: productview.Name, Generation: 1, Topic: "events"}, nil, proj)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	built, err := productview.NewWriter(store, 1)
	if err != nil {
		t.Fatal(err)
	}
	live, err := productview.NewWriter(store, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*productview.Writer{built, built, live} { // twice: every event a duplicate; then once more
		if err := w.Apply(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	b := runner(wrapped{built})
	if got := duplicates(b); got != int64(len(events)) {
		t.Fatalf("duplicates through the gate = %d, want %d", got, len(events))
	}
	l := runner(live)
	l.Continue(b)
	if got := duplicates(l); got != 2*int64(len(events)) {
		t.Fatalf("duplicates of the runner that continues it = %d, want %d", got, 2*len(events))
	}
}
