package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Kafka returns the seed brokers of the real Kafka cluster.
func Kafka(t testing.TB) []string {
	t.Helper()
	v := need(t, "KAFKA_BROKERS")
	brokers := strings.Split(v, ",")
	dial(t, "KAFKA_BROKERS", brokers[0])
	return brokers
}

// Redis returns the address of the real Redis server.
func Redis(t testing.TB) string {
	t.Helper()
	v := need(t, "REDIS_ADDR")
	dial(t, "REDIS_ADDR", v)
	return v
}

// Elasticsearch returns the URL of the real Elasticsearch server.
func Elasticsearch(t testing.TB) string {
	t.Helper()
	v := need(t, "ELASTICSEARCH_URL")
	host := strings.TrimPrefix(strings.TrimPrefix(v, "http://"), "https://")
	host, _, _ = strings.Cut(host, "/")
	dial(t, "ELASTICSEARCH_URL", host)
	return v
}

// Name returns prefix followed by a random suffix, for topics, groups,
// indices and key prefixes that must not collide between tests and runs.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func need(t testing.TB, env string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test skipped in -short mode (needs %s)", env)
	}
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s is not set; run `make test` to start the real servers", env)
	}
	return v
}

func dial(t testing.TB, env, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("%s=%s does not answer: %v (is `make services-up` running?)", env, addr, err)
	}
	c.Close()
}
