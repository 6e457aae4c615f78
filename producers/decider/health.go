package decider

import (
	"fmt"
	"sync"
	"time"
)

// Health is what the decider is doing now: deciding, or retrying after
// failures. Run never gives up on a server it cannot reach; Health is how
// the outside (GET /readyz) learns that it is degraded.
type Health struct {
	// Failing is set from a failed attempt (a session that ended with an
	// error, topics that could not be listed) until a session starts.
	Failing bool
	// Since is when the current run of failures began.
	Since time.Time
	// Failures counts the failed attempts in a row.
	Failures int
	// Err is the last failure.
	Err error
}

// Error returns nil when h is healthy, and otherwise an error saying since
// when the decider has been retrying and why.
func (h Health) Error() error {
	if !h.Failing {
		return nil
	}
	return fmt.Errorf("decider: retrying since %s (%d failed attempts in a row): %w",
		h.Since.UTC().Format(time.RFC3339), h.Failures, h.Err)
}

// health is the Decider's Health, safe for concurrent use.
type health struct {
	mu sync.Mutex
	h  Health
}

func (s *health) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.h.Failing {
		s.h = Health{Failing: true, Since: time.Now()}
	}
	s.h.Failures++
	s.h.Err = err
}

func (s *health) ok() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = Health{}
}

func (s *health) get() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}

// Health returns the decider's current health.
func (d *Decider) Health() Health { return d.health.get() }
