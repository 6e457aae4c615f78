package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

func init() {
	commands["dlq"] = command{
		summary: "list, show and re-drive a projection's dead letters (dlq list|show|redrive)",
		usage:   "list|show|redrive (--projection NAME | --topic TOPIC) [flags] [OFFSET...]",
		help: `A record a projection cannot decode, or that its store rejects, goes to the
projection's dead-letter topic catalog.<projection>.dlq with its original key,
value and headers plus dlq-* headers saying why (dlq-error, dlq-reason) and
where from (dlq-source-topic, dlq-source-partition, dlq-source-offset,
dlq-projection, dlq-time). These subcommands read that topic without a
consumer group: they commit nothing and never disturb the projection.

  list     One line per dead letter, from the topic's start to its end when
           the command starts (it does not wait for more): offset, time,
           reason, source topic[partition]@offset, aggregate key, first line
           of the error; then a count. --limit N stops after N lines;
           --reason R lists only that reason (undecodable, unknown-schema,
           unknown-event-type, invalid, rejected; the notifier's:
           undeliverable, gone, forbidden).
  show     Everything about the dead letters at OFFSET...: every header, the
           key, the value as a hex dump (the first --bytes bytes) and, when
           the value decodes, the event as JSON.
  redrive  Publishes dead letters back to their source topic (dlq-source-topic)
           with the original key, value and headers: the dlq-* headers are
           removed; dlq-redriven-from: <dlq topic>/<offset> and
           dlq-redriven-origin: <partition>/<offset> (where the event first
           was, which the notifier goes by) are added. Pick them with
           --offset N (repeat it, or N,M, or give offsets as arguments) or
           --all (with --reason R, only that reason). --dry-run prints what
           would be published and publishes nothing. Use it once the bug
           that made the projection fail is fixed: the projection then sees
           the records again. It leaves out, and says why: a letter whose
           record still does not decode or validate (every projection
           would dead-letter it again); one whose source topic is not named
           (the notifier's letters are notifications, not events) or gone;
           and every letter of a record after its first (a replay, a
           rebuild's generation or another projection dead-lettered it
           too): each record goes back once. With --offset, a letter left
           out makes the command exit 1.

OFFSET is the offset list prints: N for partition 0 (the dead-letter topics
of topics.yaml have one partition) or PARTITION/N for another.

Re-driving deletes nothing: Kafka cannot delete single records, so dead
letters stay in the topic until its retention (30 days in topics.yaml)
removes them, and re-driving the same offset twice publishes it twice. A
projection applies an event only when its version is newer than what the
view holds: a re-driven event is skipped as a duplicate if a later event of
the same product was applied meanwhile (rebuild the projection then). A
record that fails again is dead-lettered again, at a new offset, by every
projection that reads it.

Examples:
  streamview dlq list --projection product-view
  streamview dlq list --projection product-search --reason rejected --limit 20
  streamview dlq show --projection product-view 42
  streamview dlq redrive --projection product-view --offset 42,57 --dry-run
  streamview dlq redrive --projection product-view --offset 42 --offset 57
  streamview dlq redrive --projection product-view --all --reason rejected
  streamview dlq list --topic catalog.product-view.dlq --brokers kafka:9092`,
		run: runDLQ,
	}
}

func runDLQ(ctx context.Context, e env, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "list":
		return runDLQList(ctx, e, args[1:])
	case "show":
		return runDLQShow(ctx, e, args[1:])
	case "redrive":
		return runDLQRedrive(ctx, e, args[1:])
	case "-h", "-help", "--help", "help":
		printCommandHelp(e.stdout, "dlq", commands["dlq"])
		return flag.ErrHelp
	case "":
		return dlqUsage(e, "", "name the subcommand: list, show or redrive")
	}
	return dlqUsage(e, "", "unknown subcommand %q (want list, show or redrive)", sub)
}

// dlqUsage reports a misuse, briefly: the full help is long. The flags
// are the subcommands': without one, it names their help.
func dlqUsage(e env, sub, format string, args ...any) error {
	if sub == "" {
		fmt.Fprintf(e.stderr, "streamview dlq: %s\nRun 'streamview dlq list --help' (or show, redrive) for its flags, 'streamview dlq --help' for the whole help.\n", fmt.Sprintf(format, args...))
		return errUsage
	}
	return usageError(e.stderr, "dlq "+sub, format, args...)
}

// dlqFlags are the flags every dlq subcommand shares.
type dlqFlags struct {
	kafkaFlags
	registry          *connect.SchemaRegistryFlags
	projection, topic string
}

