package topics

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
)

// TestStableEnds runs on the real broker, and on kfake (testenv.KafkaOrFake).
func TestStableEnds(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.stable", 3)
	w := writer{t: t, brokers: brokers, topic: topic}
	adm := testenv.Admin(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Partition 0: plain records. 1: empty. 2: a plain record, then a
	// transaction left open.
	plain := w.client()
	w.plain(plain, 0, "a", "b")
	w.plain(plain, 2, "x")
	endOpen := w.begin(2, "y")

	stableEnds := func(ps []int32, wait time.Duration) (map[int32]int64, []int32) {
		t.Helper()
		ends, open, err := StableEnds(ctx, adm, topic, ps, wait)
		if err != nil {
			t.Fatal(err)
		}
		return ends, open
	}
	check := func(name string, ends, wantEnds map[int32]int64, open, wantOpen []int32) {
		t.Helper()
		if !maps.Equal(ends, wantEnds) || !slices.Equal(open, wantOpen) {
			t.Errorf("%s: ends %v open %v, want ends %v open %v", name, ends, open, wantEnds, wantOpen)
		}
	}

	ends, open := stableEnds(nil, 200*time.Millisecond)
	check("an open transaction, after the wait", ends, map[int32]int64{0: 2, 1: 0, 2: 1}, open, []int32{2})

	ends, open = stableEnds([]int32{0, 1}, 0)
	check("only the partitions asked for", ends, map[int32]int64{0: 2, 1: 0}, open, nil)

	if _, _, err := StableEnds(ctx, adm, topic, []int32{5}, 0); err == nil || !strings.Contains(err.Error(), "no partition 5") {
		t.Errorf("a partition the topic does not have: err %v, want one naming it", err)
	}

	// Waiting: the open transaction commits while StableEnds waits, and a
	// transaction begun on partition 0 meanwhile, after the call, does not
	// hold it back.
	type result struct {
		ends map[int32]int64
		open []int32
		err  error
	}
	done := make(chan result, 1)
	before := stableWaits.Load()
	go func() {
		ends, open, err := StableEnds(ctx, adm, topic, nil, 30*time.Second)
		done <- result{ends, open, err}
	}()
	testenv.Eventually(t, 30*time.Second, func() error {
		if stableWaits.Load() == before {
			return errors.New("StableEnds has not waited yet")
		}
		return nil
	})
	endLater := w.begin(0, "later")
	defer endLater(kgo.TryAbort)
	endOpen(kgo.TryCommit)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	// Partition 2: x, y and the commit marker.
	check("a transaction committed during the wait", r.ends, map[int32]int64{0: 2, 1: 0, 2: 3}, r.open, nil)
}
