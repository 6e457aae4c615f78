package rebuild_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/rebuild"
)

type liveOf struct {
	name string
	gen  int
	err  error
}

func (l liveOf) Name() string                      { return l.name }
func (l liveOf) Live(context.Context) (int, error) { return l.gen, l.err }

// reportKafka is a client of a fake broker holding an events topic of
// three partitions, and the topic's name.
func reportKafka(t *testing.T) (*kgo.Client, string) {
	t.Helper()
	brokers := fakeKafka(t)
	events := testenv.Topic(t, brokers, "t.report-events", 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, events
}

// A projection whose store does not answer is reported as unreachable,
// with why; the others are reported as usual. (Its error failed the whole
// report: `streamview projections` showed nothing while Elasticsearch was
// down.)
func TestReportGoesOnPastAnUnreachableStore(t *testing.T) {
	cl, events := reportKafka(t)
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

// A generation's dead-letter count is of records, each once: read again
// from the start (a replay, a refill), a group dead-letters the same
// records again, and a re-driven copy that fails again is the same record.
// Each letter counted (a replay doubled the count).
func TestReportCountsEachDeadLetteredRecordOnce(t *testing.T) {
	brokers := fakeKafka(t)
	events := testenv.Topic(t, brokers, "t.report-events", 3)
	dlq := testenv.Topic(t, brokers, "t.report-dlq", 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	letter := func(group string, headers ...string) *kgo.Record {
		hs := []kgo.RecordHeader{{Key: deadletter.HeaderProjection, Value: []byte(group)}}
		for i := 0; i < len(headers); i += 2 {
			hs = append(hs, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
		}
		return &kgo.Record{Topic: dlq, Value: []byte("x"), Headers: hs}
	}
	at := func(p, o string) []string {
		return []string{deadletter.HeaderSourceTopic, events, deadletter.HeaderSourcePartition, p, deadletter.HeaderSourceOffset, o}
	}
	g1, g2 := processors.GroupName("t-view", 1), processors.GroupName("t-view", 2)
	recs := []*kgo.Record{
		letter(g1, at("0", "5")...),
		letter(g1, at("0", "5")...), // the replay's
		letter(g1, at("1", "9")...),
		letter(g1, append([]string{deadletter.HeaderRedrivenOrigin, "0/5"}, at("0", "40")...)...), // re-driven, failed again
		letter(g1), // says nothing of its record
		letter(g2, at("0", "5")...),
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rs, err := rebuild.Report(context.Background(), cl, rebuild.ReportConfig{Topic: events},
		rebuild.Source{Target: liveOf{name: "t-view", gen: 1}, DeadLetterTopic: dlq})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].DeadLettered != 3 {
		t.Fatalf("report = %+v, want generation 1 with 3 records dead-lettered", rs)
	}
}

// hangingLive is a store that accepts the read and never answers.
type hangingLive struct{ name string }

func (h hangingLive) Name() string { return h.name }
func (h hangingLive) Live(ctx context.Context) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// A store that never answers is reported unreachable within half of what
// is left of the report's deadline, and the others are reported: GET
// /v1/projections hung for minutes on an Elasticsearch that accepted
// connections and never answered.
func TestReportGoesOnPastAStoreThatNeverAnswers(t *testing.T) {
	cl, events := reportKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	start := time.Now()
	rs, err := rebuild.Report(ctx, cl, rebuild.ReportConfig{Topic: events},
		rebuild.Source{Target: hangingLive{name: "t-hangs"}, DeadLetterTopic: events},
		rebuild.Source{Target: liveOf{name: "t-up", gen: 1}, DeadLetterTopic: events})
	if err != nil {
		t.Fatalf("report after %v: %v", time.Since(start), err)
	}
	if len(rs) != 2 {
		t.Fatalf("report = %+v, want two entries", rs)
	}
	if r := rs[0]; r.Projection != "t-hangs" || r.State != rebuild.StateUnreachable || !strings.Contains(r.Error, "deadline") {
		t.Errorf("the store that never answers: %+v", r)
	}
	if r := rs[1]; r.Projection != "t-up" || r.State != rebuild.StateLive || len(r.Partitions) != 3 {
		t.Errorf("the reachable one: %+v", r)
	}
}
