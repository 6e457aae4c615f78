package eventgen_test

import (
	"math"
	"slices"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/schemas"
)

// updatesPerProduct counts the events after each product's ProductCreated,
// most updated first.
func updatesPerProduct(events []schemas.Event, products int) []int {
	n := map[string]int{}
	for _, e := range events {
		if e.Version > 1 {
			n[e.AggregateID]++
		}
	}
	out := make([]int, 0, products)
	for _, c := range n {
		out = append(out, c)
	}
	for len(out) < products {
		out = append(out, 0)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// zipfShare is the share of draws that rank k (from 1) gets among n.
func zipfShare(k, n int, s float64) float64 {
	h := 0.0
	for i := 1; i <= n; i++ {
		h += math.Pow(float64(i), -s)
	}
	return math.Pow(float64(k), -s) / h
}

// TestDistributionShape checks the shape of seeded streams against the
// distributions' own shares. The streams are deterministic (fixed seeds),
// so the test gives the same answer on every run; the bounds leave room
// for the sampling noise of 200,000 draws, not for another shape.
func TestDistributionShape(t *testing.T) {
	const products, events = 1000, 201_000
	updates := events - products

	t.Run("zipf", func(t *testing.T) {
		o := eventgen.Options{Products: products, Events: events, Seed: 7, Distribution: eventgen.Zipf}
		stream := eventgen.Stream(o)
		checkValid(t, stream, nil)
		got := updatesPerProduct(stream, products)
		// The top ranks get their Zipf share (s = 1.1), within 10 %.
		for _, k := range []int{1, 2, 3, 5, 10, 20} {
			want := zipfShare(k, products, eventgen.DefaultZipfS) * float64(updates)
			if ratio := float64(got[k-1]) / want; ratio < 0.9 || ratio > 1.1 {
				t.Errorf("rank %d: %d updates, want about %.0f (ratio %.2f)", k, got[k-1], want, ratio)
			}
		}
		// The slope of log(count) over log(rank), ranks 1..100, is -s.
		var sx, sy, sxx, sxy float64
		const m = 100
		for k := 1; k <= m; k++ {
			x, y := math.Log(float64(k)), math.Log(float64(got[k-1]))
			sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
		}
		slope := (m*sxy - sx*sy) / (m*sxx - sx*sx)
		if slope > -1.0 || slope < -1.2 {
			t.Errorf("log-log slope over ranks 1..%d = %.3f, want about -%.1f", m, slope, eventgen.DefaultZipfS)
		}
		// Hot: the top 1 % of products get about half the updates.
		top := 0
		for _, c := range got[:products/100] {
			top += c
		}
		if share := float64(top) / float64(updates); share < 0.4 || share > 0.65 {
			t.Errorf("top 1%% of products got %.2f of the updates, want about half", share)
		}
		// Deterministic: the same options make the same stream.
		small := o
		small.Events = 20_000
		same := func(a, b schemas.Event) bool { return a.ID == b.ID && a.AggregateID == b.AggregateID }
		if !slices.EqualFunc(eventgen.Stream(small), eventgen.Stream(small), same) {
			t.Error("the same options made another stream")
		}
	})

	t.Run("uniform", func(t *testing.T) {
		stream := eventgen.Stream(eventgen.Options{Products: products, Events: events, Seed: 7})
		checkValid(t, stream, nil)
		got := updatesPerProduct(stream, products)
		// 200 updates each on average, standard deviation about 14: every
		// product within 6 deviations, and the chi-square statistic near
		// its degrees of freedom.
		mean := float64(updates) / products
		chi := 0.0
		for _, c := range got {
			if math.Abs(float64(c)-mean) > 6*math.Sqrt(mean) {
				t.Errorf("a product got %d updates, want about %.0f", c, mean)
			}
			chi += (float64(c) - mean) * (float64(c) - mean) / mean
		}
		if dof := float64(products - 1); chi < 0.8*dof || chi > 1.2*dof {
			t.Errorf("chi-square %.0f over %d products, want about %.0f", chi, products, dof)
		}
	})
}

func TestParseDistribution(t *testing.T) {
	for _, d := range []eventgen.Distribution{eventgen.Uniform, eventgen.Zipf} {
		got, err := eventgen.ParseDistribution(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDistribution(%q) = %v, %v", d.String(), got, err)
		}
	}
	if _, err := eventgen.ParseDistribution("normal"); err == nil {
		t.Error(`ParseDistribution("normal") did not fail`)
	}
}
