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
	brokers := testenv.Kafka(b)
	addr := testenv.Redis(b)
	events := bench.DefaultEvents
	if v := os.Getenv("BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("BENCH_EVENTS=%q: %v", v, err)
		}
		events = n
	}
	var rep bench.Report
	for range b.N {
		var err error
		rep, err = bench.RedisProjection(context.Background(), bench.Config{
			Brokers: brokers, RedisAddr: addr, Events: events, Out: os.Stderr,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rep.Consume.Rate(), "consume-records/s")
	b.ReportMetric(rep.Raw.Rate(), "raw-redis-writes/s")
	b.ReportMetric(rep.Projection.Rate(), "projection-events/s")
	b.ReportMetric(rep.Ratio(), "ratio")
}

// BenchmarkSearchProjection is the `make bench` path of `streamview bench
// search`: one full run per iteration on $BENCH_SEARCH_EVENTS events
// (default 200k) in batches of 5000, the search projector's.
func BenchmarkSearchProjection(b *testing.B) {
	brokers := testenv.Kafka(b)
	url := testenv.Elasticsearch(b)
	events := bench.DefaultSearchEvents
	if v := os.Getenv("BENCH_SEARCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("BENCH_SEARCH_EVENTS=%q: %v", v, err)
		}
		events = n
	}
	var rep bench.Report
	for range b.N {
		var err error
		rep, err = bench.SearchProjection(context.Background(), bench.Config{
			Brokers: brokers, ElasticsearchURL: url, Events: events, Batch: bench.DefaultSearchBatch, Out: os.Stderr,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rep.Consume.Rate(), "consume-records/s")
	b.ReportMetric(rep.Raw.Rate(), "raw-search-writes/s")
	b.ReportMetric(rep.Projection.Rate(), "projection-events/s")
	b.ReportMetric(rep.Ratio(), "ratio")
}
