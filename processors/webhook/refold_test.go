package webhook

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Under Refold the first assignment of a partition starts it at the log's
// start and keeps the committed offset as its mark: below it events only
// fold, and no commit moves the group back below it. A later assignment
// of the same partition is left where the group is.
func TestRefold(t *testing.T) {
	n := &Notifier{cfg: Config{Refold: true, Topic: "events"}.withDefaults()}
	n.log = n.cfg.Logger
	n.refolded.on = true
	offs := map[string]map[int32]kgo.Offset{"events": {
		0: kgo.NewOffset().At(8),     // committed by the run before
		1: kgo.NewOffset().At(0),     // committed at the start
		2: kgo.NewOffset().AtStart(), // never committed
	}}
	got, err := n.refold(context.Background(), offs)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: -2, 1: 0, 2: -2} {
		if at := got["events"][p].EpochOffset().Offset; at != want {
			t.Errorf("partition %d starts at %d, want %d", p, at, want)
		}
	}
	// Given again before the read passed the mark (no commit yet, the
	// group is still at 8): read from the start again, the mark kept.
	again, _ := n.refold(context.Background(), map[string]map[int32]kgo.Offset{"events": {0: kgo.NewOffset().At(8)}})
	if at := again["events"][0].EpochOffset().Offset; at != -2 {
		t.Errorf("partition 0 given again at its mark starts at %d, want -2 (the start)", at)
	}
	// Given again past the mark: where the group is.
	again, _ = n.refold(context.Background(), map[string]map[int32]kgo.Offset{"events": {0: kgo.NewOffset().At(12)}})
	if at := again["events"][0].EpochOffset().Offset; at != 12 {
		t.Errorf("partition 0 given again past its mark starts at %d, want 12 (where the group is)", at)
	}

	for _, c := range []struct {
		p      int32
		offset int64
		folded bool
	}{{0, 0, true}, {0, 7, true}, {0, 8, false}, {1, 0, false}, {2, 0, false}, {3, 0, false}} {
		if got := n.folded(c.p, c.offset); got != c.folded {
			t.Errorf("folded(%d, %d) = %v, want %v", c.p, c.offset, got, c.folded)
		}
	}

	rec := func(p int32, o int64) *kgo.Record { return &kgo.Record{Topic: "events", Partition: p, Offset: o} }
	recs := []*kgo.Record{rec(0, 3), rec(0, 6), rec(1, 0), rec(2, 5)}
	if got := n.committable(recs); len(got) != 2 || got[0] != recs[2] || got[1] != recs[3] {
		t.Errorf("committable = %v, want partition 0's left out (a commit of 7 would move the group back from 8)", got)
	}
	if got := n.committable([]*kgo.Record{rec(0, 7)}); len(got) != 1 {
		t.Errorf("committable of offset 7 (a commit of 8) = %v, want it kept", got)
	}
	if len(recs) != 4 || recs[0].Offset != 3 {
		t.Error("committable changed its argument")
	}

	off := &Notifier{cfg: Config{Topic: "events"}.withDefaults()}
	if off.folded(0, 0) || len(off.committable(recs)) != 4 {
		t.Error("without Refold every event counts and every record commits")
	}
}
