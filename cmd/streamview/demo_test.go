package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
)

func TestDemoAmount(t *testing.T) {
	for _, tt := range []struct {
		currency     string
		units, cents int
		want         string
	}{
		{"EUR", 24, 50, "24.50"}, {"EUR", 5, 0, "5.00"}, {"JPY", 24, 50, "2450"}, {"KWD", 24, 5, "24.050"},
	} {
		if got := demoAmount(tt.currency, tt.units, tt.cents); got != tt.want {
			t.Errorf("demoAmount(%s, %d, %d) = %s, want %s", tt.currency, tt.units, tt.cents, got, tt.want)
		}
	}
}

// A demo seeding stopped before its end is run again at the next start
// with --seed-demo: the catalogue is then the one a seeding in one go
// makes, nothing sent twice. (It was left partial for good: the log was
// not empty, so dev did not seed again.)
func TestDevSeedResumes(t *testing.T) {
	defer func(n int) { demoProducts = n }(demoProducts)
	demoProducts = 240 // the same code path, a fifth of the work (dev runs in this process)
	// seeded waits until the seeding is done and projected.
	seeded := func(dir string, brokers []string) {
		t.Helper()
		testenv.Eventually(t, 2*time.Minute, func() error {
			if _, err := os.Stat(filepath.Join(dir, demoSeeded)); err != nil {
				return fmt.Errorf("not seeded yet: %w", err)
			}
			return nil
		})
		waitDevCaughtUp(t, brokers)
	}
	catalogue := func(base string) []string {
		t.Helper()
		var out []string
		cursor := ""
		for {
			a := call(t, "GET", base+"/v1/products/search?pageSize=100&sort=price_asc"+cursor, "")
			for _, p := range a.body["products"].([]any) {
				m := p.(map[string]any)
				out = append(out, fmt.Sprint(m["id"], m["price"], m["reviewCount"], m["averageRating"], m["inStock"]))
			}
			next, _ := a.body["nextCursor"].(string)
			if next == "" {
				break
			}
			cursor = "&cursor=" + next
		}
		slices.Sort(out)
		return out
	}

	whole := t.TempDir()
	base, brokers, stop := startDevWith(t, whole, "--seed-demo")
	seeded(whole, brokers)
	want := catalogue(base)
	if len(want) != demoProducts {
		t.Fatalf("the seeded catalogue has %d products, want %d", len(want), demoProducts)
	}
	stop() // one dev at a time on 2 cores

	// A seeding stopped after a tenth of the products.
	dir := t.TempDir()
	base, _, stop = startDev(t, dir)
	if err := os.WriteFile(filepath.Join(dir, demoSeeding), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	for i := range demoProducts / 10 {
		if _, err := seedProduct(context.Background(), base, i, "EUR", &sent); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	base, brokers, _ = startDevWith(t, dir, "--seed-demo")
	seeded(dir, brokers)
	if got := catalogue(base); !slices.Equal(got, want) {
		t.Fatalf("the resumed catalogue differs from one seeded in one go (%d products, want %d)", len(got), len(want))
	}
}
