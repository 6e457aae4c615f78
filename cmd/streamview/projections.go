package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

func init() {
	commands["projections"] = command{
		summary: "show each projection's generations: live or building, lag per partition, rate, dead letters",
		usage:   "[--projections product-view,product-search,product-history] [--sample 1s] [--json] [connection flags]",
		help: `Shows, for each projection, its live generation and any generation a rebuild
is building (or swapping, or retiring): the consumer group and how many
consumers it has, the lag per partition and in all, the rate in records per
second (measured over --sample from the committed offsets; 0 skips it), the
records of the generation in the projection's dead-letter topic, and a
rebuild's progress. GET /v1/projections answers the same; it measures the
rate of a projector in another process between its requests (none in the
first), without waiting, and adds the events applied by a projector in
its own process.

Examples:
  streamview projections
  streamview projections --projections product-view --json`,
		run: runProjections,
	}
}

// projectionFlags are the flags of the commands that act on projections'
// generations: replay, rebuild, projections.
type projectionFlags struct {
	kafka       kafkaFlags
	redis       redisFlags
	es          esFlags
	registry    *connect.SchemaRegistryFlags
	kafkaOpt    []kgo.Opt          // TLS and SASL, set by open
	decoder     processors.Decoder // with the schema registry, set by open; nil is the default codec
	topic       string
	indexPrefix string
	alias       string
	name        string
	currency    string
	cacheDocs   int
	logLevel    string
	logFormat   *string
	esIndex     esIndexFlags
}

func (f *projectionFlags) register(fs *flag.FlagSet, e env) {
	f.kafka.register(fs, e)
	f.redis.register(fs, e, "127.0.0.1:6379", "the views and every projection's rebuild state")
	f.es.register(fs, e, "elasticsearch", "http://127.0.0.1:9200", "Elasticsearch URL, without credentials (env ELASTICSEARCH_URL)")
	f.registry = connect.RegisterSchemaRegistryReader(fs, e.getenv)
	fs.StringVar(&f.topic, "topic", topics.Events, "the events topic")
	fs.StringVar(&f.indexPrefix, "index-prefix", searchProjection, "product-search: the indices are <prefix>-g<N>")
	fs.StringVar(&f.alias, "alias", searchProjection, "product-search: the read alias")
	fs.StringVar(&f.name, "name", "", "the name the projection runs under, when not its own: groups streamview.<name>.g<N>, Redis keys sv:<name>:…")
	fs.StringVar(&f.currency, "currency", e.or("STREAMVIEW_CURRENCY", "EUR"), "the catalogue's currency (env STREAMVIEW_CURRENCY)")
	fs.IntVar(&f.cacheDocs, "cache-docs", esindex.DefaultCacheDocs, "product-search: documents the index writer remembers; a rebuild writes every product, and one it remembers needs no _mget")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.logFormat = logFormatFlag(fs, e)
	f.esIndex.register(fs, e)
}

// projectionEnv is what the flags connect to, for some projections.
type projectionEnv struct {
	kafka   *kgo.Client
	redis   redis.UniversalClient
	es      *elasticsearch.Client
	targets []rebuild.Target
	views   *redisview.Store // product-view's, when it is one of them
	closers []func()
}

func (p *projectionEnv) Close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

func (p *projectionEnv) control(t rebuild.Target) *rebuild.Control {
	return rebuildControl(p.redis, t.Name())
}

// rebuildControl is projection name's rebuild state, in its Redis hash.
func rebuildControl(rc redis.UniversalClient, name string) *rebuild.Control {
	return rebuild.NewControl(redisview.RebuildState(rc, name))
}

// viewsTarget is the product-view projection as rebuilds see it: the
// generations of store, and the projector of a generation, which tells
// changes (if not nil) of its writes, as the live projector does: once the
// rebuilt generation is swapped in, it is the one the API's ?minVersion=
// reads wait for.
func viewsTarget(store *redisview.Store, changes *productview.Changes) rebuild.Target {
	return rebuild.Target{Generations: store.Generations(), Projection: func(gen int) (processors.Projection, error) {
		return viewWriter(store, gen, changes)
	}}
}

