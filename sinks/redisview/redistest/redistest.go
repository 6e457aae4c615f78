package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/productview/storetest"
	"github.com/streamview/streamview/sinks/redisview"
)

// EnvAddr names the environment variable that points tests at a real Redis:
// "host:port" or a redis:// URL.
const EnvAddr = "REDIS_ADDR"

// EnvClusterAddrs names the environment variable that points tests at a
// real Redis Cluster: its seed addresses, "host:port,host:port,...".
// `make services-up` starts one (scripts/services/redis-cluster.sh) and
// `make test` sets it.
const EnvClusterAddrs = "REDIS_CLUSTER_ADDRS"

// Backend names are the subtest names ForEachBackend uses.
const (
	Mini    = "miniredis"
	Real    = "redis"
	Cluster = "redis-cluster"
)

// Miniredis starts an in-process Redis for tb and returns a client on it;
// both stop at cleanup.
func Miniredis(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	srv := miniredis.RunT(tb)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	tb.Cleanup(func() { c.Close() })
	return c
}

// RealRedis returns a client on the server at $REDIS_ADDR, or skips tb when
// the variable is unset or under -short. A set but unreachable address fails.
func RealRedis(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	addr := os.Getenv(EnvAddr)
	switch {
	case addr == "":
		tb.Skipf("real Redis: %s is not set (e.g. %s=127.0.0.1:6379); the miniredis tier ran instead", EnvAddr, EnvAddr)
	case testing.Short():
		tb.Skipf("real Redis: skipped under -short")
	}
	opt := &redis.Options{Addr: addr}
	if strings.Contains(addr, "://") {
		var err error
		if opt, err = redis.ParseURL(addr); err != nil {
			tb.Fatalf("%s=%q: %v", EnvAddr, addr, err)
		}
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("real Redis at %s=%s is not reachable: %v", EnvAddr, addr, err)
	}
	return c
}

// RealCluster returns a cluster client on the Redis Cluster at
// $REDIS_CLUSTER_ADDRS, or skips tb when the variable is unset or under
// -short. A set but unreachable cluster, or one whose state is not ok,
// fails. Tests share the cluster: keep to keys of your own (NewStore,
// DeleteKeys), never FLUSHALL.
func RealCluster(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	addrs := os.Getenv(EnvClusterAddrs)
	switch {
	case addrs == "":
		tb.Skipf("real Redis Cluster: %s is not set (e.g. %s=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003, started by `make services-up` or scripts/services/redis-cluster.sh up)", EnvClusterAddrs, EnvClusterAddrs)
	case testing.Short():
		tb.Skipf("real Redis Cluster: skipped under -short")
	}
	var seeds []string
	for _, a := range strings.Split(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			seeds = append(seeds, a)
		}
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds})
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		tb.Fatalf("real Redis Cluster at %s=%s is not reachable: %v", EnvClusterAddrs, addrs, err)
	}
	if !strings.Contains(info, "cluster_state:ok") {
		tb.Fatalf("real Redis Cluster at %s=%s is not ok (scripts/services/redis-cluster.sh status):\n%s", EnvClusterAddrs, addrs, info)
	}
	// Every master answers, so that a scan over all of them sees every key.
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() }); err != nil {
		tb.Fatalf("real Redis Cluster at %s=%s: a master does not answer: %v", EnvClusterAddrs, addrs, err)
	}
	return c
}

// IsCluster reports whether c is a cluster client.
func IsCluster(c redis.UniversalClient) bool {
	_, ok := c.(*redis.ClusterClient)
	return ok
}

// DeleteKeys unlinks every key matching the SCAN pattern, on every master
// of a cluster, and returns how many it deleted: the cleanup of tests that
// share a server or cluster, each under prefixes of its own.
func DeleteKeys(ctx context.Context, c redis.UniversalClient, pattern string) (int, error) {
	var (
		mu sync.Mutex
		n  int
	)
	one := func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			// One key per command: keys of different slots.
			d, err := node.Unlink(ctx, iter.Val()).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			n += int(d)
			mu.Unlock()
		}
		return iter.Err()
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return one(ctx, m) })
		return n, err
	}
	err := one(ctx, c)
	return n, err
}

// Backends are the servers of ForEachBackend, by name.
var Backends = []struct {
	Name   string
	Client func(testing.TB) redis.UniversalClient
}{
	{Mini, Miniredis},
	{Real, RealRedis},
	{Cluster, RealCluster},
}

// ForEachBackend runs f as one subtest per server: "miniredis" always,
// "redis" when REDIS_ADDR is set and "redis-cluster" when
// REDIS_CLUSTER_ADDRS is set, both not under -short (skipped otherwise).
func ForEachBackend(t *testing.T, f func(t *testing.T, c redis.UniversalClient)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { f(t, b.Client(t)) })
	}
}

// NewStore returns a store on c for a projection name of its own, so tests
// can share a real server; every key of that projection is deleted at
// cleanup.
func NewStore(tb testing.TB, c redis.UniversalClient) *redisview.Store {
	tb.Helper()
	return NewStoreConfig(tb, c, redisview.Config{})
}

// NewStoreConfig is NewStore with cfg; its Projection is replaced by a name
// of the store's own.
func NewStoreConfig(tb testing.TB, c redis.UniversalClient, cfg redisview.Config) *redisview.Store {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.Projection = "test-" + hex.EncodeToString(b[:])
	s, err := redisview.New(c, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := DeleteKeys(context.Background(), c, "sv:"+s.Projection()+":*"); err != nil {
			tb.Logf("cleanup of %s: %v", s.Projection(), err)
		}
	})
	return s
}

// Backend is the contract suite's backend (storetest.Backend) on Client:
// each store has Config, with a projection name of its own.
type Backend struct {
	Client redis.UniversalClient
	Config redisview.Config
	// Partitioned makes the stores' Apply the ApplyIn of partition 0 (see
	// Partitioned), so that the suite holds ApplyIn to the contract.
	Partitioned bool
}

// New returns a fresh store; see NewStoreConfig.
func (b Backend) New(t *testing.T) storetest.Store {
	s := NewStoreConfig(t, b.Client, b.Config)
	if b.Partitioned {
		return Partitioned{Store: s}
	}
	return s
}

// Partitioned is a Store whose Apply is ApplyIn of one partition.
type Partitioned struct {
	*redisview.Store
	Partition int32
}

// Apply is p.ApplyIn of p.Partition.
func (p Partitioned) Apply(ctx context.Context, gen int, changes []productview.Change) (productview.Result, error) {
	return p.ApplyIn(ctx, gen, p.Partition, changes)
}

// Refuse puts a string where the hash of document id goes, so that the
// apply script's HGET fails with WRONGTYPE for that document only.
func (b Backend) Refuse(t *testing.T, s storetest.Store, gen int, id string) {
	t.Helper()
	rs, ok := s.(*redisview.Store)
	if p, isP := s.(Partitioned); isP {
		rs, ok = p.Store, true
	}
	if !ok {
		t.Fatalf("redistest: Refuse on a %T, want a *redisview.Store", s)
	}
	if err := b.Client.Set(context.Background(), rs.Key(gen, id), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
}
