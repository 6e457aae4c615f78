package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/bench"
)

const benchAPIHelp = `streamview bench api: the write path and freshness under a steady load,
beside the bare Kafka exactly-once round trip it is built on.

Starts the whole stack in this process as streamview serve does (the API,
the decider, the product-view and product-search projectors) on the real
servers, on topics, consumer groups, Redis keys and an index of its own
(soak-<random>.*, removed at the end), or drives the API at --url. It
creates --products products (Prefer: wait), then for each mode (with and
without Prefer: wait) and each of --rates sends commands at that rate for
--duration with vegeta (github.com/tsenart/vegeta/v12), an open model: each
request is sent on time whatever the earlier ones do. The mix: 10% creates,
30% price, 30% stock, 30% review changes of the products, picked by
--distribution (zipf: a few hot products; or uniform).

Per step it reports: the rate sent, 2xx answers/s, latency p50/p90/p99/max
(from sending to the answer), errors by status, and freshness, from a
command's accepted answer (Prefer: wait, which carries its version) until
  view:   GET /v1/products/{id}?minVersion=<version> answers it (the
          server reads again as soon as the projector in this process
          wrote the product, and after 5 ms, the pause doubling up to
          50 ms, for the writes of other processes), and
  search: a search shows the product at its new price or above (price
          changes only; every change sets a higher price than the last;
          the index's refresh interval included). One poller searches
          every --search-poll (50 ms) for the run's products priced at
          the lowest price still awaited or above and settles every
          change it shows, so every price change is sampled but those
          that overlapped another change of the same product in flight
          (the decider may order the two either way; counted as
          overlapped),
p50/p99 over the sampled commands (at most 32 view readers at once; a
command that finds them busy is not sampled).

The two sides of each rate with Prefer: wait, one after the other, at the
same rate for the same --duration, on the same machine and servers:
  stack:   HTTP command -> API -> commands topic (idempotent producer,
           linger 0) -> decider (a transactional group session,
           read_committed, fetch max wait 25 ms, batches up to 1000: the
           events and the result in one transaction with the consumed
           offsets), which hands the committed outcome to the API in
           this process (without --url; the results topic, read
           read_committed, brings another instance's) -> the answer; from
           the request sent to the answer.
  raw EOS: the same Kafka loop with nothing of streamview in it: 450-byte
           records (a command's size) keyed over --products keys picked by
           --distribution, sent on schedule (open model) to a 6-partition
           topic of its own with the same producer settings, copied by a
           bare consume-transform-produce loop with the decider's session
           options to an events and a results topic on the same partition,
           committed with the offsets, and seen by a read_committed reader
           with the results reader's fetch settings; from the send to the
           result seen. Its topics and group (bench-<random>.raw.*) are
           removed at the end. It runs after the stack has decided what the
           step sent, on --brokers (with --url too: name the Kafka of that
           API there). --raw=false leaves it out; without the wait mode
           there is none.
The raw row is what Kafka itself costs here: the stack's latency less it is
what streamview adds (HTTP, encoding, deciding, the outcome memories).

With the stack in this process (no --url), a second table says where its
commands spent their time, hop by hop, p50 / p99 per step (a command's
hops overlap; each is timed where it happens):
  send                        the API's produce of the command until Kafka
                              acknowledged it (acks=all)
  issued -> decider poll      the command's timestamp (set just before the
                              send) to the decider's poll returning it: the
                              send, the batch in flight, the fetch
  batch: decide, produce,     the command's batch: state and decide (first
  commit                      produce requests under way), the rest of the
                              produce, ending the transaction
  batch start -> result read  the batch, then the decider handing its
                              committed outcomes to the API (one process)
  acked -> result (API wait)  the API's wait for the result after the send

The tail in time, per step: the commands at or above the p99, counted by
the 100 ms window their answer came in. A few full windows are bursts
(something took the cores for a while: here mostly the broker's
collections, docs/performance.md, "The command tail comes in bursts");
many windows with a few each are a steady queue.

Then, per step, the Kafka requests the stack's clients wrote per command:
all, by kind (Produce, Fetch, EndTxn...) and by client (api-sender,
decider, api-results, the projectors): what loads the broker. Every row
also says how busy the machine's cores were (every process on it), and a
line per step how much of a core this process (the load, the readers
and, without --url, the stack) and each server spent: Kafka,
Elasticsearch and Redis as --brokers, --elasticsearch and --redis name them, each
the processes listening on that address's port on a loopback or any
address, when it is on this machine and /proc shows them (Linux; another
user's process needs the rights to read it; under Docker it is the port
proxy).

For a Java server (Kafka, Elasticsearch) the line also gives the part of
that CPU its JIT compiler threads took ("JIT 12.0%"). A JVM compiles its hot
paths for minutes after it starts, under load, on the cores the load
needs: on freshly started servers here the first steps' p99 was several
times the warm one. A step in which a server's JIT took 2% of a core or
more is named under "warming up": its latencies are not yet the servers'
steady ones. --warm 15m first sends the first step's load (first mode,
first rate) in rounds of 30 s until two rounds in a row in which no
server's JIT takes 2% of a core, for 15 minutes at most; the rounds are
printed as they go and kept in the JSON report as "warmup", not in the
steps. With no server's JIT to read (not on this machine, another user's,
behind a port proxy) it runs for all of --warm. Here it took about 7
minutes from a fresh start and took away the cold minutes (a p99 of
230-470 ms); the tail still settled over about 20 minutes of load,
Elasticsearch's CPU for the same load falling all that time, and each new
run's topics and index make the servers compile a little more
(docs/performance.md, "The servers' warm-up is their JIT compilers").

The freshness readers share the machine with the stack they measure: at
1,000/s, the view reads and the search poller are a good part of the
load (at 1,000/s on 2 cores, the poller's searches every 20 ms cost
the commands' p99 15-25 ms in session 17, so the default is every 50 ms;
in session 19 looking every 50 ms instead of every 200 ms cost
Elasticsearch about 4% of a core). --freshness=false leaves them out, to time the
commands alone; --search-poll 100ms makes the poller lighter, its
figures up to that much later than the documents became visible.

--cpuprofile FILE with --profile-rate N writes a CPU profile of the step at
N commands/s with Prefer: wait. With the in-process stack the profile holds
the load too: its goroutines carry the label side=load, so
  go tool pprof -tagignore side=load streamview FILE
shows the stack alone.

Examples:
  streamview bench api
  streamview bench api --rates 1000 --duration 30s --modes wait
  streamview bench api --rates 1000 --duration 30s --modes wait --warm 15m
  streamview bench api --rates 250,1000 --duration 8s --modes wait --raw=false
  streamview bench api --rates 1000,2000 --modes wait --freshness=false
  streamview bench api --cpuprofile api.prof --profile-rate 2000
`

