package commandbus_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/netcut"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// margin is what a send may take past its delivery timeout on a loaded
// machine; a send without a bound would hang for good instead.
const margin = 10 * time.Second

// cutSender returns a Sender whose every connection to the broker goes
// through a proxy that the test can cut, tracked by a Results that is not
// run (it knows what the Sender tells it).
func (f *fixture) cutSender(t *testing.T, timeout time.Duration) (*commandbus.Sender, *commandbus.Results, *netcut.Proxy) {
	t.Helper()
	proxy, err := netcut.New(f.brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	tracker, err := commandbus.NewResults(commandbus.ResultsConfig{Brokers: f.brokers}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy := kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, proxy.Addr())
	})
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: []string{proxy.Addr()}, Topic: f.commands, Tracker: tracker,
		DeliveryTimeout: timeout, ClientOpts: []kgo.Opt{viaProxy}}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(snd.Close)
	return snd, tracker, proxy
}

// commandIDs reads the command IDs on f's commands topic, in each
// partition's order.
func (f *fixture) commandIDs(t *testing.T) []string {
	t.Helper()
	adm := testenv.Admin(t, f.brokers)
	ctx := waitCtx(t)
	starts, err := adm.ListStartOffsets(ctx, f.commands)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, f.commands)
	if err != nil {
		t.Fatal(err)
	}
	spans := map[int32]topics.Span{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		spans[o.Partition] = topics.Span{From: s.Offset, To: o.Offset}
	})
	var ids []string
	err = topics.ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(f.brokers...)}, f.commands, spans, func(recs []*kgo.Record) error {
		for _, r := range recs {
			ids = append(ids, producers.Header(r, commandbus.HeaderCommandID))
			// Commands go one or a few to a batch: not worth compressing.
			if c := r.Attrs.CompressionType(); c != 0 {
				t.Errorf("command at partition %d offset %d in a batch compressed with codec %d, want none", r.Partition, r.Offset, c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func keyedCommand(key string) schemas.Command {
	return schemas.Command{ID: commandbus.CommandID(key, "DELETE", "/v1/products/p"), ProductID: commandbus.NewID(),
		IdempotencyKey: key, Data: &schemas.DiscontinueProduct{Reason: "old"}}
}

// TestSendWhileKafkaIsCut: with the broker's port closed a send fails with
// ErrTimeout within its delivery timeout, a retry of its key meanwhile is
// held off (ErrInFlight) or refused (ErrKeyReused), nothing is written, and
// once the broker is back a retry of the key writes the command once.
func TestSendWhileKafkaIsCut(t *testing.T) {
	f := newFixture(t)
	const timeout = 2 * time.Second
	snd, tracker, proxy := f.cutSender(t, timeout)

	before := keyedCommand("before-the-cut")
	if _, err := snd.SendBound(waitCtx(t), before, "fp"); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()

	cmd := keyedCommand("during-the-cut")
	start0 := time.Now()
	var (
		wg      sync.WaitGroup
		sendErr error
		took    time.Duration
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		_, sendErr = snd.SendBound(context.Background(), cmd, "fp")
		took = time.Since(start)
	}()
	testenv.Eventually(t, margin, func() error {
		if b, ok := tracker.Bound(commandbus.KeyID(cmd.IdempotencyKey)); !ok || !b.Writing {
			return testenv.Errorf("key not claimed yet: %+v, %v", b, ok)
		}
		return nil
	})
	if _, err := snd.SendBound(waitCtx(t), cmd, "fp"); !errors.Is(err, commandbus.ErrInFlight) {
		t.Errorf("retry while the first is being written = %v, want ErrInFlight", err)
	}
	if _, err := snd.SendBound(waitCtx(t), cmd, "another-body"); !errors.Is(err, commandbus.ErrKeyReused) {
		t.Errorf("another request with the key while the first is being written = %v, want ErrKeyReused", err)
	}
	wg.Wait()
	if !errors.Is(sendErr, commandbus.ErrTimeout) {
		t.Fatalf("send with Kafka cut = %v, want ErrTimeout", sendErr)
	}
	if took > timeout+margin {
		t.Errorf("send with Kafka cut took %v, delivery timeout %v", took, timeout)
	}
	if _, ok := tracker.Status(cmd.ID); ok {
		t.Error("a command that failed to send is known as pending")
	}
	t.Logf("send failed after %v", took)
	// The client drops the record; then the key is free.
	testenv.Eventually(t, 30*time.Second, func() error {
		if s := tracker.Stats(); s.Writing != 0 {
			return testenv.Errorf("%d keys still being written", s.Writing)
		}
		return nil
	})

	t.Logf("key free after %v", time.Since(start0))
	if got := f.commandIDs(t); len(got) != 1 || got[0] != before.ID {
		t.Errorf("commands topic holds %v after the failed send, want only %s", got, before.ID)
	}

	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	// The client may take a few tries to reconnect: a client retries a 503.
	testenv.Eventually(t, 60*time.Second, func() error {
		_, err := snd.SendBound(waitCtx(t), cmd, "fp")
		return err
	})
	t.Logf("written after %v", time.Since(start0))
	if st, ok := tracker.Status(cmd.ID); !ok || st.State != commandbus.StatePending {
		t.Errorf("Status after the retry = %+v, %v; want pending", st, ok)
	}
	// A retry that timed out may have landed too: the same command ID,
	// which the decider carries out once.
	got := f.commandIDs(t)
	seen := map[string]bool{}
	for _, id := range got {
		seen[id] = true
	}
	if len(seen) != 2 || !seen[before.ID] || !seen[cmd.ID] {
		t.Errorf("commands topic holds %v, want %s and %s", got, before.ID, cmd.ID)
	}
}

// TestSendToSilentBroker: a peer that accepts connections and never
// answers fails the send with ErrTimeout, not a hang.
func TestSendToSilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 500 * time.Millisecond
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: []string{ln.Addr().String()}, DeliveryTimeout: timeout}, codec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(snd.Close)
	start := time.Now()
	_, err = snd.Send(context.Background(), keyedCommand("silent"))
	if !errors.Is(err, commandbus.ErrTimeout) {
		t.Fatalf("Send to a silent broker = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > timeout+margin {
		t.Errorf("Send took %v, delivery timeout %v", took, timeout)
	}
}

// TestBindingAcrossInstances: a key bound by one instance's send is known,
// with its fingerprint, to another instance and to one started after it,
// from the commands topic: both refuse a reuse.
func TestBindingAcrossInstances(t *testing.T) {
	f := newFixture(t)
	mine, _ := f.results(t, commandbus.ResultsConfig{})
	other, _ := f.results(t, commandbus.ResultsConfig{})
	snd, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands, Tracker: mine}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	cmd := keyedCommand("shared-key")
	fp := commandbus.Request{Method: "DELETE", Path: "/v1/products/p"}.Fingerprint()
	if _, err := snd.SendBound(waitCtx(t), cmd, fp); err != nil {
		t.Fatal(err)
	}
	key := commandbus.KeyID(cmd.IdempotencyKey)
	reuse := commandbus.Claim{CommandID: cmd.ID, ProductID: cmd.ProductID, KeyID: key, Fingerprint: "another request"}

	restarted, _ := f.results(t, commandbus.ResultsConfig{})
	select {
	case <-restarted.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("restarted reader never ready")
	}
	for name, r := range map[string]*commandbus.Results{"sender": mine, "other": other, "restarted": restarted} {
		testenv.Eventually(t, 30*time.Second, func() error {
			if b, ok := r.Bound(key); !ok || b.Fingerprint != fp || b.CommandID != cmd.ID || b.Writing {
				return testenv.Errorf("%s: Bound = %+v, %v; want %s bound to %s", name, b, ok, cmd.ID, fp)
			}
			return nil
		})
		if err := r.Claim(reuse); !errors.Is(err, commandbus.ErrKeyReused) {
			t.Errorf("%s: Claim of another request with the key = %v, want ErrKeyReused", name, err)
		}
	}
}
