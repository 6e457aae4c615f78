package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

func init() {
	commands["publish"] = command{
		summary: "publish domain events from a JSON Lines file or stdin",
		usage:   "[--topic catalog.product-events] [--skip-invalid] [--force] [--brokers host:port] [FILE|-]",
		help: `Reads one event per line (JSON: eventId, eventType, aggregateType,
aggregateId, version, timestamp, metadata, data), validates each against its
Avro schema, and publishes them keyed as the decider keys them (a
product's ID; a subscription's product; a category's or brand's
reference key, category:ID) with an idempotent acks=all producer. A bad
line is named by its number; then nothing is published, unless
--skip-invalid is given, which publishes the good lines and reports the
bad ones. Progress goes to stderr; a count ends the run.

The events go past the decider, which keeps each product's state in memory
while it runs (it reads the log again when it starts): its next command on
a product given events here would repeat a version the log has, and the
views keep the published event, not the command's. So publish to the
events topic refuses while the decider runs (consumer group
streamview.decider: serve's decider role, or dev); stop it first, or pass
--force for products it will never see commands for.

Each event must continue its aggregate's log as the topic holds it: the
next version, a product's first event its ProductCreated at version 1 (a
subscription's its SubscriptionCreated), no second creation, nothing after
a ProductDiscontinued or SubscriptionDeleted. Publish reads the topic to
see where the file's aggregates stand (progress on stderr; what was
written meanwhile is read too, up to three rounds, and a topic still
written to after them is refused, unless --force) and names each line
that does not continue it; then nothing is published, unless
--skip-invalid is given (the aggregate's later lines are then left out
too: they would not continue it either). --force does not lift this
check: an event of a product the log never created makes a view without
name, price or creation time, and a history that answers 503.

Example line:
{"eventId":"6f1c…","eventType":"ProductStockChanged","aggregateType":"Product",
 "aggregateId":"0b7e…","version":2,"timestamp":"2026-11-26T10:00:00Z",
 "metadata":{"correlationId":"…","causationId":"…","userId":"ops"},
 "data":{"oldQuantity":5,"quantity":7}}`,
		run: runPublish,
	}
}

// maxLine bounds one JSON line; an event is far smaller.
const maxLine = 4 << 20

func runPublish(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "publish")
	var k kafkaFlags
	k.register(fs, e)
	registry := connect.RegisterSchemaRegistry(fs, e.getenv)
	topic := fs.String("topic", topics.Events, "topic to publish to")
	skip := fs.Bool("skip-invalid", false, "publish the valid lines and report the invalid ones")
	force := fs.Bool("force", false, "publish to the events topic even while the decider runs (see above)")
	if err := parseWithArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		if i := slices.IndexFunc(fs.Args()[1:], func(a string) bool { return strings.HasPrefix(a, "-") && a != "-" }); i >= 0 {
			return usageError(e.stderr, "publish", "flags go before the file: %q came after %q", fs.Arg(1+i), fs.Arg(0))
		}
		fmt.Fprintf(e.stderr, "streamview publish: one file at a time (or - for stdin), not %d: %q\n", fs.NArg(), fs.Args())
		return errUsage
	}
	in, name := e.stdin, "stdin"
	if f := fs.Arg(0); f != "" && f != "-" {
		file, err := os.Open(f)
		if err != nil {
			return err
		}
		defer file.Close()
		in, name = file, f
	}

	// Validate everything first: a file with a bad line publishes nothing.
	events, lines, bad, err := readEvents(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	report := func(bad []badLine, valid int) error {
		for _, b := range bad {
			fmt.Fprintf(e.stderr, "%s:%d: %v\n", name, b.line, b.err)
		}
		if len(bad) > 0 && !*skip {
			return fmt.Errorf("%s: %d invalid line(s), nothing published (fix them, or pass --skip-invalid to publish the %d valid ones)", name, len(bad), valid)
		}
		return nil
	}
	if err := report(bad, len(events)); err != nil {
		return err
	}

	reg, err := registry.Load()
	if err != nil {
		return err
	}
	codec, err := newCodec(ctx, reg)
	if err != nil {
		return err
	}
	conn, err := k.settings()
	if err != nil {
		return err
	}
	kopts, err := conn.Opts()
	if err != nil {
		return err
	}
	cl, err := newKafkaClient(ctx, conn, kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	if *topic == topics.Events && !*force {
		err := processors.CheckIdle(ctx, kadm.NewClient(cl), decider.DefaultGroup)
		if errors.Is(err, processors.ErrGroupActive) {
			return fmt.Errorf("the decider is running (consumer group %s), and would not see these events: its next command on one of their products would repeat a version the log has. Stop it (serve's decider role, or dev) and publish again, or pass --force (see 'streamview publish --help'); nothing published", decider.DefaultGroup)
		}
		if err != nil {
			return fmt.Errorf("checking whether the decider runs (group %s): %w; pass --force to publish without this check", decider.DefaultGroup, err)
		}
	}
	adm := kadm.NewClient(cl)
	breaks, err := logBreaks(ctx, kopts, adm, *topic, codec, events, *force, e.stderr)
	if err != nil {
		return err
	}
	// The read may have taken a while: the decider may have started
	// meanwhile, or another writer added events the check did not see.
	if *topic == topics.Events && !*force {
		err := processors.CheckIdle(ctx, adm, decider.DefaultGroup)
		if errors.Is(err, processors.ErrGroupActive) {
			return fmt.Errorf("the decider started while publish read %s (consumer group %s); stop it and publish again, or pass --force; nothing published", *topic, decider.DefaultGroup)
		}
		if err != nil {
			return fmt.Errorf("checking again whether the decider runs (group %s): %w; pass --force to publish without this check; nothing published", decider.DefaultGroup, err)
		}
	}
	if len(breaks) > 0 {
		broken := make([]badLine, len(breaks))
		skipped := map[int]bool{}
		for i, b := range breaks {
			broken[i] = badLine{lines[b.Index], b.Err}
			skipped[b.Index] = true
		}
		if err := report(broken, len(events)-len(broken)); err != nil {
			return fmt.Errorf("%w; these events do not continue their aggregates' logs in %s", err, *topic)
		}
		kept := events[:0]
		for i, ev := range events {
			if !skipped[i] {
				kept = append(kept, ev)
			}
		}
		events, bad = kept, append(bad, broken...)
	}
	pub := producers.NewPublisher(cl, codec, *topic)
	n, err := publishAll(ctx, pub, events, e.stderr)
	fmt.Fprintf(e.stdout, "published %d events to %s", n, *topic)
	if len(bad) > 0 {
		fmt.Fprintf(e.stdout, ", skipped %d invalid lines", len(bad))
	}
	fmt.Fprintln(e.stdout)
	return err
}

type badLine struct {
	line int
	err  error
}

// readEvents reads one event per line; lines[i] is events[i]'s line number.
func readEvents(r io.Reader) (events []schemas.Event, lines []int, bad []badLine, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		ev, err := schemas.ParseEventJSON(line)
		if err != nil {
			bad = append(bad, badLine{n, err})
			continue
		}
		events = append(events, ev)
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, nil, fmt.Errorf("a line is longer than %d bytes", maxLine)
		}
		return nil, nil, nil, err
	}
	return events, lines, bad, nil
}

