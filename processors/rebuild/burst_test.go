package rebuild_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/processors/productview/storetest"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// burstID is the one busy product of the burst log.
const burstID = "00000000-0000-4000-8000-00000000b0b0"

// burstFetch lets one fetch bring a partition's whole burst: the 5,000
// events encode to about 2 MB, and franz-go's default of 1 MiB per
// partition per fetch would hand the runtime the burst in two polls, so
// in two batches whatever MaxBatch says.
var burstFetch = kgo.FetchMaxPartitionBytes(64 << 20)

// burstLog is a burst of storetest.BurstEvents events of burstID followed by
// an ordinary catalogue. The burst comes first so that it opens its
// partition: the first batch of that partition, of MaxBatch records from
// its start, is then the burst and nothing else.
func burstLog() []schemas.Event {
	burst := eventgen.Burst(burstID, storetest.BurstEvents, 12, time.Time{})
	rest := eventgen.Stream(eventgen.Options{Products: 100, Events: 1000, Seed: 21, Discontinue: true})
	return append(burst, rest...)
}

// burstCounter wraps a target's projections and remembers the most events
// of burstID one Apply call was given.
type burstCounter struct{ most atomic.Int64 }

func (c *burstCounter) wrap(target rebuild.Target) rebuild.Target {
	inner := target.Projection
	target.Projection = func(gen int) (processors.Projection, error) {
		p, err := inner(gen)
		return countingProjection{p, c}, err
	}
	return target
}

// take returns the most seen since the last take.
func (c *burstCounter) take() int64 { return c.most.Swap(0) }

type countingProjection struct {
	processors.Projection
	c *burstCounter
}

func (p countingProjection) Apply(ctx context.Context, batch []schemas.Event) error {
	var n int64
	for _, e := range batch {
		if e.AggregateID == burstID {
			n++
		}
	}
	for {
		if most := p.c.most.Load(); n <= most || p.c.most.CompareAndSwap(most, n) {
			break
		}
	}
	return p.Projection.Apply(ctx, batch)
}

// burstCase is one projection put through the burst log.
type burstCase struct {
	name    string
	target  rebuild.Target
	control *rebuild.Control
	// batch is the runtime's MaxBatch for the projection.
	batch int
	// check compares generation gen with the fold of events, the burst
	// product first.
	check func(t *testing.T, gen int, events []schemas.Event)
}

// testBurst builds the live generation of each case from a log that opens
// with a 5,000-event burst of one product, then replays it and rebuilds it
// to generation 2: each time the burst comes in one batch, and the burst
// product's document, like every other, is the fold of the log; nothing
// is dead-lettered.
func testBurst(t *testing.T, w *world, cases []burstCase) {
	ctx := context.Background()
	events := burstLog()
	w.publish(t, events)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.batch < storetest.BurstEvents {
				t.Fatalf("MaxBatch %d cannot take a burst of %d in one batch", c.batch, storetest.BurstEvents)
			}
			counter := &burstCounter{}
			target := counter.wrap(c.target)
			w.cleanupGroups(t, target.Name())
			oneBatch := func(what string) {
				t.Helper()
				if n := counter.take(); n != storetest.BurstEvents {
					t.Fatalf("%s: at most %d events of the burst in one batch, want all %d", what, n, storetest.BurstEvents)
				}
			}
			project := func(what string) {
				t.Helper()
				start := time.Now()
				stop := background(t, "projector", w.batchProcessor(t, target, 1, c.batch).Run)
				w.waitCommitted(t, processors.GroupName(target.Name(), 1), 5*time.Minute)
				stop()
				t.Logf("%s: %d events projected in %v", what, len(events), time.Since(start).Round(time.Millisecond))
				oneBatch(what)
				c.check(t, 1, events)
			}
			project("live generation")

			cfg := w.config()
			cfg.MaxBatch = c.batch
			cfg.ClientOpts = []kgo.Opt{burstFetch}
			res, err := rebuild.Replay(ctx, cfg, target, c.control, false)
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			if res.Generation != 1 || res.Records != int64(len(events)) || res.Documents == 0 {
				t.Fatalf("replay = %+v; want generation 1 emptied, %d records to read", res, len(events))
			}
			project("replay")

			r, err := rebuild.New(cfg, target, c.control)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := r.Run(ctx)
			if err != nil {
				t.Fatalf("rebuild: %v", err)
			}
			t.Logf("rebuild: g%d → g%d, %d records in %v", rr.From, rr.To, rr.Records, rr.Build.Round(time.Millisecond))
			if !rr.Swapped || rr.To != 2 || rr.Records != int64(len(events)) {
				t.Fatalf("rebuild = %+v; want swapped to generation 2 after all %d records", rr, len(events))
			}
			oneBatch("rebuild")
			c.check(t, 2, events)
		})
	}
	ends, err := w.adm.ListEndOffsets(ctx, w.dlq)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			t.Errorf("dead-letter topic partition %d holds %d records", o.Partition, o.Offset)
		}
	})
}

