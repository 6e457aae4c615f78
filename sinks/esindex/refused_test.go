package esindex_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
)

// refusedBatch is 30 products, one event each, and the products of bad
// among them; it returns the batch and the indexes of bad's events.
func refusedBatch(bad map[string]int) ([]schemas.Event, []int) {
	var events []schemas.Event
	var at []int
	for i := range 30 {
		id := fmt.Sprintf("p%02d", i)
		events = append(events, created(id, 1, "Product "+id))
		if i%10 == 4 {
			for b, n := range bad {
				if b[len(b)-1]-'0' != byte(i/10) {
					continue
				}
				at = append(at, len(events))
				events = append(events, created(b, 1, "Bad "+b))
				for v := 2; v <= n; v++ {
					events = append(events, stock(b, int64(v), int64(v)))
				}
			}
		}
	}
	return events, at
}

// A _bulk refused whole (400) for one document in it is sent again in
// halves: every other document is written, and the refused documents'
// events are named permanent, not retried forever.
func TestApplyRefusedBulkIsolatesTheDocuments(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	f.poisonBulk = map[string]bool{"bad0": true, "bad2": true}
	events, at := refusedBatch(map[string]int{"bad0": 1, "bad2": 1})
	err := ix.Apply(t.Context(), events)
	if got := batch.PermanentAt(err); !slices.Equal(got, at) {
		t.Fatalf("Apply = %v (permanent %v); want events %v named permanent", err, got, at)
	}
	if !strings.Contains(err.Error(), "illegal_argument_exception") {
		t.Errorf("Apply = %v, want it to say why", err)
	}
	checkStoredExcept(t, f, events, "bad0", "bad2")
	if f.refusedBulks == 0 || ix.Stats().Refused == 0 {
		t.Fatalf("%d bulks refused, stats %+v: the poison was never sent", f.refusedBulks, ix.Stats())
	}

	// The runtime dead-letters them and applies the rest again: all duplicates.
	rest := slices.DeleteFunc(slices.Clone(events), func(e schemas.Event) bool { return strings.HasPrefix(e.AggregateID, "bad") })
	f.refusedBulks = 0
	if err := ix.Apply(t.Context(), rest); err != nil || f.refusedBulks != 0 {
		t.Fatalf("Apply(the rest) = %v, %d bulks refused; want nil, none", err, f.refusedBulks)
	}
}

// A refused product of several events in the batch: its first event is
// named (as for a document rejected by its item), the rest of the batch is
// written.
func TestApplyRefusedBulkOfSeveralEvents(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	f.poisonBulk = map[string]bool{"bad1": true}
	events, at := refusedBatch(map[string]int{"bad1": 3})
	err := ix.Apply(t.Context(), events)
	if got := batch.PermanentAt(err); !slices.Equal(got, at) {
		t.Fatalf("Apply = %v (permanent %v); want event %v named permanent", err, got, at)
	}
	checkStoredExcept(t, f, events, "bad1")
}

// An _mget refused whole for one document in it: the other documents are
// read and written; the refused one's first event is named permanent.
func TestApplyRefusedMgetIsolatesTheDocument(t *testing.T) {
	f, c := newFake(t)
	// The products exist, written by another Index: this one must read
	// them (a create it would take to be new without a read).
	events, _ := refusedBatch(map[string]int{"bad2": 1})
	if err := fakeIndex(t, c).Apply(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	f.poisonMget = map[string]bool{"bad2": true}
	ix := fakeIndex(t, c)
	var changes []schemas.Event
	var at []int
	for _, e := range events {
		if e.AggregateID == "bad2" {
			at = append(at, len(changes))
		}
		changes = append(changes, stock(e.AggregateID, 2, 9))
	}
	err := ix.Apply(t.Context(), changes)
	if got := batch.PermanentAt(err); !slices.Equal(got, at) {
		t.Fatalf("Apply = %v (permanent %v); want events %v named permanent", err, got, at)
	}
	for _, e := range changes {
		want := 2.0
		if e.AggregateID == "bad2" {
			want = 1 // not read, so not written
		}
		if d, ok := f.stored(e.AggregateID); !ok || d["version"] != want {
			t.Errorf("product %s: stored %v (found %v), want version %v", e.AggregateID, d, ok, want)
		}
	}
	if f.refusedMgets == 0 {
		t.Fatal("no _mget refused: the poison was never read")
	}
}

// Whole requests refused for reasons that are not in what they hold stay
// transient: the batch is retried, nothing is dead-lettered.
func TestApplyRefusedForOtherReasonsIsTransient(t *testing.T) {
	for _, status := range []int{401, 403, 429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f, c := newFake(t)
			ix := fakeIndex(t, c)
			f.request = func(path string) int {
				if strings.HasSuffix(path, "/_bulk") || strings.HasSuffix(path, "/_mget") {
					return status
				}
				return 0
			}
			err := ix.Apply(t.Context(), []schemas.Event{created("a", 1, "A"), created("b", 1, "B")})
			var re *esindex.ResponseError
			var be *batch.Error
			if !errors.As(err, &re) || re.Status != status || errors.As(err, &be) {
				t.Fatalf("Apply = %v, want the %d as it is, no *batch.Error", err, status)
			}
		})
	}
}

// checkStoredExcept fails t unless every product of events but the refused
// ones is stored at its last version, and the refused ones are not stored.
func checkStoredExcept(t *testing.T, f *fakeES, events []schemas.Event, refused ...string) {
	t.Helper()
	last := map[string]int64{}
	for _, e := range events {
		last[e.AggregateID] = e.Version
	}
	for id, v := range last {
		d, ok := f.stored(id)
		switch {
		case slices.Contains(refused, id) && ok:
			t.Errorf("refused product %s stored: %v", id, d)
		case !slices.Contains(refused, id) && (!ok || d["version"] != float64(v)):
			t.Errorf("product %s: stored %v (found %v), want version %d", id, d, ok, v)
		}
	}
}
