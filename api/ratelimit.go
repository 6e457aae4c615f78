package api

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds one token bucket per caller, for at most max callers: the
// least recently seen one is dropped to make room. A dropped caller that
// comes back starts with a full bucket, which only ever errs towards
// letting a request through; what it bounds is memory, so that a flood
// of distinct clients (or forged subjects) cannot grow it without end. A
// bucket idle for burst/rate is full anyway, so dropping it loses nothing.
type limiters struct {
	rate  rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	byKey map[string]*list.Element // of *limiterEntry
	lru   list.List                // front: most recently seen
}

type limiterEntry struct {
	key string
	lim *rate.Limiter
}

func newLimiters(perSecond float64, burst, max int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, max: max, byKey: map[string]*list.Element{}}
}

// allow takes one request of key at now; when the caller is over its rate
// it takes nothing and returns how long until a request would pass.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lim *rate.Limiter
	if el, ok := l.byKey[key]; ok {
		l.lru.MoveToFront(el)
		lim = el.Value.(*limiterEntry).lim
	} else {
		for l.lru.Len() >= l.max {
			oldest := l.lru.Back()
			l.lru.Remove(oldest)
			delete(l.byKey, oldest.Value.(*limiterEntry).key)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byKey[key] = l.lru.PushFront(&limiterEntry{key: key, lim: lim})
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Duration(math.MaxInt64)
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now) // a refused request costs nothing
		return false, d
	}
	return true, 0
}

// len is the number of callers tracked.
func (l *limiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// retryAfter is the Retry-After value for a wait of d: whole seconds,
// rounded up, at least 1, so that a client waiting it finds a token.
func retryAfter(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	return max(s, 1)
}