// batchProcessor is processor with a batch of maxBatch and fetches that
// may bring a whole burst.
func (w *world) batchProcessor(t testing.TB, target rebuild.Target, gen, maxBatch int) *processors.Runner {
	t.Helper()
	proj, err := target.Projection(gen)
	if err != nil {
		t.Fatal(err)
	}
	p, err := processors.New(processors.Config{
		Name: target.Name(), Generation: gen, Topic: w.topic, DeadLetterTopic: w.dlq, MaxBatch: maxBatch,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}, w.codec, proj, kgo.SeedBrokers(w.brokers...), burstFetch)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// viewBurstCase is the product-view projection on rc: the view projection's
// batch raised to the burst (serve's default is 2000).
func viewBurstCase(t *testing.T, rc redis.UniversalClient) burstCase {
	target, store, control := views(t, rc)
	if _, err := store.EnsureLive(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	return burstCase{name: "views", target: target, control: control, batch: storetest.BurstEvents,
		check: func(t *testing.T, gen int, events []schemas.Event) {
			t.Helper()
			want := foldViews(events)
			got := viewSnapshot(t, store, gen, keys(want))
			if g, w := got[burstID], want[burstID]; !reflect.DeepEqual(g, w) || w.Version != storetest.BurstEvents {
				t.Fatalf("generation %d: burst view\n got %+v\nwant %+v", gen, g, w)
			}
			checkViews(t, got, want)
		}}
}

// searchBurstCase is the search projection on Elasticsearch, with the
// batch serve and rebuild give it.
func searchBurstCase(t *testing.T, ec *elasticsearch.Client, rc redis.UniversalClient) burstCase {
	target, gens, control := search(t, ec, rc)
	return burstCase{name: "search", target: target, control: control, batch: productsearch.Batch,
		check: func(t *testing.T, gen int, events []schemas.Event) {
			t.Helper()
			want := foldDocs(events)
			got := docSnapshot(t, ec, gens, gen, keys(want))
			if g, w := got[burstID], want[burstID]; !indextest.EqualDocs(g, w) || w.Version != storetest.BurstEvents {
				t.Fatalf("generation %d: burst search document\n got %+v\nwant %+v", gen, g, w)
			}
			checkDocs(t, got, want)
		}}
}

// A burst of 5,000 events of one product in one batch reaches the exact
// view and search document on real Kafka, Redis and Elasticsearch: when
// the live generation is built, after a replay and after a rebuild.
func TestBurstReplayRebuild(t *testing.T) {
	w := newWorld(t, testenv.Kafka(t))
	rc := redistest.RealRedis(t)
	ec := esClient(t)
	testBurst(t, w, []burstCase{viewBurstCase(t, rc), searchBurstCase(t, ec, rc)})
}

// The same for the views on an in-process broker and Redis (the fast tier).
func TestBurstReplayRebuildFake(t *testing.T) {
	w := newWorld(t, fakeKafka(t))
	testBurst(t, w, []burstCase{viewBurstCase(t, redistest.Miniredis(t))})
}
