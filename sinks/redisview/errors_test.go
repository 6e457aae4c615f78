package redisview_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// replyHook stands between Apply and the server: when set, after (or
// instead of, when skip) running a pipeline it hands every script call to
// edit, which may replace its reply or error.
type replyHook struct {
	mu   sync.Mutex
	skip bool
	edit func(cmd *redis.Cmd)
}

func (h *replyHook) set(skip bool, edit func(cmd *redis.Cmd)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.skip, h.edit = skip, edit
}

func (h *replyHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *replyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *replyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		skip, edit := h.skip, h.edit
		h.mu.Unlock()
		var err error
		if edit == nil || !skip {
			err = next(ctx, cmds)
		}
		if edit == nil {
			return err
		}
		for _, c := range cmds {
			if sc, ok := c.(*redis.Cmd); ok && strings.HasPrefix(strings.ToLower(sc.Name()), "eval") {
				edit(sc)
				if err == nil {
					err = sc.Err()
				}
			}
		}
		return err
	}
}

func hooked(t *testing.T, c redis.UniversalClient, cfg redisview.Config) (*redisview.Store, *replyHook) {
	h := &replyHook{}
	c.AddHook(h)
	s := redistest.NewStoreConfig(t, c, cfg)
	// Load the script first (its first EVALSHA on a fresh server fails
	// with NOSCRIPT and goes again as EVAL), so that the edited calls ran.
	if _, err := s.Apply(context.Background(), 1, []productview.Change{{ID: "warm", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	return s, h
}

func errorBatch() []productview.Change {
	var out []productview.Change
	for v := int64(1); v <= 3; v++ {
		for _, id := range []string{"a", "b", "c"} {
			out = append(out, productview.Change{ID: id, Version: v,
				Set: []productview.Field{{Name: "last", Value: fmt.Sprint(v)}}, Incr: []productview.Incr{{Name: "n", By: v}}})
		}
	}
	return out
}

func wantStored(t *testing.T, s *redisview.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		d, ok, err := s.GetAt(context.Background(), 1, id)
		if err != nil || !ok || d.Version != 3 || d.Fields["n"] != "6" || d.Fields["last"] != "3" {
			t.Fatalf("%s = %+v, found %v, %v; want version 3, n 6, last 3", id, d, ok, err)
		}
	}
}

// A script call that fails with a server error (the server out of memory,
// busy with another script, loading, a read-only replica), before the
// script ran or after it ran with the reply lost, is transient: Apply
// returns it as it is, no *batch.Error, and the retry applies every change
// exactly once.
func TestScriptErrorsAreTransient(t *testing.T) {
	for _, msg := range []string{
		"OOM command not allowed when used memory > 'maxmemory'.",
		"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
		"LOADING Redis is loading the dataset in memory",
		"READONLY You can't write against a read only replica.",
	} {
		for _, ran := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ran=%v", strings.Fields(msg)[0], ran), func(t *testing.T) {
				redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
					s, h := hooked(t, c, redisview.Config{DocsPerCall: 2})
					h.set(!ran, func(cmd *redis.Cmd) { cmd.SetErr(errors.New(msg)) })
					changes := errorBatch()
					_, err := s.Apply(context.Background(), 1, changes)
					var be *batch.Error
					if err == nil || errors.As(err, &be) || !strings.Contains(err.Error(), strings.Fields(msg)[0]) {
						t.Fatalf("Apply = %v; want the %s error as it is, transient", err, strings.Fields(msg)[0])
					}
					h.set(false, nil)
					want := productview.Result{Applied: len(changes)}
					if ran {
						want = productview.Result{Duplicates: len(changes)}
					}
					if res, err := s.Apply(context.Background(), 1, changes); err != nil || res != want {
						t.Fatalf("retry: Apply = %+v, %v; want %+v", res, err, want)
					}
					wantStored(t, s, "a", "b", "c")
				})
			})
		}
	}
}

// A script reply that Apply cannot read is permanent for the documents of
// that call only: their changes are named, the others applied.
func TestUnreadableReplyIsPermanent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply any
	}{
		{"string", "surprise"},
		{"too many applied", int64(99)},
		{"negative", int64(-1)},
		{"malformed array", []any{int64(1), "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
				s, h := hooked(t, c, redisview.Config{DocsPerCall: 1})
				h.set(false, func(cmd *redis.Cmd) {
					if slices.ContainsFunc(cmd.Args(), func(a any) bool { s, _ := a.(string); return strings.HasSuffix(s, "{b}") }) {
						cmd.SetVal(tc.reply)
						cmd.SetErr(nil)
					}
				})
				changes := errorBatch()
				_, err := s.Apply(context.Background(), 1, changes)
				var at []int
				for i, ch := range changes {
					if ch.ID == "b" {
						at = append(at, i)
					}
				}
				if got := batch.PermanentAt(err); !slices.Equal(got, at) || !errors.Is(err, productview.ErrCorrupt) {
					t.Fatalf("Apply = %v (permanent %v); want b's changes %v named permanent, ErrCorrupt", err, got, at)
				}
				wantStored(t, s, "a", "c")
				// Re-driving b's dead letters is safe: the script did run.
				h.set(false, nil)
				if res, err := s.Apply(context.Background(), 1, changes); err != nil || res != (productview.Result{Duplicates: len(changes)}) {
					t.Fatalf("again: Apply = %+v, %v; want all duplicates", res, err)
				}
				wantStored(t, s, "a", "b", "c")
			})
		})
	}
}

// A counter field that HINCRBY cannot add to (not an int64) refuses its
// document for good, before
// any of its writes: Apply applies every other document and names that
// document's changes permanent (to be dead-lettered), instead of failing
// the whole call again on every retry and blocking its partition. Once the
// field is mended, re-driving the dead letters applies them.
func TestBadCounterIsPermanent(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"not a number", "abc"},
		{"a float", "1.5"},
		{"past int64", "9223372036854775808"},
		{"leading zero", "007"},
		{"minus zero", "-0"}, // Redis's HINCRBY refuses it too
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
				ctx := context.Background()
				s := redistest.NewStoreConfig(t, c, redisview.Config{DocsPerCall: 2})
				if err := c.HSet(ctx, s.Key(1, "b"), "n", tc.value).Err(); err != nil {
					t.Fatal(err)
				}
				changes := errorBatch()
				res, err := s.Apply(ctx, 1, changes)
				var at []int
				for i, ch := range changes {
					if ch.ID == "b" {
						at = append(at, i)
					}
				}
				if got := batch.PermanentAt(err); !slices.Equal(got, at) || !strings.Contains(err.Error(), "counter field n") {
					t.Fatalf("Apply = %+v, %v (permanent %v); want b's changes %v named permanent for counter field n", res, err, got, at)
				}
				wantStored(t, s, "a", "c")
				if got, _ := c.HGetAll(ctx, s.Key(1, "b")).Result(); len(got) != 1 || got["n"] != tc.value {
					t.Fatalf("b's hash = %v: want it untouched", got)
				}
				if err := c.HDel(ctx, s.Key(1, "b"), "n").Err(); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Apply(ctx, 1, changes); err != nil {
					t.Fatalf("after mending the field: %v", err)
				}
				wantStored(t, s, "a", "b", "c")
			})
		})
	}
}