func (d *dlqFlags) register(fs *flag.FlagSet, e env) {
	d.kafkaFlags.register(fs, e)
	d.registry = connect.RegisterSchemaRegistryReader(fs, e.getenv)
	fs.StringVar(&d.projection, "projection", "", "the projection whose dead letters to read, e.g. product-view (topic catalog.<projection>.dlq)")
	fs.StringVar(&d.topic, "topic", "", "the dead-letter topic itself, instead of --projection")
}

// codec decodes events as the projections do, with the schema registry
// the flags name, if any.
func (d *dlqFlags) codec(ctx context.Context) (*schemas.Codec, error) {
	reg, err := d.registry.Load()
	if err != nil {
		return nil, err
	}
	return newDecoder(ctx, reg)
}

// dlqTopic is the dead-letter topic the flags name.
func (d *dlqFlags) dlqTopic() (string, error) {
	byName := ""
	if d.projection != "" {
		byName = topics.DeadLetter(d.projection)
	}
	switch {
	case d.topic == "" && byName == "":
		return "", errors.New("name the dead-letter topic with --projection NAME (topic catalog.NAME.dlq) or --topic TOPIC")
	case d.topic != "" && byName != "" && d.topic != byName:
		return "", fmt.Errorf("--projection %s means topic %s, but --topic says %s: give one", d.projection, byName, d.topic)
	case d.topic != "":
		return d.topic, nil
	}
	return byName, nil
}

// explain adds advice to an error about a missing dead-letter topic.
func (d *dlqFlags) explain(topic string, err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		hint := "check --topic"
		if d.projection != "" {
			hint = fmt.Sprintf("is %q the projection's name, e.g. product-view? `streamview topics apply` creates its dead-letter topic", d.projection)
		}
		return fmt.Errorf("dead-letter topic %s does not exist (%s): %w", topic, hint, err)
	}
	return err
}

// parseDLQ parses flags that may come before and after the positional
// arguments (`show 42 --projection x` as well as `show --projection x 42`),
// and returns the positional ones.
func parseDLQ(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseWithArgs(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// positions is a flag of dead-letter offsets, repeatable and comma separated.
type positions []deadletter.Position

func (p *positions) String() string {
	s := make([]string, len(*p))
	for i, pos := range *p {
		s[i] = pos.String()
	}
	return strings.Join(s, ",")
}

func (p *positions) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		pos, err := deadletter.ParsePosition(part)
		if err != nil {
			return err
		}
		*p = append(*p, pos)
	}
	return nil
}

// dlqReasons are the values of the dlq-reason header: the projections'
// and the notifier's (catalog.notifier.dlq, read with --topic).
var dlqReasons = append(deadletter.Reasons(), notifier.Reasons()...)

// checkReason refuses a --reason no dead letter can have.
func checkReason(e env, sub, reason string) error {
	if reason == "" || slices.Contains(dlqReasons, reason) {
		return nil
	}
	return dlqUsage(e, sub, "--reason %q: want one of %s", reason, strings.Join(dlqReasons, ", "))
}

func runDLQList(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "dlq list")
	var d dlqFlags
	d.register(fs, e)
	limit := fs.Int("limit", 0, "print at most N dead letters (0: all)")
	reason := fs.String("reason", "", "list only dead letters with this dlq-reason")
	pos, err := parseDLQ(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return dlqUsage(e, "list", "unexpected argument %q (to see one dead letter, use dlq show)", pos[0])
	}
	if *limit < 0 {
		return dlqUsage(e, "list", "--limit must be 0 (all) or more, not %d", *limit)
	}
	if err := checkReason(e, "list", *reason); err != nil {
		return err
	}
	topic, err := d.dlqTopic()
	if err != nil {
		return dlqUsage(e, "list", "%v", err)
	}
	cl, err := d.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()

	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	n, more := 0, false
	for l, err := range deadletter.NewReader(cl, topic).All(ctx) {
		if err != nil {
			tw.Flush()
			return d.explain(topic, err)
		}
		if *reason != "" && l.Reason != *reason {
			continue
		}
		if *limit > 0 && n == *limit {
			more = true
			break
		}
		if n == 0 {
			fmt.Fprintln(tw, "OFFSET\tTIME\tREASON\tSOURCE\tKEY\tERROR")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Position, letterTime(l.Time), orDash(l.Reason), letterSource(l), printable(l.Key, 64), firstLine(l.Error, 160))
		n++
		if n%1000 == 0 { // a big topic streams out instead of waiting for its end
			tw.Flush()
		}
	}
	tw.Flush()

	what := "dead letters"
	if n == 1 {
		what = "dead letter"
	}
	if *reason != "" {
		what += " with reason " + *reason
	}
	switch {
	case more:
		fmt.Fprintf(e.stdout, "%d %s shown from %s; stopped at --limit %d, more follow\n", n, what, topic, *limit)
	case n == 0:
		fmt.Fprintf(e.stdout, "no %s in %s\n", what, topic)
	default:
		fmt.Fprintf(e.stdout, "%d %s in %s\n", n, what, topic)
	}
	return nil
}

