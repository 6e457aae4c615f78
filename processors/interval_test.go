package processors_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/schemas"
)

// stampedProjection records when each Apply began and how many events it
// got, over an idempotent memProjection.
type stampedProjection struct {
	*memProjection
	mu     sync.Mutex
	starts []time.Time
	sizes  []int
}

func (s *stampedProjection) Apply(ctx context.Context, batch []schemas.Event) error {
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	s.sizes = append(s.sizes, len(batch))
	s.mu.Unlock()
	return s.memProjection.Apply(ctx, batch)
}

func (s *stampedProjection) batches() ([]time.Time, []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.starts), slices.Clone(s.sizes)
}

// oneProduct is n events of one product: one partition, one lane.
func oneProduct(n int) []schemas.Event {
	return eventgen.Stream(eventgen.Options{Products: 1, Events: n, Seed: 11})
}

// A busy partition's lane begins a batch at most once per MinApplyInterval,
// taking together what came meanwhile: events published one by one, each
// a poll of its own, are applied in a few batches, never two begun closer
// than the interval, and all of them in order.
func TestProcessorMinApplyInterval(t *testing.T) {
	f := newFixture(t)
	const interval = 150 * time.Millisecond
	events := oneProduct(40)
	proj := &stampedProjection{memProjection: newMem()}
	_, stop := f.startWith(t, proj, testenv.Name("interval"), func(c *processors.Config) { c.MinApplyInterval = interval })
	defer stop()
	for _, e := range events {
		f.publish(t, []schemas.Event{e})
		time.Sleep(10 * time.Millisecond) // the pace of the input, not a wait for the runner
	}
	testenv.Eventually(t, time.Minute, func() error {
		if applied, _, _ := proj.counts(); applied != len(events) {
			return testenv.Errorf("applied %d of %d", applied, len(events))
		}
		return nil
	})
	if applied, dups, ooo := proj.counts(); applied != len(events) || dups != 0 || ooo != 0 {
		t.Fatalf("applied %d dups %d out-of-order %d", applied, dups, ooo)
	}
	// The lane starts its clock before decoding a batch, and Apply is
	// called after: a quarter of the interval is left for the difference
	// in decoding time. Without the interval the batches are about 20ms
	// apart.
	starts, sizes := proj.batches()
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < interval*3/4 {
			t.Errorf("batch %d began %v after the one before, want at least MinApplyInterval %v (sizes %v)", i, gap, interval, sizes)
		}
	}
	// 40 events over at least 400ms: without the interval nearly every
	// event is a batch of its own.
	if len(starts) > len(events)/3 {
		t.Errorf("%d batches for %d events published 10ms apart (sizes %v), want them taken together", len(starts), len(events), sizes)
	}
}

// A lane that holds a full batch (MaxBatch records) does not wait for
// MinApplyInterval: a backlog that comes right after a batch is applied
// at once, not an hour later.
func TestProcessorMinApplyIntervalSkipsFullBatches(t *testing.T) {
	f := newFixture(t)
	events := oneProduct(305)
	proj := &stampedProjection{memProjection: newMem()}
	_, stop := f.startWith(t, proj, testenv.Name("interval-full"), func(c *processors.Config) {
		c.MaxBatch = 10
		c.MinApplyInterval = time.Hour
	})
	defer stop()
	applied := func(n int) func() error {
		return func() error {
			if got, _, _ := proj.counts(); got != n {
				return testenv.Errorf("applied %d of %d", got, n)
			}
			return nil
		}
	}
	// A first batch, so that the lane's next one would wait an hour...
	f.publish(t, events[:5])
	testenv.Eventually(t, time.Minute, applied(5))
	// ...but for being full.
	f.publish(t, events[5:])
	testenv.Eventually(t, time.Minute, applied(len(events)))
	if _, dups, ooo := proj.counts(); dups != 0 || ooo != 0 {
		t.Fatalf("%d duplicates, %d events out of order", dups, ooo)
	}
}

// Commits are at least CommitInterval apart, however often lanes hand
// over what they applied.
func TestProcessorCommitInterval(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{
		{"default", 0},
		{"250ms", 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			events := oneProduct(30)
			proj := &stampedProjection{memProjection: newMem()}
			var (
				mu      sync.Mutex
				commits []time.Time
			)
			hook := commitHook(func() {
				mu.Lock()
				commits = append(commits, time.Now())
				mu.Unlock()
			})
			p, stop := f.startWith(t, proj, testenv.Name("commit-interval"), func(c *processors.Config) {
				c.CommitInterval = tc.interval
				c.Hooks.Client = func() []kgo.Opt { return []kgo.Opt{kgo.WithHooks(hook)} }
			})
			defer stop()
			for _, e := range events {
				f.publish(t, []schemas.Event{e})
				time.Sleep(10 * time.Millisecond) // the pace of the input
			}
			testenv.Eventually(t, time.Minute, func() error {
				if s := p.Stats(); s.Records != int64(len(events)) {
					return testenv.Errorf("committed %d of %d records", s.Records, len(events))
				}
				return nil
			})
			want := tc.interval
			if want == 0 {
				want = processors.DefaultCommitInterval
			}
			mu.Lock()
			defer mu.Unlock()
			for i := 1; i < len(commits); i++ {
				// The interval runs from a commit's start, and its
				// request is written later by as long as the client
				// takes: half the interval is left for that. Without the
				// interval the commits are about 20ms apart.
				if gap := commits[i].Sub(commits[i-1]); gap < want/2 {
					t.Errorf("commit %d sent %v after the one before, want at least %v", i, gap, want)
				}
			}
			if len(commits) == 0 {
				t.Error("no OffsetCommit request seen")
			}
		})
	}
}

// commitHook calls sent for each OffsetCommit request written to a broker.
type commitHook func()

func (h commitHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && key == (&kmsg.OffsetCommitRequest{}).Key() {
		h()
	}
}

var _ kgo.HookBrokerWrite = commitHook(nil)
