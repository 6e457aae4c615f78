package runtimetest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// Outcome is what a Run did.
type Outcome struct {
	Stats processors.Stats // the processor's counters once every record was committed
	Dead  []*kgo.Record    // the dead-letter topic's records, in order
}

// Run publishes events to an events topic of its own with one partition (so
// that the runtime hands them to proj in as few batches as it can), runs
// proj on it until every record is committed and wantDead records are
// dead-lettered, and returns the dead letters. It fails t when that does
// not happen within two minutes.
func Run(t *testing.T, proj processors.Projection, events []schemas.Event, wantDead int) Outcome {
	t.Helper()
	brokers := testenv.KafkaOrFake(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := testenv.Topic(t, brokers, "t.events", 1)
	dlq := testenv.Topic(t, brokers, "t.dlq", 1)
	ctx := context.Background()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producers.NewPublisher(cl, codec, topic).Publish(ctx, events...); err != nil {
		t.Fatal(err)
	}

	p, err := processors.New(processors.Config{
		Name: testenv.Name("contract"), Generation: 1, Topic: topic, DeadLetterTopic: dlq,
		MinBackoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxBatch: max(len(events), 1),
	}, codec, proj, kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	testenv.Eventually(t, 2*time.Minute, func() error {
		if s := p.Stats(); s.Records != int64(len(events)) || s.DeadLettered != int64(wantDead) {
			return testenv.Errorf("committed %d of %d records, dead-lettered %d of %d (retries %d)",
				s.Records, len(events), s.DeadLettered, wantDead, s.Retries)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return Outcome{Stats: p.Stats(), Dead: read(t, brokers, dlq, wantDead)}
}

// read reads every record of topic, which must be n.
func read(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spans, err := topics.Spans(ctx, testenv.Admin(t, brokers), topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []*kgo.Record
	err = topics.ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, spans, func(recs []*kgo.Record) error {
		out = append(out, recs...)
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	if len(out) != n {
		t.Fatalf("%s holds %d records, want %d", topic, len(out), n)
	}
	return out
}
