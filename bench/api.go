package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/producers/decider"
)

// API run defaults.
const (
	DefaultAPIDuration = 15 * time.Second
	DefaultAPIProducts = 200
	// APIFreshnessTimeout is how long a freshness reader waits for a
	// command's version to show; later counts as missed.
	APIFreshnessTimeout = 5 * time.Second
)

// DefaultAPIRates are the command rates of an API run.
var DefaultAPIRates = []int{500, 1000, 2000, 4000}

// APIConfig shapes an API run: commands at fixed rates through a running
// API, an open model (vegeta: each request sent on time, whatever the
// earlier ones do).
type APIConfig struct {
	// Base is the API's base URL ("http://127.0.0.1:8080"). Required.
	Base string
	// Rates are the commands/s of the steps, each held for Duration, once
	// with Prefer: wait and once without (Modes); DefaultAPIRates when nil.
	Rates []int
	// Duration is how long each step sends; DefaultAPIDuration when 0.
	Duration time.Duration
	// Warm, when positive, is the longest the load warms the stack and
	// the servers before the steps: the first mode at the first rate, in
	// rounds of WarmRound, not in the steps, until WarmCalm rounds in a
	// row in which every server with a JIT figure was read and none took
	// WarmJIT of a core (without any such server, for all of Warm).
	Warm time.Duration
	// Modes are the steps' Prefer: wait settings, in order; with and
	// without when nil.
	Modes []bool
	// Products is how many products are created before the steps, which
	// the price, stock and review commands then pick by Distribution;
	// DefaultAPIProducts when 0.
	Products int
	// Distribution is "zipf" (default, s=1.1) or "uniform".
	Distribution string
	// ViewReaders bounds the view freshness readers at once (32 when 0);
	// a command that finds them busy is not sampled. Search freshness has
	// one poller for every price change (see APIStep.Search).
	ViewReaders int
	// SearchPoll is how often the search poller looks (DefaultSearchPoll
	// when 0): each look is a search of up to maxSearchPages pages, facets
	// included, so a shorter interval measures finer and loads
	// Elasticsearch, on the machine the stack runs on, more.
	SearchPoll time.Duration
	// NoFreshness leaves the freshness readers out (no view reads, no
	// search poller): the commands alone, without the reads that measure
	// freshness loading the machine the stack runs on.
	NoFreshness bool
	// RawKafka, when set, are the Kafka client options (seed brokers, TLS,
	// SASL) of the raw side: after each step with Prefer: wait, the bare
	// Kafka exactly-once round trip that step's commands are built on, at
	// the same rate for the same Duration, keyed over as many products by
	// Distribution, on topics of its own (bench-<random>.raw.*, removed
	// at the end); see RawStep. Nil leaves it out.
	RawKafka []kgo.Opt
	// Hops, when set, is where the stack under test reports each command's
	// time per hop (the stack in this process: cmd/streamview's bench api
	// wires it); each step then reports them (APIStep.Hops).
	Hops *Hops
	// Requests, when set, counts the Kafka requests of the stack under
	// test by client and kind (the stack in this process: cmd/streamview's
	// bench api wires it); each step then reports them (APIStep.Requests).
	Requests *Requests
	// Servers are the servers on this machine whose CPU time each step
	// reports beside this process's (APIStep.Servers); see LocalServer.
	Servers []Server
	// Profile, when set, is called at the start of each step and the func
	// it returns at its end: for a CPU profile of one step.
	Profile func(rate int, wait bool) func()
	// Out receives progress lines and the tables; nil discards.
	Out io.Writer

	warmRound time.Duration // a warm-up round's length; WarmRound when 0 (tests shorten it)
}

