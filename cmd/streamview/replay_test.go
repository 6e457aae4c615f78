package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// lostRedis is a deployment whose Redis lost its data while serve was
// down: the events on an embedded broker, groups of product-view's
// generations that had read them, and an empty Redis.
type lostRedis struct {
	st     stack
	adm    *kadm.Client
	views  *redisview.Store
	codec  *schemas.Codec
	conn   []string
	events int64
}

// newLostRedis commits, for each generation of read, that fraction of
// every partition's end offset in its group.
func newLostRedis(t *testing.T, read map[int]float64) *lostRedis {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	events := eventgen.Stream(eventgen.Options{Products: 30, Events: 300, Seed: 5})
	d := &lostRedis{events: int64(len(events))}
	d.codec = publishTo(t, brokers, testenv.TopicNamed(t, brokers, topics.Events, 3), events)
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	d.adm = kadm.NewClient(cl)
	if d.views, err = redisview.New(rc, redisview.Config{Projection: productview.Name}); err != nil {
		t.Fatal(err)
	}
	d.st = stack{brokers: brokers, redis: rc, logger: slog.New(slog.DiscardHandler)}
	d.conn = []string{"--brokers", brokers[0], "--redis", mr.Addr(), "--log-level", "warn"}
	ends, err := d.adm.ListEndOffsets(t.Context(), topics.Events)
	if err != nil {
		t.Fatal(err)
	}
	for gen, part := range read {
		offsets := ends.Offsets()
		for topic, ps := range offsets {
			for p, o := range ps {
				o.At = int64(float64(o.At) * part)
				offsets[topic][p] = o
			}
		}
		if err := d.adm.CommitAllOffsets(t.Context(), processors.GroupName(productview.Name, gen), offsets); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// behind is how many records generation gen's group has left to read.
func (d *lostRedis) behind(t *testing.T, gen int) int64 {
	t.Helper()
	lag, err := processors.Lag(t.Context(), d.adm, processors.GroupName(productview.Name, gen), topics.Events)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, l := range lag {
		n += l.Lag
	}
	return n
}

// groups are the generations of product-view that have a group.
func (d *lostRedis) groups(t *testing.T) []string {
	t.Helper()
	listed, err := d.adm.ListGroups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var gs []string
	for _, g := range listed.Groups() {
		if _, ok := generationOf(productview.Name, g); ok {
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	return gs
}

// serveStart is the generation of product-view that serve's start runs:
// its check for a Redis that lost its data, then viewGeneration.
func (d *lostRedis) serveStart(t *testing.T) int {
	t.Helper()
	st := d.st
	st.loss = &lossCheck{views: d.views, projections: []string{productview.Name}}
	if err := st.loss.run(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	gen, err := viewGeneration(t.Context(), st, d.views)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// TestReplayAfterRedisLostItsData: with Redis emptied while serve was
// down, `streamview projections` and `streamview replay` name the
// generation serve's next start runs, the newest that had read the log
// (3 after two rebuilds), and the replay resets that one's group and
// leaves serve running it. Both said generation 1, and the replay reset
// g1's group, which nothing used, while serve read g3 again (audit on real
// servers). With no generation read, the first start's g1 is kept; and
// the groups of older generations (a live g7 whose rebuild to g8 was
// stopped) are deleted, not left behind.
func TestReplayAfterRedisLostItsData(t *testing.T) {
	for _, tc := range []struct {
		name    string
		read    map[int]float64
		gen     int
		note    string // in `streamview projections`
		dry     string // in replay --dry-run's output
		dropped []string
	}{
		{name: "after two rebuilds", read: map[int]float64{3: 1}, gen: 3,
			note: "the projector's next start reads the log again into g3",
			dry:  "the projector's next start reads the log again into generation 3"},
		{name: "first start", gen: 1,
			note: "the projector's first start makes g1",
			dry:  "the projector's next start makes generation 1 live"},
		{name: "a rebuild stopped", read: map[int]float64{7: 1, 8: 0.5}, gen: 8,
			note:    "the projector's next start reads the log again into g8",
			dry:     "would delete the groups of older generations, which nothing runs again: streamview.product-view.g7",
			dropped: []string{processors.GroupName(productview.Name, 7)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newLostRedis(t, tc.read)
			group := processors.GroupName(productview.Name, tc.gen)
			out, err := runCmd(t, append([]string{"projections", "--projections", productview.Name, "--sample", "0"}, d.conn...)...)
			if err != nil || !strings.Contains(out, tc.note) {
				t.Fatalf("projections: %v; want %q in\n%s", err, tc.note, out)
			}
			groups := d.groups(t)
			behind := d.behind(t, tc.gen)
			out, err = runCmd(t, append([]string{"replay", "--projection", productview.Name, "--dry-run"}, d.conn...)...)
			want := fmt.Sprintf("replay product-view: generation %d (group %s) (dry run: nothing changed)", tc.gen, group)
			if err != nil || !strings.Contains(out, want) || !strings.Contains(out, tc.dry) {
				t.Fatalf("replay --dry-run: %v; want %q and %q in\n%s", err, want, tc.dry, out)
			}
			if g, b := d.groups(t), d.behind(t, tc.gen); !slices.Equal(g, groups) || b != behind {
				t.Fatalf("after the dry run: groups %v, %s %d behind; want %v, %d", g, group, b, groups, behind)
			}

			out, err = runCmd(t, append([]string{"replay", "--projection", productview.Name}, d.conn...)...)
			if err != nil || !strings.Contains(out, fmt.Sprintf("generation %d (group %s)\n", tc.gen, group)) {
				t.Fatalf("replay: %v\n%s", err, out)
			}
			if b := d.behind(t, tc.gen); b != d.events {
				t.Fatalf("after the replay %s is %d records behind, want the whole log, %d", group, b, d.events)
			}
			wantGroups := slices.DeleteFunc(slices.Clone(groups), func(g string) bool { return slices.Contains(tc.dropped, g) })
			if !slices.Contains(wantGroups, group) {
				wantGroups = append(wantGroups, group)
				slices.Sort(wantGroups)
			}
			if g := d.groups(t); !slices.Equal(g, wantGroups) {
				t.Fatalf("after the replay the groups are %v, want %v", g, wantGroups)
			}
			if tc.gen > 1 {
				out, err := runCmd(t, append([]string{"projections", "--projections", productview.Name, "--sample", "0"}, d.conn...)...)
				if want := fmt.Sprintf("g%d is being read again from the log", tc.gen); err != nil || !strings.Contains(out, want) {
					t.Fatalf("projections after the replay: %v; want %q in\n%s", err, want, out)
				}
			}
			if gen := d.serveStart(t); gen != tc.gen {
				t.Fatalf("after the replay serve's start runs g%d, want g%d", gen, tc.gen)
			}
		})
	}
}

// TestReplayedGenerationGoesLive: after a replay of a Redis that lost
// generation 3, serve's projector reads the log into g3 and makes it live.
func TestReplayedGenerationGoesLive(t *testing.T) {
	d := newLostRedis(t, map[int]float64{3: 1})
	if out, err := runCmd(t, append([]string{"replay", "--projection", productview.Name}, d.conn...)...); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	gen := d.serveStart(t)
	p, err := projectorAt(d.st, d.codec, d.views, productview.Name, gen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	refill := newRedisRefill(t.Context(), d.st, productview.Name, d.views)
	testenv.Eventually(t, 20*time.Second, func() error {
		if lost, err := refill.lost(t.Context()); err != nil || lost {
			return testenv.Errorf("lost = %v, %v", lost, err)
		}
		if live, err := d.views.Live(t.Context()); err != nil || live != 3 {
			return testenv.Errorf("live = %d, %v; want 3", live, err)
		}
		return nil
	})
}

// TestLossCheckDeletesOlderGenerations: a Redis that lost its data while
// serve was down, after a rebuild of g7 into g8 was stopped, is read again
// into g8 at serve's start, and g7's group, which nothing runs again, is
// deleted. It was left behind (audit on real servers).
func TestLossCheckDeletesOlderGenerations(t *testing.T) {
	d := newLostRedis(t, map[int]float64{7: 1, 8: 0.5})
	if gen := d.serveStart(t); gen != 8 {
		t.Fatalf("serve's start runs g%d, want g8", gen)
	}
	if g, want := d.groups(t), []string{processors.GroupName(productview.Name, 8)}; !slices.Equal(g, want) {
		t.Fatalf("after serve's start the groups are %v, want %v", g, want)
	}
}
