package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
)

// DefaultRenameProducts is the size of a rename run when
// RenameConfig.Products is 0: the 10,000 products in one category.
const DefaultRenameProducts = 10_000

// Names a rename run gives its category: the products' own commands carry
// renameOld, CategoryRenamed v1 names it renameFirst, and the measured
// CategoryRenamed v2 renameNew. Each is one word that no product name or
// description contains, so a search for it finds the category's products
// through their category name only.
const (
	renameOld    = "Oldcategoryname"
	renameFirst  = "Firstcategoryname"
	renameNew    = "Renamedcategoryname"
	renameRaw    = "Rawcategoryname"
	renameBrands = 20
)

// viewReaders is how many view reads run at once: the API serves GET
// /v1/products/{id} to many clients at a time.
const viewReaders = 16

// renamePage is how many search documents one _mget reads.
const renamePage = 1000

// RenameConfig shapes a rename run.
type RenameConfig struct {
	// Servers are the Kafka, Redis and Elasticsearch of the run.
	Servers
	// Products is how many products the category has; DefaultRenameProducts
	// when 0.
	Products int
	// Out receives progress lines and the final table; nil discards.
	Out io.Writer
	// Logger receives the projection runtimes' log; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem at once.
func (c RenameConfig) Validate() error {
	if c.Products < 0 {
		return fmt.Errorf("bench rename: Products %d is negative", c.Products)
	}
	return nil
}

func (c RenameConfig) withDefaults() RenameConfig {
	c.Servers = c.Servers.withDefaults()
	if c.Products == 0 {
		c.Products = DefaultRenameProducts
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// RenameReport is what a rename run measured. Every duration of the rename
// counts from just before CategoryRenamed v2 was produced.
type RenameReport struct {
	Products   int    `json:"products"`
	Brands     int    `json:"brands"`
	Partitions int    `json:"partitions"`
	Topic      string `json:"topic"`
	// Setup is how long the two projections took to take the products and
	// the first rename (untimed for the rename itself).
	Setup time.Duration `json:"setupNanos"`
	// ViewCommitted and SearchCommitted: each projection's runtime has
	// committed the offset after CategoryRenamed v2.
	ViewCommitted   time.Duration `json:"viewCommittedNanos"`
	SearchCommitted time.Duration `json:"searchCommittedNanos"`
	// ViewFirst: a first view read through productview.Reader shows the
	// new name; Views: every view has been read showing it.
	ViewFirst time.Duration `json:"viewFirstNanos"`
	Views     time.Duration `json:"viewsNanos"`
	// Search: a search for the new name finds every product and the
	// category facet is labelled with it; SearchDocs: then every search
	// document read (_mget) shows the new name.
	Search     time.Duration `json:"searchNanos"`
	SearchDocs time.Duration `json:"searchDocsNanos"`
	// ViewPasses and DocPasses are how many read passes it took.
	ViewPasses int `json:"viewPasses"`
	DocPasses  int `json:"docPasses"`
	// FanOut is the search index's counters over the rename alone.
	FanOut esindex.Stats `json:"fanOut"`
	// RawViewRead is one read of every view through the Reader, as the
	// API reads them (viewReaders at once), after the rename: the views'
	// side is one write (the reference record), so what a rename costs
	// them beyond that is reading.
	RawViewRead time.Duration `json:"rawViewReadNanos"`
	// RawSearch is a bare esutil.BulkIndexer writing the same documents
	// renamed once more (bodies made in advance, no reads, no version
	// checks) plus a refresh: the floor of any fan-out on this server.
	RawSearch time.Duration `json:"rawSearchNanos"`
}

// Rename measures a category rename through both read models on the real
// servers: it produces cfg.Products ProductCreated events of one category
// (carrying an old category name, over renameBrands brands) and a
// CategoryRenamed v1 to a fresh events topic, runs the product-view
// projection (Redis) and the product-search projection (Elasticsearch) in
// processors runtimes as streamview serve does, until both have caught up,
// then produces CategoryRenamed v2 and times until every view read through
// productview.Reader shows the new name, and until every search document
// shows it and a search for it finds all products with the facet labelled
// so. Beside them: one read of all views, and a bare bulk write of the same
// renamed documents plus a refresh. Everything it made is removed at the
// end, also when interrupted.
func Rename(ctx context.Context, cfg RenameConfig) (rep RenameReport, err error) {
	if err := cfg.Validate(); err != nil {
		return RenameReport{}, err
	}
	cfg = cfg.withDefaults()
	out := cfg.Out
	run := runID()
	r := &renameRun{cfg: cfg, run: run, topic: run + ".events", category: "cat-" + strings.TrimPrefix(run, "bench-"),
		rng: rand.New(rand.NewPCG(1, 2))}
	rep = RenameReport{Products: cfg.Products, Brands: min(renameBrands, cfg.Products), Partitions: Partitions, Topic: r.topic}

	if err := r.connect(ctx); err != nil {
		return rep, err
	}
	defer r.close()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		err = errors.Join(err, r.cleanup(cctx))
	}()
	if err := createTopics(ctx, r.adm, map[string]int32{r.topic: Partitions, r.dlq("view"): 1, r.dlq("search"): 1}); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "bench rename: %s products in category %s (their commands name it %s), %d brands, %d partitions; CategoryRenamed v1 %s, then v2 %s, measured\n",
		thousands.Format(cfg.Products), r.category, renameOld, rep.Brands, Partitions, renameFirst, renameNew)

	// The data set: the first rename, then the products.
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]schemas.Event, 0, cfg.Products+1)
	events = append(events, r.renamed(1, renameFirst, at))
	r.ids = make([]string, cfg.Products)
	for i := range cfg.Products {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		r.ids[i] = id
		events = append(events, schemas.Event{ID: eventgen.UUID(r.rng), AggregateType: schemas.AggregateProduct, AggregateID: id, Version: 1, Timestamp: at, Metadata: r.metadata(),
			Data: &schemas.ProductCreated{Name: fmt.Sprintf("Widget %d", i), Description: "a widget", Price: schemas.Money{Amount: int64(100 + i%5000), Currency: "EUR"},
				CategoryID: r.category, CategoryName: renameOld, BrandID: fmt.Sprintf("brand-%d", i%renameBrands), BrandName: "Brand", Tags: []string{"bench"}, Stock: 1}})
	}
	if _, err := r.produce(ctx, events...); err != nil {
		return rep, err
	}
	start := time.Now()
	if err := r.startProjections(ctx); err != nil {
		return rep, err
	}
	ends, err := r.ends(ctx, len(events))
	if err != nil {
		return rep, err
	}
	m := startMeter(out, "projections", "records", 2*len(events))
	err = r.waitCommitted(ctx, ends, func(view, search int64) { m.set(view + search) }, nil)
	m.finish()
	if err != nil {
		return rep, err
	}
	// Both have taken the products and v1: check it, untimed, so that the
	// timed part starts from a known state.
	if err := r.waitViews(ctx, renameFirst, nil); err != nil {
		return rep, fmt.Errorf("bench rename: before the measured rename: %w", err)
	}
	if err := r.waitSearch(ctx, renameFirst, nil); err != nil {
		return rep, fmt.Errorf("bench rename: before the measured rename: %w", err)
	}
	rep.Setup = time.Since(start)
	fmt.Fprintf(out, "set up     both projections hold %s products named %s in %v\n", thousands.Format(cfg.Products), renameFirst, rep.Setup.Round(time.Millisecond))

	// The measured rename.
	before := r.index.Stats()
	start = time.Now()
	if _, err := r.produce(ctx, r.renamed(2, renameNew, at.Add(time.Hour))); err != nil {
		return rep, err
	}
	if ends, err = r.ends(ctx, len(events)+1); err != nil {
		return rep, err
	}
	g, gctx := errgroup.WithContext(ctx)
	var viewPasses, docPasses int
	g.Go(func() error {
		return r.waitCommitted(gctx, ends, nil, func(view bool) {
			if view {
				rep.ViewCommitted = time.Since(start)
			} else {
				rep.SearchCommitted = time.Since(start)
			}
		})
	})
	g.Go(func() error {
		err := r.waitViews(gctx, renameNew, &renameTimes{start: start, first: &rep.ViewFirst, all: &rep.Views, passes: &viewPasses})
		if err == nil {
			fmt.Fprintf(out, "views      all %s show %s after %v\n", thousands.Format(cfg.Products), renameNew, rep.Views.Round(time.Millisecond))
		}
		return err
	})
	g.Go(func() error {
		err := r.waitSearch(gctx, renameNew, &renameTimes{start: start, first: &rep.Search, all: &rep.SearchDocs, passes: &docPasses})
		if err == nil {
			fmt.Fprintf(out, "search     a search for %s finds all %s products after %v\n", renameNew, thousands.Format(cfg.Products), rep.Search.Round(time.Millisecond))
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return rep, err
	}
	rep.ViewPasses, rep.DocPasses = viewPasses, docPasses
	rep.FanOut = statsSince(r.index.Stats(), before)
	if err := r.stopProjections(); err != nil {
		return rep, err
	}

	// The raw sides.
	t := time.Now()
	if left, err := r.readViews(ctx, r.ids, renameNew); err != nil {
		return rep, err
	} else if len(left) > 0 {
		return rep, fmt.Errorf("bench rename: %d views lost the new name", len(left))
	}
	rep.RawViewRead = time.Since(t)
	if rep.RawSearch, err = r.rawSearch(ctx); err != nil {
		return rep, err
	}
	rep.print(out)
	return rep, nil
}

// renameRun is one run's clients and stores.
type renameRun struct {
	cfg          RenameConfig
	rng          *rand.Rand // event and correlation IDs
	run, topic   string
	category     string
	ids          []string
	kafka        *kgo.Client
	adm          *kadm.Client
	pub          *producers.Publisher
	codec        *schemas.Codec
	rc           *redis.Client
	es           *elasticsearch.Client
	store        *redisview.Store
	reader       *productview.Reader
	index        *esindex.Index
	view, search *processors.Runner
	stop         context.CancelFunc
	done         chan error
}

func (r *renameRun) name(kind string) string { return r.run + "-" + kind }
func (r *renameRun) dlq(kind string) string  { return r.run + "." + kind + ".dlq" }

func (r *renameRun) connect(ctx context.Context) error {
	cfg := r.cfg
	var err error
	if r.kafka, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.KafkaOpts...)...); err != nil {
		return fmt.Errorf("bench rename: kafka client for %v: %w", cfg.Brokers, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = r.kafka.Ping(pctx)
	cancel()
	if err != nil {
		return fmt.Errorf("bench rename: kafka at %v does not answer: %w", cfg.Brokers, err)
	}
	r.adm = kadm.NewClient(r.kafka)
	if r.codec, err = schemas.NewCodec(); err != nil {
		return err
	}
	r.pub = producers.NewPublisher(r.kafka, r.codec, r.topic)

	ropts := &redis.Options{Addr: cfg.RedisAddr}
	if cfg.Redis != nil {
		ropts = cfg.Redis
	}
	r.rc = redis.NewClient(ropts)
	if err := r.rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("bench rename: redis at %s does not answer: %w", ropts.Addr, err)
	}
	if r.store, err = redisview.New(r.rc, redisview.Config{Projection: r.name("view")}); err != nil {
		return err
	}
	r.reader = productview.NewReader(r.store)

	esCfg := elasticsearch.Config{Addresses: strings.Split(cfg.ElasticsearchURL, ",")}
	if cfg.Elasticsearch != nil {
		esCfg = *cfg.Elasticsearch
	}
	if r.es, err = elasticsearch.NewClient(esCfg); err != nil {
		return fmt.Errorf("bench rename: elasticsearch client for %v: %w", esCfg.Addresses, err)
	}
	r.index, err = esindex.New(r.es, esindex.Config{IndexPrefix: r.name("search"), Alias: r.name("search") + "-read"})
	return err
}