func (c APIConfig) withDefaults() APIConfig {
	if c.Rates == nil {
		c.Rates = DefaultAPIRates
	}
	if c.Duration == 0 {
		c.Duration = DefaultAPIDuration
	}
	if c.Modes == nil {
		c.Modes = []bool{true, false}
	}
	if c.Products == 0 {
		c.Products = DefaultAPIProducts
	}
	if c.Distribution == "" {
		c.Distribution = DefaultDistribution
	}
	if c.ViewReaders == 0 {
		c.ViewReaders = 32
	}
	if c.SearchPoll == 0 {
		c.SearchPoll = DefaultSearchPoll
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.warmRound == 0 {
		c.warmRound = WarmRound
	}
	return c
}

// Validate reports every problem at once.
func (c APIConfig) Validate() error {
	var errs []error
	if c.Base == "" {
		errs = append(errs, errors.New("bench api: Base is required"))
	}
	for _, r := range c.Rates {
		if r <= 0 {
			errs = append(errs, fmt.Errorf("bench api: rate %d is not positive", r))
		}
	}
	if c.Warm > 0 && (c.Rates != nil && len(c.Rates) == 0 || c.Modes != nil && len(c.Modes) == 0) {
		errs = append(errs, errors.New("bench api: Warm needs a rate and a mode to warm with"))
	}
	if c.Duration < 0 || c.Warm < 0 || c.Products < 0 || c.ViewReaders < 0 || c.SearchPoll < 0 {
		errs = append(errs, errors.New("bench api: Duration, Warm, Products, the readers and the search poll must not be negative"))
	}
	if _, err := eventgen.ParseDistribution(c.withDefaults().Distribution); err != nil {
		errs = append(errs, fmt.Errorf("bench api: %w", err))
	}
	return errors.Join(errs...)
}

// Freshness is how long after a command's accepted answer its effect was
// visible to a reader.
type Freshness struct {
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50Nanos"`
	P99     time.Duration `json:"p99Nanos"`
	Max     time.Duration `json:"maxNanos"`
	// Missed were not visible within APIFreshnessTimeout (or the read
	// failed); Skipped found every reader busy and were not sampled.
	Missed  int `json:"missed"`
	Skipped int `json:"skipped"`
	// Overlapped (search only) are price changes not sampled because
	// another price change of the same product was in flight at the same
	// time: the decider may order them either way, so the product can end
	// at the lower price, and a search for a price says nothing about
	// which change is visible.
	Overlapped int `json:"overlapped,omitempty"`
}

// APIStep is one rate and mode of an API run.
type APIStep struct {
	Rate     int     `json:"rate"`     // commands/s asked for
	Wait     bool    `json:"wait"`     // with Prefer: wait
	Achieved float64 `json:"achieved"` // commands/s sent
	// Throughput is commands/s answered 2xx, over the step's time until
	// the last answer.
	Throughput float64     `json:"throughput"`
	Latency    KindSummary `json:"latency"` // all commands; errors by status
	// Tail is how the commands at or above the p99 fell in time.
	Tail Tail `json:"tail"`
	// View is the time from a command's accepted answer (with its
	// version; Prefer: wait only) until GET /v1/products/{id}?minVersion=
	// answers that version or a later one. Search is the time from a price
	// change's accepted answer until a search shows the product at that
	// price or above (each price change sets a higher price than the last,
	// so a higher one is a later change; one that overlapped another of
	// the product in flight is not sampled: Overlapped), refresh interval
	// included. Every other price change is sampled: one poller searches
	// every 50 ms (APIConfig.SearchPoll) for the run's products at the lowest price still awaited
	// or above, dearest first, and settles each change its answer shows.
	// (Readers per change, freed when they found theirs, i.e. just after a
	// refresh, sampled the changes answered just after a refresh, which
	// wait about a whole refresh interval.)
	View   Freshness `json:"view"`
	Search Freshness `json:"search"`
	// Raw is the raw EOS round trip at this rate, measured right after
	// this step (Prefer: wait steps, with APIConfig.RawKafka only).
	Raw *RawStep `json:"raw,omitempty"`
	// Hops is where the step's commands spent their time, hop by hop (see
	// HopSend and the rest), when the stack reports it (APIConfig.Hops).
	Hops []KindSummary `json:"hops,omitempty"`
	// CPU is what the machine (every process: the servers, the stack and
	// the load) and this process spent during the step.
	CPU CPU `json:"cpu"`
	// Servers are what each of APIConfig.Servers spent during the step.
	Servers []ServerSpent `json:"servers,omitempty"`
	// Requests are the Kafka requests the stack's clients wrote during
	// the step, by client and kind, most first, when the stack counts
	// them (APIConfig.Requests).
	Requests []RequestCount `json:"kafkaRequests,omitempty"`
}

// measuredFreshness reports whether the step's freshness was measured:
// Prefer: wait, with the readers (APIConfig.NoFreshness unset), so that
// some change was sampled, missed, skipped or overlapped.
func (s APIStep) measuredFreshness() bool {
	v, x := s.View, s.Search
	return s.Wait && v.Samples+v.Missed+v.Skipped+x.Samples+x.Missed+x.Skipped+x.Overlapped > 0
}

// APIReport is what an API run measured.
type APIReport struct {
	Base         string        `json:"base"`
	Products     int           `json:"products"`
	Distribution string        `json:"distribution"`
	Duration     time.Duration `json:"durationNanos"` // per step
	// RawTopics is the name prefix of the raw side's topics and group,
	// and RawPartitions their partition count, when measured.
	RawTopics     string `json:"rawTopics,omitempty"`
	RawPartitions int    `json:"rawPartitions,omitempty"`
	// Warmup are the rounds of APIConfig.Warm, before the steps.
	Warmup []APIStep `json:"warmup,omitempty"`
	Steps  []APIStep `json:"steps"`
}

// Command kinds of an API run and their share of the mix, in percent.
var apiMix = []struct {
	kind  string
	share int
}{{KindCreate, 10}, {KindPrice, 30}, {KindStock, 30}, {KindReview, 30}}

// Headers the load sets for its own transport; the API ignores them.
const (
	hdrKind        = "X-Bench-Kind"
	hdrPrice       = "X-Bench-Price"        // the price a price change sets, in cents
	hdrPriceFlight = "X-Bench-Price-Flight" // the price change's priceFlight
)

// API runs the steps of cfg against the API at cfg.Base: it creates
// cfg.Products products (Prefer: wait), then per mode and rate sends a mix
// of commands (10% creates, 30% price, 30% stock, 30% review changes of
// the products, picked by cfg.Distribution) for cfg.Duration with vegeta,
// and samples freshness with readers; with cfg.RawKafka, after each step
// with Prefer: wait, the raw EOS round trip at the same rate. It writes
// progress and a table to cfg.Out.
func API(ctx context.Context, cfg APIConfig) (rep APIReport, err error) {
	if err := cfg.Validate(); err != nil {
		return APIReport{}, err
	}
	cfg = cfg.withDefaults()
	rep = APIReport{Base: cfg.Base, Products: cfg.Products, Distribution: cfg.Distribution, Duration: cfg.Duration}
	var raw *rawEOS
	if cfg.RawKafka != nil && slices.Contains(cfg.Modes, true) {
		if raw, err = startRawEOS(ctx, cfg.RawKafka, cfg.Products, cfg.Distribution, cfg.Out); err != nil {
			return rep, err
		}
		rep.RawTopics, rep.RawPartitions = raw.group, Partitions
		defer func() { err = errors.Join(err, raw.close(ctx)) }()
	}
	l := newAPILoad(cfg)
	defer l.transport.CloseIdleConnections()
	fmt.Fprintf(cfg.Out, "bench api: creating %d products at %s\n", cfg.Products, cfg.Base)
	if err := l.createProducts(ctx); err != nil {
		return rep, err
	}
	if cfg.Warm > 0 {
		if rep.Warmup, err = l.warmUp(ctx); err != nil {
			return rep, err
		}
	}
	for _, wait := range cfg.Modes {
		for _, rate := range cfg.Rates {
			if err := l.drain(ctx); err != nil {
				return rep, err
			}
			st := l.step(ctx, rate, wait, cfg.Duration, true)
			fresh := "freshness not measured"
			if st.measuredFreshness() {
				fresh = fmt.Sprintf("view fresh p99 %s ms, search p99 %s ms", ms(st.View.P99), ms(st.Search.P99))
			}
			fmt.Fprintf(cfg.Out, "bench api: %d/s wait=%v: sent %.0f/s, 2xx %.0f/s, p50 %s p99 %s ms, errors %s; %s\n",
				rate, wait, st.Achieved, st.Throughput, ms(st.Latency.P50), ms(st.Latency.P99), errorsText(st.Latency.Errors), fresh)
			if wait && raw != nil {
				// After the stack has decided what the step sent, so
				// that its backlog does not load the raw side.
				if err := l.drain(ctx); err != nil {
					return rep, err
				}
				rs, err := raw.step(ctx, rate, cfg.Duration, 0)
				if err != nil {
					return rep, err
				}
				st.Raw = &rs
				fmt.Fprintf(cfg.Out, "bench api: %d/s raw EOS round trip: sent %.0f/s, results %.0f/s, p50 %s p99 %s ms, errors %s\n",
					rate, rs.Achieved, rs.Throughput, ms(rs.Latency.P50), ms(rs.Latency.P99), errorsText(rs.Latency.Errors))
			}
			rep.Steps = append(rep.Steps, st)
		}
	}
	return rep, rep.WriteTable(cfg.Out)
}

// apiProduct is a product the load works on: its ID and a word only its
// name holds.
type apiProduct struct {
	id, word string
}

type apiLoad struct {
	cfg       APIConfig
	run       string
	transport *http.Transport
	client    *http.Client // for the freshness readers and the setup
	products  []apiProduct

	mu   sync.Mutex // guards rnd and pick
	rnd  *mrand.Rand
	pick func() int

	price   atomic.Int64 // the last price set, in cents: each change sets a higher one
	created atomic.Int64

	// The price changes in flight, from when their price is picked to
	// their answer, by flight and by product; guarded by mu.
	flights    map[int64]*priceFlight
	inFlight   map[string][]*priceFlight
	lastFlight int64

	// The current step's.
	wait                   bool
	stepCtx                context.Context
	readers                sync.WaitGroup
	viewSem                chan struct{}
	smu                    sync.Mutex
	awaited                []awaitedPrice // price changes the search poller looks for
	fmu                    sync.Mutex
	view, search           []time.Duration
	viewMissed, searchMiss atomic.Int64
	viewSkip, searchSkip   atomic.Int64
	searchOverlap          atomic.Int64
}

func newAPILoad(cfg APIConfig) *apiLoad {
	var b [4]byte
	_, _ = rand.Read(b[:])
	tr := &http.Transport{MaxIdleConnsPerHost: 2000, MaxIdleConns: 2000, IdleConnTimeout: 30 * time.Second}
	l := &apiLoad{cfg: cfg, run: "svb" + hex.EncodeToString(b[:]), transport: tr,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, rnd: mrand.New(mrand.NewPCG(7, 7))}
	l.price.Store(10_000_00) // 10,000.00: above every price a create sets
	return l
}

func (l *apiLoad) word(i int64) string { return l.run + "x" + strconv.FormatInt(i, 36) }

// createBody is a product named by word whose description holds the run's
// tag, for the search poller to find the run's products by.
func (l *apiLoad) createBody(word string) string {
	return fmt.Sprintf(`{"name":"bench %s","description":"bench api product `+l.run+`","price":{"amount":"%d.%02d","currency":"EUR"},"categoryId":"c1","categoryName":"Category 1","brandId":"b1","brandName":"Brand 1","tags":["bench"],"stock":10}`,
		word, 1+l.rnd.IntN(500), l.rnd.IntN(100))
}

// createProducts makes cfg.Products products, 16 at a time, each waiting
// for its decision.
func (l *apiLoad) createProducts(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	l.products = make([]apiProduct, l.cfg.Products)
	g := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var first atomic.Value
	for i := range l.products {
		w := l.word(l.created.Add(1))
		l.mu.Lock()
		body := l.createBody(w)
		l.mu.Unlock()
		g <- struct{}{}
		wg.Go(func() {
			defer func() { <-g }()
			for attempt := 0; ; attempt++ {
				id, err := l.create(ctx, body)
				if err == nil {
					l.products[i] = apiProduct{id: id, word: w}
					return
				}
				if ctx.Err() != nil || attempt == 20 {
					first.CompareAndSwap(nil, err)
					return
				}
				time.Sleep(500 * time.Millisecond) // the stack may still be starting
			}
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return fmt.Errorf("bench api: creating the products: %w", err)
	}
	dist, _ := eventgen.ParseDistribution(l.cfg.Distribution)
	n := len(l.products)
	l.pick = func() int { return l.rnd.IntN(n) }
	if dist == eventgen.Zipf && n > 1 {
		z := mrand.NewZipf(l.rnd, eventgen.DefaultZipfS, 1, uint64(n-1))
		l.pick = func() int { return int(z.Uint64()) }
	}
	return nil
}

// drain waits until the stack has decided what earlier steps sent: until a
// create waiting for its decision is answered within a second (up to two
// minutes), so that one step's backlog does not load the next.
func (l *apiLoad) drain(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.mu.Lock()
		body := l.createBody(l.word(l.created.Add(1)))
		l.mu.Unlock()
		start := time.Now()
		_, err := l.create(ctx, body)
		if err == nil && time.Since(start) < time.Second {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(l.cfg.Out, "bench api: the stack is still busy with earlier steps after 2 minutes (last create: %v, %v); going on\n", time.Since(start), err)
			return nil
		}
	}
}

func (l *apiLoad) create(ctx context.Context, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.cfg.Base+"/v1/products", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "wait=10")
	resp, err := l.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a struct {
		ProductID string `json:"productId"`
		Status    string `json:"status"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &a) != nil || a.ProductID == "" {
		return "", fmt.Errorf("create answered %d %s", resp.StatusCode, b)
	}
	return a.ProductID, nil
}

// target makes the next command of the mix.
func (l *apiLoad) target(t *vegeta.Target) error {
	l.mu.Lock()
	k := l.rnd.IntN(100)
	kind := KindReview
	for _, m := range apiMix {
		if k < m.share {
			kind = m.kind
			break
		}
		k -= m.share
	}
	p := l.products[l.pick()]
	var body string
	t.Header = http.Header{"Content-Type": {"application/json"}, hdrKind: {kind}}
	switch kind {
	case KindCreate:
		t.Method, t.URL = http.MethodPost, l.cfg.Base+"/v1/products"
		body = l.createBody(l.word(l.created.Add(1)))
	case KindPrice:
		cents := l.price.Add(1)
		t.Method, t.URL = http.MethodPut, l.cfg.Base+"/v1/products/"+p.id+"/price"
		body = fmt.Sprintf(`{"price":{"amount":"%d.%02d","currency":"EUR"}}`, cents/100, cents%100)
		t.Header.Set(hdrPrice, strconv.FormatInt(cents, 10))
		t.Header.Set(hdrPriceFlight, strconv.FormatInt(l.startPrice(p.id), 10))
	case KindStock:
		t.Method, t.URL = http.MethodPut, l.cfg.Base+"/v1/products/"+p.id+"/stock"
		body = fmt.Sprintf(`{"quantity":%d}`, l.rnd.IntN(100))
	default:
		t.Method, t.URL = http.MethodPost, l.cfg.Base+"/v1/products/"+p.id+"/reviews"
		body = fmt.Sprintf(`{"rating":%d,"userId":"u%d","comment":"bench"}`, 1+l.rnd.IntN(5), l.rnd.IntN(1000))
	}
	l.mu.Unlock()
	t.Body = []byte(body)
	if l.wait {
		t.Header.Set("Prefer", "wait=10")
	}
	return nil
}

// RoundTrip sends req and, for a command accepted with its version, starts
// the freshness readers at the moment the answer arrived.
func (l *apiLoad) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.transport.RoundTrip(req)
	overlapped := false
	if f, ferr := strconv.ParseInt(req.Header.Get(hdrPriceFlight), 10, 64); ferr == nil {
		overlapped = l.endPrice(f)
	}
	kind := req.Header.Get(hdrKind)
	if err != nil || kind == "" || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated) {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return resp, nil // vegeta reads an empty body; the status counts
	}
	if l.cfg.NoFreshness {
		return resp, nil
	}
	at := time.Now()
	var a struct {
		ProductID string `json:"productId"`
		Version   int64  `json:"version"`
	}
	if json.Unmarshal(b, &a) != nil || a.ProductID == "" || a.Version < 1 {
		return resp, nil
	}
	l.readView(a.ProductID, a.Version, at)
	if cents, err := strconv.ParseInt(req.Header.Get(hdrPrice), 10, 64); err == nil {
		if overlapped {
			l.searchOverlap.Add(1)
		} else {
			l.smu.Lock()
			l.awaited = append(l.awaited, awaitedPrice{product: a.ProductID, cents: cents, at: at})
			l.smu.Unlock()
		}
	}
	return resp, nil
}

// priceFlight is one price change from when its price is picked until its
// answer.
type priceFlight struct {
	product    string
	overlapped bool // another price change of the product was in flight too
}

// startPrice notes a price change of product whose price was just picked
// (the caller holds mu), marking it and those of the product in flight as
// overlapped, and returns its flight.
func (l *apiLoad) startPrice(product string) int64 {
	if l.flights == nil {
		l.flights, l.inFlight = map[int64]*priceFlight{}, map[string][]*priceFlight{}
	}
	f := &priceFlight{product: product}
	others := l.inFlight[product]
	for _, o := range others {
		o.overlapped = true
		f.overlapped = true
	}
	l.inFlight[product] = append(others, f)
	l.lastFlight++
	l.flights[l.lastFlight] = f
	return l.lastFlight
}

// endPrice notes the answer (or failure) of flight and reports whether
// another price change of its product was in flight at any time since its
// price was picked: then the order the decider chose between them is
// unknown, and the product may end at the lower price, so a search for
// this change's price would time something else.
func (l *apiLoad) endPrice(flight int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.flights[flight]
	if f == nil {
		return true
	}
	delete(l.flights, flight)
	l.inFlight[f.product] = slices.DeleteFunc(l.inFlight[f.product], func(o *priceFlight) bool { return o == f })
	if len(l.inFlight[f.product]) == 0 {
		delete(l.inFlight, f.product)
	}
	return f.overlapped
}

// readView reads the view with ?minVersion= until it shows version.
func (l *apiLoad) readView(id string, version int64, at time.Time) {
	select {
	case l.viewSem <- struct{}{}:
	default:
		l.viewSkip.Add(1)
		return
	}
	l.readers.Go(func() {
		defer func() { <-l.viewSem }()
		u := fmt.Sprintf("%s/v1/products/%s?minVersion=%d&wait=%d", l.cfg.Base, id, version, int(APIFreshnessTimeout.Seconds()))
		status, h, _, err := l.get(u)
		if err != nil || status != http.StatusOK || h.Get("X-Stale") == "true" {
			l.viewMissed.Add(1)
			return
		}
		l.sample(&l.view, time.Since(at))
	})
}

// awaitedPrice is a price change whose answer came, awaited in search.
type awaitedPrice struct {
	product string
	cents   int64
	at      time.Time // its answer
}

// DefaultSearchPoll is how often the search poller looks by default
// (APIConfig.SearchPoll); maxSearchPages bounds the pages of one look (100
// products each). Every 50 ms a look adds 25 ms to a freshness of about a
// second (the index's refresh interval) on average: fine enough, where
// every 20 ms the looks cost Elasticsearch a good share of a core that the
// stack under measurement then waits for (bench api at 1,000/s with wait,
// alternated: p99 59-69 ms against 43-51).
const (
	DefaultSearchPoll = 50 * time.Millisecond
	maxSearchPages    = 20
)

// pollSearch settles the awaited price changes every l.cfg.SearchPoll:
// it searches for the run's products at the lowest awaited price or above
// and takes as visible every change whose product it shows at its price or
// above, from the moment the search's answer came; a change not visible
// within APIFreshnessTimeout is missed. Changes answered after the search
// was sent wait for the next. It returns once stop is closed and nothing
// is awaited.
func (l *apiLoad) pollSearch(stop <-chan struct{}) {
	for {
		sent := time.Now()
		l.smu.Lock()
		n := len(l.awaited)
		low := int64(-1)
		for _, a := range l.awaited {
			if low < 0 || a.cents < low {
				low = a.cents
			}
		}
		l.smu.Unlock()
		if n == 0 {
			select {
			case <-stop:
				// The step's last answers came before stop was closed,
				// and may have come during this wait.
				l.smu.Lock()
				n = len(l.awaited)
				l.smu.Unlock()
				if n == 0 {
					return
				}
			case <-time.After(l.cfg.SearchPoll):
			}
			continue
		}
		prices, err := l.searchPrices(low)
		now := time.Now()
		l.smu.Lock()
		keep := l.awaited[:0]
		for _, a := range l.awaited {
			switch p, ok := prices[a.product]; {
			case a.at.After(sent):
				keep = append(keep, a)
			case err == nil && ok && p >= a.cents:
				l.sample(&l.search, now.Sub(a.at))
			case now.Sub(a.at) >= APIFreshnessTimeout:
				l.searchMiss.Add(1)
			default:
				keep = append(keep, a)
			}
		}
		clear(l.awaited[len(keep):])
		l.awaited = keep
		l.smu.Unlock()
		time.Sleep(max(0, l.cfg.SearchPoll-time.Since(sent)))
	}
}

// searchPrices searches for the run's products priced at cents or above,
// dearest first, and returns the price each shows, in cents.
func (l *apiLoad) searchPrices(cents int64) (map[string]int64, error) {
	q := url.Values{"q": {l.run}, "minPrice": {fmt.Sprintf("%d.%02d", cents/100, cents%100)}, "sort": {"price_desc"}, "pageSize": {"100"}}
	out := map[string]int64{}
	for range maxSearchPages {
		status, _, body, err := l.get(l.cfg.Base + "/v1/products/search?" + q.Encode())
		if err != nil {
			return nil, err
		}
		var r struct {
			Products []struct {
				ID    string `json:"id"`
				Price struct {
					Amount string `json:"amount"`
				} `json:"price"`
			} `json:"products"`
			NextCursor string `json:"nextCursor"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &r) != nil {
			return nil, fmt.Errorf("search answered %d %s", status, body)
		}
		for _, p := range r.Products {
			if c, ok := parseCents(p.Price.Amount); ok {
				out[p.ID] = c
			}
		}
		if r.NextCursor == "" {
			break
		}
		q.Set("cursor", r.NextCursor)
	}
	return out, nil
}

