package processors_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

// memProjection is an idempotent in-memory projection that can be told to
// fail, to watch the runtime from the sink's side.
type memProjection struct {
	mu       sync.Mutex
	versions map[string]int64
	applied  int
	dups     int
	outOfOrd int
	failNext int
	batches  int
	maxBatch int
	latency  time.Duration // a sink's time per batch
}

func newMem() *memProjection { return &memProjection{versions: map[string]int64{}} }

func (m *memProjection) Apply(_ context.Context, batch []schemas.Event) error {
	if m.latency > 0 {
		time.Sleep(m.latency) // the sink's round trip, outside the lock
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failNext > 0 {
		m.failNext--
		return errors.New("sink down")
	}
	m.batches++
	m.maxBatch = max(m.maxBatch, len(batch))
	for _, e := range batch {
		have := m.versions[e.AggregateID]
		switch {
		case e.Version <= have:
			m.dups++
		case e.Version != have+1:
			m.outOfOrd++
		default:
			m.versions[e.AggregateID] = e.Version
			m.applied++
		}
	}
	return nil
}

func (m *memProjection) counts() (applied, dups, outOfOrder int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applied, m.dups, m.outOfOrd
}

type fixture struct {
	brokers []string
	cl      *kgo.Client
	codec   *schemas.Codec
	topic   string
	dlq     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	brokers := testenv.KafkaOrFake(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f := &fixture{brokers: brokers, cl: cl, topic: testenv.Topic(t, brokers, "t.events", 3), dlq: testenv.Topic(t, brokers, "t.dlq", 1)}
	if f.codec, err = schemas.NewCodec(); err != nil {
		t.Fatal(err)
	}
	return f
}

// waitMembers waits until group is stable with n members.
func (f *fixture) waitMembers(t *testing.T, group string, n int) {
	t.Helper()
	adm := kadm.NewClient(f.cl)
	testenv.Eventually(t, time.Minute, func() error {
		gs, err := adm.DescribeGroups(context.Background(), group)
		if err != nil {
			return err
		}
		g := gs[group]
		if g.State != "Stable" || len(g.Members) != n {
			return testenv.Errorf("group %s: %s with %d members, want Stable with %d", group, g.State, len(g.Members), n)
		}
		return nil
	})
}

func (f *fixture) publish(t *testing.T, events []schemas.Event) {
	t.Helper()
	if _, err := producers.NewPublisher(f.cl, f.codec, f.topic).Publish(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) start(t *testing.T, proj processors.Projection, name string) (*processors.Runner, func()) {
	t.Helper()
	return f.startWith(t, proj, name, nil)
}

// startWith starts a processor whose config tune may change.
func (f *fixture) startWith(t *testing.T, proj processors.Projection, name string, tune func(*processors.Config)) (*processors.Runner, func()) {
	t.Helper()
	cfg := processors.Config{
		Name: name, Generation: 1, Topic: f.topic, DeadLetterTopic: f.dlq,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxBatch: 100,
	}
	if tune != nil {
		tune(&cfg)
	}
	p, err := processors.New(cfg, f.codec, proj, kgo.SeedBrokers(f.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	return p, stop
}

func TestProcessorDeadLettersPoisonAndGoesOn(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 20, Events: 200, Seed: 1})
	f.publish(t, events[:100])

	r := rand.New(rand.NewPCG(7, 7))
	garbage := make([]byte, 64)
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	unknown := append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, 0x02, 0x00)
	cmd, err := f.codec.EncodeCommand(schemas.Command{
		ID: eventgen.UUID(r), ProductID: eventgen.UUID(r), IssuedAt: time.Now(),
		Metadata: schemas.Metadata{CorrelationID: eventgen.UUID(r), CausationID: eventgen.UUID(r), UserID: "u"},
		Data:     &schemas.ChangeProductStock{Quantity: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := events[0]
	bad.Version = 0 // encodes, but is not a valid event
	badBytes, err := f.codec.EncodeEvent(bad)
	if err != nil {
		t.Fatal(err)
	}
	poison := map[string][]byte{"undecodable": garbage, "unknown-schema": unknown, "unknown-event-type": cmd, "invalid": badBytes}
	for reason, v := range poison {
		if err := f.cl.ProduceSync(context.Background(), &kgo.Record{Topic: f.topic, Key: []byte(reason), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	f.publish(t, events[100:])

	mem := newMem()
	p, stop := f.start(t, mem, testenv.Name("poison"))
	defer stop()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Applied != 200 || s.DeadLettered != 4 {
			return testenv.Errorf("applied %d of 200, dead-lettered %d of 4", s.Applied, s.DeadLettered)
		}
		return nil
	})
	if applied, dups, ooo := mem.counts(); applied != 200 || dups != 0 || ooo != 0 {
		t.Fatalf("projection saw applied=%d dups=%d out-of-order=%d", applied, dups, ooo)
	}

	got := map[string]*kgo.Record{}
	consumeN(t, f.brokers, f.dlq, 4, func(r *kgo.Record) { got[string(r.Key)] = r })
	for reason := range poison {
		r := got[reason]
		if r == nil {
			t.Errorf("no dead letter for %s", reason)
			continue
		}
		if h := producers.Header(r, deadletter.HeaderReason); h != reason {
			t.Errorf("%s: reason header %q", reason, h)
		}
		for _, k := range []string{deadletter.HeaderError, deadletter.HeaderSourceOffset, deadletter.HeaderSourcePartition, deadletter.HeaderTime} {
			if producers.Header(r, k) == "" {
				t.Errorf("%s: header %s missing", reason, k)
			}
		}
		if producers.Header(r, deadletter.HeaderSourceTopic) != f.topic || string(r.Value) != string(poison[reason]) {
			t.Errorf("%s: source topic %q or value not kept", reason, producers.Header(r, deadletter.HeaderSourceTopic))
		}
	}
}

func TestProcessorRetriesAFailingSinkWithoutDeadLettering(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 10, Events: 150, Seed: 2})
	f.publish(t, events)
	mem := newMem()
	mem.failNext = 8
	p, stop := f.start(t, mem, testenv.Name("retry"))
	defer stop()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Applied != 150 {
			return testenv.Errorf("applied %d of 150", s.Applied)
		}
		return nil
	})
	s := p.Stats()
	if s.DeadLettered != 0 || s.Retries < 8 {
		t.Fatalf("dead-lettered %d (want 0), retries %d (want >= 8)", s.DeadLettered, s.Retries)
	}
	if applied, _, ooo := mem.counts(); applied != 150 || ooo != 0 {
		t.Fatalf("projection applied %d, out of order %d", applied, ooo)
	}
}

// A poll brings up to BatchesPerPoll batches; they reach the projection one
// at a time, none larger than MaxBatch, every partition in order, while the
// next is being decoded.
func TestProcessorAppliesAPollInOrderedBatches(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 20, Events: 3000, Seed: 4})
	f.publish(t, events)
	mem := newMem()
	p, stop := f.start(t, mem, testenv.Name("batches"))
	defer stop()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != 3000 {
			return testenv.Errorf("records %d of 3000", s.Records)
		}
		return nil
	})
	mem.mu.Lock()
	batches, maxBatch := mem.batches, mem.maxBatch
	mem.mu.Unlock()
	if applied, dups, ooo := mem.counts(); applied != 3000 || dups != 0 || ooo != 0 {
		t.Fatalf("applied %d dups %d out-of-order %d", applied, dups, ooo)
	}
	if maxBatch > 100 || batches < 30 {
		t.Fatalf("%d batches, the largest of %d events; want at least 30 of at most MaxBatch 100", batches, maxBatch)
	}
}

