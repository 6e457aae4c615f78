package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func figure(label, unit string, n int, d time.Duration) Figure {
	return Figure{Label: label, Unit: unit, Count: n, Elapsed: d}
}

func TestReportRatio(t *testing.T) {
	for _, tc := range []struct {
		name               string
		consume, raw, proj Figure
		wantLimit          string
		wantRatio          float64
		wantMeets          bool
	}{
		{"redis is the limit, met",
			figure("consume", "records", 1000, time.Second), figure("redis", "writes", 1000, 2*time.Second),
			figure("projection", "events", 1000, 3*time.Second), "redis", 2.0 / 3, true},
		{"consume is the limit, not met",
			figure("consume", "records", 1000, time.Second), figure("redis", "writes", 1000, time.Second/2),
			figure("projection", "events", 1000, 4*time.Second), "consume", 0.25, false},
		{"exactly the target",
			figure("consume", "records", 100, time.Second), figure("redis", "writes", 100, time.Second),
			figure("projection", "events", 100, 2*time.Second), "consume", 0.5, true},
		{"nothing measured", Figure{}, Figure{}, Figure{}, "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Consume: tc.consume, Measured: Measured{Raw: tc.raw, Projection: tc.proj}}
			if got := r.Limit().Label; got != tc.wantLimit {
				t.Errorf("Limit = %q, want %q", got, tc.wantLimit)
			}
			if got := r.Ratio(); got < tc.wantRatio-1e-9 || got > tc.wantRatio+1e-9 {
				t.Errorf("Ratio = %v, want %v", got, tc.wantRatio)
			}
			if got := r.MeetsTarget(); got != tc.wantMeets {
				t.Errorf("MeetsTarget = %v, want %v", got, tc.wantMeets)
			}
		})
	}
}

func TestReportOutputs(t *testing.T) {
	r := Report{
		Sink: "redis", Topic: "bench-x.events", Events: 1_000_000, Products: 100_000, Batch: 2000, Batches: 502,
		Consume: figure("raw consume (franz-go)", "records", 1_000_000, 2*time.Second),
		Measured: Measured{
			Raw:        figure("raw redis (pipelined HSET)", "writes", 1_000_000, 4*time.Second),
			Projection: figure("projection (product-view)", "events", 1_000_000, 10*time.Second),
			InApply:    6 * time.Second, Stored: 100_000, Applies: 640,
		},
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1,000,000 events of 100,000 products, uniform over products, batch 2000",
		"500,000 records/s", "250,000 writes/s", "100,000 events/s",
		"projection / smaller raw (raw redis (pipelined HSET)): 0.40; target 0.50 NOT met",
		"with an Apply in flight (the sink): 6.00 s (60%)",
		"the projection's runtime made 640 Apply calls, 1,562 events each on average; the raw writes 502 batches (of at most 2,000 events per lane)",
		"stored 100,000 of 100,000 products",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Raw         struct{ PerSecond float64 }
		Ratio       float64
		MeetsTarget bool
		Limit       string
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if got.Raw.PerSecond != 250_000 || got.Ratio != 0.4 || got.MeetsTarget || got.Limit != r.Raw.Label {
		t.Errorf("JSON = %s", js)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value", Config{}, true},
		{"small", Config{Events: 20000, Products: 2000}, true},
		{"products default to a tenth", Config{Events: 5}, true},
		{"negative", Config{Events: -1, Products: -1, Batch: -1}, false},
		{"more products than events", Config{Events: 10, Products: 11}, false},
		{"more products than the default events", Config{Products: 2_000_000}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
	err := Config{Events: -1, Products: -1, Batch: -1}.Validate()
	if err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 3 {
		t.Fatalf("Validate() = %v; want the three problems reported", err)
	}
	if d := (Config{Events: 5}).withDefaults(); d.Products != 1 {
		t.Errorf("5 events default to %d products, want 1", d.Products)
	}
}

// The raw writes run before and after the projection count with their
// mean time; a second run of other writes (another count) is not mixed in.
func TestReportRawWritesBeforeAndAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		raw, after Figure
		wantRatio  float64
		wantMean   bool
	}{
		{"no run after", figure("redis", "events", 1000, time.Second), Figure{}, 0.5, false},
		{"slower after", figure("redis", "events", 1000, time.Second), figure("redis", "events", 1000, 3*time.Second), 1.0, true},
		{"faster after", figure("redis", "events", 1000, 3*time.Second), figure("redis", "events", 1000, time.Second), 1.0, true},
		{"other count after", figure("redis", "events", 1000, time.Second), figure("redis", "events", 10, 3*time.Second), 0.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Consume: figure("consume", "records", 1000, time.Second/10), Measured: Measured{Raw: tc.raw, RawAfter: tc.after,
				Projection: figure("projection", "events", 1000, 2*time.Second)}}
			if got := r.Ratio(); got < tc.wantRatio-1e-9 || got > tc.wantRatio+1e-9 {
				t.Errorf("Ratio = %v, want %v", got, tc.wantRatio)
			}
			if got := strings.Contains(r.Limit().Label, "mean of the runs before and after"); got != tc.wantMean {
				t.Errorf("Limit label %q: mean %v, want %v", r.Limit().Label, got, tc.wantMean)
			}
			var b strings.Builder
			if err := r.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(b.String(), "[after the projection]"); got != (tc.after.Count > 0) {
				t.Errorf("table shows the run after: %v, want %v:\n%s", got, tc.after.Count > 0, b.String())
			}
		})
	}
}

