package productview_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// The benchmarks run on miniredis and, with REDIS_ADDR set, on the real
// server; compare BenchmarkRedisApply with BenchmarkRedisRawHSET of the same
// backend and batch size: the raw one is the ceiling (one pipelined HSET per
// event, no script, no version check).

var benchBatches = []int{100, 1000}

// BenchmarkRedisApply: Writer.Apply of batches of events, every event
// newer than the stored view (all applied). "spread" has one event per
// product per batch (one script call per event); "grouped" has 10 events per
// product per batch (one script call per 10 events).
func BenchmarkRedisApply(b *testing.B) {
	for _, be := range redistest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			c := be.Client(b)
			for _, size := range benchBatches {
				for _, shape := range []struct {
					name     string
					products int
				}{{"spread", size}, {"grouped", size / 10}} {
					b.Run(fmt.Sprintf("%s/batch=%d", shape.name, size), func(b *testing.B) {
						benchApply(b, c, size, shape.products)
					})
				}
			}
		})
	}
}

func benchApply(b *testing.B, c redis.UniversalClient, size, products int) {
	ctx := context.Background()
	store := redistest.NewStore(b, c)
	p, err := productview.NewWriter(store, 1)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, products)
	created := make([]schemas.Event, products)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		created[i] = schemas.Event{AggregateID: ids[i], Version: 1, Timestamp: time.Now(), Data: &schemas.ProductCreated{
			Name: "Bench", Description: "bench product", Price: schemas.Money{Amount: 999, Currency: "EUR"},
			CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B", Tags: []string{"a", "b"}, Stock: 1,
		}}
	}
	if err := p.Apply(ctx, created); err != nil {
		b.Fatal(err)
	}
	version := int64(1)
	batch := make([]schemas.Event, size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for j := range batch {
			if j%products == 0 {
				version++
			}
			var d schemas.EventData
			switch j % 3 {
			case 0:
				d = &schemas.ProductStockChanged{Quantity: int64(j)}
			case 1:
				d = &schemas.ProductPriceChanged{NewPrice: schemas.Money{Amount: int64(100 + j), Currency: "EUR"}}
			default:
				d = &schemas.ProductReviewAdded{Rating: 4}
			}
			batch[j] = schemas.Event{AggregateID: ids[j%products], Version: version, Timestamp: time.Now(), Data: d}
		}
		if err := p.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
	if st := p.Stats(); st.Duplicates != 0 {
		b.Fatalf("stats %+v: the benchmark meant every event to apply", st)
	}
}

// BenchmarkRedisRawHSET: the raw limit, one HSET of two fields per event
// into as many hashes, pipelined per batch.
func BenchmarkRedisRawHSET(b *testing.B) {
	for _, be := range redistest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			c := be.Client(b)
			for _, size := range benchBatches {
				b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
					ctx := context.Background()
					store := redistest.NewStore(b, c)
					keys := make([]string, size)
					for i := range keys {
						keys[i] = store.Key(1, fmt.Sprintf("%08x-0000-4000-8000-000000000000", i))
					}
					n := 0
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						pipe := c.Pipeline()
						for _, k := range keys {
							n++
							pipe.HSet(ctx, k, "stock", strconv.Itoa(n), "updatedAt", productview.FormatTime(time.Now()))
						}
						if _, err := pipe.Exec(ctx); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
				})
			}
		})
	}
}

// BenchmarkRedisRead: Reader.Get of a product whose category and brand are
// named (the join reads both), as the API's view read does, with the
// store's live pointer read on every Get ("pointer every read") and trusted
// for the default LiveCache ("pointer cached"); beside it the least such a
// read can cost, one bare HGETALL ("raw HGETALL").
func BenchmarkRedisRead(b *testing.B) {
	for _, be := range redistest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			c := be.Client(b)
			store := redistest.NewStore(b, c)
			p, err := productview.NewWriter(store, 1)
			if err != nil {
				b.Fatal(err)
			}
			id := "00000001-0000-4000-8000-000000000000"
			at := time.Now()
			events := []schemas.Event{
				{AggregateType: schemas.AggregateCategory, AggregateID: "c", Version: 1, Timestamp: at, Data: &schemas.CategoryRenamed{Name: "Cats"}},
				{AggregateType: schemas.AggregateBrand, AggregateID: "b", Version: 1, Timestamp: at, Data: &schemas.BrandRenamed{Name: "Brands"}},
				{AggregateType: schemas.AggregateProduct, AggregateID: id, Version: 1, Timestamp: at, Data: &schemas.ProductCreated{
					Name: "Bench", Description: "bench product", Price: schemas.Money{Amount: 999, Currency: "EUR"},
					CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B", Tags: []string{"a", "b"}, Stock: 1}},
			}
			if err := p.Apply(ctx, events); err != nil {
				b.Fatal(err)
			}
			if err := store.SetLive(ctx, 1); err != nil {
				b.Fatal(err)
			}
			for _, mode := range []struct {
				name  string
				cache time.Duration
			}{{"pointer every read", -1}, {"pointer cached", 0}} {
				b.Run(mode.name, func(b *testing.B) {
					s, err := redisview.New(c, redisview.Config{Projection: store.Projection(), LiveCache: mode.cache})
					if err != nil {
						b.Fatal(err)
					}
					r := productview.NewReader(s)
					b.ReportAllocs()
					for b.Loop() {
						v, ok, err := r.Get(ctx, id)
						if err != nil || !ok || v.CategoryName != "Cats" || v.BrandName != "Brands" {
							b.Fatalf("Get = %+v, found %v, %v; want the joined view", v, ok, err)
						}
					}
				})
			}
			b.Run("raw HGETALL", func(b *testing.B) {
				key := store.Key(1, id)
				b.ReportAllocs()
				for b.Loop() {
					if n, err := c.HGetAll(ctx, key).Result(); err != nil || len(n) == 0 {
						b.Fatalf("HGETALL %s = %d fields, %v", key, len(n), err)
					}
				}
			})
		})
	}
}
