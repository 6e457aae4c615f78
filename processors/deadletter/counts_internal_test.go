package deadletter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
)

// A count stopped part way keeps what it read: the next reads only the
// rest, and the total is every letter once. A caller that cannot wait for
// its turn gets the last count.
func TestCountsKeepWhatAStoppedCountRead(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	dlq := testenv.Topic(t, brokers, "t.counts", 1)
	// One record batch a fetch: the count reads in several batches.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.FetchMaxPartitionBytes(1), kgo.FetchMaxBytes(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 20
	for i := range n {
		src := &kgo.Record{Topic: "t.events", Offset: int64(i), Value: []byte{1}}
		if err := cl.ProduceSync(ctx, Record(src, errors.New("does not decode"), "g1", dlq)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	var c Counts
	first, stop := context.WithCancel(ctx)
	afterBatch = stop
	defer func() { afterBatch = nil }()
	part, err := c.Count(first, cl, dlq)
	afterBatch = nil
	if !errors.Is(err, context.Canceled) || part["g1"] < 1 || part["g1"] >= n {
		t.Fatalf("a count stopped after its first batch: %v, %v; want part of the %d letters and the context's error", part, err, n)
	}
	read := c.Read()

	// Meanwhile, a caller that cannot wait gets the last count.
	tl := c.tally(dlq)
	tl.turn <- struct{}{}
	waiting, cancelWait := context.WithTimeout(ctx, 50*time.Millisecond)
	last, err := c.Count(waiting, cl, dlq)
	cancelWait()
	<-tl.turn
	if !errors.Is(err, context.DeadlineExceeded) || last["g1"] != part["g1"] {
		t.Fatalf("a count kept waiting: %v, %v; want the last count %v and the deadline", last, err, part)
	}

	all, err := c.Count(ctx, cl, dlq)
	if err != nil || all["g1"] != n {
		t.Fatalf("the next count: %v, %v; want %d", all, err, n)
	}
	if c.Read() != n {
		t.Fatalf("%d letters read in all (%d by the stopped count), want each of the %d once", c.Read(), read, n)
	}
}
