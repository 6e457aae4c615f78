package redisview_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// review is change v of document id: it sets "last" to v and adds one to
// "reviews".
func review(id string, v int64) productview.Change {
	return productview.Change{ID: id, Version: v,
		Set:  []productview.Field{{Name: "last", Value: strconv.FormatInt(v, 10)}},
		Incr: []productview.Incr{{Name: "reviews", By: 1}}}
}

func reviews(id string, from, to int64) []productview.Change {
	var cs []productview.Change
	for v := from; v <= to; v++ {
		cs = append(cs, review(id, v))
	}
	return cs
}

// sameProjection is another Store of s's projection on c: another writer,
// as another process would be.
func sameProjection(t *testing.T, c redis.UniversalClient, s *redisview.Store) *redisview.Store {
	t.Helper()
	o, err := redisview.New(c, redisview.Config{Projection: s.Projection()})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func applyIn(t *testing.T, s *redisview.Store, changes []productview.Change, want productview.Result) {
	t.Helper()
	res, err := s.ApplyIn(context.Background(), 1, 0, changes)
	if err != nil || res != want {
		t.Fatalf("ApplyIn(%d changes) = %+v, %v; want %+v", len(changes), res, err, want)
	}
}

// wantReviews checks document id holds version v and v reviews, the last
// of them v: each change applied exactly once.
func wantReviews(t *testing.T, s *redisview.Store, id string, v int64) {
	t.Helper()
	d, found, err := s.GetAt(context.Background(), 1, id)
	if err != nil || !found {
		t.Fatalf("GetAt %s = found %v, %v", id, found, err)
	}
	want := strconv.FormatInt(v, 10)
	if d.Version != v || d.Fields["reviews"] != want || d.Fields["last"] != want {
		t.Fatalf("%s = version %d, %v; want version %d, %s reviews, the last %s", id, d.Version, d.Fields, v, want, want)
	}
}

// What a Store remembers of a partition's versions is not trusted once
// another writer of the partition (another process that took it over)
// wrote: the changes that writer applied come back as duplicates, not
// counted twice.
func TestApplyInAfterAnotherWriter(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		a := redistest.NewStore(t, c)
		b := sameProjection(t, c, a)
		applyIn(t, a, reviews("p", 1, 2), productview.Result{Applied: 2})
		applyIn(t, b, reviews("p", 1, 4), productview.Result{Applied: 2, Duplicates: 2})
		applyIn(t, a, reviews("p", 3, 5), productview.Result{Applied: 1, Duplicates: 2})
		wantReviews(t, a, "p", 5)
	})
}

// Apply's script calls (a writer that names no partition) make the
// partitions' writers read again, too.
func TestApplyInAfterScript(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		a := redistest.NewStore(t, c)
		applyIn(t, a, reviews("p", 1, 2), productview.Result{Applied: 2})
		res, err := sameProjection(t, c, a).Apply(context.Background(), 1, reviews("p", 3, 3))
		if err != nil || res.Applied != 1 {
			t.Fatalf("Apply = %+v, %v", res, err)
		}
		applyIn(t, a, reviews("p", 3, 4), productview.Result{Applied: 1, Duplicates: 1})
		wantReviews(t, a, "p", 4)
	})
}

