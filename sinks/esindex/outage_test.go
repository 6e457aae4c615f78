package esindex_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/netcut"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
)

// TestElasticsearchOutageResumes cuts the projection off Elasticsearch for
// 20 seconds in the middle of a stream (through a proxy, so the shared
// server keeps serving other tests): the runtime retries with backoff,
// dead-letters nothing, and every document equals the fold once it is back.
func TestElasticsearchOutageResumes(t *testing.T) {
	brokers := testenv.Kafka(t)
	url := testenv.Elasticsearch(t)
	proxy, err := netcut.New(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	direct := client(t)
	viaProxy, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{"http://" + proxy.Addr()}, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ix := newIndex(t, direct, esindex.Config{})
	cfg := ix.Config()
	proj, err := esindex.New(viaProxy, esindex.Config{IndexPrefix: cfg.IndexPrefix, Alias: cfg.Alias, Currency: "EUR", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}

	events := eventgen.Stream(eventgen.Options{Products: 400, Events: 12000, Seed: 51, Discontinue: true})
	topic, dlq := testenv.Topic(t, brokers, "t.events", 4), testenv.Topic(t, brokers, "t.dlq", 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The first quarter of the stream is published before the outage, the
	// rest while Elasticsearch is unreachable.
	const first = 3000
	codec, _ := schemas.NewCodec()
	publish := func(events []schemas.Event) {
		if _, err := producers.NewPublisher(cl, codec, topic).Publish(context.Background(), events...); err != nil {
			t.Fatal(err)
		}
	}
	publish(events[:first])

	proc, err := processors.New(processors.Config{Name: testenv.Name("es-outage"), Generation: 1, Topic: topic, DeadLetterTopic: dlq,
		MaxBatch: 500, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}, codec, proj, kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	testenv.Eventually(t, 2*time.Minute, func() error {
		if n := proc.Stats().Records; n < first {
			return fmt.Errorf("%d of the first %d records so far", n, first)
		}
		return nil
	})
	proxy.Cut()
	cutAt := time.Now()
	publish(events[first:])
	before := proc.Stats()
	testenv.Eventually(t, time.Minute, func() error {
		if proc.Stats().Retries < before.Retries+3 {
			return fmt.Errorf("no retries yet")
		}
		return nil
	})
	if got := proc.Stats().Records; got != first {
		t.Fatalf("%d records committed while Elasticsearch was unreachable", got-first)
	}
	time.Sleep(20*time.Second - time.Since(cutAt)) // the outage the scenario calls for, not a wait for a condition
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}

	testenv.Eventually(t, 3*time.Minute, func() error {
		if s := proc.Stats(); s.Records != int64(len(events)) {
			return fmt.Errorf("committed %d of %d records after the outage", s.Records, len(events))
		}
		return nil
	})
	s := proc.Stats()
	if s.DeadLettered != 0 {
		t.Fatalf("%d records dead-lettered during an Elasticsearch outage", s.DeadLettered)
	}
	t.Logf("retries during the outage: %d", s.Retries-before.Retries)

	want := map[string]productsearch.Doc{}
	for _, e := range events {
		want[e.AggregateID] = productsearch.Fold(want[e.AggregateID], e)
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	got, err := ix.Get(context.Background(), ids...)
	if err != nil {
		t.Fatal(err)
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("document %s missing after the outage", id)
		}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("document %s differs from the fold:\n got %+v\nwant %+v", id, g, w)
		}
	}
}

// An index with a write block (index.blocks.write, set by an operator or a
// snapshot tool) refuses every bulk item with 403 cluster_block_exception:
// the cluster's state, not the documents'. Apply retries and fails
// transiently, dead-letters nothing, and writes once the block is lifted.
// The items were refused for good, and every event dead-lettered, before.
func TestApplyWaitsOutAWriteBlock(t *testing.T) {
	c := client(t)
	ix := newIndex(t, c, esindex.Config{MaxRounds: 2})
	ctx := t.Context()
	if err := ix.Apply(ctx, []schemas.Event{created("a", 1, "A")}); err != nil {
		t.Fatal(err)
	}
	index := ix.IndexName(1)
	block := func(on bool) {
		t.Helper()
		res, err := c.Indices.PutSettings(strings.NewReader(fmt.Sprintf(`{"index.blocks.write":%t}`, on)), c.Indices.PutSettings.WithIndex(index))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.IsError() {
			t.Fatalf("write block %v on %s: %s", on, index, res)
		}
	}
	block(true)
	t.Cleanup(func() { block(false) })
	changes := []schemas.Event{stock("a", 2, 7), created("b", 1, "B")}
	err := ix.Apply(ctx, changes)
	if err == nil || batch.IsPermanent(err) || !strings.Contains(err.Error(), "403 cluster_block_exception") {
		t.Fatalf("Apply to a write-blocked index = %v, want a transient error naming the block", err)
	}
	block(false)
	if err := ix.Apply(ctx, changes); err != nil {
		t.Fatalf("Apply once the block is lifted: %v", err)
	}
	if st := ix.Stats(); st.Throttled == 0 {
		t.Errorf("stats %+v: the blocked writes were not counted as throttled", st)
	}
}