func runBenchAPI(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench api")
	var servers benchFlags
	servers.register(fs, e)
	base := fs.String("url", "", "drive the API at this base URL instead of starting a stack")
	rates := fs.String("rates", "500,1000,2000,4000", "commands/s of the steps, comma-separated")
	duration := fs.Duration("duration", bench.DefaultAPIDuration, "how long each step sends")
	warm := fs.Duration("warm", 0, "before the steps, send the first step's load for at most this long, in rounds of 30s, until two rounds in a row in which no server's JIT compiler takes 2% of a core (not reported in the steps; with no server's JIT to read, all of it); 0: no warm-up")
	modes := fs.String("modes", "wait,nowait", "the steps' modes, in order, comma-separated: wait (Prefer: wait) and nowait")
	products := fs.Int("products", bench.DefaultAPIProducts, "products created before the steps, which the commands then pick")
	distribution := fs.String("distribution", bench.DefaultDistribution, "how commands pick their product: zipf (s=1.1) or uniform")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the step at --profile-rate with Prefer: wait to this file")
	profileRate := fs.Int("profile-rate", 0, "the rate whose step --cpuprofile profiles")
	searchPoll := fs.Duration("search-poll", bench.DefaultSearchPoll, "how often the search freshness poller searches (each look a search with facets, on the Elasticsearch the stack uses): shorter measures finer and loads the machine more")
	fresh := fs.Bool("freshness", true, "read views and search to measure freshness; false sends the commands alone (the readers load the machine the stack runs on)")
	raw := fs.Bool("raw", true, "after each step with Prefer: wait, measure the raw EOS round trip (bare Kafka: produce, transactional copy loop, read_committed result) at the same rate on --brokers")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout (progress and table go to stderr)")
	logLevel := fs.String("log-level", "warn", "the stack's log level on stderr: debug, info, warn or error")
	logFormat := logFormatFlag(fs, e)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchAPIHelp+"\nFlags:\n"); fs.PrintDefaults() }
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkDistribution("bench api", *distribution); err != nil {
		return err
	}
	cfg := bench.APIConfig{Base: *base, Duration: *duration, Warm: *warm, Products: *products, Distribution: *distribution, NoFreshness: !*fresh, SearchPoll: *searchPoll, Out: e.stdout}
	if *asJSON {
		cfg.Out = e.stderr
	}
	for _, r := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			return fmt.Errorf("streamview bench api: --rates %q: %w", *rates, err)
		}
		cfg.Rates = append(cfg.Rates, n)
	}
	cfg.Modes = []bool{}
	for _, m := range strings.Split(*modes, ",") {
		switch strings.TrimSpace(m) {
		case "wait":
			cfg.Modes = append(cfg.Modes, true)
		case "nowait":
			cfg.Modes = append(cfg.Modes, false)
		default:
			return fmt.Errorf("streamview bench api: --modes %q: want wait and nowait, comma-separated", *modes)
		}
	}
	if *cpuProfile != "" {
		if *profileRate == 0 {
			return fmt.Errorf("streamview bench api: --cpuprofile needs --profile-rate")
		}
		cfg.Profile = func(rate int, wait bool) func() {
			if rate != *profileRate || !wait {
				return func() {}
			}
			f, err := os.Create(*cpuProfile)
			if err != nil {
				fmt.Fprintf(e.stderr, "streamview bench api: --cpuprofile: %v\n", err)
				return func() {}
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				fmt.Fprintf(e.stderr, "streamview bench api: --cpuprofile: %v\n", err)
				return func() {}
			}
			return func() { pprof.StopCPUProfile(); f.Close() }
		}
	}
	if *duration <= 0 || *products <= 0 {
		return fmt.Errorf("streamview bench api: --duration and --products must be positive (got %v, %d)", *duration, *products)
	}
	if *warm < 0 {
		return fmt.Errorf("streamview bench api: --warm %v: must not be negative (0: no warm-up)", *warm)
	}
	logger, err := newLogger(e.stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	if *raw {
		kc, err := servers.k.settings()
		if err != nil {
			return err
		}
		sec, err := kc.SecurityOpts()
		if err != nil {
			return err
		}
		cfg.RawKafka = append([]kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, sec...)
	}
	srv, srvErr := servers.settings()
	if srvErr == nil {
		cfg.Servers = localServers(srv, e.stderr)
	}
	var rep bench.APIReport
	drive := func(ctx context.Context, url string) error {
		cfg.Base = url
		var err error
		rep, err = bench.API(ctx, cfg)
		return err
	}
	if *base != "" {
		err = drive(ctx, *base)
	} else {
		if srvErr != nil {
			return srvErr
		}
		srv.logger = logger
		// The stack in this process reports where its commands' time goes.
		srv.hops = &bench.Hops{}
		cfg.Hops = srv.hops
		// And which of its Kafka clients write which requests.
		srv.requests = &bench.Requests{}
		cfg.Requests = srv.requests
		err = withStack(ctx, srv, func(ctx context.Context, url string, _ func(context.Context) (map[string]int64, error)) error {
			return drive(ctx, url)
		})
	}
	if err != nil {
		return err
	}
	if !*asJSON {
		return nil
	}
	return writeJSON(e.stdout, rep)
}

// localServers are srv's servers that listen on this machine, whose CPU
// bench api reports per step; one that is not found is left out, with a
// line on log saying why.
func localServers(srv soakServers, log io.Writer) []bench.Server {
	var out []bench.Server
	add := func(name string, addrs []string) {
		for _, a := range addrs {
			n := name
			if len(addrs) > 1 {
				n += " " + a
			}
			s, err := bench.LocalServer(n, a)
			if err != nil {
				fmt.Fprintf(log, "bench api: no CPU figure for %v\n", err)
				continue
			}
			out = append(out, s)
		}
	}
	add("kafka", srv.kafka.Brokers)
	var es []string
	for _, u := range srv.es.URLs {
		p, err := url.Parse(u)
		if err != nil {
			fmt.Fprintf(log, "bench api: no CPU figure for elasticsearch at %q: %v\n", u, err)
			continue
		}
		port := p.Port()
		if port == "" {
			port = "80"
			if p.Scheme == "https" {
				port = "443"
			}
		}
		es = append(es, net.JoinHostPort(p.Hostname(), port))
	}
	add("elasticsearch", es)
	add("redis", srv.redis.Addrs())
	return out
}
