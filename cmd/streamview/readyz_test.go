package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/internal/testenv"
)

// switchDialer refuses every dial while down and closes the connections it
// made when it goes down: Kafka unreachable for one client only.
type switchDialer struct {
	down  atomic.Bool
	dials atomic.Int64
	mu    sync.Mutex
	conns []net.Conn
}

func (d *switchDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	if d.down.Load() {
		return nil, errors.New("connection refused (test)")
	}
	d.dials.Add(1)
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *switchDialer) cut() {
	d.down.Store(true)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

// TestReadyzKafkaClient: /readyz pings Kafka through one long-lived
// client: repeated calls dial no new connections, an unreachable cluster
// is named, and the same client sees it come back. A failing decider is
// named too.
func TestReadyzKafkaClient(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	d := &switchDialer{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.Dialer(d.dial))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var deciderErr atomic.Pointer[error]
	checks := readiness(stack{}, cl)[:1] // kafka only
	checks = append(checks, api.Check{Name: "decider", Check: func(context.Context) error {
		if p := deciderErr.Load(); p != nil {
			return *p
		}
		return nil
	}})
	srv := httptest.NewServer(api.New(api.Config{ReadyTimeout: 2 * time.Second}, api.Deps{Ready: checks}).Handler())
	defer srv.Close()
	readyz := func() (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Checks map[string]any `json:"checks"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body.Checks
	}

	if code, checks := readyz(); code != 200 || checks["kafka"] != "ok" || checks["decider"] != "ok" {
		t.Fatalf("readyz: %d %v", code, checks)
	}
	// The client may still open its connection to the broker it
	// discovers (besides the seed's); a client per call would dial each
	// time.
	dials := d.dials.Load()
	for range 20 {
		if code, _ := readyz(); code != 200 {
			t.Fatalf("readyz: %d", code)
		}
	}
	if n := d.dials.Load() - dials; n > 2 {
		t.Errorf("20 more /readyz dialled Kafka %d times: want the open connections reused", n)
	}

	d.cut()
	testenv.Eventually(t, time.Minute, func() error {
		if code, checks := readyz(); code != 503 || checks["kafka"] != "failing" {
			return testenv.Errorf("readyz while Kafka is unreachable: %d %v", code, checks)
		}
		return nil
	})
	d.down.Store(false)
	testenv.Eventually(t, time.Minute, func() error {
		if code, checks := readyz(); code != 200 {
			return testenv.Errorf("readyz once Kafka is back: %d %v", code, checks)
		}
		return nil
	})

	e := errors.New("decider: retrying since 2026-01-01T00:00:00Z (6 failed attempts in a row): no broker")
	deciderErr.Store(&e)
	if code, checks := readyz(); code != 503 || checks["decider"] != "failing" || checks["kafka"] != "ok" {
		t.Fatalf("readyz with a failing decider: %d %v", code, checks)
	}
}
