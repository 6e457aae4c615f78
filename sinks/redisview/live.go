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
	return s.markLiveEpoch(ctx)
}

// LiveEpochKey holds Redis's epoch (Epoch) when a generation was last
// made live by SetLive or EnsureLive: the data the live generation was
// read into. A view not found while Redis holds another epoch is data
// lost and not read again yet (on a Redis Cluster, another master's loss
// leaves the live pointer): Get answers ErrNoLive, not "not found".
func (s *Store) LiveEpochKey() string { return "sv:" + s.projection + ":live-epoch" }

func (s *Store) markLiveEpoch(ctx context.Context) error {
	s.lossRead.Store(nil)
	e, err := Epoch(ctx, s.client)
	if err == nil {
		err = s.client.Set(ctx, s.LiveEpochKey(), e, 0).Err()
	}
	if err != nil {
		return fmt.Errorf("redis set %s: %w", s.LiveEpochKey(), err)
	}
	return nil
}

// lostSinceLive reports whether Redis holds another epoch than when the
// live generation was made live. Without a record (one made live by an
// older streamview, or the record lost with its master) it cannot tell:
// false.
//
// Its answer is kept for Config.LiveCache: a product read before its
// projector wrote it (a `?minVersion=` wait polls) costs the epoch's
// round trips at most that often.
func (s *Store) lostSinceLive(ctx context.Context) (bool, error) {
	if r := s.lossRead.Load(); r != nil && time.Since(r.at) < s.liveCache {
		return r.lost, nil
	}
	at := time.Now()
	lost, err := s.readLostSinceLive(ctx)
	if err == nil {
		s.lossRead.Store(&lossRead{lost: lost, at: at})
	}
	return lost, err
}

// lossRead is an answer of lostSinceLive and when it was asked.
type lossRead struct {
	lost bool
	at   time.Time
}

func (s *Store) readLostSinceLive(ctx context.Context) (bool, error) {
	was, err := s.client.Get(ctx, s.LiveEpochKey()).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis get %s: %w", s.LiveEpochKey(), err)
	}
	now, err := Epoch(ctx, s.client)
	if err != nil {
		return false, err
	}
	return now != was, nil
}

// EnsureLive makes gen live when no generation is live yet, and returns the
// live generation either way: what a projection's first start calls.
func (s *Store) EnsureLive(ctx context.Context, gen int) (int, error) {
	if err := checkGen(gen); err != nil {
		return 0, err
	}
	set, err := s.client.SetNX(ctx, s.LiveKey(), gen, 0).Result()
	if err != nil {
		return 0, fmt.Errorf("redis setnx %s = %d: %w", s.LiveKey(), gen, err)
	}
	if set {
		if err := s.markLiveEpoch(ctx); err != nil {
			return 0, err
		}
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
