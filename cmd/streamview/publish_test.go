package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

func writeJSONL(t *testing.T, events []schemas.Event, corrupt map[int]string) string {
	t.Helper()
	var buf bytes.Buffer
	for i, e := range events {
		if line, ok := corrupt[i+1]; ok {
			buf.WriteString(line + "\n")
			continue
		}
		b, err := schemas.MarshalEventJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func newTopic(t *testing.T, brokers []string, partitions int32) (*kadm.Client, string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl), testenv.Topic(t, brokers, "t.publish", partitions)
}

func TestPublishLandsEveryEventOnItsKeyPartition(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	const partitions, n = 6, 10000
	_, topic := newTopic(t, brokers, partitions)
	events := eventgen.Stream(eventgen.Options{Products: 700, Events: n, Seed: 11})
	path := writeJSONL(t, events, nil)

	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"publish", "--brokers", strings.Join(brokers, ","), "--topic", topic, path}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, &errOut)
	}
	if !strings.Contains(out.String(), "published 10000 events") {
		t.Fatalf("no final count: %q", out.String())
	}
	if !strings.Contains(errOut.String(), "10000/10000") {
		t.Errorf("no progress line in stderr: %q", errOut.String())
	}

	codec, _ := schemas.NewCodec()
	want := map[string]schemas.Event{}
	for _, e := range events {
		want[e.ID] = e
	}
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lastVersion := map[string]int64{}
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read back %d of %d events", got, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			e, err := codec.DecodeEvent(r.Value)
			if err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
			if _, ok := want[e.ID]; !ok {
				t.Fatalf("event %s read twice or never sent", e.ID)
			}
			delete(want, e.ID)
			if p := partitioner.Partition(r, partitions); p != int(r.Partition) {
				t.Fatalf("event of %s on partition %d, default partitioner says %d", e.AggregateID, r.Partition, p)
			}
			if string(r.Key) != e.AggregateID || producers.Header(r, producers.HeaderEventType) != e.Type() {
				t.Fatalf("key %q / event-type header %q for %s %s", r.Key, producers.Header(r, producers.HeaderEventType), e.AggregateID, e.Type())
			}
			if e.Version != lastVersion[e.AggregateID]+1 {
				t.Fatalf("%s: version %d after %d: order lost", e.AggregateID, e.Version, lastVersion[e.AggregateID])
			}
			lastVersion[e.AggregateID] = e.Version
		})
	}
	if len(want) != 0 {
		t.Fatalf("%d events missing", len(want))
	}
}

func TestPublishWithABadLinePublishesNothing(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	adm, topic := newTopic(t, brokers, 3)
	events := eventgen.Stream(eventgen.Options{Products: 10, Events: 100, Seed: 12})
	// The last line: with --skip-invalid, a product's events after a
	// skipped one would not continue its log and be left out too.
	path := writeJSONL(t, events, map[int]string{100: `{"eventId": "not json`})

	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"publish", "--brokers", strings.Join(brokers, ","), "--topic", topic, path}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "nothing published") {
		t.Fatalf("publish with a bad line: err %v", err)
	}
	if !strings.Contains(errOut.String(), "events.jsonl:100:") {
		t.Fatalf("bad line not named: %q", errOut.String())
	}
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			t.Errorf("partition %d has %d records; nothing should be published", o.Partition, o.Offset)
		}
	})

	// --skip-invalid publishes the 99 good ones.
	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"publish", "--skip-invalid", "--brokers", strings.Join(brokers, ","), "--topic", topic, path}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "published 99 events") || !strings.Contains(out.String(), "skipped 1 invalid") {
		t.Fatalf("skip-invalid output: %q", out.String())
	}
}

