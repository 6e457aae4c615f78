package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// dev's embedded Redis stays fast with many keys: a command's cost does
// not grow with the keys it holds. With miniredis's ClockTTL every
// command walked (and sorted) every key to age their TTLs, so that a
// projector's batch of 2,000 writes over a few ten thousand keys took
// longer than the client's 3 s read timeout, and the product-view and
// product-history projectors retried it for ever (40,000 events of 2,000
// products stalled both).
func TestDevRedisStaysFastWithManyKeys(t *testing.T) {
	rc := embeddedRedisClient(t)
	ctx := context.Background()
	const keys = 30000
	for start := 0; start < keys; start += 1000 {
		if _, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < start+1000; i++ {
				p.HSet(ctx, fmt.Sprintf("sv:test:{%d}", i), "v", i)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	if _, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 2000 {
			p.HSetNX(ctx, fmt.Sprintf("sv:test:{%d}", i), "w", i)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// 0.4 s here with the ticker, 47 s with ClockTTL; the bound leaves
	// room for two cores under a full make test with -race.
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("2,000 commands over %d keys took %v; want well under a second (47 s when every command aged every key)", keys, took)
	}
}

// Keys still expire by the clock in dev's embedded Redis (a rebuild's
// lease left by a killed CLI), without FastForward.
func TestDevRedisExpiresKeysByTheClock(t *testing.T) {
	rc := embeddedRedisClient(t)
	ctx := context.Background()
	if err := rc.Set(ctx, "lease", "owner", 500*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := rc.Exists(ctx, "lease").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a key set with a 500 ms TTL still exists after 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// embeddedRedisClient starts dev's embedded Redis for the test and returns
// a client of it.
func embeddedRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	mr, stop, err := startEmbeddedRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	return rc
}