func (r *renameRun) close() {
	if r.rc != nil {
		r.rc.Close()
	}
	if r.kafka != nil {
		r.kafka.Close()
	}
}

// renamed is CategoryRenamed version v of the run's category.
func (r *renameRun) renamed(v int64, name string, at time.Time) schemas.Event {
	return schemas.Event{ID: eventgen.UUID(r.rng), AggregateType: schemas.AggregateCategory, AggregateID: r.category,
		Version: v, Timestamp: at, Metadata: r.metadata(), Data: &schemas.CategoryRenamed{Name: name}}
}

// metadata is an event's metadata as the decider writes it.
func (r *renameRun) metadata() schemas.Metadata {
	return schemas.Metadata{CorrelationID: eventgen.UUID(r.rng), CausationID: eventgen.UUID(r.rng), UserID: "bench-rename"}
}

// produce writes events and waits for their acknowledgement; the publisher
// keys a category's events by its reference key, as the decider does.
func (r *renameRun) produce(ctx context.Context, events ...schemas.Event) (time.Duration, error) {
	start := time.Now()
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		rec, err := r.pub.Record(e)
		if err != nil {
			return 0, err
		}
		recs[i] = rec
	}
	for chunk := range slices.Chunk(recs, 5000) {
		if err := r.kafka.ProduceSync(ctx, chunk...).FirstErr(); err != nil {
			return 0, fmt.Errorf("bench rename: produce to %s: %w", r.topic, err)
		}
	}
	return time.Since(start), nil
}

