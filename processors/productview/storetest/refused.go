package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/runtimetest"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers"
)

// A document the store refuses fails its own changes, named as permanent
// by index, and no other: the rest of the batch is applied.
func testRefused(t *testing.T, b Backend) {
	s := b.New(t)
	b.Refuse(t, s, 1, "bad")
	changes := []productview.Change{
		{ID: "a", Version: 1, Set: set("name", "A")},
		{ID: "bad", Version: 1, Set: set("name", "B")},
		{ID: "c", Version: 1, Set: set("name", "C")},
		{ID: "bad", Version: 2, Incr: []productview.Incr{{Name: "n", By: 1}}},
		{ID: "a", Version: 2, Incr: []productview.Incr{{Name: "n", By: 1}}},
	}
	for round, want := range []productview.Result{{Applied: 3}, {Duplicates: 3}} {
		res, err := s.Apply(context.Background(), 1, changes)
		if got := batch.PermanentAt(err); !slices.Equal(got, []int{1, 3}) || res != want {
			t.Fatalf("round %d: Apply = %+v, %v (permanent %v); want %+v and changes 1 and 3 named as permanent", round, res, err, got, want)
		}
	}
	wantDoc(t, get(t, s, 1, "a"), 2, "name", "A", "n", "1")
	wantDoc(t, get(t, s, 1, "c"), 1, "name", "C")
}

// Through the projection runtime, every event of a product whose document
// the store refuses ends in the dead-letter topic, and the other products'
// events are applied.
func testRefusedDeadLettered(t *testing.T, b Backend) {
	events := eventgen.Stream(eventgen.Options{Products: 8, Events: 80, Seed: 11})
	refused := events[len(events)/2].AggregateID
	wantDead := 0
	for _, e := range events {
		if e.AggregateID == refused {
			wantDead++
		}
	}
	s := b.New(t)
	b.Refuse(t, s, 1, refused)
	proj, err := productview.NewWriter(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := runtimetest.Run(t, proj, events, wantDead)
	for _, r := range out.Dead {
		if string(r.Key) != refused || producers.Header(r, deadletter.HeaderReason) != deadletter.ReasonRejected {
			t.Errorf("dead letter of %s, reason %q; want only %s's events, reason rejected",
				r.Key, producers.Header(r, deadletter.HeaderReason), refused)
		}
	}
	if got := proj.Stats().Applied; got != int64(len(events)-wantDead) {
		t.Errorf("projector applied %d events, want %d", got, len(events)-wantDead)
	}
	want := map[string]productview.View{}
	for _, e := range events {
		if e.AggregateID != refused {
			want[e.AggregateID] = productview.Fold(want[e.AggregateID], e)
		}
	}
	reader := productview.NewReader(s)
	for id, w := range want {
		got, ok, err := reader.GetAt(context.Background(), 1, id)
		if err != nil || !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("view %s = %+v, found %v, %v; want the fold %+v", id, got, ok, err, w)
		}
	}
}
