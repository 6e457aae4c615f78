package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/thousands"
)

// Request kinds of a soak run, in table order.
const (
	KindCreate = "create"
	KindPrice  = "price"
	KindStock  = "stock"
	KindReview = "review"
	KindView   = "view"
	KindSearch = "search"
)

var soakKinds = []string{KindCreate, KindPrice, KindStock, KindReview, KindView, KindSearch}

// Soak defaults.
const (
	DefaultSoakDuration = 10 * time.Minute
	DefaultSoakRate     = 100
	DefaultSoakProducts = 1000
	// SoakProgressEvery is how often a soak run prints a progress line
	// and samples projection lag, RSS and goroutines.
	SoakProgressEvery = 10 * time.Second
)

// SoakConfig shapes a soak run against a running API.
type SoakConfig struct {
	// Base is the API's base URL ("http://127.0.0.1:8080"). Required.
	Base string
	// Duration is how long the load runs; DefaultSoakDuration when 0.
	Duration time.Duration
	// Rate is the requests started per second, whether or not earlier
	// ones have answered (an open model); DefaultSoakRate when 0.
	Rate int
	// Products is how many products the run creates and then works on;
	// DefaultSoakProducts when 0.
	Products int
	// Distribution is how the commands and view reads pick among the
	// products made so far: "zipf" (default, s=1.1, the first made the
	// hottest: a few products get most of the load, as in a catalogue) or
	// "uniform".
	Distribution string
	// MaxInFlight bounds the requests in flight; a tick that finds them
	// all busy skips its request and counts it as dropped. Rate (at least
	// 64) when 0.
	MaxInFlight int
	// Lag returns each projection's lag (records behind the end of the
	// events topic); nil reports none.
	Lag func(ctx context.Context) (map[string]int64, error)
	// Out receives progress lines and the table; nil discards.
	Out io.Writer
	// Client sends the requests; a plain client with a 30 s timeout when
	// nil.
	Client *http.Client
	// ProgressEvery overrides SoakProgressEvery (tests).
	ProgressEvery time.Duration
}

func (c SoakConfig) withDefaults() SoakConfig {
	if c.Duration == 0 {
		c.Duration = DefaultSoakDuration
	}
	if c.Rate == 0 {
		c.Rate = DefaultSoakRate
	}
	if c.Products == 0 {
		c.Products = DefaultSoakProducts
	}
	if c.Distribution == "" {
		c.Distribution = DefaultDistribution
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = max(64, c.Rate)
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.MaxInFlight
		c.Client = &http.Client{Timeout: 30 * time.Second, Transport: t}
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = SoakProgressEvery
	}
	return c
}

// Validate reports every problem at once.
func (c SoakConfig) Validate() error {
	var errs []error
	if c.Base == "" {
		errs = append(errs, errors.New("bench: soak: Base is required"))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("bench: soak: Duration %v is negative", c.Duration))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("bench: soak: Rate %d is negative", c.Rate))
	}
	if c.Products < 0 {
		errs = append(errs, fmt.Errorf("bench: soak: Products %d is negative", c.Products))
	}
	if _, err := eventgen.ParseDistribution(c.withDefaults().Distribution); err != nil {
		errs = append(errs, fmt.Errorf("bench: soak: %w", err))
	}
	return errors.Join(errs...)
}

// KindSummary is what one kind of request did.
type KindSummary struct {
	Kind     string         `json:"kind"`
	Requests int            `json:"requests"`
	Errors   map[string]int `json:"errors"` // by status ("503") or "transport"
	P50      time.Duration  `json:"p50Nanos"`
	P90      time.Duration  `json:"p90Nanos"`
	P99      time.Duration  `json:"p99Nanos"`
	Max      time.Duration  `json:"maxNanos"`
}

// ErrorCount is the sum of Errors.
func (k KindSummary) ErrorCount() int {
	n := 0
	for _, c := range k.Errors {
		n += c
	}
	return n
}

// Summarize returns the latency summary of samples (nearest rank).
func Summarize(kind string, samples []time.Duration, errs map[string]int) KindSummary {
	s := KindSummary{Kind: kind, Requests: len(samples), Errors: map[string]int{}}
	for k, v := range errs {
		s.Errors[k] = v
	}
	if len(samples) == 0 {
		return s
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	s.P50, s.P90, s.P99 = percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99)
	s.Max = sorted[len(sorted)-1]
	return s
}

// percentile is the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(0, rank-1)]
}

