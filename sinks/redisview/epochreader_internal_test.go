package redisview

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/testenv"
)

// epochGets counts the GETs of EpochKey a client sends and, while held is
// set, holds each one's answer until the channel it sends on holds is
// closed.
type epochGets struct {
	n     atomic.Int64
	held  atomic.Bool
	holds chan chan struct{}
}

func (h *epochGets) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *epochGets) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "get" && len(cmd.Args()) == 2 && cmd.Args()[1] == EpochKey {
			h.n.Add(1)
			if h.held.Load() {
				release := make(chan struct{})
				h.holds <- release
				<-release
			}
		}
		return err
	}
}

func (h *epochGets) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// newTestEpochReader is an EpochReader on a miniredis whose clock is
// clock, and its GETs.
func newTestEpochReader(t *testing.T, clock *atomic.Int64) (*EpochReader, *miniredis.Miniredis, *epochGets) {
	t.Helper()
	srv := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	gets := &epochGets{holds: make(chan chan struct{}, 16)}
	c.AddHook(gets)
	r := NewEpochReader(c, 0)
	base := time.Now()
	r.now = func() time.Time { return base.Add(time.Duration(clock.Load())) }
	return r, srv, gets
}

func TestEpochReader(t *testing.T) {
	type step struct {
		advance time.Duration // the clock moves first
		set     string        // then EpochKey is set to it, unless ""
		fail    bool          // Redis answers every command with an error
		fresh   bool          // Fresh, not Epoch
		want    string        // "" : an error
		gets    int64         // GETs of EpochKey sent so far
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"within the max age, the read is answered again", []step{
			{set: "e1", want: "e1", gets: 1},
			{advance: DefaultEpochMaxAge - time.Millisecond, set: "e2", want: "e1", gets: 1},
		}},
		{"past the max age, it reads again", []step{
			{set: "e1", want: "e1", gets: 1},
			{advance: DefaultEpochMaxAge, set: "e2", want: "e2", gets: 2},
			{advance: DefaultEpochMaxAge / 2, want: "e2", gets: 2},
		}},
		{"Fresh reads at once, and Epoch answers its read", []step{
			{set: "e1", want: "e1", gets: 1},
			{set: "e2", fresh: true, want: "e2", gets: 2},
			{want: "e2", gets: 2},
			{fresh: true, want: "e2", gets: 3},
		}},
		{"an error is kept for no one", []step{
			{set: "e1", fail: true, want: "", gets: 1},
			{want: "e1", gets: 2},
			{want: "e1", gets: 2},
		}},
		{"an error leaves the last read as it was", []step{
			{set: "e1", want: "e1", gets: 1},
			{set: "e2", fresh: true, fail: true, want: "", gets: 2},
			{want: "e1", gets: 2},
			{advance: DefaultEpochMaxAge, fail: true, want: "", gets: 3},
			{want: "e2", gets: 4},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var clock atomic.Int64
			r, srv, gets := newTestEpochReader(t, &clock)
			for i, s := range tc.steps {
				clock.Add(int64(s.advance))
				if s.set != "" {
					srv.Set(EpochKey, s.set)
				}
				if s.fail {
					srv.SetError("LOADING a test's error")
				}
				read := r.Epoch
				if s.fresh {
					read = r.Fresh
				}
				got, err := read(context.Background())
				srv.SetError("")
				switch {
				case s.want == "" && err == nil:
					t.Fatalf("step %d: got %q, want an error", i+1, got)
				case s.want != "" && (err != nil || got != s.want):
					t.Fatalf("step %d: got %q, %v; want %q", i+1, got, err, s.want)
				}
				if n := gets.n.Load(); n != s.gets {
					t.Fatalf("step %d: %d GETs of %s sent, want %d", i+1, n, EpochKey, s.gets)
				}
			}
		})
	}
}

// Callers that come while a read is under way wait for it: one read for
// all. A Fresh call then does not take that read, sent before it.
func TestEpochReaderSharesAReadUnderWay(t *testing.T) {
	const callers = 8
	var clock atomic.Int64
	r, srv, gets := newTestEpochReader(t, &clock)
	srv.Set(EpochKey, "e1")
	gets.held.Store(true)
	got := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = r.Epoch(context.Background()) })
	}
	// Every caller is in: waiting for the read, or (without the sharing)
	// sending its own.
	waitFor(t, "the callers", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		w := 0
		if r.flight != nil {
			w = r.flight.waiters
		}
		return int64(w)+gets.n.Load() == callers
	})
	srv.Set(EpochKey, "e2")
	fresh := make(chan string, 1)
	go func() {
		e, err := r.Fresh(context.Background())
		if err != nil {
			e = err.Error()
		}
		fresh <- e
	}()
	first, second := <-gets.holds, <-gets.holds
	close(second)
	if e := <-fresh; e != "e2" {
		t.Fatalf("Fresh = %q, want e2: a read sent after it", e)
	}
	close(first)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || got[i] != "e1" {
			t.Fatalf("caller %d: %q, %v; want e1", i, got[i], errs[i])
		}
	}
	if n := gets.n.Load(); n != 2 {
		t.Fatalf("%d GETs of %s for %d callers and a Fresh, want 2", n, EpochKey, callers)
	}
	// The older read, answered last, did not replace Fresh's.
	if e, err := r.Epoch(context.Background()); err != nil || e != "e2" {
		t.Fatalf("Epoch after Fresh = %q, %v; want e2", e, err)
	}
}

