package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productview"
)

// BurstEvents is how many events of one product the burst case puts in one
// batch: past what one write of all their values can take (a Redis HSET of
// every value of every change stops at about 8,000 values, 445 full
// details updates).
const BurstEvents = 5000

// A burst of one product's events in one batch (full details updates with
// long tag lists, prices, stocks, reviews) applies whole and gives exactly
// the view the fold gives; the same batch again is all duplicates, and a
// batch that repeats the first part of the burst applies only the rest.
func testBurst(t *testing.T, s Store) {
	const id = "00000000-0000-4000-8000-00000000b0b0"
	events := eventgen.Burst(id, BurstEvents, 12, time.Time{})
	changes := make([]productview.Change, len(events))
	var want productview.View
	for i, e := range events {
		c, err := productview.ChangeOf(e)
		if err != nil {
			t.Fatalf("ChangeOf(event %d): %v", i, err)
		}
		changes[i] = c
		want = productview.Fold(want, e)
	}
	reader := productview.NewReader(s)
	check := func(gen int, what string) {
		t.Helper()
		got, ok, err := reader.GetAt(context.Background(), gen, id)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: view = %+v, found %v, %v; want the fold %+v", what, got, ok, err, want)
		}
	}

	apply(t, s, 1, productview.Result{Applied: BurstEvents}, changes...)
	check(1, "after the burst")
	apply(t, s, 1, productview.Result{Duplicates: BurstEvents}, changes...)
	check(1, "after the burst again")

	// A crash after the first part: the runtime sends it again with the rest.
	const first = 1700
	apply(t, s, 2, productview.Result{Applied: first}, changes[:first]...)
	apply(t, s, 2, productview.Result{Applied: BurstEvents - first, Duplicates: first}, changes...)
	check(2, "after the first part, then the whole burst")
}
