package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
)

func init() {
	commands["serve"] = command{
		summary: "run the API, the command decider and the projectors against Kafka, Redis and Elasticsearch",
		usage:   "[--roles api,decider,projector] [--addr 127.0.0.1:8080] [--projections product-view,product-search] [--delivery-timeout 10s] [connection flags]",
		help: `Runs the pipeline's long-lived roles in one process (all by default); run
several processes with different --roles to scale them apart:

  api        the HTTP API (commands in, product views and search out, health,
             metrics, /v1/openapi.json) on --addr
  decider    decides commands from catalog.product-commands and writes events
             and results in Kafka transactions (exactly once)
  projector  projects catalog.product-events into the Redis product view and
             the Elasticsearch search index, each in its live generation

SIGINT/SIGTERM stop it cleanly: in-flight batches are finished or abandoned
uncommitted, HTTP requests drain.`,
		run: runServe,
	}
}

// stack is where the pipeline's parts live: real servers for serve, the
// embedded ones for dev.
type stack struct {
	brokers  []string
	kafkaOpt []kgo.Opt
	redis    redis.UniversalClient
	// search returns the search index that serves queries, and a function
	// giving the index that generation gen of the projection writes.
	search      productsearch.Index
	searchWrite func(gen int) (productsearch.Index, error)
	searchLive  func(ctx context.Context) (int, error)
	searchReady func(ctx context.Context) error
	currency    string
	// queryTimeout bounds each store read of the API (api.Config.QueryTimeout).
	queryTimeout time.Duration
	logger       *slog.Logger
	// deliveryTimeout bounds each command's send to Kafka (the API's 503);
	// 0 is commandbus.DefaultDeliveryTimeout.
	deliveryTimeout time.Duration
	// ready, when set, is called with the API's address once it listens.
	ready func(addr string)
}

type serveFlags struct {
	kafka        kafkaFlags
	roles        string
	addr         string
	projections  string
	redisAddr    string
	esURL        string
	currency     string
	logLevel     string
	queryTimeout time.Duration
	delivery     time.Duration
	pprof        string
}

func (f *serveFlags) register(e env, name string) *flag.FlagSet {
	fs := newFlags(e, name)
	f.kafka.register(fs, e)
	fs.StringVar(&f.roles, "roles", "api,decider,projector", "roles to run, comma separated")
	fs.StringVar(&f.addr, "addr", e.or("STREAMVIEW_ADDR", "127.0.0.1:8080"), "HTTP listen address of the api role (env STREAMVIEW_ADDR)")
	fs.StringVar(&f.projections, "projections", productview.Name+","+searchProjection, "projections the projector role runs")
	fs.StringVar(&f.redisAddr, "redis", e.or("REDIS_ADDR", "127.0.0.1:6379"), "Redis address (env REDIS_ADDR)")
	fs.StringVar(&f.esURL, "elasticsearch", e.or("ELASTICSEARCH_URL", "http://127.0.0.1:9200"), "Elasticsearch URL (env ELASTICSEARCH_URL)")
	fs.StringVar(&f.currency, "currency", e.or("STREAMVIEW_CURRENCY", product.DefaultCurrency), "the catalogue's ISO 4217 currency (env STREAMVIEW_CURRENCY)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	deliveryTimeoutFlag(fs, &f.delivery)
	pprofFlag(fs, &f.pprof)
	fs.DurationVar(&f.queryTimeout, "query-timeout", api.DefaultQueryTimeout,
		"bound of each Redis or Elasticsearch read of the API; a store that has not answered by then makes the request a 503 with Retry-After")
	return fs
}

// envDeliveryTimeout is the environment variable of --delivery-timeout.
const envDeliveryTimeout = "STREAMVIEW_DELIVERY_TIMEOUT"

// deliveryTimeoutFlag registers --delivery-timeout of serve and dev.
func deliveryTimeoutFlag(fs *flag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "delivery-timeout", commandbus.DefaultDeliveryTimeout,
		"how long a command may take to reach Kafka before the API answers 503 (env "+envDeliveryTimeout+")")
}

