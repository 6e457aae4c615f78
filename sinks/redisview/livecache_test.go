package redisview_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// Get (and GetMany of generation 0, which the Reader uses for a view and
// its reference records) trusts the live generation it last read for
// Config.LiveCache: a swap
// made through another Store (another process's rebuild) reaches it within
// that time, one made through the same Store at once, and with a negative
// LiveCache every Get reads the pointer.
func TestLiveCache(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		other := redistest.NewStore(t, c) // the rebuild's Store, elsewhere
		open := func(cache time.Duration) *redisview.Store {
			s, err := redisview.New(c, redisview.Config{Projection: other.Projection(), LiveCache: cache})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		for gen := 1; gen <= 4; gen++ {
			if _, err := other.Apply(ctx, gen, []productview.Change{{ID: "p", Version: 1, Set: []productview.Field{{Name: "n", Value: "x"}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := other.SetLive(ctx, 1); err != nil {
			t.Fatal(err)
		}
		readsGen := func(s *redisview.Store) int {
			t.Helper()
			d, ok, err := s.Get(ctx, "p")
			if err != nil || !ok {
				t.Fatalf("Get = found %v, %v", ok, err)
			}
			return d.Generation
		}
		manyReadsGen := func(s *redisview.Store) int {
			t.Helper()
			docs, err := s.GetMany(ctx, 0, []string{"p"})
			if err != nil || len(docs) != 1 {
				t.Fatalf("GetMany = %v, %v", docs, err)
			}
			return docs["p"].Generation
		}

		held, short, none := open(time.Hour), open(50*time.Millisecond), open(-1)
		for _, s := range []*redisview.Store{held, short, none} {
			if g := readsGen(s); g != 1 {
				t.Fatalf("Get read g%d, want g1", g)
			}
		}
		if err := other.SetLive(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if g := readsGen(none); g != 2 {
			t.Errorf("with no cache, Get after the swap read g%d, want g2", g)
		}
		if g := readsGen(held); g != 1 {
			t.Errorf("within its LiveCache, Get read g%d: it read the pointer again (want g1, the one it held)", g)
		}
		if g := manyReadsGen(held); g != 1 {
			t.Errorf("within its LiveCache, GetMany read g%d, want g1 as Get", g)
		}
		if g := manyReadsGen(none); g != 2 {
			t.Errorf("with no cache, GetMany after the swap read g%d, want g2", g)
		}
		start := time.Now()
		for readsGen(short) != 2 {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("a Store with a LiveCache of 50ms still read g1 %v after the swap", time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := held.SetLive(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if g := readsGen(held); g != 3 {
			t.Errorf("after its own SetLive(3), Get read g%d, want g3", g)
		}
		if err := other.SetLive(ctx, 4); err != nil {
			t.Fatal(err)
		}
		if g, err := held.Live(ctx); err != nil || g != 4 {
			t.Fatalf("Live = %d, %v; want 4 (Live always reads the pointer)", g, err)
		}
		if g := readsGen(held); g != 4 {
			t.Errorf("after Live read g4, Get read g%d, want g4", g)
		}
	})
}

// A document Get does not find in the generation its LiveCache holds is
// looked for again through the pointer as it is: a Redis emptied under the
// reads (here, this store's keys deleted) answers ErrNoLive, not "not
// found", and a swap to a generation that has it finds it. (Reads within
// the cache after a FLUSHALL answered 404 for products that exist.)
func TestGetNotFoundReadsThePointer(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		other := redistest.NewStore(t, c)
		held, err := redisview.New(c, redisview.Config{Projection: other.Projection(), LiveCache: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		put := func(gen int, id string) {
			t.Helper()
			if _, err := other.Apply(ctx, gen, []productview.Change{{ID: id, Version: 1, Set: []productview.Field{{Name: "n", Value: "x"}}}}); err != nil {
				t.Fatal(err)
			}
		}
		put(1, "p")
		put(2, "p")
		put(2, "q") // only in g2
		if err := other.SetLive(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := held.Get(ctx, "p"); err != nil || !ok {
			t.Fatalf("Get(p) = %v, %v", ok, err)
		}
		if err := other.SetLive(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if d, ok, err := held.Get(ctx, "q"); err != nil || !ok || d.Generation != 2 {
			t.Fatalf("Get(q) after a swap to g2, which has it = %+v, %v, %v; want found in g2", d, ok, err)
		}
		if _, ok, err := held.Get(ctx, "none"); err != nil || ok {
			t.Fatalf("Get of a document no generation has = %v, %v; want not found", ok, err)
		}
		for _, gen := range []int{1, 2} {
			if _, err := other.Clear(ctx, gen); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Del(ctx, other.LiveKey()).Err(); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := held.Get(ctx, "p"); !errors.Is(err, productview.ErrNoLive) {
			t.Fatalf("Get(p) after the store was emptied = found %v, %v; want ErrNoLive", ok, err)
		}

		// The Reader's second read of a product goes with its reference
		// records in one round trip (the hint of the first): the same.
		w, err := productview.NewWriter(other, 1)
		if err != nil {
			t.Fatal(err)
		}
		created := eventgen.Stream(eventgen.Options{Products: 1, Events: 1, Seed: 5})
		if err := w.Apply(ctx, created); err != nil {
			t.Fatal(err)
		}
		if err := other.SetLive(ctx, 1); err != nil {
			t.Fatal(err)
		}
		reader, id := productview.NewReader(held), created[0].AggregateID
		for range 2 {
			if _, ok, err := reader.Get(ctx, id); err != nil || !ok {
				t.Fatalf("Reader.Get = %v, %v", ok, err)
			}
		}
		if _, err := other.Clear(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := c.Del(ctx, other.LiveKey()).Err(); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := reader.Get(ctx, id); !errors.Is(err, productview.ErrNoLive) {
			t.Fatalf("Reader.Get after the store was emptied = found %v, %v; want ErrNoLive", ok, err)
		}
	})
}

// TestGetAfterALossAnswersNoLive: a view not found while Redis holds
// another epoch than when the live generation was made live is data lost
// and not read again yet: Get answers ErrNoLive (the API's 503), not "not
// found" (404). Here the loss is the view's hash gone and the epoch
// moved, as a Redis Cluster master's loss leaves them (the live pointer on
// another master); TestGetAfterAMasterLossAnswersNoLive does it on a
// real cluster.
func TestGetAfterALossAnswersNoLive(t *testing.T) {
	ctx := context.Background()
	c := redistest.Miniredis(t)
	// Every read asks again: the answer is otherwise kept for LiveCache.
	s, err := redisview.New(c, redisview.Config{Projection: redistest.NewStore(t, c).Projection(), LiveCache: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, 1, []productview.Change{{ID: "p", Version: 1, Set: []productview.Field{{Name: "n", Value: "x"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, "none"); err != nil || ok {
		t.Fatalf("Get of a product never written = %v, %v; want not found", ok, err)
	}
	if err := c.Del(ctx, s.Key(1, "p")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, redisview.EpochKey, "after-a-loss", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, "p"); !errors.Is(err, productview.ErrNoLive) || ok {
		t.Fatalf("Get of a view lost with the data = %v, %v; want ErrNoLive", ok, err)
	}
	// Read again and made live under the new epoch (a refill's promote):
	// not found is not found again.
	if err := c.Del(ctx, s.LiveKey()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, "none"); err != nil || ok {
		t.Fatalf("Get of a product never written after the refill = %v, %v; want not found", ok, err)
	}
}