func runDLQShow(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "dlq show")
	var d dlqFlags
	d.register(fs, e)
	maxBytes := fs.Int("bytes", 256, "hex-dump at most N bytes of the value (0: all)")
	args, err := parseDLQ(fs, args)
	if err != nil {
		return err
	}
	var at positions
	for _, a := range args {
		if err := at.Set(a); err != nil {
			return dlqUsage(e, "show", "%v", err)
		}
	}
	if len(at) == 0 {
		return dlqUsage(e, "show", "which dead letter? give its OFFSET, as dlq list prints it")
	}
	topic, err := d.dlqTopic()
	if err != nil {
		return dlqUsage(e, "show", "%v", err)
	}
	codec, err := d.codec(ctx)
	if err != nil {
		return err
	}
	cl, err := d.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	letters, err := deadletter.NewReader(cl, topic).At(ctx, at...)
	if err != nil {
		return d.explain(topic, err)
	}
	for i, l := range letters {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		showLetter(e.stdout, l, codec, *maxBytes)
	}
	return nil
}

func showLetter(w io.Writer, l deadletter.Letter, codec *schemas.Codec, maxBytes int) {
	fmt.Fprintf(w, "dead letter %s\n", l.ID())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  time\t%s\n", letterTimeFull(l.Time))
	fmt.Fprintf(tw, "  reason\t%s\n", orDash(l.Reason))
	fmt.Fprintf(tw, "  projection\t%s\n", orDash(l.Projection))
	fmt.Fprintf(tw, "  source\t%s\n", letterSource(l))
	tw.Flush()
	errLines := strings.Split(orDash(l.Error), "\n")
	fmt.Fprintf(w, "  error\n")
	for _, line := range errLines {
		fmt.Fprintf(w, "    %s\n", line)
	}

	fmt.Fprintf(w, "key (%d bytes): %s\n", len(l.Key), printable(l.Key, 0))
	fmt.Fprintf(w, "headers (%d):\n", len(l.Headers))
	for _, h := range l.Headers {
		fmt.Fprintf(w, "  %s: %s\n", h.Key, printable(h.Value, 0))
	}

	v := l.Value
	if maxBytes > 0 && len(v) > maxBytes {
		fmt.Fprintf(w, "value (%d bytes, first %d shown):\n", len(v), maxBytes)
		v = v[:maxBytes]
	} else {
		fmt.Fprintf(w, "value (%d bytes):\n", len(v))
	}
	for _, line := range strings.SplitAfter(hex.Dump(v), "\n") {
		if line != "" {
			fmt.Fprint(w, "  "+line)
		}
	}

	ev, err := codec.DecodeEvent(l.Value)
	if err != nil {
		fmt.Fprintf(w, "event: the value does not decode: %v\n", err)
		return
	}
	js, err := schemas.MarshalEventJSON(ev)
	var pretty bytes.Buffer
	if err == nil {
		err = json.Indent(&pretty, js, "  ", "  ")
	}
	if err != nil {
		fmt.Fprintf(w, "event: decodes as %s v%d of %s, but not to JSON: %v\n", ev.Type(), ev.Version, ev.AggregateID, err)
		return
	}
	if verr := ev.Validate(); verr != nil {
		fmt.Fprintf(w, "event (decodes, but fails validation: %v):\n  %s\n", verr, pretty.String())
		return
	}
	fmt.Fprintf(w, "event:\n  %s\n", pretty.String())
}

