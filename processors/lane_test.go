package processors

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A lane takes the polls that queued while it was applying together, up
// to a full batch: a sink's Apply costs round trips whatever its size, so a
// busy lane that applied each poll on its own fell behind, and a batch
// left short of MaxBatch writes more (a product's events folded in fewer
// writes per batch). An oldest poll of more than a batch gives as many
// whole batches as it holds. The poll at which the take is full is split,
// its rest taken first next time. Order is kept, and no poll's array is
// written into.
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
		{"up to a full batch, the split poll's rest first next time", 10, [][2]int64{{0, 3}, {3, 4}, {7, 4}, {11, 2}}, [][]int64{seq(0, 10), seq(10, 13)}},
		{"polls that fill a batch exactly", 10, [][2]int64{{0, 6}, {6, 4}, {10, 5}}, [][]int64{seq(0, 10), seq(10, 15)}},
		{"a split rest that fills a batch with the next", 10, [][2]int64{{0, 8}, {8, 8}, {16, 4}, {20, 3}}, [][]int64{seq(0, 10), seq(10, 20), seq(20, 23)}},
		{"a poll of a batch and a bit: the bit with the next", 10, [][2]int64{{0, 12}, {12, 1}, {13, 1}}, [][]int64{seq(0, 10), seq(10, 14)}},
		{"a poll of whole batches and more", 10, [][2]int64{{0, 27}, {27, 5}}, [][]int64{seq(0, 20), seq(20, 30), seq(30, 32)}},
		{"a short poll, then one larger than a batch", 10, [][2]int64{{0, 2}, {2, 25}}, [][]int64{seq(0, 10), seq(10, 20), seq(20, 27)}},
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
