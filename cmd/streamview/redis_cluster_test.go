package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// The views' commands on a real Redis Cluster, under a name of their own,
// configured as a user would (--redis with the seed nodes, --redis-cluster):
// rebuild builds generation 2 over the cluster's masters and swaps, the
// views are the fold of the log, projections reports the live generation,
// and replay empties it.
func TestViewsCommandsOnCluster(t *testing.T) {
	brokers := testenv.Kafka(t)
	rc := redistest.RealCluster(t)
	seeds := os.Getenv(redistest.EnvClusterAddrs)
	topic := testenv.Topic(t, brokers, "t.cluster-events", 6)
	events := eventgen.Stream(eventgen.Options{Products: 300, Events: 3000, Seed: 5, Discontinue: true})
	publishTo(t, brokers, topic, events)
	name := strings.ToLower(testenv.Name("cmd-cluster"))
	ctx := context.Background()

	store, err := redisview.New(rc, redisview.Config{Projection: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := redistest.DeleteKeys(ctx, rc, "sv:"+name+":*"); err != nil {
			t.Logf("cleanup: %v", err)
		}
		cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
		kadm.NewClient(cl).DeleteGroups(ctx, processors.GroupName(name, 1), processors.GroupName(name, 2))
		cl.Close()
	})
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--projection", productview.Name, "--name", name, "--topic", topic,
		"--brokers", strings.Join(brokers, ","), "--redis", seeds, "--redis-cluster", "--log-level", "warn"}

	out, err := runCmd(t, append([]string{"rebuild", "--grace", "0", "--progress", "log"}, conn...)...)
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	for _, want := range []string{"generation 2 is live in place of generation 1", "checked: 300 documents"} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild output lacks %q:\n%s", want, out)
		}
	}
	if gen, err := store.Live(ctx); err != nil || gen != 2 {
		t.Fatalf("live generation %d (err %v), want 2", gen, err)
	}
	want := map[string]productview.View{}
	for _, e := range events {
		want[e.AggregateID] = productview.Fold(want[e.AggregateID], e)
	}
	reader := productview.NewReader(store)
	for id, w := range want {
		got, found, err := reader.Get(ctx, id)
		if err != nil || !found || got.Version != w.Version || got.Stock != w.Stock || got.Discontinued != w.Discontinued {
			t.Fatalf("view %s = %+v, found %v, %v; want version %d", id, got, found, err, w.Version)
		}
	}

	out, err = runCmd(t, "projections", "--projections", productview.Name, "--name", name, "--topic", topic,
		"--brokers", strings.Join(brokers, ","), "--redis", seeds, "--redis-cluster", "--json", "--sample", "100ms")
	if err != nil {
		t.Fatalf("projections: %v\n%s", err, out)
	}
	var rep struct {
		Projections []rebuild.GenerationReport `json:"projections"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("projections --json: %v\n%s", err, out)
	}
	if len(rep.Projections) != 1 || rep.Projections[0].Generation != 2 || rep.Projections[0].State != "live" {
		t.Fatalf("projections: %+v, want generation 2 live", rep.Projections)
	}

	out, err = runCmd(t, append([]string{"replay"}, conn...)...)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if n, err := store.Count(ctx, 2); err != nil || n != 0 {
		t.Fatalf("generation 2 holds %d documents after the replay (err %v)", n, err)
	}
}

// Several addresses without --redis-cluster are refused with the setting
// to fix, before anything connects.
func TestRedisSeveralAddrsNeedCluster(t *testing.T) {
	out, err := runCmd(t, "replay", "--projection", productview.Name, "--brokers", "127.0.0.1:1",
		"--redis", "127.0.0.1:1,127.0.0.1:2")
	if err == nil {
		t.Fatalf("no error:\n%s", out)
	}
	if msg := out + err.Error(); !strings.Contains(msg, "REDIS_CLUSTER=true") {
		t.Fatalf("error does not name REDIS_CLUSTER:\n%s", msg)
	}
}

// dev's whole pipeline (API, decider, projectors, history, notifier) on
// its embedded Kafka with the views on the real Redis Cluster
// (--redis-cluster): the end-to-end suite of serve. dev keeps the default
// key names (sv:product-view:…, sv:product-history:…, sv:notifier:…), which
// no other test uses on the cluster; they are removed before and after.
func TestDevOnRedisCluster(t *testing.T) {
	rc := redistest.RealCluster(t)
	seeds := os.Getenv(redistest.EnvClusterAddrs)
	clear := func() {
		for _, p := range []string{"sv:" + productview.Name + ":*", "sv:product-history:*", "sv:notifier:*"} {
			if _, err := redistest.DeleteKeys(context.Background(), rc, p); err != nil {
				t.Logf("clear %s: %v", p, err)
			}
		}
	}
	clear()
	t.Cleanup(clear)

	base, _, _ := startDevWith(t, t.TempDir(), "--redis", seeds, "--redis-cluster")
	endToEnd(t, base)

	// The views went to the cluster.
	ctx := context.Background()
	store, err := redisview.New(rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := store.Live(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := store.Count(ctx, gen); err != nil || c == 0 {
		t.Fatalf("the cluster holds %d views (err %v)", c, err)
	}
}

// An ACL user reaches every node of the cluster with the single server's
// settings (REDIS_USERNAME, REDIS_PASSWORD): the user is made on each
// master for this test and removed after it. A wrong password is refused
// with the setting to fix.
func TestRedisClusterACLUser(t *testing.T) {
	rc := redistest.RealCluster(t)
	ctx := context.Background()
	user := strings.ToLower(testenv.Name("sv-acl"))
	password := testenv.Name("pw")
	each := func(args ...any) error {
		return rc.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return m.Do(ctx, args...).Err()
		})
	}
	if err := each("ACL", "SETUSER", user, "on", ">"+password, "~sv:"+user+":*", "+@all"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := each("ACL", "DELUSER", user); err != nil {
			t.Logf("ACL DELUSER %s: %v", user, err)
		}
	})
	conn := connect.Redis{Addr: os.Getenv(redistest.EnvClusterAddrs), Cluster: true, Username: user, Password: connect.NewSecret(password)}
	c, err := newRedisConn(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := pingRedis(ctx, c, conn); err != nil {
		t.Fatal(err)
	}
	// The user's keys are sv:<user>:…: a store of that name writes and
	// counts on every master.
	store, err := redisview.New(c, redisview.Config{Projection: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redistest.DeleteKeys(ctx, rc, "sv:"+user+":*") })
	var changes []productview.Change
	for i := range 200 {
		changes = append(changes, productview.Change{ID: "p" + strconv.Itoa(i), Version: 1, Set: []productview.Field{{Name: "name", Value: "x"}}})
	}
	if res, err := store.Apply(ctx, 1, changes); err != nil || res.Applied != 200 {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	if n, err := store.Count(ctx, 1); err != nil || n != 200 {
		t.Fatalf("Count = %d, %v; want 200", n, err)
	}

	conn.Password = connect.NewSecret("wrong")
	bad, err := newRedisConn(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = pingRedis(ctx, bad, conn)
	if err == nil || !strings.Contains(err.Error(), "REDIS_PASSWORD") {
		t.Fatalf("wrong password: %v; want an error naming REDIS_PASSWORD", err)
	}
}
