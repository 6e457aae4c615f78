package decider

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// flakyCodec fails one decode with an error that may pass later (a
// schema registry that does not answer): the sixth command of a
// transaction, once, and only after the records of the five before it
// have reached the events log, so that the abort has produced records to
// drop.
type flakyCodec struct {
	*schemas.Codec
	t      *testing.T
	f      *fixture
	mu     sync.Mutex
	failed bool
	since  int   // commands decoded since the last transaction ended
	hwEnd  int64 // the events partition's end offset then
}

func (c *flakyCodec) DecodeCommand(b []byte) (schemas.Command, error) {
	cmd, err := c.Codec.DecodeCommand(b)
	if err != nil {
		return cmd, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed || c.since < 5 {
		c.since++
		return cmd, nil
	}
	c.failed = true
	// This runs on the decider's goroutine: report, never t.Fatal.
	for deadline := time.Now().Add(time.Minute); c.eventsEnd() <= c.hwEnd; {
		if time.Now().After(deadline) {
			c.t.Errorf("the batch's first records never reached %s (end offset still %d): nothing produced before the abort", c.f.events, c.hwEnd)
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a broker offset; the assertion is not timed
	}
	return schemas.Command{}, errors.New("registry does not answer (test)")
}

// ended is Hooks.Transaction. The end it keeps is past the transaction's
// marker: the broker answers EndTxn before it writes the markers, and an
// end offset taken before them would be passed by the marker alone.
func (c *flakyCodec) ended(int, time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ends, open, err := topics.StableEnds(context.Background(), c.f.adm, c.f.events, []int32{0}, time.Minute)
	if err != nil || len(open) > 0 {
		c.t.Errorf("the transaction's markers never reached %s: %v (partitions behind: %v)", c.f.events, err, open)
	}
	c.since, c.hwEnd = 0, ends[0]
}

func (c *flakyCodec) eventsEnd() int64 {
	hw, err := c.f.adm.ListEndOffsets(context.Background(), c.f.events)
	if err != nil {
		c.t.Errorf("list end offsets of %s: %v", c.f.events, err)
		return -1
	}
	o, _ := hw.Lookup(c.f.events, 0)
	return o.Offset
}

// TestTransientDecodeAbortsProducedRecords: the decider produces each
// command's records as soon as it is decided, so when a later command of
// the batch cannot be decoded now, records of the batch are already in
// the log. The abort must drop them: after the retry every command has
// exactly one result and one event.
func TestTransientDecodeAbortsProducedRecords(t *testing.T) {
	f := newFixture(t, 1)
	cmds, want := crashWorkload(20, 4)
	f.produceCommands(t, cmds)
	codec := &flakyCodec{Codec: f.codec, t: t, f: f}
	cfg := f.config()
	cfg.Retry.Min, cfg.Retry.Max = 50*time.Millisecond, 100*time.Millisecond
	cfg.Hooks.Transaction = codec.ended
	heard := new(heardOutcomes)
	cfg.Outcomes = heard.hear
	d, err := New(cfg, codec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })

	checkExactlyOnce(t, f, cmds, want)
	testenv.Eventually(t, time.Minute, func() error {
		if d.Stats().Aborted == 0 {
			return errors.New("no transaction aborted yet")
		}
		return nil
	})
	codec.mu.Lock()
	failed := codec.failed
	codec.mu.Unlock()
	if !failed {
		t.Fatal("no decode failed: the workload fit in transactions of under six commands")
	}
	// Config.Outcomes heard of the committed outcomes only: the aborted
	// batch's results (produced before its abort) not at all.
	heard.check(t, f.readResults(t))
	// The aborted transaction's events did reach the log (and are not
	// read): read uncommitted, the log holds more events than committed.
	committed := len(f.readAll(t, f.events))
	if all := readUncommitted(t, f, f.events); all <= committed {
		t.Errorf("%d events read uncommitted, %d committed: the aborted batch produced nothing before its abort", all, committed)
	}
}

// readUncommitted counts the data records of topic's partition 0 up to
// its end, aborted ones included.
func readUncommitted(t *testing.T, f *fixture, topic string) int {
	t.Helper()
	ctx := context.Background()
	hw, err := f.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := hw.Lookup(topic, 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	deadline := time.Now().Add(time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("reading %s uncommitted: offset %d not reached", topic, end.Offset)
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		last := int64(-1)
		fs.EachRecord(func(r *kgo.Record) {
			n++
			last = r.Offset
		})
		// The last offsets may be commit markers, which a consumer
		// does not see: stop at the first empty poll after the data.
		if last < 0 || last+1 >= end.Offset {
			if last < 0 && n == 0 {
				t.Fatalf("reading %s uncommitted: nothing", topic)
			}
			return n
		}
	}
}

// TestRefusedProduceAbortsUnheard: the broker refuses the batch's events
// (larger than the events topic allows), so the decider ends the
// transaction with an abort, which succeeds: End reports it not committed,
// with no error. Config.Outcomes hears nothing of that batch; once the
// topic takes such events again, the commands are decided anew, each
// heard once, as committed.
func TestRefusedProduceAbortsUnheard(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	// An event is a few hundred bytes: none fits in 100.
	f.events = testenv.Topic(t, f.brokers, "t.events", 1, "retention.ms", "-1", "max.message.bytes", "100")
	cmds, want := crashWorkload(5, 2)
	f.produceCommands(t, cmds)
	cfg := f.config()
	cfg.Retry.Min, cfg.Retry.Max = 50*time.Millisecond, 100*time.Millisecond
	heard := new(heardOutcomes)
	cfg.Outcomes = heard.hear
	var aborted atomic.Int64
	cfg.Hooks.Transaction = func(_ int, _ time.Duration, committed bool) {
		if !committed {
			aborted.Add(1)
		}
	}
	r := f.start(t, cfg, nil)
	testenv.Eventually(t, time.Minute, func() error {
		if aborted.Load() == 0 {
			return errors.New("no transaction aborted yet")
		}
		return nil
	})
	if st := r.d.Stats(); st.Committed != 0 {
		t.Fatalf("%d transactions committed with the events refused", st.Committed)
	}
	heard.mu.Lock()
	n := len(heard.heard)
	heard.mu.Unlock()
	if n != 0 {
		t.Fatalf("Outcomes heard %d outcomes of transactions that aborted", n)
	}
	resps, err := f.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("1048588")}}, f.events)
	if err == nil {
		var r kadm.AlterConfigsResponse
		r, err = resps.On(f.events, nil)
		if err == nil {
			err = r.Err
		}
	}
	if err != nil {
		t.Fatalf("let %s take the events: %v", f.events, err)
	}
	checkExactlyOnce(t, f, cmds, want)
	heard.check(t, f.readResults(t))
}
