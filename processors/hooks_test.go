package processors_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/schemas"
)

type ctxKey struct{}

// ctxProjection checks that Apply gets the context Hooks.Apply made.
type ctxProjection struct {
	*memProjection
	mu      sync.Mutex
	missing int
}

func (c *ctxProjection) Apply(ctx context.Context, b []schemas.Event) error {
	if ctx.Value(ctxKey{}) == nil {
		c.mu.Lock()
		c.missing++
		c.mu.Unlock()
	}
	return c.memProjection.Apply(ctx, b)
}

// Hooks see every sink call with the records of its events, each call's
// error, and the runner's own Kafka client; Stats report each partition's
// end offset, so that lag = HighWatermarks - Offsets is 0 once caught up.
func TestProcessorHooks(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 10, Events: 120, Seed: 3})
	f.publish(t, events)
	mem := newMem()
	mem.failNext = 2
	proj := &ctxProjection{memProjection: mem}
	var (
		mu              sync.Mutex
		calls, recs     int
		failed, clients int
		keysMatch       = true
	)
	hooks := processors.Hooks{
		Client: func() []kgo.Opt {
			mu.Lock()
			clients++
			mu.Unlock()
			return nil
		},
		Apply: func(ctx context.Context, rs []*kgo.Record) (context.Context, func(error)) {
			mu.Lock()
			calls++
			recs += len(rs)
			for _, r := range rs {
				if r.Topic != f.topic || r.Attrs.IsControl() {
					keysMatch = false
				}
			}
			mu.Unlock()
			return context.WithValue(ctx, ctxKey{}, true), func(err error) {
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		},
	}
	p, stop := f.startWith(t, proj, testenv.Name("hooks"), func(c *processors.Config) { c.Hooks = hooks })
	defer stop()
	testenv.Eventually(t, time.Minute, func() error {
		s := p.Stats()
		if s.Records != int64(len(events)) {
			return testenv.Errorf("committed %d of %d", s.Records, len(events))
		}
		var lag int64
		for part, hwm := range s.HighWatermarks {
			lag += hwm - s.Offsets[part]
		}
		if len(s.HighWatermarks) != 3 || lag != 0 {
			return testenv.Errorf("high watermarks %v, offsets %v: lag %d", s.HighWatermarks, s.Offsets, lag)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if clients != 1 {
		t.Errorf("Hooks.Client called %d times, want once (one Run)", clients)
	}
	if failed != 2 {
		t.Errorf("Hooks.Apply saw %d failed calls, want 2", failed)
	}
	// Every event was handed over once per successful call, plus the
	// failed calls' events again.
	if calls < 3 || recs < len(events) || !keysMatch {
		t.Errorf("Hooks.Apply: %d calls with %d records (want >= %d events), records of the events topic only: %v", calls, recs, len(events), keysMatch)
	}
	if proj.missing != 0 {
		t.Errorf("%d Apply calls did not get the hook's context", proj.missing)
	}
}
