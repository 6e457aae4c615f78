package processors

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff yields delays that double from min up to max, each drawn with
// full jitter so that many consumers retrying one sink spread out.
type backoff struct {
	min, max time.Duration
	attempt  int
}

func (b *backoff) next() time.Duration {
	ceil := b.min << min(b.attempt, 30)
	if ceil > b.max || ceil <= 0 {
		ceil = b.max
	}
	b.attempt++
	floor := min(b.min/2, ceil)
	return floor + rand.N(max(ceil-floor, 0)+1)
}

func (b *backoff) reset() { b.attempt = 0 }

// sleep waits d or until ctx is done, reporting whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
