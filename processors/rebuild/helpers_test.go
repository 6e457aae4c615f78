package rebuild_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// world is one events topic with its dead-letter topic on a broker.
type world struct {
	brokers []string
	topic   string
	dlq     string
	codec   *schemas.Codec
	cl      *kgo.Client
	adm     *kadm.Client
	pub     *producers.Publisher
}

func newWorld(t testing.TB, brokers []string) *world {
	t.Helper()
	w := &world{brokers: brokers, topic: testenv.Topic(t, brokers, "rb.events", 6), dlq: testenv.Topic(t, brokers, "rb.dlq", 1)}
	var err error
	if w.codec, err = schemas.NewCodec(); err != nil {
		t.Fatal(err)
	}
	w.cl, err = kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	w.adm = kadm.NewClient(w.cl)
	t.Cleanup(w.cl.Close)
	w.pub = producers.NewPublisher(w.cl, w.codec, w.topic)
	return w
}

func (w *world) config() rebuild.Config {
	return rebuild.Config{Brokers: w.brokers, Topic: w.topic, DeadLetterTopic: w.dlq, Decoder: w.codec, MaxBatch: 1000}
}

// publish writes events in chunks, waiting for every one.
func (w *world) publish(t testing.TB, events []schemas.Event) {
	t.Helper()
	for len(events) > 0 {
		n := min(len(events), 20000)
		if _, err := w.pub.Publish(context.Background(), events[:n]...); err != nil {
			t.Fatal(err)
		}
		events = events[n:]
	}
}

