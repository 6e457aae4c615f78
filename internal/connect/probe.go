package connect

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// A client that speaks TLS to a plaintext port, or plaintext to a TLS
// port, fails in ways that look like a server that is down or slow: a
// handshake that never ends (Redis waits for the end of a line that never
// comes), an end of file, a 400. Retrying never helps, so a failed
// connection is probed the other way: only a server that answers that way
// (a plain PING answered as Redis does, a TLS handshake answered with a
// certificate) makes the failure a setting to fix.

// ExplainProtocol returns err as an *Error when a probe of addrs (host:port)
// within ctx finds them speaking the other protocol than the client:
// plaintext RESP where tlsOn (for Redis; other servers' plaintext is not
// probed), TLS where not. err is returned unchanged when it is nil, already
// explained, a refused connection (nothing listens: a server that is down)
// or when no probe answers.
func ExplainProtocol(ctx context.Context, srv Server, addrs []string, tlsOn bool, err error) error {
	// Nothing answered (refused, or no answer to the dial at all): there
	// is nothing to probe, and a probe would only wait again.
	var op *net.OpError
	if err == nil || IsConfig(err) || errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") {
		return err
	}
	for _, addr := range addrs {
		switch {
		case tlsOn && srv == RedisServer:
			if line, ok := speaksRESP(ctx, addr); ok {
				return &Error{Server: srv.Name, Addr: addr, What: "it speaks plain RESP, not TLS",
					Fix: "unset REDIS_TLS and REDIS_TLS_* (REDIS_TLS_CA_FILE, …), or connect to the server's TLS port",
					Err: fmt.Errorf("%w; a plain PING to it was answered %q", err, line)}
			}
		case !tlsOn:
			if cert := speaksTLS(ctx, addr); cert != nil {
				e := plainToTLS(srv, addr)
				e.Err = fmt.Errorf("%w; a TLS handshake with it was answered with a certificate for %q issued by %q",
					err, cert.Subject.CommonName, cert.Issuer.CommonName)
				return e
			}
		}
	}
	return err
}

// plainToTLS is the *Error, without its cause, of a plaintext client
// connected to srv's TLS port at addr.
func plainToTLS(srv Server, addr string) *Error {
	e := &Error{Server: srv.Name, Addr: addr, What: "it speaks TLS on this port"}
	switch srv {
	case RedisServer:
		e.Fix = "set REDIS_TLS=true and its CA (REDIS_TLS_CA_FILE), or connect to the server's plaintext port"
	case KafkaServer:
		e.What = "the broker speaks TLS on this port"
		e.Fix = "set KAFKA_TLS=true and its CA (KAFKA_TLS_CA_FILE), and KAFKA_SASL_* for a SASL_SSL listener; or connect to its PLAINTEXT listener"
	case ElasticsearchServer:
		e.Fix = "use an https:// URL in ELASTICSEARCH_URL, with its CA (ELASTICSEARCH_CA_FILE or ELASTICSEARCH_CA_FINGERPRINT)"
	default:
		e.Fix = fmt.Sprintf("use TLS (%s_CA_FILE) or connect to the server's plaintext port", srv.tls)
	}
	return e
}

// speaksTLS returns the certificate addr answers a TLS handshake with, or
// nil. Nothing is trusted or sent: the certificate is only looked at.
func speaksTLS(ctx context.Context, addr string) *x509.Certificate {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	var leaf *x509.Certificate
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(c, &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, // a probe: it reads the certificate, trusts nothing
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 {
				leaf, _ = x509.ParseCertificate(raw[0])
			}
			return nil
		},
	})
	// A server that requires a client certificate may refuse the
	// handshake after it showed its own: the certificate is the answer.
	_ = tc.HandshakeContext(ctx)
	return leaf
}

// speaksRESP reports whether addr answers a plain PING as Redis does: a
// simple string (+PONG) or an error (-NOAUTH …, -DENIED …), and that line.
func speaksRESP(ctx context.Context, addr string) (string, bool) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", false
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return "", false
	}
	line, err := bufio.NewReaderSize(io.LimitReader(c, 256), 256).ReadString('\n')
	if err != nil || len(line) < 3 || line[0] != '+' && line[0] != '-' || !strings.HasSuffix(line, "\r\n") {
		return "", false
	}
	return strings.TrimSuffix(line, "\r\n"), true
}
