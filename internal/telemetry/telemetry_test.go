package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/telemetry"
	"github.com/streamview/streamview/internal/testenv"
)

// scrape answers GET /metrics from tel's handler.
func scrape(t *testing.T, tel *telemetry.Telemetry) string {
	t.Helper()
	w := httptest.NewRecorder()
	tel.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

// PromtoolCheck runs `promtool check metrics` on a scrape: the text format
// and Prometheus's naming conventions. It skips when promtool is not
// installed (make tools installs it).
func promtoolCheck(t *testing.T, body string) {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestMetricsScrape(t *testing.T) {
	tel := telemetry.New(telemetry.Config{})
	// A projection name with every character the text format escapes.
	const odd = "view \"b\\c\nd"
	hooks := tel.Projection(odd, 2)
	_, done := hooks.Apply(context.Background(), make([]*kgo.Record, 3))
	done(nil)
	_, done = hooks.Apply(context.Background(), make([]*kgo.Record, 1))
	done(errors.New("sink down"))
	tel.Transaction(4, 20*time.Millisecond, true)
	tel.Transaction(1, 5*time.Millisecond, false)
	tel.Decided("accepted", 30*time.Millisecond)
	tel.WatchProjections(func() []telemetry.ProjectionStats {
		return []telemetry.ProjectionStats{{
			Projection: odd, Generation: 2, Records: 10, Applied: 8, Duplicates: 2, DeadLettered: 1, Retries: 3,
			Offsets: map[int32]int64{0: 5, 1: 7}, HighWatermarks: map[int32]int64{0: 9, 1: 7},
		}}
	})
	tel.WatchDecider(func() telemetry.DeciderStats {
		return telemetry.DeciderStats{Accepted: 4, Rejected: 1, Events: 4, Partitions: 3}
	})
	tel.WatchOutcomes(func() telemetry.OutcomeStats { return telemetry.OutcomeStats{Decider: 6, Topic: 2} })
	tel.WatchNotifier(func() telemetry.NotifierStats {
		return telemetry.NotifierStats{Events: 20, Queued: 9, Delivered: 7, Failed: 5, DeadLettered: 2, Undecodable: 1, Restored: 3, Stale: 4, Trimmed: 6, Dropped: 8}
	})

	// A Kafka client with the telemetry's options: kprom's metrics.
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.telemetry", 1)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic)}, tel.Kafka("test-client")...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// kprom counts a produced batch in a hook that may run just after
	// ProduceSync returns.
	testenv.Eventually(t, 10*time.Second, func() error {
		want := `streamview_kafka_produce_records_total{client="test-client",topic="` + topic + `"} 1`
		if !strings.Contains(scrape(t, tel), want) {
			return fmt.Errorf("scrape lacks %s", want)
		}
		return nil
	})
	body := scrape(t, tel)
	lbl := `generation="2",projection="view \"b\\c\nd"`
	for _, want := range []string{
		`streamview_projection_records_total{` + lbl + `} 10`,
		`streamview_projection_events_applied_total{` + lbl + `} 8`,
		`streamview_projection_events_duplicate_total{` + lbl + `} 2`,
		`streamview_projection_dead_letters_total{` + lbl + `} 1`,
		`streamview_projection_retries_total{` + lbl + `} 3`,
		`streamview_projection_lag_records{generation="2",partition="0",projection="view \"b\\c\nd"} 4`,
		`streamview_projection_lag_records{generation="2",partition="1",projection="view \"b\\c\nd"} 0`,
		`streamview_projection_apply_duration_seconds_count{` + lbl + `} 2`,
		`streamview_projection_apply_errors_total{` + lbl + `} 1`,
		`streamview_projection_batch_events_sum{` + lbl + `} 4`,
		`streamview_projection_batch_events_bucket{` + lbl + `,le="2"} 1`,
		`streamview_decider_transactions_total{outcome="committed"} 1`,
		`streamview_decider_transactions_total{outcome="aborted"} 1`,
		`streamview_decider_transaction_end_duration_seconds_count{outcome="committed"} 1`,
		`streamview_decider_transaction_commands_sum 5`,
		`streamview_decider_commands_total{result="accepted"} 4`,
		`streamview_decider_partitions 3`,
		`streamview_api_outcomes_total{source="decider"} 6`,
		`streamview_api_outcomes_total{source="topic"} 2`,
		`streamview_notifier_events_total 20`,
		`streamview_notifier_queued_total 9`,
		`streamview_notifier_delivered_total 7`,
		`streamview_notifier_attempts_failed_total 5`,
		`streamview_notifier_dead_letters_total 2`,
		`streamview_notifier_undecodable_total 1`,
		`streamview_notifier_store_restores_total 3`,
		`streamview_notifier_stale_events_total 4`,
		`streamview_notifier_trimmed_total 6`,
		`streamview_notifier_dropped_total 8`,
		`streamview_command_outcome_duration_seconds_count{status="accepted"} 1`,
		// Label sets known in advance start at 0, so that dashboards and
		// alerts see the series before the first event.
		`streamview_command_outcome_duration_seconds_count{status="rejected"} 0`,
		`streamview_kafka_buffered_produce_records{client="test-client"} 0`,
		// The client's one ProduceSync: one Produce request.
		`streamview_kafka_requests_total{client="test-client",request="Produce"} 1`,
		`go_goroutines `,
		`process_cpu_seconds_total `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
	promtoolCheck(t, body)
}

// TestForgetProjection: a retired generation's sink series leave the
// scrape; the live one's stay. (They stayed, frozen, after every rebuild.)
func TestForgetProjection(t *testing.T) {
	tel := telemetry.New(telemetry.Config{})
	for _, gen := range []int{1, 2} {
		_, done := tel.Projection("product-view", gen).Apply(context.Background(), make([]*kgo.Record, 2))
		done(errors.New("sink down"))
	}
	tel.ForgetProjection("product-view", 1)
	body := scrape(t, tel)
	for _, m := range []string{"apply_duration_seconds_count", "batch_events_count", "apply_errors_total"} {
		if strings.Contains(body, "streamview_projection_"+m+`{generation="1"`) {
			t.Errorf("generation 1's %s is still scraped after ForgetProjection", m)
		}
		if !strings.Contains(body, "streamview_projection_"+m+`{generation="2",projection="product-view"} 1`) {
			t.Errorf("generation 2's %s is gone:\n%s", m, body)
		}
	}
}

// TestKafkaClientsOneAfterAnother: clients of one role made one after
// another (a decider's sessions) each report their metrics; one made while
// another of its role is open does not panic.
func TestKafkaClientsOneAfterAnother(t *testing.T) {
	tel := telemetry.New(telemetry.Config{})
	brokers := testenv.KafkaOrFake(t)
	opts := tel.Kafka("decider")
	for range 2 {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = cl.Ping(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		body := scrape(t, tel)
		if !strings.Contains(body, `streamview_kafka_connects_total{client="decider"`) {
			t.Errorf("scrape lacks the client's connects:\n%s", body)
		}
		if !strings.Contains(body, `streamview_kafka_requests_total{client="decider"`) {
			t.Errorf("scrape lacks the client's requests:\n%s", body)
		}
		cl.Close()
		// A closed client leaves the scrape (a retired generation's
		// projector, a rebuild's runner), its request counts too.
		if body := scrape(t, tel); strings.Contains(body, `client="decider"`) {
			t.Errorf("a closed client's series are still scraped:\n%s", body)
		}
	}
	a, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, tel.Kafka("twin")...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, tel.Kafka("twin")...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
}

func TestTracingEnabled(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"exporter none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, false},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := telemetry.TracingEnabled(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("TracingEnabled = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("unknown exporter", func(t *testing.T) {
		_, _, err := telemetry.Tracing(context.Background(), func(k string) string { return map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}[k] })
		if err == nil {
			t.Error("OTEL_TRACES_EXPORTER=zipkin: no error")
		}
	})
	t.Run("otlp http", func(t *testing.T) {
		tp, shutdown, err := telemetry.Tracing(context.Background(), func(k string) string {
			return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}[k]
		})
		if err != nil || tp == nil {
			t.Fatalf("Tracing: %v, %v", tp, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx) // nothing listens: the flush may fail, it must not hang
	})
}

// TestKafkaClientLogs: the clients log through kslog into the process's
// logger, each line saying which client it is.
func TestKafkaClientLogs(t *testing.T) {
	var b testenv.Buffer
	tel := telemetry.New(telemetry.Config{Logger: slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	brokers := testenv.KafkaOrFake(t)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, tel.KafkaLog("api-ready")...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	out := b.String()
	if !strings.Contains(out, `"client":"api-ready"`) || !strings.Contains(out, `"msg":`) {
		t.Errorf("no kgo log line of client api-ready:\n%s", out)
	}
}