func TestProcessorResumesFromCommittedOffsets(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 10, Events: 200, Seed: 3})
	f.publish(t, events[:120])
	name := testenv.Name("resume")
	mem := newMem()
	p, stop := f.start(t, mem, name)
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != 120 {
			return testenv.Errorf("records %d of 120", s.Records)
		}
		return nil
	})
	stop()

	f.publish(t, events[120:])
	p2, stop2 := f.start(t, mem, name)
	defer stop2()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p2.Stats(); s.Records != 80 {
			return testenv.Errorf("second run consumed %d of the 80 new records", s.Records)
		}
		return nil
	})
	if applied, dups, ooo := mem.counts(); applied != 200 || dups != 0 || ooo != 0 {
		t.Fatalf("applied %d dups %d out-of-order %d", applied, dups, ooo)
	}
}

func consumeN(t *testing.T, brokers []string, topic string, n int, fn func(*kgo.Record)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s", got, n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { got++; fn(r) })
	}
}

// Members join and leave the group mid-stream: partitions move between
// them while their lanes hold records, and the projection still sees every
// aggregate's versions without a gap (nothing committed before it was
// applied) and ends with every event applied.
func TestProcessorRebalancesWithoutLoss(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 300, Events: 30000, Seed: 5})
	mem := newMem()
	mem.latency = 5 * time.Millisecond
	name := testenv.Name("rebalance")
	waitApplied := func(n int) {
		t.Helper()
		testenv.Eventually(t, 2*time.Minute, func() error {
			if applied, _, _ := mem.counts(); applied < n {
				return testenv.Errorf("applied %d of %d", applied, n)
			}
			return nil
		})
	}
	p1, stop1 := f.start(t, mem, name)
	f.publish(t, events[:10000])
	waitApplied(2000)
	p2, stop2 := f.start(t, mem, name) // joins: partitions move to it
	f.waitMembers(t, processors.GroupName(name, 1), 2)
	f.publish(t, events[10000:20000])
	waitApplied(12000)
	stop1() // leaves: its partitions move to the others
	p3, stop3 := f.start(t, mem, name)
	f.waitMembers(t, processors.GroupName(name, 1), 2)
	f.publish(t, events[20000:])
	waitApplied(len(events))
	stop2()
	stop3()
	for i, p := range []*processors.Runner{p1, p2, p3} {
		if p.Stats().Records == 0 {
			t.Errorf("member %d committed nothing: the partitions did not move", i+1)
		}
	}
	applied, dups, ooo := mem.counts()
	if applied != len(events) || ooo != 0 {
		t.Fatalf("applied %d of %d, %d out of order (a gap: records committed before they were applied)", applied, len(events), ooo)
	}
	t.Logf("%d events applied once, %d redelivered and skipped", applied, dups)
}