func TestReportBound(t *testing.T) {
	cpu := func(wall, machine time.Duration) CPU {
		return CPU{Wall: wall, Machine: machine, Cores: 2}
	}
	r := Report{
		Sink:    "redis",
		Consume: figure("raw consume (franz-go)", "records", 1_000_000, 2*time.Second),
		// Consume: 2 µs/record. Writes: (3+3 s)/2M = 3 µs/event with the
		// cores (3+3 s)/((3+5 s) × 2) = 37.5% busy. Projection: 12 µs/event.
		ConsumeCPU: cpu(2*time.Second, 2*time.Second),
		Measured: Measured{
			Raw:           figure("raw redis", "events", 1_000_000, 3*time.Second),
			RawAfter:      figure("raw redis", "events", 1_000_000, 5*time.Second),
			Projection:    figure("projection (product-view)", "events", 1_000_000, 8*time.Second),
			RawCPU:        cpu(3*time.Second, 3*time.Second),
			RawAfterCPU:   cpu(5*time.Second, 3*time.Second),
			ProjectionCPU: cpu(8*time.Second, 12*time.Second),
		},
	}
	b, ok := r.Bound()
	if !ok {
		t.Fatal("Bound: not computed")
	}
	want := Bound{Cores: 2, Consume: 2, Writes: 3, Projection: 12, WritesBusy: 0.375, ProjectionBusy: 0.75,
		Ceiling: 3 / (0.375 * 5)} // 1.6: the raw writes left most cores idle
	near := func(a, b float64) bool { return a > b-1e-9 && a < b+1e-9 }
	if b.Cores != want.Cores || !near(b.Consume, want.Consume) || !near(b.Writes, want.Writes) || !near(b.Projection, want.Projection) ||
		!near(b.WritesBusy, want.WritesBusy) || !near(b.ProjectionBusy, want.ProjectionBusy) || !near(b.Ceiling, want.Ceiling) {
		t.Errorf("Bound = %+v, want %+v", b, want)
	}

	var out strings.Builder
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"CPU during raw consume: this process 0% of a core, 0.0 µs CPU/record; machine 50% of 2 cores busy, 2.0 µs CPU/record",
		"CPU during projection: this process 0% of a core, 0.0 µs CPU/event; machine 75% of 2 cores busy, 12.0 µs CPU/event",
		"a projection that only consumed and made those writes would need 5.0 µs/event, so with every core busy it reaches at most 1.60 of the raw writes' rate",
		"This projection used 12.0 µs/event (7.0 more) with 75% busy",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, out.String())
		}
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Bound *Bound `json:"cpuBound"`
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if got.Bound == nil || !near(got.Bound.Ceiling, want.Ceiling) {
		t.Errorf("JSON cpuBound = %+v, want ceiling %v", got.Bound, want.Ceiling)
	}

	// Without the machine's CPU (not Linux) there is no bound, in the
	// table or the JSON.
	r.ConsumeCPU.Machine = 0
	if _, ok := r.Bound(); ok {
		t.Error("Bound computed without the raw consume's CPU")
	}
	out.Reset()
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "CPU bound") {
		t.Errorf("table prints a bound it did not measure:\n%s", out.String())
	}
	if js, _ := json.Marshal(r); strings.Contains(string(js), "cpuBound") {
		t.Errorf("JSON has a cpuBound it did not measure: %s", js)
	}
}

