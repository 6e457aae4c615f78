package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secure are the secured listeners of the real servers (scripts/services,
// lib.sh): Kafka SASL_SSL, Redis TLS with an ACL user, Elasticsearch behind
// the TLS proxy that checks credentials. Dir holds the test CA, the client
// certificate and the secrets; the File methods name them.
type Secure struct {
	KafkaBrokers []string // KAFKA_SASL_BROKERS
	RedisAddr    string   // REDIS_TLS_ADDR
	ESURL        string   // ELASTICSEARCH_PROXY_URL
	Dir          string   // STREAMVIEW_SECURE_DIR
	User         string   // the user of all three
}

// File returns the path of name in Dir: ca.pem, client.pem, client.key,
// kafka.password, redis.password, es.password, es.apikey.
func (s Secure) File(name string) string { return filepath.Join(s.Dir, name) }

// Secret returns the content of secret file name.
func (s Secure) Secret(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(s.File(name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// SecureServers returns the secured listeners. It skips in -short mode and
// when the Makefile's variables are unset or their certificate folder does
// not exist (servers started without them, e.g. by Docker Compose), and
// fails when a listener does not answer.
func SecureServers(t testing.TB) Secure {
	t.Helper()
	s := Secure{
		KafkaBrokers: strings.Split(need(t, "KAFKA_SASL_BROKERS"), ","),
		RedisAddr:    need(t, "REDIS_TLS_ADDR"),
		ESURL:        need(t, "ELASTICSEARCH_PROXY_URL"),
		Dir:          need(t, "STREAMVIEW_SECURE_DIR"),
	}
	if _, err := os.Stat(s.File("ca.pem")); err != nil {
		t.Skipf("secured listeners not set up: %v (scripts/services/up.sh makes them beside the default ports)", err)
	}
	user, err := os.ReadFile(s.File("user"))
	if err != nil {
		t.Fatal(err)
	}
	s.User = strings.TrimSpace(string(user))
	dial(t, "KAFKA_SASL_BROKERS", s.KafkaBrokers[0])
	dial(t, "REDIS_TLS_ADDR", s.RedisAddr)
	dial(t, "ELASTICSEARCH_PROXY_URL", strings.TrimPrefix(s.ESURL, "https://"))
	return s
}