// Clear takes the fence with the documents: a writer writes again what it
// wrote before the Clear, whether the Clear was its Store's (which forgets
// what it knew of the generation) or another process's (whose Clear it
// learns of from the fence).
func TestApplyInAfterClear(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		a := redistest.NewStore(t, c)
		for _, clearer := range []*redisview.Store{a, sameProjection(t, c, a)} {
			applyIn(t, a, reviews("p", 1, 2), productview.Result{Applied: 2})
			if n, err := clearer.Clear(context.Background(), 1); err != nil || n != 1 {
				t.Fatalf("Clear = %d, %v; want 1 document", n, err)
			}
			applyIn(t, a, reviews("p", 1, 2), productview.Result{Applied: 2})
			wantReviews(t, a, "p", 2)
			if _, err := a.Clear(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A Store keeps what it knows of two generations at most (the live one
// and a rebuild's): writing generation 3 drops generation 1's, and a
// writer of generation 1 then reads again what it had known.
func TestApplyInForgetsOldGenerations(t *testing.T) {
	ctx := context.Background()
	c := redistest.Miniredis(t)
	s := redistest.NewStore(t, c)
	var names commandNames
	c.(*redis.Client).AddHook(&names)
	write := func(gen int, from, to int64, want productview.Result) {
		t.Helper()
		if res, err := s.ApplyIn(ctx, gen, 0, reviews("p", from, to)); err != nil || res != want {
			t.Fatalf("generation %d: ApplyIn = %+v, %v; want %+v", gen, res, err, want)
		}
	}
	write(1, 1, 1, productview.Result{Applied: 1})
	write(2, 1, 1, productview.Result{Applied: 1})
	names.take()
	write(1, 2, 2, productview.Result{Applied: 1})
	if n := count(names.take(), "hmget"); n != 0 {
		t.Fatalf("generation 1 read %d documents while the Store knew it", n)
	}
	write(3, 1, 1, productview.Result{Applied: 1})
	names.take()
	write(1, 2, 3, productview.Result{Applied: 1, Duplicates: 1})
	if n := count(names.take(), "hmget"); n != 1 {
		t.Fatalf("generation 1 read %d documents after generation 3 began; want 1: forgotten", n)
	}
}

// A key that turns into another type behind a writer that knows the
// document is refused when the transaction meets it: its changes named as
// permanent, the other documents of the batch written.
func TestApplyInRefusedInTransaction(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		a := redistest.NewStore(t, c)
		applyIn(t, a, []productview.Change{review("bad", 1), review("ok", 1)}, productview.Result{Applied: 2})
		if err := c.Set(ctx, a.Key(1, "bad"), "not a hash", 0).Err(); err != nil {
			t.Fatal(err)
		}
		res, err := a.ApplyIn(ctx, 1, 0, []productview.Change{review("bad", 2), review("ok", 2)})
		if got := batch.PermanentAt(err); !slices.Equal(got, []int{0}) || res != (productview.Result{Applied: 1}) {
			t.Fatalf("ApplyIn = %+v, %v (permanent %v); want 1 applied and change 0 permanent", res, err, got)
		}
		if !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("error %q does not say why", err)
		}
		wantReviews(t, a, "ok", 2)
		// Once read again, the document is refused before anything is sent.
		res, err = a.ApplyIn(ctx, 1, 0, []productview.Change{review("bad", 3)})
		if got := batch.PermanentAt(err); !slices.Equal(got, []int{0}) || res != (productview.Result{}) {
			t.Fatalf("again: ApplyIn = %+v, %v (permanent %v)", res, err, got)
		}
	})
}

// A counter field holding what HINCRBY cannot add to is found by the read
// and its document refused whole: nothing of it is written.
func TestApplyInBadCounterRefusedBeforeWriting(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		a := redistest.NewStore(t, c)
		if err := c.HSet(ctx, a.Key(1, "p"), "_v", "1", "reviews", "many").Err(); err != nil {
			t.Fatal(err)
		}
		res, err := a.ApplyIn(ctx, 1, 0, []productview.Change{review("p", 2), review("q", 1)})
		if got := batch.PermanentAt(err); !slices.Equal(got, []int{0}) || res != (productview.Result{Applied: 1}) {
			t.Fatalf("ApplyIn = %+v, %v (permanent %v); want 1 applied and change 0 permanent", res, err, got)
		}
		if !strings.Contains(err.Error(), "counter field reviews holds many") {
			t.Errorf("error %q does not say why", err)
		}
		d, _, err := a.GetAt(ctx, 1, "p")
		if err != nil || d.Version != 1 || d.Fields["last"] != "" {
			t.Fatalf("p = %+v, %v; want it untouched at version 1", d, err)
		}
	})
}

// On a single server ApplyIn sends no script: the bare writes in one
// MULTI/EXEC, and once the versions are known, no read of them.
func TestApplyInWritesWithoutScript(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		if redistest.IsCluster(c) {
			t.Skip("a cluster goes through the script (a transaction cannot span slots)")
		}
		s := redistest.NewStore(t, c)
		opts := c.(*redis.Client).Options()
		counted := redis.NewClient(opts)
		t.Cleanup(func() { counted.Close() })
		var names commandNames
		counted.AddHook(&names)
		a := sameProjection(t, counted, s)
		applyIn(t, a, append(reviews("p", 1, 3), reviews("q", 1, 2)...), productview.Result{Applied: 5})
		first := names.take()
		applyIn(t, a, append(reviews("p", 4, 4), reviews("q", 2, 3)...), productview.Result{Applied: 2, Duplicates: 1})
		second := names.take()
		for _, got := range [][]string{first, second} {
			if scripts(got) > 0 || !slices.Contains(got, "exec") || !slices.Contains(got, "hincrby") {
				t.Errorf("commands %v; want the bare writes in a transaction, no script", got)
			}
		}
		if n := count(first, "hmget"); n != 2 {
			t.Errorf("first batch read %d documents (%v); want 2", n, first)
		}
		if n := count(second, "hmget"); n != 0 {
			t.Errorf("second batch read %d documents (%v); want none: their versions are known", n, second)
		}
		// Forgetting another partition or generation keeps what it knows of
		// this one; forgetting this one makes it read again.
		a.Forget(1, 1)
		a.Forget(2, 0)
		applyIn(t, a, reviews("p", 5, 5), productview.Result{Applied: 1})
		if n := count(names.take(), "hmget"); n != 0 {
			t.Errorf("after forgetting other partitions read %d documents; want none", n)
		}
		a.Forget(1, 0)
		applyIn(t, a, append(reviews("p", 5, 6), reviews("q", 4, 4)...), productview.Result{Applied: 2, Duplicates: 1})
		if n := count(names.take(), "hmget"); n != 2 {
			t.Errorf("after forgetting the partition read %d documents; want 2", n)
		}
		wantReviews(t, a, "p", 6)
		wantReviews(t, a, "q", 4)
	})
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}

