package backoff

import (
	"context"
	"testing"
	"time"
)

// The delays stay within the bounds, double up to the ceiling, and a bound
// left to its default never crosses the one given (which used to make the
// jitter's range negative and panic on the first retry).
func TestBounds(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name     string
		policy   Policy
		lo, hi   time.Duration // defaults given to WithDefaults
		min, max time.Duration // bounds wanted
	}{
		{"defaults", Policy{}, DefaultMin, DefaultMax, 50 * ms, 5 * time.Second},
		{"only a small max", Policy{Max: 20 * ms}, DefaultMin, DefaultMax, 20 * ms, 20 * ms},
		{"only a large min", Policy{Min: 12 * time.Second}, DefaultMin, DefaultMax, 12 * time.Second, 12 * time.Second},
		{"both", Policy{Min: ms, Max: 40 * ms}, DefaultMin, DefaultMax, ms, 40 * ms},
		{"equal", Policy{Min: 7 * ms, Max: 7 * ms}, DefaultMin, DefaultMax, 7 * ms, 7 * ms},
		{"caller's defaults", Policy{}, time.Second, 30 * time.Second, time.Second, 30 * time.Second},
		{"caller's default min above a set max", Policy{Max: 300 * ms}, time.Second, 30 * time.Second, 300 * ms, 300 * ms},
		{"caller's default max below a set min", Policy{Min: time.Minute}, time.Second, 30 * time.Second, time.Minute, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.policy.Validate(); err != nil {
				t.Fatal(err)
			}
			p := tc.policy.WithDefaults(tc.lo, tc.hi)
			if p.Min != tc.min || p.Max != tc.max {
				t.Fatalf("bounds %v..%v, want %v..%v", p.Min, p.Max, tc.min, tc.max)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("defaults made the policy invalid: %v", err)
			}
			s := p.Start()
			var top time.Duration
			for range 200 {
				d := s.Next()
				if d < p.Min/2 || d > p.Max {
					t.Fatalf("delay %v outside %v..%v", d, p.Min/2, p.Max)
				}
				top = max(top, d)
			}
			if s.Attempt() != 200 {
				t.Fatalf("Attempt %d after 200 delays", s.Attempt())
			}
			if p.Max >= 4*p.Min && top < p.Max/2 {
				t.Fatalf("200 delays all below %v: not growing toward %v", top, p.Max)
			}
		})
	}
}

// The n-th delay's ceiling is Min·2ⁿ, and Reset starts again from Min.
func TestSequenceDoubles(t *testing.T) {
	const ms = time.Millisecond
	s := Policy{Min: 8 * ms, Max: 100 * ms}.Start()
	for n, ceil := range []time.Duration{8 * ms, 16 * ms, 32 * ms, 64 * ms, 100 * ms, 100 * ms} {
		if d := s.Next(); d < 4*ms || d > ceil {
			t.Fatalf("delay %d is %v, want 4ms..%v", n, d, ceil)
		}
	}
	s.Reset()
	if s.Attempt() != 0 {
		t.Fatalf("Attempt %d after Reset", s.Attempt())
	}
	if d := s.Next(); d > 8*ms {
		t.Fatalf("first delay after Reset %v, want at most 8ms", d)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		ok     bool
	}{
		{"zero", Policy{}, true},
		{"only min", Policy{Min: time.Second}, true},
		{"interval", Policy{Min: time.Second, Max: time.Minute}, true},
		{"negative min", Policy{Min: -1}, false},
		{"negative max", Policy{Max: -1}, false},
		{"min above max", Policy{Min: time.Minute, Max: time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.policy.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep without a deadline reported an interruption")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep under a cancelled context reported the full time")
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("Sleep under a cancelled context waited %v", waited)
	}
}
