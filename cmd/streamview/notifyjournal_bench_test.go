package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/sinks/redisnotify"
)

// BenchmarkNotifierJournalReadBack measures the notifier's read-back of
// its journal (restoreJournal, what Restore does after Redis lost its
// data) on the real servers, beside the two limits it cannot beat,
// measured in the same run on the same journal: a bare consume of the
// topic ("kafka"), and the read-back's Redis pipelines alone
// (redisnotify.Store.Finish, journalBatch entries each) from entries
// already decoded ("redis"). The journal holds
// NOTIFIER_JOURNAL_BENCH_ENTRIES entries (default 200,000; 1% dead
// letters, a tenth of them gone). For the 1M figure:
//
//	NOTIFIER_JOURNAL_BENCH_ENTRIES=1000000 go test -run '^$' -bench NotifierJournalReadBack -benchtime 1x ./cmd/streamview/
func BenchmarkNotifierJournalReadBack(b *testing.B) {
	if os.Getenv("KAFKA_BROKERS") == "" || os.Getenv("REDIS_ADDR") == "" {
		b.Skip("needs the real servers: set KAFKA_BROKERS and REDIS_ADDR (source /tmp/env.sh, or make services-up)")
	}
	brokers := testenv.Kafka(b)
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(b)})
	b.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	n := 200_000
	if v := os.Getenv("NOTIFIER_JOURNAL_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("NOTIFIER_JOURNAL_BENCH_ENTRIES=%q: want a count", v)
		}
	}
	topic := testenv.Topic(b, brokers, "bench-notifier-journal", 1, "cleanup.policy", "compact")
	entries := benchJournal(n)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, e := range entries {
		prod.Produce(ctx, journalRecord(topic, e), func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	prod.Close()
	b.Logf("journal of %s entries written in %v", thousands.Format(int64(n)), time.Since(start).Round(time.Millisecond))

	st := stack{brokers: brokers, logger: slog.New(slog.DiscardHandler), redis: rdb}
	// prefix is a new store's, its keys deleted when the benchmark ends.
	prefix := func(b *testing.B) string {
		p := testenv.Name("svbench:notifier") + ":"
		b.Cleanup(func() {
			iter := rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Unlink(ctx, iter.Val())
			}
		})
		return p
	}
	rate := func(b *testing.B, what string, got int, d time.Duration) {
		if got != n {
			b.Fatalf("%s: %d entries, want %d", what, got, n)
		}
		r := float64(n) / d.Seconds()
		b.ReportMetric(r, "entries/s")
		b.Logf("%s: %s entries in %v, %s entries/s", what, thousands.Format(int64(n)), d.Round(time.Millisecond), thousands.Format(int64(r)))
	}

	b.Run("read-back", func(b *testing.B) {
		for range b.N {
			store := redisnotify.New(rdb, prefix(b))
			start := time.Now()
			got, err := restoreJournal(ctx, st, topic, store, time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			rate(b, "read-back", got, time.Since(start))
			last := entries[len(entries)-2] // delivered
			if _, ok, err := store.DeliveredAt(ctx, last.WebhookID); !ok || err != nil {
				b.Fatalf("%s not recorded after the read-back: %v", last.WebhookID, err)
			}
		}
	})
	b.Run("kafka", func(b *testing.B) {
		for range b.N {
			start := time.Now()
			got, err := benchConsume(ctx, brokers, topic)
			if err != nil {
				b.Fatal(err)
			}
			rate(b, "bare consume", got, time.Since(start))
		}
	})
	b.Run("redis", func(b *testing.B) {
		fins := make([]redisnotify.Finished, len(entries))
		for i, e := range entries {
			fins[i], _ = e.finished(time.Time{})
		}
		for range b.N {
			store := redisnotify.New(rdb, prefix(b))
			start := time.Now()
			for chunk := range slices.Chunk(fins, journalBatch) {
				if err := store.Finish(ctx, chunk); err != nil {
					b.Fatal(err)
				}
			}
			rate(b, "bare pipeline", n, time.Since(start))
		}
	})
}

// benchJournal is a journal of n entries: delivered, 1% dead-lettered,
// a tenth of those gone, over 1,000 subscriptions.
func benchJournal(n int) []journalEntry {
	at := time.Now().UnixMilli()
	out := make([]journalEntry, n)
	for i := range out {
		sub := fmt.Sprintf("%016x-sub-%04d", i%1000, i%1000)
		out[i] = journalEntry{Kind: "delivered", WebhookID: fmt.Sprintf("%036d.%s", i, sub), SubscriptionID: sub, At: at + int64(i)}
		if i%100 == 99 {
			out[i].Kind = "dead"
			out[i].Gone = i%1000 == 999
		}
	}
	return out
}

// benchConsume reads topic from its start to its end, doing nothing
// with the records, and returns how many it read.
func benchConsume(ctx context.Context, brokers []string, topic string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	spans, err := journalSpans(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		return 0, err
	}
	ends := map[int32]int64{}
	for p, s := range spans {
		if s.From < s.To {
			ends[p] = s.To
		}
	}
	got := 0
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return got, err
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			got += len(p.Records)
			if len(p.Records) > 0 && p.Records[len(p.Records)-1].Offset+1 >= ends[p.Partition] {
				delete(ends, p.Partition)
			}
		})
	}
	return got, nil
}
