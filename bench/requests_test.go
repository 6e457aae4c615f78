package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Each client counts the requests it writes under its own name, and since
// gives what was written after a snapshot.
func TestRequestsCountsByClientAndKind(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var reqs Requests
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), reqs.Opt("producer"), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	other, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), reqs.Opt("other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	before := reqs.snapshot()
	for range 3 {
		if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := map[[2]string]int64{}
	for _, c := range reqs.since(before) {
		got[[2]string{c.Client, c.Request}] = c.Count
	}
	// Three records produced one at a time: three Produce requests.
	if n := got[[2]string{"producer", "Produce"}]; n != 3 {
		t.Errorf("producer's Produce requests after the snapshot = %d, want 3 (all: %v)", n, got)
	}
	for k := range got {
		if k[0] == "other" {
			t.Errorf("other wrote %s after the snapshot, it wrote nothing then (all: %v)", k[1], got)
		}
	}
	// The ping before the snapshot counted for other, not after it.
	if all := reqs.snapshot(); all[[2]string{"other", "Metadata"}] == 0 {
		t.Errorf("other's Metadata request (its ping) not counted: %v", all)
	}
}

// The table gives requests per command sent, by kind and by client, most
// first; steps that counted none are left out.
func TestWriteRequests(t *testing.T) {
	steps := []APIStep{
		{Rate: 1000, Wait: true, Latency: KindSummary{Requests: 200}, Requests: []RequestCount{
			{Client: "decider", Request: "Fetch", Count: 100},
			{Client: "projector", Request: "Fetch", Count: 300},
			{Client: "decider", Request: "EndTxn", Count: 50},
		}},
		{Rate: 2000, Wait: false, Latency: KindSummary{Requests: 10}},
	}
	var b strings.Builder
	writeRequests(&b, steps)
	want := "Kafka requests the stack wrote at 1000/s wait: 2.25 per command (450 in 200 commands); by kind: Fetch 2.00, EndTxn 0.25; by client: projector 1.50, decider 0.75\n"
	if got := strings.TrimLeft(b.String(), "\n"); got != want {
		t.Errorf("writeRequests =\n%q\nwant\n%q", got, want)
	}
}
