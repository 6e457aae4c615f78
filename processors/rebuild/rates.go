package rebuild

import (
	"sync"
	"time"

	"github.com/streamview/streamview/processors"
)

// Rates measures how fast consumer groups commit, from the committed
// offsets that report after report reads anyway: a process that does not
// run a generation's projector (an API-only serve) still reports its rate,
// and no report waits for a second read of the offsets (as
// ReportConfig.Sample does).
//
// A group's rate is the offsets committed since an earlier report's, per
// second: the oldest of the last processors.RateWindow (the span of the
// runtime's own rate), at least MinRateSpan before; when reports come
// less often than that, the last one up to MaxRateSpan before. Before
// such a report there is no rate (unknown, not 0), nor after the group's
// offsets went back (a replay) or a partition's committed offset
// disappeared, nor until the report after a partition's first commit.
// Committed offsets also step over the transaction markers of a topic
// written in transactions (the events topic), which the runtime's rate,
// of data records, leaves out.
//
// It keeps a few samples per group (at most one per MinRateSpan), and
// forgets a group unseen for MaxRateSpan (a retired generation's). The
// zero Rates is ready; it is safe for concurrent use.
type Rates struct {
	mu     sync.Mutex
	groups map[string][]offsetSample // oldest first
}

// Bounds of the span of a rate that Rates measures.
const (
	// MinRateSpan is the shortest: reports closer together (several
	// clients polling at once) measure too little to tell.
	MinRateSpan = time.Second
	// MaxRateSpan is the longest: an older sample says nothing of now.
	MaxRateSpan = 3 * processors.RateWindow
)

// covers reports whether were has a committed offset of every partition
// of offsets.
func covers(were, offsets map[int32]int64) bool {
	for p := range offsets {
		if _, ok := were[p]; !ok {
			return false
		}
	}
	return true
}

// offsetSample is a group's committed offsets at one time.
type offsetSample struct {
	at      time.Time
	offsets map[int32]int64 // partition → next offset to read
}

// Rate notes group's committed offsets at now (partition → the next
// offset the group reads; partitions without a committed offset left out)
// and returns the offsets per second committed since an earlier note, as
// Rates says; false when there is none to measure from. It keeps offsets.
func (r *Rates) Rate(group string, now time.Time, offsets map[int32]int64) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups == nil {
		r.groups = map[string][]offsetSample{}
	}
	for g, ss := range r.groups {
		if now.Sub(ss[len(ss)-1].at) > MaxRateSpan {
			delete(r.groups, g)
		}
	}
	ss := r.groups[group]
	for len(ss) > 0 && now.Sub(ss[0].at) > MaxRateSpan {
		ss = ss[1:]
	}
	base := -1
	for i, s := range ss {
		age := now.Sub(s.at)
		if age < MinRateSpan {
			break
		}
		if !covers(s.offsets, offsets) {
			continue // before a partition's first commit: what it committed since is not known
		}
		base = i
		if age <= processors.RateWindow {
			break // the oldest within the window
		}
	}
	rate, ok := 0.0, base >= 0
	if ok {
		b := ss[base]
		var n int64
		for p, was := range b.offsets {
			at, still := offsets[p]
			if !still || at < was {
				// Gone back, or gone: what was committed since
				// cannot be told. Start over from now.
				ss, ok = nil, false
				break
			}
			n += at - was
		}
		if ok {
			rate = float64(n) / now.Sub(b.at).Seconds()
		}
	}
	if len(ss) == 0 || now.Sub(ss[len(ss)-1].at) >= MinRateSpan {
		ss = append(ss, offsetSample{at: now, offsets: offsets})
	}
	// One sample older than the window is enough: the base of a rate
	// when reports come less often than it.
	for len(ss) > 1 && now.Sub(ss[1].at) > processors.RateWindow {
		ss = ss[1:]
	}
	r.groups[group] = ss
	return rate, ok
}
