package rebuild

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors/deadletter"
)

type liveAt int

func (l liveAt) Name() string                      { return "t-view" }
func (l liveAt) Live(context.Context) (int, error) { return int(l), nil }

// A dead-letter topic too long to count in the report's time gives the
// count so far, marked partial, and the report answers: counting is one
// read of the whole topic, and a poison-message storm of millions of
// letters made every GET /v1/projections a 503 at the query timeout.
func TestReportCountsPartOfALongDeadLetterTopic(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "t.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	countLetters = func(_ *deadletter.Counts, ctx context.Context, _ *kgo.Client, _ string) (map[string]int64, error) {
		<-ctx.Done() // counting on past any deadline, 7 letters of g1 so far
		return map[string]int64{"streamview.t-view.g1": 7}, fmt.Errorf("dead letters: %w", ctx.Err())
	}
	defer func() { countLetters = (*deadletter.Counts).Count }()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	rs, err := Report(ctx, cl, ReportConfig{Topic: "t.events"}, Source{Target: liveAt(1), DeadLetterTopic: "t.events"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].State != StateLive || rs[0].DeadLettered != 7 || !rs[0].DeadLetteredPartial || len(rs[0].Partitions) != 3 {
		t.Fatalf("report = %+v, want g1 live with 7 dead letters, partial, and 3 partitions", rs)
	}
}
