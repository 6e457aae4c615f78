package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/topics"
)

// refusedAddr is a loopback address where nothing listens: a dial is
// refused at once.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A command of the client the commands build fails at once when Redis
// refuses the connection (it took 1.7 s: 4 attempts of 5 dials 100 ms
// apart), and the same client works once Redis answers: callers that
// retry (the projectors, the notifier) need no new one.
func TestRedisRefusedDialFailsAtOnce(t *testing.T) {
	addr := refusedAddr(t)
	rc, err := newRedisConn(connect.Redis{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		began := time.Now()
		err := rc.SetNX(ctx, "k", "v", 0).Err()
		took := time.Since(began)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("SetNX on a refused port: %v, want connection refused", err)
		}
		if took > time.Second {
			t.Fatalf("SetNX on a refused port failed after %s, want at once (under 1 s)", took.Round(time.Millisecond))
		}
	}
	srv := miniredis.NewMiniRedis()
	if err := srv.StartAddr(addr); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	testenv.Eventually(t, 30*time.Second, func() error { return rc.SetNX(ctx, "k", "v", 0).Err() })
}

// serve on a Redis that refuses connections listens at once, its view
// projector waiting for Redis in the background. It listened after
// projectorStartTimeout (5 s): the projector's first start, a few
// commands of 1.7 s each, took the whole bound.
func TestServeListensAtOnceWithRedisRefused(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topics.Commands, topics.CommandResults, topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var logs testenv.Buffer
	began := time.Now()
	startListening(t, []string{"serve", "--roles", "api,projector", "--projections", productview.Name,
		"--brokers", strings.Join(cluster.ListenAddrs(), ","), "--redis", refusedAddr(t),
		"--elasticsearch", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "--log-level", "error"}, &logs)
	if took := time.Since(began); took > projectorStartTimeout/2 {
		t.Fatalf("serve listened %s after its start with Redis refusing, want at once (under %s)\n%s",
			took.Round(time.Millisecond), projectorStartTimeout/2, logs.String())
	}
	if !strings.Contains(logs.String(), "projector cannot start") {
		t.Fatalf("serve did not say its projector waits for Redis:\n%s", logs.String())
	}
}
