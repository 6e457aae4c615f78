package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview/storetest"
	"github.com/streamview/streamview/sinks/redisview"
)

// EnvAddr names the environment variable that points tests at a real Redis:
// "host:port" or a redis:// URL.
const EnvAddr = "REDIS_ADDR"

// Backend names are the subtest names ForEachBackend uses.
const (
	Mini = "miniredis"
	Real = "redis"
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

// Backends are the servers of ForEachBackend, by name.
var Backends = []struct {
	Name   string
	Client func(testing.TB) redis.UniversalClient
}{
	{Mini, Miniredis},
	{Real, RealRedis},
}

// ForEachBackend runs f as one subtest per server: "miniredis" always,
// "redis" when REDIS_ADDR is set and not under -short (skipped otherwise).
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
		ctx := context.Background()
		iter := c.Scan(ctx, 0, "sv:"+s.Projection()+":*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Unlink(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
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
}

// New returns a fresh store; see NewStoreConfig.
func (b Backend) New(t *testing.T) storetest.Store { return NewStoreConfig(t, b.Client, b.Config) }

// Refuse puts a string where the hash of document id goes, so that the
// apply script's HGET fails with WRONGTYPE for that document only.
func (b Backend) Refuse(t *testing.T, s storetest.Store, gen int, id string) {
	t.Helper()
	rs, ok := s.(*redisview.Store)
	if !ok {
		t.Fatalf("redistest: Refuse on a %T, want a *redisview.Store", s)
	}
	if err := b.Client.Set(context.Background(), rs.Key(gen, id), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
}
