package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/internal/telemetry"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
)

func init() {
	commands["serve"] = command{
		summary: "run the API, the command decider and the projectors against Kafka, Redis and Elasticsearch",
		usage:   "[--roles api,decider,projector] [--addr 127.0.0.1:8080] [--projections product-view,product-search,product-history] [--delivery-timeout 10s] [--log-format text|json] [connection flags]",
		help: `Runs the pipeline's long-lived roles in one process (all by default); run
several processes with different --roles to scale them apart:

  api        the HTTP API (commands in, product views, histories and search
             out, health, metrics, operations on projections,
             /v1/openapi.json) and the web console at / on --addr
  decider    decides commands from catalog.product-commands and writes events
             and results in Kafka transactions (exactly once)
  projector  projects catalog.product-events into the Redis product view,
             the Elasticsearch search index, each in its live generation, and
             the product-history index (where each product's events lie, for
             GET /v1/products/{id}/events)
  notifier   delivers webhooks for price drops and returns to stock (not in
             the default roles; see streamview notify --help, whose flags
             serve takes too)

Observability: GET /metrics on --addr (Prometheus; every streamview_*
metric and each Kafka client's kprom metrics); traces over OTLP when
OTEL_EXPORTER_OTLP_ENDPOINT is set or OTEL_TRACES_EXPORTER=otlp (the
standard OTEL_* variables configure the exporter; off by default); logs on
stderr as --log-format text or json, with --log-level.

SIGINT/SIGTERM stop it cleanly: in-flight batches are finished or abandoned
uncommitted, HTTP requests drain.

With STREAMVIEW_JWT_SECRET(_FILE) or --jwks the API checks bearer tokens
and scopes (see 'streamview help token'); without them it refuses a
non-loopback --addr unless --insecure. Every flag can also come from the
environment or a --config YAML file (flags > environment > file > defaults).`,
		run: runServe,
	}
}

// stack is where the pipeline's parts live: real servers for serve, the
// embedded ones for dev.
type stack struct {
	// lookBack is the API's results reader's (commandbus.ResultsConfig);
	// 0 for its default.
	lookBack time.Duration
	// opsAddr, when set, is the listen address of health, readiness and
	// metrics alone (--ops-addr).
	opsAddr  string
	brokers  []string
	kafkaOpt []kgo.Opt
	// registry, when on, makes the codec write Confluent framing.
	registry connect.SchemaRegistry
	redis    redis.UniversalClient
	// epoch reads Redis's epoch for the pollers of this process (the
	// followers' Lost, the notifier's recovery): one read per
	// redisview.DefaultEpochMaxAge, however many poll. Set beside redis;
	// see epochs.
	epoch *redisview.EpochReader
	// search returns the search index that serves queries, and a function
	// giving the index that generation gen of the projection writes.
	search      productsearch.Index
	searchWrite func(gen int) (productsearch.Index, error)
	searchLive  func(ctx context.Context) (int, error)
	searchReady func(ctx context.Context) error
	// searchGens are the generations of an Elasticsearch search index,
	// for rebuilds started over HTTP; nil for the embedded index.
	searchGens *esindex.Generations
	currency   string
	// queryTimeout bounds each store read of the API (api.Config.QueryTimeout).
	queryTimeout time.Duration
	logger       *slog.Logger
	// deliveryTimeout bounds each command's send to Kafka (the API's 503);
	// 0 is commandbus.DefaultDeliveryTimeout.
	deliveryTimeout time.Duration
	// ready, when set, is called with the API's address once it listens.
	ready func(addr string)
	// beforeListen, when set, runs with the other roles started, before
	// the API listens: dev waits there for its views to be rebuilt, so
	// that no read answers from a view still empty.
	beforeListen func(context.Context) error
	// deadLettered, by projection, reports the records of the events
	// topic whose dead letters generation 1 wrote before (dev, which
	// reads its log again at every start).
	deadLettered map[string]func(partition int32, offset int64) bool
	// access is the API's authentication, rate limit and cursor secret.
	access access
	// notifier, when set, runs with the other roles (--roles notifier).
	notifier interface{ Run(context.Context) error }
	// letters counts the dead-letter topics for GET /v1/projections,
	// reading only what arrived since the last call; nil counts them whole.
	letters *deadletter.Counts
	// rates measures, for GET /v1/projections, the rate of the
	// generations whose projector runs in another process, from their
	// committed offsets between calls; nil gives them none.
	rates *rebuild.Rates
	// webhookAllow is the API's allowlist of webhook hosts.
	webhookAllow *subscription.Allowlist
	// tel holds the metrics (GET /metrics) and, when tracing is on, the
	// tracer; serveStack makes one with tracing off when nil.
	tel *telemetry.Telemetry
	// esIndex are the shards and replicas of the search indices it creates.
	esIndex esIndexFlags
	// snapshotEvery is decider.Config.SnapshotEvery (0: its default).
	snapshotEvery int
	// sessionTimeout is the consumer group session of the decider and
	// the projectors (--session-timeout; 0: the Kafka client's default).
	sessionTimeout time.Duration
	// transactionTimeout is decider.Config.TransactionTimeout
	// (--transaction-timeout; 0: its default).
	transactionTimeout time.Duration
	// transactionalID is decider.Config.TransactionalID
	// (--transactional-id; "": its default).
	transactionalID string
	// viewChanges, set by serveStack when it runs the API beside the
	// product-view projector, carries the projector's writes to the API's
	// ?minVersion= reads (api.Deps.ViewChanges).
	viewChanges *productview.Changes
	// loss is the start's check for a Redis that lost its data, which the
	// Redis projectors run before their first start (refill.go); nil
	// outside serve's projector role.
	loss *lossCheck
}