func (r *renameRun) ends(ctx context.Context, want int) (map[int32]int64, error) {
	return endOffsets(ctx, r.adm, r.topic, want)
}

// startProjections runs the view and the search projections as serve
// wires them: the view's live generation made first, each projection's
// batch size and aggregate types.
func (r *renameRun) startProjections(ctx context.Context) error {
	gen, err := r.store.EnsureLive(ctx, 1)
	if err != nil {
		return fmt.Errorf("bench rename: live generation: %w", err)
	}
	// The search index's live generation, as serve makes it: the index,
	// and the read alias on it.
	if err := r.index.EnsureIndex(ctx, 1); err != nil {
		return fmt.Errorf("bench rename: %w", err)
	}
	if err := r.index.SwapAlias(ctx, 0, 1); err != nil {
		return fmt.Errorf("bench rename: %w", err)
	}
	writer, err := productview.NewWriter(r.store, gen)
	if err != nil {
		return err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(r.cfg.Brokers...)}, r.cfg.KafkaOpts...)
	if r.view, err = processors.New(processors.Config{Name: r.name("view"), Generation: gen, Topic: r.topic, DeadLetterTopic: r.dlq("view"),
		Aggregates: writer.Aggregates(), Logger: r.cfg.Logger}, r.codec, writer, opts...); err != nil {
		return err
	}
	if r.search, err = processors.New(processors.Config{Name: r.name("search"), Generation: 1, Topic: r.topic, DeadLetterTopic: r.dlq("search"),
		MaxBatch: productsearch.Batch, Aggregates: productsearch.Aggregates(), Logger: r.cfg.Logger}, r.codec, r.index, opts...); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop, r.done = stop, make(chan error, 2)
	go func() { r.done <- r.view.Run(runCtx) }()
	go func() { r.done <- r.search.Run(runCtx) }()
	return nil
}