// cleanupGroups deletes the groups of generations 1..5 of name.
func (w *world) cleanupGroups(t testing.TB, name string) {
	t.Cleanup(func() {
		var groups []string
		for g := 1; g <= 5; g++ {
			groups = append(groups, processors.GroupName(name, g))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w.adm.DeleteGroups(ctx, groups...)
	})
}

// processor returns a processor of generation gen of target on the world's
// topic: what serve runs.
func (w *world) processor(t testing.TB, target rebuild.Target, gen int) *processors.Runner {
	t.Helper()
	proj, err := target.Projection(gen)
	if err != nil {
		t.Fatal(err)
	}
	p, err := processors.New(processors.Config{
		Name: target.Name(), Generation: gen, Topic: w.topic, DeadLetterTopic: w.dlq, MaxBatch: 1000,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}, w.codec, proj, kgo.SeedBrokers(w.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// background runs f until the test ends (or stop is called) and fails the
// test when it returns an error.
func background(t testing.TB, name string, f func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitCommitted waits until group has committed the end of every partition.
func (w *world) waitCommitted(t testing.TB, group string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		lag, err := processors.Lag(context.Background(), w.adm, group, w.topic)
		if err != nil {
			return err
		}
		var sum int64
		for _, l := range lag {
			sum += l.Lag
		}
		if sum > 0 {
			return fmt.Errorf("group %s is %d records behind", group, sum)
		}
		return nil
	})
}

// views makes a Redis view target with a unique projection name, and its
// control; every key goes at cleanup.
func views(t testing.TB, rc redis.UniversalClient) (rebuild.Target, *redisview.Store, *rebuild.Control) {
	t.Helper()
	store := redistest.NewStore(t, rc)
	return viewsTarget(store), store, rebuild.NewControl(redisview.RebuildState(rc, store.Projection()))
}

// viewsTarget is the product-view target of store, wired as cmd/streamview
// wires it.
func viewsTarget(store *redisview.Store) rebuild.Target {
	return rebuild.Target{Generations: store.Generations(), Projection: func(gen int) (processors.Projection, error) {
		return productview.NewWriter(store, gen)
	}}
}

func esClient(t testing.TB) *elasticsearch.Client {
	t.Helper()
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: strings.Split(testenv.Elasticsearch(t), ",")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// search makes an Elasticsearch search target with unique index names
// (generation 1 live) and its control; the indices go at cleanup.
func search(t testing.TB, c *elasticsearch.Client, rc redis.UniversalClient) (rebuild.Target, *esindex.Generations, *rebuild.Control) {
	t.Helper()
	name := testenv.Name("rb-search")
	prefix := testenv.Name("rb-ps")
	gens, err := esindex.NewGenerations(name, c, esindex.Config{IndexPrefix: prefix, Alias: prefix + "-read", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ix, _ := gens.Index(1)
	if err := ix.EnsureIndex(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := ix.SwapAlias(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	control := rebuild.NewControl(redisview.RebuildState(rc, name))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req := c.Indices.Delete
		if res, err := req([]string{prefix + "-g*"}, req.WithContext(ctx)); err == nil {
			res.Body.Close()
		}
		control.Clear(ctx)
	})
	target := rebuild.Target{Generations: gens, Projection: func(gen int) (processors.Projection, error) { return gens.Index(gen) }}
	return target, gens, control
}

// foldViews is the reference view of every product.
func foldViews(events []schemas.Event) map[string]productview.View {
	want := map[string]productview.View{}
	for _, e := range events {
		want[e.AggregateID] = productview.Fold(want[e.AggregateID], e)
	}
	return want
}

func foldDocs(events []schemas.Event) map[string]productsearch.Doc {
	want := map[string]productsearch.Doc{}
	for _, e := range events {
		want[e.AggregateID] = productsearch.Fold(want[e.AggregateID], e)
	}
	return want
}

// viewSnapshot reads every view of generation gen, by the IDs of want,
// and checks that the generation holds no others.
func viewSnapshot(t testing.TB, store *redisview.Store, gen int, ids []string) map[string]productview.View {
	t.Helper()
	ctx := context.Background()
	reader := productview.NewReader(store)
	out := make(map[string]productview.View, len(ids))
	for _, id := range ids {
		v, ok, err := reader.GetAt(ctx, gen, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out[id] = v
		}
	}
	if n, err := store.Count(ctx, gen); err != nil || n != len(out) {
		t.Fatalf("generation %d holds %d views (err %v), %d of them known", gen, n, err, len(out))
	}
	return out
}

// docSnapshot reads every search document of generation gen by the IDs
// given, and checks that the index holds no others.
func docSnapshot(t testing.TB, c *elasticsearch.Client, target *esindex.Generations, gen int, ids []string) map[string]productsearch.Doc {
	t.Helper()
	ctx := context.Background()
	ix, err := target.Index(gen)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ix.Get(ctx, ids...)
	if err != nil {
		t.Fatal(err)
	}
	if n := countAll(t, c, ix.IndexName(gen)); n != int64(len(out)) {
		t.Fatalf("index %s holds %d documents, %d of them known", ix.IndexName(gen), n, len(out))
	}
	return out
}

// countAll counts every document of index, discontinued ones included.
func countAll(t testing.TB, c *elasticsearch.Client, index string) int64 {
	t.Helper()
	if _, err := c.Indices.Refresh(c.Indices.Refresh.WithIndex(index)); err != nil {
		t.Fatal(err)
	}
	res, err := c.Count(c.Count.WithIndex(index))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.IsError() {
		t.Fatalf("count %s: %s", index, res.String())
	}
	var body struct {
		Count int64 `json:"count"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Count
}

func indexExists(t testing.TB, c *elasticsearch.Client, index string) bool {
	t.Helper()
	res, err := c.Indices.Exists([]string{index})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode == 200
}

func checkViews(t testing.TB, got, want map[string]productview.View) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d views, want %d", len(got), len(want))
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || !reflect.DeepEqual(g, w) {
			t.Fatalf("view %s:\n got %+v\nwant %+v", id, g, w)
		}
	}
}

func checkDocs(t testing.TB, got, want map[string]productsearch.Doc) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d search documents, want %d", len(got), len(want))
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || !indextest.EqualDocs(g, w) {
			t.Fatalf("search document %s:\n got %+v\nwant %+v", id, g, w)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
