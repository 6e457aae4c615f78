package decider

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// kafka returns the real brokers in the integration tier, and otherwise an
// in-process kfake cluster whose group timeouts allow the short session
// timeouts the crash tests use (testenv.KafkaOrFake's cluster keeps
// kfake's 6s minimum).
func kafka(t testing.TB) []string {
	t.Helper()
	if !testenv.FakeKafka() {
		return testenv.Kafka(t)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// fixture is a set of co-partitioned topics on a cluster, with a codec.
type fixture struct {
	brokers                         []string
	commands, events, result, state string
	group                           string
	codec                           *schemas.Codec
	adm                             *kadm.Client
}

func newFixture(t testing.TB, partitions int32) *fixture {
	t.Helper()
	brokers := kafka(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f := &fixture{
		brokers:  brokers,
		commands: testenv.Topic(t, brokers, "t.commands", partitions),
		events:   testenv.Topic(t, brokers, "t.events", partitions, "retention.ms", "-1"),
		result:   testenv.Topic(t, brokers, "t.results", partitions),
		state:    testenv.Topic(t, brokers, "t.state", partitions, "cleanup.policy", "compact"),
		group:    testenv.Name("t.decider"),
		adm:      kadm.NewClient(cl),
	}
	if f.codec, err = schemas.NewCodec(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) config() Config {
	return Config{
		Brokers: f.brokers, CommandsTopic: f.commands, EventsTopic: f.events, ResultsTopic: f.result, StateTopic: f.state,
		Group: f.group, TransactionalID: testenv.Name("t.txn"),
		Logger:     testLogger(),
		ClientOpts: kgoLog(),
	}
}

// kgoLog logs the Kafka clients to stderr when KGO_LOG is set.
func kgoLog() []kgo.Opt {
	if os.Getenv("KGO_LOG") == "" {
		return nil
	}
	lvl := kgo.LogLevelInfo
	if os.Getenv("KGO_LOG") == "debug" {
		lvl = kgo.LogLevelDebug
	}
	return []kgo.Opt{kgo.WithLogger(kgo.BasicLogger(os.Stderr, lvl, nil))}
}

// running is a decider running in the background.
type running struct {
	d      *Decider
	cancel context.CancelFunc
	done   chan error
}

func (f *fixture) start(t testing.TB, cfg Config, crash func(*Decider) bool) *running {
	t.Helper()
	d, err := New(cfg, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	if crash != nil {
		d.crash = func() bool { return crash(d) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends a decider cleanly (or notes that it crashed).
func (r *running) stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil && !errors.Is(err, errCrashed) {
		t.Errorf("Run: %v", err)
	}
}

// bus is the API side: a sender and a results reader.
type bus struct {
	send    *commandbus.Sender
	results *commandbus.Results
}

func (f *fixture) bus(t testing.TB) *bus {
	t.Helper()
	return f.busWith(t, commandbus.ResultsConfig{Brokers: f.brokers, Topic: f.result, CommandsTopic: f.commands, LookBack: -1})
}

// busWith is bus with a results reader configured by cfg.
func (f *fixture) busWith(t testing.TB, cfg commandbus.ResultsConfig) *bus {
	t.Helper()
	res, err := commandbus.NewResults(cfg, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands, Tracker: res}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- res.Run(ctx) }()
	t.Cleanup(func() {
		snd.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Results.Run: %v", err)
		}
	})
	return &bus{send: snd, results: res}
}

// do sends cmd and waits for its result.
func (b *bus) do(t testing.TB, cmd schemas.Command) schemas.CommandResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := b.send.Send(ctx, cmd); err != nil {
		t.Fatalf("send %s: %v", cmd.Type(), err)
	}
	res, err := b.results.Wait(ctx, cmd.ID)
	if err != nil {
		t.Fatalf("wait for %s %s: %v", cmd.Type(), cmd.ID, err)
	}
	return res
}

// produceCommands writes cmds to the commands topic as the Sender would,
// but in bulk.
func (f *fixture) produceCommands(t testing.TB, cmds []schemas.Command) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.DefaultProduceTopic(f.commands))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var (
		mu   sync.Mutex
		perr error
	)
	for _, c := range cmds {
		v, err := f.codec.EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		cl.Produce(context.Background(), &kgo.Record{Key: []byte(c.ProductID), Value: v, Headers: commandbus.CommandHeaders(c)},
			func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					perr = err
					mu.Unlock()
				}
			})
	}
	if err := cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if perr != nil {
		t.Fatal(perr)
	}
}