// viewWriter is the projector of generation gen of the product views in
// store, telling changes (if not nil) of its writes.
func viewWriter(store *redisview.Store, gen int, changes *productview.Changes) (processors.Projection, error) {
	w, err := productview.NewWriter(store, gen)
	if err != nil {
		return nil, err
	}
	w.Tell(changes)
	return w, nil
}

// searchTarget is the product-search projection as rebuilds see it: one
// index per generation, each its own writer.
func searchTarget(gens *esindex.Generations) rebuild.Target {
	return rebuild.Target{Generations: gens, Projection: func(gen int) (processors.Projection, error) {
		return gens.Index(gen)
	}}
}

// open connects to what projections need (Kafka, Redis, and Elasticsearch
// for product-search) and makes their targets.
func (f *projectionFlags) open(ctx context.Context, projections []string) (*projectionEnv, error) {
	if f.name != "" && len(projections) != 1 {
		return nil, fmt.Errorf("--name renames one projection; name one with --projection")
	}
	if err := f.esIndex.validate(); err != nil {
		return nil, err
	}
	for _, name := range projections {
		switch name {
		case productview.Name, searchProjection:
		case historyProjection:
			return nil, fmt.Errorf("projection %s: the history index has one generation and is idempotent: it is not rebuilt beside itself; `streamview replay --projection %s` indexes the log again", name, name)
		default:
			return nil, fmt.Errorf("unknown projection %q (want %s or %s; replay takes %s and %s too)", name, productview.Name, searchProjection, historyProjection, webhook.Name)
		}
	}
	kafkaConn, err := f.kafka.settings()
	if err != nil {
		return nil, err
	}
	if f.kafkaOpt, err = kafkaConn.SecurityOpts(); err != nil {
		return nil, err
	}
	redisConn, err := f.redis.settings()
	if err != nil {
		return nil, err
	}
	reg, err := f.registry.Load()
	if err != nil {
		return nil, err
	}
	if reg.On() {
		// Events written with Confluent framing need the registry to be read.
		if f.decoder, err = newDecoder(ctx, reg); err != nil {
			return nil, err
		}
	}
	p := &projectionEnv{}
	cl, err := newKafkaClient(ctx, kafkaConn)
	if err != nil {
		return nil, err
	}
	p.kafka = cl
	p.closers = append(p.closers, cl.Close)
	if p.redis, err = redisConn.Client(nil); err != nil {
		p.Close()
		return nil, err
	}
	p.closers = append(p.closers, func() { p.redis.Close() })
	if err := pingRedis(ctx, p.redis, redisConn); err != nil {
		p.Close()
		if connect.IsConfig(err) {
			return nil, err
		}
		return nil, fmt.Errorf("redis at %s does not answer: %w (start one with `make services-up`, or pass --redis)", redisConn.Describe(), err)
	}
	for _, name := range projections {
		as := name
		if f.name != "" {
			as = f.name
		}
		switch name {
		case productview.Name:
			store, err := redisview.New(p.redis, redisview.Config{Projection: as})
			if err != nil {
				p.Close()
				return nil, err
			}
			p.targets = append(p.targets, viewsTarget(store, nil))
			p.views = store
		case searchProjection:
			if p.es == nil {
				esConn, err := f.es.settings()
				if err == nil {
					p.es, err = newElasticsearch(esConn)
				}
				if err == nil {
					// A setting to fix is said as serve says it (a
					// refused CA or login); a store merely down is
					// reported as unreachable further on.
					hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					if herr := esHealth(hctx, p.es, esConn); connect.IsConfig(herr) {
						err = herr
					}
					cancel()
				}
				if err != nil {
					p.Close()
					return nil, err
				}
			}
			gens, err := esindex.NewGenerations(as, p.es, f.esIndex.apply(esindex.Config{IndexPrefix: f.indexPrefix, Alias: f.alias, Currency: f.currency, CacheDocs: f.cacheDocs}))
			if err != nil {
				p.Close()
				return nil, err
			}
			p.targets = append(p.targets, searchTarget(gens))
		default:
			p.Close()
			return nil, fmt.Errorf("unknown projection %q (want %s or %s)", name, productview.Name, searchProjection)
		}
	}
	return p, nil
}

