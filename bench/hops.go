package bench

import (
	"slices"
	"sync"
	"time"
)

// The hops of a command through an in-process stack, in the order it
// passes them; APIConfig.Hops collects them and each APIStep reports them.
const (
	// HopSend is the API's produce of the command, from the call until
	// Kafka acknowledged it (acks=all).
	HopSend = "send"
	// HopPolled is from the command's timestamp (set by the API just
	// before its send) until the decider's poll returned it: the send,
	// then the wait in the commands topic (the batch in flight, the fetch).
	HopPolled = "issued -> decider poll"
	// HopDecide is the decider's state and decide for the command's batch,
	// with the first produce requests already under way.
	HopDecide = "batch: decide"
	// HopProduce is the rest of the batch's produce (events and results).
	HopProduce = "batch: produce"
	// HopCommit is ending the batch's transaction: the offsets, the
	// commit.
	HopCommit = "batch: commit"
	// HopSeen is from the batch's start (the result's decidedAt) until the
	// API's results reader took the result: the batch, then (the stack
	// of bench api and bench soak runs the decider beside the API, as
	// serve does) the decider handing its committed outcomes over. Before
	// that hand-over (session 18) it was the commit markers and the
	// read_committed fetch; a command another instance decides still
	// takes that way.
	HopSeen = "batch start -> result read"
	// HopWait is the API's wait for the result, from the send's
	// acknowledgement (Prefer: wait only).
	HopWait = "acked -> result (API wait)"
)

var hopOrder = []string{HopSend, HopPolled, HopDecide, HopProduce, HopCommit, HopSeen, HopWait}

// Hops collects where an in-process stack's commands spend their time,
// hop by hop: the stack's parts Add each command's time in a hop (see the
// Hop constants), and API takes each step's samples. Safe for concurrent
// use; the zero value is ready.
type Hops struct {
	mu      sync.Mutex
	samples map[string][]time.Duration
}

// Add records one command's time d in hop.
func (h *Hops) Add(hop string, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.samples == nil {
		h.samples = map[string][]time.Duration{}
	}
	h.samples[hop] = append(h.samples[hop], d)
}

// take returns the summaries of the samples since the last take, in the
// order of the hops (then any other hop by name), and forgets them.
func (h *Hops) take() []KindSummary {
	h.mu.Lock()
	samples := h.samples
	h.samples = nil
	h.mu.Unlock()
	names := make([]string, 0, len(samples))
	for name := range samples {
		names = append(names, name)
	}
	rank := func(name string) int {
		if i := slices.Index(hopOrder, name); i >= 0 {
			return i
		}
		return len(hopOrder)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if a < b {
			return -1
		}
		return 1
	})
	out := make([]KindSummary, 0, len(names))
	for _, name := range names {
		out = append(out, Summarize(name, samples[name], nil))
	}
	return out
}
