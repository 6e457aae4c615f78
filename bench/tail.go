package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// TailWindow is the width of the windows Tail counts the slowest
// commands in.
const TailWindow = 100 * time.Millisecond

// maxTailWindows bounds the windows tailOf counts in: a day of 100 ms.
const maxTailWindows = 864_000

// Tail is how a step's slowest commands, those at or above its p99, fell
// in time, by when their answers came. Spread over the step, they say the
// queue for the cores is always a little long; held in a few windows,
// they are bursts: something (a collector's cycle, a merge, a server's
// pause) took the cores for a while and the commands in flight waited
// (docs/performance.md, "The command tail comes in bursts").
type Tail struct {
	Slow    int           `json:"slow"`        // commands at or above the p99
	Window  time.Duration `json:"windowNanos"` // the windows' width
	Windows int           `json:"windows"`     // windows from the first answer to the last
	Hit     int           `json:"hit"`         // windows in which a slow command's answer came
	Top3    int           `json:"top3"`        // slow commands in the three windows that hold most
}

// tailOf counts the commands whose latency is at or above p99 by the
// window of width w their answer came in (ends, in lat's order), windows
// counted from the first answer. It counts nothing (Tail{Window: w}) for
// no commands, lengths that differ, a p99 or w that is not positive, or
// answers more than maxTailWindows windows apart (no step lasts that long:
// a time is wrong).
func tailOf(lat []time.Duration, ends []time.Time, p99, w time.Duration) Tail {
	t := Tail{Window: w}
	if len(lat) == 0 || len(lat) != len(ends) || p99 <= 0 || w <= 0 {
		return t
	}
	first, last := ends[0], ends[0]
	for _, e := range ends {
		if e.Before(first) {
			first = e
		}
		if e.After(last) {
			last = e
		}
	}
	if last.Sub(first)/w >= maxTailWindows {
		return t
	}
	t.Windows = int(last.Sub(first)/w) + 1
	per := make([]int, t.Windows) // slow commands per window
	for i, d := range lat {
		if d >= p99 {
			t.Slow++
			per[ends[i].Sub(first)/w]++
		}
	}
	slices.SortFunc(per, func(a, b int) int { return b - a })
	for i, n := range per {
		if n == 0 {
			break
		}
		t.Hit++
		if i < 3 {
			t.Top3 += n
		}
	}
	return t
}

// writeTail writes, per step, how its slowest commands fell in time.
func writeTail(b *strings.Builder, steps []APIStep) {
	head := false
	for _, s := range steps {
		t := s.Tail
		if t.Slow == 0 {
			continue
		}
		if !head {
			fmt.Fprintf(b, "\nthe tail in time: the commands at or above the p99, by the %v window their answer came in (a few full windows: bursts, a stall of the cores; many: a steady queue)\n", t.Window)
			head = true
		}
		fmt.Fprintf(b, "  %d/s %s: %d commands (>= %s ms) in %d of %d windows; the 3 fullest hold %d (%.0f%%)\n",
			s.Rate, modeName(s.Wait), t.Slow, ms(s.Latency.P99), t.Hit, t.Windows, t.Top3, 100*float64(t.Top3)/float64(t.Slow))
	}
}