// logBreaks reads topic to see where the aggregates of events stand and
// returns the events that do not continue their logs, telling progress
// of a long read. What was written to topic during the read is read too;
// a topic still written to after three reads is refused, unless force
// (the decider runs: its commands are for other products).
func logBreaks(ctx context.Context, kopts []kgo.Opt, adm *kadm.Client, topic string, dec producers.Decoder, events []schemas.Event, force bool, progress io.Writer) ([]producers.Break, error) {
	want := map[producers.Aggregate]bool{}
	for _, ev := range events {
		want[producers.AggregateOf(ev)] = true
	}
	if len(want) == 0 {
		return nil, nil
	}
	began := time.Now()
	r := &producers.HeadReader{Opts: kopts, Admin: adm, Topic: topic, Decoder: dec, Want: want, Progress: func(read, total int64) {
		if time.Since(began) >= time.Second {
			fmt.Fprintf(progress, "reading %s to see where the file's %d aggregates stand: %d/%d records\n", topic, len(want), read, total)
		}
	}}
	const reads = 3
	for n := 1; ; n++ {
		if err := r.Read(ctx); err != nil {
			return nil, fmt.Errorf("%w; nothing published", err)
		}
		now, err := endOffsets(ctx, adm, topic)
		if err != nil {
			return nil, err
		}
		read := r.Ends()
		p, moved := movedPartition(read, now)
		if !moved || n == reads && force {
			break
		}
		if n == reads {
			return nil, fmt.Errorf("%s is being written to (partition %d: read up to offset %d, now %d), so where its aggregates stand is not known; publish again once nothing else writes to it; nothing published", topic, p, read[p], now[p])
		}
	}
	return producers.Breaks(r.Heads(), events), nil
}

// movedPartition returns a partition whose end in now is past read.
func movedPartition(read, now map[int32]int64) (int32, bool) {
	for _, p := range slices.Sorted(maps.Keys(now)) {
		if now[p] > read[p] {
			return p, true
		}
	}
	return 0, false
}

// endOffsets lists topic's end offsets by partition; a missing topic has
// none.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return map[int32]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w; nothing published", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// publishAll publishes in chunks so that progress can be shown, and returns
// how many events the broker acknowledged.
func publishAll(ctx context.Context, pub *producers.Publisher, events []schemas.Event, progress io.Writer) (int, error) {
	const chunk = 2000
	start, last := time.Now(), time.Now()
	done := 0
	for done < len(events) {
		end := min(done+chunk, len(events))
		if _, err := pub.Publish(ctx, events[done:end]...); err != nil {
			return done, err
		}
		done = end
		if time.Since(last) > time.Second || (done == len(events) && len(events) > chunk) {
			last = time.Now()
			rate := float64(done) / time.Since(start).Seconds()
			fmt.Fprintf(progress, "published %d/%d events (%.0f/s)\n", done, len(events), rate)
		}
	}
	return done, nil
}
