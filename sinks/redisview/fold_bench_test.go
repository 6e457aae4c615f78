package redisview

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productview"
)

// BenchmarkApplyFold measures Apply on batches of 2000 changes of a zipf
// (hot products) and a uniform stream, with the changes of one document
// folded into one write and without, on the Redis at REDIS_ADDR (skipped
// without). Each op is one batch; events/s is reported. Run the variants
// alternately (-count) on a busy machine:
//
//	REDIS_ADDR=127.0.0.1:6379 go test -run '^$' -bench ApplyFold -count 3 ./sinks/redisview
func BenchmarkApplyFold(b *testing.B) {
	c := benchRedis(b)
	for _, dist := range []eventgen.Distribution{eventgen.Zipf, eventgen.Uniform} {
		batches := changeBatches(eventgen.Options{Products: 20000, Events: 220_000, Seed: 3, Distribution: dist})
		for _, fold := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/fold=%v", dist, fold), func(b *testing.B) {
				noFold = !fold
				defer func() { noFold = false }()
				s, err := New(c, Config{Projection: "bench-fold"})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				defer s.Clear(ctx, 1)
				n := 0
				for i := 0; b.Loop(); i++ {
					if i%len(batches) == 0 {
						b.StopTimer()
						if _, err := s.Clear(ctx, 1); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					cs := batches[i%len(batches)]
					if _, err := s.Apply(ctx, 1, cs); err != nil {
						b.Fatal(err)
					}
					n += len(cs)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// benchRedis is a client of the Redis at REDIS_ADDR, closed at the end of
// b; b is skipped without it.
func benchRedis(b *testing.B) *redis.Client {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		b.Skip("REDIS_ADDR not set")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	return c
}

// changeBatches is the stream of o as the view's changes, in batches of
// 2000.
func changeBatches(o eventgen.Options) [][]productview.Change {
	var batches [][]productview.Change
	for batch := range slices.Chunk(eventgen.Stream(o), 2000) {
		cs := make([]productview.Change, len(batch))
		for i, e := range batch {
			cs[i], _ = productview.ChangeOf(e)
		}
		batches = append(batches, cs)
	}
	return batches
}
