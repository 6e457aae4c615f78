package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

// dlqFixture is a source topic and its dead-letter topic holding three dead
// letters written the way the projection runtime writes them.
type dlqFixture struct {
	brokers     []string
	cl          *kgo.Client
	adm         *kadm.Client
	source, dlq string
	projection  string // the dlq-projection header: the consumer group
	// sources are the records that failed, in dead-letter order: a
	// rejected event, undecodable bytes, an invalid event.
	sources []*kgo.Record
	events  map[int]schemas.Event // sources[i] that are events
}

func newDLQFixture(t *testing.T) *dlqFixture {
	t.Helper()
	brokers := testenv.KafkaOrFake(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f := &dlqFixture{
		brokers: brokers, cl: cl, adm: kadm.NewClient(cl),
		source: testenv.Topic(t, brokers, "t.dlq-source", 3), dlq: testenv.Topic(t, brokers, "t.dlq", 1),
		projection: "streamview.product-view.g1",
	}
	ctx := context.Background()

	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	pub := producers.NewPublisher(cl, codec, f.source)
	events := eventgen.Stream(eventgen.Options{Products: 2, Events: 2, Seed: 3})
	rejected, err := pub.Record(events[0])
	if err != nil {
		t.Fatal(err)
	}
	invalid := events[1]
	invalid.Version = 0 // encodes, but is not a valid event
	bad, err := pub.Record(invalid)
	if err != nil {
		t.Fatal(err)
	}
	garbage := &kgo.Record{Topic: f.source, Key: []byte("poison-key"), Value: []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01},
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/octet-stream")}}}
	f.sources = []*kgo.Record{rejected, garbage, bad}
	f.events = map[int]schemas.Event{0: events[0], 2: invalid}

	type why struct {
		err, reason string
		partition   int32
		offset      int64
		at          time.Time
	}
	whys := []why{
		{"rejected by the store: event 0 of batch: mapper_parsing_exception\ncaused by: field [price] of type long", "rejected", 2, 17, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{"schemas: malformed: no single-object or Confluent header", "undecodable", 0, 5, time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)},
		{"invalid event: version: must be 1 or more", "invalid", 1, 9, time.Date(2026, 11, 26, 10, 0, 2, 0, time.UTC)},
	}
	for i, src := range f.sources {
		w := whys[i]
		// As deadletter.Record writes it.
		headers := append([]kgo.RecordHeader(nil), src.Headers...)
		headers = append(headers,
			kgo.RecordHeader{Key: deadletter.HeaderError, Value: []byte(w.err)},
			kgo.RecordHeader{Key: deadletter.HeaderReason, Value: []byte(w.reason)},
			kgo.RecordHeader{Key: deadletter.HeaderSourceTopic, Value: []byte(f.source)},
			kgo.RecordHeader{Key: deadletter.HeaderSourcePartition, Value: []byte(strconv.Itoa(int(w.partition)))},
			kgo.RecordHeader{Key: deadletter.HeaderSourceOffset, Value: []byte(strconv.FormatInt(w.offset, 10))},
			kgo.RecordHeader{Key: deadletter.HeaderProjection, Value: []byte(f.projection)},
			kgo.RecordHeader{Key: deadletter.HeaderTime, Value: []byte(w.at.Format(time.RFC3339Nano))},
		)
		rec := &kgo.Record{Topic: f.dlq, Key: src.Key, Value: src.Value, Headers: headers}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// cli runs `streamview dlq args... --brokers ... --topic <dlq>`.
func (f *dlqFixture) cli(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(append([]string{"dlq"}, args...), "--brokers", strings.Join(f.brokers, ","), "--topic", f.dlq)
	err = run(context.Background(), args, nil, &out, &errOut)
	return out.String(), errOut.String(), err
}

// consume reads n records of topic from its start.
func consume(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read %d of %d records", topic, len(got), n)
		}
		got = append(got, fs.Records()...)
	}
	return got
}

// records counts the records of topic from its end offsets.
func records(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

func TestDlqList(t *testing.T) {
	f := newDLQFixture(t)
	out, errOut, err := f.cli(t, "list")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a heading, 3 dead letters and a count, got:\n%s", out)
	}
	if !strings.HasPrefix(lines[0], "OFFSET") {
		t.Errorf("no heading: %q", lines[0])
	}
	want := [][]string{
		{"0 ", "2026-11-26T10:00:00Z", "rejected", f.source + "[2]@17", string(f.sources[0].Key), "mapper_parsing_exception …"},
		{"1 ", "2026-11-26T10:00:01Z", "undecodable", f.source + "[0]@5", "poison-key", "no single-object or Confluent header"},
		{"2 ", "2026-11-26T10:00:02Z", "invalid", f.source + "[1]@9", string(f.sources[2].Key), "version: must be 1 or more"},
	}
	for i, w := range want {
		line := lines[i+1]
		if !strings.HasPrefix(line, w[0]) {
			t.Errorf("line %d does not start with offset %q: %q", i+1, w[0], line)
		}
		for _, s := range w[1:] {
			if !strings.Contains(line, s) {
				t.Errorf("line %d lacks %q: %q", i+1, s, line)
			}
		}
	}
	if strings.Contains(out, "caused by") {
		t.Errorf("list shows more than the first line of an error:\n%s", out)
	}
	if got, want := lines[4], "3 dead letters in "+f.dlq; got != want {
		t.Errorf("count line %q, want %q", got, want)
	}

	for _, tc := range []struct {
		name  string
		args  []string
		lines int
		count string
	}{
		{"limit", []string{"--limit", "2"}, 2, "2 dead letters shown from " + f.dlq + "; stopped at --limit 2, more follow"},
		{"limit above count", []string{"--limit", "3"}, 3, "3 dead letters in " + f.dlq},
		{"reason", []string{"--reason", "invalid"}, 1, "1 dead letter with reason invalid in " + f.dlq},
		{"reason none", []string{"--reason", "unknown-schema"}, 0, "no dead letters with reason unknown-schema in " + f.dlq},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := f.cli(t, append([]string{"list"}, tc.args...)...)
			if err != nil {
				t.Fatalf("list: %v\n%s", err, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			heading := 0
			if tc.lines > 0 {
				heading = 1
			}
			if len(lines) != heading+tc.lines+1 || lines[len(lines)-1] != tc.count {
				t.Fatalf("want %d lines and %q, got:\n%s", tc.lines, tc.count, out)
			}
		})
	}
}

func TestDlqShow(t *testing.T) {
	f := newDLQFixture(t)
	t.Run("event", func(t *testing.T) {
		out, errOut, err := f.cli(t, "show", "0")
		if err != nil {
			t.Fatalf("show: %v\n%s", err, errOut)
		}
		e := f.events[0]
		for _, s := range []string{
			"dead letter " + f.dlq + "/0",
			"reason      rejected",
			"projection  " + f.projection,
			"source      " + f.source + "[2]@17",
			"    rejected by the store: event 0 of batch: mapper_parsing_exception\n    caused by: field [price] of type long\n",
			fmt.Sprintf("key (%d bytes): %s\n", len(e.AggregateID), e.AggregateID),
			"headers (14):\n",
			"  event-type: " + e.Type() + "\n",
			"  aggregate-id: " + e.AggregateID + "\n",
			"  dlq-error: \"rejected by the store: event 0 of batch: mapper_parsing_exception\\ncaused by: field [price] of type long\"\n",
			"  dlq-reason: rejected\n",
			"  dlq-source-topic: " + f.source + "\n",
			"  dlq-source-partition: 2\n",
			"  dlq-source-offset: 17\n",
			"  dlq-projection: " + f.projection + "\n",
			"  dlq-time: 2026-11-26T10:00:00Z\n",
			fmt.Sprintf("value (%d bytes, first 256 shown):\n  00000000  c3 01 ", len(f.sources[0].Value)),
			"event:\n  {\n    \"eventId\": \"" + e.ID + "\",\n    \"eventType\": \"" + e.Type() + "\"",
			"\"aggregateId\": \"" + e.AggregateID + "\"",
			"\"version\": 1,",
		} {
			if !strings.Contains(out, s) {
				t.Errorf("show lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("undecodable", func(t *testing.T) {
		out, errOut, err := f.cli(t, "show", "--bytes", "4", "1")
		if err != nil {
			t.Fatalf("show: %v\n%s", err, errOut)
		}
		for _, s := range []string{
			"key (10 bytes): poison-key",
			"  content-type: application/octet-stream\n",
			"value (6 bytes, first 4 shown):\n  00000000  de ad be ef ",
			"event: the value does not decode: ",
		} {
			if !strings.Contains(out, s) {
				t.Errorf("show lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("invalid event", func(t *testing.T) {
		// Flags after the offset work as well.
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"dlq", "show", "2", "--topic", f.dlq, "--brokers", strings.Join(f.brokers, ",")}, nil, &out, &errOut)
		if err != nil {
			t.Fatalf("show: %v\n%s", err, &errOut)
		}
		if !strings.Contains(out.String(), "event (decodes, but fails validation: ") || !strings.Contains(out.String(), "\"version\": 0,") {
			t.Errorf("invalid event not shown as such:\n%s", &out)
		}
	})
	t.Run("past the end", func(t *testing.T) {
		_, _, err := f.cli(t, "show", "3")
		if err == nil || !strings.Contains(err.Error(), f.dlq+"/3: past the end (partition 0 ends at offset 3)") {
			t.Fatalf("show 3 of 3: %v", err)
		}
	})
	t.Run("no partition", func(t *testing.T) {
		_, _, err := f.cli(t, "show", "4/0")
		if err == nil || !strings.Contains(err.Error(), "has no partition 4") {
			t.Fatalf("show 4/0: %v", err)
		}
	})
}

// The letters named are re-driven, but for one whose event still fails
// validation: it is left out, said why, and the command exits 1.
func TestDlqRedrive(t *testing.T) {
	f := newDLQFixture(t)
	out, errOut, err := f.cli(t, "redrive", "--offset", "0", "2", "--offset", "0")
	if err == nil || !strings.Contains(err.Error(), "1 of the dead letters named cannot be re-driven") {
		t.Fatalf("redrive with a letter still invalid: %v, want it named\n%s", err, errOut)
	}
	for _, s := range []string{
		"re-drove " + f.dlq + "/0 to " + f.source + "[",
		"left out " + f.dlq + "/2: the record still fails (invalid): invalid event: version: must be >= 1, got 0",
		"re-drove 1 of 2 dead letters; they stay in " + f.dlq + " (Kafka cannot delete single records)",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}

	got := consume(t, f.brokers, f.source, 1)
	if n := records(t, f.adm, f.source); n != 1 {
		t.Fatalf("source topic has %d records, want the 1 re-driven", n)
	}
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(f.source)
	byKey := map[string]*kgo.Record{}
	for _, r := range got {
		byKey[string(r.Key)] = r
	}
	for i, dlqOffset := range map[int]int{0: 0} {
		src := f.sources[i]
		r := byKey[string(src.Key)]
		if r == nil {
			t.Errorf("dead letter %d not re-driven with key %s", dlqOffset, src.Key)
			continue
		}
		if !bytes.Equal(r.Value, src.Value) {
			t.Errorf("dead letter %d: value changed", dlqOffset)
		}
		if p := partitioner.Partition(r, 3); p != int(r.Partition) {
			t.Errorf("dead letter %d: on partition %d, its key's partition is %d", dlqOffset, r.Partition, p)
		}
		want := append(append([]kgo.RecordHeader(nil), src.Headers...),
			kgo.RecordHeader{Key: deadletter.HeaderRedrivenFrom, Value: []byte(f.dlq + "/" + strconv.Itoa(dlqOffset))},
			kgo.RecordHeader{Key: deadletter.HeaderRedrivenOrigin, Value: []byte("2/17")})
		if len(r.Headers) != len(want) {
			t.Errorf("dead letter %d: headers %v, want %v", dlqOffset, r.Headers, want)
			continue
		}
		for j, h := range r.Headers {
			if h.Key != want[j].Key || !bytes.Equal(h.Value, want[j].Value) {
				t.Errorf("dead letter %d: header %d is %s=%q, want %s=%q", dlqOffset, j, h.Key, h.Value, want[j].Key, want[j].Value)
			}
		}
	}

	// The dead letters stay.
	out, _, err = f.cli(t, "list")
	if err != nil || !strings.Contains(out, "3 dead letters in "+f.dlq) {
		t.Errorf("after redrive, list says %v:\n%s", err, out)
	}
}

func TestDlqRedriveDryRunPublishesNothing(t *testing.T) {
	f := newDLQFixture(t)
	out, errOut, err := f.cli(t, "redrive", "--all", "--dry-run")
	if err != nil {
		t.Fatalf("redrive --dry-run: %v\n%s", err, errOut)
	}
	if n := strings.Count(out, "would re-drive "+f.dlq+"/"); n != 1 {
		t.Errorf("%d would-re-drive lines, want 1:\n%s", n, out)
	}
	for _, s := range []string{
		"would re-drive " + f.dlq + "/0 to " + f.source + ": key " + string(f.sources[0].Key) + ", ",
		"would leave out " + f.dlq + "/1: the record still fails (undecodable): ",
		"would leave out " + f.dlq + "/2: the record still fails (invalid): ",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("dry run lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "dry run: 1 of 3 dead letters would be re-driven; nothing was published") {
		t.Errorf("no dry-run summary:\n%s", out)
	}
	if n := records(t, f.adm, f.source); n != 0 {
		t.Fatalf("dry run published %d records", n)
	}
}

func TestDlqRedriveAllByReason(t *testing.T) {
	f := newDLQFixture(t)
	out, errOut, err := f.cli(t, "redrive", "--all", "--reason", "rejected")
	if err != nil {
		t.Fatalf("redrive: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "re-drove 1 of 1 dead letters") {
		t.Errorf("output:\n%s", out)
	}
	got := consume(t, f.brokers, f.source, 1)
	if string(got[0].Key) != string(f.sources[0].Key) || producers.Header(got[0], deadletter.HeaderReason) != "" {
		t.Errorf("re-drove key %q with headers %v", got[0].Key, got[0].Headers)
	}
	if n := records(t, f.adm, f.source); n != 1 {
		t.Fatalf("source topic has %d records, want 1", n)
	}

	// The undecodable record still does not decode: --all leaves it out,
	// says why, and succeeds; nothing more is published.
	out, errOut, err = f.cli(t, "redrive", "--all", "--reason", "undecodable")
	if err != nil {
		t.Fatalf("redrive --all of a letter still undecodable: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "left out "+f.dlq+"/1: the record still fails (undecodable)") || !strings.Contains(out, "re-drove 0 of 1 dead letters") {
		t.Errorf("output:\n%s", out)
	}
	if n := records(t, f.adm, f.source); n != 1 {
		t.Fatalf("source topic has %d records, want 1", n)
	}
}

// A record dead-lettered several times (by a replay, a rebuild's new
// generation, other projections) goes back once; a letter that names no
// source topic (the notifier's) is left out, and the rest still go.
func TestDlqRedriveEachRecordOnce(t *testing.T) {
	f := newDLQFixture(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	first := consume(t, f.brokers, f.dlq, 1)[0]
	again := *first // the same record, dead-lettered by generation 2
	again.Headers = append(append([]kgo.RecordHeader(nil), first.Headers...),
		kgo.RecordHeader{Key: deadletter.HeaderProjection, Value: []byte("streamview.product-view.g2")})
	notification := &kgo.Record{Topic: f.dlq, Key: []byte("n-1"), Value: []byte(`{"event":"priceDrop"}`),
		Headers: []kgo.RecordHeader{{Key: deadletter.HeaderReason, Value: []byte("undeliverable")}}}
	for _, r := range []*kgo.Record{{Topic: f.dlq, Key: again.Key, Value: again.Value, Headers: again.Headers}, notification} {
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := f.cli(t, "redrive", "--all")
	if err != nil {
		t.Fatalf("redrive --all: %v\n%s", err, errOut)
	}
	for _, s := range []string{
		"re-drove " + f.dlq + "/0 to ",
		"left out " + f.dlq + "/3: the same record as another letter re-driven with it (" + f.dlq + "/0, from " + f.source + "[2]@17)",
		"left out " + f.dlq + "/4: dead letter has no dlq-source-topic header: not a projection's dead letter of an event",
		"re-drove 1 of 5 dead letters",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if n := records(t, f.adm, f.source); n != 1 {
		t.Fatalf("source topic has %d records, want the one record once", n)
	}
	// Named, the two letters of one record: it goes once, and that is
	// no failure (a script retrying on exit 1 would send it again).
	out, errOut, err = f.cli(t, "redrive", "--offset", "0,3")
	if err != nil || !strings.Contains(out, "re-drove 1 of 2 dead letters") {
		t.Fatalf("redrive of two letters of one record: %v\n%s%s", err, out, errOut)
	}
	if n := records(t, f.adm, f.source); n != 2 {
		t.Fatalf("source topic has %d records, want 2 (the record once more)", n)
	}
}

func TestDlqUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"dlq"}, "name the subcommand: list, show or redrive"},
		{"unknown reason", []string{"dlq", "list", "--projection", "product-view", "--reason", "bogus"}, `--reason "bogus": want one of`},
		{"unknown subcommand", []string{"dlq", "purge", "--projection", "x"}, `unknown subcommand "purge"`},
		{"no topic", []string{"dlq", "list"}, "--projection NAME"},
		{"projection and topic disagree", []string{"dlq", "list", "--projection", "product-view", "--topic", "other"}, "means topic catalog.product-view.dlq"},
		{"show without offset", []string{"dlq", "show", "--projection", "product-view"}, "give its OFFSET"},
		{"show bad offset", []string{"dlq", "show", "--projection", "product-view", "x"}, "offset must be a number"},
		{"redrive without selection", []string{"dlq", "redrive", "--projection", "product-view"}, "--offset N"},
		{"redrive offset and all", []string{"dlq", "redrive", "--projection", "product-view", "--all", "--offset", "1"}, "not both"},
		{"redrive reason without all", []string{"dlq", "redrive", "--projection", "product-view", "--reason", "rejected", "--offset", "1"}, "--reason selects among --all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, nil, &out, &errOut)
			if !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, &errOut)
			}
		})
	}
}

func TestDlqUnknownProjection(t *testing.T) {
	brokers := strings.Join(testenv.KafkaOrFake(t), ",")
	name := testenv.Name("no-such-projection")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"dlq", "list", "--projection", name, "--brokers", brokers}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "dead-letter topic catalog."+name+".dlq does not exist") {
		t.Fatalf("list of a missing projection: %v", err)
	}
}

func TestDlqHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help", "dlq"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"list", "show", "redrive", "--dry-run", "Kafka cannot delete single records", "Examples:", "streamview dlq redrive --projection product-view --all"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("help lacks %q", s)
		}
	}
}

