package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		hundred = append(hundred, ms(i))
	}
	for _, tc := range []struct {
		name                string
		samples             []time.Duration
		p50, p90, p99, maxD time.Duration
	}{
		{"none", nil, 0, 0, 0, 0},
		{"one", []time.Duration{ms(7)}, ms(7), ms(7), ms(7), ms(7)},
		{"two", []time.Duration{ms(9), ms(1)}, ms(1), ms(9), ms(9), ms(9)},
		{"hundred", hundred, ms(50), ms(90), ms(99), ms(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize("view", tc.samples, map[string]int{"503": 2})
			if s.Requests != len(tc.samples) || s.P50 != tc.p50 || s.P90 != tc.p90 || s.P99 != tc.p99 || s.Max != tc.maxD {
				t.Errorf("Summarize = %+v, want %d requests, p50 %v p90 %v p99 %v max %v", s, len(tc.samples), tc.p50, tc.p90, tc.p99, tc.maxD)
			}
			if s.ErrorCount() != 2 {
				t.Errorf("ErrorCount = %d, want 2", s.ErrorCount())
			}
		})
	}
	if samples := []time.Duration{ms(3), ms(1), ms(2)}; Summarize("x", samples, nil).Max != ms(3) || samples[0] != ms(3) {
		t.Errorf("Summarize changed its input or missed the max: %v", samples)
	}
}

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   int64
	}{
		{"Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t   2048 kB\nThreads: 4\n", 2048 << 10},
		{"Name:\tx\n", 0},
		{"VmRSS:\n", 0},
		{"VmRSS: lots kB\n", 0},
	} {
		if got := parseVmRSS([]byte(tc.status)); got != tc.want {
			t.Errorf("parseVmRSS(%q) = %d, want %d", tc.status, got, tc.want)
		}
	}
	if RSS() <= 0 {
		t.Logf("RSS unknown here (no /proc): %d", RSS())
	}
}

func soakReportFixture() SoakReport {
	return SoakReport{
		Duration: 60 * time.Second, Rate: 200, Products: 1000, Distribution: "zipf", Dropped: 3,
		Kinds: []KindSummary{
			{Kind: KindCreate, Requests: 1000, Errors: map[string]int{}, P50: 8 * time.Millisecond, P90: 20 * time.Millisecond, P99: 150 * time.Millisecond, Max: 200 * time.Millisecond},
			{Kind: KindView, Requests: 4000, Errors: map[string]int{"stale": 1, "503": 2}, P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 9 * time.Millisecond, Max: 30 * time.Millisecond},
		},
		Lag: []LagSample{
			{At: 10 * time.Second, Lag: map[string]int64{"product-view": 5, "product-search": 40}},
			{At: 20 * time.Second, Lag: map[string]int64{"product-view": 0, "product-search": 12}},
		},
		Process: []ProcessSample{
			{Label: "start", RSS: 30 << 20, Goroutines: 20},
			{Label: "middle", At: 30 * time.Second, RSS: 100 << 20, Goroutines: 90, HeapLive: 12 << 20},
			{Label: "end", At: 60 * time.Second, RSS: 110 << 20, Goroutines: 91},
		},
	}
}

func TestSoakReportTable(t *testing.T) {
	r := soakReportFixture()
	if r.Requests() != 5000 || r.ServerErrors() != 2 {
		t.Fatalf("Requests %d, ServerErrors %d; want 5000, 2", r.Requests(), r.ServerErrors())
	}
	if g := r.RSSGrowth(); g < 0.099 || g > 0.101 {
		t.Errorf("RSSGrowth = %v, want 0.10", g)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"1m0s at 200 requests/s on 1,000 products picked zipf; 5,000 requests, 3 dropped",
		"kind    requests         errors  p50 ms  p90 ms  p99 ms  max ms",
		"create     1,000              0     8.0    20.0   150.0   200.0",
		"view       4,000  503:2 stale:1     1.0     2.0     9.0    30.0",
		"product-search   12   40    12  40 12",
		"product-view      0    5     0  5 0",
		"middle   30s  100.0 MiB          90   12.0 MiB",
		"verdict: 0 5xx: NO (2); RSS middle to end +10.0%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	r.Kinds[1].Errors = map[string]int{"stale": 1}
	b.Reset()
	_ = r.WriteTable(&b)
	if !strings.Contains(b.String(), "verdict: 0 5xx: yes;") {
		t.Errorf("no 5xx, but the verdict says otherwise:\n%s", b.String())
	}

	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Requests, ServerErrors int
		RSSGrowthMiddleToEnd   float64
		Kinds                  []KindSummary
	}
	if err := json.Unmarshal(j, &back); err != nil || back.Requests != 5000 || back.ServerErrors != 0 || len(back.Kinds) != 2 {
		t.Errorf("JSON %s: %+v %v", j, back, err)
	}
}

