package redisview_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
)

// miniCluster is a cluster client on a miniredis, which serves every slot
// itself: the cluster's code paths, with one master's loss played by
// deleting the keys of its slots.
func miniCluster(t *testing.T) (*redis.ClusterClient, *miniredis.Miniredis) {
	t.Helper()
	srv := miniredis.RunT(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// bucketOf is the index of key's bucket of sentinels (and of the live
// epoch's copies).
func bucketOf(key string) int { return int(redisview.Slot(key)) / 128 }

// sentinelOf is the epoch's sentinel that shares the slot of copy, a
// LiveEpochCopyKeys key: both end in the same hash tag.
func sentinelOf(copyKey string) string {
	return redisview.EpochKey + ":" + copyKey[strings.Index(copyKey, "{"):]
}

// On a cluster the live generation's epoch record has a copy in every
// bucket of the epoch's sentinels, so a miss after the loss of any one
// master answers ErrNoLive, the master holding LiveEpochKey (and
// EpochKey) too; a record of an older streamview (LiveEpochKey alone) is
// read as before.
func TestLiveEpochCopiesOnACluster(t *testing.T) {
	type store struct {
		*redisview.Store
		srv *miniredis.Miniredis
		c   *redis.ClusterClient
	}
	// lose deletes what the loss of the master holding keys takes: each
	// key, and its bucket's sentinel and live epoch copy.
	lose := func(s store, keys ...string) {
		copies := s.LiveEpochCopyKeys()
		for _, k := range keys {
			c := copies[bucketOf(k)]
			for _, k := range []string{k, c, sentinelOf(c)} {
				s.srv.Del(k)
			}
		}
	}
	// only deletes the copies: LiveEpochKey alone, as an older streamview
	// left it.
	only := func(s store) {
		for _, k := range s.LiveEpochCopyKeys() {
			s.srv.Del(k)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s store)
		noLive bool // else not found
	}{
		{"nothing lost", func(*testing.T, store) {}, false},
		{"a master holding a view lost", func(_ *testing.T, s store) { lose(s, s.Key(1, "q")) }, true},
		{"the master holding LiveEpochKey lost", func(_ *testing.T, s store) { lose(s, s.LiveEpochKey()) }, true},
		{"the master holding LiveEpochKey and EpochKey lost", func(_ *testing.T, s store) {
			lose(s, s.LiveEpochKey(), redisview.EpochKey)
		}, true},
		{"the epoch moved, the record whole", func(_ *testing.T, s store) {
			s.srv.Set(redisview.EpochKey, "another epoch")
		}, true},
		{"a copy missing, LiveEpochKey of another epoch", func(_ *testing.T, s store) {
			s.srv.Del(s.LiveEpochCopyKeys()[7])
			s.srv.Set(s.LiveEpochKey(), "an epoch of before")
		}, true},
		{"a copy of another epoch, LiveEpochKey missing", func(_ *testing.T, s store) {
			s.srv.Set(s.LiveEpochCopyKeys()[7], "an epoch of before")
			s.srv.Del(s.LiveEpochKey())
		}, true},
		{"LiveEpochKey missing, the copies whole (a SetLive that failed after them)", func(_ *testing.T, s store) {
			s.srv.Del(s.LiveEpochKey())
		}, false},
		{"made live by an older streamview after a master's loss (LiveEpochKey alone, of the new epoch)", func(t *testing.T, s store) {
			lose(s, s.Key(1, "q"))
			epoch, err := redisview.Epoch(context.Background(), s.c)
			if err != nil {
				t.Fatal(err)
			}
			s.srv.Set(s.LiveEpochKey(), epoch)
		}, false},
		{"upgrade: LiveEpochKey alone, of this epoch", func(_ *testing.T, s store) { only(s) }, false},
		{"upgrade: LiveEpochKey alone, of another epoch", func(_ *testing.T, s store) {
			only(s)
			s.srv.Set(s.LiveEpochKey(), "an epoch of before")
		}, true},
		{"upgrade: no record at all", func(_ *testing.T, s store) {
			only(s)
			s.srv.Del(s.LiveEpochKey())
		}, false},
		{"upgrade: LiveEpochKey alone, its master lost", func(_ *testing.T, s store) {
			only(s)
			lose(s, s.LiveEpochKey())
		}, false}, // unseen until the next SetLive or EnsureLive, as before
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, srv := miniCluster(t)
			// Every read asks again: the answer is otherwise kept for
			// LiveCache.
			st, err := redisview.New(c, redisview.Config{Projection: "product-view", LiveCache: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			s := store{st, srv, c}
			if _, err := s.Apply(ctx, 1, []productview.Change{{ID: "q", Version: 1, Set: []productview.Field{{Name: "n", Value: "x"}}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.EnsureLive(ctx, 1); err != nil {
				t.Fatal(err)
			}
			epoch, err := redisview.Epoch(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range append(s.LiveEpochCopyKeys(), s.LiveEpochKey()) {
				if v, err := srv.Get(k); err != nil || v != epoch {
					t.Fatalf("EnsureLive left %s = %q (%v), want the epoch %q", k, v, err, epoch)
				}
			}
			tc.change(t, s)
			_, ok, err := s.Get(ctx, "p")
			switch {
			case tc.noLive && !errors.Is(err, productview.ErrNoLive):
				t.Fatalf("Get of a view lost = found %v, %v; want ErrNoLive", ok, err)
			case !tc.noLive && (err != nil || ok):
				t.Fatalf("Get of a view never written = found %v, %v; want not found", ok, err)
			}
			// Made live again (a refill's promote, a rebuild's swap):
			// the record is whole, and a miss is not found.
			if err := s.SetLive(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := s.Get(ctx, "p"); err != nil || ok {
				t.Fatalf("Get of a view never written after SetLive = found %v, %v; want not found", ok, err)
			}
		})
	}
}

// The copies share their sentinels' slots: one bucket each, every bucket
// once, so each master holds the copies of its slots.
func TestLiveEpochCopyKeysShareTheSentinelsSlots(t *testing.T) {
	c, _ := miniCluster(t)
	s, err := redisview.New(c, redisview.Config{Projection: "product-view"})
	if err != nil {
		t.Fatal(err)
	}
	copies := s.LiveEpochCopyKeys()
	if len(copies) != 16384/128 {
		t.Fatalf("%d copies, want one per bucket of 128 slots (128)", len(copies))
	}
	for b, k := range copies {
		if got := bucketOf(k); got != b {
			t.Fatalf("copy %d, %s, is in bucket %d", b, k, got)
		}
		if redisview.Slot(k) != redisview.Slot(sentinelOf(k)) {
			t.Fatalf("copy %s is in slot %d, its sentinel %s in %d", k, redisview.Slot(k), sentinelOf(k), redisview.Slot(sentinelOf(k)))
		}
		if !strings.HasPrefix(k, s.LiveEpochKey()+":{") {
			t.Fatalf("copy %s is not under %s", k, s.LiveEpochKey())
		}
	}
}

// A generation made live by an older streamview has LiveEpochKey without
// its copies. EnsureLive, at a projection's start, writes the copies when
// the record holds Redis's epoch now: the loss of the master holding
// LiveEpochKey is then seen (ErrNoLive), which before the next refill or
// rebuild went unseen. A record of another epoch is left without copies.
func TestEnsureLiveCopiesAnUpgradedRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		record string // LiveEpochKey's value before EnsureLive; "" the epoch
		copied bool
	}{
		{"the record of this epoch", "", true},
		{"a record of another epoch", "an epoch of before", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, srv := miniCluster(t)
			s, err := redisview.New(c, redisview.Config{Projection: "product-view", LiveCache: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.EnsureLive(ctx, 1); err != nil {
				t.Fatal(err)
			}
			epoch, err := redisview.Epoch(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range s.LiveEpochCopyKeys() { // as an older streamview left it
				srv.Del(k)
			}
			if tc.record != "" {
				srv.Set(s.LiveEpochKey(), tc.record)
			}
			if gen, err := s.EnsureLive(ctx, 1); err != nil || gen != 1 {
				t.Fatalf("EnsureLive = %d, %v; want 1", gen, err)
			}
			want := ""
			if tc.copied {
				want = epoch
			}
			for _, k := range s.LiveEpochCopyKeys() {
				if v, _ := srv.Get(k); v != want {
					t.Fatalf("after EnsureLive %s = %q, want %q", k, v, want)
				}
			}
			if !tc.copied {
				return
			}
			// The master holding LiveEpochKey loses its data.
			cp := s.LiveEpochCopyKeys()[bucketOf(s.LiveEpochKey())]
			for _, k := range []string{s.LiveEpochKey(), cp, sentinelOf(cp)} {
				srv.Del(k)
			}
			if _, ok, err := s.Get(ctx, "p"); !errors.Is(err, productview.ErrNoLive) {
				t.Fatalf("Get after the loss of LiveEpochKey's master = found %v, %v; want ErrNoLive", ok, err)
			}
		})
	}
}