// fixableProjection rejects every event of the products in broken, the way a
// store rejects a document it cannot map, until the bug is "fixed".
type fixableProjection struct {
	mu       sync.Mutex
	broken   map[string]bool
	versions map[string]int64
	gaps     int // events that came out of version order
}

func (p *fixableProjection) Apply(_ context.Context, events []schemas.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range events {
		if p.broken[e.AggregateID] {
			return batch.Fail(batch.Permanent(i, errors.New("mapper_parsing_exception: failed to parse field [price]")))
		}
	}
	for _, e := range events {
		switch have := p.versions[e.AggregateID]; {
		case e.Version == have+1:
			p.versions[e.AggregateID] = e.Version
		case e.Version > have+1:
			p.gaps++
		}
	}
	return nil
}

func (p *fixableProjection) fix() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = nil
}

func (p *fixableProjection) version(id string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.versions[id]
}

// The whole loop with the real runtime: a projection bug dead-letters a
// product's events, list shows them, and after the fix a redrive brings the
// product's view up to date.
func TestDlqRedriveAfterFixReachesTheProjection(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	source, dlq := testenv.Topic(t, brokers, "t.dlq-events", 3), testenv.Topic(t, brokers, "t.dlq", 1)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	events := eventgen.Stream(eventgen.Options{Products: 5, Events: 60, Seed: 8})
	if _, err := producers.NewPublisher(cl, codec, source).Publish(ctx, events...); err != nil {
		t.Fatal(err)
	}
	victim := events[0].AggregateID
	var last int64
	for _, e := range events {
		if e.AggregateID == victim {
			last = e.Version
		}
	}

	proj := &fixableProjection{broken: map[string]bool{victim: true}, versions: map[string]int64{}}
	p, err := processors.New(processors.Config{
		Name: testenv.Name("dlqview"), Generation: 1, Topic: source, DeadLetterTopic: dlq,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxBatch: 16,
	}, codec, proj, kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != 60 || s.DeadLettered != last {
			return testenv.Errorf("consumed %d of 60, dead-lettered %d of %d", s.Records, s.DeadLettered, last)
		}
		return nil
	})
	if v := proj.version(victim); v != 0 {
		t.Fatalf("the broken product reached version %d", v)
	}

	brokerFlag := strings.Join(brokers, ",")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"dlq", "list", "--topic", dlq, "--brokers", brokerFlag}, nil, &out, &errOut); err != nil {
		t.Fatalf("list: %v\n%s", err, &errOut)
	}
	if n := strings.Count(out.String(), "  rejected  "); int64(n) != last || !strings.Contains(out.String(), fmt.Sprintf("%d dead letters in %s", last, dlq)) {
		t.Fatalf("list should show %d rejected dead letters of %s:\n%s", last, victim, &out)
	}

	proj.fix()
	out.Reset()
	if err := run(ctx, []string{"dlq", "redrive", "--topic", dlq, "--all", "--brokers", brokerFlag}, nil, &out, &errOut); err != nil {
		t.Fatalf("redrive: %v\n%s", err, &errOut)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		if v := proj.version(victim); v != last {
			return testenv.Errorf("%s at version %d of %d", victim, v, last)
		}
		return nil
	})
	if s := p.Stats(); s.DeadLettered != last {
		t.Errorf("re-driven events were dead-lettered again: %d dead letters", s.DeadLettered)
	}
	proj.mu.Lock()
	defer proj.mu.Unlock()
	if proj.gaps != 0 {
		t.Errorf("%d events reached the projection out of version order", proj.gaps)
	}
}