type serveFlags struct {
	kafka        kafkaFlags
	roles        string
	addr         string
	opsAddr      string
	lookBack     time.Duration
	projections  string
	redis        redisFlags
	es           esFlags
	registry     *connect.SchemaRegistryFlags
	currency     string
	logLevel     string
	logFormat    *string
	queryTimeout time.Duration
	delivery     time.Duration
	access       accessFlags
	notify       notifyFlags
	esIndex      esIndexFlags
	snapshot     int
	txnTimeout   time.Duration
	txnID        string
	pprof        string
}

func (f *serveFlags) register(e env, name string) *flag.FlagSet {
	fs := newFlags(e, name)
	f.kafka.register(fs, e)
	fs.StringVar(&f.roles, "roles", "api,decider,projector", "roles to run, comma separated")
	fs.StringVar(&f.addr, "addr", e.or("STREAMVIEW_ADDR", "127.0.0.1:8080"), "HTTP listen address of the api role (env STREAMVIEW_ADDR)")
	fs.DurationVar(&f.lookBack, "results-look-back", commandbus.DefaultLookBack,
		"api: how far back the command results and commands are read at the start, for GET /v1/commands/{id} and the Idempotency-Keys' bindings "+
			"(keyed commands wait until that read is done); API.md keeps a first outcome 24h, the decider's window")
	fs.StringVar(&f.opsAddr, "ops-addr", e.getenv("STREAMVIEW_OPS_ADDR"),
		"HTTP listen address of GET /healthz, /readyz and /metrics alone, for a serve without the api role (a decider or projector process) "+
			"to be probed and scraped; /readyz checks what its roles use; empty: no such listener (env STREAMVIEW_OPS_ADDR)")
	fs.StringVar(&f.projections, "projections", productview.Name+","+searchProjection+","+historyProjection, "projections the projector role runs")
	f.redis.register(fs, e, "127.0.0.1:6379", "")
	f.es.register(fs, e, "elasticsearch", "http://127.0.0.1:9200", "Elasticsearch URL, without credentials (env ELASTICSEARCH_URL)")
	f.registry = connect.RegisterSchemaRegistry(fs, e.getenv)
	fs.StringVar(&f.currency, "currency", e.or("STREAMVIEW_CURRENCY", product.DefaultCurrency), "the catalogue's ISO 4217 currency (env STREAMVIEW_CURRENCY)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.logFormat = logFormatFlag(fs, e)
	deliveryTimeoutFlag(fs, &f.delivery)
	f.notify.register(fs)
	f.esIndex.register(fs, e)
	snapshotEveryFlag(fs, &f.snapshot)
	fs.DurationVar(&f.txnTimeout, "transaction-timeout", decider.DefaultTransactionTimeout,
		"decider: how long the broker keeps one of its transactions open before aborting it; also how long a crashed instance's open transaction "+
			"holds its partitions back from the others (at least 1s; the broker allows up to transaction.max.timeout.ms, 15m by default)")
	fs.StringVar(&f.txnID, "transactional-id", e.getenv(envTransactionalID),
		"decider: its Kafka transactional ID, unique per running instance (two instances with one fence each other in turn); give each replica a stable one, "+
			"such as a StatefulSet pod's name, so that a restarted replica ends its predecessor's open transaction at once instead of after --transaction-timeout "+
			"(default streamview-decider-<host>-<random>) (env "+envTransactionalID+")")
	pprofFlag(fs, &f.pprof)
	fs.DurationVar(&f.queryTimeout, "query-timeout", api.DefaultQueryTimeout,
		"bound of each store read of the API (Redis, Elasticsearch; Kafka for the history, GET /v1/projections and dead-letter lists); a store that has not answered by then makes the request a 503 with Retry-After")
	f.access.register(fs, e)
	return fs
}

// envTransactionalID is the environment variable of --transactional-id.
const envTransactionalID = "STREAMVIEW_TRANSACTIONAL_ID"

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

// applyIntervalOf is projection name's processors.Config.MinApplyInterval:
// searchApplyInterval for the search index, none for the others.
func applyIntervalOf(name string) time.Duration {
	if name == searchProjection {
		return searchApplyInterval
	}
	return 0
}

// searchApplyInterval is the least time between two batches of one
// partition of the search projection. A document is searchable only after
// the index's next refresh (every second by default), so a write that
// waits this long first is seen at most this much later, and a busy
// partition writes in one _bulk (and one reference re-check) what it would
// have written in several: at 1,000 commands/s, one batch per poll made
// 280-400 _bulk and as many _mget requests a second, 50ms made 117-119.
const searchApplyInterval = 50 * time.Millisecond

// batchOf is the runtime's batch size for projection name: the search
// index takes productsearch.Batch; the view keeps the runtime's default.
func batchOf(name string) int {
	if name == searchProjection {
		return productsearch.Batch
	}
	return 0
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
	if roles["notifier"] {
		if err := f.notify.check(); err != nil {
			return err
		}
	}
	logger, err := newLogger(e.stderr, f.logLevel, *f.logFormat)
	if err != nil {
		return err
	}
	logRedisTo(logger)
	if f.queryTimeout <= 0 {
		return fmt.Errorf("--query-timeout %v: must be positive", f.queryTimeout)
	}
	if f.notify.session < 0 {
		return fmt.Errorf("--session-timeout %v: want a duration of 0 or more", f.notify.session)
	}
	if f.txnTimeout < time.Second {
		return fmt.Errorf("--transaction-timeout %v: want at least 1s (the default is %v)", f.txnTimeout, decider.DefaultTransactionTimeout)
	}
	if err := startPprof(ctx, f.pprof, logger); err != nil {
		return err
	}
	kafkaConn, err := f.kafka.settings()
	if err != nil {
		return err
	}
	redisConn, err := f.redis.settings()
	if err != nil {
		return err
	}
	esConn, err := f.es.settings()
	if err != nil {
		return err
	}
	st := stack{brokers: kafkaConn.Brokers, currency: f.currency, queryTimeout: f.queryTimeout, logger: logger}
	if st.registry, err = f.registry.Load(); err != nil {
		return err
	}
	if st.kafkaOpt, err = kafkaConn.SecurityOpts(); err != nil {
		return err
	}
	if err := f.esIndex.validate(); err != nil {
		return err
	}
	if f.snapshot, err = snapshotEvery(fs, e, f.snapshot); err != nil {
		return err
	}
	st.esIndex, st.snapshotEvery, st.sessionTimeout, st.transactionTimeout, st.transactionalID = f.esIndex, f.snapshot, f.notify.session, f.txnTimeout, f.txnID
	if st.deliveryTimeout, err = deliveryTimeout(fs, e, f.delivery); err != nil {
		return err
	}
	if st.access, err = f.access.resolve(); err != nil {
		return err
	}
	if f.lookBack <= 0 {
		return fmt.Errorf("--results-look-back %v: must be positive (the default is %v)", f.lookBack, commandbus.DefaultLookBack)
	}
	st.lookBack = f.lookBack
	if f.opsAddr != "" {
		if err := checkListen(f.opsAddr, st.access.auth.Enabled(), f.access.insecure); err != nil {
			return fmt.Errorf("--ops-addr: %w", err)
		}
		st.opsAddr = f.opsAddr
	}
	if roles["api"] || st.opsAddr != "" {
		if roles["api"] {
			if err := checkListen(f.addr, st.access.auth.Enabled(), f.access.insecure); err != nil {
				return err
			}
		}
		if err := st.access.start(ctx); err != nil {
			return err
		}
		logAccess(logger, st.access)
	}
	if st.redis, err = newRedisConn(redisConn); err != nil {
		return err
	}
	defer st.redis.Close()
	st.epoch = redisview.NewEpochReader(st.redis, 0).Log(st.logger)
	if err := attachSearch(ctx, &st, esConn); err != nil {
		return err
	}
	// What it connects to, and as whom (never a secret), as dev's banner.
	logger.Info("servers", "kafka", kafkaConn.Describe(), "redis", redisConn.Describe(), "elasticsearch", esConn.Describe())
	if err := preflight(ctx, st, connections{kafka: &kafkaConn, redis: &redisConn, es: &esConn}); err != nil {
		return err
	}
	st.ready = testReady
	if st.webhookAllow, err = webhookAllowlist(e); err != nil {
		return err
	}
	if roles["notifier"] {
		// It reads the events: with a registry, their Confluent framing.
		codec, err := newDecoder(ctx, st.registry)
		if err != nil {
			return err
		}
		if st.notifier, err = newNotifier(e, st, &f.notify, codec, nil); err != nil {
			return err
		}
	}
	tel, shutdown, err := newTelemetry(ctx, e, logger)
	if err != nil {
		return err
	}
	defer shutdown()
	st.tel = tel
	return serveStack(ctx, st, roles, f.addr, splitList(f.projections))
}

// newRedis returns the Redis client of the view store. Reads and writes
// end at their context's deadline (ContextTimeoutEnabled), so that the API's
// query timeout holds against a server that accepts and never answers; a
// read without a deadline (the projector's) ends after ReadTimeout (the
// go-redis defaults, written out).
func newRedis(addr string) *redis.Client {
	o := redisOptions()
	o.Addr = addr
	return redis.NewClient(o)
}

// redisOptions are newRedis's settings without the address (newRedisConn
// adds a secured connection's, on one server or a cluster).
func redisOptions() *redis.Options {
	return &redis.Options{
		DialTimeout:           5 * time.Second,
		ReadTimeout:           3 * time.Second,
		WriteTimeout:          3 * time.Second,
		ContextTimeoutEnabled: true,
	}
}

// testReady, set by tests only, learns the API's address.
var testReady func(addr string)

func parseRoles(s string) (map[string]bool, error) {
	roles := map[string]bool{}
	for _, r := range splitList(s) {
		if !slices.Contains([]string{"api", "decider", "projector", "notifier"}, r) {
			return nil, fmt.Errorf("--roles: unknown role %q (want api, decider, projector, notifier)", r)
		}
		roles[r] = true
	}
	if len(roles) == 0 {
		return nil, errors.New("--roles: name at least one of api, decider, projector, notifier")
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
	// Before any goroutine copies st.
	st.letters = new(deadletter.Counts)
	st.rates = new(rebuild.Rates)
	codec, err := newCodec(ctx, st.registry)
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
	if roles["api"] && roles["projector"] && slices.Contains(projections, productview.Name) {
		st.viewChanges = new(productview.Changes)
	}
	if st.tel == nil {
		st.tel = telemetry.New(telemetry.Config{Logger: st.logger})
	}
	g, ctx := errgroup.WithContext(ctx)
	var (
		followersMu sync.Mutex
		followers   []*rebuild.Follower
		building    func() []*processors.Runner // the API's rebuilds
		built       func(name string, gen int) *processors.Runner
	)
	procs := func() []*processors.Runner {
		followersMu.Lock()
		defer followersMu.Unlock()
		ps := followed(followers)
		if building == nil {
			return ps
		}
		// A build that has handed over runs its generation beside the
		// follower for a moment: one of them reports it.
		for _, b := range building() {
			if !slices.ContainsFunc(ps, func(p *processors.Runner) bool {
				return p.Config().Name == b.Config().Name && p.Config().Generation == b.Config().Generation
			}) {
				ps = append(ps, b)
			}
		}
		return ps
	}
	st.tel.WatchProjections(func() []telemetry.ProjectionStats { return projectionStats(procs()) })
	// follow runs p under a follower, which runs the live generation and
	// switches to a rebuilt one when `streamview rebuild` hands it over.
	follow := func(p *processors.Runner) (*rebuild.Follower, error) {
		f, err := followRebuilds(ctx, st, codec, views, p, func(name string, gen int) *processors.Runner {
			followersMu.Lock()
			defer followersMu.Unlock()
			if built == nil {
				return nil
			}
			return built(name, gen)
		})
		if err != nil {
			return nil, err
		}
		followersMu.Lock()
		followers = append(followers, f)
		followersMu.Unlock()
		return f, nil
	}

	if roles["projector"] {
		// Before the first Redis projector starts, once it can be read: a
		// Redis that lost its data is read again from the log.
		st.loss = &lossCheck{views: views, projections: projections}
		for _, name := range projections {
			if err := checkProjection(st, name); err != nil {
				return err
			}
		}
		// Their first starts at once: a store that is down delays the API
		// by one bound, not one per projection.
		firsts := make([]struct {
			p   *processors.Runner
			err error
		}, len(projections))
		var wg sync.WaitGroup
		for i, name := range projections {
			wg.Go(func() {
				startCtx, cancel := context.WithTimeout(ctx, projectorStartTimeout)
				defer cancel()
				firsts[i].p, firsts[i].err = newProjector(startCtx, st, codec, views, name)
			})
		}
		wg.Wait()
		for i, name := range projections {
			p, err := firsts[i].p, firsts[i].err
			if err != nil {
				// A store that cannot be reached now does not stop the
				// other roles: this projector waits for it.
				st.logger.Error("projector cannot start; retrying in the background", logkey.Projection, name, "err", err)
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
	if st.notifier != nil {
		watchNotifier(st.tel, st.notifier)
		g.Go(func() error { return st.notifier.Run(ctx) })
	}
	var checks []api.Check
	var results *commandbus.Results
	if roles["api"] {
		results, err = commandbus.NewResults(commandbus.ResultsConfig{Brokers: st.brokers, Logger: st.logger, LookBack: st.lookBack,
			ClientOpts: append(slices.Clip(st.kafkaOpt), st.tel.Kafka("api-results")...),
			ReadOpts:   append(slices.Clip(st.kafkaOpt), st.tel.KafkaLog("api-results")...), Decided: st.tel.Decided}, codec)
		if err != nil {
			return err
		}
		st.tel.WatchOutcomes(func() telemetry.OutcomeStats {
			s := results.Stats()
			return telemetry.OutcomeStats{Decider: s.Delivered, Topic: s.Read}
		})
	}
	if roles["decider"] {
		dcfg := decider.Config{Brokers: st.brokers, Rules: rules, Logger: st.logger,
			ClientOpts: append(slices.Clip(st.kafkaOpt), st.tel.KafkaLog("decider")...), Hooks: st.tel.Decider(),
			SnapshotEvery: st.snapshotEvery, SessionTimeout: st.sessionTimeout,
			TransactionTimeout: st.transactionTimeout, TransactionalID: st.transactionalID}
		if results != nil {
			// The API here answers a Prefer: wait as soon as this
			// decider's commit is acknowledged, not a fetch of the
			// results topic later; other instances read the topic.
			dcfg.Outcomes = results.Deliver
		}
		d, err := decider.New(dcfg, codec)
		if err != nil {
			return err
		}
		st.tel.WatchDecider(func() telemetry.DeciderStats { return deciderStats(d.Stats()) })
		checks = append(checks, api.Check{Name: "decider", Check: func(context.Context) error { return d.Health().Error() }})
		g.Go(func() error { return d.Run(ctx) })
	}
	if roles["api"] {
		sender, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: st.brokers, Tracker: results, DeliveryTimeout: st.deliveryTimeout, Logger: st.logger,
			ClientOpts: append(slices.Clip(st.kafkaOpt), st.tel.Kafka("api-sender")...)}, codec)
		if err != nil {
			return err
		}
		defer sender.Close()
		// One client for every readiness check: a new one per GET /readyz
		// would dial the cluster each time and leak connections under
		// polling.
		readyKafka, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...), st.tel.KafkaLog("api-ready")...)...)
		if err != nil {
			return fmt.Errorf("api: kafka client for /readyz: %w", err)
		}
		defer readyKafka.Close()
		cfg := api.Config{Currency: st.currency, QueryTimeout: st.queryTimeout, WebhookAllow: st.webhookAllow, Logger: st.logger}
		st.access.apply(&cfg)
		if tp := st.tel.TracerProvider(); tp != nil {
			cfg.TracerProvider = tp
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		history, historyKafka, err := newHistory(st, codec)
		if err != nil {
			return err
		}
		defer historyKafka.Close()
		ops, err := newOperations(ctx, st, codec, views, projections)
		if err != nil {
			return err
		}
		defer ops.Close()
		followersMu.Lock()
		building, built = ops.Building, ops.Built
		followersMu.Unlock()
		deps := api.Deps{
			History:    history,
			Operations: ops,
			Commands:   busOf{results, sender},
			Views:      productview.NewReader(views),
			Ready:      append(append(readiness(st, readyKafka), liveCheck(st.redis, views), resultsCheck(results)), checks...),
			Projections: func(ctx context.Context) (any, error) {
				return projectionsOverview(ctx, st, reportedProjections(st), procs(), ops.Ended())
			},
			Metrics: st.tel.Registry(),
		}
		if st.search != nil {
			deps.Search = st.search
		}
		if st.viewChanges != nil {
			deps.ViewChanges = st.viewChanges
		}
		srv := api.New(cfg, deps)
		if st.beforeListen != nil {
			if err := st.beforeListen(ctx); err != nil {
				g.Go(func() error { return err }) // stops the other roles
			}
			if ctx.Err() != nil {
				return g.Wait() // a role failed meanwhile, or the stop: the others end first
			}
		}
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
	if st.opsAddr != "" {
		if err := serveOps(ctx, g, st, roles, checks); err != nil {
			return err
		}
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// serveOps listens on st.opsAddr with GET /healthz, /readyz and /metrics
// alone (api.Config.OpsOnly), for a process of other roles than api: its
// /readyz checks Kafka, and what its roles use besides (Redis and search
// for the projector and the notifier, the decider's own health: roleChecks).
func serveOps(ctx context.Context, g *errgroup.Group, st stack, roles map[string]bool, roleChecks []api.Check) error {
	kafka, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...), st.tel.KafkaLog("ops-ready")...)...)
	if err != nil {
		return fmt.Errorf("ops listener: kafka client for /readyz: %w", err)
	}
	// Kafka, and each store only when a role of this process writes it.
	ready := slices.DeleteFunc(readiness(st, kafka), func(c api.Check) bool {
		switch c.Name {
		case "redis":
			return !roles["projector"] && !roles["notifier"]
		case "elasticsearch":
			return !roles["projector"]
		}
		return false
	})
	cfg := api.Config{OpsOnly: true, QueryTimeout: st.queryTimeout, Logger: st.logger}
	st.access.apply(&cfg)
	srv := api.New(cfg, api.Deps{Ready: append(ready, roleChecks...), Metrics: st.tel.Registry()})
	ln, err := net.Listen("tcp", st.opsAddr)
	if err != nil {
		kafka.Close()
		return fmt.Errorf("ops listener: listen on %s: %w (pass another --ops-addr)", st.opsAddr, err)
	}
	st.logger.Info("ops listening (health, readiness, metrics)", "addr", "http://"+ln.Addr().String())
	g.Go(func() error {
		defer kafka.Close()
		return srv.Serve(ctx, ln)
	})
	return nil
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
	case productview.Name, historyProjection:
		return nil
	case searchProjection:
		if st.searchWrite == nil {
			return fmt.Errorf("projection %s: no search index configured", name)
		}
		return nil
	}
	return fmt.Errorf("unknown projection %q (want %s, %s or %s)", name, productview.Name, searchProjection, historyProjection)
}

