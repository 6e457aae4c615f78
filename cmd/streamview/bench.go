package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/streamview/streamview/bench"
)

func init() {
	commands["bench"] = command{
		summary: "measure a projection against raw Kafka and store limits (bench redis|search)",
		usage:   "redis|search [--events N] [--products N] [--batch N] [--seed N] [--json] [--cpuprofile FILE] [--log-level warn] [--brokers host:port] [--redis host:port] [--es URL]",
		help: `Measures how fast a projection rebuilds from the log into its store,
beside the two limits it runs between, in one run on one data set:

  redis   the product-view projection into Redis (1,000,000 events, batches
          of 2000 by default; target 0.50)
  search  the product-search projection into Elasticsearch (200,000 events,
          batches of 5000, as streamview serve runs it; target 0.70)

  1. makes a fresh 6-partition topic and pre-produces --events product events
     of --products products (deterministic for a --seed);
  2. raw consume: a bare franz-go client (no group, no decoding) reads the
     whole topic: records/s;
  3. raw store writes, one per event, without the projection:
     redis: one pipelined HSET per event, --batch per round trip, with the
     fields the event sets, into as many hashes;
     search: esutil.BulkIndexer (4 workers) indexing each event's product
     document as it is after the event, plain index actions;
  4. projection: the projection runtime with the projector on a fresh
     generation, from offset 0 until it has committed the end of every
     partition: events/s. Then every stored document is checked.

It prints progress lines, then a table: the three rates and the projection
over the smaller raw rate, with the target. With --json they go to stderr
and the report, as JSON, to stdout.
Everything it creates (topics, consumer group, keys, indices) is removed at
the end, also when interrupted. It loads the servers hard for a minute or
two: do not point it at production.

The search projection folds the events of one product in a batch into one
write, so it can beat the per-event raw rate; for the sink alone against a
bulk indexer doing its very same writes, see BenchmarkProjection in
sinks/esindex (README, Measured here).

Examples:
  streamview bench redis --events 1000000
  streamview bench search
  streamview bench redis --cpuprofile cpu.prof   # go tool pprof -tagfocus step=projection`,
		run: runBench,
	}
}

// benchTargets are what `streamview bench` measures, with their defaults.
var benchTargets = map[string]struct {
	events, batch int
	run           func(context.Context, bench.Config) (bench.Report, error)
}{
	"redis":  {bench.DefaultEvents, bench.DefaultBatch, bench.RedisProjection},
	"search": {bench.DefaultSearchEvents, bench.DefaultSearchBatch, bench.SearchProjection},
}

func runBench(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench")
	var k kafkaFlags
	k.register(fs, e)
	redisAddr := fs.String("redis", e.or("REDIS_ADDR", "127.0.0.1:6379"), "Redis address (env REDIS_ADDR)")
	esURL := fs.String("es", e.or("ELASTICSEARCH_URL", "http://127.0.0.1:9200"), "Elasticsearch URL (env ELASTICSEARCH_URL)")
	events := fs.Int("events", 0, "events to produce and project (default 1000000 for redis, 200000 for search)")
	products := fs.Int("products", 0, "products the events belong to (default events/10)")
	batch := fs.Int("batch", 0, "the runtime's MaxBatch and the raw pipeline's size (default 2000 for redis, 5000 for search)")
	seed := fs.Uint64("seed", 1, "seed of the event stream")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout (the table goes to stderr)")
	logLevel := fs.String("log-level", "warn", "the projection runtime's log level on stderr: debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (samples of the projection step carry the label step=projection)")
	target := ""
	if len(args) > 0 {
		target = args[0]
	}
	bt, ok := benchTargets[target]
	if !ok {
		fs.Usage()
		if target == "-h" || target == "--help" {
			return flag.ErrHelp
		}
		if target != "" {
			fmt.Fprintf(e.stderr, "\nstreamview bench: unknown target %q (want redis or search)\n", target)
		}
		return errUsage
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		fmt.Fprintf(e.stderr, "\nstreamview bench: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	if *events == 0 {
		*events = bt.events
	}
	if *batch == 0 {
		*batch = bt.batch
	}
	logger, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := bench.Config{
		Brokers: strings.Split(k.brokers, ","), RedisAddr: *redisAddr, ElasticsearchURL: *esURL,
		Events: *events, Products: *products, Batch: *batch, Seed: *seed,
		Out: e.stdout, Logger: logger,
	}
	if *asJSON {
		cfg.Out = e.stderr
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("streamview bench: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("streamview bench: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bt.run(ctx, cfg)
	if err != nil {
		return err
	}
	if !*asJSON {
		return nil
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
