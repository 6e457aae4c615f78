package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/streamview/streamview/bench"
	"github.com/streamview/streamview/internal/eventgen"
)

func init() {
	commands["bench"] = command{
		summary: "measure a projection against raw Kafka and store limits (bench redis|search), the write path and freshness under load (bench api), soak the whole service (bench soak), or time a category rename through views and search (bench rename)",
		usage:   "redis|search [--events N] [--products N] [--batch N] [--seed N] [--distribution zipf|uniform] [--rounds 3] [--script] [--json] [--cpuprofile FILE] [--log-level warn] [--brokers host:port] [--redis host:port] [--elasticsearch URL]\n       streamview bench api [--rates 500,1000,2000,4000] [--duration 15s] [--warm D] [--modes wait,nowait] [--products N] [--distribution zipf|uniform] [--url URL] [--raw=false] [--freshness=false] [--search-poll 50ms] [--cpuprofile FILE --profile-rate N] [--json]\n       streamview bench soak [--duration 10m] [--rate N] [--products N] [--distribution zipf|uniform] [--outcome-mib N] [--json] [--pprof 127.0.0.1:6060] [--log-level warn] [--brokers host:port] [--redis host:port] [--elasticsearch URL]\n       streamview bench rename [--products 10000] [--json] [--log-level warn] [--brokers host:port] [--redis host:port] [--elasticsearch URL]",
		help: `Measures how fast a projection rebuilds from the log into its store,
beside the two limits it runs between, in one run on one data set:

  redis   the product-view projection into Redis (1,000,000 events, batches
          of 2000 by default; target 0.80)
  search  the product-search projection into Elasticsearch (1,000,000
          events, batches of 5000, as streamview serve runs it; target 0.90)

  1. makes a fresh 6-partition topic and pre-produces --events product events
     of --products products (deterministic for a --seed): every product
     created, then updates spread over the products by --distribution:
     zipf (default; s=1.1: a few hot products get most updates, so a batch
     holds many events of one product) or uniform;
  2. raw consume: a bare franz-go client (no group, no decoding) reads the
     whole topic: records/s;
  3. raw store writes: the very writes the projection makes, without its
     version guard, runtime or Kafka, at its concurrency: the events split
     per partition (a lane each, all lanes at once) in batches of --batch,
     timed from the first event to the last write:
     redis: per batch and product the projection's folded writes (one HSET
     of the fields and version, the review HINCRBYs), pipelines of 500
     documents at once on one client's connection pool; before them, as a
     second line that is not compared with, the same writes on one
     connection, one pipeline at a time;
     search: per batch and product the folded document, plain index
     actions, one bare _bulk request per batch (5,000 documents or 5 MiB
     at most), the lanes at once, as the projection sends them; before
     them, as a second line that is not compared with, one
     esutil.BulkIndexer for all lanes whose 5 MiB buffers fill across
     batches. The second line runs first because a server's first writes
     of a run are slower than its later ones: every compared raw run
     meets it warm, as the projections do;
  4. projection: the projection runtime with the projector on a fresh
     generation (search: its index made first, as a rebuild makes it and
     as the raw side's is; redis: each lane's writer knows its partition's
     versions and sends the bare writes in one MULTI/EXEC per batch under
     the partition's fence, as streamview serve does on one Redis server,
     or with --script checks them in Apply's script, as on a cluster),
     from offset 0 until it has committed the end
     of every partition (joining the group, fetching, decoding and
     committing included, which the raw writes do not do): events/s. Then
     every stored document is checked;
  5. raw store writes again, the same as step 3 into an emptied store (a
     fresh index): on a machine shared with other work the CPU a step gets
     drifts within seconds, so the projection is compared with the raw
     writes on both sides of it, in the mean of their two times;
  6. steps 4 and 5 again, --rounds times in all (3 by default), each
     projection on a fresh generation and consumer group that remembers
     nothing of the round before: raw, projection, raw, projection, raw,
     ... One step's pace on a small machine running the servers moves by
     a tenth or more between runs; the verdict is the median round's
     ratio (for an even --rounds the lower middle one), and every round's
     ratio is printed under the table.

It prints progress lines, then a table of the median round: the rates
(all in events/s), the projection over the smaller raw rate (the
consume, or the raw writes in the mean of their two times; against each
run of them too) with the target, the CPU each step cost this process
and the server (Redis: INFO cpu; Elasticsearch: its process's
/proc/<pid>/stat, when every --elasticsearch address is on this machine), as µs per
event and % busy: the server is shared with whatever else runs on it.
With --json they go to stderr and the report, as JSON, to stdout.
Everything it creates (topics, consumer groups, keys, indices) is removed
at the end, also when interrupted. It loads the servers hard for a few
minutes (search, three rounds of 1M events: about a minute and a half
here): do not point it at production.

api: commands at fixed rates through the HTTP API (vegeta, an open model),
with and without Prefer: wait, on a stack it starts in this process (or
--url): per rate the rate achieved, latency p50/p90/p99/max, errors by
status, and freshness (command accepted to view and search updated);
beside each rate with Prefer: wait the raw EOS round trip: the bare Kafka
produce, transactional copy and read_committed result the write path is
built on, at the same rate (--raw=false leaves it out).
See streamview bench api --help.

soak: a long run of the whole service under a steady mixed load, to see
what time does to it (leaks, growing lag, errors), not a throughput limit.
It starts the stack in this process as streamview serve does (the API, the
decider, the product-view and product-search projectors) on the real
servers, on topics, consumer groups, Redis keys and an index of its own
(soak-<random>.*), and drives it through the HTTP API at --rate requests/s
for --duration: an open model, each request started on time whatever the
earlier ones do (at most max(64, rate) in flight; a tick that finds them
all busy is counted as dropped). The mix: half the requests are creates
(Prefer: wait) until --products are made; the others, and all after,
are 40% commands (price, stock, review; a third with Prefer: wait), 40%
view reads with ?minVersion= of a version a command
returned (&wait=10; an answer still older is counted as "stale"), 20%
searches. Commands and view reads pick among the products made so far by
--distribution: zipf (default; s=1.1, the first made the hottest) or
uniform. Every 10 s a progress line: requests, errors, dropped, p99 so
far, each projection's lag, RSS, the live Go heap, goroutines. At the end
a table: per kind the requests, errors by status, p50/p90/p99/max; the
projection lag samples over time (min, max, last); RSS (VmRSS), goroutines
and the live heap at the start (the stack up, before the first command),
middle and end; and a verdict line: any 5xx, and the RSS growth from the
middle to the end. The process measured is this one: the stack and the
load generator together. Memory grows while the outcome memories (each
command's outcome, kept 24 h for retries) fill up to their byte budgets;
--outcome-mib sets those budgets small to see them full within the run.
--pprof serves heap and goroutine profiles during the run.
With --json the report goes to stdout as JSON. Everything the run made is
removed at the end, also when interrupted.

rename: --products products (10,000) in one category through the view and
search projections, then one CategoryRenamed: the time until every view
read through the API's reader and every search document shows the new
name and a search for it finds them all, beside a raw read of the views
and a bare bulk write of the renamed documents.
See streamview bench rename --help.

Examples:
  streamview bench soak --duration 10m --rate 200
  streamview bench rename --products 10000
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

// benchFlags are the flags of the three servers every bench subcommand
// reaches, with the bench's defaults (the servers of make services-up).
type benchFlags struct {
	k  kafkaFlags
	rf redisFlags
	ef esFlags
}

func (b *benchFlags) register(fs *flag.FlagSet, e env) {
	b.k.register(fs, e)
	b.rf.register(fs, e, "127.0.0.1:6379", "")
	b.ef.register(fs, e, "elasticsearch", "http://127.0.0.1:9200", "Elasticsearch URL, without credentials (env ELASTICSEARCH_URL)")
	// --es, the name of older releases, sets the same.
	fs.StringVar(&b.ef.url, "es", b.ef.url, "the same as --elasticsearch")
}

// settings reads the three servers' settings; the caller adds the logger
// and the budgets.
func (b *benchFlags) settings() (srv soakServers, err error) {
	if srv.kafka, err = b.k.settings(); err != nil {
		return srv, err
	}
	if srv.redis, err = b.rf.settings(); err != nil {
		return srv, err
	}
	if srv.es, err = b.ef.settings(); err != nil {
		return srv, err
	}
	return srv, nil
}

// oneRedis reads the three servers' settings as the bench package takes
// them, for a benchmark that measures one Redis server (why: its reason):
// a Redis Cluster is refused, naming cmd.
func (b *benchFlags) oneRedis(cmd, why string) (bench.Servers, error) {
	srv, err := b.settings()
	if err != nil {
		return bench.Servers{}, err
	}
	if srv.redis.Cluster {
		return bench.Servers{}, fmt.Errorf("%s: --redis-cluster: %s; name one with --redis (REDIS_ADDR) and leave REDIS_CLUSTER unset", cmd, why)
	}
	out := bench.Servers{Brokers: srv.kafka.Brokers, RedisAddr: srv.redis.Addr, ElasticsearchURL: strings.Join(srv.es.URLs, ",")}
	if out.KafkaOpts, err = srv.kafka.SecurityOpts(); err != nil {
		return bench.Servers{}, err
	}
	if out.Redis, err = srv.redis.Options(); err != nil {
		return bench.Servers{}, err
	}
	es, err := srv.es.Config(esTransport())
	if err != nil {
		return bench.Servers{}, err
	}
	out.Elasticsearch = &es
	return out, nil
}

func runBench(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench")
	var servers benchFlags
	servers.register(fs, e)
	events := fs.Int("events", 0, "events to produce and project (default 1000000)")
	products := fs.Int("products", 0, "products the events belong to (default events/10)")
	batch := fs.Int("batch", 0, "the runtime's MaxBatch and the raw pipeline's size (default 2000 for redis, 5000 for search)")
	seed := fs.Uint64("seed", 1, "seed of the event stream")
	distribution := fs.String("distribution", bench.DefaultDistribution, "how the events after the creates pick their product: zipf (s=1.1, a few hot products, as catalogues are) or uniform")
	rounds := fs.Int("rounds", bench.DefaultRounds, "how many times the projection runs, each between two runs of the raw writes; the verdict is the median round's")
	script := fs.Bool("script", false, "redis: the projection checks versions in Apply's script on every batch (as on a Redis Cluster) instead of knowing them per partition and writing them bare in MULTI/EXEC, to compare the two")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout (the table goes to stderr)")
	logLevel := fs.String("log-level", "warn", "the projection runtime's log level on stderr: debug, info, warn or error")
	logFormat := logFormatFlag(fs, e)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (samples of the projection step carry the label step=projection)")
	target := ""
	if len(args) > 0 {
		target = args[0]
	}
	switch target {
	case "soak":
		return runBenchSoak(ctx, e, args[1:])
	case "api":
		return runBenchAPI(ctx, e, args[1:])
	case "rename":
		return runBenchRename(ctx, e, args[1:])
	}
	bt, ok := benchTargets[target]
	if !ok {
		if target == "-h" || target == "--help" {
			showHelp(fs)
			return flag.ErrHelp
		}
		if target == "" {
			return usageError(e.stderr, "bench", "name what to measure: redis, search, api, soak or rename")
		}
		return usageError(e.stderr, "bench", "unknown target %q (want redis, search, api, soak or rename)", target)
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *rounds < 1 {
		fs.Usage()
		fmt.Fprintf(e.stderr, "\nstreamview bench: --rounds %d: want 1 or more\n", *rounds)
		return errUsage
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"events", *events}, {"products", *products}, {"batch", *batch}} {
		if f.v < 0 {
			return usageError(e.stderr, "bench", "%s: --%s %d: want 0 (the default) or more", target, f.name, f.v)
		}
	}
	if *events == 0 {
		*events = bt.events
	}
	if *batch == 0 {
		*batch = bt.batch
	}
	logger, err := newLogger(e.stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	// bench redis compares the projection with a bare client's writes to
	// one server; its raw side does not route by slot.
	srv, err := servers.oneRedis("bench", "the benchmarks measure one Redis server")
	if err != nil {
		return err
	}
	cfg := bench.Config{
		Servers: srv, Events: *events, Products: *products, Batch: *batch, Seed: *seed, Distribution: *distribution,
		Rounds: *rounds, RedisScript: *script, Out: e.stdout, Logger: logger,
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
	return writeJSON(e.stdout, rep)
}

func runBenchSoak(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench soak")
	var servers benchFlags
	servers.register(fs, e)
	duration := fs.Duration("duration", bench.DefaultSoakDuration, "how long the load runs")
	rate := fs.Int("rate", bench.DefaultSoakRate, "requests started per second")
	products := fs.Int("products", bench.DefaultSoakProducts, "products the run creates and then works on")
	distribution := fs.String("distribution", bench.DefaultDistribution, "how commands and view reads pick among the products made so far: zipf (s=1.1, the first made the hottest, as catalogues are) or uniform")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout (progress and table go to stderr)")
	logLevel := fs.String("log-level", "warn", "the stack's log level on stderr: debug, info, warn or error")
	logFormat := logFormatFlag(fs, e)
	outcomeMiB := fs.Int("outcome-mib", 0, "MiB of each outcome memory of the stack (the API's accepted outcomes, a quarter of it for rejected ones, "+
		"and the decider's, split among its partitions) instead of the defaults (64 MiB, 16 MiB, 39 MiB a partition): set it small to see them fill and RSS level off within the run")
	var pprofAddr string
	pprofFlag(fs, &pprofAddr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *duration <= 0 || *rate <= 0 || *products <= 0 {
		return fmt.Errorf("streamview bench soak: --duration, --rate and --products must be positive (got %v, %d, %d)", *duration, *rate, *products)
	}
	if err := checkDistribution("bench soak", *distribution); err != nil {
		return err
	}
	logger, err := newLogger(e.stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	if err := startPprof(ctx, pprofAddr, logger); err != nil {
		return err
	}
	cfg := bench.SoakConfig{Duration: *duration, Rate: *rate, Products: *products, Distribution: *distribution, Out: e.stdout}
	if *asJSON {
		cfg.Out = e.stderr
	}
	if *outcomeMiB < 0 {
		return fmt.Errorf("streamview bench soak: --outcome-mib %d: must not be negative", *outcomeMiB)
	}
	srv, err := servers.settings()
	if err != nil {
		return err
	}
	srv.logger, srv.outcomeBytes = logger, int64(*outcomeMiB)<<20
	rep, err := runSoak(ctx, srv, cfg)
	if err != nil {
		return err
	}
	if !*asJSON {
		return nil
	}
	return writeJSON(e.stdout, rep)
}

// writeJSON writes v to w as indented JSON: the --json output of bench and
// projections.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// checkDistribution refuses an unknown --distribution of command before
// any server is touched.
func checkDistribution(command, d string) error {
	if _, err := eventgen.ParseDistribution(d); err != nil {
		return fmt.Errorf("streamview %s: --distribution %q: want zipf or uniform", command, d)
	}
	return nil
}
