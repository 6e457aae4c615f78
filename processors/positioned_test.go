package processors_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/schemas"
)

// positioned records where the runtime says each event lies.
type positioned struct {
	mu    sync.Mutex
	at    map[string]string // eventId -> partition/offset
	plain int               // calls of Apply
}

func (p *positioned) Apply(context.Context, []schemas.Event) error {
	p.mu.Lock()
	p.plain++
	p.mu.Unlock()
	return nil
}

func (p *positioned) ApplyAt(_ context.Context, events []schemas.Event, partition int32, offsets []int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range events {
		p.at[e.ID] = fmt.Sprintf("%d/%d", partition, offsets[i])
	}
	return nil
}

// A PositionedProjection gets each event's partition and offset, as the
// events topic has them, and never a call of Apply.
func TestProcessorHandsPositionsToAPositionedProjection(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 10, Events: 500, Seed: 7})
	f.publish(t, events)
	proj := &positioned{at: map[string]string{}}
	p, stop := f.start(t, proj, testenv.Name("positions"))
	defer stop()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != 500 {
			return testenv.Errorf("records %d of 500", s.Records)
		}
		return nil
	})
	want := map[string]string{}
	consumeN(t, f.brokers, f.topic, 500, func(r *kgo.Record) {
		e, err := f.codec.DecodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		want[e.ID] = fmt.Sprintf("%d/%d", r.Partition, r.Offset)
	})
	proj.mu.Lock()
	defer proj.mu.Unlock()
	if proj.plain != 0 {
		t.Errorf("Apply called %d times", proj.plain)
	}
	if len(proj.at) != 500 {
		t.Fatalf("positions of %d events, want 500", len(proj.at))
	}
	for id, at := range want {
		if proj.at[id] != at {
			t.Errorf("event %s: at %s, want %s", id, proj.at[id], at)
		}
	}
}

// remembering records the partitions it applied and the runtime's Forget
// calls, and whether one came while an Apply of its partition ran.
type remembering struct {
	mu       sync.Mutex
	inFlight map[int32]int
	applied  map[int32]bool // applied since last forgotten
	forgot   map[int32]int
	early    []int32 // forgotten during an Apply of theirs
}

func newRemembering() *remembering {
	return &remembering{inFlight: map[int32]int{}, applied: map[int32]bool{}, forgot: map[int32]int{}}
}

func (p *remembering) Apply(context.Context, []schemas.Event) error { return nil }

func (p *remembering) ApplyAt(_ context.Context, _ []schemas.Event, partition int32, _ []int64) error {
	p.mu.Lock()
	p.inFlight[partition]++
	p.applied[partition] = true
	p.mu.Unlock()
	time.Sleep(time.Millisecond) // an Apply that takes time, for a Forget to meet
	p.mu.Lock()
	p.inFlight[partition]--
	p.mu.Unlock()
	return nil
}

func (p *remembering) Forget(partition int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight[partition] > 0 {
		p.early = append(p.early, partition)
	}
	p.forgot[partition]++
	delete(p.applied, partition)
}

// holding is the partitions applied and not forgotten since.
func (p *remembering) holding() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int32
	for part := range p.applied {
		out = append(out, part)
	}
	return out
}

// A PartitionMemory is told to forget each partition the runtime takes from
// it, after its last Apply: the partitions a joining member takes, then, as
// Run ends, the rest.
func TestProcessorTellsWhatPartitionsToForget(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 60, Events: 3000, Seed: 8})
	f.publish(t, events[:1500])
	first, second := newRemembering(), newRemembering()
	name := testenv.Name("forget")
	p1, stop1 := f.start(t, first, name)
	testenv.Eventually(t, time.Minute, func() error {
		if n := len(first.holding()); n != 3 {
			return testenv.Errorf("first member applied %d partitions of 3", n)
		}
		return nil
	})
	p2, stop2 := f.start(t, second, name) // joins: partitions move to it
	defer stop2()
	f.waitMembers(t, processors.GroupName(name, 1), 2)
	f.publish(t, events[1500:])
	testenv.Eventually(t, time.Minute, func() error {
		if r := p1.Stats().Records + p2.Stats().Records; r < 3000 {
			return testenv.Errorf("committed %d of 3000", r)
		}
		return nil
	})
	moved := second.holding()
	if len(moved) == 0 {
		t.Fatal("the second member applied nothing: no partition moved")
	}
	first.mu.Lock()
	for _, part := range moved {
		if first.forgot[part] == 0 {
			t.Errorf("partition %d moved to the second member; the first was not told to forget it", part)
		}
	}
	first.mu.Unlock()
	kept := first.holding()
	stop1()
	first.mu.Lock()
	defer first.mu.Unlock()
	for _, part := range kept {
		if first.forgot[part] == 0 {
			t.Errorf("partition %d: not forgotten when Run ended", part)
		}
	}
	if len(first.early) > 0 {
		t.Errorf("forgotten during an Apply of theirs: %v", first.early)
	}
}
