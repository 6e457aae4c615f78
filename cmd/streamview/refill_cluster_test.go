package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// envFlushable names the variable that lets tests empty a node of
// REDIS_CLUSTER_ADDRS (FLUSHALL): set it to 1 only when the cluster is
// this run's alone, as the tests of other packages keep their keys there.
const envFlushable = "REDIS_FLUSHABLE"

// TestServeRefillsAClusterMasterEmptiedUnderIt: on a Redis Cluster, one
// master that does not hold the epoch key loses its data under a running
// serve (FLUSHALL on it; restarted empty without a replica looks the
// same): the projectors read the log again, as for a whole Redis emptied
// (TestServeRefillsRedisEmptiedUnderIt). Every view ends equal to the fold
// of its product's events and every history lists every event. (The loss
// went unseen: the epoch lived on another master; the views of that
// master's slots answered 404, or kept only the fields of the events
// after the loss, for good.)
func TestServeRefillsAClusterMasterEmptiedUnderIt(t *testing.T) {
	rc := redistest.RealCluster(t)
	if os.Getenv(envFlushable) != "1" {
		t.Skipf("empties a master of the cluster: set %s=1 when REDIS_CLUSTER_ADDRS is this run's alone", envFlushable)
	}
	cc := rc.(*redis.ClusterClient)
	ctx := context.Background()
	clear := func() { // serve's default key names, as TestDevOnRedisCluster
		for _, p := range []string{"sv:" + productview.Name + ":*", "sv:" + historyProjection + ":*", "sv:notifier:*"} {
			if _, err := redistest.DeleteKeys(ctx, rc, p); err != nil {
				t.Logf("clear %s: %v", p, err)
			}
		}
	}
	clear()
	t.Cleanup(clear)

	fl := newFakeLog(t)
	events := eventgen.Stream(eventgen.Options{Products: 40, Events: 2000, Seed: 29})
	before, after := events[:1500], events[1500:]
	if _, err := fl.pub.Publish(t.Context(), before...); err != nil {
		t.Fatal(err)
	}
	base, _ := startListening(t, []string{"serve", "--roles", "api,projector", "--projections", "product-view,product-history",
		"--brokers", strings.Join(fl.cluster.ListenAddrs(), ","), "--redis", os.Getenv(redistest.EnvClusterAddrs), "--redis-cluster",
		"--elasticsearch", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard)
	store, err := redisview.New(rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	folds := foldsOf
	equalFolds := func(want map[string]productview.View) error { return liveEqualsFolds(t.Context(), store, want) }
	testenv.Eventually(t, time.Minute, func() error { return equalFolds(folds(before)) })

	// The master to empty: not the epoch's, the one holding most views.
	home, err := cc.MasterForKey(ctx, redisview.EpochKey)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := store.Live(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int{}
	for id := range folds(before) {
		m, err := cc.MasterForKey(ctx, store.Key(gen, id))
		if err != nil {
			t.Fatal(err)
		}
		if a := m.Options().Addr; a != home.Options().Addr {
			held[a]++
		}
	}
	victim := ""
	for a, n := range held {
		if victim == "" || n > held[victim] {
			victim = a
		}
	}
	if victim == "" {
		t.Fatalf("no view lives outside the epoch's master %s", home.Options().Addr)
	}
	m := redis.NewClient(&redis.Options{Addr: victim})
	defer m.Close()
	if err := m.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("emptied master %s (%d views of %d); the epoch lives on %s", victim, held[victim], len(folds(before)), home.Options().Addr)
	if _, err := fl.pub.Publish(t.Context(), after...); err != nil {
		t.Fatal(err)
	}

	testenv.Eventually(t, time.Minute, func() error { return equalFolds(folds(events)) })
	perProduct := map[string]int{}
	for _, e := range events {
		perProduct[e.AggregateID]++
	}
	testenv.Eventually(t, time.Minute, func() error {
		for id, n := range perProduct {
			a := call(t, "GET", base+"/v1/products/"+id+"/events?limit=1000", "")
			if evs, _ := a.body["events"].([]any); a.status != http.StatusOK || len(evs) != n {
				return fmt.Errorf("history of %s: %d, %d events, want %d", id, a.status, len(evs), n)
			}
		}
		return nil
	})
}
