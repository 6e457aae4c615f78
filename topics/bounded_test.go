package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
)

// writer produces to chosen partitions of one topic, plainly or in
// transactions.
type writer struct {
	t       *testing.T
	brokers []string
	topic   string
}

func (w writer) client(opts ...kgo.Opt) *kgo.Client {
	w.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(w.brokers...),
		kgo.DefaultProduceTopic(w.topic), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(cl.Close)
	return cl
}

func (w writer) records(p int32, values ...string) []*kgo.Record {
	out := make([]*kgo.Record, len(values))
	for i, v := range values {
		out[i] = &kgo.Record{Partition: p, Value: []byte(v)}
	}
	return out
}

// plain writes values to partition p without a transaction.
func (w writer) plain(cl *kgo.Client, p int32, values ...string) {
	w.t.Helper()
	if err := cl.ProduceSync(context.Background(), w.records(p, values...)...).FirstErr(); err != nil {
		w.t.Fatalf("produce to %s partition %d: %v", w.topic, p, err)
	}
}

// begin opens a transaction on a client of its own and writes values to
// partition p in it; end ends it and waits for its marker: the broker
// answers EndTxn before it writes the markers, and a record written
// meanwhile would land before the marker. (Not StableEnds: another
// transaction may be left open on p, which holds the last stable offset
// below the end, but past this one's records.)
func (w writer) begin(p int32, values ...string) (end func(kgo.TransactionEndTry)) {
	w.t.Helper()
	cl := w.client(kgo.TransactionalID(testenv.Name("t.txn")), kgo.TransactionTimeout(30*time.Second))
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		w.t.Fatal(err)
	}
	first, err := cl.ProduceSync(ctx, w.records(p, values...)...).First()
	if err != nil {
		w.t.Fatalf("produce to %s partition %d: %v", w.topic, p, err)
	}
	return func(commit kgo.TransactionEndTry) {
		w.t.Helper()
		if err := cl.EndTransaction(ctx, commit); err != nil {
			w.t.Fatalf("end transaction: %v", err)
		}
		adm := kadm.NewClient(cl)
		testenv.Eventually(w.t, 30*time.Second, func() error {
			lso, err := adm.ListCommittedOffsets(ctx, w.topic)
			if err != nil {
				return err
			}
			if o, _ := lso.Lookup(w.topic, p); o.Offset <= first.Offset {
				return fmt.Errorf("partition %d: last stable offset %d, the transaction began at %d", p, o.Offset, first.Offset)
			}
			return nil
		})
	}
}

// readAll reads spans and returns the values fn saw per partition, checking
// that each call holds one partition's records in offset order.
func readAll(t *testing.T, brokers []string, topic string, spans map[int32]Span) (map[int32][]string, error) {
	t.Helper()
	got := map[int32][]string{}
	last := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, spans, func(recs []*kgo.Record) error {
		if len(recs) == 0 {
			return errors.New("fn called with no records")
		}
		for _, r := range recs {
			switch {
			case r.Topic != topic || r.Partition != recs[0].Partition:
				return fmt.Errorf("one call mixes %s/%d with %s/%d", recs[0].Topic, recs[0].Partition, r.Topic, r.Partition)
			case r.Attrs.IsControl():
				return fmt.Errorf("control record at %d/%d handed to fn", r.Partition, r.Offset)
			case r.Offset >= spans[r.Partition].To || r.Offset < spans[r.Partition].From:
				return fmt.Errorf("record %d/%d outside its span %+v", r.Partition, r.Offset, spans[r.Partition])
			}
			if l, ok := last[r.Partition]; ok && r.Offset <= l {
				return fmt.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, l)
			}
			last[r.Partition] = r.Offset
			got[r.Partition] = append(got[r.Partition], string(r.Value))
		}
		return nil
	})
	return got, err
}

