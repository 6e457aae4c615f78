package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
)

// fakeAPI answers the commands, view reads and searches of an API run as
// the real API does when everything is decided and visible at once.
type fakeAPI struct {
	mu       sync.Mutex
	versions map[string]int64
	prices   map[string][]fakePrice // by product, oldest first
	// lag is how long after a price change's answer a search shows it.
	lag        time.Duration
	priceWaits atomic.Int64 // price changes with Prefer: wait
	next       atomic.Int64
	commands   atomic.Int64
	waits      atomic.Int64
	reads      atomic.Int64 // view reads and searches
	searches   atomic.Int64
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // v1 products [id [price|stock|reviews]]
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodGet {
		f.reads.Add(1)
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[2] == "search":
		f.searches.Add(1)
		f.search(w, r)
	case r.Method == http.MethodGet && len(parts) == 3:
		fmt.Fprintf(w, `{"id":%q,"version":%d}`, parts[2], f.versions[parts[2]])
	case r.Method == http.MethodPost && len(parts) == 2:
		f.command(w, r, fmt.Sprintf("p%d", f.next.Add(1)), http.StatusCreated)
	case len(parts) == 4:
		f.command(w, r, parts[2], http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

type fakePrice struct {
	cents   int64
	visible time.Time
}

// search answers with the products whose visible price is minPrice or
// above, dearest first, on one page.
func (f *fakeAPI) search(w http.ResponseWriter, r *http.Request) {
	low, ok := parseCents(r.URL.Query().Get("minPrice"))
	if !ok || r.URL.Query().Get("sort") != "price_desc" {
		http.Error(w, "want minPrice and sort=price_desc", http.StatusBadRequest)
		return
	}
	type hit struct {
		ID    string            `json:"id"`
		Price map[string]string `json:"price"`
		cents int64
	}
	var hits []hit
	for id, ps := range f.prices {
		c := int64(-1)
		for _, p := range ps {
			if !p.visible.After(time.Now()) {
				c = p.cents
			}
		}
		if c >= low {
			hits = append(hits, hit{id, map[string]string{"amount": fmt.Sprintf("%d.%02d", c/100, c%100), "currency": "EUR"}, c})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(b.cents, a.cents) })
	json.NewEncoder(w).Encode(map[string]any{"products": hits, "total": len(hits)})
}

func (f *fakeAPI) command(w http.ResponseWriter, r *http.Request, id string, status int) {
	f.commands.Add(1)
	var body struct {
		Price struct{ Amount string } `json:"price"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	if r.Header.Get("Prefer") == "" {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"commandId":"c","productId":%q,"status":"pending"}`, id)
		return
	}
	f.waits.Add(1)
	if f.versions == nil {
		f.versions = map[string]int64{}
	}
	f.versions[id]++
	if c, ok := parseCents(body.Price.Amount); ok {
		if f.prices == nil {
			f.prices = map[string][]fakePrice{}
		}
		f.prices[id] = append(f.prices[id], fakePrice{c, time.Now().Add(f.lag)})
		if strings.HasSuffix(r.URL.Path, "/price") {
			f.priceWaits.Add(1)
		}
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"commandId":"c","productId":%q,"status":"accepted","version":%d}`, id, f.versions[id])
}

// An API run sends rate × duration commands per step (vegeta may leave the
// last few unsent at a slow moment: see sentAll), mixed, with Prefer: wait
// in the first mode only, and samples freshness from the accepted answers.
func TestAPIRun(t *testing.T) {
	f := &fakeAPI{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out strings.Builder
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{40}, Duration: time.Second, Products: 5, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 2 || !rep.Steps[0].Wait || rep.Steps[1].Wait {
		t.Fatalf("steps %+v, want one with Prefer: wait, then one without", rep.Steps)
	}
	for _, s := range rep.Steps {
		if !sentAll(s.Latency.Requests, 40) || s.Latency.ErrorCount() != 0 {
			t.Errorf("step wait=%v: %d commands, errors %v; want 35-40 (40/s for 1 s), none", s.Wait, s.Latency.Requests, s.Latency.Errors)
		}
	}
	w := rep.Steps[0]
	if w.View.Samples+w.View.Skipped == 0 || w.View.Missed != 0 || w.Search.Samples == 0 || w.Search.Missed != 0 {
		t.Errorf("freshness with Prefer: wait: view %+v, search %+v; want samples and none missed", w.View, w.Search)
	}
	if got, want := w.Search.Samples+w.Search.Overlapped, int(f.priceWaits.Load()); got != want || w.Search.Skipped != 0 {
		t.Errorf("search freshness %+v: %d price changes sampled or overlapped, want all %d with Prefer: wait, none skipped", w.Search, got, want)
	}
	if f.reads.Load() == 0 {
		t.Error("no view read and no search: freshness was not read")
	}
	if nw := rep.Steps[1]; nw.View.Samples != 0 || nw.Search.Samples != 0 {
		t.Errorf("freshness without Prefer: wait: view %+v, search %+v; want none (no version in a 202)", nw.View, nw.Search)
	}
	// 5 products and a drain create per step, with Prefer: wait; 40 with
	// it, 40 without.
	if got := f.commands.Load(); got != 5+2+80 {
		t.Errorf("the API got %d commands, want %d", got, 5+2+80)
	}
	if got := f.waits.Load(); got != 5+2+40 {
		t.Errorf("%d commands with Prefer: wait, want %d", got, 5+2+40)
	}
	for _, s := range rep.Steps {
		if tl := s.Tail; tl.Slow == 0 || tl.Hit == 0 || tl.Windows < 2 || tl.Hit > tl.Windows || tl.Top3 > tl.Slow {
			t.Errorf("step wait=%v: tail %+v, want the commands at or above the p99 counted in their windows", s.Wait, tl)
		}
	}
	for _, want := range []string{"5 products, commands pick them zipf", "rate/s", "40", "the tail in time"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
	js, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(js), `"rate":40`) {
		t.Errorf("JSON %s, %v", js, err)
	}
}

// With NoFreshness an API run sends the same commands and reads nothing:
// no view read, no search, no freshness in the report or the table.
func TestAPIRunNoFreshness(t *testing.T) {
	f := &fakeAPI{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out strings.Builder
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{40}, Duration: time.Second, Products: 5, Modes: []bool{true}, NoFreshness: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 1 || !sentAll(rep.Steps[0].Latency.Requests, 40) {
		t.Fatalf("steps %+v, want one of 35-40 commands (40/s for 1 s)", rep.Steps)
	}
	if n := f.reads.Load(); n != 0 {
		t.Errorf("%d reads, want none", n)
	}
	if s := rep.Steps[0]; s.measuredFreshness() {
		t.Errorf("freshness measured: view %+v, search %+v", s.View, s.Search)
	}
	if !strings.Contains(out.String(), "freshness not measured") || strings.Contains(out.String(), "view fresh") {
		t.Errorf("the output does not say that freshness was not measured:\n%s", out.String())
	}
}

// The raw side of an API run on the real Kafka, beside a stack that
// answers at once: every record sent comes back as a result, the
// percentiles are in order, and its topics are gone at the end.
func TestAPIRawEOS(t *testing.T) {
	brokers := testenv.Kafka(t)
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	var out strings.Builder
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{50}, Duration: time.Second, Modes: []bool{true}, Products: 5,
		RawKafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Out: &out})
	if err != nil {
		t.Fatalf("API: %v\n%s", err, out.String())
	}
	if len(rep.Steps) != 1 || rep.Steps[0].Raw == nil {
		t.Fatalf("steps %+v, want one with a raw EOS round trip", rep.Steps)
	}
	raw := rep.Steps[0].Raw
	l := raw.Latency
	if raw.Sent != 50 || l.Requests != raw.Sent || l.ErrorCount() != 0 {
		t.Errorf("raw: sent %d, %d results seen, errors %v; want 50, all, none", raw.Sent, l.Requests, l.Errors)
	}
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("raw percentiles p50 %v p90 %v p99 %v max %v: want 0 < p50 <= p90 <= p99 <= max", l.P50, l.P90, l.P99, l.Max)
	}
	if raw.Achieved <= 0 || raw.Throughput <= 0 {
		t.Errorf("raw: achieved %.1f/s, results %.1f/s; want both positive", raw.Achieved, raw.Throughput)
	}
	for _, want := range []string{"raw EOS", "stack", "concurrency:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
	js, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(js), `"raw":{"sent":50`) {
		t.Errorf("JSON %s, %v", js, err)
	}
	if !strings.HasPrefix(rep.RawTopics, "bench-") {
		t.Fatalf("raw topics %q, want bench-<random>.raw", rep.RawTopics)
	}
	adm := testenv.Admin(t, brokers)
	testenv.Eventually(t, 30*time.Second, func() error {
		listed, err := adm.ListTopics(context.Background())
		if err != nil {
			return err
		}
		for _, topic := range listed.Names() {
			if strings.HasPrefix(topic, rep.RawTopics) {
				return testenv.Errorf("topic %s is left after the run", topic)
			}
		}
		return nil
	})
}

func TestAPIConfigValidate(t *testing.T) {
	if err := (APIConfig{}).Validate(); err == nil {
		t.Error("an APIConfig without Base is valid")
	}
	if err := (APIConfig{Base: "http://x", Rates: []int{0}, Distribution: "normal"}).Validate(); err == nil || !strings.Contains(err.Error(), "rate 0") || !strings.Contains(err.Error(), "normal") {
		t.Errorf("Validate() = %v; want the rate and the distribution named", err)
	}
	for _, c := range []APIConfig{{Base: "http://x", Warm: time.Minute, Rates: []int{}}, {Base: "http://x", Warm: time.Minute, Modes: []bool{}}} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "Warm needs a rate and a mode") {
			t.Errorf("Validate(Warm with rates %v, modes %v) = %v; want Warm refused", c.Rates, c.Modes, err)
		}
	}
	if err := (APIConfig{Base: "http://x", Warm: time.Minute}).Validate(); err != nil {
		t.Errorf("Validate(Warm with the default rates and modes) = %v", err)
	}
}

// A price change overlapped by another of the same product, from when its
// price is picked until its answer, is not sampled for search freshness:
// the decider may order the two either way.
func TestAPIPriceFlightsOverlap(t *testing.T) {
	l := newAPILoad(APIConfig{}.withDefaults())
	start := func(product string) int64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.startPrice(product)
	}
	a := start("p1")
	if l.endPrice(a) {
		t.Fatal("a price change alone in flight is overlapped")
	}
	b := start("p1")
	other := start("p2")
	c := start("p1") // while b is in flight
	if !l.endPrice(b) {
		t.Error("b: c was picked while b was in flight; want overlapped")
	}
	d := start("p1") // after b's answer, while c is in flight
	if !l.endPrice(c) || !l.endPrice(d) {
		t.Error("c and d were in flight together; want both overlapped")
	}
	if l.endPrice(other) {
		t.Error("a change of another product is overlapped")
	}
	if e := start("p1"); l.endPrice(e) {
		t.Error("a price change after the others' answers is overlapped")
	}
	if !l.endPrice(12345) {
		t.Error("an unknown flight (picked before the step began) is sampled")
	}
	if len(l.flights) != 0 || len(l.inFlight) != 0 {
		t.Errorf("flights left: %v, %v", l.flights, l.inFlight)
	}
}

// The search poller takes a price change as visible only once a search
// shows it: with the index showing each change 300 ms after its answer,
// no sample is much shorter.
func TestAPISearchFreshnessWaitsForVisibility(t *testing.T) {
	f := &fakeAPI{lag: 300 * time.Millisecond}
	srv := httptest.NewServer(f)
	defer srv.Close()
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{40}, Duration: time.Second, Products: 5, Modes: []bool{true}})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Steps[0].Search
	if s.Samples == 0 || s.Missed != 0 || s.P50 < 250*time.Millisecond {
		t.Fatalf("search freshness %+v: want samples, none missed, p50 at least 250 ms (the index shows a change 300 ms after its answer)", s)
	}
}

// The search poller looks once per APIConfig.SearchPoll, not more often.
func TestAPISearchPoll(t *testing.T) {
	f := &fakeAPI{lag: 100 * time.Millisecond}
	srv := httptest.NewServer(f)
	defer srv.Close()
	const every = 250 * time.Millisecond
	start := time.Now()
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{40}, Duration: time.Second, Products: 5, Modes: []bool{true}, SearchPoll: every})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Steps[0].Search; s.Samples == 0 {
		t.Fatalf("search freshness %+v: no samples", s)
	}
	// Every search returns one page here: one search per look.
	if n, most := f.searches.Load(), int64(elapsed/every)+1; n > most {
		t.Errorf("%d searches in %v polling every %v, want at most %d", n, elapsed, every, most)
	}
}

// jitServer is a server whose CPU grows with the wall clock and whose one
// compiler thread's time is jit(call), call counting its readings from 0:
// two per round or step, one at each end.
func jitServer(name string, jit func(call int) time.Duration) Server {
	start := time.Now()
	var calls atomic.Int64
	return Server{Name: name,
		CPU: func() (time.Duration, error) { return time.Since(start) + time.Hour, nil },
		JIT: func() (JITTimes, error) { return JITTimes{"1/2": jit(int(calls.Add(1) - 1))}, nil }}
}

// A warm-up sends the first step's load in rounds until WarmCalm rounds in
// a row in which no server's JIT took WarmJIT of a core, or until Warm has
// passed; the rounds are kept apart from the steps, and a step on a
// server still compiling is named under "warming up".
func TestAPIWarmUp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		jit     func(call int) time.Duration // of the server "es"
		warm    time.Duration
		rounds  func(n int) bool
		warming []int // the rounds that compiled, from 1; nil: all
		says    []string
	}{
		{name: "until warm",
			// Round 1 compiles for a second, rounds 2 and 3 not at all.
			jit:     func(call int) time.Duration { return time.Duration(min(call, 1)) * time.Second },
			warm:    time.Minute,
			rounds:  func(n int) bool { return n == 3 },
			warming: []int{1},
			says:    []string{"warm-up round 3", "warm: no server's JIT took 2% of a core in the last 2 rounds"}},
		{name: "a round compiling again starts the count over",
			// Round 1 calm, round 2 compiles, rounds 3 and 4 calm.
			jit:     func(call int) time.Duration { return time.Duration(min(max(call-2, 0), 1)) * time.Second },
			warm:    time.Minute,
			rounds:  func(n int) bool { return n == 4 },
			warming: []int{2},
			says:    []string{"warm-up round 4", "in the last 2 rounds"}},
		{name: "still compiling when Warm has passed",
			// Every reading a second more: warming in every round and step.
			jit:    func(call int) time.Duration { return time.Duration(call) * time.Second },
			warm:   2500 * time.Millisecond,
			rounds: func(n int) bool { return n >= 2 },
			says:   []string{"passed with a server still compiling in the last round", "warming up: these servers", "  40/s wait: es "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var out strings.Builder
			cfg := APIConfig{Base: srv.URL, Rates: []int{40}, Duration: time.Second, Modes: []bool{true}, Products: 5, Out: &out,
				Warm: tc.warm, warmRound: 500 * time.Millisecond, Servers: []Server{jitServer("es", tc.jit)}}
			rep, err := API(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.rounds(len(rep.Warmup)) {
				t.Fatalf("%d warm-up rounds:\n%s", len(rep.Warmup), out.String())
			}
			var warmed int64
			for i, r := range rep.Warmup {
				// The last round sends what is left of Warm; a slow moment
				// at a round's end may leave its last commands unsent (on
				// two cores under a full make test, round 3 once sent 17).
				if n := r.Latency.Requests; (n < 15 || n > 20) && (i < len(rep.Warmup)-1 || n < 1 || n > 20) || !r.Wait || r.Rate != 40 {
					t.Errorf("round %d: %d commands at %d/s wait=%v; want 15-20 (40/s for 0.5 s; the last up to 20) with Prefer: wait", i+1, n, r.Rate, r.Wait)
				}
				warmed += int64(r.Latency.Requests)
			}
			for i, r := range rep.Warmup {
				w := r.Warming()
				switch compiled := tc.warming == nil || slices.Contains(tc.warming, i+1); {
				case compiled && (len(w) != 1 || w[0].Name != "es"):
					t.Errorf("round %d: warming %+v, want es", i+1, w)
				case !compiled && len(w) > 0:
					t.Errorf("round %d: warming %+v, want none", i+1, w)
				}
			}
			if len(rep.Steps) != 1 || !sentAll(rep.Steps[0].Latency.Requests, 40) {
				t.Fatalf("steps %+v, want one of 35-40 commands (40/s for 1 s) after the warm-up", rep.Steps)
			}
			// The products, a drain create per round and per step, the
			// rounds' commands and the step's.
			if got, want := f.commands.Load(), 5+int64(len(rep.Warmup))+1+warmed+int64(rep.Steps[0].Latency.Requests); got != want {
				t.Errorf("the API got %d commands, want %d", got, want)
			}
			table := fmt.Sprintf("warm-up before the steps (not in them): %d rounds at 40/s wait, %d commands; p99 ", len(rep.Warmup), warmed)
			for _, want := range append(tc.says, "warming up at 40/s wait, rounds of 500ms, for at most "+tc.warm.String()+" until 2 rounds in a row in which no server's JIT compiler takes 2% of a core (es)", table, "; JIT in the last: es ") {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// A round in which a server's JIT could not be read is not calm: with one
// JVM never compiling and another whose every other reading fails, the
// warm-up runs for all of Warm and says why it did not end sooner.
func TestAPIWarmUpUnread(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	flaky := jitServer("es", func(int) time.Duration { return 0 })
	var calls atomic.Int64
	read := flaky.JIT
	flaky.JIT = func() (JITTimes, error) {
		if calls.Add(1)%2 == 0 {
			return nil, errors.New("no such process")
		}
		return read()
	}
	var out strings.Builder
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{40}, Duration: 200 * time.Millisecond, Modes: []bool{true}, Products: 5, Out: &out,
		Warm: 1500 * time.Millisecond, warmRound: 500 * time.Millisecond, Servers: []Server{jitServer("kafka", func(int) time.Duration { return 0 }), flaky}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warmup) < 2 || strings.Contains(out.String(), "warm: no server") || !strings.Contains(out.String(), "without reading every server's JIT in the last round") {
		t.Errorf("%d rounds; want it to run for all of Warm and say a JIT was not read:\n%s", len(rep.Warmup), out.String())
	}
}

// Without a server whose JIT is read, a warm-up runs for all of Warm.
func TestAPIWarmUpBlind(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	var out strings.Builder
	start := time.Now()
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{40}, Duration: 200 * time.Millisecond, Modes: []bool{true}, Products: 5, Out: &out,
		Warm: 1500 * time.Millisecond, warmRound: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warmup) < 2 || time.Since(start) < 1350*time.Millisecond {
		t.Errorf("%d rounds in %v; want rounds for all of 1.5 s:\n%s", len(rep.Warmup), time.Since(start), out.String())
	}
	if !strings.Contains(out.String(), "(no server's JIT is read here, so all of it)") || !strings.Contains(out.String(), "bench api: --warm 1.5s passed\n") {
		t.Errorf("the output does not say the warm-up runs blind:\n%s", out.String())
	}
}

// The CPU block gives a Java server's JIT share, and names the steps on a
// server still compiling.
func TestWriteCPUJIT(t *testing.T) {
	var b strings.Builder
	writeCPU(&b, []APIStep{
		{Rate: 1000, Wait: true, CPU: CPU{Wall: 10 * time.Second, Process: 7 * time.Second},
			Servers: []ServerSpent{{Name: "kafka", CPU: 6 * time.Second, JIT: 300 * time.Millisecond}, {Name: "elasticsearch", CPU: 3 * time.Second, JIT: 1200 * time.Millisecond}, {Name: "redis", CPU: 600 * time.Millisecond}}},
		{Rate: 2000, Wait: true, CPU: CPU{Wall: 10 * time.Second, Process: 8 * time.Second},
			Servers: []ServerSpent{{Name: "kafka", CPU: 7 * time.Second, JIT: 100 * time.Millisecond}, {Name: "elasticsearch", CPU: 3 * time.Second, JIT: 199 * time.Millisecond}}},
	})
	for _, want := range []string{
		"  1000/s wait: this process (load and readers) 70%, kafka 60% (JIT 3.0%), elasticsearch 30% (JIT 12.0%), redis 6%\n",
		"  2000/s wait: this process (load and readers) 80%, kafka 70% (JIT 1.0%), elasticsearch 30% (JIT 1.9%)\n",
		"warming up: these servers were still compiling",
		"  1000/s wait: kafka 3.0%, elasticsearch 12.0%\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("writeCPU lacks %q:\n%s", want, b.String())
		}
	}
	// 1.99% (printed 1.9%, as it is under) is under WarmJIT: the 2000/s
	// step is not warming.
	if _, warming, _ := strings.Cut(b.String(), "warming up"); strings.Contains(warming, "2000/s") {
		t.Errorf("the 2000/s step (JIT under 2%%) is named warming:\n%s", b.String())
	}
}

// A Warm shorter than a tenth of a round still sends one round, of Warm.
func TestAPIWarmUpShort(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	var out strings.Builder
	rep, err := API(context.Background(), APIConfig{Base: srv.URL, Rates: []int{40}, Duration: 200 * time.Millisecond, Modes: []bool{true}, Products: 5, Out: &out,
		Warm: 250 * time.Millisecond, warmRound: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warmup) != 1 || rep.Warmup[0].Latency.Requests < 9 || rep.Warmup[0].Latency.Requests > 10 {
		t.Fatalf("%d warm-up rounds, want one of 10 commands (40/s for 250 ms):\n%s", len(rep.Warmup), out.String())
	}
}

// sentAll reports whether a step that was to send want commands sent
// them, but for the last few: vegeta ends an attack at its duration, and
// at a slow moment on two cores under a full make test it had not yet
// sent every command due (ci140: 38 of 40).
func sentAll(got, want int) bool { return got <= want && got >= want-want/8 }
