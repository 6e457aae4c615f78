package rebuild_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

func TestProgressString(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    rebuild.Progress
		want string
	}{
		{"building", rebuild.Progress{Projection: "product-view", Generation: 2, Phase: rebuild.Building, Done: 412_000, Total: 1_000_000, Lag: 588_000, Rate: 52_300, Left: 11 * time.Second},
			"product-view g2 building: 412,000/1,000,000 records (41%), 52,300 records/s, 11s left"},
		{"caught up", rebuild.Progress{Projection: "p", Generation: 3, Phase: rebuild.Handover, Step: "waiting", Done: 10, Total: 10, Rate: 1.4},
			"p g3 handover (waiting): 10/10 records (100%), 1 records/s, caught up"},
		{"rate unknown", rebuild.Progress{Projection: "p", Generation: 2, Phase: rebuild.Building, Total: 5, Lag: 5, Left: -1},
			"p g2 building: 0/5 records (0%), 0 records/s"},
		{"step only", rebuild.Progress{Projection: "p", Generation: 2, Phase: rebuild.Swapped, Step: "removing g1 in 30s"},
			"p g2 swapped (removing g1 in 30s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (rebuild.Config{Brokers: []string{"x"}}).Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	err := rebuild.Config{MaxBatch: -1, Grace: -time.Second, CaughtUpLag: -1}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"Brokers", "MaxBatch", "Grace", "CaughtUpLag"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; does not name %s", err, want)
		}
	}
}

func TestControlRoundTrip(t *testing.T) {
	ctx := context.Background()
	state := redisview.RebuildState(redistest.Miniredis(t), "product-view")
	if state.Key() != "sv:product-view:rebuild" {
		t.Fatalf("key %q", state.Key())
	}
	c := rebuild.NewControl(state)
	if _, ok, err := c.Load(ctx); ok || err != nil {
		t.Fatalf("empty Load = %v, %v", ok, err)
	}
	at := time.UnixMilli(time.Now().UnixMilli())
	want := rebuild.State{Generation: 3, From: 2, Phase: rebuild.Handover, KeepOld: true, Started: at, Requested: at.Add(time.Second),
		Done: 10, Total: 20, Rate: 1234.5, Updated: at.Add(2 * time.Second)}
	if err := c.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Load(ctx)
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if !got.Started.Equal(want.Started) || !got.Requested.Equal(want.Requested) || !got.Updated.Equal(want.Updated) {
		t.Fatalf("times: got %+v, want %+v", got, want)
	}
	got.Started, got.Requested, got.Updated = want.Started, want.Requested, want.Updated
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// An abort request is kept apart: Save does not write it over.
	if err := c.RequestAbort(ctx, at); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.Load(ctx); err != nil || !ok || !got.AbortRequested.Equal(at) {
		t.Fatalf("Load after an abort request and a Save = %+v, %v, %v; want the request kept", got, ok, err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Load(ctx); ok {
		t.Fatal("state left after Clear")
	}
	// An abort request that lands after a Clear (two aborts at once)
	// leaves a record without a rebuild: it is no rebuild, not a state
	// "this version did not write" that refused every later one.
	if err := c.RequestAbort(ctx, at); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Load(ctx); ok || err != nil {
		t.Fatalf("Load of an abort request alone = %v, %v; want no rebuild", ok, err)
	}
}
