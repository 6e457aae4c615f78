package connect

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Server names the server a connection error is about, and the prefix of
// its settings' variables.
type Server struct {
	Name   string // kafka, redis, elasticsearch
	prefix string // KAFKA, REDIS, ELASTICSEARCH
	tls    string // the prefix of its TLS variables
}

var (
	KafkaServer          = Server{"kafka", "KAFKA_SASL", "KAFKA_TLS"}
	RedisServer          = Server{"redis", "REDIS", "REDIS_TLS"}
	ElasticsearchServer  = Server{"elasticsearch", "ELASTICSEARCH", "ELASTICSEARCH"}
	SchemaRegistryServer = Server{"schema registry", "SCHEMA_REGISTRY", "SCHEMA_REGISTRY"}
)

// Error is a connection that failed for a reason a setting fixes: an
// untrusted certificate, a missing client certificate, a refused login.
// Retrying does not help; changing the setting Fix names does.
type Error struct {
	Server string // kafka, redis, elasticsearch
	Addr   string
	What   string // what went wrong, in words
	Fix    string // which setting to change, and how
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s at %s: %s: %s (%v)", e.Server, e.Addr, e.What, e.Fix, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsConfig reports whether err is (or wraps) an *Error: a connection that
// a setting must fix rather than a server that is down.
func IsConfig(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Explain returns err as an *Error when it is a TLS or login failure
// against srv at addr, and err unchanged otherwise (a server that is down
// or slow). user is the user that tried to log in, for the message.
func Explain(srv Server, addr, user string, err error) error {
	if err == nil || IsConfig(err) {
		return err
	}
	e := &Error{Server: srv.Name, Addr: addr, Err: err}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA) || strings.Contains(msg, "certificate signed by unknown authority"):
		e.What = "its certificate is not signed by a CA this client trusts"
		e.Fix = fmt.Sprintf("set %s_CA_FILE to the PEM file of the CA that signed it", srv.tls)
		if srv == ElasticsearchServer {
			e.Fix += " (or ELASTICSEARCH_CA_FINGERPRINT to its SHA-256)"
		}
	case errors.Is(err, errFingerprint):
		e.What = "no certificate of its chain has the pinned fingerprint"
		e.Fix = "set ELASTICSEARCH_CA_FINGERPRINT to the SHA-256 of its CA (or use ELASTICSEARCH_CA_FILE)"
	case errors.As(err, &hostname):
		e.What = "its certificate is for another name"
		e.Fix = fmt.Sprintf("connect by a name the certificate carries, or set %s_SERVER_NAME to one", srv.tls)
	case errors.As(err, &invalid):
		e.What = "its certificate is not valid (expired, or not for a server)"
		e.Fix = "renew the server's certificate"
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") ||
		strings.Contains(msg, "unknown certificate authority") && strings.Contains(msg, "remote error"):
		e.What = "it requires a client certificate signed by a CA it trusts, and refused this connection's"
		e.Fix = fmt.Sprintf("set %s_CERT_FILE and %s_KEY_FILE to a client certificate and key the server accepts", srv.tls, srv.tls)
	case errors.As(err, &header) || strings.Contains(msg, "first record does not look like a TLS handshake"):
		e.What = "it does not speak TLS on this port"
		e.Fix = fmt.Sprintf("turn TLS off (unset %s and %s_*) or connect to the server's TLS port", srv.tls, srv.tls)
		if srv == ElasticsearchServer {
			e.Fix = "use an http:// URL in ELASTICSEARCH_URL, or the server's HTTPS port"
		}
	case srv == KafkaServer && strings.Contains(msg, "plaintext connection speaking to a tls endpoint"):
		// franz-go's guess when a broker's first answer is a TLS alert.
		t := plainToTLS(srv, addr)
		e.What, e.Fix = t.What, t.Fix
	case srv == RedisServer && strings.Contains(msg, "cluster support disabled"):
		// A cluster client's first command (CLUSTER SLOTS) to one server.
		e.What = "it is not a Redis Cluster (cluster support disabled)"
		e.Fix = "drop --redis-cluster (unset REDIS_CLUSTER), or name nodes of a Redis Cluster"
	case srv == KafkaServer && errors.Is(err, kerr.SaslAuthenticationFailed):
		e.What = fmt.Sprintf("the login as %q was refused", user)
		e.Fix = "check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) and KAFKA_SASL_MECHANISM (a SCRAM user exists per hash: SHA-256 and SHA-512 are separate)"
	case srv == KafkaServer && (errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.IllegalSaslState)):
		e.What = "the broker does not accept this SASL mechanism on this listener"
		e.Fix = "set KAFKA_SASL_MECHANISM to one the listener enables (sasl.enabled.mechanisms), or connect to its SASL listener"
	case srv == RedisServer && strings.Contains(msg, "WRONGPASS"):
		e.What = fmt.Sprintf("the login as %q was refused", userOr(user, "default"))
		e.Fix = "check REDIS_USERNAME and REDIS_PASSWORD (or REDIS_PASSWORD_FILE)"
	case srv == RedisServer && strings.Contains(msg, "NOAUTH"):
		e.What = "it requires a login"
		e.Fix = "set REDIS_USERNAME (for an ACL user) and REDIS_PASSWORD (or REDIS_PASSWORD_FILE)"
	default:
		return err
	}
	return e
}

func userOr(u, def string) string {
	if u == "" {
		return def
	}
	return u
}

// DialErrors is a franz-go hook that remembers the last failed connection
// to a broker. franz-go retries a failed dial until the request's context
// ends, so a Ping that runs out reports only the deadline; the dial error
// says why (an untrusted certificate, a refused login).
type DialErrors struct {
	mu   sync.Mutex
	last error
}

var _ kgo.HookBrokerConnect = (*DialErrors)(nil)

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (d *DialErrors) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	d.mu.Lock()
	d.last = err
	d.mu.Unlock()
}

// Last is the last connection error, or nil.
func (d *DialErrors) Last() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}