// A member whose sink is down does not hold a rebalance up: the lanes of
// its revoked partitions are abandoned after DrainTimeout (uncommitted), the
// joining member takes those partitions, and once the sink is back every
// event is applied, without a gap.
func TestProcessorRevokeDoesNotWaitForADeadSink(t *testing.T) {
	f := newFixture(t)
	events := eventgen.Stream(eventgen.Options{Products: 60, Events: 3000, Seed: 6})
	f.publish(t, events)
	mem := newMem()
	mem.failNext = 1 << 30 // down
	name := testenv.Name("dead-sink")
	tune := func(c *processors.Config) { c.DrainTimeout = time.Second; c.MaxBackoff = 100 * time.Millisecond }
	p1, stop1 := f.startWith(t, mem, name, tune)
	defer stop1()
	testenv.Eventually(t, time.Minute, func() error {
		if r := p1.Stats().Retries; r < 3 {
			return testenv.Errorf("first member: %d retries", r)
		}
		return nil
	})
	p2, stop2 := f.startWith(t, mem, name, tune)
	defer stop2()
	// The join completes while the sink is still down: the second member
	// gets partitions and tries them too.
	testenv.Eventually(t, 30*time.Second, func() error {
		if r := p2.Stats().Retries; r == 0 {
			return testenv.Errorf("second member has not tried any partition yet")
		}
		return nil
	})
	mem.mu.Lock()
	mem.failNext = 0 // back
	mem.mu.Unlock()
	testenv.Eventually(t, time.Minute, func() error {
		if applied, _, _ := mem.counts(); applied != len(events) {
			return testenv.Errorf("applied %d of %d", applied, len(events))
		}
		return nil
	})
	if _, _, ooo := mem.counts(); ooo != 0 {
		t.Fatalf("%d events out of order", ooo)
	}
}

// A member that stops without leaving the group (a process killed: no
// LeaveGroup) holds its partitions until its session times out; then
// they go to the others. With Config.SessionTimeout at 6s the survivor
// takes them in well under the Kafka client's default of 45s. The crash is
// a static member's stop (kgo.InstanceID), which leaves nothing.
func TestProcessorTakesACrashedMembersPartitionsAfterSessionTimeout(t *testing.T) {
	f := newFixture(t)
	const session = 6 * time.Second
	name := testenv.Name("session")
	events := eventgen.Stream(eventgen.Options{Products: 60, Events: 1200, Seed: 9})
	mem := newMem() // the two members' one store
	short := func(c *processors.Config) { c.SessionTimeout = session }

	// The victim, started first, owns every partition until the survivor joins.
	cfg := processors.Config{Name: name, Generation: 1, Topic: f.topic, DeadLetterTopic: f.dlq, MaxBatch: 100, SessionTimeout: session}
	victim, err := processors.New(cfg, f.codec, mem, kgo.SeedBrokers(f.brokers...), kgo.InstanceID(name+"-victim"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- victim.Run(ctx) }()
	f.publish(t, events[:600])
	testenv.Eventually(t, time.Minute, func() error {
		if applied, _, _ := mem.counts(); applied < 600 {
			return testenv.Errorf("the victim applied %d of 600", applied)
		}
		return nil
	})
	survivor, stop := f.startWith(t, mem, name, short)
	defer stop()
	f.waitMembers(t, processors.GroupName(name, 1), 2)

	crash()
	if err := <-done; err != nil {
		t.Fatalf("victim Run: %v", err)
	}
	crashedAt := time.Now()
	f.publish(t, events[600:])
	// The victim's partitions come to the survivor once the session ends:
	// every product then reaches its last version.
	last := map[string]int64{}
	for _, e := range events {
		last[e.AggregateID] = e.Version
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		mem.mu.Lock()
		defer mem.mu.Unlock()
		for id, v := range last {
			if mem.versions[id] < v {
				return testenv.Errorf("product %s at %d of %d, %v after the crash", id, mem.versions[id], v, time.Since(crashedAt).Round(time.Millisecond))
			}
		}
		return nil
	})
	took := time.Since(crashedAt)
	if _, _, ooo := mem.counts(); ooo != 0 {
		t.Errorf("%d events out of order: a gap", ooo)
	}
	if survivor.Stats().Records == 0 {
		t.Error("the survivor committed nothing")
	}
	if took < session/2 {
		t.Errorf("the partitions moved %v after the crash, before the session of %v could end: was it a crash?", took, session)
	}
	t.Logf("the crashed member's partitions moved %v after the crash (session timeout %v)", took.Round(time.Millisecond), session)
}