// readAll reads topic from its start to its last stable offset,
// read_committed, once everything written to it before the call can be read
// committed (see topics.StableEnds).
func (f *fixture) readAll(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx := context.Background()
	var ends map[int32]int64
	testenv.Eventually(t, 60*time.Second, func() error {
		var open []int32
		var err error
		ends, open, err = topics.StableEnds(ctx, f.adm, topic, nil, 60*time.Second)
		if err == nil && len(open) > 0 {
			err = fmt.Errorf("transactions open on %s partitions %v", topic, open)
		}
		return err
	})
	want := map[int32]int64{}
	for p, o := range ends {
		if o > 0 {
			want[p] = o
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(60 * time.Second)
	for len(want) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("reading %s: partitions %v not read to their end", topic, want)
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
		if n == 0 {
			break // the last records before the end were aborted
		}
	}
	return out
}

func (f *fixture) readEvents(t testing.TB) []schemas.Event {
	t.Helper()
	var out []schemas.Event
	for _, r := range f.readAll(t, f.events) {
		e, err := f.codec.DecodeEvent(r.Value)
		if err != nil {
			t.Fatalf("event at partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		uncompressed(t, r)
		key := e.AggregateID
		if e.AggregateType == schemas.AggregateSubscription {
			key, _ = schemas.SubscriptionProduct(e.AggregateID) // on its product's partition
		}
		if schemas.IsReference(e.AggregateType) {
			key = schemas.ReferenceKey(e.AggregateType, e.AggregateID)
		}
		if string(r.Key) != key {
			t.Errorf("event %s keyed %q, want %s", e.ID, r.Key, key)
		}
		out = append(out, e)
	}
	return out
}

// uncompressed fails t when r came in a compressed batch: a transaction
// carries one poll's events and results, too few to be worth compressing.
func uncompressed(t testing.TB, r *kgo.Record) {
	t.Helper()
	if c := r.Attrs.CompressionType(); c != 0 {
		t.Errorf("%s partition %d offset %d in a batch compressed with codec %d, want none", r.Topic, r.Partition, r.Offset, c)
	}
}

func (f *fixture) readResults(t testing.TB) []schemas.CommandResult {
	t.Helper()
	var out []schemas.CommandResult
	for _, r := range f.readAll(t, f.result) {
		res, err := f.codec.DecodeResult(r.Value)
		if err != nil {
			t.Fatalf("result at partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		uncompressed(t, r)
		res.Fingerprint = producers.Header(r, commandbus.HeaderFingerprint)
		out = append(out, res)
	}
	return out
}

// netCut is a dialer whose connections can all be cut at once, to kill a
// client as a crashed process would: no leave, no abort, no commit. Armed
// with an API key, it cuts just before a request of that kind is sent.
type netCut struct {
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	cutOn  atomic.Int32 // API key, or -1
	killed chan struct{}
}

func newNetCut() *netCut {
	n := &netCut{killed: make(chan struct{})}
	n.cutOn.Store(-1)
	return n
}

func (n *netCut) dial(ctx context.Context, network, host string) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut {
		return nil, errors.New("network cut")
	}
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	n.conns = append(n.conns, c)
	return cutConn{Conn: c, n: n}, nil
}

func (n *netCut) kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut {
		return
	}
	n.cut = true
	for _, c := range n.conns {
		c.Close()
	}
	close(n.killed)
}

type cutConn struct {
	net.Conn
	n *netCut
}

// Write sees one whole request: 4 bytes of size, then the API key.
func (c cutConn) Write(b []byte) (int, error) {
	if k := c.n.cutOn.Load(); k >= 0 && len(b) >= 6 && int32(binary.BigEndian.Uint16(b[4:6])) == k {
		c.n.kill()
		return 0, errors.New("network cut")
	}
	return c.Conn.Write(b)
}

func kadmClient(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// heardOutcomes collects what Config.Outcomes hears, from any number of
// deciders.
type heardOutcomes struct {
	mu    sync.Mutex
	heard []schemas.CommandResult
}

func (h *heardOutcomes) hear(rs []schemas.CommandResult) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.heard = append(h.heard, rs...)
}

// check fails t unless the outcomes heard are those of topic (the results
// read_committed), each heard once, with the same decision: an outcome
// heard of a transaction that did not commit is either extra or another
// decision of its command.
func (h *heardOutcomes) check(t *testing.T, topic []schemas.CommandResult) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	want := map[string]schemas.CommandResult{}
	for _, r := range topic {
		want[r.CommandID] = r
	}
	seen := map[string]bool{}
	bad := 0
	for _, got := range h.heard {
		w, ok := want[got.CommandID]
		switch {
		case !ok:
			t.Errorf("heard %+v, which no committed result holds", got)
		case seen[got.CommandID]:
			t.Errorf("heard command %s twice", got.CommandID)
		case got.Status != w.Status || got.Version != w.Version || got.Code != w.Code || !got.DecidedAt.Equal(w.DecidedAt):
			t.Errorf("heard %+v, the committed result is %+v", got, w)
		default:
			seen[got.CommandID] = true
			continue
		}
		if bad++; bad >= 10 {
			t.Fatalf("and more; %d heard, %d committed", len(h.heard), len(topic))
		}
	}
	if len(seen) != len(want) {
		t.Errorf("heard %d of the %d committed outcomes", len(seen), len(want))
	}
}
