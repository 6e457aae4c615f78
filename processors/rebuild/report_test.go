package rebuild_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/sinks/redisview/redistest"
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

// A process that does not run a generation's projector (an API-only
// serve) reports its rate from the group's committed offsets between two
// reports, and no applied count: it answered 0 records/s while a projector
// in another process committed dozens a second. The first report has
// nothing to measure from and says so (no rate) rather than 0.
func TestReportRatesAProjectorElsewhereFake(t *testing.T) {
	testReportRatesElsewhere(t, fakeKafka(t), redistest.Miniredis(t))
}

func TestReportRatesAProjectorElsewhere(t *testing.T) {
	testReportRatesElsewhere(t, testenv.Kafka(t), redistest.RealRedis(t))
}

func testReportRatesElsewhere(t *testing.T, brokers []string, rc redis.UniversalClient) {
	w := newWorld(t, brokers)
	vt, store, _ := views(t, rc)
	w.cleanupGroups(t, vt.Name())
	if _, err := store.EnsureLive(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// Another process's projector: here, a Runner this report knows
	// nothing of.
	proc := w.processor(t, vt, 1)
	background(t, "projector", proc.Run)
	events := eventgen.Stream(eventgen.Options{Products: 50, Events: 100000, Seed: 9})
	background(t, "publisher", func(ctx context.Context) error {
		for len(events) > 0 && ctx.Err() == nil {
			n := min(len(events), 20)
			if _, err := w.pub.Publish(ctx, events[:n]...); err != nil {
				return err
			}
			events = events[n:]
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	})
	rates := new(rebuild.Rates)
	t0 := time.Now()
	report := func() rebuild.GenerationReport {
		t.Helper()
		rs, err := rebuild.Report(context.Background(), w.cl, rebuild.ReportConfig{Topic: w.topic, Rates: rates},
			rebuild.Source{Target: vt, DeadLetterTopic: w.dlq})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].Generation != 1 || rs[0].State != rebuild.StateLive {
			t.Fatalf("report = %+v, want generation 1 live", rs)
		}
		return rs[0]
	}
	if r := report(); r.RatePerSec != nil {
		t.Fatalf("the first report's rate = %v, want none (nothing to measure from yet)", *r.RatePerSec)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		r := report()
		if r.Applied != 0 || r.LastBatch != nil {
			t.Fatalf("applied %d, last batch %v: counted by a projector of this process, and none runs here", r.Applied, r.LastBatch)
		}
		if proc.Stats().Applied == 0 {
			return testenv.Errorf("the projector has applied nothing yet")
		}
		if r.RatePerSec == nil || *r.RatePerSec <= 0 {
			return testenv.Errorf("rate %v while the projector commits", r.RatePerSec)
		}
		t.Logf("%v: rate %.0f/s from the committed offsets; the projector's own: %.0f/s", time.Since(t0), *r.RatePerSec, proc.Stats().Rate)
		return nil
	})
}