// stopProjections stops both runtimes and waits for them.
func (r *renameRun) stopProjections() error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	r.stop = nil
	var errs []error
	for range 2 {
		if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitCommitted waits until both runtimes have committed ends; progress
// gets their records so far, caught is called once per projection as it
// gets there. A stopped runtime or a minute without progress fails.
func (r *renameRun) waitCommitted(ctx context.Context, ends map[int32]int64, progress func(view, search int64), caught func(view bool)) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var viewDone, searchDone bool
	var last int64
	lastMove := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-r.done:
			r.done <- err // for stopProjections
			return fmt.Errorf("bench rename: a projection stopped: %v", err)
		case <-tick.C:
		}
		vs, ss := r.view.Stats(), r.search.Stats()
		if progress != nil {
			progress(vs.Records, ss.Records)
		}
		if !viewDone && caughtUp(vs.Offsets, ends) {
			viewDone = true
			if caught != nil {
				caught(true)
			}
		}
		if !searchDone && caughtUp(ss.Offsets, ends) {
			searchDone = true
			if caught != nil {
				caught(false)
			}
		}
		if viewDone && searchDone {
			if vs.DeadLettered+ss.DeadLettered > 0 {
				return fmt.Errorf("bench rename: the runtimes dead-lettered %d (view) and %d (search) records of valid events", vs.DeadLettered, ss.DeadLettered)
			}
			return nil
		}
		if n := vs.Records + ss.Records; n != last {
			last, lastMove = n, time.Now()
		} else if time.Since(lastMove) > stallAfter {
			return fmt.Errorf("bench rename: no progress for %v: view committed %v, search %v, ends %v (%d and %d failed sink attempts)",
				stallAfter, vs.Offsets, ss.Offsets, ends, vs.Retries, ss.Retries)
		}
	}
}

