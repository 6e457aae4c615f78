package main

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
)

// A serve started on a Redis Cluster whose live generation an older
// release made live (its epoch record without the copies) writes the
// copies at its view projector's start (viewGeneration), so that the loss
// of the master holding the record is seen from then on. The start
// returned the live generation without them: only the next refill or
// rebuild wrote them (helper 67's audit: 351 reads answered 404 after
// that master's FLUSHALL).
func TestViewGenerationCopiesAnUpgradedLiveRecord(t *testing.T) {
	ctx := context.Background()
	srv := miniredis.RunT(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { c.Close() })
	views, err := redisview.New(c, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	if err := views.SetLive(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for _, k := range views.LiveEpochCopyKeys() { // as an older release left it
		srv.Del(k)
	}
	gen, err := viewGeneration(ctx, stack{redis: c}, views)
	if err != nil || gen != 3 {
		t.Fatalf("viewGeneration = %d, %v; want the live generation, 3", gen, err)
	}
	epoch, err := redisview.Epoch(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range views.LiveEpochCopyKeys() {
		if v, _ := srv.Get(k); v != epoch {
			t.Fatalf("after the start %s = %q, want the epoch %q", k, v, epoch)
		}
	}
}