func TestRatioText(t *testing.T) {
	for _, tc := range []struct {
		ratio, target float64
		want          string
	}{
		{0.8994, 0.9, "0.899"}, // two decimals would show the target it missed
		{0.9, 0.9, "0.90"},
		{0.9049, 0.9, "0.90"}, // met: two decimals say so
		{0.47, 0.8, "0.47"},
		{0.7951, 0.8, "0.795"},
	} {
		if got := ratioText(tc.ratio, tc.target); got != tc.want {
			t.Errorf("ratioText(%v, %v) = %q, want %q", tc.ratio, tc.target, got, tc.want)
		}
	}
}

// A run of several rounds reports the median round: its figures in the
// table and the verdict, every round's ratio beneath.
func TestReportMedianRound(t *testing.T) {
	raw := func(d time.Duration) Figure { return figure("raw redis", "events", 1000, d) }
	round := func(n int, before, proj, after time.Duration) Round {
		return Round{N: n, Measured: Measured{Raw: raw(before), Projection: figure("projection", "events", 1000, proj), RawAfter: raw(after), Stored: 100 + n}}
	}
	base := Report{Sink: "redis", Events: 1000, Products: 100, Target: 0.8,
		Consume: figure("raw consume (franz-go)", "records", 1000, time.Second/10)}
	for _, tc := range []struct {
		name      string
		rounds    []Round
		wantRound int
		wantRatio float64
		wantRows  []string
	}{
		{"odd: the middle ratio", []Round{
			round(1, time.Second, 2*time.Second, time.Second),         // 0.5
			round(2, 3*time.Second/2, 5*time.Second/3, time.Second/2), // 0.6: the raw runs in the mean of their times
			round(3, time.Second, 4*time.Second/3, 3*time.Second/2),   // 0.9375
		}, 2, 0.6, []string{"round 2 of 3, the median by ratio", "round 3: projection 750 events/s; raw writes 1,000 before, 666 after: 0.94\n"}},
		{"even: the lower middle", []Round{
			round(1, time.Second, time.Second, time.Second),      // 1
			round(2, time.Second, 2*time.Second, time.Second),    // 0.5
			round(3, time.Second, 10*time.Second/7, time.Second), // 0.7
			round(4, time.Second, 5*time.Second/4, time.Second),  // 0.8
		}, 3, 0.7, []string{"round 3 of 4, the median by ratio", "round 4: projection 800 events/s; raw writes 1,000 before, 1,000 after: 0.80\n", "NOT met"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base.median(tc.rounds)
			if r.Round != tc.wantRound || len(r.Rounds) != len(tc.rounds) {
				t.Fatalf("median round %d of %d, want %d of %d", r.Round, len(r.Rounds), tc.wantRound, len(tc.rounds))
			}
			if got := r.Ratio(); got < tc.wantRatio-1e-9 || got > tc.wantRatio+1e-9 {
				t.Errorf("Ratio = %v, want %v", got, tc.wantRatio)
			}
			if want := tc.rounds[tc.wantRound-1]; r.Projection != want.Projection || r.Raw != want.Raw || r.RawAfter != want.RawAfter || r.Stored != want.Stored {
				t.Errorf("the report's figures are not round %d's: %+v", tc.wantRound, r)
			}
			var b strings.Builder
			if err := r.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			rows := append(tc.wantRows, fmt.Sprintf("round %d: ", tc.wantRound))
			for _, want := range rows {
				if !strings.Contains(b.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, b.String())
				}
			}
			if n := strings.Count(b.String(), "<- the median"); n != 1 {
				t.Errorf("%d rounds marked as the median, want 1:\n%s", n, b.String())
			}
			js, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Round  int
				Ratio  float64
				Rounds []struct {
					N     int
					Ratio float64
				}
			}
			if err := json.Unmarshal(js, &got); err != nil {
				t.Fatal(err)
			}
			if got.Round != tc.wantRound || len(got.Rounds) != len(tc.rounds) || got.Ratio != r.Ratio() || got.Rounds[tc.wantRound-1].Ratio != got.Ratio {
				t.Errorf("JSON = %s", js)
			}
		})
	}

	// One round: the report is that round's, with no rounds listed.
	r := base.median([]Round{round(1, time.Second, 2*time.Second, time.Second)})
	if r.Round != 0 || r.Rounds != nil || r.Ratio() != 0.5 || r.Stored != 101 {
		t.Errorf("one round: %+v", r)
	}
}
