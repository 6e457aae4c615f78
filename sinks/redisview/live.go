package redisview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
//
// On a Redis Cluster the key lives on one master, whose loss would take
// the record with it: there the record has a copy more per bucket of the
// epoch's sentinels (LiveEpochCopyKeys), each in its sentinel's slot, so
// every master holds the copies of its slots and loses them with its
// data. LiveEpochKey is still written there, after the copies, for the
// instances of an older streamview during an upgrade (they read it
// alone); see lostSinceLive for how it is read.
func (s *Store) LiveEpochKey() string { return "sv:" + s.projection + ":live-epoch" }

// LiveEpochCopyKeys are the copies of LiveEpochKey's record on a Redis
// Cluster, one per sentinel of Epoch, in its slot:
// "sv:<projection>:live-epoch:{T}" for the sentinel "sv:epoch:{T}".
func (s *Store) LiveEpochCopyKeys() []string {
	keys := make([]string, len(epochSentinels))
	for i, k := range epochSentinels {
		keys[i] = s.LiveEpochKey() + ":" + strings.TrimPrefix(k, EpochKey+":")
	}
	return keys
}

func (s *Store) markLiveEpoch(ctx context.Context) error {
	s.lossRead.Store(nil)
	e, err := Epoch(ctx, s.client)
	if err != nil {
		return fmt.Errorf("redis: the epoch for %s: %w", s.LiveEpochKey(), err)
	}
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		if err := setAll(ctx, cc, s.LiveEpochCopyKeys(), e); err != nil {
			return err
		}
	}
	if err := s.client.Set(ctx, s.LiveEpochKey(), e, 0).Err(); err != nil {
		return fmt.Errorf("redis set %s: %w", s.LiveEpochKey(), err)
	}
	return nil
}

// lostSinceLive reports whether Redis holds another epoch than when the
// live generation was made live. Without a record (one made live by an
// older streamview, or the record lost with its master on a single
// server, which takes the live pointer too) it cannot tell: false. On a
// cluster, see liveLost.
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
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		return s.clusterLostSinceLive(ctx, cc)
	}
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

// clusterLostSinceLive is readLostSinceLive on a cluster: EpochKey, its
// sentinels, LiveEpochKey and its copies in one pipelined round (one
// round trip per master, 258 GETs), and Epoch's own reads only when the
// epoch is not settled (a loss being seen, a first start).
func (s *Store) clusterLostSinceLive(ctx context.Context, cc *redis.ClusterClient) (bool, error) {
	n := len(epochSentinels)
	keys := make([]string, 0, 2+2*n)
	keys = append(append(append(keys, EpochKey), epochSentinels...), s.LiveEpochKey())
	keys = append(keys, s.LiveEpochCopyKeys()...)
	vals, err := getAll(ctx, cc, keys)
	if err != nil {
		return false, err
	}
	epoch, ok := settledEpoch(vals[0], vals[1:1+n])
	if !ok {
		if epoch, err = clusterEpoch(ctx, cc); err != nil {
			return false, err
		}
	}
	return liveLost(epoch, vals[1+n], vals[2+n:]), nil
}

// liveLost reports, on a cluster, whether the live generation's record
// (single: LiveEpochKey's value, copies: its copies', "" when missing)
// says that Redis lost data since the generation was made live under
// epoch:
//
//   - LiveEpochKey holding the epoch: no loss. It is written after the
//     copies, so the whole record was written under this epoch (or an
//     older streamview, which writes it alone, made a generation live
//     under it: after a master's loss, its refill done);
//   - no copy at all: a record made by an older streamview, read as
//     before: another epoch in LiveEpochKey is a loss, none is none seen.
//     Until the copies are written (EnsureLive at the next start, when
//     LiveEpochKey holds the epoch now; else the next SetLive), the loss
//     of the master holding LiveEpochKey goes unseen (a miss answers "not
//     found");
//   - else a copy missing (its master lost its data) or holding another
//     epoch is a loss; copies all holding the epoch are none
//     (LiveEpochKey's master cannot lose it without the epoch moving: a
//     SetLive that failed after the copies).
func liveLost(epoch, single string, copies []string) bool {
	if single == epoch {
		return false
	}
	present, differ := 0, false
	for _, v := range copies {
		if v != "" {
			present++
		}
		differ = differ || v != epoch
	}
	if present == 0 {
		return single != ""
	}
	return differ
}

// EnsureLive makes gen live when no generation is live yet, and returns the
// live generation either way: what a projection's first start calls.
//
// On a Redis Cluster, a generation made live by an older streamview has
// its epoch record without the copies (LiveEpochCopyKeys); EnsureLive
// writes them when the record holds Redis's epoch now, so that an upgraded
// deployment sees the loss of any master from its first start on, not
// only after its next refill or rebuild.
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
	} else if cc, ok := s.client.(*redis.ClusterClient); ok {
		if err := s.copyLiveEpoch(ctx, cc); err != nil {
			return 0, err
		}
	}
	return s.Live(ctx)
}

// copyLiveEpoch writes the copies of LiveEpochKey's record when it has
// none and holds Redis's epoch now. A record of another epoch, or none,
// is left as it is: it vouches for nothing now (a loss since, not read
// again yet), and the generation's next making live writes it whole.
func (s *Store) copyLiveEpoch(ctx context.Context, cc *redis.ClusterClient) error {
	copies := s.LiveEpochCopyKeys()
	vals, err := getAll(ctx, cc, append([]string{s.LiveEpochKey()}, copies...))
	if err != nil {
		return err
	}
	if vals[0] == "" || slices.ContainsFunc(vals[1:], func(v string) bool { return v != "" }) {
		return nil
	}
	epoch, err := Epoch(ctx, cc)
	if err != nil {
		return err
	}
	if vals[0] != epoch {
		return nil
	}
	s.lossRead.Store(nil)
	return setAll(ctx, cc, copies, epoch)
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
