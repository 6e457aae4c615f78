package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServer serves s on a loopback port until the test ends or stop is
// called; stop returns Serve's error.
func startServer(t *testing.T, s *Server) (base string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	var stopped bool
	var serveErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			serveErr = <-errc
		}
		return serveErr
	}
	t.Cleanup(func() { stop() })
	return "http://" + ln.Addr().String(), stop
}

func TestServeOverTCP(t *testing.T) {
	bus := newFakeBus()
	bus.decider = accept(1)
	s := testServer(t, Deps{Commands: bus})
	base, stop := startServer(t, s)

	req, _ := http.NewRequest("POST", base+"/v1/products", strings.NewReader(createBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "wait=5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got commandStatus
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || got.Status != "accepted" {
		t.Errorf("answer %d %+v, want 201 accepted", resp.StatusCode, got)
	}

	// A body over the limit, streamed without a length.
	pr, pw := net.Pipe()
	go func() {
		pw.Write([]byte(`{"description":"`))
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < 20; i++ {
			if _, err := pw.Write(chunk); err != nil {
				break
			}
		}
		pw.Close()
	}()
	req, _ = http.NewRequest("PATCH", base+"/v1/products/"+productID, pr)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pr.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1.25 MiB body: status %d, want 413", resp.StatusCode)
	}

	if err := stop(); err != nil {
		t.Errorf("Serve after a graceful shutdown = %v, want nil", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

// TestShutdownEndsWaits: a request waiting with Prefer: wait answers 202 as
// soon as the server begins to shut down, instead of holding it up.
func TestShutdownEndsWaits(t *testing.T) {
	bus := newFakeBus() // never decides
	s := testServer(t, Deps{Commands: bus}, func(c *Config) { c.ShutdownTimeout = 20 * time.Second })
	base, stop := startServer(t, s)

	type answer struct {
		status int
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("DELETE", base+"/v1/products/"+productID, nil)
		req.Header.Set("Prefer", "wait=30")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		resp.Body.Close()
		done <- answer{status: resp.StatusCode}
	}()
	<-bus.waiting
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	a := <-done
	if a.err != nil || a.status != http.StatusAccepted {
		t.Errorf("waiting request got %d, %v: want 202", a.status, a.err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v: the wait held it up", d)
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	s := testServer(t, Deps{})
	if err := s.ListenAndServe(context.Background(), "256.0.0.1:http"); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("ListenAndServe on a bad address = %v, want a listen error", err)
	}
}
