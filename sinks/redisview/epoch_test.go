package redisview_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// envFlushable names the variable that lets tests empty the servers of
// REDIS_ADDR and REDIS_CLUSTER_ADDRS (FLUSHALL on a node): set it to 1
// only when they are this run's alone, as the tests of other packages
// keep their keys there.
const envFlushable = "REDIS_FLUSHABLE"

func flushable(t *testing.T) {
	t.Helper()
	if os.Getenv(envFlushable) != "1" {
		t.Skipf("empties the servers: set %s=1 when REDIS_ADDR and REDIS_CLUSTER_ADDRS are this run's alone", envFlushable)
	}
}

func epoch(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	e, err := redisview.Epoch(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// masters are plain clients on the cluster's masters, the one holding
// EpochKey first (home).
func masters(t *testing.T, c redis.UniversalClient) []*redis.Client {
	t.Helper()
	ctx := context.Background()
	cc := c.(*redis.ClusterClient)
	var (
		mu    sync.Mutex
		addrs []string
	)
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		addrs = append(addrs, m.Options().Addr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	home, err := cc.MasterForKey(ctx, redisview.EpochKey)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(addrs)
	if i := slices.Index(addrs, home.Options().Addr); i > 0 {
		addrs[0], addrs[i] = addrs[i], addrs[0]
	}
	out := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		out[i] = redis.NewClient(&redis.Options{Addr: a})
		t.Cleanup(func() { out[i].Close() })
	}
	if len(out) < 2 {
		t.Fatalf("the cluster has %d masters, want 2 or more", len(out))
	}
	return out
}

func flushAll(t *testing.T, c redis.Cmdable) {
	t.Helper()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// concurrentEpochs calls Epoch at once from n clients of newClient.
func concurrentEpochs(t *testing.T, n int, newClient func(testing.TB) redis.UniversalClient) []string {
	t.Helper()
	clients := make([]redis.UniversalClient, n)
	for i := range clients {
		clients[i] = newClient(t)
	}
	out := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			<-start
			out[i], errs[i] = redisview.Epoch(context.Background(), c)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func allEqual(t *testing.T, what string, vals []string) string {
	t.Helper()
	for _, v := range vals {
		if v != vals[0] {
			t.Fatalf("%s: callers saw different epochs: %q", what, vals)
		}
	}
	return vals[0]
}

// The epoch is one value for every call and every client while nothing
// is lost.
func TestEpochStable(t *testing.T) {
	for _, b := range []struct {
		name   string
		client func(testing.TB) redis.UniversalClient
	}{{redistest.Real, redistest.RealRedis}, {redistest.Cluster, redistest.RealCluster}} {
		t.Run(b.name, func(t *testing.T) {
			c1, c2 := b.client(t), b.client(t)
			first := epoch(t, c1)
			for range 3 {
				if e1, e2 := epoch(t, c1), epoch(t, c2); e1 != first || e2 != first {
					t.Fatalf("epoch changed with nothing lost: %q, then %q and %q", first, e1, e2)
				}
			}
		})
	}
}

// A single Redis keeps its epoch in EpochKey alone, as before: its value
// stays the epoch (no loss seen on an upgrade), and a FLUSHALL changes it.
func TestEpochSingleRedisLoss(t *testing.T) {
	c := redistest.RealRedis(t)
	flushable(t)
	ctx := context.Background()
	flushAll(t, c)
	if err := c.Set(ctx, redisview.EpochKey, "an epoch of before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if e := epoch(t, c); e != "an epoch of before" {
		t.Fatalf("epoch %q, want EpochKey's value", e)
	}
	flushAll(t, c)
	after := epoch(t, c)
	if after == "an epoch of before" {
		t.Fatal("FLUSHALL left the epoch as it was")
	}
	if e := epoch(t, redistest.RealRedis(t)); e != after {
		t.Fatalf("another client sees epoch %q, want %q", e, after)
	}
}

// On a cluster, the loss of any one master's data (FLUSHALL on it; a
// master restarted empty looks the same) changes the epoch, whether that
// master holds EpochKey or not, and every client then sees the new value,
// which stays. (A master that did not hold EpochKey lost the views on its
// slots unseen: reads answered 404 for products that exist, for good.)
func TestEpochSeesAMasterLoss(t *testing.T) {
	c := redistest.RealCluster(t)
	flushable(t)
	other := redistest.RealCluster(t)
	for i, m := range masters(t, c) {
		before := epoch(t, c)
		flushAll(t, m)
		after := epoch(t, c)
		if after == before {
			t.Fatalf("FLUSHALL on master %s (holding %s: %v) left the epoch as it was", m.Options().Addr, redisview.EpochKey, i == 0)
		}
		if e := epoch(t, other); e != after {
			t.Fatalf("after FLUSHALL on %s: another client sees epoch %q, want %q", m.Options().Addr, e, after)
		}
		if e := epoch(t, c); e != after {
			t.Fatalf("after FLUSHALL on %s: epoch changed again with nothing lost: %q, then %q", m.Options().Addr, after, e)
		}
	}
}

// Callers that find no epoch, or a loss, at once agree on one new epoch:
// on a single Redis and on a cluster, and after the loss of a master that
// does not hold EpochKey. On a cluster the epoch is EpochKey's value
// (what serve's history reads compare a refill's epoch with).
func TestEpochConcurrentCallsAgree(t *testing.T) {
	const n = 8
	t.Run(redistest.Real, func(t *testing.T) {
		c := redistest.RealRedis(t)
		flushable(t)
		for round := range 5 {
			flushAll(t, c)
			allEqual(t, "first calls, round "+strconv.Itoa(round+1), concurrentEpochs(t, n, redistest.RealRedis))
		}
	})
	t.Run(redistest.Cluster, func(t *testing.T) {
		c := redistest.RealCluster(t)
		flushable(t)
		ms := masters(t, c)
		for round := range 5 {
			for _, m := range ms {
				flushAll(t, m)
			}
			first := allEqual(t, "first calls, round "+strconv.Itoa(round+1), concurrentEpochs(t, n, redistest.RealCluster))
			flushAll(t, ms[1+round%(len(ms)-1)])
			after := allEqual(t, "calls after a master's loss, round "+strconv.Itoa(round+1), concurrentEpochs(t, n, redistest.RealCluster))
			if after == first {
				t.Fatalf("round %d: the loss of master %s left the epoch as it was", round+1, ms[1+round%(len(ms)-1)].Options().Addr)
			}
			if e := epoch(t, c); e != after {
				t.Fatalf("round %d: the epoch changed again with nothing lost: %q, then %q", round+1, after, e)
			}
			if v, err := c.Get(context.Background(), redisview.EpochKey).Result(); err != nil || v != after {
				t.Fatalf("round %d: %s holds %q (%v), want the epoch %q", round+1, redisview.EpochKey, v, err, after)
			}
		}
	})
}

// A cluster whose epoch was EpochKey alone (an upgrade) keeps its value:
// a serve running through the upgrade sees no loss and does not read the
// log again. A master's loss after the upgrade is seen.
func TestEpochClusterUpgradeKeepsValue(t *testing.T) {
	c := redistest.RealCluster(t)
	flushable(t)
	ctx := context.Background()
	ms := masters(t, c)
	for _, m := range ms {
		flushAll(t, m)
	}
	if err := c.Set(ctx, redisview.EpochKey, "an epoch of before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if e := epoch(t, c); e != "an epoch of before" {
		t.Fatalf("epoch %q after the upgrade, want EpochKey's value", e)
	}
	if e := epoch(t, redistest.RealCluster(t)); e != "an epoch of before" {
		t.Fatalf("another client sees epoch %q after the upgrade, want EpochKey's value", e)
	}
	flushAll(t, ms[len(ms)-1])
	if e := epoch(t, c); e == "an epoch of before" {
		t.Fatalf("FLUSHALL on master %s after the upgrade left the epoch as it was", ms[len(ms)-1].Options().Addr)
	}
}

// TestGetAfterAMasterLossAnswersNoLive: on a real cluster, a master that
// does not hold the live pointer loses its data: one holding neither the
// pointer nor its epoch record, the one holding the record
// (LiveEpochKey) and not EpochKey, the one holding both. Reads of the views it held
// answer ErrNoLive until they are read again, not "not found" (they
// answered 404 until the refill began, 2 to 30 reads in an audit; and,
// with the record on one master, for the record's master's loss still).
func TestGetAfterAMasterLossAnswersNoLive(t *testing.T) {
	c := redistest.RealCluster(t)
	flushable(t)
	ctx := context.Background()
	cc := c.(*redis.ClusterClient)
	masterOf := func(key string) string {
		t.Helper()
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}
	for _, tc := range []struct {
		name string
		// victim is the address of the master to empty, "" when the
		// store's keys do not allow one of that case.
		victim func(s *redisview.Store, ms []*redis.Client) string
	}{
		{"a master holding neither the live pointer nor its epoch record", func(s *redisview.Store, ms []*redis.Client) string {
			for _, m := range ms {
				if a := m.Options().Addr; a != masterOf(s.LiveKey()) && a != masterOf(s.LiveEpochKey()) {
					return a
				}
			}
			return ""
		}},
		{"the master holding the live generation's epoch record, not " + redisview.EpochKey, func(s *redisview.Store, _ []*redis.Client) string {
			if m := masterOf(s.LiveEpochKey()); m != masterOf(redisview.EpochKey) {
				return m
			}
			return ""
		}},
		{"the master holding the record and " + redisview.EpochKey, func(s *redisview.Store, _ []*redis.Client) string {
			if m := masterOf(s.LiveEpochKey()); m == masterOf(redisview.EpochKey) {
				return m
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := masters(t, c)
			// A projection of the test's own whose live pointer is not on
			// the master lost (that is ErrNoLive from the pointer alone).
			var (
				s      *redisview.Store
				victim string
			)
			for range 100 {
				var b [6]byte
				rand.Read(b[:])
				cand, err := redisview.New(c, redisview.Config{Projection: "test-" + hex.EncodeToString(b[:])})
				if err != nil {
					t.Fatal(err)
				}
				if v := tc.victim(cand, ms); v != "" && v != masterOf(cand.LiveKey()) {
					s, victim = cand, v
					break
				}
			}
			if s == nil {
				t.Fatal("no projection name in 100 whose keys fit the case")
			}
			t.Cleanup(func() { redistest.DeleteKeys(context.Background(), c, "sv:"+s.Projection()+":*") })
			var changes []productview.Change
			for i := range 200 {
				changes = append(changes, productview.Change{ID: "p" + strconv.Itoa(i), Version: 1, Set: []productview.Field{{Name: "n", Value: "x"}}})
			}
			if _, err := s.Apply(ctx, 1, changes); err != nil {
				t.Fatal(err)
			}
			if _, err := s.EnsureLive(ctx, 1); err != nil {
				t.Fatal(err)
			}
			var lost string
			for _, ch := range changes {
				if masterOf(s.Key(1, ch.ID)) == victim {
					lost = ch.ID
					break
				}
			}
			if lost == "" {
				t.Fatalf("no view on master %s", victim)
			}
			for _, m := range ms {
				if m.Options().Addr == victim {
					flushAll(t, m)
				}
			}
			if _, ok, err := s.Get(ctx, lost); !errors.Is(err, productview.ErrNoLive) || ok {
				t.Fatalf("Get of %s, lost with master %s = %v, %v; want ErrNoLive", lost, victim, ok, err)
			}
			// Made live again under the new epoch (a refill's promote):
			// a miss is not found again.
			if err := s.SetLive(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := s.Get(ctx, "never-written"); err != nil || ok {
				t.Fatalf("Get of a product never written, after SetLive = %v, %v; want not found", ok, err)
			}
		})
	}
}