// projectorStartTimeout bounds the first attempt to start a projector,
// made before the API listens: a store that hangs must not keep the API
// from serving what does not need it.
const projectorStartTimeout = 5 * time.Second

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
			st.logger.Info("projector started", logkey.Projection, name, "attempts", retry.Attempt()+1)
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		st.logger.Error("projector cannot start; retrying", logkey.Projection, name, "err", err, "attempt", retry.Attempt())
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
		if err := st.loss.run(ctx, st); err != nil {
			return nil, fmt.Errorf("projection %s: %w", name, err)
		}
		if gen, err = viewGeneration(ctx, st, views); err != nil {
			return nil, fmt.Errorf("projection %s: live generation: %w (is Redis up?)", name, err)
		}
		proj, err = viewWriter(views, gen, st.viewChanges)
	case searchProjection:
		if st.searchWrite == nil {
			return nil, fmt.Errorf("projection %s: no search index configured", name)
		}
		if gen, err = st.searchLive(ctx); err != nil {
			return nil, fmt.Errorf("projection %s: live generation: %w", name, err)
		}
		proj, err = st.searchWrite(gen)
	case historyProjection:
		if err := st.loss.run(ctx, st); err != nil {
			return nil, fmt.Errorf("projection %s: %w", name, err)
		}
		gen = 1
		proj, err = historyIndexer(st)
	default:
		return nil, fmt.Errorf("unknown projection %q (want %s, %s or %s)", name, productview.Name, searchProjection, historyProjection)
	}
	if err != nil {
		return nil, err
	}
	return projectorRunner(st, codec, name, gen, proj)
}