// TestReadBounded runs on the real broker, and on kfake (testenv.KafkaOrFake).
func TestReadBounded(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.bounded", 4)
	w := writer{t: t, brokers: brokers, topic: topic}
	plain := w.client()

	// Partition 0: plain records. 1: empty. 2: a committed transaction
	// last, so the span's last offset is its marker. 3: aborted
	// transactions in the middle and last.
	w.plain(plain, 0, "a", "b", "c", "d", "e")
	w.plain(plain, 2, "x")
	w.begin(2, "y", "z")(kgo.TryCommit)
	w.plain(plain, 3, "m")
	w.begin(3, "aborted-1", "aborted-2")(kgo.TryAbort)
	w.plain(plain, 3, "n")
	w.begin(3, "aborted-3")(kgo.TryAbort)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spans, err := Spans(ctx, testenv.Admin(t, brokers), topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]Span{0: {0, 5}, 1: {0, 0}, 2: {0, 4}, 3: {0, 7}}
	if !maps.Equal(spans, want) {
		t.Fatalf("Spans = %v, want %v", spans, want)
	}

	tests := []struct {
		name  string
		spans map[int32]Span
		want  map[int32][]string
	}{
		{"every partition from the start", spans, map[int32][]string{0: {"a", "b", "c", "d", "e"}, 2: {"x", "y", "z"}, 3: {"m", "n"}}},
		{"from the middle", map[int32]Span{0: {2, 5}, 3: {4, 7}}, map[int32][]string{0: {"c", "d", "e"}, 3: {"n"}}},
		{"to the middle", map[int32]Span{0: {1, 3}, 2: {0, 2}}, map[int32][]string{0: {"b", "c"}, 2: {"x", "y"}}},
		{"ending on a commit marker", map[int32]Span{2: {1, 4}}, map[int32][]string{2: {"y", "z"}}},
		{"only aborted records and their marker", map[int32]Span{3: {5, 7}}, map[int32][]string{}},
		{"only the empty partition", map[int32]Span{1: {0, 0}}, map[int32][]string{}},
		{"no partitions", nil, map[int32][]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := idleChecks.Load()
			got, err := readAll(t, brokers, topic, tt.spans)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("read %v, want %v", got, tt.want)
			}
			// Markers and empty spans end a read; it never needs to
			// wait for an idle poll here.
			if n := idleChecks.Load() - before; n != 0 {
				t.Errorf("the read waited for %d idle polls; it should have ended at its markers", n)
			}
		})
	}

	t.Run("fn's error stops the read", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, spans, func([]*kgo.Record) error {
			calls++
			return stop
		})
		if err != stop || calls != 1 {
			t.Fatalf("ReadBounded = %v after %d calls, want fn's error after 1", err, calls)
		}
	})
	t.Run("a cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := ReadBounded(cctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, spans, func([]*kgo.Record) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ReadBounded = %v, want context.Canceled", err)
		}
	})
}

// A span that ends with records of an aborted transaction whose marker lies
// past the end (another transaction was open before the marker): the read
// never sees a position at the end, and ends when a poll stays empty.
func TestReadBoundedAbortedTailPastTheEnd(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.bounded", 1)
	w := writer{t: t, brokers: brokers, topic: topic}
	w.plain(w.client(), 0, "a")
	endFirst := w.begin(0, "aborted")
	endSecond := w.begin(0, "open")
	endFirst(kgo.TryAbort) // its marker goes after "open"
	defer endSecond(kgo.TryAbort)
	// Quiet for less than the default 30s, to keep the test short.
	defer func(q time.Duration) { boundedQuiet = q }(boundedQuiet)
	boundedQuiet = 5 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spans, err := Spans(ctx, testenv.Admin(t, brokers), topic)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Span{0, 2}); spans[0] != want {
		t.Fatalf("span %+v, want %+v: the open transaction holds the last stable offset at its first record", spans[0], want)
	}
	before := idleChecks.Load()
	got, err := readAll(t, brokers, topic, spans)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a"}; !slices.Equal(got[0], want) {
		t.Errorf("read %v, want %v", got[0], want)
	}
	if idleChecks.Load() == before {
		t.Errorf("the read ended without an idle poll; the test did not build the case it means to")
	}
}

func TestSpansOfAMissingTopic(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Spans(ctx, testenv.Admin(t, brokers), testenv.Name("t.missing"))
	if err == nil || !strings.Contains(err.Error(), "t.missing") {
		t.Fatalf("Spans of a missing topic = %v, want an error naming it", err)
	}
}
