package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// TestPingRedisReadsTheAlertPastResets is the race CI met once: over TLS
// 1.3 a server that refuses the client's certificate may close the
// connection before the client reads its alert, so the first commands
// fail with a reset. The server here ends its first connections' TLS
// handshakes and resets them, then refuses the missing client certificate
// as Redis does; the ping must
// report the refused certificate (a setting to fix), not a reset (a
// server to wait for).
func TestPingRedisReadsTheAlertPastResets(t *testing.T) {
	caFile, serverCert := testCA(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const resets = 12
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reset := accepted.Add(1) <= resets
			go func() {
				defer c.Close()
				cfg := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAnyClientCert}
				if reset {
					cfg.ClientAuth = tls.NoClientCert
				}
				s := tls.Server(c, cfg)
				if s.Handshake() != nil {
					return
				}
				if reset {
					c.(*net.TCPConn).SetLinger(0)
					return
				}
				s.Read(make([]byte, 1))
			}()
		}
	}()

	conn := connect.Redis{Addr: ln.Addr().String(), TLS: connect.TLS{CAFile: caFile}}
	rc, err := conn.Client(redisOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = pingRedis(ctx, rc, conn)
	if !connect.IsConfig(err) || !strings.Contains(err.Error(), "requires a client certificate") {
		t.Fatalf("ping after %d connections: %v; want the refused client certificate explained", accepted.Load(), err)
	}
	if accepted.Load() <= resets {
		t.Fatalf("only %d connections: the server's resets were not met", accepted.Load())
	}
}

// TestPreflightSettingErrors: a server met with the wrong kind of client
// (a Redis Cluster node with one server's, one server with a cluster's,
// TLS at a plaintext port and plaintext at a TLS port, for each server)
// stops serve at start with a message naming the server and the setting
// to fix; before, serve waited for it forever as for a server that is
// down. Each case needs its server and skips without it.
func TestPreflightSettingErrors(t *testing.T) {
	brokers := strings.Join(testenv.Kafka(t), ",")
	redisAddr := testenv.Redis(t)
	esURL := testenv.Elasticsearch(t)
	otherCA, _ := testCA(t)
	first := func(env string) string { a, _, _ := strings.Cut(os.Getenv(env), ","); return a }
	cases := []struct {
		name  string
		needs string // the environment variable of the server it needs, if any
		flags []string
		want  []string
	}{
		{"redis cluster node without --redis-cluster", redistest.EnvClusterAddrs,
			[]string{"--redis", first(redistest.EnvClusterAddrs)},
			[]string{"redis at " + first(redistest.EnvClusterAddrs) + ": it is a node of a Redis Cluster: pass --redis-cluster (REDIS_CLUSTER=true)"}},
		{"--redis-cluster at one server", "",
			[]string{"--redis-cluster"},
			[]string{"redis at " + redisAddr + ": it is not a Redis Cluster (cluster support disabled): drop --redis-cluster"}},
		{"redis TLS client at the plaintext port", "",
			[]string{"--redis-tls-ca-file", otherCA},
			[]string{"redis at " + redisAddr + ": it speaks plain RESP, not TLS: unset REDIS_TLS and REDIS_TLS_*"}},
		{"redis plaintext client at the TLS port", "REDIS_TLS_ADDR",
			[]string{"--redis", os.Getenv("REDIS_TLS_ADDR")},
			[]string{"redis at " + os.Getenv("REDIS_TLS_ADDR") + ": it speaks TLS on this port: set REDIS_TLS=true and its CA (REDIS_TLS_CA_FILE)"}},
		{"elasticsearch http:// at the HTTPS port", "ELASTICSEARCH_PROXY_URL",
			[]string{"--elasticsearch", strings.Replace(os.Getenv("ELASTICSEARCH_PROXY_URL"), "https://", "http://", 1)},
			[]string{"it speaks TLS on this port: use https:// (ELASTICSEARCH_URL=" + os.Getenv("ELASTICSEARCH_PROXY_URL")}},
		{"elasticsearch https:// at the HTTP port", "",
			[]string{"--elasticsearch", strings.Replace(esURL, "http://", "https://", 1), "--elasticsearch-ca-file", otherCA},
			[]string{"it does not speak TLS on this port: use an http:// URL"}},
		{"kafka plaintext client at the SASL_SSL port, decider and projector", "KAFKA_SASL_BROKERS",
			[]string{"--brokers", os.Getenv("KAFKA_SASL_BROKERS"), "--roles", "decider,projector"},
			[]string{"kafka at " + os.Getenv("KAFKA_SASL_BROKERS") + ": the broker speaks TLS on this port: set KAFKA_TLS=true"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needs != "" && os.Getenv(c.needs) == "" {
				t.Skipf("%s is not set", c.needs)
			}
			flags := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "error",
				"--brokers", brokers, "--redis", redisAddr, "--elasticsearch", esURL}, c.flags...) // the last of a flag wins
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, flags, nil, &out, &out)
			if err == nil || ctx.Err() != nil || !connect.IsConfig(err) {
				t.Fatalf("serve did not stop with a setting to fix (err %v, ctx %v)\n%s", err, ctx.Err(), &out)
			}
			t.Logf("serve: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestPreflightWaitsForADownServer: servers that are merely down, now
// checked whether secured or not, are only logged: the roles wait for
// them.
func TestPreflightWaitsForADownServer(t *testing.T) {
	down := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	kafkaConn := connect.Kafka{Brokers: []string{down()}}
	redisConn := connect.Redis{Addr: down()}
	esConn := connect.Elasticsearch{URLs: []string{"http://" + down()}}
	var logs bytes.Buffer
	st := stack{brokers: kafkaConn.Brokers, logger: slog.New(slog.NewTextHandler(&logs, nil))}
	rc, err := newRedisConn(redisConn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	st.redis = rc
	st.searchReady = func(context.Context) error { return errors.New("down (test)") }
	if err := preflight(context.Background(), st, connections{kafka: &kafkaConn, redis: &redisConn, es: &esConn}); err != nil {
		t.Fatalf("preflight: %v; want servers that are down only logged", err)
	}
	for _, w := range []string{"kafka does not answer yet", "redis does not answer yet"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("no %q in the log:\n%s", w, &logs)
		}
	}
}

// testCA writes a CA's certificate to a file and returns it with a
// server certificate for 127.0.0.1 that it signed.
func testCA(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "connection test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
