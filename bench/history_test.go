package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/eventlog"
	"github.com/streamview/streamview/processors/producthistory"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redishistory"
)

// envHistoryEvents sizes BenchmarkHistory: the events in the partition.
const envHistoryEvents = "STREAMVIEW_HISTORY_EVENTS"

// historyBatchBytes bounds the batches the benchmark writes: a read fetches
// the whole batch holding each event, so the batch size is part of the
// figure. 128 KiB is about 900 events; the decider under load writes about
// 160 per partition and transaction (950 commands over 6 partitions).
const historyBatchBytes = 128 << 10

// BenchmarkHistory answers GET /v1/products/{id}/events for products whose
// 20 events are spread evenly over one partition of N events
// ($STREAMVIEW_HISTORY_EVENTS, default 1,000,000) written in batches of up
// to 128 KiB: each event in another batch, the worst case for the reader. It runs on the real Kafka and
// Redis when KAFKA_BROKERS and REDIS_ADDR are set, else on kfake and
// miniredis. It reports the mean and the slowest answer (ms); the target
// is under 50 ms. Run it by hand:
//
//	STREAMVIEW_HISTORY_EVENTS=1000000 go test -run '^$' -bench History -benchtime 1x ./bench/
func BenchmarkHistory(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv(envHistoryEvents); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("%s=%q: want a number of events, 1000 or more", envHistoryEvents, v)
		}
	}
	const products, perProduct = 10, 20
	brokers := testenv.KafkaOrFake(b)
	topic := testenv.Topic(b, brokers, "bench.history", 1)
	codec, err := schemas.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	var rc redis.UniversalClient
	if addr := os.Getenv("REDIS_ADDR"); addr != "" && !testing.Short() {
		rc = redis.NewClient(&redis.Options{Addr: addr})
	} else {
		mr := miniredis.RunT(b)
		rc = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	}
	b.Cleanup(func() { rc.Close() })
	store, err := redishistory.New(rc, redishistory.Config{Projection: "bench-history-" + fmt.Sprint(time.Now().UnixNano())})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		keys, _ := rc.Keys(context.Background(), store.KeyPrefix()+"*").Result()
		if len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
	})

	// The log: n events, the target products' events every n/(products*perProduct).
	ids := make([]string, products)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, time.Now().UnixNano()&0xffffffffffff)
	}
	every := n / (products * perProduct)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(historyBatchBytes), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	filler, err := codec.EncodeEvent(historyEvent("ffffffff-0000-4000-8000-000000000000", 1))
	if err != nil {
		b.Fatal(err)
	}
	versions := make([]int64, products)
	var entries []producthistory.Entry
	start := time.Now()
	errc := make(chan error, 1)
	for i := 0; i < n; i++ {
		val, key := filler, "ffffffff-0000-4000-8000-000000000000"
		var p int
		target := every > 0 && i%every == 0 && i/every < products*perProduct
		if target {
			p = (i / every) % products
			versions[p]++
			key = ids[p]
			if val, err = codec.EncodeEvent(historyEvent(key, versions[p])); err != nil {
				b.Fatal(err)
			}
		}
		v := versions[p]
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: val}, func(r *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
				return
			}
			if target {
				entries = append(entries, producthistory.Entry{AggregateID: key, Version: v, Partition: 0, Offset: r.Offset})
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	b.Logf("wrote %d events to %s in %v", n, topic, time.Since(start).Round(time.Millisecond))
	if _, err := store.Put(ctx, entries); err != nil {
		b.Fatal(err)
	}

	reader, err := eventlog.New(eventlog.Config{Topic: topic, Client: cl}, store, codec)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{}, api.Deps{History: reader}).Handler())
	defer srv.Close()
	get := func(id string) time.Duration {
		t0 := time.Now()
		resp, err := http.Get(srv.URL + "/v1/products/" + id + "/events")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET events of %s: %d", id, resp.StatusCode)
		}
		return time.Since(t0)
	}
	get(ids[0]) // the first connection
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, id := range ids {
			took = append(took, get(id))
		}
	}
	b.StopTimer()
	slices.Sort(took)
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(sum/time.Duration(len(took))), "ms/answer")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms/answer")
	b.ReportMetric(float64(perProduct), "events/answer")
	b.ReportMetric(0, "ns/op")
	// The target is 50 ms; a figure, not an assertion: a loaded machine
	// would miss it for reasons of its own.
	b.Logf("%d answers of %d events each from a partition of %d events: mean %v, median %v, slowest %v (target: under 50ms)",
		len(took), perProduct, n, (sum / time.Duration(len(took))).Round(10*time.Microsecond), took[len(took)/2].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond))
}

func historyEvent(id string, v int64) schemas.Event {
	return schemas.Event{ID: fmt.Sprintf("%s-%d", id[:8], v), AggregateType: "Product", AggregateID: id, Version: v,
		Timestamp: time.Date(2026, 1, 1, 0, 0, 0, int(v), time.UTC), Metadata: schemas.Metadata{CorrelationID: "c", CausationID: "k", UserID: "u"},
		Data: &schemas.ProductStockChanged{Quantity: v}}
}