// LagSample is every projection's lag at one moment of the run.
type LagSample struct {
	At  time.Duration    `json:"atNanos"`
	Lag map[string]int64 `json:"lag"`
}

// ProcessSample is the process's size at one moment.
type ProcessSample struct {
	Label      string        `json:"label"` // start, middle, end
	At         time.Duration `json:"atNanos"`
	RSS        int64         `json:"rssBytes"` // VmRSS; 0 where unknown
	Goroutines int           `json:"goroutines"`
	// HeapLive is the Go heap the last garbage collection found live: what
	// a leak grows. RSS is larger: the runtime lets the heap reach twice
	// the live size between collections (GOGC=100) and gives freed pages
	// back to the system only gradually.
	HeapLive int64 `json:"heapLiveBytes"`
}

// SoakReport is the outcome of a soak run.
type SoakReport struct {
	Duration     time.Duration   `json:"durationNanos"` // the load's, as run
	Rate         int             `json:"rate"`
	Products     int             `json:"products"`
	Distribution string          `json:"distribution"` // how the load picked the products: zipf or uniform
	Dropped      int64           `json:"dropped"`      // ticks skipped: MaxInFlight busy
	Kinds        []KindSummary   `json:"kinds"`
	Lag          []LagSample     `json:"lag"`
	Process      []ProcessSample `json:"process"`
}

// Requests is the sum of every kind's requests.
func (r SoakReport) Requests() int {
	n := 0
	for _, k := range r.Kinds {
		n += k.Requests
	}
	return n
}

// ServerErrors counts the 5xx answers.
func (r SoakReport) ServerErrors() int {
	n := 0
	for _, k := range r.Kinds {
		for st, c := range k.Errors {
			if strings.HasPrefix(st, "5") {
				n += c
			}
		}
	}
	return n
}

// RSSGrowth is the end's RSS over the middle's, minus one (0.1: grew by
// 10 %); 0 when either is unknown.
func (r SoakReport) RSSGrowth() float64 {
	var mid, end int64
	for _, p := range r.Process {
		switch p.Label {
		case "middle":
			mid = p.RSS
		case "end":
			end = p.RSS
		}
	}
	if mid <= 0 || end <= 0 {
		return 0
	}
	return float64(end)/float64(mid) - 1
}

