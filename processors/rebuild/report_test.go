package rebuild_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/rebuild"
)

type liveOf struct {
	name string
	gen  int
	err  error
}

func (l liveOf) Name() string                      { return l.name }
func (l liveOf) Live(context.Context) (int, error) { return l.gen, l.err }

// A projection whose store does not answer is reported as unreachable,
// with why; the others are reported as usual. (Its error failed the whole
// report: `streamview projections` showed nothing while Elasticsearch was
// down.)
func TestReportGoesOnPastAnUnreachableStore(t *testing.T) {
	brokers := fakeKafka(t)
	events := testenv.Topic(t, brokers, "t.report-events", 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rs, err := rebuild.Report(context.Background(), cl, rebuild.ReportConfig{Topic: events},
		rebuild.Source{Target: liveOf{name: "t-down", err: errors.New("dial tcp: connection refused")}, DeadLetterTopic: events},
		rebuild.Source{Target: liveOf{name: "t-up", gen: 1}, DeadLetterTopic: events})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("report = %+v, want two entries", rs)
	}
	if r := rs[0]; r.Projection != "t-down" || r.State != rebuild.StateUnreachable || r.Error != "live generation: dial tcp: connection refused" {
		t.Errorf("the unreachable one: %+v", r)
	}
	if r := rs[1]; r.Projection != "t-up" || r.State != rebuild.StateLive || r.Generation != 1 || len(r.Partitions) != 3 || r.Error != "" {
		t.Errorf("the reachable one: %+v", r)
	}
}