func TestSoakValidate(t *testing.T) {
	err := SoakConfig{Rate: -1, Duration: -time.Second, Products: -2, Distribution: "pareto"}.Validate()
	for _, want := range []string{"Base is required", "Duration -1s", "Rate -1", "Products -2", "pareto"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to say %q", err, want)
		}
	}
}

// The load picks among the products made so far: by rank when zipf (the
// first made the hottest), alike when uniform, and products made later
// get picked too.
func TestCataloguePicks(t *testing.T) {
	for _, c := range []struct {
		zipf                   bool
		firstAtLeast, firstMax float64 // the first product's share of the picks
		topTenMin, topTenMax   float64 // the first ten's
	}{
		{zipf: true, firstAtLeast: 0.15, firstMax: 0.35, topTenMin: 0.5, topTenMax: 0.8},
		{zipf: false, firstAtLeast: 0.005, firstMax: 0.02, topTenMin: 0.07, topTenMax: 0.13},
	} {
		cat := &catalogue{versions: map[string]int64{}, zipf: c.zipf}
		for i := range 100 {
			cat.add(fmt.Sprint(i), int64(i))
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		const picks = 20000
		counts := map[string]int{}
		for range picks {
			id, version := cat.pick(rnd)
			if fmt.Sprint(version) != id {
				t.Fatalf("zipf %v: picked %s with version %d", c.zipf, id, version)
			}
			counts[id]++
		}
		top := 0
		for i := range 10 {
			top += counts[fmt.Sprint(i)]
		}
		first, topTen := float64(counts["0"])/picks, float64(top)/picks
		if first < c.firstAtLeast || first > c.firstMax || topTen < c.topTenMin || topTen > c.topTenMax {
			t.Errorf("zipf %v: the first product got %.3f of the picks (want %.3f..%.3f), the first ten %.3f (want %.2f..%.2f)",
				c.zipf, first, c.firstAtLeast, c.firstMax, topTen, c.topTenMin, c.topTenMax)
		}
		for i := 100; i < 200; i++ {
			cat.add(fmt.Sprint(i), int64(i))
		}
		later := 0
		for range picks {
			if id, _ := cat.pick(rnd); len(id) == 3 {
				later++
			}
		}
		if later == 0 {
			t.Errorf("zipf %v: none of %d picks took a product made later", c.zipf, picks)
		}
	}
}

// Soak against a fake API: every kind is sent and recorded, and the
// versions commands return feed the view reads' minVersion.
func TestSoakFakeAPI(t *testing.T) {
	var n atomic.Int64
	var sawMinVersion atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/products":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"productId":"00000000-0000-4000-8000-%012d","version":1}`, n.Add(1))
		case r.Method == http.MethodGet && r.URL.Path != "/v1/products/search":
			if r.URL.Query().Get("minVersion") != "" {
				sawMinVersion.Store(true)
			}
			fmt.Fprint(w, `{"version":1}`)
		case r.Method == http.MethodGet:
			fmt.Fprint(w, `{"products":[]}`)
		case r.Header.Get("Prefer") != "":
			fmt.Fprint(w, `{"version":2}`)
		default:
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{}`)
		}
	}))
	defer srv.Close()
	var out strings.Builder
	rep, err := Soak(context.Background(), SoakConfig{
		Base: srv.URL, Duration: 2 * time.Second, Rate: 200, Products: 5, Out: &out, ProgressEvery: time.Second,
		Lag: func(context.Context) (map[string]int64, error) { return map[string]int64{"product-view": 0}, nil },
	})
	if err != nil {
		t.Fatalf("Soak: %v\n%s", err, out.String())
	}
	if rep.Requests() == 0 || rep.ServerErrors() != 0 {
		t.Fatalf("%d requests, %d 5xx; want some and none\n%s", rep.Requests(), rep.ServerErrors(), out.String())
	}
	if len(rep.Process) != 3 || rep.Process[2].Label != "end" || len(rep.Lag) == 0 {
		t.Errorf("process samples %+v, lag samples %d; want start, middle, end and some lag", rep.Process, len(rep.Lag))
	}
	if !strings.Contains(out.String(), "verdict: 0 5xx: yes") {
		t.Errorf("no verdict:\n%s", out.String())
	}
	if !sawMinVersion.Load() {
		t.Errorf("no view read carried minVersion")
	}
}
