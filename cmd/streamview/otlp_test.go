package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/streamview/streamview/internal/testenv"
)

// TestServeExportsOTLP runs serve with the standard OTEL_EXPORTER_OTLP_*
// environment pointing at a stand-in collector, sends a command, and
// finds the spans posted to /v1/traces (OTLP over HTTP, protobuf) by the
// time serve has stopped (it flushes on the way out).
func TestServeExportsOTLP(t *testing.T) {
	var (
		mu      sync.Mutex
		posts   int
		ctype   string
		payload int
		bodies  []byte
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if r.Method == "POST" && r.URL.Path == "/v1/traces" {
			posts++
			ctype = r.Header.Get("Content-Type")
			payload += len(b)
			bodies = append(bodies, b...)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "streamview-test")

	brokers := strings.Join(testenv.Kafka(t), ",")
	redisAddr, esURL := testenv.Redis(t), testenv.Elasticsearch(t)
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveForTest(ctx, []string{"serve", "--brokers", brokers, "--redis", redisAddr, "--elasticsearch", esURL,
			"--addr", "127.0.0.1:0", "--log-level", "warn", "--log-format", "json"}, addrCh)
	}()
	base := waitListening(t, addrCh, done)
	a := call(t, "POST", base+"/v1/products", `{"name":"Exported Easel","description":"","price":{"amount":"30.00","currency":"EUR"},"categoryId":"art","categoryName":"Art","brandId":"acme","brandName":"ACME"}`,
		"Prefer", "wait=20", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if posts == 0 || ctype != "application/x-protobuf" || payload == 0 {
		t.Fatalf("the collector got %d POSTs to /v1/traces (Content-Type %q, %d bytes)", posts, ctype, payload)
	}
	// The request's server span continues the caller's trace: its trace
	// ID is in the exported spans (protobuf carries it as raw bytes).
	callerTrace, _ := hex.DecodeString("4bf92f3577b34da6a3ce929d0e0e4736")
	if !bytes.Contains(bodies, callerTrace) {
		t.Errorf("the exported spans do not carry the caller's trace ID")
	}
}
