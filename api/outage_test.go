package api

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/netcut"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// realBus is the command bus cmd/streamview wires.
type realBus struct {
	*commandbus.Sender
	*commandbus.Results
}

// TestCommandsWhileKafkaIsCut runs commands through the real Sender and
// Results with the broker's port closed: a POST answers 503 within the
// delivery timeout, a retry meanwhile 409, nothing is published; once the
// broker is back, a retry with the key is written and pending.
func TestCommandsWhileKafkaIsCut(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	commandsTopic := testenv.Topic(t, brokers, "t.commands", 3)
	resultsTopic := testenv.Topic(t, brokers, "t.results", 3)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	results, err := commandbus.NewResults(commandbus.ResultsConfig{Brokers: brokers, Topic: resultsTopic, CommandsTopic: commandsTopic}, codec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- results.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("results: %v", err)
		}
	})
	select {
	case <-results.Ready():
	case err := <-done:
		t.Fatalf("results: %v", err)
	}

	proxy, err := netcut.New(brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	viaProxy := kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, proxy.Addr())
	})
	const timeout = 2 * time.Second
	sender, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: []string{proxy.Addr()}, Topic: commandsTopic, Tracker: results,
		DeliveryTimeout: timeout, ClientOpts: []kgo.Opt{viaProxy}}, codec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sender.Close)
	s := testServer(t, Deps{Commands: realBus{sender, results}})
	published := func() int64 {
		ends, err := testenv.Admin(t, brokers).ListEndOffsets(context.Background(), commandsTopic)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}

	proxy.Cut()
	create := keyed(request{method: "POST", path: "/v1/products", body: createBody}, "cut-1")
	type answer struct {
		w    *httptest.ResponseRecorder
		took time.Duration
	}
	first := make(chan answer, 1)
	go func() {
		start := time.Now()
		w := serve(t, s.Handler(), create)
		first <- answer{w, time.Since(start)}
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := results.Stats().Writing; n != 1 {
			return testenv.Errorf("%d keys being written, want the first request's", n)
		}
		return nil
	})
	retry := serve(t, s.Handler(), create)
	wantProblem(t, retry, http.StatusConflict)
	if ra := retry.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("409 Retry-After = %q, want 1", ra)
	}

	a := <-first
	wantProblem(t, a.w, http.StatusServiceUnavailable)
	if a.w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if margin := 10 * time.Second; a.took > timeout+margin {
		t.Errorf("503 after %v, delivery timeout %v", a.took, timeout)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := results.Stats().Writing; n != 0 {
			return testenv.Errorf("%d keys still being written", n)
		}
		return nil
	})
	if n := published(); n != 0 {
		t.Fatalf("%d records on the commands topic after a 503, want 0", n)
	}

	// Back: a retry with the key is written (after a few 409s or 503s
	// while the client reconnects) and followed as pending or decided.
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	var ok *httptest.ResponseRecorder
	testenv.Eventually(t, 60*time.Second, func() error {
		w := serve(t, s.Handler(), create)
		if w.Code != http.StatusAccepted {
			return testenv.Errorf("retry: status %d; body %s", w.Code, w.Body)
		}
		ok = w
		return nil
	})
	st := decodeAs[commandStatus](t, ok)
	if got := serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + st.CommandID}); got.Code != http.StatusOK {
		t.Errorf("GET of the written command: status %d; body %s", got.Code, got.Body)
	}
	if n := published(); n < 1 {
		t.Errorf("%d records on the commands topic after a 202", n)
	}
}