// deliveryTimeout returns --delivery-timeout, or STREAMVIEW_DELIVERY_TIMEOUT
// when the flag is not given.
func deliveryTimeout(fs *flag.FlagSet, e env, flagValue time.Duration) (time.Duration, error) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "delivery-timeout" })
	v := e.getenv(envDeliveryTimeout)
	if given || v == "" {
		return flagValue, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive duration such as 10s", envDeliveryTimeout, v)
	}
	return d, nil
}

const searchProjection = "product-search"

// batchOf is the runtime's batch size for projection name: the search
// index takes productsearch.Batch; the view keeps the runtime's default.
func batchOf(name string) int {
	if name == searchProjection {
		return productsearch.Batch
	}
	return 0
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runServe(ctx context.Context, e env, args []string) error {
	var f serveFlags
	fs := f.register(e, "serve")
	if err := parse(fs, args); err != nil {
		return err
	}
	roles, err := parseRoles(f.roles)
	if err != nil {
		return err
	}
	logger, err := newLogger(e.stderr, f.logLevel)
	if err != nil {
		return err
	}
	if f.queryTimeout <= 0 {
		return fmt.Errorf("--query-timeout %v: must be positive", f.queryTimeout)
	}
	if err := startPprof(ctx, f.pprof, logger); err != nil {
		return err
	}
	st := stack{brokers: strings.Split(f.kafka.brokers, ","), currency: f.currency, queryTimeout: f.queryTimeout, logger: logger}
	if st.deliveryTimeout, err = deliveryTimeout(fs, e, f.delivery); err != nil {
		return err
	}
	st.redis = newRedis(f.redisAddr)
	defer st.redis.Close()
	if err := attachElasticsearch(ctx, &st, f.esURL); err != nil {
		return err
	}
	st.ready = testReady
	return serveStack(ctx, st, roles, f.addr, splitList(f.projections))
}

// newRedis returns the Redis client of the view store. Reads and writes
// end at their context's deadline (ContextTimeoutEnabled), so that the API's
// query timeout holds against a server that accepts and never answers; a
// read without a deadline (the projector's) ends after ReadTimeout (the
// go-redis defaults, written out).
func newRedis(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr,
		DialTimeout:           5 * time.Second,
		ReadTimeout:           3 * time.Second,
		WriteTimeout:          3 * time.Second,
		ContextTimeoutEnabled: true,
	})
}

// testReady, set by tests only, learns the API's address.
var testReady func(addr string)

