package connect

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLS is the client side of a TLS connection: which CA to trust and which
// certificate to show.
type TLS struct {
	// Enabled turns TLS on with the system's CAs; any file below turns it
	// on too.
	Enabled bool
	// CAFile is a PEM file of the CAs that sign the server's certificate;
	// empty trusts the system's CAs.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key (PEM),
	// for servers that require one; both or neither.
	CertFile, KeyFile string
	// ServerName is the name the server's certificate must carry; empty
	// is the host of the address dialled.
	ServerName string
}

// On reports whether the connection uses TLS.
func (t TLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != ""
}

// validate reports settings that cannot work; prefix is the settings'
// variable prefix (e.g. KAFKA_TLS).
func (t TLS) validate(prefix string) error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("%s_CERT_FILE and %s_KEY_FILE go together: set both for a client certificate, or neither", prefix, prefix)
	}
	return nil
}

// Config returns the tls.Config, or nil when TLS is off. prefix names the
// settings in errors (e.g. KAFKA_TLS).
func (t TLS) Config(prefix string) (*tls.Config, error) {
	if !t.On() {
		return nil, nil
	}
	if err := t.validate(prefix); err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s_CA_FILE: %w", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s_CA_FILE: %s holds no PEM certificate", prefix, t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			// LoadX509KeyPair's errors name no key material.
			return nil, fmt.Errorf("%s_CERT_FILE/%s_KEY_FILE: %w", prefix, prefix, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
