package decider

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
)

// TestBatchHook: Hooks.Batch hears of every committed batch, each command
// in one batch only, issued before its batch began, with its phases.
func TestBatchHook(t *testing.T) {
	f := newFixture(t, 2)
	cmds, want := crashWorkload(10, 3)
	sent := time.Now().Add(-time.Second) // record timestamps have milliseconds
	f.produceCommands(t, cmds)
	var (
		mu      sync.Mutex
		batches []BatchTiming
	)
	cfg := f.config()
	cfg.Hooks.Batch = func(b BatchTiming) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, b)
	}
	f.start(t, cfg, nil)
	checkExactlyOnce(t, f, cmds, want)
	// The hook runs once the transaction has ended, maybe just after its
	// results are read.
	testenv.Eventually(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range batches {
			n += len(b.Issued)
		}
		if n != len(cmds) {
			return fmt.Errorf("the hook heard of %d commands in %d batches, want %d", n, len(batches), len(cmds))
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i, b := range batches {
		var errs []error
		for _, at := range b.Issued {
			if at.Before(sent) || at.After(b.Began) {
				errs = append(errs, fmt.Errorf("a command issued at %v, not between the send (%v) and the batch (%v)", at, sent, b.Began))
			}
		}
		if len(b.Issued) == 0 || b.Decide < 0 || b.Produce < 0 || b.End <= 0 {
			errs = append(errs, fmt.Errorf("%d commands, decide %v, produce %v, end %v", len(b.Issued), b.Decide, b.Produce, b.End))
		}
		if err := errors.Join(errs...); err != nil {
			t.Errorf("batch %d: %v", i, err)
		}
	}
}
