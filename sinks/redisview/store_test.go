package redisview_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/productview/storetest"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

func TestContract(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		storetest.Run(t, redistest.Backend{Client: c})
	})
}

// ApplyIn keeps the contract: without the script on a single server
// (miniredis, the real one), through it on a cluster; with a version cache
// so small that it starts over within most batches, too.
func TestContractApplyIn(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		storetest.Run(t, redistest.Backend{Client: c, Partitioned: true})
	})
	t.Run("tiny version cache", func(t *testing.T) {
		redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
			storetest.Run(t, redistest.Backend{Client: c, Partitioned: true, Config: redisview.Config{VersionCache: 3}})
		})
	})
}

// Apply packs documents into script calls and calls into concurrent
// pipelines; every packing must keep the contract, and a ring (like a
// cluster) gets one document per call.
func TestContractPacking(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  redisview.Config
	}{
		{"one document per call and pipeline", redisview.Config{DocsPerCall: 1, DocsPerPipeline: 1}},
		{"small calls and pipelines", redisview.Config{DocsPerCall: 7, DocsPerPipeline: 50}},
		{"one call per pipeline", redisview.Config{DocsPerCall: 1000, DocsPerPipeline: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
				storetest.Run(t, redistest.Backend{Client: c, Config: tc.cfg})
			})
		})
	}
	t.Run("ring", func(t *testing.T) {
		srv := miniredis.RunT(t)
		ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"one": srv.Addr()}})
		t.Cleanup(func() { ring.Close() })
		storetest.Run(t, redistest.Backend{Client: ring})
	})
}

// skipSharedScriptFlush skips t on a real server or cluster, which other
// tests share, unless REDIS_SCRIPT_FLUSH=1 says it is this test's alone:
// SCRIPT FLUSH empties the script cache of a whole server (of every master
// of a cluster).
func skipSharedScriptFlush(t *testing.T) {
	t.Helper()
	shared := strings.HasSuffix(t.Name(), "/"+redistest.Real) || strings.HasSuffix(t.Name(), "/"+redistest.Cluster)
	if shared && os.Getenv("REDIS_SCRIPT_FLUSH") != "1" {
		t.Skip("SCRIPT FLUSH is server-wide: set REDIS_SCRIPT_FLUSH=1 to run this on a private server or cluster")
	}
}

// After SCRIPT FLUSH (or a restart) EVALSHA fails with NOSCRIPT; Apply must
// still apply every change exactly once. SCRIPT FLUSH empties the whole
// server's script cache, so on a real server the test runs only when
// REDIS_SCRIPT_FLUSH=1 says the server is this test's alone.
func TestNoScript(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		skipSharedScriptFlush(t)
		ctx := context.Background()
		s := redistest.NewStore(t, c)
		for round := range 3 {
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			v := int64(round + 1)
			res, err := s.Apply(ctx, 1, []productview.Change{
				{ID: "a", Version: v, Incr: []productview.Incr{{Name: "n", By: 1}}},
				{ID: "b", Version: v, Incr: []productview.Incr{{Name: "n", By: 1}}},
				{ID: "a", Version: v, Incr: []productview.Incr{{Name: "n", By: 1}}},
			})
			if err != nil || res != (productview.Result{Applied: 2, Duplicates: 1}) {
				t.Fatalf("round %d: Apply = %+v, %v; want 2 applied, 1 duplicate", round, res, err)
			}
		}
		d, _, err := s.GetAt(ctx, 1, "a")
		if err != nil || d.Version != 3 || d.Fields["n"] != "3" {
			t.Fatalf("a = %+v, %v; want version 3, n 3", d, err)
		}
	})
}