// renameTimes collects when a wait saw the name first and everywhere.
type renameTimes struct {
	start      time.Time
	first, all *time.Duration
	passes     *int
}

// renameWait bounds how long a read model may take to show a name.
const renameWait = 5 * time.Minute

// waitViews waits until every product's view, read through the Reader as
// GET /v1/products/{id} reads it, shows category name. It polls one view
// until it shows the name (the join is one write: then all should), then
// reads the views not yet seen with it, again until none is left.
func (r *renameRun) waitViews(ctx context.Context, name string, t *renameTimes) error {
	deadline := time.Now().Add(renameWait)
	for {
		v, found, err := r.reader.Get(ctx, r.ids[0])
		if err != nil && !errors.Is(err, productview.ErrNoLive) {
			return err
		}
		if found && v.CategoryName == name {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench rename: after %v the view of %s shows category %q, want %q", renameWait, r.ids[0], v.CategoryName, name)
		}
		if err := sleep(ctx, 2*time.Millisecond); err != nil {
			return err
		}
	}
	if t != nil {
		*t.first = time.Since(t.start)
	}
	left := r.ids
	for {
		var err error
		if left, err = r.readViews(ctx, left, name); err != nil {
			return err
		}
		if t != nil {
			*t.passes++
		}
		if len(left) == 0 {
			if t != nil {
				*t.all = time.Since(t.start)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench rename: after %v %d views do not show category %q, such as %s", renameWait, len(left), name, left[0])
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}

// readViews reads ids' views through the Reader, viewReaders at once, and
// returns those that do not show category name.
func (r *renameRun) readViews(ctx context.Context, ids []string, name string) ([]string, error) {
	var mu sync.Mutex
	var left []string
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range viewReaders {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return nil
				}
				v, found, err := r.reader.Get(gctx, ids[i])
				if err != nil {
					return fmt.Errorf("bench rename: read the view of %s: %w", ids[i], err)
				}
				if !found || v.CategoryName != name {
					mu.Lock()
					left = append(left, ids[i])
					mu.Unlock()
				}
			}
		})
	}
	err := g.Wait()
	slices.Sort(left)
	return left, err
}

