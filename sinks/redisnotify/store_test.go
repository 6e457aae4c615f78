package redisnotify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// forEachStore runs f on a store under a prefix of its own on each server
// of redistest.ForEachBackend: miniredis, the real server and the real Redis
// Cluster (every key shares the hash tag {n}, so each script and
// transaction stays in one slot). The prefix's keys go at cleanup.
func forEachStore(t *testing.T, f func(t *testing.T, s *Store)) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		prefix := "t:" + testenv.Name("notify") + ":"
		t.Cleanup(func() {
			if _, err := redistest.DeleteKeys(context.Background(), c, prefix+"*"); err != nil {
				t.Logf("cleanup of %s: %v", prefix, err)
			}
		})
		f(t, New(c, prefix))
	})
}

func note(sub, wid string, offset int64) notifier.Notification {
	return notifier.Notification{WebhookID: wid, SubscriptionID: sub, ProductID: "p", URL: "http://127.0.0.1/", Offset: offset, Body: []byte(`{}`)}
}

func TestQueue(t *testing.T) { forEachStore(t, testQueue) }

func testQueue(t *testing.T, s *Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_000_000)

	// Queued in offset order, whatever the order of Enqueue; once only.
	n, err := s.Enqueue(ctx, []notifier.Notification{note("a", "w2", 20), note("a", "w1", 10), note("b", "x1", 5), note("a", "w1", 10)}, t0)
	if err != nil || n != 3 {
		t.Fatalf("Enqueue = %d, %v; want 3 new", n, err)
	}
	subs, err := s.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(subs) != 2 {
		t.Fatalf("Claim = %v, %v; want a and b", subs, err)
	}
	if again, _ := s.Claim(ctx, t0.Add(time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed again during the lease: %v", again)
	}
	head, _, ok, err := s.Head(ctx, "a")
	if err != nil || !ok || head.WebhookID != "w1" {
		t.Fatalf("Head(a) = %+v, %v, %v; want w1", head, ok, err)
	}

	// A failed attempt parks a until its due time; its attempts stay with
	// its head.
	a := notifier.Attempts{Count: 1, First: t0, LastError: "503"}
	if err := s.Failed(ctx, head, a, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Claim(ctx, t0.Add(5*time.Second), time.Minute, 10); len(due) != 0 {
		t.Fatalf("parked subscription claimed early: %v", due)
	}
	if due, _ := s.Claim(ctx, t0.Add(10*time.Second), time.Minute, 10); len(due) != 1 || due[0] != "a" {
		t.Fatalf("parked subscription not due: %v", due)
	}
	_, got, _, _ := s.Head(ctx, "a")
	if got.Count != 1 || got.WebhookID != "w1" {
		t.Fatalf("attempts %+v, want the stored one", got)
	}

	// Delivered: dequeued and never queued again, even by a replay.
	if err := s.Delivered(ctx, head, t0); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Enqueue(ctx, []notifier.Notification{note("a", "w1", 10)}, t0); n != 0 {
		t.Fatalf("a delivered Webhook-Id was queued again")
	}
	head, got, _, _ = s.Head(ctx, "a")
	if head.WebhookID != "w2" || got.Count != 0 {
		t.Fatalf("next head %s with attempts %+v, want w2 with none", head.WebhookID, got)
	}
	if err := s.DeadLettered(ctx, head, t0, true); err != nil {
		t.Fatal(err)
	}
	if gone, _ := s.IsGone(ctx, "a"); !gone {
		t.Fatal("a not gone after a 410")
	}
	if n, _ := s.Enqueue(ctx, []notifier.Notification{note("a", "w2", 20)}, t0); n != 0 {
		t.Fatalf("a dead-lettered Webhook-Id was queued again")
	}
	// An empty queue is released for good; a non-empty one is due again.
	if err := s.Release(ctx, "a", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "b", t0); err != nil {
		t.Fatal(err)
	}
	due, _ := s.Claim(ctx, t0.Add(time.Hour), time.Minute, 10)
	if len(due) != 1 || due[0] != "b" {
		t.Fatalf("due after release: %v, want b only", due)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Queued != 1 || st.Delivered != 1 || st.DeadLettered != 1 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}

func TestSubscriptions(t *testing.T) { forEachStore(t, testSubscriptions) }

func testSubscriptions(t *testing.T, s *Store) {
	ctx := context.Background()
	a := notifier.Subscription{ID: "a", ProductID: "p", URL: "u", Events: []string{"priceDrop"}, Secret: "k", Created: 3, Deleted: -1}
	if err := s.Save(ctx, []notifier.Subscription{a}); err != nil {
		t.Fatal(err)
	}
	a.Deleted = 9
	if err := s.Save(ctx, []notifier.Subscription{a}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Subscriptions(ctx, []string{"p", "q"})
	if err != nil || len(got["p"]) != 1 || got["p"][0].Deleted != 9 || len(got["q"]) != 0 {
		t.Fatalf("Subscriptions = %+v, %v", got, err)
	}
}

// TestExpectGuardsEnqueueAndClaim: with Expect, Enqueue and Claim change
// nothing and answer notifier.ErrStoreLost once the mark is gone (its
// keys deleted here, as a Redis that lost its data) or another; the
// notifier reading its log again over an emptied store then queues and
// sends nothing before its record is back (it resent 2,433 delivered
// notifications at a second loss during such a read).
func TestExpectGuardsEnqueueAndClaim(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.UnixMilli(2_000_000)
		if err := s.SetMark(ctx, "e1"); err != nil {
			t.Fatal(err)
		}
		s.Expect("e1")
		if n, err := s.Enqueue(ctx, []notifier.Notification{note("s1", "w1", 1)}, now); err != nil || n != 1 {
			t.Fatalf("Enqueue under the expected mark = %d, %v", n, err)
		}
		if subs, err := s.Claim(ctx, now, time.Minute, 5); err != nil || len(subs) != 1 {
			t.Fatalf("Claim under the expected mark = %v, %v", subs, err)
		}

		// The store's keys gone, the mark with them.
		if _, err := redistest.DeleteKeys(ctx, s.c, s.p+"*"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Enqueue(ctx, []notifier.Notification{note("s1", "w2", 2), note("s2", "w3", 3)}, now); !errors.Is(err, notifier.ErrStoreLost) || n != 0 {
			t.Errorf("Enqueue after the loss = %d, %v; want notifier.ErrStoreLost", n, err)
		}
		if subs, err := s.Claim(ctx, now.Add(time.Hour), time.Minute, 5); !errors.Is(err, notifier.ErrStoreLost) || len(subs) != 0 {
			t.Errorf("Claim after the loss = %v, %v; want notifier.ErrStoreLost", subs, err)
		}
		if st, err := s.Stats(ctx); err != nil || st.Queued != 0 || st.Subscriptions != 0 {
			t.Errorf("after the refused Enqueue: %+v, %v; want nothing queued", st, err)
		}
		if err := s.SetMark(ctx, "e0"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Enqueue(ctx, []notifier.Notification{note("s1", "w2", 2)}, now); !errors.Is(err, notifier.ErrStoreLost) {
			t.Errorf("Enqueue under another mark = %v; want notifier.ErrStoreLost", err)
		}

		// Made whole again under a new mark.
		if err := s.SetMark(ctx, "e2"); err != nil {
			t.Fatal(err)
		}
		s.Expect("e2")
		if n, err := s.Enqueue(ctx, []notifier.Notification{note("s1", "w2", 2)}, now); err != nil || n != 1 {
			t.Errorf("Enqueue under the new mark = %d, %v", n, err)
		}
		s.Expect("")
		if _, err := redistest.DeleteKeys(ctx, s.c, s.p+"mark"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Enqueue(ctx, []notifier.Notification{note("s3", "w4", 4)}, now); err != nil || n != 1 {
			t.Errorf("Enqueue without Expect = %d, %v", n, err)
		}
	})
}

// TestSwapMark: the mark moves from one value to another only if it still
// holds the first: a store emptied since holds none.
func TestSwapMark(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if ok, err := s.SwapMark(ctx, "restoring 1", "e1"); err != nil || ok {
			t.Fatalf("SwapMark without a mark = %v, %v; want false", ok, err)
		}
		if err := s.SetMark(ctx, "restoring 1"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.SwapMark(ctx, "restoring 2", "e1"); err != nil || ok {
			t.Fatalf("SwapMark from another value = %v, %v; want false", ok, err)
		}
		if ok, err := s.SwapMark(ctx, "restoring 1", "e1"); err != nil || !ok {
			t.Fatalf("SwapMark = %v, %v; want true", ok, err)
		}
		if m, err := s.Mark(ctx); err != nil || m != "e1" {
			t.Fatalf("Mark after the swap = %q, %v; want e1", m, err)
		}
	})
}

// TestFinishAsDeliveredAndDeadLettered: Finish, the journal's read-back in
// one pipeline, leaves the store as Delivered and DeadLettered called one
// by one in the same order: queues emptied of what finished, attempts
// dropped, a Webhook-Id finished twice holding its last record, a gone
// subscription its first.
func TestFinishAsDeliveredAndDeadLettered(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		one := New(s.c, s.p[:len(s.p)-len("{n}:")]+"one:")
		t.Cleanup(func() { redistest.DeleteKeys(context.Background(), s.c, one.p+"*") })
		t0 := time.UnixMilli(3_000_000)
		fs := []Finished{
			{WebhookID: "w1", SubscriptionID: "a", At: t0},
			{WebhookID: "x1", SubscriptionID: "b", At: t0, Dead: true},
			{WebhookID: "w0", SubscriptionID: "a", At: t0.Add(time.Second)}, // never queued here
			{WebhookID: "w1", SubscriptionID: "a", At: t0.Add(2 * time.Second)},
			{WebhookID: "y1", SubscriptionID: "c", At: t0.Add(3 * time.Second), Dead: true, Gone: true},
			{WebhookID: "gone:c", SubscriptionID: "c", At: t0.Add(4 * time.Second), Dead: true, Gone: true},
		}
		for _, st := range []*Store{s, one} {
			queue := []notifier.Notification{note("a", "w1", 1), note("a", "w2", 2), note("b", "x1", 3), note("c", "y1", 4), note("d", "z1", 5)}
			if _, err := st.Enqueue(ctx, queue, t0); err != nil {
				t.Fatal(err)
			}
			for _, n := range []notifier.Notification{queue[0], queue[2], queue[4]} {
				if err := st.Failed(ctx, n, notifier.Attempts{Count: 1, First: t0}, t0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Finish(ctx, fs); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			n := notifier.Notification{WebhookID: f.WebhookID, SubscriptionID: f.SubscriptionID}
			var err error
			if f.Dead {
				err = one.DeadLettered(ctx, n, f.At, f.Gone)
			} else {
				err = one.Delivered(ctx, n, f.At)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		got, want := dumpStore(t, s), dumpStore(t, one)
		if len(want) == 0 || got != want {
			t.Errorf("after Finish:\n%s\nafter Delivered and DeadLettered:\n%s", got, want)
		}
	})
}

// dumpStore is what the keys a notification's record touches hold.
func dumpStore(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	for _, k := range []string{"done", "dead", "gone", "msg", "try", "due", "out:a", "out:b", "out:c", "out:d"} {
		var v any
		var err error
		switch typ, _ := s.c.Type(ctx, s.p+k).Result(); typ {
		case "hash":
			v, err = s.c.HGetAll(ctx, s.p+k).Result()
		case "zset":
			v, err = s.c.ZRangeWithScores(ctx, s.p+k, 0, -1).Result()
		default:
			v = typ
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s %v", k, v))
	}
	return strings.Join(lines, "\n")
}

func TestTrim(t *testing.T) { forEachStore(t, testTrim) }

// testTrim: a trim forgets only the Webhook-Ids finished before its cut,
// from both hashes, handing each batch to its callback while the store
// still has it; a callback that fails forgets nothing; a gone
// subscription's entry is never trimmed; trimming again finds nothing.
func testTrim(t *testing.T, s *Store) {
	ctx := context.Background()
	cut := time.UnixMilli(1_800_000_000_000)
	old, recent := cut.Add(-time.Millisecond), cut
	for _, c := range []struct {
		wid  string
		at   time.Time
		dead bool
		gone bool
	}{{"e1.s1", old, false, false}, {"e2.s1", recent, false, false}, {"e3.s2", old, true, false},
		{"e4.s2", recent, true, false}, {"e5.s3", old, true, true}} {
		_, sub, _ := strings.Cut(c.wid, ".")
		n := note(sub, c.wid, 1)
		var err error
		if c.dead {
			err = s.DeadLettered(ctx, n, c.at, c.gone)
		} else {
			err = s.Delivered(ctx, n, c.at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(ctx, []Finished{{WebhookID: GonePrefix + "s9", SubscriptionID: "s9", At: old, Dead: true, Gone: true}}); err != nil {
		t.Fatal(err)
	}

	// A callback that fails: nothing forgotten.
	fail := errors.New("journal down")
	if n, err := s.TrimFunc(ctx, cut, func(context.Context, []Finished) error { return fail }); !errors.Is(err, fail) || n != 0 {
		t.Fatalf("TrimFunc with a failing callback = %d, %v; want 0, %v", n, err, fail)
	}
	if st, _ := s.Stats(ctx); st.Delivered != 2 || st.DeadLettered != 4 {
		t.Fatalf("after a failed trim: %+v, want everything kept", st)
	}

	got := map[string]Finished{}
	n, err := s.TrimFunc(ctx, cut, func(ctx context.Context, fs []Finished) error {
		for _, f := range fs {
			got[f.WebhookID] = f
			key := "done"
			if f.Dead {
				key = "dead"
			}
			if ok, err := s.c.HExists(ctx, s.key(key), f.WebhookID).Result(); err != nil || !ok {
				t.Errorf("%s handed to the callback after the store forgot it (%v)", f.WebhookID, err)
			}
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("TrimFunc = %d, %v; want 3", n, err)
	}
	want := map[string]Finished{
		"e1.s1": {WebhookID: "e1.s1", SubscriptionID: "s1", At: old},
		"e3.s2": {WebhookID: "e3.s2", SubscriptionID: "s2", At: old, Dead: true},
		"e5.s3": {WebhookID: "e5.s3", SubscriptionID: "s3", At: old, Dead: true, Gone: true},
	}
	if len(got) != len(want) {
		t.Errorf("callback got %v, want %v", got, want)
	}
	for id, w := range want {
		if g := got[id]; g.SubscriptionID != w.SubscriptionID || !g.At.Equal(w.At) || g.Dead != w.Dead || g.Gone != w.Gone {
			t.Errorf("callback got %+v, want %+v", g, w)
		}
	}
	if st, _ := s.Stats(ctx); st.Delivered != 1 || st.DeadLettered != 2 {
		t.Errorf("after the trim: %+v, want e2.s1 delivered, e4.s2 and gone:s9 dead-lettered", st)
	}
	if _, ok, _ := s.DeliveredAt(ctx, "e2.s1"); !ok {
		t.Error("e2.s1, finished at the cut, was trimmed")
	}
	if gone, _ := s.IsGone(ctx, "s3"); !gone {
		t.Error("a trim forgot that s3 is gone")
	}
	// What was trimmed can be queued again (the notifier never does: its
	// event is past the horizon); what was kept cannot.
	if q, err := s.Enqueue(ctx, []notifier.Notification{note("s1", "e1.s1", 5), note("s1", "e2.s1", 6)}, cut); err != nil || q != 1 {
		t.Errorf("Enqueue after the trim queued %d, %v; want only e1.s1", q, err)
	}
	if n, err := s.Trim(ctx, cut); err != nil || n != 0 {
		t.Errorf("a second trim = %d, %v; want 0", n, err)
	}
}

func TestDrop(t *testing.T) { forEachStore(t, testDrop) }

// A subscription is read back by its product and ID; Drop dequeues a
// notification and records it nowhere (a deleted subscription's).
func testDrop(t *testing.T, s *Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_000_000)
	if _, ok, err := s.Subscription(ctx, "p", "a"); ok || err != nil {
		t.Fatalf("Subscription of nothing stored = %v, %v; want none", ok, err)
	}
	deleted := notifier.Subscription{ID: "a", ProductID: "p", URL: "http://127.0.0.1/", Events: []string{"priceDrop"}, Created: 1, Deleted: 7}
	if err := s.Save(ctx, []notifier.Subscription{deleted}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Subscription(ctx, "p", "a")
	if err != nil || !ok || got.Deleted != 7 || got.Created != 1 || got.URL != deleted.URL {
		t.Fatalf("Subscription = %+v, %v, %v; want %+v", got, ok, err, deleted)
	}
	if _, ok, _ := s.Subscription(ctx, "other", "a"); ok {
		t.Fatal("Subscription found under another product")
	}
	if _, err := s.Enqueue(ctx, []notifier.Notification{note("a", "w1", 2), note("a", "w2", 3)}, t0); err != nil {
		t.Fatal(err)
	}
	head, _, _, _ := s.Head(ctx, "a")
	if err := s.Failed(ctx, head, notifier.Attempts{Count: 1, First: t0}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, wid := range []string{"w1", "w2"} {
		head, _, ok, err := s.Head(ctx, "a")
		if err != nil || !ok || head.WebhookID != wid {
			t.Fatalf("Head = %s, %v, %v; want %s", head.WebhookID, ok, err, wid)
		}
		if err := s.Drop(ctx, head); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, ok, _ := s.Head(ctx, "a"); ok {
		t.Fatal("a notification left after dropping both")
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Queued != 0 || st.Delivered != 0 || st.DeadLettered != 0 {
		t.Fatalf("Stats = %+v, %v; want nothing queued or recorded", st, err)
	}
	if err := s.Release(ctx, "a", t0); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Claim(ctx, t0.Add(time.Hour), time.Minute, 10); len(due) != 0 {
		t.Fatalf("due after its queue was dropped: %v", due)
	}
}
