package processors

import (
	"testing"
	"time"
)

// The delays stay within the bounds, double up to the ceiling, and a bound
// left to its default never crosses the one given (which used to make the
// jitter's range negative and panic on the first retry).
func TestBackoffBounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		min, max time.Duration
	}{
		{"defaults", Config{}, 50 * time.Millisecond, 5 * time.Second},
		{"only a small max", Config{MaxBackoff: 20 * time.Millisecond}, 20 * time.Millisecond, 20 * time.Millisecond},
		{"only a large min", Config{MinBackoff: 12 * time.Second}, 12 * time.Second, 12 * time.Second},
		{"both", Config{MinBackoff: time.Millisecond, MaxBackoff: 40 * time.Millisecond}, time.Millisecond, 40 * time.Millisecond},
		{"equal", Config{MinBackoff: 7 * time.Millisecond, MaxBackoff: 7 * time.Millisecond}, 7 * time.Millisecond, 7 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name, tc.cfg.Generation = "p", 1
			if err := tc.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			c := tc.cfg.withDefaults()
			if c.MinBackoff != tc.min || c.MaxBackoff != tc.max {
				t.Fatalf("bounds %v..%v, want %v..%v", c.MinBackoff, c.MaxBackoff, tc.min, tc.max)
			}
			b := backoff{min: c.MinBackoff, max: c.MaxBackoff}
			var top time.Duration
			for range 200 {
				d := b.next()
				if d < c.MinBackoff/2 || d > c.MaxBackoff {
					t.Fatalf("delay %v outside %v..%v", d, c.MinBackoff/2, c.MaxBackoff)
				}
				top = max(top, d)
			}
			if c.MaxBackoff >= 4*c.MinBackoff && top < c.MaxBackoff/2 {
				t.Fatalf("200 delays all below %v: not growing toward %v", top, c.MaxBackoff)
			}
		})
	}
}
