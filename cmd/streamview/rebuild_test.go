package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// publishTo publishes events to topic on brokers.
func publishTo(t *testing.T, brokers []string, topic string, events []schemas.Event) *schemas.Codec {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producers.NewPublisher(cl, codec, topic).Publish(ctx, events...); err != nil {
		t.Fatal(err)
	}
	return codec
}

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, nil, &out, &errOut)
	return out.String() + errOut.String(), err
}

// The commands and the serve hooks on an embedded broker and Redis: serve's
// projector follows a rebuild to generation 2, projections and GET
// /v1/projections show it, replay refuses a running projector and then
// empties the live generation.
func TestRebuildCommandsFake(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	events := eventgen.Stream(eventgen.Options{Products: 200, Events: 2000, Seed: 1, Discontinue: true})
	codec := publishTo(t, brokers, testenv.TopicNamed(t, brokers, topics.Events, 6), events)
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	st := stack{brokers: brokers, redis: rc, logger: nil}
	views, err := redisview.New(rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := views.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	first, err := projectorAt(st, codec, views, productview.Name, 1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := followRebuilds(t.Context(), st, codec, views, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	fctx, stopFollower := context.WithCancel(ctx)
	go func() { done <- f.Run(fctx) }()
	defer func() { stopFollower(); <-done }()

	conn := []string{"--brokers", brokers[0], "--redis", mr.Addr(), "--log-level", "warn"}
	out, err := runCmd(t, append([]string{"rebuild", "--projection", productview.Name, "--grace", "0", "--progress", "log"}, conn...)...)
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	for _, want := range []string{"generation 2 is live in place of generation 1", "records/s", "checked: 200 documents", "documents removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild output lacks %q:\n%s", want, out)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if g := f.Runner().Config().Generation; g != 2 {
			return testenv.Errorf("serve's projector runs generation %d", g)
		}
		return nil
	})

	out, err = runCmd(t, append([]string{"projections", "--projections", productview.Name, "--json", "--sample", "100ms"}, conn...)...)
	if err != nil {
		t.Fatalf("projections: %v\n%s", err, out)
	}
	var rep struct {
		Projections []rebuild.GenerationReport `json:"projections"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("projections --json: %v\n%s", err, out)
	}
	if len(rep.Projections) != 1 || rep.Projections[0].Generation != 2 || rep.Projections[0].State != "live" ||
		len(rep.Projections[0].Partitions) != 6 {
		t.Fatalf("projections = %+v", rep.Projections)
	}
	// Serve's projector carries on with generation 2.
	more := eventgen.Stream(eventgen.Options{Products: 5, Events: 20, Seed: 77})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := producers.NewPublisher(cl, codec, topics.Events).Publish(ctx, more...); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		v, err := projectionsOverview(ctx, st, []string{f.Runner().Config().Name}, followed([]*rebuild.Follower{f}), nil)
		if err != nil {
			return err
		}
		rs := v.(map[string]any)["projections"].([]rebuild.GenerationReport)
		if len(rs) != 1 || rs[0].Generation != 2 || rs[0].Lag != 0 || rs[0].Consumers != 1 || rs[0].Applied == 0 {
			return testenv.Errorf("overview = %+v", rs)
		}
		return nil
	})
	out, err = runCmd(t, append([]string{"projections", "--projections", productview.Name}, conn...)...)
	if err != nil || !strings.Contains(out, "PROJECTION") || !strings.Contains(out, "g2") {
		t.Fatalf("projections table: %v\n%s", err, out)
	}

	out, err = runCmd(t, append([]string{"replay", "--projection", productview.Name}, conn...)...)
	if !errors.Is(err, processors.ErrGroupActive) || !strings.Contains(err.Error(), "member") {
		t.Fatalf("replay with serve's projector running = %v\n%s", err, out)
	}
	stopFollower()
	<-done
	done <- nil
	out, err = runCmd(t, append([]string{"replay", "--projection", productview.Name, "--dry-run"}, conn...)...)
	if err != nil || !strings.Contains(out, "would remove 205 documents") {
		t.Fatalf("replay --dry-run: %v\n%s", err, out)
	}
	out, err = runCmd(t, append([]string{"replay", "--projection", productview.Name}, conn...)...)
	if err != nil || !strings.Contains(out, "removed 205 documents") || !strings.Contains(out, "reads 2,020 records") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if n, _ := views.Count(ctx, 2); n != 0 {
		t.Fatalf("generation 2 holds %d views after the replay", n)
	}
	// The history index replays by its group alone: nothing to empty.
	out, err = runCmd(t, append([]string{"replay", "--projection", historyProjection, "--dry-run"}, conn...)...)
	if err != nil || !strings.Contains(out, "replay product-history (group streamview.product-history.g1): would reset (dry run: nothing changed) offsets to the start of") {
		t.Fatalf("replay of the history index, --dry-run: %v\n%s", err, out)
	}
	out, err = runCmd(t, append([]string{"rebuild", "--projection", productview.Name, "--abort"}, conn...)...)
	if err != nil || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("abort with nothing under way: %v\n%s", err, out)
	}
}

func TestRebuildUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"rebuild without projection", []string{"rebuild"}, "--projection"},
		{"replay without projection", []string{"replay"}, "--projection"},
		{"unknown projection", []string{"rebuild", "--projection", "nope", "--brokers", "127.0.0.1:1"}, "unknown projection"},
		{"the history index is replayed", []string{"rebuild", "--projection", historyProjection, "--brokers", "127.0.0.1:1"}, "streamview replay --projection product-history"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCmd(t, tc.args...)
			if err == nil {
				t.Fatalf("no error:\n%s", out)
			}
			if out += err.Error(); !strings.Contains(out, tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

// The search projection through the commands on the real servers, under
// names of its own: rebuild with no projector running, then replay.
func TestRebuildSearchCommand(t *testing.T) {
	brokers := testenv.Kafka(t)
	redisAddr := testenv.Redis(t)
	esURL := testenv.Elasticsearch(t)
	topic := testenv.Topic(t, brokers, "t.cmd-events", 6)
	events := eventgen.Stream(eventgen.Options{Products: 400, Events: 4000, Seed: 2, Discontinue: true})
	publishTo(t, brokers, topic, events)
	name := testenv.Name("cmd-search")
	prefix := testenv.Name("cmd-ps")
	ctx := context.Background()
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{esURL}})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := esindex.New(client, esindex.Config{IndexPrefix: prefix, Alias: prefix + "-read"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.EnsureIndex(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := ix.SwapAlias(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rc.Close()
	t.Cleanup(func() {
		req := client.Indices.Delete
		if res, err := req([]string{prefix + "-g*"}, req.WithContext(ctx)); err == nil {
			res.Body.Close()
		}
		rebuildControl(rc, name).Clear(ctx)
		cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
		adm := kadm.NewClient(cl)
		adm.DeleteGroups(ctx, processors.GroupName(name, 1), processors.GroupName(name, 2))
		cl.Close()
	})
	conn := []string{"--projection", searchProjection, "--name", name, "--topic", topic, "--index-prefix", prefix, "--alias", prefix + "-read",
		"--brokers", strings.Join(brokers, ","), "--redis", redisAddr, "--elasticsearch", esURL, "--log-level", "warn"}

	out, err := runCmd(t, append([]string{"rebuild", "--grace", "0", "--progress", "terminal"}, conn...)...)
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if !strings.Contains(out, "generation 2 is live") || !strings.Contains(out, "\r") {
		t.Fatalf("rebuild output:\n%s", out)
	}
	if gen, err := ix.LiveGeneration(ctx); err != nil || gen != 2 {
		t.Fatalf("alias on generation %d (err %v), want 2", gen, err)
	}
	n, err := ix.CountGeneration(ctx, 2)
	if err != nil || n == 0 {
		t.Fatalf("generation 2 holds %d searchable documents (err %v)", n, err)
	}
	gens, err := ix.Generations(ctx)
	if err != nil || len(gens) != 1 || gens[0] != 2 {
		t.Fatalf("generations %v (err %v), want only 2", gens, err)
	}
	out, err = runCmd(t, append([]string{"replay", "--dry-run"}, conn...)...)
	if err != nil || !strings.Contains(out, "generation 2") || !strings.Contains(out, "reads 4,000 records") {
		t.Fatalf("replay --dry-run: %v\n%s", err, out)
	}
	out, err = runCmd(t, append([]string{"replay"}, conn...)...)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if gen, err := ix.LiveGeneration(ctx); err != nil || gen != 2 {
		t.Fatalf("alias on generation %d (err %v) after the replay, want 2", gen, err)
	}
	if n, err := ix.CountGeneration(ctx, 2); err != nil || n != 0 {
		t.Fatalf("generation 2 holds %d documents after the replay (err %v)", n, err)
	}
}

// TestViewsTargetTellsChanges: the writer a rebuild makes for a generation
// tells the API's Changes of its writes, as the live projector does, so
// that ?minVersion= reads wake at its writes once its generation is
// swapped in.
func TestViewsTargetTellsChanges(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rc.Close()
	store, err := redisview.New(rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	changes := new(productview.Changes)
	proj, err := viewsTarget(store, changes).Projection(2)
	if err != nil {
		t.Fatal(err)
	}
	const id = "00000000-0000-4000-8000-0000000000aa"
	changed, stop := changes.Watch(id)
	defer stop()
	created := schemas.Event{AggregateID: id, AggregateType: schemas.AggregateProduct, Version: 1, Timestamp: time.Now(),
		Data: &schemas.ProductCreated{Name: "Kettle", Price: schemas.Money{Amount: 1000, Currency: "EUR"}}}
	if err := proj.Apply(context.Background(), []schemas.Event{created}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("the rebuild's writer wrote product " + id + " and told no one")
	}
	if _, err := viewsTarget(store, nil).Projection(3); err != nil { // the CLI's rebuild: no API to tell
		t.Fatal(err)
	}
}

// A swap forced over a count that did not match says so, with both
// counts: it said "as many as the log makes".
func TestPrintRebuildForced(t *testing.T) {
	for _, tc := range []struct {
		docs, expected int64
		want, not      string
	}{
		{50, 50, "checked: 50 documents, as many as the log makes (generation 1 had 40)", "NOT checked"},
		{43, 50, "NOT checked (--force): 43 documents where the log makes 50 (generation 1 had 40)", "as many as the log makes"},
	} {
		var out strings.Builder
		printRebuild(&out, rebuild.Result{Projection: "product-view", From: 1, To: 2, Swapped: true, Documents: tc.docs, Expected: tc.expected, LiveDocuments: 40}, rebuild.Config{})
		if !strings.Contains(out.String(), tc.want) || strings.Contains(out.String(), tc.not) {
			t.Errorf("%d of %d documents: printed\n%s\nwant %q, not %q", tc.docs, tc.expected, out.String(), tc.want, tc.not)
		}
	}
}
