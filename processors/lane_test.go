package processors

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A lane takes the polls that queued while it was applying together, as
// long as they fill no more than one batch: a sink's Apply costs round trips
// whatever its size, so a busy lane that applied each poll on its own fell
// behind. Order is kept, and a poll is never split.
func TestLaneTakesQueuedPollsTogether(t *testing.T) {
	poll := func(from, n int64) []*kgo.Record {
		out := make([]*kgo.Record, 0, n+8) // spare capacity: merging must not write into it
		for o := from; o < from+n; o++ {
			out = append(out, &kgo.Record{Offset: o})
		}
		return out
	}
	offsets := func(recs []*kgo.Record) []int64 {
		var out []int64
		for _, r := range recs {
			out = append(out, r.Offset)
		}
		return out
	}
	seq := func(from, to int64) []int64 {
		var out []int64
		for o := from; o < to; o++ {
			out = append(out, o)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		maxBatch int
		polls    [][2]int64 // from, n
		want     [][]int64  // the offsets of each take, in order
	}{
		{"one poll", 10, [][2]int64{{0, 3}}, [][]int64{seq(0, 3)}},
		{"polls that fit one batch", 10, [][2]int64{{0, 3}, {3, 4}, {7, 3}}, [][]int64{seq(0, 10)}},
		{"up to a batch, the rest later", 10, [][2]int64{{0, 3}, {3, 4}, {7, 4}, {11, 2}}, [][]int64{seq(0, 7), seq(7, 13)}},
		{"a poll larger than a batch alone", 10, [][2]int64{{0, 12}, {12, 1}, {13, 1}}, [][]int64{seq(0, 12), seq(12, 14)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := &lanes{p: &Runner{cfg: Config{MaxBatch: tc.maxBatch}}}
			l := &lane{}
			var queued [][]*kgo.Record
			for _, p := range tc.polls {
				recs := poll(p[0], p[1])
				queued = append(queued, recs)
				l.queue = append(l.queue, recs)
			}
			for i, want := range tc.want {
				got, ok := ls.next(l)
				if !ok || !slices.Equal(offsets(got), want) {
					t.Fatalf("take %d: offsets %v (ok %v), want %v", i, offsets(got), ok, want)
				}
			}
			if got, ok := ls.next(l); ok {
				t.Fatalf("after the takes: got %v more", offsets(got))
			}
			for i, recs := range queued {
				if want := seq(tc.polls[i][0], tc.polls[i][0]+tc.polls[i][1]); !slices.Equal(offsets(recs), want) || len(recs[:cap(recs)]) != len(recs)+8 {
					t.Fatalf("poll %d changed by the merge: %v", i, offsets(recs))
				}
				for _, r := range recs[len(recs):cap(recs)] {
					if r != nil {
						t.Fatalf("poll %d: the merge wrote into its spare capacity", i)
					}
				}
			}
		})
	}
}
