package backoff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of a Policy's bounds left at zero.
const (
	DefaultMin = 50 * time.Millisecond
	DefaultMax = 5 * time.Second
)

// Policy is an exponential backoff: the n-th delay (from 0) is drawn
// uniformly from [Min/2, min(Min·2ⁿ, Max)], so that many clients retrying
// one server spread out. The zero value works: DefaultMin to DefaultMax.
type Policy struct {
	// Min is the ceiling of the first delay; half of it is the floor of
	// every delay. DefaultMin when 0, or Max if that is smaller.
	Min time.Duration
	// Max caps every delay. DefaultMax when 0, or Min if that is larger.
	Max time.Duration
}

// WithDefaults returns p with a zero bound set to its default, lo or hi,
// except that a default never crosses a bound p sets: Policy{Max: 20ms}
// with the default min of 50ms is 20ms..20ms. Without that a default above
// the other bound would make the jitter's range negative.
func (p Policy) WithDefaults(lo, hi time.Duration) Policy {
	if p.Min == 0 {
		p.Min = lo
		if p.Max > 0 {
			p.Min = min(p.Min, p.Max)
		}
	}
	if p.Max == 0 {
		p.Max = max(hi, p.Min)
	}
	return p
}

// Validate reports bounds that are negative or not an interval.
func (p Policy) Validate() error {
	if p.Min < 0 || p.Max < 0 || (p.Max > 0 && p.Min > p.Max) {
		return fmt.Errorf("backoff bounds %v..%v are not an interval", p.Min, p.Max)
	}
	return nil
}

// Start begins one sequence of retries, with the package defaults for
// bounds left at zero.
func (p Policy) Start() *Sequence {
	return &Sequence{p: p.WithDefaults(DefaultMin, DefaultMax)}
}

// Sequence is the state of one run of retries: each Next is twice as long
// as the one before, up to the cap. Not safe for concurrent use.
type Sequence struct {
	p       Policy
	attempt int
}

// Next returns the delay before the next retry and counts the attempt.
func (s *Sequence) Next() time.Duration {
	lo, hi := s.p.Min, s.p.Max
	ceil := lo << min(s.attempt, 30)
	if ceil > hi || ceil <= 0 {
		ceil = hi
	}
	s.attempt++
	floor := min(lo/2, ceil)
	return floor + rand.N(max(ceil-floor, 0)+1)
}

// Attempt is how many delays Next has returned since Start or Reset.
func (s *Sequence) Attempt() int { return s.attempt }

// Reset starts the sequence again from Min, after a success.
func (s *Sequence) Reset() { s.attempt = 0 }

// Sleep waits d or until ctx is done, reporting whether the full time
// passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