// config is the rebuild configuration the flags give.
// openOne is the common start of replay and rebuild: exactly one
// --projection, a logger, and the stores of that projection.
func (f *projectionFlags) openOne(ctx context.Context, e env, fs *flag.FlagSet, projection string) (*projectionEnv, *slog.Logger, error) {
	if projection == "" {
		also := ""
		if fs.Name() == "replay" {
			also = ", --projection product-search, --projection " + historyProjection + " or --projection " + webhook.Name
		}
		if also == "" {
			also = " or --projection product-search"
		}
		fmt.Fprintf(e.stderr, "streamview %s: name the projection with --projection product-view%s\n", fs.Name(), also)
		return nil, nil, errUsage
	}
	logger, err := newLogger(e.stderr, f.logLevel, *f.logFormat)
	if err != nil {
		return nil, nil, err
	}
	p, err := f.open(ctx, []string{projection})
	if err != nil {
		return nil, nil, err
	}
	return p, logger, nil
}

func (f *projectionFlags) config(logger *slog.Logger) rebuild.Config {
	// The session of serve's default (--session-timeout): a rebuild
	// stopped by a crash frees its group that soon for the next to resume.
	return rebuild.Config{Brokers: splitList(f.kafka.brokers), ClientOpts: f.kafkaOpt, Decoder: f.decoder, Topic: f.topic, Logger: logger,
		SessionTimeout: defaultSessionTimeout}
}

func runProjections(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "projections")
	var f projectionFlags
	f.register(fs, e)
	list := fs.String("projections", productview.Name+","+searchProjection+","+historyProjection, "the projections to show, comma separated")
	sample := fs.Duration("sample", time.Second, "measure rates over this long (0: no rates)")
	asJSON := fs.Bool("json", false, "print JSON, as GET /v1/projections answers")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *sample < 0 {
		return fmt.Errorf("--sample %v: want a duration of 0 or more (0: no rates)", *sample)
	}
	if _, err := newLogger(e.stderr, f.logLevel, *f.logFormat); err != nil {
		return err
	}
	// The history index has one generation and no rebuilds: it is listed
	// as GET /v1/projections lists it, without opening a store of it.
	names := splitList(*list)
	history := slices.Contains(names, historyProjection)
	names = slices.DeleteFunc(names, func(n string) bool { return n == historyProjection })
	p, err := f.open(ctx, names)
	if err != nil {
		return err
	}
	defer p.Close()
	var sources []rebuild.Source
	for _, t := range p.targets {
		sources = append(sources, rebuild.Source{Target: t, Control: p.control(t)})
	}
	if history {
		live, err := liveFunc(stack{}, historyProjection)
		if err != nil {
			return err
		}
		sources = append(sources, rebuild.Source{Target: namedLive{historyProjection, live}, Control: rebuildControl(p.redis, historyProjection)})
	}
	rs, err := rebuild.Report(ctx, p.kafka, rebuild.ReportConfig{Topic: f.topic, Sample: *sample}, sources...)
	if err != nil {
		return err
	}
	if *asJSON {
		err = writeJSON(e.stdout, map[string]any{"projections": rs})
	} else {
		idle := map[string]string{}
		if p.views != nil && !slices.ContainsFunc(rs, func(r rebuild.GenerationReport) bool { return r.Projection == p.views.Projection() }) {
			start, err := nextViewStart(ctx, p.redis, kadm.NewClient(p.kafka), p.views.Projection())
			if err != nil {
				return fmt.Errorf("projection %s: %w", p.views.Projection(), err)
			}
			idle[productview.Name] = start.note()
		}
		err = writeProjections(e.stdout, rs, splitList(*list), idle)
	}
	if err != nil {
		return err
	}
	var unreachable []error
	for _, r := range rs {
		if r.State == rebuild.StateUnreachable {
			unreachable = append(unreachable, fmt.Errorf("projection %s: %s", r.Projection, r.Error))
		}
	}
	return errors.Join(unreachable...)
}

