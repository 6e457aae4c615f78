package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
)

// TestConsumerGroupsResetRebuilds rebuilds a projection with Kafka's own
// tool, as an operator would without streamview's `replay`: stop the
// projector, `kafka-consumer-groups.sh --reset-offsets --to-earliest
// --execute` on its group, start it again. Without clearing the store
// every event comes again and is skipped as a duplicate (the versions
// hold); with the store cleared every event is applied again. Both end in
// the fold of the events.
func TestConsumerGroupsResetRebuilds(t *testing.T) {
	tool := testenv.Tool(t, "kafka-consumer-groups.sh")
	brokers := testenv.Kafka(t)
	rc := newRedis(testenv.Redis(t))
	t.Cleanup(func() { rc.Close() })
	ctx := context.Background()

	events := eventgen.Stream(eventgen.Options{Products: 40, Events: 400, Seed: 14})
	topic := testenv.Topic(t, brokers, "t.tools.events", 3)
	dlq := testenv.Topic(t, brokers, "t.tools.dlq", 1)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := producers.NewPublisher(cl, codec, topic).Publish(ctx, events...); err != nil {
		t.Fatal(err)
	}
	want := map[string]productview.View{}
	for _, e := range events {
		want[e.AggregateID] = productview.Fold(want[e.AggregateID], e)
	}

	name := testenv.Name("t-tools-view")
	store, err := redisview.New(rc, redisview.Config{Projection: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Clear(context.Background(), 1) })
	group := processors.GroupName(name, 1)

	// project runs the projector until it has committed every record and
	// returns its writer's counters.
	project := func(t *testing.T) productview.Stats {
		t.Helper()
		w, err := productview.NewWriter(store, 1)
		if err != nil {
			t.Fatal(err)
		}
		p, err := processors.New(processors.Config{Name: name, Generation: 1, Topic: topic, DeadLetterTopic: dlq}, codec, w, kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(rctx) }()
		testenv.Eventually(t, 2*time.Minute, func() error {
			if s := p.Stats(); s.Records != int64(len(events)) {
				return fmt.Errorf("committed %d of %d records", s.Records, len(events))
			}
			return nil
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return w.Stats()
	}
	converged := func(t *testing.T) {
		t.Helper()
		r := productview.NewReader(store)
		for id, v := range want {
			got, found, err := r.GetAt(ctx, 1, id)
			if err != nil || !found {
				t.Fatalf("view %s: found %v, %v", id, found, err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("view %s:\n got %+v\nwant %+v", id, got, v)
			}
		}
		if n, err := store.Count(ctx, 1); err != nil || n != len(want) {
			t.Fatalf("store holds %d views (%v), want %d", n, err, len(want))
		}
	}
	reset := func(t *testing.T) {
		t.Helper()
		out, err := exec.Command(tool, "--bootstrap-server", strings.Join(brokers, ","), "--group", group,
			"--topic", topic, "--reset-offsets", "--to-earliest", "--execute").CombinedOutput()
		if err != nil {
			t.Fatalf("kafka-consumer-groups.sh --reset-offsets: %v\n%s", err, out)
		}
		// The tool prints the group's new offsets: every partition at 0.
		reset := 0
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[0] == group && f[1] == topic && f[3] == "0" {
				reset++
			}
		}
		if reset != 3 {
			t.Fatalf("kafka-consumer-groups.sh reset %d of 3 partitions to offset 0:\n%s", reset, out)
		}
		t.Logf("kafka-consumer-groups.sh --reset-offsets --to-earliest --execute:\n%s", out)
	}

	if s := project(t); s.Applied != int64(len(events)) {
		t.Fatalf("first run applied %d events, want %d", s.Applied, len(events))
	}
	converged(t)

	t.Run("without clearing the store", func(t *testing.T) {
		reset(t)
		s := project(t)
		if s.Applied != 0 || s.Duplicates != int64(len(events)) {
			t.Errorf("after the reset: applied %d, duplicates %d; want 0 and %d (the store has every version)", s.Applied, s.Duplicates, len(events))
		}
		converged(t)
	})
	t.Run("with the store cleared", func(t *testing.T) {
		if _, err := store.Clear(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if n, _ := store.Count(ctx, 1); n != 0 {
			t.Fatalf("store holds %d views after Clear", n)
		}
		reset(t)
		s := project(t)
		if s.Applied != int64(len(events)) {
			t.Errorf("after clear and reset: applied %d, want %d", s.Applied, len(events))
		}
		converged(t)
	})
}

// TestKcatReadsEvents reads the events topic with kcat in JSON mode and
// finds each event's headers (event type, aggregate ID, traceparent...)
// beside its key.
func TestKcatReadsEvents(t *testing.T) {
	kcat := testenv.Tool(t, "kcat")
	brokers := testenv.Kafka(t)
	topic := testenv.Topic(t, brokers, "t.kcat.events", 2)
	events := eventgen.Stream(eventgen.Options{Products: 3, Events: 10, Seed: 7})
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := producers.NewPublisher(cl, codec, topic).Publish(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", strings.Join(brokers, ","), "-C", "-t", topic, "-J", "-e", "-q",
		"-X", "isolation.level=read_committed").Output()
	if err != nil {
		t.Fatalf("kcat -C -J: %v\n%s", err, out)
	}
	type message struct {
		Topic     string
		Partition int32
		Offset    int64
		Key       string
		Headers   []string // name, value, name, value...
	}
	byID := map[string]message{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Text(), err)
		}
		h := map[string]string{}
		for i := 0; i+1 < len(m.Headers); i += 2 {
			h[m.Headers[i]] = m.Headers[i+1]
		}
		if m.Key != h[producers.HeaderAggregateID] {
			t.Errorf("offset %d: key %q, aggregate-id header %q", m.Offset, m.Key, h[producers.HeaderAggregateID])
		}
		if !strings.HasPrefix(h[producers.HeaderTraceparent], "00-") {
			t.Errorf("offset %d: traceparent header %q", m.Offset, h[producers.HeaderTraceparent])
		}
		byID[h[producers.HeaderEventID]] = m
		if e := h[producers.HeaderEventType]; e == "" {
			t.Errorf("offset %d: no %s header in %v", m.Offset, producers.HeaderEventType, m.Headers)
		}
	}
	if len(byID) != len(events) {
		t.Fatalf("kcat read %d events, want %d:\n%s", len(byID), len(events), out)
	}
	for _, e := range events {
		if m, ok := byID[e.ID]; !ok || m.Key != e.AggregateID || m.Topic != topic {
			t.Errorf("event %s (%s of %s): kcat read %+v", e.ID, e.Type(), e.AggregateID, m)
		}
	}
}
