package processors

import (
	"testing"
	"time"
)

// The retry bounds of a Config are a backoff.Policy's (whose delays
// internal/backoff tests): a bound left to its default never crosses the
// one given, and a crossed pair fails Validate.
func TestConfigBackoffBounds(t *testing.T) {
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
			if p := c.retryPolicy(); p.Min != tc.min || p.Max != tc.max {
				t.Fatalf("policy %v..%v, want %v..%v", p.Min, p.Max, tc.min, tc.max)
			}
		})
	}
	crossed := Config{Name: "p", Generation: 1, MinBackoff: time.Second, MaxBackoff: time.Millisecond}
	if err := crossed.Validate(); err == nil {
		t.Fatal("Validate accepted MinBackoff above MaxBackoff")
	}
}