// A caller whose context ends stops waiting; the read goes on for the
// others.
func TestEpochReaderCallerGivesUp(t *testing.T) {
	var clock atomic.Int64
	r, srv, gets := newTestEpochReader(t, &clock)
	srv.Set(EpochKey, "e1")
	gets.held.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Epoch(ctx)
		done <- err
	}()
	release := <-gets.holds
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Epoch with its context cancelled answered no error")
	}
	close(release)
	if e, err := r.Epoch(context.Background()); err != nil || e != "e1" {
		t.Fatalf("Epoch = %q, %v; want e1", e, err)
	}
	if n := gets.n.Load(); n != 1 {
		t.Fatalf("%d GETs of %s, want 1: the read went on", n, EpochKey)
	}
}

// waitFor polls cond until it holds, failing t after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A Redis back from an older snapshot keeps EpochKey but not what was
// written since: ClockKey, bumped by every read, goes back with it, and
// the reader then moves the epoch, the loss its pollers see (the
// projectors read the log again, the notifier reads its journal back).
// An emptied Redis is one loss, not two; nothing lost, nothing moves.
func TestEpochReaderSeesRedisGoBackInTime(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer c.Close()
	ctx := context.Background()
	r, other := NewEpochReader(c, -1), NewEpochReader(c, -1)
	read := func(r *EpochReader) string {
		t.Helper()
		e, err := r.Epoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := read(r)
	for range 3 {
		if e, o := read(r), read(other); e != first || o != first {
			t.Fatalf("epoch moved with nothing lost: %q, then %q and %q", first, e, o)
		}
	}
	if clock, err := c.Get(ctx, ClockKey).Int64(); err != nil || clock != 7 {
		t.Fatalf("%s = %d, %v; want 7, one per read", ClockKey, clock, err)
	}

	// Back to the snapshot taken after the second read: the clock is
	// behind what both readers saw.
	if err := c.Set(ctx, ClockKey, 2, 0).Err(); err != nil {
		t.Fatal(err)
	}
	moved := read(r)
	if moved == first {
		t.Fatal("the epoch stayed after Redis went back in time")
	}
	if o := read(other); o != moved {
		t.Fatalf("the other reader sees %q, want %q (one move for one loss)", o, moved)
	}
	for range 3 {
		if e, o := read(r), read(other); e != moved || o != moved {
			t.Fatalf("epoch moved again with nothing lost: %q, then %q and %q", moved, e, o)
		}
	}

	// Emptied: a new epoch, and the clock starting again is not a
	// second loss.
	mr.FlushAll()
	emptied := read(r)
	if emptied == moved {
		t.Fatal("the epoch stayed after FLUSHALL")
	}
	if o := read(other); o != emptied {
		t.Fatalf("after FLUSHALL the other reader sees %q, want %q", o, emptied)
	}
	if e := read(r); e != emptied {
		t.Fatalf("epoch moved again after FLUSHALL: %q, then %q", emptied, e)
	}
}

// TestEpochReaderWarnsOfARefusedClock: a Redis that refuses the bump of
// ClockKey (an ACL user without INCR on a real Redis; a value that is no
// integer on miniredis) leaves the epoch readable and is warned of once,
// naming the key: the back-in-time check was silently off.
func TestEpochReaderWarnsOfARefusedClock(t *testing.T) {
	check := func(t *testing.T, c redis.UniversalClient, refusal string) {
		t.Helper()
		var logs testenv.Buffer
		r := NewEpochReader(c, -1).Log(slog.New(slog.NewTextHandler(&logs, nil)))
		ctx := context.Background()
		first, err := r.Epoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if e, err := r.Epoch(ctx); err != nil || e != first {
				t.Fatalf("epoch %q, %v after a refused bump; want %q", e, err, first)
			}
		}
		out := logs.String()
		if n := strings.Count(out, "level=WARN"); n != 1 {
			t.Fatalf("%d warnings over 4 refused bumps, want 1:\n%s", n, out)
		}
		for _, w := range []string{ClockKey, refusal, "older snapshot"} {
			if !strings.Contains(out, w) {
				t.Errorf("the warning does not say %q:\n%s", w, out)
			}
		}
	}
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer c.Close()
		mr.Set(ClockKey, "not a number")
		check(t, c, "not an integer")
	})
	t.Run("transient refusals first", func(t *testing.T) {
		// READONLY (a failover under way) is no reason to warn, and does
		// not use up the one warning of a NOPERM after it.
		mr := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer c.Close()
		var refusal atomic.Value
		refusal.Store(replyError("READONLY You can't write against a read only replica."))
		c.AddHook(incrRefusal{&refusal})
		var logs testenv.Buffer
		r := NewEpochReader(c, -1).Log(slog.New(slog.NewTextHandler(&logs, nil)))
		for range 3 {
			if _, err := r.Epoch(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if out := logs.String(); out != "" {
			t.Fatalf("warned of a READONLY refusal:\n%s", out)
		}
		refusal.Store(replyError("NOPERM User has no permissions to run the 'incr' command"))
		check(t, c, "NOPERM")
	})
	t.Run("redis", func(t *testing.T) {
		addr := testenv.Redis(t)
		admin := redis.NewClient(&redis.Options{Addr: addr})
		defer admin.Close()
		ctx := context.Background()
		user, password := testenv.Name("sv-noclock"), "noclock-secret-7"
		if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+password, "~*", "&*", "+@all", "-incr").Err(); err != nil {
			t.Fatal(err)
		}
		defer admin.Do(ctx, "ACL", "DELUSER", user)
		c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password})
		defer c.Close()
		check(t, c, "NOPERM")
	})
}

// replyError is an error reply of Redis (go-redis's redis.Error).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// incrRefusal fails every INCR with the reply error it holds.
type incrRefusal struct{ err *atomic.Value }

func (h incrRefusal) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h incrRefusal) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h incrRefusal) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "incr" {
			err := h.err.Load().(error)
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