func parseRoles(s string) (map[string]bool, error) {
	roles := map[string]bool{}
	for _, r := range splitList(s) {
		if !slices.Contains([]string{"api", "decider", "projector"}, r) {
			return nil, fmt.Errorf("--roles: unknown role %q (want api, decider, projector)", r)
		}
		roles[r] = true
	}
	if len(roles) == 0 {
		return nil, errors.New("--roles: name at least one of api, decider, projector")
	}
	return roles, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// serveStack runs the roles on st until ctx ends or one fails.
func serveStack(ctx context.Context, st stack, roles map[string]bool, addr string, projections []string) error {
	codec, err := schemas.NewCodec()
	if err != nil {
		return err
	}
	rules := product.Rules{Currency: st.currency}
	if err := rules.Validate(); err != nil {
		return err
	}
	views, err := redisview.New(st.redis, redisview.Config{Projection: productview.Name})
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	var (
		followersMu sync.Mutex
		followers   []*rebuild.Follower
	)
	procs := func() []*processors.Runner {
		followersMu.Lock()
		defer followersMu.Unlock()
		return followed(followers)
	}
	// follow runs p under a follower, which runs the live generation and
	// switches to a rebuilt one when `streamview rebuild` hands it over.
	follow := func(p *processors.Runner) (*rebuild.Follower, error) {
		f, err := followRebuilds(st, codec, views, p)
		if err != nil {
			return nil, err
		}
		followersMu.Lock()
		followers = append(followers, f)
		followersMu.Unlock()
		return f, nil
	}

	if roles["projector"] {
		for _, name := range projections {
			if err := checkProjection(st, name); err != nil {
				return err
			}
			startCtx, cancel := context.WithTimeout(ctx, projectorStartTimeout)
			p, err := newProjector(startCtx, st, codec, views, name)
			cancel()
			if err != nil {
				// A store that cannot be reached now does not stop the
				// other roles: this projector waits for it.
				st.logger.Error("projector cannot start; retrying in the background", "projection", name, "err", err)
				g.Go(func() error {
					p, err := awaitProjector(ctx, st, codec, views, name)
					if err != nil {
						return nil // ctx ended
					}
					f, err := follow(p)
					if err != nil {
						return err
					}
					return f.Run(ctx)
				})
				continue
			}
			f, err := follow(p)
			if err != nil {
				return err
			}
			g.Go(func() error { return f.Run(ctx) })
		}
	}
	var checks []api.Check
	if roles["decider"] {
		d, err := decider.New(decider.Config{Brokers: st.brokers, Rules: rules, Logger: st.logger, ClientOpts: st.kafkaOpt}, codec)
		if err != nil {
			return err
		}
		checks = append(checks, api.Check{Name: "decider", Check: func(context.Context) error { return d.Health().Error() }})
		g.Go(func() error { return d.Run(ctx) })
	}
	if roles["api"] {
		results, err := commandbus.NewResults(commandbus.ResultsConfig{Brokers: st.brokers, Logger: st.logger, ClientOpts: st.kafkaOpt}, codec)
		if err != nil {
			return err
		}
		sender, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: st.brokers, Tracker: results, DeliveryTimeout: st.deliveryTimeout, Logger: st.logger, ClientOpts: st.kafkaOpt}, codec)
		if err != nil {
			return err
		}
		defer sender.Close()
		// One client for every readiness check: a new one per GET /readyz
		// would dial the cluster each time and leak connections under
		// polling.
		readyKafka, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...)...)
		if err != nil {
			return fmt.Errorf("api: kafka client for /readyz: %w", err)
		}
		defer readyKafka.Close()
		cfg := api.Config{Currency: st.currency, QueryTimeout: st.queryTimeout, Logger: st.logger}
		if err := cfg.Validate(); err != nil {
			return err
		}
		deps := api.Deps{
			Commands:    busOf{results, sender},
			Views:       productview.NewReader(views),
			Ready:       append(readiness(st, readyKafka), checks...),
			Projections: func(ctx context.Context) (any, error) { return projectionsOverview(ctx, st, procs()) },
			Metrics:     func(w io.Writer) { writeProcessorMetrics(w, procs()) },
		}
		if st.search != nil {
			deps.Search = st.search
		}
		srv := api.New(cfg, deps)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("api: listen on %s: %w (another streamview running? pass --addr)", addr, err)
		}
		st.logger.Info("api listening", "addr", "http://"+ln.Addr().String())
		if st.ready != nil {
			st.ready(ln.Addr().String())
		}
		g.Go(func() error { return results.Run(ctx) })
		g.Go(func() error { return srv.Serve(ctx, ln) })
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// busOf joins the command sender and the results reader into the API's
// command bus.
type busOf struct {
	*commandbus.Results
	*commandbus.Sender
}

// checkProjection reports a projection that st cannot run at all: a
// configuration error, not an outage.
func checkProjection(st stack, name string) error {
	switch name {
	case productview.Name:
		return nil
	case searchProjection:
		if st.searchWrite == nil {
			return fmt.Errorf("projection %s: no search index configured", name)
		}
		return nil
	}
	return fmt.Errorf("unknown projection %q (want %s or %s)", name, productview.Name, searchProjection)
}