// waitSearch waits until a search for category name finds every product
// with the category facet labelled so (one query, size 1, every 10 ms: a
// light poll, which leaves the server to the fan-out it measures), then
// reads every search document (_mget, in pages) until each shows the name.
func (r *renameRun) waitSearch(ctx context.Context, name string, t *renameTimes) error {
	deadline := time.Now().Add(renameWait)
	for {
		res, err := r.index.Search(ctx, productsearch.Query{Text: name, Page: 1, PageSize: 1})
		if err != nil {
			return fmt.Errorf("bench rename: search for %s: %w", name, err)
		}
		if res.Total == int64(len(r.ids)) && len(res.Facets.Category) == 1 && res.Facets.Category[0].Label == name {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench rename: after %v a search for %s finds %d of %d products, category facet %+v", renameWait, name, res.Total, len(r.ids), res.Facets.Category)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	if t != nil {
		*t.first = time.Since(t.start)
	}
	left := r.ids
	for {
		var still []string
		for page := range slices.Chunk(left, renamePage) {
			docs, err := r.index.Get(ctx, page...)
			if err != nil {
				return fmt.Errorf("bench rename: read search documents: %w", err)
			}
			for _, id := range page {
				if d, ok := docs[id]; !ok || d.CategoryName != name {
					still = append(still, id)
				}
			}
		}
		left = still
		if t != nil {
			*t.passes++
		}
		if len(left) == 0 {
			if t != nil {
				*t.all = time.Since(t.start)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench rename: after %v %d search documents do not show category %q, such as %s", renameWait, len(left), name, left[0])
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}

// rawSearch writes the same documents renamed once more with a bare
// esutil.BulkIndexer (bodies encoded in advance, IDs known) plus one
// refresh, and checks that a search finds them under that name.
func (r *renameRun) rawSearch(ctx context.Context) (time.Duration, error) {
	docs := make(map[string]productsearch.Doc, len(r.ids))
	for page := range slices.Chunk(r.ids, renamePage) {
		got, err := r.index.Get(ctx, page...)
		if err != nil {
			return 0, err
		}
		for id, d := range got {
			docs[id] = d
		}
	}
	next := productsearch.Ref{Type: schemas.AggregateCategory, ID: r.category, Name: renameRaw, Version: 3}
	bodies := make([][]byte, len(r.ids))
	for i, id := range r.ids {
		var err error
		if bodies[i], err = json.Marshal(docs[id].Join(next)); err != nil {
			return 0, err
		}
	}
	var failed atomic.Int64
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: r.es, Index: r.index.IndexName(1), NumWorkers: 1, FlushBytes: 2 << 20})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i, id := range r.ids {
		if err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: id, Body: bytes.NewReader(bodies[i]),
			OnFailure: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error) { failed.Add(1) }}); err != nil {
			return 0, err
		}
	}
	if err := bi.Close(ctx); err != nil || failed.Load() > 0 {
		return 0, fmt.Errorf("bench rename: raw bulk: %v, %d documents failed", err, failed.Load())
	}
	if err := r.index.Refresh(ctx); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	res, err := r.index.Search(ctx, productsearch.Query{Text: renameRaw, Page: 1, PageSize: 1})
	if err != nil {
		return 0, err
	}
	if res.Total != int64(len(r.ids)) {
		return 0, fmt.Errorf("bench rename: after the raw bulk a search for %s finds %d of %d products", renameRaw, res.Total, len(r.ids))
	}
	return elapsed, nil
}

// cleanup stops the projections and removes the topics, groups, Redis keys
// and index of the run.
func (r *renameRun) cleanup(ctx context.Context) error {
	var errs []error
	if err := r.stopProjections(); err != nil {
		errs = append(errs, err)
	}
	if r.store != nil {
		if _, err := r.store.Clear(ctx, 1); err != nil {
			errs = append(errs, fmt.Errorf("bench rename: clear the views: %w", err))
		}
		if err := r.rc.Del(ctx, r.store.LiveKey()).Err(); err != nil {
			errs = append(errs, fmt.Errorf("bench rename: delete %s: %w", r.store.LiveKey(), err))
		}
	}
	if r.es != nil {
		// Deleting the index removes its alias too.
		if err := deleteIndex(ctx, r.es, r.index.IndexName(1)); err != nil {
			errs = append(errs, fmt.Errorf("bench rename: %w", err))
		}
	}
	if r.adm != nil {
		groups := []string{processors.GroupName(r.name("view"), 1), processors.GroupName(r.name("search"), 1)}
		if res, err := r.adm.DeleteGroups(ctx, groups...); err != nil {
			errs = append(errs, fmt.Errorf("bench rename: delete groups %v: %w", groups, err))
		} else {
			for g, gr := range res {
				if gr.Err != nil && !errors.Is(gr.Err, kerr.GroupIDNotFound) {
					errs = append(errs, fmt.Errorf("bench rename: delete group %s: %w", g, gr.Err))
				}
			}
		}
		topics := []string{r.topic, r.dlq("view"), r.dlq("search")}
		res, err := r.adm.DeleteTopics(ctx, topics...)
		if err == nil {
			err = res.Error()
		}
		if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("bench rename: delete topics %v: %w", topics, err))
		}
	}
	return errors.Join(errs...)
}