// projectorRunner returns the runtime of generation gen of projection name
// writing through proj, with that projection's batch size and interval:
// the same for the live generation and for a rebuilt one.
func projectorRunner(st stack, codec *schemas.Codec, name string, gen int, proj processors.Projection) (*processors.Runner, error) {
	cfg := processors.Config{Name: name, Generation: gen, MaxBatch: batchOf(name), MinApplyInterval: applyIntervalOf(name), Aggregates: aggregatesOf(name), SessionTimeout: st.sessionTimeout, Logger: st.logger, Hooks: st.projectionHooks(name, gen)}
	if gen == 1 {
		cfg.DeadLettered = st.deadLettered[name]
	}
	return processors.New(cfg, codec, proj, append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...)...)
}

// reportedProjections are the projections GET /v1/projections reports:
// every one of the deployment, whichever this instance's projector runs
// (--projections), as `streamview projections` does.
func reportedProjections(st stack) []string {
	names := []string{productview.Name}
	if st.search != nil || st.searchLive != nil {
		names = append(names, searchProjection)
	}
	return append(names, historyProjection)
}

// liveCheck fails once the view store has lost the live generation it
// had: a Redis emptied under the deployment (restarted without
// persistence). Views answer 503 then until the projections are replayed.
// It fails as well while a projector reads the log again after such a
// loss (a refill is recorded for Redis's epoch now), which an instance
// started meanwhile has not seen. Before any projector has made one live
// it passes: that is a start, not a loss.
func liveCheck(client redis.UniversalClient, views *redisview.Store) api.Check {
	var seen atomic.Bool
	return api.Check{Name: productview.Name, Check: func(ctx context.Context) error {
		_, err := views.Live(ctx)
		switch {
		case err == nil:
			seen.Store(true)
			return nil
		case !errors.Is(err, productview.ErrNoLive):
			return err
		case seen.Load():
			return errors.New("Redis no longer holds the view's live generation (emptied, or restarted without persistence): a running product-view projector reads the log again by itself; without one, replay the projections (`streamview replay --projection product-view`, and product-history)")
		}
		refilling, err := refillUnderWay(ctx, client, productview.Name)
		if err != nil || !refilling {
			return err
		}
		return errors.New("Redis lost its data: the product-view projector reads the log again; views answer 503 until it has")
	}}
}

// resultsCheck is GET /readyz's check of the API's command results: not
// ready until they hold what the topics held at the start (keyed commands
// wait for that, up to the query timeout, and answer 503 after it).
func resultsCheck(results *commandbus.Results) api.Check {
	return api.Check{Name: "command-results", Check: func(context.Context) error {
		select {
		case <-results.Ready():
			return nil
		default:
			return errors.New("still reading the commands and outcomes written before this start")
		}
	}}
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
