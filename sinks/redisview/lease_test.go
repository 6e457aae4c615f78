package redisview_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// The rebuild's lease: one holder at a time; its holder extends it,
// another is told who holds it; a release by another leaves it; a lease
// not renewed expires (miniredis's clock is moved on; the real servers'
// runs).
func TestRebuildLease(t *testing.T) {
	t.Run(redistest.Mini, func(t *testing.T) {
		srv := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { c.Close() })
		testLease(t, c, func() { srv.FastForward(time.Second) })
	})
	for _, b := range redistest.Backends[1:] {
		t.Run(b.Name, func(t *testing.T) { testLease(t, b.Client(t), func() {}) })
	}
}

func testLease(t *testing.T, c redis.UniversalClient, later func()) {
	ctx := context.Background()
	h := redisview.RebuildState(c, testenv.Name("lease"))
	t.Cleanup(func() { c.Del(context.Background(), h.Key()+":lease") })
	step := func(what, got, want string, err error) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %q, %v; want %q", what, got, err, want)
		}
	}
	got, err := h.Holder(ctx)
	step("Holder of a free lease", got, "", err)
	got, err = h.Lease(ctx, "a", time.Minute)
	step("a takes it", got, "a", err)
	got, err = h.Lease(ctx, "b", time.Minute)
	step("b asks while a holds it", got, "a", err)
	got, err = h.Lease(ctx, "a", time.Minute)
	step("a renews it", got, "a", err)
	if err := h.Release(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	got, err = h.Holder(ctx)
	step("Holder after b's release", got, "a", err)
	if err := h.Release(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	got, err = h.Holder(ctx)
	step("Holder after a's release", got, "", err)
	got, err = h.Lease(ctx, "b", 50*time.Millisecond)
	step("b takes the free lease", got, "b", err)
	testenv.Eventually(t, 10*time.Second, func() error {
		later()
		if got, err := h.Lease(ctx, "a", time.Minute); err != nil || got != "a" {
			return testenv.Errorf("a asks after b's lease ran out: %q, %v", got, err)
		}
		return nil
	})
}
