package rebuild_test

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/rebuild"
)

// note is one report's committed offsets of a group, at a time since the
// start of a case, and the rate it should give (unknown: none).
type note struct {
	at      time.Duration
	group   string // "g" when empty
	offsets map[int32]int64
	want    float64
	unknown bool
}

func TestRatesFromCommittedOffsets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		notes []note
	}{
		{"the first report has nothing to measure from", []note{
			{at: 0, offsets: map[int32]int64{0: 100}, unknown: true},
		}},
		{"a second report under MinRateSpan later neither", []note{
			{at: 0, offsets: map[int32]int64{0: 100}, unknown: true},
			{at: 500 * time.Millisecond, offsets: map[int32]int64{0: 150}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{0: 200}, want: 50},
		}},
		{"summed over the partitions", []note{
			{at: 0, offsets: map[int32]int64{0: 10, 1: 20, 2: 30}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{0: 30, 1: 40, 2: 30}, want: 20},
		}},
		{"an idle group has a rate of 0, known", []note{
			{at: 0, offsets: map[int32]int64{0: 7}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{0: 7}, want: 0},
		}},
		{"a group with no committed offset yet has a rate of 0, known, until its first commit", []note{
			{at: 0, offsets: map[int32]int64{}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{}, want: 0},
			{at: 4 * time.Second, offsets: map[int32]int64{0: 50}, unknown: true}, // how much of it since 2 s?
			{at: 5 * time.Second, offsets: map[int32]int64{0: 100}, want: 50},
		}},
		// Polled every 2 s (the console): over the last RateWindow once
		// there is that much, as the runtime's rate.
		{"over the window of the runtime's rate", []note{
			{at: 0, offsets: map[int32]int64{0: 0}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{0: 200}, want: 100},
			{at: 4 * time.Second, offsets: map[int32]int64{0: 400}, want: 100},
			{at: 6 * time.Second, offsets: map[int32]int64{0: 400}, want: 400.0 / 6},
			{at: 8 * time.Second, offsets: map[int32]int64{0: 400}, want: 50},
			{at: 10 * time.Second, offsets: map[int32]int64{0: 400}, want: 40},
			{at: 12 * time.Second, offsets: map[int32]int64{0: 400}, want: 20}, // from 2 s
			{at: 14 * time.Second, offsets: map[int32]int64{0: 400}, want: 0},  // from 4 s
			{at: 16 * time.Second, offsets: map[int32]int64{0: 500}, want: 10},
		}},
		{"reports less often than the window measure since the last", []note{
			{at: 0, offsets: map[int32]int64{0: 0}, unknown: true},
			{at: 15 * time.Second, offsets: map[int32]int64{0: 300}, want: 20},
			{at: 40 * time.Second, offsets: map[int32]int64{0: 800}, want: 20},
		}},
		{"nor from a report older than MaxRateSpan", []note{
			{at: 0, offsets: map[int32]int64{0: 0}, unknown: true},
			{at: rebuild.MaxRateSpan + time.Second, offsets: map[int32]int64{0: 300}, unknown: true},
			{at: rebuild.MaxRateSpan + 3*time.Second, offsets: map[int32]int64{0: 310}, want: 5},
		}},
		{"offsets gone back (a replay) start over", []note{
			{at: 0, offsets: map[int32]int64{0: 1000, 1: 1000}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{0: 0, 1: 1100}, unknown: true},
			{at: 3 * time.Second, offsets: map[int32]int64{0: 30, 1: 1120}, want: 50},
		}},
		{"a committed offset gone (the group deleted) starts over", []note{
			{at: 0, offsets: map[int32]int64{0: 1000}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{}, unknown: true},
			{at: 4 * time.Second, offsets: map[int32]int64{0: 40}, unknown: true},
			{at: 5 * time.Second, offsets: map[int32]int64{0: 60}, want: 20},
		}},
		{"a partition's first commit is measured from the report that has it", []note{
			{at: 0, offsets: map[int32]int64{0: 100}, unknown: true},
			{at: 2 * time.Second, offsets: map[int32]int64{0: 120, 1: 5000}, unknown: true},
			{at: 4 * time.Second, offsets: map[int32]int64{0: 140, 1: 5040}, want: 30}, // from 2 s, not 0 s
		}},
		{"groups are measured apart", []note{
			{at: 0, group: "a", offsets: map[int32]int64{0: 0}, unknown: true},
			{at: time.Second, group: "b", offsets: map[int32]int64{0: 0}, unknown: true},
			{at: 2 * time.Second, group: "a", offsets: map[int32]int64{0: 100}, want: 50},
			{at: 3 * time.Second, group: "b", offsets: map[int32]int64{0: 10}, want: 5},
		}},
		// Concurrent reports may note their offsets out of order: the
		// later time is kept, the earlier measured against what is older.
		{"a report noting an earlier time than the last", []note{
			{at: 0, offsets: map[int32]int64{0: 0}, unknown: true},
			{at: 4 * time.Second, offsets: map[int32]int64{0: 400}, want: 100},
			{at: 3 * time.Second, offsets: map[int32]int64{0: 390}, want: 130},
			{at: 6 * time.Second, offsets: map[int32]int64{0: 600}, want: 100},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r rebuild.Rates
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, n := range tc.notes {
				g := n.group
				if g == "" {
					g = "g"
				}
				got, ok := r.Rate(g, start.Add(n.at), n.offsets)
				switch {
				case n.unknown && ok:
					t.Errorf("note %d at %v: rate %v, want unknown", i, n.at, got)
				case !n.unknown && !ok:
					t.Errorf("note %d at %v: unknown, want %v", i, n.at, n.want)
				case !n.unknown && math.Abs(got-n.want) > 1e-9:
					t.Errorf("note %d at %v: rate %v, want %v", i, n.at, got, n.want)
				}
			}
		})
	}
}

// Several clients poll GET /v1/projections at once: Rates is shared.
func TestRatesConcurrently(t *testing.T) {
	var r rebuild.Rates
	start := time.Now()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 200 {
				at := start.Add(time.Duration(i) * 100 * time.Millisecond)
				r.Rate(fmt.Sprintf("g%d", c%3), at, map[int32]int64{0: int64(i) * 10})
			}
		})
	}
	wg.Wait()
	if got, ok := r.Rate("g0", start.Add(20*time.Second+100*time.Millisecond), map[int32]int64{0: 2000}); !ok || got <= 0 {
		t.Fatalf("rate after the polls: %v, %v; want a positive one", got, ok)
	}
}
