package connect

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// respServer answers every line it reads with reply, as a plaintext Redis
// answers PING (+PONG, or -NOAUTH when it requires a login).
func respServer(t *testing.T, reply string) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			if _, err := io.WriteString(c, reply); err != nil {
				return
			}
		}
	})
}

// blackhole accepts connections and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) { io.Copy(io.Discard, c) })
}

// serveConns serves each connection of a local listener with handle until
// the test ends.
func serveConns(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// tlsServer is an HTTPS server; with clientCert it requires a client
// certificate, as the secured Redis and Kafka listeners do.
func tlsServer(t *testing.T, clientCert bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if clientCert {
		srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestExplainProtocol(t *testing.T) {
	timeout := errors.New("context deadline exceeded")
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	plainHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plainHTTP.Close()
	cases := []struct {
		name  string
		srv   Server
		addr  string
		tlsOn bool
		err   error
		want  []string // nil: err unchanged
	}{
		{"redis TLS client, plain Redis", RedisServer, respServer(t, "+PONG\r\n"), true, timeout,
			[]string{"redis at 127.0.0.1:", "speaks plain RESP, not TLS", "unset REDIS_TLS", `answered "+PONG"`}},
		{"redis TLS client, plain Redis with a login", RedisServer, respServer(t, "-NOAUTH Authentication required.\r\n"), true, timeout,
			[]string{"speaks plain RESP, not TLS", "-NOAUTH"}},
		{"redis plain client, TLS port", RedisServer, strings.TrimPrefix(tlsServer(t, false).URL, "https://"), false, io.EOF,
			[]string{"speaks TLS", "set REDIS_TLS=true and its CA (REDIS_TLS_CA_FILE)"}},
		{"redis plain client, TLS port requiring a client certificate", RedisServer, strings.TrimPrefix(tlsServer(t, true).URL, "https://"), false, io.EOF,
			[]string{"speaks TLS", "REDIS_TLS=true"}},
		{"kafka plain client, TLS port", KafkaServer, strings.TrimPrefix(tlsServer(t, true).URL, "https://"), false, io.EOF,
			[]string{"kafka at", "broker speaks TLS", "KAFKA_TLS=true"}},
		{"redis TLS client, HTTP port", RedisServer, strings.TrimPrefix(plainHTTP.URL, "http://"), true, timeout, nil},
		{"redis plain client, HTTP port", RedisServer, strings.TrimPrefix(plainHTTP.URL, "http://"), false, io.EOF, nil},
		{"redis TLS client, TLS port", RedisServer, strings.TrimPrefix(tlsServer(t, false).URL, "https://"), true, timeout, nil},
		{"redis plain client, plain Redis", RedisServer, respServer(t, "+PONG\r\n"), false, io.EOF, nil},
		{"blackhole", RedisServer, blackhole(t), true, timeout, nil},
		{"blackhole, plain client", RedisServer, blackhole(t), false, timeout, nil},
		{"nothing listens", RedisServer, closedAddr(t), false, timeout, nil},
		{"refused is not probed", RedisServer, strings.TrimPrefix(tlsServer(t, false).URL, "https://"), false, refused, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			err := ExplainProtocol(ctx, c.srv, []string{c.addr}, c.tlsOn, c.err)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the probe took %v, past its context's 1s", d)
			}
			if c.want == nil {
				if err != c.err {
					t.Fatalf("got %v, want %v unchanged", err, c.err)
				}
				return
			}
			if !IsConfig(err) || !errors.Is(err, c.err) {
				t.Fatalf("got %v, want a setting error wrapping %v", err, c.err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestElasticsearchCheckPlainURLs(t *testing.T) {
	https := tlsServer(t, false)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	httpToTLS := strings.Replace(https.URL, "https://", "http://", 1)
	cases := []struct {
		name string
		urls []string
		want string // "": no error
	}{
		{"http to an HTTPS port", []string{httpToTLS}, "use https:// (ELASTICSEARCH_URL=" + https.URL + ")"},
		{"the second URL", []string{plain.URL, httpToTLS}, "elasticsearch at " + httpToTLS + ": it speaks TLS"},
		{"http to an HTTP port", []string{plain.URL}, ""},
		{"https is not probed", []string{https.URL}, ""},
		{"nothing listens", []string{"http://" + closedAddr(t)}, ""},
		{"blackhole", []string{"http://" + blackhole(t)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := Elasticsearch{URLs: c.urls}.CheckPlainURLs(ctx)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !IsConfig(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a setting error saying %q", err, c.want)
			}
		})
	}
}
