package processors_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
)

// Commits run in the background, after the lanes have moved on: a Run
// that ends (its context done) still commits everything its lanes applied
// before it returns, so the next member starts where it stopped. Applied
// is read from the projection, not from Stats (which counts commits).
func TestProcessorStopCommitsWhatItApplied(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 30, Events: 2000, Seed: 7})
	f.publish(t, events)
	mem := newMem()
	name := testenv.Name("stop-commits")
	_, stop := f.start(t, mem, name)
	testenv.Eventually(t, time.Minute, func() error {
		if applied, _, _ := mem.counts(); applied != len(events) {
			return testenv.Errorf("applied %d of %d", applied, len(events))
		}
		return nil
	})
	stop()

	adm := kadm.NewClient(f.cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, f.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", f.topic, err)
	}
	group := processors.GroupName(name, 1)
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		t.Fatalf("committed offsets of %s: %v", group, err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(f.topic, o.Partition)
		if !ok || c.At != o.Offset {
			t.Errorf("partition %d: committed %d (found %v), want the end %d: applied records left uncommitted at stop", o.Partition, c.At, ok, o.Offset)
		}
	})
	if applied, dups, ooo := mem.counts(); applied != len(events) || dups != 0 || ooo != 0 {
		t.Fatalf("applied %d dups %d out-of-order %d", applied, dups, ooo)
	}
}