// writeProjections prints the report as a table, with a line for each of
// names that has no generation, which says idle[name] (by default, that
// the projector's first start makes g1).
func writeProjections(w io.Writer, rs []rebuild.GenerationReport, names []string, idle map[string]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tGEN\tSTATE\tCONSUMERS\tLAG\tRATE/s\tDEAD\tLAG BY PARTITION\tBUILD")
	for _, r := range rs {
		if r.State == rebuild.StateUnreachable {
			fmt.Fprintf(tw, "%s\t-\t%s\t\t\t\t\t\t%s\n", r.Projection, r.State, r.Error)
			continue
		}
		rate := "-" // unknown: not sampled (--sample 0), or retiring
		if r.RatePerSec != nil {
			rate = thousands.Format(int64(*r.RatePerSec + 0.5))
		}
		var parts []string
		for _, p := range r.Partitions {
			parts = append(parts, fmt.Sprintf("%d:%d", p.Partition, p.Lag))
		}
		build, lag := "", thousands.Format(r.Lag)
		if r.State == rebuild.StateRetiring {
			build, lag = "replaced; its documents are removed after the grace period", "-"
		}
		if b := r.Build; b != nil {
			build = fmt.Sprintf("%d%% of %s records, replaces g%d", b.Percent, thousands.Format(b.Total), b.Replaces)
			if b.LeftSec > 0 {
				build += fmt.Sprintf(", %v left", time.Duration(b.LeftSec*float64(time.Second)).Round(time.Second))
			}
		}
		dead := strconv.FormatInt(r.DeadLettered, 10)
		if r.DeadLetteredPartial {
			dead = ">=" + dead // counting ran out of time
		}
		fmt.Fprintf(tw, "%s\tg%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Projection, r.Generation, r.State, r.Consumers,
			lag, rate, dead, strings.Join(parts, " "), build)
	}
	for _, name := range names {
		if !slices.ContainsFunc(rs, func(r rebuild.GenerationReport) bool { return r.Projection == name }) {
			note, ok := idle[name]
			if !ok {
				note = viewStart{gen: 1}.note()
			}
			fmt.Fprintf(tw, "%s\t-\tnone\t\t\t\t\t\t(%s)\n", name, note)
		}
	}
	return tw.Flush()
}

// note says what the projector's next start does over a store with no
// live generation.
func (s viewStart) note() string {
	switch {
	case s.refilling:
		return fmt.Sprintf("no live generation: g%d is being read again from the log after the store lost its data; live once it has caught up", s.gen)
	case s.lost:
		return fmt.Sprintf("no live generation: the store lost its data; the projector's next start reads the log again into g%d, the newest generation that had read it, and makes it live", s.gen)
	}
	return fmt.Sprintf("no live generation yet: the projector's first start makes g%d", s.gen)
}