// scripts is how many script calls (EVALSHA and EVAL) names holds.
func scripts(names []string) int { return count(names, "evalsha") + count(names, "eval") }

// commandNames records the names of the commands a client sends, alone or
// in pipelines (lower case, as go-redis names them).
type commandNames struct {
	mu    sync.Mutex
	names []string
}

func (h *commandNames) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.names
	h.names = nil
	return out
}

func (h *commandNames) record(cmds ...redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cmds {
		h.names = append(h.names, c.Name())
	}
}

func (h *commandNames) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h *commandNames) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds...)
		return next(ctx, cmds)
	}
}

// Writers of one partition at once (a rebalance's old and new owner, a
// replay beside the live projector), each going through the whole log in
// batches from points of its own, redelivering as they go, leave every
// document with each change applied once.
func TestApplyInConcurrentWritersConverge(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		const docs, versions, writers = 8, 60, 4
		var log []productview.Change
		for v := int64(1); v <= versions; v++ {
			for d := range docs {
				log = append(log, review(fmt.Sprintf("d%d", d), v))
			}
		}
		first := redistest.NewStore(t, c)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			s := first
			if w > 0 {
				s = sameProjection(t, c, first)
			}
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			wg.Go(func() {
				for at := 0; at < len(log); {
					end := min(len(log), at+1+rng.IntN(40))
					from := max(0, at-rng.IntN(30)) // a redelivery of some of what went before
					for {
						_, err := s.ApplyIn(context.Background(), 1, 0, log[from:end])
						if err == nil {
							break
						}
						if !errors.Is(err, redis.TxFailedErr) {
							errs <- err
							return
						}
						// Outrun by the others 8 times over: retried, as the
						// runtime retries a failed batch.
					}
					at = end
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for d := range docs {
			wantReviews(t, first, fmt.Sprintf("d%d", d), versions)
		}
	})
}

// replyError is an error reply of the server, as go-redis gives it.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// failing makes the next command named name (in a pipeline) fail with err
// after the server answered it, as a reply of the server would.
type failing struct {
	mu   sync.Mutex
	name string
	err  error
}

func (h *failing) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *failing) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *failing) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range cmds {
			if h.name != "" && c.Name() == h.name {
				c.SetErr(h.err)
				h.name = ""
			}
		}
		return err
	}
}

func (h *failing) next(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.name, h.err = name, err
}

// A server that answers the fence's read or a document's read with an
// error (still loading its data, busy with a script, a missing
// permission) fails the call for a retry: nothing written, nothing
// refused for good, no panic; the retry applies.
func TestApplyInServerErrorsAreTransient(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, cmd, reply string }{
		{"fence read", "mget", "LOADING Redis is loading the dataset in memory"},
		{"watch", "watch", "NOPERM this user has no permissions to run the 'watch' command"},
		{"document read", "hmget", "BUSY Redis is busy running a script"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := redistest.Miniredis(t)
			h := &failing{}
			c.AddHook(h)
			s := redistest.NewStore(t, c)
			h.next(tc.cmd, replyError(tc.reply))
			res, err := s.ApplyIn(ctx, 1, 0, reviews("p", 1, 2))
			if err == nil || len(batch.PermanentAt(err)) > 0 || res != (productview.Result{}) || !strings.Contains(err.Error(), tc.reply) {
				t.Fatalf("ApplyIn = %+v, %v; want a transient error naming %q, nothing counted", res, err, tc.reply)
			}
			if _, found, err := s.GetAt(ctx, 1, "p"); err != nil || found {
				t.Fatalf("p found %v (%v): written although the call failed", found, err)
			}
			applyIn(t, s, reviews("p", 1, 2), productview.Result{Applied: 2})
			wantReviews(t, s, "p", 2)
		})
	}
}

// A counter field that a change of the Store's own sets to a value
// HINCRBY cannot add to is read again before the next increment: the
// document is refused whole, as the script refuses it, and keeps the
// version and values it had.
func TestApplyInCounterSetThenAdded(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		s := redistest.NewStore(t, c)
		incr := []productview.Incr{{Name: "n", By: 1}}
		applyIn(t, s, []productview.Change{{ID: "p", Version: 1, Incr: incr}}, productview.Result{Applied: 1})
		applyIn(t, s, []productview.Change{{ID: "p", Version: 2, Set: []productview.Field{{Name: "n", Value: "x"}}}}, productview.Result{Applied: 1})
		res, err := s.ApplyIn(ctx, 1, 0, []productview.Change{{ID: "p", Version: 3, Incr: incr}})
		if got := batch.PermanentAt(err); !slices.Equal(got, []int{0}) || res != (productview.Result{}) {
			t.Fatalf("ApplyIn = %+v, %v (permanent %v); want change 0 refused", res, err, got)
		}
		d, _, err := s.GetAt(ctx, 1, "p")
		if err != nil || d.Version != 2 || d.Fields["n"] != "x" {
			t.Fatalf("p = %+v, %v; want it untouched at version 2, n x", d, err)
		}
	})
}
