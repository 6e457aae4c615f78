package redisview

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
)

// SetLive makes generation gen the one that Get reads. Queries switch in one
// step: a Get reads either the old generation or the new one, whole.
func (s *Store) SetLive(ctx context.Context, gen int) error {
	if err := checkGen(gen); err != nil {
		return err
	}
	at := time.Now()
	if err := s.client.Set(ctx, s.LiveKey(), gen, 0).Err(); err != nil {
		return fmt.Errorf("redis set %s = %d: %w", s.LiveKey(), gen, err)
	}
	s.remember(gen, at)
	return nil
}

// EnsureLive makes gen live when no generation is live yet, and returns the
// live generation either way: what a projection's first start calls.
func (s *Store) EnsureLive(ctx context.Context, gen int) (int, error) {
	if err := checkGen(gen); err != nil {
		return 0, err
	}
	if err := s.client.SetNX(ctx, s.LiveKey(), gen, 0).Err(); err != nil {
		return 0, fmt.Errorf("redis setnx %s = %d: %w", s.LiveKey(), gen, err)
	}
	return s.Live(ctx)
}

// Live returns the live generation, or ErrNoLive when none was set.
func (s *Store) Live(ctx context.Context) (int, error) {
	at := time.Now()
	v, err := s.client.Get(ctx, s.LiveKey()).Result()
	if errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("%w: %s is not set", productview.ErrNoLive, s.LiveKey())
	}
	if err != nil {
		return 0, fmt.Errorf("redis get %s: %w", s.LiveKey(), err)
	}
	gen, err := strconv.Atoi(v)
	if err != nil || gen < 1 {
		return 0, fmt.Errorf("%w: %s = %q", productview.ErrCorrupt, s.LiveKey(), v)
	}
	s.remember(gen, at)
	return gen, nil
}

// liveRead is the live generation as the pointer held it at a time: when
// the read or write of it was sent.
type liveRead struct {
	gen int
	at  time.Time
}

// remember keeps gen as the live generation read or set at time at, unless
// what is kept was sent later: a slow read of the old pointer must not
// overwrite a swap this Store has made meanwhile.
func (s *Store) remember(gen int, at time.Time) {
	next := &liveRead{gen: gen, at: at}
	for {
		old := s.live.Load()
		if old != nil && old.at.After(at) {
			return
		}
		if s.live.CompareAndSwap(old, next) {
			return
		}
	}
}

// liveForRead is the generation Get reads: the one last read or set when
// that is younger than Config.LiveCache, else the pointer read again.
func (s *Store) liveForRead(ctx context.Context) (int, error) {
	if c := s.live.Load(); c != nil && time.Since(c.at) < s.liveCache {
		return c.gen, nil
	}
	return s.Live(ctx)
}
