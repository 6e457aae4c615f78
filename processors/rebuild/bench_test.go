package rebuild_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// BenchmarkRebuild measures a whole rebuild of each projection on the real
// servers: REBUILD_BENCH_EVENTS events (default 200,000) of a tenth as many
// products are in the log; the rebuild reads them all into a new generation,
// checks it and swaps. It reports the build's records per second (start to
// caught up) and the whole run's. For the 1M figure:
//
//	REBUILD_BENCH_EVENTS=1000000 go test -run '^$' -bench Rebuild -benchtime 1x ./processors/rebuild/
func BenchmarkRebuild(b *testing.B) {
	w := newWorld(b, testenv.Kafka(b))
	rc := redistest.RealRedis(b)
	ec := esClient(b)
	ctx := context.Background()
	n := envInt("REBUILD_BENCH_EVENTS", 200_000)
	start := time.Now()
	events := eventgen.Stream(eventgen.Options{Products: n / 10, Events: n, Seed: 42, Discontinue: true})
	w.publish(b, events)
	b.Logf("published %s events of %s products in %v", thousands.Format(int64(n)), thousands.Format(int64(n/10)), time.Since(start).Round(time.Millisecond))
	events = nil

	vt, store, vctl := views(b, rc)
	if _, err := store.EnsureLive(ctx, 1); err != nil {
		b.Fatal(err)
	}
	st, _, sctl := search(b, ec, rc)
	for _, c := range []struct {
		name    string
		target  rebuild.Target
		control *rebuild.Control
	}{{"views", vt, vctl}, {"search", st, sctl}} {
		w.cleanupGroups(b, c.target.Name())
		b.Run(c.name, func(b *testing.B) {
			cfg := w.config()
			cfg.MaxBatch = 0 // the runtime's default, as the command runs it
			r, err := rebuild.New(cfg, c.target, c.control)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				res, err := r.Run(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.Rate(), "records/s")
				b.ReportMetric(float64(res.Records)/res.Elapsed.Seconds(), "records/s-all")
				b.Logf("%s: %s records in %v (%s records/s); checked %s documents; g%d live after %v in all",
					c.name, thousands.Format(res.Records), res.Build.Round(time.Millisecond), thousands.Format(int64(res.Rate())),
					thousands.Format(res.Documents), res.To, res.Elapsed.Round(time.Millisecond))
			}
		})
	}
}
