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
		summary: "measure a projection against raw Kafka and store limits (bench redis)",
		usage:   "redis [--events 1000000] [--products N] [--batch 2000] [--seed N] [--json] [--log-level warn] [--brokers host:port] [--redis host:port]",
		help: `Measures how fast the product-view projection rebuilds into Redis, beside
the two limits it runs between, in one run on one data set:

  1. makes a fresh 6-partition topic and pre-produces --events product events
     of --products products (deterministic for a --seed);
  2. raw consume: a bare franz-go client (no group, no decoding) reads the
     whole topic: records/s;
  3. raw redis: one pipelined HSET per event, --batch per round trip, with
     the fields the event sets, into as many hashes: writes/s;
  4. projection: the projection runtime with the product-view projector on
     a fresh Redis generation, from offset 0 until it has committed the end
     of every partition: events/s.

It prints progress lines, then a table: the three rates and the projection
over the smaller raw rate, with the target (0.50 or more). With --json they
go to stderr and the report, as JSON, to stdout.
Everything it creates (topics, consumer group, Redis keys) is removed at the
end, also when interrupted. It loads the servers hard for a minute or two:
do not point it at production.

Example:
  streamview bench redis --events 1000000`,
		run: runBench,
	}
}

func runBench(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench")
	var k kafkaFlags
	k.register(fs, e)
	redisAddr := fs.String("redis", e.or("REDIS_ADDR", "127.0.0.1:6379"), "Redis address (env REDIS_ADDR)")
	events := fs.Int("events", bench.DefaultEvents, "events to produce and project")
	products := fs.Int("products", 0, "products the events belong to (default events/10)")
	batch := fs.Int("batch", bench.DefaultBatch, "the runtime's MaxBatch and the raw pipeline's size")
	seed := fs.Uint64("seed", 1, "seed of the event stream")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout (the table goes to stderr)")
	logLevel := fs.String("log-level", "warn", "the projection runtime's log level on stderr: debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (samples of the projection step carry the label step=projection)")
	if len(args) == 0 || args[0] != "redis" {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		if len(args) > 0 {
			fmt.Fprintf(e.stderr, "\nstreamview bench: unknown target %q (only redis so far)\n", args[0])
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
	logger, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := bench.Config{
		Brokers: strings.Split(k.brokers, ","), RedisAddr: *redisAddr,
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
	rep, err := bench.RedisProjection(ctx, cfg)
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