// projectorStartTimeout bounds the first attempt to start a projector,
// made before the API listens: a store that hangs must not keep the API
// from serving what does not need it.
const projectorStartTimeout = 10 * time.Second

// projectorRetry spaces the attempts to start a projector whose store
// cannot be reached.
var projectorRetry = backoff.Policy{Min: time.Second, Max: 30 * time.Second}

// awaitProjector is newProjector, tried again with backoff until it works
// or ctx ends (then it returns ctx's error).
func awaitProjector(ctx context.Context, st stack, codec *schemas.Codec, views *redisview.Store, name string) (*processors.Runner, error) {
	retry := projectorRetry.Start()
	for {
		wait := retry.Next()
		if !backoff.Sleep(ctx, wait) {
			return nil, ctx.Err()
		}
		p, err := newProjector(ctx, st, codec, views, name)
		if err == nil {
			st.logger.Info("projector started", "projection", name, "attempts", retry.Attempt()+1)
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		st.logger.Error("projector cannot start; retrying", "projection", name, "err", err, "attempt", retry.Attempt())
	}
}

// newProjector prepares the live generation of projection name and returns
// its processor.
func newProjector(ctx context.Context, st stack, codec *schemas.Codec, views *redisview.Store, name string) (*processors.Runner, error) {
	var (
		proj processors.Projection
		gen  int
		err  error
	)
	switch name {
	case productview.Name:
		if gen, err = views.EnsureLive(ctx, 1); err != nil {
			return nil, fmt.Errorf("projection %s: live generation: %w (is Redis up?)", name, err)
		}
		proj, err = productview.NewWriter(views, gen)
	case searchProjection:
		if st.searchWrite == nil {
			return nil, fmt.Errorf("projection %s: no search index configured", name)
		}
		if gen, err = st.searchLive(ctx); err != nil {
			return nil, fmt.Errorf("projection %s: live generation: %w", name, err)
		}
		proj, err = st.searchWrite(gen)
	default:
		return nil, fmt.Errorf("unknown projection %q (want %s or %s)", name, productview.Name, searchProjection)
	}
	if err != nil {
		return nil, err
	}
	return processors.New(processors.Config{Name: name, Generation: gen, MaxBatch: batchOf(name), Logger: st.logger}, codec, proj,
		append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...)...)
}

// readiness returns the checks of GET /readyz on st's servers; kafka is
// the long-lived client that pings the cluster.
func readiness(st stack, kafka *kgo.Client) []api.Check {
	checks := []api.Check{
		{Name: "kafka", Check: kafka.Ping},
		{Name: "redis", Check: func(ctx context.Context) error { return st.redis.Ping(ctx).Err() }},
	}
	if st.searchReady != nil {
		checks = append(checks, api.Check{Name: "elasticsearch", Check: st.searchReady})
	}
	return checks
}

func writeProcessorMetrics(w io.Writer, procs []*processors.Runner) {
	mw := api.NewMetricWriter(w)
	for _, m := range []struct{ name, help string }{
		{"streamview_projection_records_total", "Records consumed and committed by a projection generation."},
		{"streamview_projection_applied_total", "Events applied to a projection's store."},
		{"streamview_projection_dead_lettered_total", "Records sent to a projection's dead-letter topic."},
		{"streamview_projection_retries_total", "Failed sink attempts that were retried."},
	} {
		mw.Family(m.name, "counter", m.help)
		for _, p := range procs {
			s, cfg := p.Stats(), p.Config()
			v := map[string]int64{
				"streamview_projection_records_total": s.Records, "streamview_projection_applied_total": s.Applied,
				"streamview_projection_dead_lettered_total": s.DeadLettered, "streamview_projection_retries_total": s.Retries,
			}[m.name]
			mw.Int(m.name, v, api.Label{Name: "projection", Value: cfg.Name}, api.Label{Name: "generation", Value: strconv.Itoa(cfg.Generation)})
		}
	}
}
