package redisview

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
)

// SetLive makes generation gen the one that Get reads. Queries switch in one
// step: a Get reads either the old generation or the new one, whole.
func (s *Store) SetLive(ctx context.Context, gen int) error {
	if err := checkGen(gen); err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.LiveKey(), gen, 0).Err(); err != nil {
		return fmt.Errorf("redis set %s = %d: %w", s.LiveKey(), gen, err)
	}
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
	return gen, nil
}
