package productview

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/streamview/streamview/schemas"
)

// Changes tells readers waiting for a product's view (the API's
// ?minVersion= reads) that a Writer in this process has just written it,
// so that they read it again at once instead of at their next poll. A
// Writer tells it after every Apply, once the store has answered (what an
// Apply that failed wrote is told too: a reader woken for nothing reads
// once more). Writers in other processes tell it nothing: a reader still
// polls for their writes. It is safe for concurrent use; the zero value is
// ready.
type Changes struct {
	mu      sync.Mutex
	waiting map[string][]chan struct{} // by product ID
	n       atomic.Int64               // waiters registered: Apply skips the lock when none
}

// Watch returns a channel closed at the next change of product id told to
// c, and stop, which the caller must call once it no longer waits (after
// the channel closed or not). Watch before the read whose result makes the
// caller wait, so that a change during that read is not missed.
func (c *Changes) Watch(id string) (changed <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	c.mu.Lock()
	if c.waiting == nil {
		c.waiting = make(map[string][]chan struct{})
	}
	c.waiting[id] = append(c.waiting[id], ch)
	c.n.Add(1)
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		ws := c.waiting[id]
		i := slices.Index(ws, ch)
		if i < 0 {
			return // told already
		}
		c.n.Add(-1)
		if len(ws) == 1 {
			delete(c.waiting, id)
			return
		}
		c.waiting[id] = slices.Delete(ws, i, i+1)
	}
}

// tell wakes the waiters of every product of events.
func (c *Changes) tell(events []schemas.Event) {
	if c == nil || c.n.Load() == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		ws, ok := c.waiting[e.AggregateID]
		if !ok {
			continue
		}
		for _, ch := range ws {
			close(ch)
		}
		c.n.Add(-int64(len(ws)))
		delete(c.waiting, e.AggregateID)
	}
}