// parseCents reads a decimal amount of two decimals ("12.30") in cents.
func parseCents(amount string) (int64, bool) {
	whole, frac, _ := strings.Cut(amount, ".")
	if len(frac) > 2 {
		return 0, false
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || f < 0 {
		return 0, false
	}
	return w*100 + f, true
}

func (l *apiLoad) get(u string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(l.stepCtx), http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func (l *apiLoad) sample(to *[]time.Duration, d time.Duration) {
	l.fmu.Lock()
	*to = append(*to, d)
	l.fmu.Unlock()
}

// maxInFlight bounds the load's requests in flight: the load's connections
// and the in-process stack's share the process's file descriptors (20,000
// here).
const maxInFlight = 5000

// WarmRound is how long each round of a warm-up (APIConfig.Warm) sends,
// and WarmCalm how many rounds in a row must find no server compiling
// (WarmJIT) to end it: a single round under WarmJIT came at 9 minutes
// here, when the later ones still compiled more.
const (
	WarmRound = 30 * time.Second
	WarmCalm  = 2
)

// warmUp sends the first mode's load at the first rate in rounds of
// WarmRound (cfg.warmRound) until WarmCalm rounds in a row in which no
// server compiled WarmJIT of a core or more (a round in which a server's
// JIT figure could not be read does not count as calm), or until cfg.Warm
// has passed; it returns the rounds.
func (l *apiLoad) warmUp(ctx context.Context) ([]APIStep, error) {
	rate, wait := l.cfg.Rates[0], l.cfg.Modes[0]
	var jit []string
	for _, s := range l.cfg.Servers {
		if s.JIT != nil {
			jit = append(jit, s.Name)
		}
	}
	until := fmt.Sprintf("until %d rounds in a row in which no server's JIT compiler takes %.0f%% of a core (%s)", WarmCalm, 100*WarmJIT, strings.Join(jit, ", "))
	if len(jit) == 0 {
		until = "(no server's JIT is read here, so all of it)"
	}
	fmt.Fprintf(l.cfg.Out, "bench api: warming up at %d/s %s, rounds of %v, for at most %v %s; not in the steps\n", rate, modeName(wait), l.cfg.warmRound, l.cfg.Warm, until)
	var rounds []APIStep
	calm := 0 // rounds in a row without a server compiling
	start := time.Now()
	for {
		// After the first round, a round of a tenth of one or less is not
		// worth sending.
		left := l.cfg.Warm - time.Since(start)
		if left <= 0 || len(rounds) > 0 && left <= l.cfg.warmRound/10 {
			still := ""
			switch {
			case len(rounds) > 0 && len(rounds[len(rounds)-1].Warming()) > 0:
				still = " with a server still compiling in the last round; the steps' report says whether they were"
			case len(jit) > 0 && len(rounds) > 0 && len(rounds[len(rounds)-1].jitShares()) != len(jit):
				still = " without reading every server's JIT in the last round (a server restarted?)"
			}
			fmt.Fprintf(l.cfg.Out, "bench api: --warm %v passed%s\n", l.cfg.Warm, still)
			return rounds, nil
		}
		if err := l.drain(ctx); err != nil {
			return rounds, err
		}
		st := l.step(ctx, rate, wait, min(l.cfg.warmRound, left), false)
		if err := ctx.Err(); err != nil {
			return rounds, err
		}
		rounds = append(rounds, st)
		// Calm counts only when every server with a JIT figure was read.
		parts := st.jitShares()
		measured := len(parts) > 0 && len(parts) == len(jit)
		jitText := ""
		if len(parts) > 0 {
			jitText = "; JIT " + strings.Join(parts, ", ")
		}
		fmt.Fprintf(l.cfg.Out, "bench api: warm-up round %d (%v of at most %v): p50 %s p99 %s ms, errors %s%s\n",
			len(rounds), time.Since(start).Round(time.Second), l.cfg.Warm, ms(st.Latency.P50), ms(st.Latency.P99), errorsText(st.Latency.Errors), jitText)
		calm++
		if !measured || len(st.Warming()) > 0 {
			calm = 0
		}
		if calm == WarmCalm {
			fmt.Fprintf(l.cfg.Out, "bench api: warm: no server's JIT took %.0f%% of a core in the last %d rounds\n", 100*WarmJIT, WarmCalm)
			return rounds, nil
		}
	}
}

// step sends rate commands/s for d and waits for its readers; profiled
// calls cfg.Profile around it.
func (l *apiLoad) step(ctx context.Context, rate int, wait bool, d time.Duration, profiled bool) APIStep {
	l.wait, l.stepCtx = wait, ctx
	l.mu.Lock()
	l.flights, l.inFlight = nil, nil // a target vegeta made but never sent
	l.mu.Unlock()
	l.viewSem = make(chan struct{}, l.cfg.ViewReaders)
	l.smu.Lock()
	l.awaited = nil
	l.smu.Unlock()
	stopSearch := make(chan struct{})
	if !l.cfg.NoFreshness {
		l.readers.Go(func() { l.pollSearch(stopSearch) })
	}
	l.view, l.search = nil, nil
	for _, c := range []*atomic.Int64{&l.viewMissed, &l.searchMiss, &l.viewSkip, &l.searchSkip, &l.searchOverlap} {
		c.Store(0)
	}
	// Client last: vegeta's transport options would change its own
	// transport, not this one. Each request in flight holds a worker and
	// a connection; past maxInFlight the load sends late (sent/s falls
	// below the rate, which the report shows) instead of the process
	// running out of file descriptors, as one run at 2,000/s did.
	atk := vegeta.NewAttacker(vegeta.MaxBody(0), vegeta.Workers(uint64(max(10, rate/20))),
		vegeta.MaxWorkers(maxInFlight), vegeta.Client(&http.Client{Transport: l, Timeout: 30 * time.Second}))
	if l.cfg.Hops != nil {
		l.cfg.Hops.take() // what the last step's stragglers reported
	}
	var stop func()
	if l.cfg.Profile != nil && profiled {
		stop = l.cfg.Profile(rate, wait)
	}
	probe := startProbe(ctx, nil)
	servers := serverTimes(l.cfg.Servers)
	var requests map[[2]string]int64
	if l.cfg.Requests != nil {
		requests = l.cfg.Requests.snapshot()
	}
	var (
		lat    []time.Duration
		ends   []time.Time // when each answer came, in lat's order
		errs   = map[string]int{}
		ok     int
		first  time.Time
		last   time.Time
		sent   int
		cancel = context.AfterFunc(ctx, func() { atk.Stop() })
	)
	// The load's goroutines (vegeta's workers and their connections) carry
	// side=load, so that a CPU profile of an in-process stack can leave
	// them out: -tagignore side=load.
	pprof.Do(ctx, pprof.Labels("side", "load"), func(context.Context) {
		for res := range atk.Attack(l.target, vegeta.Rate{Freq: rate, Per: time.Second}, d, fmt.Sprintf("%d-%v", rate, wait)) {
			sent++
			if first.IsZero() || res.Timestamp.Before(first) {
				first = res.Timestamp
			}
			if end := res.End(); end.After(last) {
				last = end
			}
			lat = append(lat, res.Latency)
			ends = append(ends, res.End())
			switch {
			case res.Code == 0:
				if errs["transport"] == 0 {
					fmt.Fprintf(l.cfg.Out, "bench api: %d/s wait=%v: a request got no answer (counted as a transport error): %s\n", rate, wait, res.Error)
				}
				errs["transport"]++
			case res.Code >= 300:
				errs[strconv.Itoa(int(res.Code))]++
			case wait && res.Code == http.StatusAccepted:
				// Prefer: wait ran out before the decision: not the
				// answer asked for.
				errs["202-wait-ran-out"]++
			default:
				ok++
			}
		}
	})
	cancel()
	cpu := probe.stop(ctx)
	spent := serverSpent(l.cfg.Servers, servers, serverTimes(l.cfg.Servers))
	var counted []RequestCount
	if l.cfg.Requests != nil {
		counted = l.cfg.Requests.since(requests)
	}
	if stop != nil {
		stop()
	}
	close(stopSearch)
	l.readers.Wait()
	st := APIStep{Rate: rate, Wait: wait, Latency: Summarize("commands", lat, errs), CPU: cpu, Servers: spent, Requests: counted}
	st.Tail = tailOf(lat, ends, st.Latency.P99, TailWindow)
	if l.cfg.Hops != nil {
		st.Hops = l.cfg.Hops.take()
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		st.Throughput = float64(ok) / span
	}
	st.Achieved = float64(sent) / d.Seconds()
	st.View = freshness(l.view, l.viewMissed.Load(), l.viewSkip.Load())
	st.Search = freshness(l.search, l.searchMiss.Load(), l.searchSkip.Load())
	st.Search.Overlapped = int(l.searchOverlap.Load())
	return st
}

// busyText is the share of the cores busy during a step ("71%", with
// "+9% stolen" when the hypervisor took some), or "-" when not measured.
func busyText(c CPU) string {
	if c.Machine <= 0 {
		return "-"
	}
	t := fmt.Sprintf("%.0f%%", 100*c.Busy())
	if c.Steal > 0 && c.Wall > 0 {
		t += fmt.Sprintf(" +%.0f%% stolen", 100*c.Steal.Seconds()/c.Wall.Seconds())
	}
	return t
}

func freshness(samples []time.Duration, missed, skipped int64) Freshness {
	f := Freshness{Samples: len(samples), Missed: int(missed), Skipped: int(skipped)}
	if len(samples) == 0 {
		return f
	}
	slices.Sort(samples)
	f.P50, f.P99, f.Max = percentile(samples, 50), percentile(samples, 99), samples[len(samples)-1]
	return f
}

// WriteTable writes one row per step, and under a step with Prefer: wait
// the raw EOS round trip at its rate, when measured.
func (r APIReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nbench api: %s; data set: %d products, commands pick them %s; mix 10%% create, 30%% price, 30%% stock, 30%% review; %v per step\n",
		r.Base, r.Products, r.Distribution, r.Duration)
	b.WriteString("concurrency: an open model, every command sent on schedule whatever the earlier ones do (vegeta: as many requests in flight as that takes)\n")
	b.WriteString("stack: HTTP command -> API -> commands topic -> decider (one transaction per batch) -> results topic -> the API's answer; latency from the request sent to the answer\n")
	if r.RawPartitions > 0 {
		fmt.Fprintf(&b, "raw EOS: the same Kafka loop without streamview, after each wait step at its rate: %d-byte records keyed over %d products (%s) to a %d-partition topic "+
			"(idempotent, linger 0), one consume-transform-produce transaction loop (read_committed, fetch max wait %v, batches up to %d, linger 0) copying each to an events and a results topic, "+
			"a read_committed reader of the results; latency from the send to the result seen; its 2xx/s column is results seen/s\n",
			rawRecordBytes, r.Products, r.Distribution, r.RawPartitions, rawFetchMaxWait, decider.DefaultMaxBatch)
	}
	b.WriteString("freshness: from a command's accepted answer (Prefer: wait gives its version) to the view answering ?minVersion= of it, and to a search finding its price\n")
	b.WriteString("busy: the share of the machine's cores busy during the step (every process: servers, stack, load, readers), and of a core stolen by the hypervisor\n")
	writeWarmup(&b, r.Warmup)
	b.WriteString("\n")
	rows := [][]string{{"side", "rate/s", "wait", "sent/s", "2xx/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "busy", "view p50", "view p99", "search p50", "search p99", "fresh samples (missed, skipped)"}}
	for _, s := range r.Steps {
		fresh := "-"
		vp50, vp99, sp50, sp99 := "-", "-", "-", "-"
		if s.measuredFreshness() {
			vp50, vp99, sp50, sp99 = ms(s.View.P50), ms(s.View.P99), ms(s.Search.P50), ms(s.Search.P99)
			fresh = fmt.Sprintf("view %d (%d, %d), search %d (%d, %d, %d overlapped)", s.View.Samples, s.View.Missed, s.View.Skipped, s.Search.Samples, s.Search.Missed, s.Search.Skipped, s.Search.Overlapped)
		}
		rows = append(rows, []string{"stack", strconv.Itoa(s.Rate), strconv.FormatBool(s.Wait), fmt.Sprintf("%.0f", s.Achieved), fmt.Sprintf("%.0f", s.Throughput),
			ms(s.Latency.P50), ms(s.Latency.P90), ms(s.Latency.P99), ms(s.Latency.Max), errorsText(s.Latency.Errors), busyText(s.CPU), vp50, vp99, sp50, sp99, fresh})
		if x := s.Raw; x != nil {
			rows = append(rows, []string{"raw EOS", strconv.Itoa(s.Rate), "-", fmt.Sprintf("%.0f", x.Achieved), fmt.Sprintf("%.0f", x.Throughput),
				ms(x.Latency.P50), ms(x.Latency.P90), ms(x.Latency.P99), ms(x.Latency.Max), errorsText(x.Latency.Errors), busyText(x.CPU), "-", "-", "-", "-", "-"})
		}
	}
	writeRows(&b, rows)
	writeHops(&b, r.Steps)
	writeTail(&b, r.Steps)
	writeCPU(&b, r.Steps)
	writeRequests(&b, r.Steps)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWarmup says what the warm-up before the steps sent (APIConfig.Warm)
// and how its first and last rounds went.
func writeWarmup(b *strings.Builder, rounds []APIStep) {
	if len(rounds) == 0 {
		return
	}
	first, last := rounds[0], rounds[len(rounds)-1]
	var sent int
	for _, r := range rounds {
		sent += r.Latency.Requests
	}
	n := fmt.Sprintf("%d rounds", len(rounds))
	if len(rounds) == 1 {
		n = "1 round"
	}
	fmt.Fprintf(b, "warm-up before the steps (not in them): %s at %d/s %s, %s commands; p99 %s ms in the first round, %s in the last",
		n, first.Rate, modeName(first.Wait), thousands.Format(sent), ms(first.Latency.P99), ms(last.Latency.P99))
	if parts := last.jitShares(); len(parts) > 0 {
		fmt.Fprintf(b, "; JIT in the last: %s", strings.Join(parts, ", "))
	}
	b.WriteString("\n")
}

// modeName names a step's mode: "wait" with Prefer: wait, else "nowait".
func modeName(wait bool) string {
	if wait {
		return "wait"
	}
	return "nowait"
}

// writeCPU writes, per step, the CPU this process and each server spent
// in % of a core, when the servers were given (APIConfig.Servers).
func writeCPU(b *strings.Builder, steps []APIStep) {
	head := false
	for _, s := range steps {
		if len(s.Servers) == 0 || s.CPU.Wall <= 0 {
			continue
		}
		if !head {
			b.WriteString("\nCPU by process during each step, % of a core (its CPU time over the step's)\n")
			head = true
		}
		share := func(d time.Duration) string { return fmt.Sprintf("%.0f%%", 100*d.Seconds()/s.CPU.Wall.Seconds()) }
		self := "this process (load and readers) "
		if len(s.Hops) > 0 { // the stack reports its hops when it runs in this process
			self = "this process (stack, load and readers) "
		}
		parts := []string{self + share(s.CPU.Process)}
		for _, sv := range s.Servers {
			p := sv.Name + " " + share(sv.CPU)
			if jitTenths(sv.JIT, s.CPU.Wall) > 0 {
				p += " (JIT " + jitShare(sv.JIT, s.CPU.Wall) + ")"
			}
			parts = append(parts, p)
		}
		fmt.Fprintf(b, "  %d/s %s: %s\n", s.Rate, modeName(s.Wait), strings.Join(parts, ", "))
	}
	writeWarming(b, steps)
}

// WarmJIT is the share of a core a server's JIT compiler may take during
// a step for the report to count the server as warm. A JVM compiles its
// hot paths for many minutes after it starts, under load, on the cores
// the load needs. Here, at 1,000 commands/s on freshly started servers,
// Elasticsearch's compiler took 32-44% of a core in the first minutes,
// 1.0-3.0% at 8.7-12.4 minutes and 0.1-1.7% from 16 minutes on, when the
// p99 had settled (session 20; docs/performance.md, "The servers' warm-up
// is their JIT compilers").
const WarmJIT = 0.02

// jitTenths is a server's JIT share of a core over wall in tenths of a
// percent, cut (not rounded): 19 for 1.99%; 0 for no wall time. Warming
// compares it, and jitShare prints it, so that a share printed as WarmJIT
// or more is one that counts.
func jitTenths(jit, wall time.Duration) int64 {
	if wall <= 0 {
		return 0
	}
	return int64(jit) * 1000 / int64(wall)
}

// jitShare prints jitTenths as a percentage ("1.9%").
func jitShare(jit, wall time.Duration) string {
	t := jitTenths(jit, wall)
	return fmt.Sprintf("%d.%d%%", t/10, t%10)
}

// jitShares are the step's servers whose JIT was read, each as its name
// and share ("elasticsearch 1.9%").
func (s APIStep) jitShares() []string {
	var out []string
	for _, sv := range s.Servers {
		if sv.jitOK {
			out = append(out, sv.Name+" "+jitShare(sv.JIT, s.CPU.Wall))
		}
	}
	return out
}

// Warming are the servers whose JIT compiler took WarmJIT of a core or
// more during the step: still warming up.
func (s APIStep) Warming() []ServerSpent {
	var out []ServerSpent
	for _, sv := range s.Servers {
		if jitTenths(sv.JIT, s.CPU.Wall) >= 1000*WarmJIT {
			out = append(out, sv)
		}
	}
	return out
}

// writeWarming says which steps ran on servers still compiling their
// code, whose latencies are not yet the servers' steady ones.
func writeWarming(b *strings.Builder, steps []APIStep) {
	var lines []string
	for _, s := range steps {
		var parts []string
		for _, sv := range s.Warming() {
			parts = append(parts, sv.Name+" "+jitShare(sv.JIT, s.CPU.Wall))
		}
		if len(parts) > 0 {
			lines = append(lines, fmt.Sprintf("  %d/s %s: %s\n", s.Rate, modeName(s.Wait), strings.Join(parts, ", ")))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\nwarming up: these servers were still compiling their code (a JVM's JIT, %.0f%% of a core or more) on the cores the load needs, so these steps ran on servers not yet warm; run again, or warm them first with --warm (the tail can take longer still to settle: see --help):\n", 100*WarmJIT)
	for _, l := range lines {
		b.WriteString(l)
	}
}

// writeHops writes where each step's commands spent their time, when the
// stack reported it: one row per hop, p50 and p99 of each step side by
// side.
func writeHops(b *strings.Builder, steps []APIStep) {
	var with []APIStep
	var names []string
	for _, s := range steps {
		if len(s.Hops) == 0 {
			continue
		}
		with = append(with, s)
		for _, h := range s.Hops {
			if !slices.Contains(names, h.Kind) {
				names = append(names, h.Kind)
			}
		}
	}
	if len(with) == 0 {
		return
	}
	b.WriteString("\nwhere the stack's commands spent their time, per hop, p50 / p99 ms (a command's hops overlap: see bench.HopSend and the rest)\n")
	head := []string{"hop"}
	for _, s := range with {
		head = append(head, fmt.Sprintf("%d/s %s", s.Rate, modeName(s.Wait)))
	}
	rows := [][]string{head}
	for _, name := range names {
		row := []string{name}
		for _, s := range with {
			cell := "-"
			if i := slices.IndexFunc(s.Hops, func(h KindSummary) bool { return h.Kind == name }); i >= 0 {
				cell = ms(s.Hops[i].P50) + " / " + ms(s.Hops[i].P99)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	writeRows(b, rows)
}