// A record whose dead letter the group wrote before (Config.DeadLettered:
// dev reading its log again) is not dead-lettered again, and not logged
// as being dead-lettered: a warning said so at every dev start.
func TestProcessorSkipsARecordDeadLetteredBefore(t *testing.T) {
	f := newFixture(t)
	f.publish(t, eventgen.Stream(eventgen.Options{Products: 3, Events: 10, Seed: 5}))
	res := f.cl.ProduceSync(context.Background(), &kgo.Record{Topic: f.topic, Key: []byte("poison"), Value: []byte("not an event")})
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	poison := res[0].Record
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, stop := f.startWith(t, newMem(), testenv.Name("dead-before"), func(c *processors.Config) {
		c.Logger = logger
		c.DeadLettered = func(partition int32, offset int64) bool {
			return partition == poison.Partition && offset == poison.Offset
		}
	})
	defer stop()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != 11 || s.Applied != 10 {
			return testenv.Errorf("consumed %d of 11 records, applied %d of 10", s.Records, s.Applied)
		}
		return nil
	})
	if s := p.Stats(); s.DeadLettered != 0 {
		t.Errorf("dead-lettered %d records, want none", s.DeadLettered)
	}
	mu.Lock()
	defer mu.Unlock()
	if out := logs.String(); strings.Contains(out, "level=WARN msg=\"dead-lettering record\"") || !strings.Contains(out, "record dead-lettered before; not again") {
		t.Errorf("logs:\n%s", out)
	}
}

// lockedWriter writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// holdingProjection holds Apply while hold is set, after saying so on
// entered.
type holdingProjection struct {
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (h *holdingProjection) Apply(ctx context.Context, _ []schemas.Event) error {
	if !h.hold.Load() {
		return nil
	}
	select {
	case h.entered <- struct{}{}:
	default:
	}
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A runner run again after its group was reset to the log's start (what a
// refill does after Redis lost its data) reports the group's offsets, and
// so the whole log as its lag, not the offsets it had committed before
// (helper 90: the lag gauge said 0 during the whole re-read).
func TestProcessorStatsStartFromTheGroupsOffsets(t *testing.T) {
	f := newFixture(t)
	f.publish(t, eventgen.Stream(eventgen.Options{Products: 10, Events: 60, Seed: 5}))
	name := testenv.Name("reset")
	proj := &holdingProjection{entered: make(chan struct{}, 1), release: make(chan struct{})}
	cfg := processors.Config{Name: name, Generation: 1, Topic: f.topic, DeadLetterTopic: f.dlq, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	p, err := processors.New(cfg, f.codec, proj, kgo.SeedBrokers(f.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	stop := run()
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := p.Stats(); s.Records != 60 {
			return testenv.Errorf("records %d of 60", s.Records)
		}
		return nil
	})
	stop()
	before := p.Stats().Offsets

	adm := kadm.NewClient(f.cl)
	testenv.Eventually(t, time.Minute, func() error { // the group empties once the member's leave is seen
		_, err := processors.ResetToStart(context.Background(), adm, cfg.Group(), f.topic, false)
		return err
	})
	proj.hold.Store(true)
	stop = run()
	defer stop()
	defer close(proj.release)
	select {
	case <-proj.entered: // assigned and fetching from the start; nothing committed since
	case <-time.After(time.Minute):
		t.Fatal("the second run applied nothing in a minute")
	}
	s := p.Stats()
	for partition, was := range before {
		if got := s.Offsets[partition]; got != 0 || was == 0 {
			t.Errorf("partition %d: Stats().Offsets %d after the reset (%d before it), want 0, the group's", partition, got, was)
		}
	}
}
