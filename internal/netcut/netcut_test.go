package netcut

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echo serves lines back until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through addr and returns the answer or the error.
func roundTrip(addr string, wait time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	return bufio.NewReader(c).ReadString('\n')
}

// TestProxyModes: a proxy forwards; cut, it refuses; blackholed, it
// accepts and never answers; restored, it forwards again on its address.
func TestProxyModes(t *testing.T) {
	p, err := New(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("forwarding: %q, %v", got, err)
	}

	if err := p.Blackhole(); err != nil {
		t.Fatal(err)
	}
	_, err = roundTrip(p.Addr(), 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blackholed: %v, want the connection accepted and no answer (a read deadline exceeded)", err)
	}

	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("restored after the blackhole: %q, %v", got, err)
	}

	p.Cut()
	if _, err := roundTrip(p.Addr(), 10*time.Second); err == nil {
		t.Fatal("cut: a round trip went through")
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("restored after the cut: %q, %v", got, err)
	}
}