// NOSCRIPT fails whole script calls; with many documents per call and
// several pipelines at once, every document must still be applied once.
func TestNoScriptManyDocuments(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		skipSharedScriptFlush(t)
		ctx := context.Background()
		s := redistest.NewStoreConfig(t, c, redisview.Config{DocsPerCall: 7, DocsPerPipeline: 50})
		const docs = 300
		for round := range 3 {
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			v := int64(round + 1)
			var batch []productview.Change
			for i := range docs {
				id := fmt.Sprintf("d%03d", i)
				batch = append(batch,
					productview.Change{ID: id, Version: v, Incr: []productview.Incr{{Name: "n", By: 1}}},
					productview.Change{ID: id, Version: v, Incr: []productview.Incr{{Name: "n", By: 1}}}) // duplicate
			}
			res, err := s.Apply(ctx, 1, batch)
			if err != nil || res != (productview.Result{Applied: docs, Duplicates: docs}) {
				t.Fatalf("round %d: Apply = %+v, %v; want %d applied, %d duplicates", round, res, err, docs, docs)
			}
		}
		for i := range docs {
			d, _, err := s.GetAt(ctx, 1, fmt.Sprintf("d%03d", i))
			if err != nil || d.Version != 3 || d.Fields["n"] != "3" {
				t.Fatalf("d%03d = %+v, %v; want version 3, n 3", i, d, err)
			}
		}
	})
}

// A server that is gone yields an error, never a silent success.
func TestServerDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	s, err := redisview.New(c, redisview.Config{Projection: "down"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := s.Apply(ctx, 1, []productview.Change{{ID: "a", Version: 1}, {ID: "b", Version: 1}})
	if err == nil || res != (productview.Result{}) {
		t.Fatalf("Apply on a closed port = %+v, %v; want an error and nothing counted", res, err)
	}
	if _, _, err := s.GetAt(ctx, 1, "a"); err == nil {
		t.Fatal("GetAt on a closed port: no error")
	}
	if _, err := s.Count(ctx, 1); err == nil {
		t.Fatal("Count on a closed port: no error")
	}
	if _, err := s.Live(ctx); err == nil || errors.Is(err, productview.ErrNoLive) {
		t.Fatalf("Live on a closed port = %v; want a server error, not ErrNoLive", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  redisview.Config
		ok   bool
	}{
		{"ok", redisview.Config{Projection: "product-view"}, true},
		{"ok with scan count", redisview.Config{Projection: "p.v_2", ScanCount: 10}, true},
		{"missing projection", redisview.Config{}, false},
		{"glob in projection", redisview.Config{Projection: "a*"}, false},
		{"upper case", redisview.Config{Projection: "Product"}, false},
		{"negative scan count", redisview.Config{Projection: "p", ScanCount: -1}, false},
		{"negative docs per call", redisview.Config{Projection: "p", DocsPerCall: -1}, false},
		{"negative docs per pipeline", redisview.Config{Projection: "p", DocsPerPipeline: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
	err := redisview.Config{Projection: "A*", ScanCount: -1}.Validate()
	if err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 2 {
		t.Fatalf("Validate() = %v; want both problems reported", err)
	}
}

func TestKeys(t *testing.T) {
	s, err := redisview.New(redis.NewClient(&redis.Options{}), redisview.Config{Projection: "product-view"})
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		s.Key(3, "0b9f"): "sv:product-view:g3:{0b9f}",
		s.Prefix(12):     "sv:product-view:g12:",
		s.LiveKey():      "sv:product-view:live",
	} {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
}

// A folded write sent again with EVAL after NOSCRIPT may meet a version
// inside its span (part of the changes redelivered): its changes then go
// one by one, and each is applied exactly once.
func TestNoScriptFoldedPartlyRedelivered(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		skipSharedScriptFlush(t)
		ctx := context.Background()
		s := redistest.NewStore(t, c)
		var changes []productview.Change
		for v := int64(1); v <= 10; v++ {
			changes = append(changes, productview.Change{ID: "a", Version: v, Incr: []productview.Incr{{Name: "n", By: 1}}})
		}
		if res, err := s.Apply(ctx, 1, changes[:4]); err != nil || res != (productview.Result{Applied: 4}) {
			t.Fatalf("first part: Apply = %+v, %v", res, err)
		}
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		res, err := s.Apply(ctx, 1, changes)
		if err != nil || res != (productview.Result{Applied: 6, Duplicates: 4}) {
			t.Fatalf("whole after SCRIPT FLUSH: Apply = %+v, %v; want 6 applied, 4 duplicates", res, err)
		}
		d, _, err := s.GetAt(ctx, 1, "a")
		if err != nil || d.Version != 10 || d.Fields["n"] != "10" {
			t.Fatalf("a = %+v, %v; want version 10, n 10", d, err)
		}
	})
}
