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
