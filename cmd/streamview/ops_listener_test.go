package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/streamview/streamview/internal/testenv"
)

// TestServeOpsListener: a serve without the api role (here a decider
// process) listens on --ops-addr with /healthz, /readyz (Kafka and the
// decider's health; not Redis, which it does not use) and /metrics (its
// decider's series), and nothing else. Such processes opened no listener,
// so that a split deployment's deciders and projectors could be neither
// probed nor scraped (helper 89).
func TestServeOpsListener(t *testing.T) {
	brokers := fakeCatalogKafka(t, 3)
	mr := miniredis.RunT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--roles", "decider", "--brokers", strings.Join(brokers, ","), "--snapshot-every", "-1",
			"--redis", mr.Addr(), "--elasticsearch", "http://127.0.0.1:1", "--ops-addr", addr, "--log-level", "error"}, nil, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	get := func(path string) (int, string, error) {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, string(b), err
	}
	testenv.Eventually(t, time.Minute, func() error {
		code, body, err := get("/readyz")
		if err != nil || code != http.StatusOK {
			return testenv.Errorf("/readyz: %d %s %v", code, body, err)
		}
		if !strings.Contains(body, `"kafka":"ok"`) || !strings.Contains(body, `"decider":"ok"`) || strings.Contains(body, "redis") {
			return testenv.Errorf("/readyz checks %s; want kafka and decider, not redis", body)
		}
		return nil
	})
	if code, body, err := get("/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz: %d %s %v", code, body, err)
	}
	if code, body, err := get("/metrics"); err != nil || code != http.StatusOK || !strings.Contains(body, "streamview_decider_") {
		t.Errorf("/metrics: %d %v; the decider's series missing: %.300s", code, err, body)
	}
	for _, path := range []string{"/v1/projections", "/v1/products/search", "/"} {
		if code, _, err := get(path); err != nil || code != http.StatusNotFound {
			t.Errorf("%s on the ops listener: %d %v, want 404", path, code, err)
		}
	}
}