// Events that do not continue their aggregates' logs in the topic (a
// second creation, a gap, a product never created) are named by line and
// publish nothing; --skip-invalid publishes the rest.
func TestPublishRefusesEventsThatDoNotContinueTheLog(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	adm, topic := newTopic(t, brokers, 3)
	ctx := context.Background()
	events := eventgen.Stream(eventgen.Options{Products: 3, Events: 12, Seed: 13})
	args := []string{"publish", "--brokers", strings.Join(brokers, ","), "--topic", topic}
	var out, errOut bytes.Buffer
	if err := run(ctx, append(args, writeJSONL(t, events, nil)), nil, &out, &errOut); err != nil {
		t.Fatalf("publish of a log from creation: %v\n%s", err, &errOut)
	}
	var ids []string
	last := map[string]schemas.Event{}
	for _, e := range events {
		if _, ok := last[e.AggregateID]; !ok {
			ids = append(ids, e.AggregateID)
		}
		last[e.AggregateID] = e
	}
	next := func(id string, version int64, data schemas.EventData) schemas.Event {
		e := last[id]
		e.ID, e.Version, e.Data = "9a0b1c2d-3e4f-4a5b-8c6d-"+fmt.Sprintf("%012d", version), version, data
		return e
	}
	stock := &schemas.ProductStockChanged{OldQuantity: 1, Quantity: 2}
	stranger := next(ids[2], 1, stock)
	stranger.AggregateID = "7e000000-0000-4000-8000-000000000007"
	again := events[0] // ids[0]'s creation
	again.ID, again.Version = "9a0b1c2d-3e4f-4a5b-8c6d-000000000100", last[ids[0]].Version+1
	file := []schemas.Event{
		again, // 1: created twice
		next(ids[1], last[ids[1]].Version+2, stock), // 2: a gap
		stranger, // 3: never created
		next(ids[2], last[ids[2]].Version+1, stock), // 4: continues
	}
	count := func() int64 {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	before := count()
	path := writeJSONL(t, file, nil)
	out.Reset()
	errOut.Reset()
	err := run(ctx, append(args, path), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "3 invalid line(s), nothing published") || !strings.Contains(err.Error(), "do not continue") {
		t.Fatalf("publish of events that do not continue the log: %v", err)
	}
	for _, want := range []string{
		"events.jsonl:1: product " + ids[0] + " exists (version",
		"events.jsonl:2: product " + ids[1] + " stands at version",
		"events.jsonl:3: product " + stranger.AggregateID + " has no events in the log: its first must be ProductCreated version 1",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, &errOut)
		}
	}
	if strings.Contains(errOut.String(), "events.jsonl:4:") {
		t.Errorf("line 4 continues its log, but was named:\n%s", &errOut)
	}
	if n := count(); n != before {
		t.Fatalf("the refused publish wrote %d records", n-before)
	}

	out.Reset()
	errOut.Reset()
	if err := run(ctx, append(append(args[:1:1], "--skip-invalid"), append(args[1:], path)...), nil, &out, &errOut); err != nil {
		t.Fatalf("publish --skip-invalid: %v\n%s", err, &errOut)
	}
	if !strings.Contains(out.String(), "published 1 events") || !strings.Contains(out.String(), "skipped 3 invalid") {
		t.Fatalf("publish --skip-invalid: %q", &out)
	}
	if n := count(); n != before+1 {
		t.Fatalf("publish --skip-invalid wrote %d records, want 1", n-before)
	}
}

// A topic written to while publish reads it is read again to catch up;
// one that keeps being written to is refused, unless --force (a running
// decider writes other products' events all the time).
func TestPublishWhileTheTopicIsWrittenTo(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	_, topic := newTopic(t, brokers, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	// Another product's events, produced without linger and without
	// waiting, until the end: the ends move between any two listings.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(100))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	busy := eventgen.Stream(eventgen.Options{Products: 1, Events: 200000, Seed: 14})
	pub := producers.NewPublisher(cl, codec, topic)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := 0; i < len(busy) && ctx.Err() == nil; i++ {
			rec, err := pub.Record(busy[i])
			if err != nil {
				t.Error(err)
				return
			}
			cl.Produce(ctx, rec, nil) // blocks while 100 are buffered
		}
	}()
	defer func() { cancel(); <-written }()
	testenv.Eventually(t, 30*time.Second, func() error {
		n, err := endOffsets(ctx, testenv.Admin(t, brokers), topic)
		if total := n[0] + n[1] + n[2]; err != nil || total < 10 {
			return testenv.Errorf("%d events written, %v", total, err)
		}
		return nil
	})

	path := writeJSONL(t, eventgen.Stream(eventgen.Options{Products: 2, Events: 6, Seed: 15}), nil)
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"publish", "--brokers", strings.Join(brokers, ","), "--topic", topic, path}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "is being written to") || !strings.Contains(err.Error(), "nothing published") {
		t.Fatalf("publish to a topic written to all the time: %v, want it refused", err)
	}
	if err := run(ctx, []string{"publish", "--force", "--brokers", strings.Join(brokers, ","), "--topic", topic, path}, nil, &out, &errOut); err != nil {
		t.Fatalf("publish --force to a topic written to all the time: %v\n%s", err, &errOut)
	}
	if !strings.Contains(out.String(), "published 6 events") {
		t.Fatalf("publish --force: %q", &out)
	}
}

// publish to the events topic refuses while the decider runs: its next
// command on a published product would repeat a version the log has, and
// the views would keep the published event, not the command's. --force
// publishes anyway.
func TestPublishRefusedWhileTheDeciderRuns(t *testing.T) {
	_, brokers, _ := startDev(t, t.TempDir())
	records := func() int64 {
		n, err := eventCount(context.Background(), []kgo.Opt{kgo.SeedBrokers(brokers...)})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	path := writeJSONL(t, eventgen.Stream(eventgen.Options{Products: 2, Events: 4, Seed: 12}), nil)
	before := records()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"publish", "--brokers", strings.Join(brokers, ","), path}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "the decider is running") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("publish with the decider running: %v, want it refused", err)
	}
	if n := records(); n != before {
		t.Fatalf("the refused publish wrote %d records", n-before)
	}
	if err := run(context.Background(), []string{"publish", "--force", "--brokers", strings.Join(brokers, ","), path}, nil, &out, &errOut); err != nil {
		t.Fatalf("publish --force: %v\n%s", err, errOut.String())
	}
	if n := records(); n != before+4 {
		t.Fatalf("publish --force wrote %d records, want 4", n-before)
	}
}
