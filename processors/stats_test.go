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

// A runner that continues another of its generation (the live projector
// after a rebuild's processor, in one process) counts on from its
// counters, as they grow; a runner of another generation or projection is
// not continued.
func TestStatsContinue(t *testing.T) {
	runner := func(name string, gen int) *Runner {
		t.Helper()
		p, err := New(Config{Name: name, Generation: gen, Topic: "events"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	built, live := runner("product-view", 2), runner("product-view", 2)
	built.stats.record(map[int32]int64{0: 10}, 10, 9, 1)
	built.stats.retries.Add(2)
	live.Continue(built)
	live.Continue(live) // ignored
	live.stats.record(map[int32]int64{0: 12}, 2, 2, 0)
	built.stats.record(map[int32]int64{1: 3}, 3, 3, 0) // the build finishing beside it
	s := live.Stats()
	if s.Records != 15 || s.Applied != 14 || s.DeadLettered != 1 || s.Retries != 2 {
		t.Errorf("continued stats = %+v, want records 15, applied 14, dead 1, retries 2", s)
	}
	if s.Offsets[0] != 12 || len(s.Offsets) != 1 {
		t.Errorf("offsets %v: want the live runner's own", s.Offsets)
	}
	if live.Continues() != built {
		t.Errorf("Continues = %p, want the built runner %p", live.Continues(), built)
	}
	for _, other := range []*Runner{runner("product-view", 3), runner("product-search", 2)} {
		other.Continue(built)
		if other.Continues() != nil || other.Stats().Applied != 0 {
			t.Errorf("%s g%d continued a runner of product-view g2", other.Config().Name, other.Config().Generation)
		}
	}
}
