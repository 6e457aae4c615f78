package bench_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/streamview/streamview/bench"
	"github.com/streamview/streamview/internal/testenv"
)

// BenchmarkRedisProjection is the `make bench` path of `streamview bench
// redis`: one full run per iteration (run it with -benchtime 1x) on
// $BENCH_EVENTS events (default 1M), reporting the three rates and the
// ratio as metrics. Progress and the table go to stderr.
func BenchmarkRedisProjection(b *testing.B) {
	cfg := bench.Config{Servers: bench.Servers{Brokers: testenv.Kafka(b), RedisAddr: testenv.Redis(b)},
		Events: benchEvents(b, "BENCH_EVENTS", bench.DefaultEvents)}
	benchRun(b, cfg, bench.RedisProjection, "raw-redis-writes/s")
}

// BenchmarkSearchProjection is the `make bench` path of `streamview bench
// search`: one full run per iteration on $BENCH_SEARCH_EVENTS events
// (default 1M) in batches of 5000, the search projector's.
func BenchmarkSearchProjection(b *testing.B) {
	cfg := bench.Config{Servers: bench.Servers{Brokers: testenv.Kafka(b), ElasticsearchURL: testenv.Elasticsearch(b)},
		Events: benchEvents(b, "BENCH_SEARCH_EVENTS", bench.DefaultSearchEvents), Batch: bench.DefaultSearchBatch}
	benchRun(b, cfg, bench.SearchProjection, "raw-search-writes/s")
}

// benchEvents reads the event count from the environment variable name.
func benchEvents(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// benchRun runs one full measurement per iteration and reports the last
// one's rates and ratio as metrics.
func benchRun(b *testing.B, cfg bench.Config, run func(context.Context, bench.Config) (bench.Report, error), rawMetric string) {
	cfg.Out = os.Stderr
	var rep bench.Report
	for range b.N {
		var err error
		if rep, err = run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rep.Consume.Rate(), "consume-records/s")
	b.ReportMetric(rep.Raw.Rate(), rawMetric)
	b.ReportMetric(rep.Projection.Rate(), "projection-events/s")
	b.ReportMetric(rep.Ratio(), "ratio")
}