// projectionsOverview answers GET /v1/projections for a serving stack:
// the live and building generations of every projection of names, with
// the stats of the processors running in this process (procs); the rate
// of the others is measured from their committed offsets between calls
// (st.rates).
func projectionsOverview(ctx context.Context, st stack, names []string, procs []*processors.Runner, ended []rebuild.Ended) (any, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	local := map[string]*processors.Runner{}
	var sources []rebuild.Source
	for _, p := range procs {
		cfg := p.Config()
		local[fmt.Sprintf("%s/%d", cfg.Name, cfg.Generation)] = p
	}
	// Every projection of the stack, whether its projector runs in this
	// process or in another (an API-only serve reports them all, as
	// `streamview projections` does); a local processor gives its rate and
	// applied count.
	dlqs := map[string]string{}
	for _, p := range procs {
		dlqs[p.Config().Name] = p.Config().DeadLetterTopic
	}
	for _, name := range names {
		live, err := reportLive(st, name)
		if err != nil {
			return nil, err
		}
		sources = append(sources, rebuild.Source{Target: namedLive{name, live}, Control: rebuildControl(st.redis, name),
			DeadLetterTopic: dlqs[name]})
	}
	rs, err := rebuild.Report(ctx, cl, rebuild.ReportConfig{Topic: topics.Events, Letters: st.letters, Rates: st.rates, Local: func(name string, gen int) (processors.Stats, bool) {
		p, ok := local[fmt.Sprintf("%s/%d", name, gen)]
		if !ok {
			return processors.Stats{}, false
		}
		return p.Stats(), true
	}}, sources...)
	if err != nil {
		return nil, err
	}
	// The console offers a rebuild only where the store has generations.
	rebuildable := []string{productview.Name}
	if st.searchGens != nil {
		rebuildable = append(rebuildable, searchProjection)
	}
	if ended == nil {
		ended = []rebuild.Ended{}
	}
	rebuilding := rebuildsUnderWay(ctx, st, rebuildable, rs)
	return map[string]any{"projections": rs, "rebuildable": rebuildable, "rebuildsEnded": ended, "rebuilding": rebuilding}, nil
}

// underWay is a rebuild some process runs now: the holder of the
// projection's rebuild lease (host/pid/…), from the 202 that started it to
// the end of its run, its old generation's retiring included.
type underWay struct {
	Projection string `json:"projection"`
	Holder     string `json:"holder"`
}

// rebuildsUnderWay names the rebuilds of names some process runs now, in
// this server or another: a rebuild asked for meanwhile is refused (409),
// so the console offers none. A retiring generation whose rebuild no
// longer runs is finished by starting one, which the console offers.
//
// A projection the report rs found unreachable, or whose lease cannot be
// read, is left out: like the report, the list names what it can learn
// rather than failing the whole answer (the 409 still refuses a rebuild
// asked for meanwhile).
func rebuildsUnderWay(ctx context.Context, st stack, names []string, rs []rebuild.GenerationReport) []underWay {
	out := []underWay{}
	for _, name := range names {
		if slices.ContainsFunc(rs, func(r rebuild.GenerationReport) bool {
			return r.Projection == name && r.State == rebuild.StateUnreachable
		}) {
			continue
		}
		holder, err := rebuildControl(st.redis, name).LeaseHolder(ctx)
		if err == nil && holder != "" {
			out = append(out, underWay{name, holder})
		}
	}
	return out
}

// namedLive is a projection's name and live generation, for reports.
type namedLive struct {
	name string
	live func(context.Context) (int, error)
}

func (n namedLive) Name() string                          { return n.name }
func (n namedLive) Live(ctx context.Context) (int, error) { return n.live(ctx) }

// reportLive returns how a report reads projection name's live
// generation: like liveFunc, but never creating the first search index.
func reportLive(st stack, name string) (func(context.Context) (int, error), error) {
	if ix, ok := st.search.(*esindex.Index); ok && name == searchProjection {
		return ix.LiveGeneration, nil
	}
	return liveFunc(st, name)
}

// liveFunc returns how the stack reads projection name's live generation,
// as the projector role does.
func liveFunc(st stack, name string) (func(context.Context) (int, error), error) {
	switch name {
	case productview.Name:
		views, err := redisview.New(st.redis, redisview.Config{Projection: name})
		if err != nil {
			return nil, err
		}
		return views.Generations().Live, nil
	case searchProjection:
		if st.searchLive == nil {
			return nil, errors.New("projection product-search: no search index configured")
		}
		return st.searchLive, nil
	case historyProjection:
		return func(context.Context) (int, error) { return 1, nil }, nil
	}
	return nil, fmt.Errorf("unknown projection %q (want %s, %s or %s)", name, productview.Name, searchProjection, historyProjection)
}
