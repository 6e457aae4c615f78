package decider

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// outage is a dialer whose network can go down and come back: while down,
// every dial is refused. Armed with an API key, it goes down just before a
// request of that kind is sent.
type outage struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
	arm   atomic.Int32 // API key, or -1
}

func newOutage() *outage {
	o := &outage{}
	o.arm.Store(-1)
	return o
}

func (o *outage) dial(ctx context.Context, network, host string) (net.Conn, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return nil, errors.New("outage: connection refused")
	}
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	o.conns = append(o.conns, c)
	return outageConn{Conn: c, o: o}, nil
}

// cut takes the network down and closes every connection.
func (o *outage) cut() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = true
	for _, c := range o.conns {
		c.Close()
	}
	o.conns = nil
}

func (o *outage) restore() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = false
}

func (o *outage) isDown() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.down
}

type outageConn struct {
	net.Conn
	o *outage
}

// Write sees one whole request: 4 bytes of size, then the API key.
func (c outageConn) Write(b []byte) (int, error) {
	if k := c.o.arm.Load(); k >= 0 && len(b) >= 6 && int32(binary.BigEndian.Uint16(b[4:6])) == k {
		c.o.arm.Store(-1)
		c.o.cut()
		return 0, errors.New("outage: network down")
	}
	return c.Conn.Write(b)
}

// TestDeciderOutlastsKafkaOutage: Kafka goes away in the middle of a
// transaction and stays away for more failed sessions than the decider
// used to tolerate; the decider keeps retrying, says so in Health, and
// once Kafka is back decides the command of the cut transaction and the
// next one, each once.
func TestDeciderOutlastsKafkaOutage(t *testing.T) {
	f := newFixture(t, 1)
	out := newOutage()
	cfg := f.config()
	cfg.TransactionTimeout = 2 * time.Second
	cfg.SessionTimeout = 3 * time.Second
	cfg.Retry = backoff.Policy{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	// Fail fast while the network is down, so that sessions fail quickly.
	cfg.ClientOpts = append(slices.Clone(cfg.ClientOpts), kgo.Dialer(out.dial),
		kgo.RequestRetries(2), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	r := f.start(t, cfg, nil)
	b := f.bus(t)

	pid := commandbus.NewID()
	if res := b.do(t, createCmd(pid, 8999)); res.Status != schemas.StatusAccepted || res.Version != 1 {
		t.Fatalf("create: %+v", res)
	}
	if h := r.d.Health(); h.Failing {
		t.Fatalf("health after a decided command: %+v", h)
	}

	// The network goes down as the next transaction ends.
	out.arm.Store(int32(kmsg.EndTxn))
	price := priceCmd(pid, 7999)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := b.send.Send(ctx, price); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if !out.isDown() {
			return errors.New("the transaction has not ended yet")
		}
		return nil
	})
	sessions := r.d.Stats().Sessions
	testenv.Eventually(t, 3*time.Minute, func() error {
		select {
		case err := <-r.done:
			r.cancel = nil
			t.Fatalf("Run returned during the outage: %v", err)
		default:
		}
		h := r.d.Health()
		if n := r.d.Stats().Sessions - sessions; n <= 6 || !h.Failing || h.Failures <= 5 {
			return fmt.Errorf("%d sessions since the cut, health %+v", n, h)
		}
		return nil
	})
	h := r.d.Health()
	if h.Error() == nil || h.Since.IsZero() {
		t.Fatalf("health during the outage: %+v", h)
	}
	t.Logf("during the outage: %v", h.Error())
	out.restore()

	res, err := b.results.Wait(ctx, price.ID)
	if err != nil {
		t.Fatalf("price change after the outage: %v", err)
	}
	if res.Status != schemas.StatusAccepted || res.Version != 2 {
		t.Fatalf("price change after the outage: %+v", res)
	}
	if res := b.do(t, priceCmd(pid, 6999)); res.Status != schemas.StatusAccepted || res.Version != 3 {
		t.Fatalf("price change once Kafka is back: %+v", res)
	}
	if h := r.d.Health(); h.Failing {
		t.Fatalf("health once Kafka is back: %+v", h)
	}
	events := f.readEvents(t)
	if len(events) != 3 {
		t.Fatalf("%d events, want 3 (create and two price changes, each once)", len(events))
	}
}

// TestDeciderWaitsForKafkaAtStart: a decider started while Kafka cannot be
// reached waits for it, saying so in Health, instead of returning.
func TestDeciderWaitsForKafkaAtStart(t *testing.T) {
	f := newFixture(t, 1)
	out := newOutage()
	out.cut()
	cfg := f.config()
	cfg.Retry = backoff.Policy{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	cfg.ClientOpts = append(slices.Clone(cfg.ClientOpts), kgo.Dialer(out.dial),
		kgo.RequestRetries(2), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	r := f.start(t, cfg, nil)
	testenv.Eventually(t, 2*time.Minute, func() error {
		select {
		case err := <-r.done:
			r.cancel = nil
			t.Fatalf("Run returned while Kafka was unreachable: %v", err)
		default:
		}
		// Longer than the wait for missing topics, which ends Run.
		if h := r.d.Health(); !h.Failing || time.Since(h.Since) < topicWait+time.Second {
			return fmt.Errorf("health %+v", h)
		}
		return nil
	})
	out.restore()
	b := f.bus(t)
	if res := b.do(t, createCmd(commandbus.NewID(), 8999)); res.Status != schemas.StatusAccepted || res.Version != 1 {
		t.Fatalf("create once Kafka is reachable: %+v", res)
	}
	if h := r.d.Health(); h.Failing {
		t.Fatalf("health once Kafka is back: %+v", h)
	}
}