func runDLQRedrive(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "dlq redrive")
	var d dlqFlags
	d.register(fs, e)
	var at positions
	fs.Var(&at, "offset", "a dead letter to re-drive, by the offset dlq list prints; repeat it or separate with commas")
	all := fs.Bool("all", false, "re-drive every dead letter of the topic (with --reason, every one with that reason)")
	reason := fs.String("reason", "", "with --all: only dead letters with this dlq-reason")
	dry := fs.Bool("dry-run", false, "print what would be re-driven and publish nothing")
	args, err := parseDLQ(fs, args)
	if err != nil {
		return err
	}
	if err := checkReason(e, "redrive", *reason); err != nil {
		return err
	}
	for _, a := range args {
		if err := at.Set(a); err != nil {
			return dlqUsage(e, "redrive", "%v", err)
		}
	}
	switch {
	case len(at) == 0 && !*all:
		return dlqUsage(e, "redrive", "which dead letters? give --offset N (as dlq list prints it) or --all")
	case len(at) > 0 && *all:
		return dlqUsage(e, "redrive", "give --offset or --all, not both")
	case *reason != "" && !*all:
		return dlqUsage(e, "redrive", "--reason selects among --all; with --offset, name the offsets")
	}
	topic, err := d.dlqTopic()
	if err != nil {
		return dlqUsage(e, "redrive", "%v", err)
	}
	codec, err := d.codec(ctx)
	if err != nil {
		return err
	}
	cl, err := d.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()

	r := deadletter.NewReader(cl, topic)
	var letters []deadletter.Letter
	if *all {
		for l, err := range r.All(ctx) {
			if err != nil {
				return d.explain(topic, err)
			}
			if *reason == "" || l.Reason == *reason {
				letters = append(letters, l)
			}
		}
	} else {
		if letters, err = r.At(ctx, unique(at)...); err != nil {
			return d.explain(topic, err)
		}
	}
	if len(letters) == 0 {
		what := "dead letters"
		if *reason != "" {
			what += " with reason " + *reason
		}
		fmt.Fprintf(e.stdout, "no %s in %s: nothing to re-drive\n", what, topic)
		return nil
	}

	if *dry {
		keep, skipped, err := deadletter.Plan(ctx, cl, letters, redrivable(codec))
		if err != nil {
			return err
		}
		for _, l := range keep {
			rec, err := l.RedriveRecord()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "would re-drive %s to %s: key %s, %d bytes, %d headers (was %s, %s)\n",
				l.ID(), rec.Topic, printable(rec.Key, 64), len(rec.Value), len(rec.Headers), letterSource(l), orDash(l.Reason))
		}
		printSkipped(e.stdout, "would leave out", skipped)
		fmt.Fprintf(e.stdout, "dry run: %d of %d dead letters would be re-driven; nothing was published\n", len(keep), len(letters))
		return leftOut(skipped, *all)
	}

	done, skipped, err := deadletter.Redrive(ctx, cl, letters, redrivable(codec))
	for _, rd := range done {
		fmt.Fprintf(e.stdout, "re-drove %s to %s[%d]@%d: key %s (was %s, %s)\n",
			rd.Letter.ID(), rd.Record.Topic, rd.Record.Partition, rd.Record.Offset, printable(rd.Record.Key, 64), letterSource(rd.Letter), orDash(rd.Letter.Reason))
	}
	printSkipped(e.stdout, "left out", skipped)
	fmt.Fprintf(e.stdout, "re-drove %d of %d dead letters; they stay in %s (Kafka cannot delete single records)\n", len(done), len(letters), topic)
	if err != nil {
		return err
	}
	return leftOut(skipped, *all)
}

// printSkipped says which letters a re-drive leaves out, and why.
func printSkipped(w io.Writer, verb string, skipped []deadletter.Skipped) {
	for _, sk := range skipped {
		fmt.Fprintf(w, "%s %s: %v\n", verb, sk.Letter.ID(), sk.Err)
	}
}

// leftOut is the error of a re-drive of named letters that left some
// out (the command exits 1); with --all, leaving out the letters that
// cannot be re-driven is what was asked. A letter of a record re-driven
// with another is not left out: its record went.
func leftOut(skipped []deadletter.Skipped, all bool) error {
	n := 0
	for _, sk := range skipped {
		if !errors.Is(sk.Err, deadletter.ErrSameRecord) {
			n++
		}
	}
	if all || n == 0 {
		return nil
	}
	return fmt.Errorf("%d of the dead letters named cannot be re-driven (above)", n)
}

// unique drops repeated positions, keeping the first.
func unique(ps []deadletter.Position) []deadletter.Position {
	seen := map[deadletter.Position]bool{}
	out := ps[:0:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func letterSource(l deadletter.Letter) string {
	if l.SourceTopic == "" {
		return "-"
	}
	s := l.SourceTopic
	if l.SourcePartition >= 0 {
		s += "[" + strconv.Itoa(int(l.SourcePartition)) + "]"
	}
	if l.SourceOffset >= 0 {
		s += "@" + strconv.FormatInt(l.SourceOffset, 10)
	}
	return s
}

func letterTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func letterTimeFull(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// firstLine returns s up to its first newline, cut to n runes.
func firstLine(s string, n int) string {
	line, _, more := strings.Cut(s, "\n")
	if r := []rune(line); len(r) > n {
		line, more = string(r[:n]), true
	}
	if more {
		line += " …"
	}
	return orDash(line)
}

// printable returns b as text when it is printable UTF-8, quoted otherwise,
// cut to n bytes when n > 0.
func printable(b []byte, n int) string {
	if len(b) == 0 {
		return "-"
	}
	cut := n > 0 && len(b) > n
	if cut {
		b = b[:n]
	}
	s := string(b)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		s = strconv.Quote(s)
	}
	if cut {
		s += "…"
	}
	return s
}