func deleteIndex(ctx context.Context, es *elasticsearch.Client, name string) error {
	res, err := es.Indices.Delete([]string{name}, es.Indices.Delete.WithContext(ctx), es.Indices.Delete.WithIgnoreUnavailable(true))
	if err != nil {
		return fmt.Errorf("delete index %s: %w", name, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("delete index %s: %s", name, res.String())
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// statsSince is the index's counters between before and after.
func statsSince(after, before esindex.Stats) esindex.Stats {
	return esindex.Stats{
		Events: after.Events - before.Events, Applied: after.Applied - before.Applied, Writes: after.Writes - before.Writes,
		Conflicts: after.Conflicts - before.Conflicts, Throttled: after.Throttled - before.Throttled, Mgets: after.Mgets - before.Mgets,
		Bulks: after.Bulks - before.Bulks, FannedOut: after.FannedOut - before.FannedOut, Rejoined: after.Rejoined - before.Rejoined,
	}
}

func (rep RenameReport) print(out io.Writer) {
	n := rep.Products
	rate := func(d time.Duration) string {
		if d <= 0 {
			return "-"
		}
		return thousands.Format(int(float64(n)/d.Seconds())) + "/s"
	}
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Fprintf(out, "\nrename of one category of %s products (%d brands, %d partitions), from producing CategoryRenamed v2:\n",
		thousands.Format(n), rep.Brands, rep.Partitions)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "views (Redis, joined when read)\t\t\n")
	fmt.Fprintf(tw, "  projection committed the rename\t%s\t\n", ms(rep.ViewCommitted))
	fmt.Fprintf(tw, "  a first view shows the new name\t%s\t\n", ms(rep.ViewFirst))
	fmt.Fprintf(tw, "  every view read shows it (%d passes)\t%s\t%s views\n", rep.ViewPasses, ms(rep.Views), rate(rep.Views))
	fmt.Fprintf(tw, "  raw: reading the %s views once, %d at a time\t%s\t%s views\n", thousands.Format(n), viewReaders, ms(rep.RawViewRead), rate(rep.RawViewRead))
	fmt.Fprintf(tw, "search (Elasticsearch, fanned out)\t\t\n")
	fmt.Fprintf(tw, "  projection committed the rename (fan-out done)\t%s\t%s docs\n", ms(rep.SearchCommitted), rate(rep.SearchCommitted))
	fmt.Fprintf(tw, "  a search for it finds all, facet labelled so\t%s\t%s docs\n", ms(rep.Search), rate(rep.Search))
	fmt.Fprintf(tw, "  then every document read shows it (%d passes)\t%s\t\n", rep.DocPasses, ms(rep.SearchDocs))
	fmt.Fprintf(tw, "  raw: bulk index of the same renamed documents + refresh\t%s\t%s docs\n", ms(rep.RawSearch), rate(rep.RawSearch))
	tw.Flush()
	fmt.Fprintf(out, "fan-out: %s documents written, %d conflicts, %d bulks, %d mgets\n",
		thousands.Format(int(rep.FanOut.FannedOut)), rep.FanOut.Conflicts, rep.FanOut.Bulks, rep.FanOut.Mgets)
}
