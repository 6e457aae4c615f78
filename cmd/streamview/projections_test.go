package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// TestProjectionsOfAnAPIOnlyServe: GET /v1/projections of `serve --roles
// api` reports the rate of a projector that runs in another process, from
// its group's committed offsets between two requests, and no applied count
// (the projector's process counts it). It answered ratePerSecond 0 for
// every generation, and the console showed 0/s, while `streamview
// projections` showed dozens a second. The first answer has nothing to
// measure from: no rate, rather than 0.
func TestProjectionsOfAnAPIOnlyServe(t *testing.T) {
	brokers := fakeCatalogKafka(t, 6)
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	views, err := redisview.New(rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := views.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}

	base, _ := startListening(t, []string{"serve", "--roles", "api", "--brokers", strings.Join(brokers, ","),
		"--redis", mr.Addr(), "--elasticsearch", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard)

	// The projector of another process, and events arriving.
	proc, err := projectorAt(stack{brokers: brokers, redis: rc}, codec, views, productview.Name, 1)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopProjector := context.WithCancel(ctx)
	projected := make(chan error, 1)
	go func() { projected <- proc.Run(pctx) }()
	defer func() {
		stopProjector()
		if err := <-projected; err != nil && pctx.Err() == nil {
			t.Errorf("projector: %v", err)
		}
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pub := producers.NewPublisher(cl, codec, topics.Events)
	events := eventgen.Stream(eventgen.Options{Products: 50, Events: 100000, Seed: 5})
	published := make(chan error, 1)
	go func() {
		for len(events) > 0 && pctx.Err() == nil {
			n := min(len(events), 20)
			if _, err := pub.Publish(pctx, events[:n]...); err != nil && pctx.Err() == nil {
				published <- err
				return
			}
			events = events[n:]
			select {
			case <-pctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		published <- nil
	}()
	defer func() {
		stopProjector()
		if err := <-published; err != nil {
			t.Errorf("publish: %v", err)
		}
	}()

	viewGen := func() map[string]any {
		t.Helper()
		a := call(t, "GET", base+"/v1/projections", "")
		if a.status != 200 {
			t.Fatalf("GET /v1/projections: %d %v", a.status, a.body)
		}
		gens, _ := a.body["projections"].([]any)
		for _, g := range gens {
			if g, _ := g.(map[string]any); g["projection"] == productview.Name {
				return g
			}
		}
		t.Fatalf("GET /v1/projections has no %s: %v", productview.Name, a.body)
		return nil
	}
	if g := viewGen(); g["generation"] != float64(1) || g["state"] != "live" || g["ratePerSecond"] != nil || g["applied"] != nil {
		t.Fatalf("the first answer: %v; want generation 1 live, and no rate (nothing to measure from yet) nor applied", g)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		g := viewGen()
		if g["applied"] != nil {
			t.Fatalf("applied %v: counted by a projector in this server, and none runs here", g["applied"])
		}
		if proc.Stats().Applied == 0 {
			return testenv.Errorf("the projector has applied nothing yet")
		}
		if rate, _ := g["ratePerSecond"].(float64); rate <= 0 {
			return testenv.Errorf("ratePerSecond %v while the projector elsewhere commits (its own: %.0f/s)", g["ratePerSecond"], proc.Stats().Rate)
		}
		return nil
	})
}

// fakeCatalogKafka starts an in-process broker for t holding the commands,
// results and events topics with partitions each, and returns its
// addresses.
func fakeCatalogKafka(t *testing.T, partitions int32) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second),
		kfake.SeedTopics(partitions, topics.Commands, topics.CommandResults, topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

// TestProjectionsNameTheRebuildsUnderWay: GET /v1/projections names the
// rebuilds some process runs now (the holder of the projection's rebuild
// lease), so that the console offers no Rebuild the server would refuse:
// it offered one beside a swapped rebuild's retiring generation, and
// answered the click with a 409 whose progress showed nowhere (helper 95).
func TestProjectionsNameTheRebuildsUnderWay(t *testing.T) {
	base, _, rc := apiOnlyServeOverMiniredis(t)
	rebuilding := func() string {
		t.Helper()
		a := call(t, "GET", base+"/v1/projections", "")
		if a.status != 200 {
			t.Fatalf("GET /v1/projections: %d %v", a.status, a.body)
		}
		return fmt.Sprint(a.body["rebuilding"])
	}
	if got := rebuilding(); got != "[]" {
		t.Fatalf("rebuilding %s before any rebuild, want []", got)
	}
	const holder = "host-9/4242/a1b2"
	control := rebuildControl(rc, productview.Name)
	if err := control.Lease(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	if got, want := rebuilding(), "[map[holder:"+holder+" projection:"+productview.Name+"]]"; got != want {
		t.Fatalf("rebuilding %s while another process holds the lease, want %s", got, want)
	}
	if err := control.Release(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	if got := rebuilding(); got != "[]" {
		t.Fatalf("rebuilding %s once the lease is released, want []", got)
	}
}

// TestProjectionsReportAnUnreachableRedis: with the views' Redis gone, GET
// /v1/projections still answers, each projection whose store (or rebuild
// state) does not answer reported unreachable, as openapi.json says; the
// rebuilds under way it cannot learn are left out, not the whole report.
func TestProjectionsReportAnUnreachableRedis(t *testing.T) {
	base, mr, _ := apiOnlyServeOverMiniredis(t)
	mr.Close()
	a := call(t, "GET", base+"/v1/projections", "")
	if a.status != 200 {
		t.Fatalf("GET /v1/projections with Redis gone: %d %v, want 200 naming the unreachable projections", a.status, a.body)
	}
	list, _ := a.body["projections"].([]any)
	states := map[string]string{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		states[fmt.Sprint(m["projection"])] = fmt.Sprint(m["state"])
	}
	if states[productview.Name] != "unreachable" {
		t.Errorf("projections %v, want %s unreachable", states, productview.Name)
	}
	if got := fmt.Sprint(a.body["rebuilding"]); got != "[]" {
		t.Errorf("rebuilding %s with Redis gone, want []", got)
	}
}

// apiOnlyServeOverMiniredis starts `serve --roles api` over an in-process
// Kafka with the catalogue's topics and a miniredis whose product-view g1
// is live, as a projector elsewhere made it; it returns the API's base URL,
// the miniredis and a client of it.
func apiOnlyServeOverMiniredis(t *testing.T) (base string, mr *miniredis.Miniredis, rc *redis.Client) {
	t.Helper()
	brokers := fakeCatalogKafka(t, 6)
	mr = miniredis.RunT(t)
	rc = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	views, err := redisview.New(rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := views.EnsureLive(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	base, _ = startListening(t, []string{"serve", "--roles", "api", "--brokers", strings.Join(brokers, ","),
		"--redis", mr.Addr(), "--elasticsearch", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard)
	return base, mr, rc
}
