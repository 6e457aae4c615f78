package processors

import (
	"testing"
	"time"
)

// The rate counts the records committed over the last RateWindow: it
// falls to 0 once a projection has been idle that long (it kept the last
// busy figure for good before).
func TestStatsRate(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name    string
		started time.Duration
		commits map[time.Duration]int
		now     time.Duration
		want    float64
	}{
		{"busy for the whole window", -time.Minute, map[time.Duration]int{0: 1000, 5 * time.Second: 1000, 9 * time.Second: 1000}, 10 * time.Second, 300},
		{"older commits left out", -time.Minute, map[time.Duration]int{0: 5000, 15 * time.Second: 1000}, 20 * time.Second, 100},
		{"idle for longer than the window", -time.Minute, map[time.Duration]int{0: 5000}, 11 * time.Second, 0},
		{"started 4 s ago", 0, map[time.Duration]int{2 * time.Second: 400, 4 * time.Second: 400}, 4 * time.Second, 200},
		{"started less than a second ago", 0, map[time.Duration]int{100 * time.Millisecond: 50}, 200 * time.Millisecond, 50},
		{"nothing committed", -time.Minute, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stats{started: at(tt.started)}
			for _, d := range []time.Duration{0, 100 * time.Millisecond, 2 * time.Second, 4 * time.Second, 5 * time.Second, 9 * time.Second, 15 * time.Second} {
				if n, ok := tt.commits[d]; ok {
					s.add(at(d), n)
				}
			}
			if got := s.rate(at(tt.now)); got != tt.want {
				t.Errorf("rate = %v, want %v", got, tt.want)
			}
		})
	}
}