// MarshalJSON adds the totals and the verdict's figures.
func (r SoakReport) MarshalJSON() ([]byte, error) {
	type plain SoakReport
	return json.Marshal(struct {
		plain
		Requests     int     `json:"requests"`
		ServerErrors int     `json:"serverErrors"`
		RSSGrowth    float64 `json:"rssGrowthMiddleToEnd"`
	}{plain(r), r.Requests(), r.ServerErrors(), r.RSSGrowth()})
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

func mib(b int64) string {
	if b <= 0 {
		return "?"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB"
}

// WriteTable writes the report as tables and a verdict line.
func (r SoakReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak: %v at %d requests/s on %s products picked %s; %s requests, %s dropped (in-flight bound)\n\n",
		r.Duration.Round(time.Second), r.Rate, thousands.Format(r.Products), r.Distribution, thousands.Format(r.Requests()), thousands.Format(r.Dropped))
	rows := [][]string{{"kind", "requests", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"}}
	for _, k := range r.Kinds {
		rows = append(rows, []string{k.Kind, thousands.Format(k.Requests), errorsText(k.Errors), ms(k.P50), ms(k.P90), ms(k.P99), ms(k.Max)})
	}
	writeRows(&b, rows)

	if len(r.Lag) > 0 {
		var names []string
		for _, s := range r.Lag {
			for n := range s.Lag {
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "\nprojection lag (records behind the events topic's end), %d samples\n", len(r.Lag))
		rows = [][]string{{"projection", "min", "max", "last", "over time"}}
		for _, n := range names {
			lo, hi, last := int64(-1), int64(0), int64(0)
			var series []string
			for _, s := range r.Lag {
				v, ok := s.Lag[n]
				if !ok {
					continue
				}
				if lo < 0 || v < lo {
					lo = v
				}
				hi, last = max(hi, v), v
				series = append(series, strconv.FormatInt(v, 10))
			}
			rows = append(rows, []string{n, thousands.Format(max(lo, 0)), thousands.Format(hi), thousands.Format(last), strings.Join(series, " ")})
		}
		writeRows(&b, rows)
	}

	fmt.Fprintf(&b, "\nprocess\n")
	rows = [][]string{{"when", "at", "RSS", "goroutines", "live heap"}}
	for _, p := range r.Process {
		rows = append(rows, []string{p.Label, p.At.Round(time.Second).String(), mib(p.RSS), strconv.Itoa(p.Goroutines), mib(p.HeapLive)})
	}
	writeRows(&b, rows)

	fiveXX := "0 5xx: yes"
	if n := r.ServerErrors(); n > 0 {
		fiveXX = fmt.Sprintf("0 5xx: NO (%d)", n)
	}
	fmt.Fprintf(&b, "\nverdict: %s; RSS middle to end %+.1f%%\n", fiveXX, 100*r.RSSGrowth())
	_, err := io.WriteString(w, b.String())
	return err
}

func errorsText(errs map[string]int) string {
	if len(errs) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.Itoa(errs[k])
	}
	return strings.Join(parts, " ")
}

// writeRows aligns rows: the first column left, the rest right, the last
// left when it is free text.
func writeRows(b *strings.Builder, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		line.WriteString("  ")
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			if i == 0 || (i == len(row)-1 && rows[0][i] == "over time") {
				fmt.Fprintf(&line, "%-*s", width[i], c)
			} else {
				fmt.Fprintf(&line, "%*s", width[i], c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// RSS returns the process's resident set size from /proc/self/status
// (VmRSS); 0 where that is not available.
func RSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmRSS(data)
}

func parseVmRSS(status []byte) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// HeapLive returns the Go heap that the last garbage collection marked
// live (runtime/metrics /gc/heap/live:bytes); 0 before the first one.
func HeapLive() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// recorder collects answers by kind.
type recorder struct {
	mu      sync.Mutex
	samples map[string][]time.Duration
	errs    map[string]map[string]int
	total   atomic.Int64
	failed  atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{samples: map[string][]time.Duration{}, errs: map[string]map[string]int{}}
}

// record adds one answer; status is "" for a success.
func (r *recorder) record(kind string, d time.Duration, status string) {
	r.total.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples[kind] = append(r.samples[kind], d)
	if status != "" {
		r.failed.Add(1)
		if r.errs[kind] == nil {
			r.errs[kind] = map[string]int{}
		}
		r.errs[kind][status]++
	}
}

func (r *recorder) summaries() []KindSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []KindSummary
	for _, k := range soakKinds {
		if len(r.samples[k]) > 0 || len(r.errs[k]) > 0 {
			out = append(out, Summarize(k, r.samples[k], r.errs[k]))
		}
	}
	return out
}

// p99 is the p99 over every kind so far.
func (r *recorder) p99() time.Duration {
	r.mu.Lock()
	var all []time.Duration
	for _, s := range r.samples {
		all = append(all, s...)
	}
	r.mu.Unlock()
	return Summarize("", all, nil).P99
}

// catalogue is the products the run made, in the order it learnt them,
// and their last known versions.
type catalogue struct {
	mu       sync.Mutex
	ids      []string
	versions map[string]int64
	zipf     bool // pick by rank, the first made the hottest; else uniformly
}

func (c *catalogue) add(id string, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.versions[id]; !ok {
		c.ids = append(c.ids, id)
	}
	c.versions[id] = max(c.versions[id], version)
}

func (c *catalogue) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// pick returns a random product and its last known version: of rank k
// (in the order made) with a probability in 1/(k+1)^1.1 when zipf, any
// alike otherwise. The catalogue grows during a run, so each pick draws
// from a Zipf of its current size (rand.NewZipf sets up in constant time).
func (c *catalogue) pick(rnd *rand.Rand) (string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var i int
	if n := len(c.ids); c.zipf && n > 1 {
		i = int(rand.NewZipf(rnd, eventgen.DefaultZipfS, 1, uint64(n-1)).Uint64())
	} else {
		i = rnd.IntN(n)
	}
	id := c.ids[i]
	return id, c.versions[id]
}

// Soak drives a mixed load at cfg.Rate requests/s through the API at
// cfg.Base for cfg.Duration, printing progress every ProgressEvery, and
// writes the report's table to cfg.Out. A ctx that ends stops the load
// early; the report then covers what ran.
func Soak(ctx context.Context, cfg SoakConfig) (SoakReport, error) {
	if err := cfg.Validate(); err != nil {
		return SoakReport{}, err
	}
	cfg = cfg.withDefaults()
	dist, _ := eventgen.ParseDistribution(cfg.Distribution) // validated
	l := &loader{cfg: cfg, rec: newRecorder(), cat: &catalogue{versions: map[string]int64{}, zipf: dist == eventgen.Zipf}}
	rep := SoakReport{Rate: cfg.Rate, Products: cfg.Products, Distribution: cfg.Distribution}
	start := time.Now()
	proc := func(label string) ProcessSample {
		return ProcessSample{Label: label, At: time.Since(start), RSS: RSS(), Goroutines: runtime.NumGoroutine(), HeapLive: HeapLive()}
	}
	rep.Process = append(rep.Process, proc("start"))

	// The decider and the projectors join their groups first: wait for one
	// command to be decided before the clock starts.
	fmt.Fprintf(cfg.Out, "soak: waiting for the first command to be decided\n")
	if err := l.warmUp(ctx); err != nil {
		return rep, err
	}
	fmt.Fprintf(cfg.Out, "soak: %v at %d requests/s, %s products\n", cfg.Duration, cfg.Rate, thousands.Format(cfg.Products))

	loadCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	loadStart := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.MaxInFlight)
	// A ticker drops the ticks its receiver misses; on a busy machine
	// that would lower the rate. Each tick instead issues every request
	// due by then: Rate per second since the start.
	tick := time.NewTicker(min(time.Second/time.Duration(cfg.Rate), 10*time.Millisecond))
	var issued int64
	defer tick.Stop()
	progress := time.NewTicker(cfg.ProgressEvery)
	defer progress.Stop()
	middle := time.NewTimer(cfg.Duration / 2)
	defer middle.Stop()
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	sample := func() {
		s := LagSample{At: time.Since(loadStart)}
		if cfg.Lag != nil {
			lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
			lag, err := cfg.Lag(lctx)
			lcancel()
			if err == nil {
				s.Lag = lag
			}
		}
		rep.Lag = append(rep.Lag, s)
		fmt.Fprintf(cfg.Out, "%6s  requests %s  errors %s  dropped %s  p99 %s ms  lag %s  RSS %s  live heap %s  goroutines %d\n",
			s.At.Round(time.Second), thousands.Format(l.rec.total.Load()), thousands.Format(l.rec.failed.Load()),
			thousands.Format(l.dropped.Load()), ms(l.rec.p99()), lagText(s.Lag), mib(RSS()), mib(HeapLive()), runtime.NumGoroutine())
	}
loop:
	for {
		select {
		case <-loadCtx.Done():
			break loop
		case <-middle.C:
			rep.Process = append(rep.Process, proc("middle"))
		case <-progress.C:
			if loadCtx.Err() != nil {
				break loop // the end's sample follows
			}
			sample()
		case <-tick.C:
			due := int64(time.Since(loadStart).Seconds()*float64(cfg.Rate)) - issued
			for ; due > 0; due-- {
				issued++
				select {
				case sem <- struct{}{}:
				default:
					l.dropped.Add(1)
					continue
				}
				kind := l.next(rnd)
				seed := rnd.Uint64()
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					l.do(loadCtx, kind, rand.New(rand.NewPCG(seed, 2)))
				}()
			}
		}
	}
	rep.Duration = time.Since(loadStart)
	wg.Wait()
	if len(rep.Process) == 1 { // stopped before the middle
		rep.Process = append(rep.Process, proc("middle"))
	}
	sample()
	rep.Process = append(rep.Process, proc("end"))
	rep.Dropped = l.dropped.Load()
	rep.Kinds = l.rec.summaries()
	if err := rep.WriteTable(cfg.Out); err != nil {
		return rep, err
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("bench: soak stopped after %v of %v: %w", rep.Duration.Round(time.Second), cfg.Duration, context.Cause(ctx))
	}
	return rep, nil
}

func lagText(lag map[string]int64) string {
	if len(lag) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(lag))
	for k := range lag {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.FormatInt(lag[k], 10)
	}
	return strings.Join(parts, " ")
}

type loader struct {
	cfg     SoakConfig
	rec     *recorder
	cat     *catalogue
	dropped atomic.Int64
	created atomic.Int64 // creates started
}

// next chooses the kind of the next request: creates until the catalogue
// is made (half of the load), then 40 % commands, 40 % view reads, 20 %
// searches.
func (l *loader) next(rnd *rand.Rand) string {
	if l.cat.size() == 0 || (l.created.Load() < int64(l.cfg.Products) && rnd.IntN(2) == 0) {
		l.created.Add(1)
		return KindCreate
	}
	switch n := rnd.IntN(100); {
	case n < 15:
		return KindPrice
	case n < 30:
		return KindStock
	case n < 40:
		return KindReview
	case n < 80:
		return KindView
	default:
		return KindSearch
	}
}

var words = []string{"trail", "runner", "road", "light", "classic", "pro", "winter", "summer", "jacket", "shoe", "boot", "bag"}

func (l *loader) warmUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rnd := rand.New(rand.NewPCG(1, 1))
	for {
		status, body, _, err := l.send(ctx, http.MethodPost, "/v1/products", createBody(rnd), true)
		if err == nil && status == http.StatusCreated {
			l.learn(body, "")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: soak: the API decided no command within 2 minutes (last: %d %v %s)", status, err, body)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func createBody(rnd *rand.Rand) string {
	name := words[rnd.IntN(len(words))] + " " + words[rnd.IntN(len(words))] + " " + strconv.Itoa(rnd.IntN(1000))
	return fmt.Sprintf(`{"name":%q,"description":"soak product","price":{"amount":"%d.%02d","currency":"EUR"},"categoryId":"c%d","categoryName":"Category %d","brandId":"b%d","brandName":"Brand %d","tags":[%q],"stock":%d}`,
		name, 1+rnd.IntN(500), rnd.IntN(100), rnd.IntN(10), rnd.IntN(10), rnd.IntN(20), rnd.IntN(20), words[rnd.IntN(len(words))], rnd.IntN(100))
}

// do sends one request of kind and records its answer.
func (l *loader) do(ctx context.Context, kind string, rnd *rand.Rand) {
	var (
		method, path, body string
		wait               = rnd.IntN(3) == 0 // a third of the updates wait for their decision
		id                 string
		version            int64
	)
	if kind != KindCreate {
		id, version = l.cat.pick(rnd)
	}
	switch kind {
	case KindCreate:
		method, path, body, wait = http.MethodPost, "/v1/products", createBody(rnd), true
	case KindPrice:
		method, path = http.MethodPut, "/v1/products/"+id+"/price"
		body = fmt.Sprintf(`{"price":{"amount":"%d.%02d","currency":"EUR"}}`, 1+rnd.IntN(500), rnd.IntN(100))
	case KindStock:
		method, path = http.MethodPut, "/v1/products/"+id+"/stock"
		body = fmt.Sprintf(`{"quantity":%d}`, rnd.IntN(100))
	case KindReview:
		method, path = http.MethodPost, "/v1/products/"+id+"/reviews"
		body = fmt.Sprintf(`{"rating":%d,"userId":"u%d","comment":"soak review"}`, 1+rnd.IntN(5), rnd.IntN(1000))
	case KindView:
		method, path, wait = http.MethodGet, fmt.Sprintf("/v1/products/%s?minVersion=%d&wait=10", id, version), false
	case KindSearch:
		method, path, wait = http.MethodGet, "/v1/products/search?q="+words[rnd.IntN(len(words))]+"&maxPrice="+strconv.Itoa(50+rnd.IntN(450)), false
	}
	start := time.Now()
	status, answer, header, err := l.send(ctx, method, path, body, wait)
	d := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return // the run ended under it: not the server's doing
		}
		l.rec.record(kind, d, "transport")
		return
	}
	failed := ""
	if status >= 400 {
		failed = strconv.Itoa(status)
	} else if kind == KindView && header.Get("X-Stale") == "true" {
		failed = "stale"
	}
	l.rec.record(kind, d, failed)
	if failed == "" && (status == http.StatusOK || status == http.StatusCreated) && method != http.MethodGet {
		l.learn(answer, id)
	}
}

// learn adds a decided command's product and version to the catalogue.
func (l *loader) learn(body []byte, id string) {
	var a struct {
		ProductID string `json:"productId"`
		Version   int64  `json:"version"`
	}
	if json.Unmarshal(body, &a) != nil {
		return
	}
	if a.ProductID == "" {
		a.ProductID = id
	}
	if a.ProductID != "" && a.Version > 0 {
		l.cat.add(a.ProductID, a.Version)
	}
}

func (l *loader) send(ctx context.Context, method, path, body string, wait bool) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, l.cfg.Base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if wait {
		req.Header.Set("Prefer", "wait=10")
	}
	resp, err := l.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}
