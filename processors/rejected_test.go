package processors_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

// refusingProjection stores what mem stores, except the events of the
// products in refused, which it names as permanent failures; once, it also
// fails the last other event of a batch transiently.
type refusingProjection struct {
	mem     *memProjection
	refused map[string]bool
	flaked  atomic.Bool
}

func (r *refusingProjection) Apply(ctx context.Context, events []schemas.Event) error {
	var (
		fs   []batch.Failure
		keep []schemas.Event
	)
	flake := -1
	if !r.flaked.Load() {
		for i := len(events) - 1; i >= 0; i-- {
			if !r.refused[events[i].AggregateID] {
				flake = i
				r.flaked.Store(true)
				break
			}
		}
	}
	for i, e := range events {
		switch {
		case r.refused[e.AggregateID]:
			fs = append(fs, batch.Permanent(i, errors.New("mapper_parsing_exception")))
		case i == flake:
			fs = append(fs, batch.Transient(i, errors.New("es_rejected_execution_exception")))
		default:
			keep = append(keep, e)
		}
	}
	if err := r.mem.Apply(ctx, keep); err != nil {
		return err
	}
	return batch.Fail(fs...)
}

// The runtime dead-letters exactly the events a batch.Error names as
// permanent, with reason "rejected", retries the transient one with
// backoff, and applies every other event once, in order.
func TestProcessorDeadLettersWhatABatchErrorRejects(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 10, Events: 100, Seed: 3})
	refused := events[5].AggregateID
	wantDead := 0
	for _, e := range events {
		if e.AggregateID == refused {
			wantDead++
		}
	}
	f.publish(t, events)
	proj := &refusingProjection{mem: newMem(), refused: map[string]bool{refused: true}}
	p, stop := f.start(t, proj, testenv.Name("rejects"))
	defer stop()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != int64(len(events)) || s.DeadLettered != int64(wantDead) {
			return testenv.Errorf("committed %d of %d, dead-lettered %d of %d", s.Records, len(events), s.DeadLettered, wantDead)
		}
		return nil
	})
	if s := p.Stats(); s.Retries < 1 || s.Applied != int64(len(events)-wantDead) {
		t.Errorf("stats %+v: want a retry of the transient failure and %d applied", s, len(events)-wantDead)
	}
	if applied, _, ooo := proj.mem.counts(); applied != len(events)-wantDead || ooo != 0 {
		t.Errorf("projection applied %d (want %d), %d out of order", applied, len(events)-wantDead, ooo)
	}
	consumeN(t, f.brokers, f.dlq, wantDead, func(r *kgo.Record) {
		if string(r.Key) != refused || producers.Header(r, deadletter.HeaderReason) != deadletter.ReasonRejected {
			t.Errorf("dead letter of %s, reason %q; want only %s, rejected", r.Key, producers.Header(r, deadletter.HeaderReason), refused)
		}
	})
}
