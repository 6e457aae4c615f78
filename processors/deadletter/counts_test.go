package deadletter_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/deadletter"
)

// failed is the dead letter group wrote for the record at offset of
// partition 0 of topic "t.events".
func failed(dlq, group string, offset int64) *kgo.Record {
	src := &kgo.Record{Topic: "t.events", Partition: 0, Offset: offset, Key: []byte("k"), Value: []byte{1}}
	return deadletter.Record(src, errors.New("does not decode"), group, dlq)
}

// producer returns a function producing records with cl, failing t on
// an error.
func producer(t *testing.T, ctx context.Context, cl *kgo.Client) func(...*kgo.Record) {
	return func(recs ...*kgo.Record) {
		t.Helper()
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// Counts counts each failed record once per group, reads only what was
// written since its last count, and counts again from the start when
// retention deleted letters it had counted.
func TestCounts(t *testing.T) {
	_, cl, dlq := newTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produce := producer(t, ctx, cl)
	var c deadletter.Counts
	count := func(want map[string]int64, read int64) {
		t.Helper()
		got, err := c.Count(ctx, cl, dlq)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("counts %v, want %v", got, want)
		}
		if n := c.Read(); n != read {
			t.Fatalf("%d letters read in all, want %d", n, read)
		}
	}

	produce(failed(dlq, "g1", 5), failed(dlq, "g2", 5), failed(dlq, "g1", 5), failed(dlq, "g1", 9)) // g1's 5 twice: a replay
	count(map[string]int64{"g1": 2, "g2": 1}, 4)
	count(map[string]int64{"g1": 2, "g2": 1}, 4) // nothing new, nothing read

	// A count reads on from where the last stopped: a letter of a
	// record it saw before (read in the first count) is not counted again.
	produce(failed(dlq, "g1", 9), failed(dlq, "g2", 7))
	count(map[string]int64{"g1": 2, "g2": 2}, 6) // the two new ones read

	// Retention deleted the first three letters: counted again from the
	// log start: g1's 5 (both copies) and g2's 5 are gone, g1's 9 (twice)
	// and g2's 7 are there.
	res, err := kadm.NewClient(cl).DeleteRecords(ctx, kadm.Offsets{dlq: {0: {Topic: dlq, Partition: 0, At: 3}}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	count(map[string]int64{"g1": 1, "g2": 1}, 6+3)

	// Another Counts counts the same from scratch.
	got, err := new(deadletter.Counts).Count(ctx, cl, dlq)
	if err != nil || !maps.Equal(got, map[string]int64{"g1": 1, "g2": 1}) {
		t.Fatalf("a fresh count: %v, %v", got, err)
	}

	// A missing topic has none.
	if got, err := c.Count(ctx, cl, dlq+".none"); err != nil || len(got) != 0 {
		t.Fatalf("a missing topic: %v, %v", got, err)
	}
}

// A topic deleted and made again under the same name is counted anew,
// even once it holds as many letters as the old one did: its offsets start
// again from 0, and only its ID tells it from the old.
func TestCountsSeeATopicMadeAgain(t *testing.T) {
	brokers, cl, dlq := newTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produce := producer(t, ctx, cl)
	var c deadletter.Counts
	produce(failed(dlq, "g1", 1), failed(dlq, "g1", 2), failed(dlq, "g1", 3))
	if got, err := c.Count(ctx, cl, dlq); err != nil || !maps.Equal(got, map[string]int64{"g1": 3}) {
		t.Fatalf("first count: %v, %v", got, err)
	}

	adm := testenv.Admin(t, brokers)
	if _, err := adm.DeleteTopic(ctx, dlq); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		res, err := adm.CreateTopic(ctx, 1, 1, nil, dlq)
		if err == nil {
			err = res.Err
		}
		return err // TopicAlreadyExists while the deletion is under way
	})
	// A new producer: the old one keeps the old topic's ID.
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	testenv.Eventually(t, 30*time.Second, func() error {
		return prod.ProduceSync(ctx, failed(dlq, "g2", 1), failed(dlq, "g2", 2), failed(dlq, "g2", 3), failed(dlq, "g1", 1)).FirstErr()
	})
	// A client whose cached metadata does not hide the new topic ID.
	fresh, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	got, err := c.Count(ctx, fresh, dlq)
	if err != nil || !maps.Equal(got, map[string]int64{"g1": 1, "g2": 3}) {
		t.Fatalf("count of the topic made again: %v, %v; want g1 1, g2 3", got, err)
	}
}

// A count whose context has ended says so, and the next counts all.
func TestCountsStoppedGoesOn(t *testing.T) {
	_, cl, dlq := newTopic(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 50 {
		if err := cl.ProduceSync(ctx, failed(dlq, "g1", int64(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var c deadletter.Counts
	stopped, stop := context.WithCancel(ctx)
	stop()
	if _, err := c.Count(stopped, cl, dlq); !errors.Is(err, context.Canceled) {
		t.Fatalf("a count with its context ended: %v, want it to say so", err)
	}
	got, err := c.Count(ctx, cl, dlq)
	if err != nil || got["g1"] != 50 {
		t.Fatalf("the next count: %v, %v; want 50 of g1", got, err)
	}
}
