package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview/redistest"
	"github.com/streamview/streamview/topics"
)

// horizonJournal is a kfake cluster with a journal topic, a stack on it
// and a journal writing to it.
func horizonJournal(t *testing.T) (stack, *kafkaJournal) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	st := stack{brokers: cluster.ListenAddrs(), logger: slog.New(slog.DiscardHandler)}
	kj, err := newKafkaJournal(st, "journal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kj.Close() })
	return st, kj
}

// journalRecords reads the whole journal topic, in order.
func journalRecords(t *testing.T, st stack, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(st.kafkaOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := topics.Spans(ctx, kadm.NewClient(cl), topic)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []*kgo.Record
	if err := topics.ReadBounded(ctx, st.kafkaOpts(), topic, spans, func(recs []*kgo.Record) error {
		out = append(out, recs...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// failingJournal refuses to forget.
type failingJournal struct{ journal }

func (failingJournal) forget(context.Context, []string) error { return errors.New("journal down") }

// A trim of the journaled store writes a tombstone for each Webhook-Id it
// trims to the Kafka journal before the store forgets it (a journal that
// cannot forget leaves the store whole), and an entry of its own for a
// gone subscription among them; what is newer than the cut stays in both.
func TestJournaledStoreTrim(t *testing.T) {
	ctx := context.Background()
	st, kj := horizonJournal(t)
	store := redisnotify.New(redistest.Miniredis(t), "")
	cut := time.Now().Add(-8 * 24 * time.Hour)
	old, recent := cut.Add(-time.Hour), cut.Add(time.Hour)

	failing := &journaledStore{Store: store, j: failingJournal{kj}}
	j := &journaledStore{Store: store, j: kj}
	for _, c := range []struct {
		wid        string
		at         time.Time
		dead, gone bool
	}{{"e1.s1", old, false, false}, {"e2.s1", recent, false, false}, {"e3.s2", old, true, true}, {"e4.s3", recent, true, false}} {
		_, sub, _ := strings.Cut(c.wid, ".")
		n := notifier.Notification{WebhookID: c.wid, SubscriptionID: sub}
		var err error
		if c.dead {
			err = j.DeadLettered(ctx, n, c.at, c.gone)
		} else {
			err = j.Delivered(ctx, n, c.at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	if n, err := failing.Trim(ctx, cut); err == nil || n != 0 {
		t.Fatalf("Trim with a journal that cannot forget = %d, %v; want 0 and its error", n, err)
	}
	if s, _ := store.Stats(ctx); s.Delivered != 2 || s.DeadLettered != 2 {
		t.Fatalf("after a trim whose journal failed the store holds %+v, want all 4", s)
	}
	if n, err := j.Trim(ctx, cut); err != nil || n != 2 {
		t.Fatalf("Trim = %d, %v; want 2 (e1.s1, e3.s2)", n, err)
	}
	if s, _ := store.Stats(ctx); s.Delivered != 1 || s.DeadLettered != 1 {
		t.Errorf("after the trim the store holds %+v, want e2.s1 and e4.s3", s)
	}

	// The journal: the four entries, then a tombstone for each Webhook-Id
	// trimmed, the gone subscription's entry before its own.
	recs := journalRecords(t, st, "journal")
	var keys []string
	for _, r := range recs[min(4, len(recs)):] {
		k := string(r.Key)
		if r.Value == nil {
			k += " (tombstone)"
		}
		keys = append(keys, k)
	}
	want := "e1.s1 (tombstone) gone:s2 e3.s2 (tombstone)"
	if len(recs) != 7 || strings.Join(keys, " ") != want {
		t.Errorf("the journal after the four entries holds %q (%d records), want %q", keys, len(recs), want)
	}

	// Read back into an empty store with the same cut: only what is newer,
	// and the gone subscription.
	restored := redisnotify.New(redistest.Miniredis(t), "")
	n, err := restoreJournal(ctx, st, "journal", restored, cut)
	if err != nil || n != 4 {
		t.Fatalf("restoreJournal = %d, %v; want 4 (e2.s1, e4.s3, gone:s2 from e3.s2's expired entry and from its own)", n, err)
	}
	for wid, want := range map[string]bool{"e1.s1": false, "e2.s1": true} {
		if _, ok, err := restored.DeliveredAt(ctx, wid); err != nil || ok != want {
			t.Errorf("%s restored = %v (%v), want %v", wid, ok, err, want)
		}
	}
	if gone, _ := restored.IsGone(ctx, "s2"); !gone {
		t.Error("the read-back lost that s2 is gone")
	}
}

// A read-back of the Kafka journal skips the entries finished before its
// cut and the tombstones; an expired entry that says its subscription is
// gone gives the subscription's entry. The zero cut keeps every entry.
func TestRestoreJournalSkipsExpired(t *testing.T) {
	ctx := context.Background()
	st, kj := horizonJournal(t)
	cut := time.Now().Add(-8 * 24 * time.Hour).Truncate(time.Millisecond)
	old, recent := cut.Add(-time.Millisecond).UnixMilli(), cut.UnixMilli()
	for _, e := range []journalEntry{
		{Kind: "delivered", WebhookID: "e1.s1", SubscriptionID: "s1", At: old},
		{Kind: "delivered", WebhookID: "e2.s1", SubscriptionID: "s1", At: recent},
		{Kind: "dead", WebhookID: "e3.s2", SubscriptionID: "s2", At: old, Gone: true},
		{Kind: "delivered", WebhookID: "e5.s1", SubscriptionID: "s1", At: recent},
	} {
		if err := kj.append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := kj.forget(ctx, []string{"e5.s1", "e9.s9"}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name      string
		cut       time.Time
		n         int
		delivered map[string]bool
	}{
		{"with a cut", cut, 3, map[string]bool{"e1.s1": false, "e2.s1": true, "e3.s2": false, "gone:s2": false}},
		{"without", time.Time{}, 4, map[string]bool{"e1.s1": true, "e2.s1": true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := redisnotify.New(redistest.Miniredis(t), "")
			n, err := restoreJournal(ctx, st, "journal", store, c.cut)
			if err != nil || n != c.n {
				t.Fatalf("restoreJournal = %d, %v; want %d", n, err, c.n)
			}
			for wid, want := range c.delivered {
				if _, ok, err := store.DeliveredAt(ctx, wid); err != nil || ok != want {
					t.Errorf("%s delivered = %v (%v), want %v", wid, ok, err, want)
				}
			}
			if gone, _ := store.IsGone(ctx, "s2"); !gone {
				t.Error("s2 is not gone after the read-back")
			}
			var dead []string
			store.Records(ctx, func(kind, id string, _ int64) error {
				if kind == "dead" {
					dead = append(dead, id)
				}
				return nil
			})
			want := "e3.s2"
			if !c.cut.IsZero() {
				want = "gone:s2"
			}
			if strings.Join(dead, " ") != want {
				t.Errorf("dead-lettered after the read-back: %q, want %q", dead, want)
			}
		})
	}
}

// dev's file journal: a read-back with a cut skips the entries finished
// before it, keeps a gone subscription, and writes the file again
// without them; the next start reads the same.
func TestFileJournalSkipsExpired(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notifier-journal")
	cut := time.Now().Add(-8 * 24 * time.Hour).Truncate(time.Millisecond)
	old, recent := cut.Add(-time.Millisecond), cut
	j, _, err := openJournal(ctx, path, redisnotify.New(redistest.Miniredis(t), ""), nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		wid, sub string
		at       time.Time
		dead     bool
	}{{"e1.s1", "s1", old, false}, {"e2.s1", "s1", recent, false}, {"e3.s2", "s2", old, true}} {
		n := notifier.Notification{WebhookID: c.wid, SubscriptionID: c.sub}
		if c.dead {
			err = j.DeadLettered(ctx, n, c.at, true)
		} else {
			err = j.Delivered(ctx, n, c.at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	before, _ := os.ReadFile(path)

	for i := range 2 {
		store := redisnotify.New(redistest.Miniredis(t), "")
		j, n, err := openJournal(ctx, path, store, nil, cut)
		if err != nil || n != 2 {
			t.Fatalf("start %d: reading the journal = %d, %v; want 2 (e2.s1, gone:s2)", i, n, err)
		}
		j.Close()
		if _, ok, _ := store.DeliveredAt(ctx, "e1.s1"); ok {
			t.Errorf("start %d: e1.s1, before the cut, read back", i)
		}
		if _, ok, _ := store.DeliveredAt(ctx, "e2.s1"); !ok {
			t.Errorf("start %d: e2.s1, at the cut, not read back", i)
		}
		if gone, _ := store.IsGone(ctx, "s2"); !gone {
			t.Errorf("start %d: s2 not gone", i)
		}
	}
	after, _ := os.ReadFile(path)
	if strings.Contains(string(after), "e1.s1") || strings.Contains(string(after), "e3.s2") || !strings.Contains(string(after), "gone:s2") ||
		strings.Count(string(after), "\n") != 2 {
		t.Errorf("the journal file after a read-back with a cut:\n%s\nwant e2.s1's and gone:s2's lines only (it was:\n%s)", after, before)
	}
}

// --horizon must exceed --dead-letter-after plus the clock skew margin,
// and the error names both flags; 0 turns it off.
func TestNotifyFlagsHorizon(t *testing.T) {
	for _, c := range []struct {
		name          string
		horizon, dead time.Duration
		bad           string
	}{
		{"the defaults", defaultHorizon, 24 * time.Hour, ""},
		{"off", 0, 24 * time.Hour, ""},
		{"too short", 25 * time.Hour, 24 * time.Hour, "--horizon 25h0m0s must exceed --dead-letter-after 24h0m0s plus 1h0m0s"},
		// 0 is the default: the message says the value checked.
		{"too short for the default", 2 * time.Hour, 0, "--horizon 2h0m0s must exceed --dead-letter-after 24h0m0s (the default for 0) plus 1h0m0s"},
		{"negative", -time.Hour, 24 * time.Hour, "--horizon -1h0m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := notifyFlags{workers: 1, horizon: c.horizon, deadAfter: c.dead}
			err := f.check()
			if c.bad == "" && err != nil {
				t.Errorf("check = %v, want nil", err)
			}
			if c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
				t.Errorf("check = %v, want an error with %q", err, c.bad)
			}
		})
	}
}

// The notifier's flag errors name the flags and the values in effect,
// through the command (notify; serve and dev run the same check), and
// --dead-letter-after's help says what 0 means.
func TestNotifyFlagErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a horizon within the default dead-letter time", []string{"--dead-letter-after", "0", "--horizon", "2h"},
			"--horizon 2h0m0s must exceed --dead-letter-after 24h0m0s (the default for 0) plus 1h0m0s"},
		{"retry bounds the wrong way round", []string{"--retry-min", "10s", "--retry-max", "1s"},
			"--retry-min 10s must not exceed --retry-max 1s"},
		{"retry bounds the wrong way round with the horizon off", []string{"--retry-min", "10s", "--retry-max", "1s", "--horizon", "0"},
			"--retry-min 10s must not exceed --retry-max 1s"},
		{"lease under twice the timeout", []string{"--lease", "15s"}, "--lease 15s must be at least twice --timeout 10s"},
		{"lease under twice a timeout given", []string{"--lease", "30s", "--timeout", "20s"}, "--lease 30s must be at least twice --timeout 20s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"notify"}, c.args...), nil, &out, &out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("notify %s = %v, want an error with %q\n%s", strings.Join(c.args, " "), err, c.want, out.String())
			}
		})
	}
	var out bytes.Buffer
	_ = run(t.Context(), []string{"notify", "--help"}, nil, &out, &out)
	if !strings.Contains(out.String(), "dead-lettered; 0 means the default") {
		t.Errorf("notify --help does not say what --dead-letter-after 0 means:\n%s", out.String())
	}
}
