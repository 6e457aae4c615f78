package deadletter_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/topics"
)

func newTopic(t *testing.T, partitions int32) ([]string, *kgo.Client, string) {
	t.Helper()
	brokers := testenv.KafkaOrFake(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return brokers, cl, testenv.Topic(t, brokers, "t.deadletter", partitions)
}

func letter(topic string, partition int32, i int) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Key: []byte("k" + strconv.Itoa(i)), Value: []byte{byte(i)},
		Headers: []kgo.RecordHeader{{Key: deadletter.HeaderReason, Value: []byte("undecodable")}}}
}

func TestReaderAllReadsEveryPartitionToItsEndInOrder(t *testing.T) {
	brokers, _, topic := newTopic(t, 3)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	for i := range 30 {
		if err := prod.ProduceSync(ctx, letter(topic, int32(i%2*2), i)).FirstErr(); err != nil { // partitions 0 and 2; 1 stays empty
			t.Fatal(err)
		}
	}

	r := deadletter.NewReader(prod, topic)
	var got []deadletter.Position
	for l, err := range r.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Position)
	}
	if len(got) != 30 {
		t.Fatalf("read %d of 30 letters", len(got))
	}
	for i, p := range got {
		want := deadletter.Position{Partition: int32(i / 15 * 2), Offset: int64(i % 15)}
		if p != want {
			t.Fatalf("letter %d at %v, want %v", i, p, want)
		}
	}

	// Stopping early is fine, and At finds letters wherever they are.
	n := 0
	for range r.All(ctx) {
		if n++; n == 5 {
			break
		}
	}
	ls, err := r.At(ctx, deadletter.Position{Partition: 2, Offset: 14}, deadletter.Position{Offset: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || string(ls[0].Key) != "k29" || string(ls[1].Key) != "k6" || ls[0].Reason != "undecodable" {
		t.Fatalf("At returned %+v", ls)
	}
	_, err = r.At(ctx, deadletter.Position{Partition: 1}, deadletter.Position{Offset: 15}, deadletter.Position{Partition: 7})
	if err == nil {
		t.Fatal("At outside the topic did not fail")
	}
	for _, s := range []string{"/1/0: past the end (partition 1 ends at offset 0)", "/15: past the end", "has no partition 7"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

// A transactional producer ends the log with a commit marker, which takes an
// offset but is no record: the read must still see that it reached the end.
func TestReaderAllStopsAfterATransactionMarker(t *testing.T) {
	brokers, cl, topic := newTopic(t, 1)
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(testenv.Name("t.tx")))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	ctx := context.Background()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, letter(topic, 0, 1), letter(topic, 0, 2)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// EndTransaction returns once the commit is decided; the marker that
	// moves the last stable offset past the letters is written after.
	// Wait for it, so that the read's span holds the letters and ends at
	// the marker.
	ends, open, err := topics.StableEnds(ctx, kadm.NewClient(cl), topic, []int32{0}, 30*time.Second)
	if err != nil || len(open) > 0 || ends[0] != 3 {
		t.Fatalf("last stable offset %d, want 3 (two letters and the marker): %v", ends[0], err)
	}
	n := 0
	for _, err := range deadletter.NewReader(cl, topic).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("read %d of 2 letters", n)
	}
}

func TestReaderMissingTopic(t *testing.T) {
	_, cl, _ := newTopic(t, 1)
	for _, err := range deadletter.NewReader(cl, testenv.Name("t.missing")).All(context.Background()) {
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("err = %v, want UnknownTopicOrPartition", err)
		}
		return
	}
	t.Fatal("no error for a missing topic")
}
