package connect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
)

// Elasticsearch is how to reach and log in to Elasticsearch. The zero
// value of everything but URLs is no authentication and the system's CAs.
type Elasticsearch struct {
	// URLs are the nodes; they never carry credentials.
	URLs []string
	// Username and Password are basic auth; APIKey (the base64 "id:key"
	// that Elasticsearch's create-API-key answer calls "encoded") is the
	// alternative. At most one of the two.
	Username string
	Password Secret
	APIKey   Secret
	// CAFile is a PEM file of the CAs that sign the server's certificate.
	CAFile string
	// CAFingerprint is the hex SHA-256 of a certificate in the server's
	// chain (what Elasticsearch prints on first start), instead of a CA
	// file: the connection is trusted when one certificate matches.
	CAFingerprint string
}

// Validate reports every setting that cannot work, naming its variable.
func (c Elasticsearch) Validate() error {
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("ELASTICSEARCH_URL: name at least one node URL"))
	}
	for _, u := range c.URLs {
		if err := checkURL("ELASTICSEARCH_URL", "set ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD (or ELASTICSEARCH_API_KEY) instead", u); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.APIKey.IsZero() && (c.Username != "" || !c.Password.IsZero()) {
		errs = append(errs, errors.New("ELASTICSEARCH_API_KEY and ELASTICSEARCH_USERNAME/PASSWORD are both set: keep one way to log in"))
	}
	if (c.Username == "") != c.Password.IsZero() {
		errs = append(errs, errors.New("ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD (or ELASTICSEARCH_PASSWORD_FILE) go together"))
	}
	if c.CAFile != "" && c.CAFingerprint != "" {
		errs = append(errs, errors.New("ELASTICSEARCH_CA_FILE and ELASTICSEARCH_CA_FINGERPRINT are both set: keep one"))
	}
	if c.CAFingerprint != "" {
		if b, err := hex.DecodeString(normalFingerprint(c.CAFingerprint)); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("ELASTICSEARCH_CA_FINGERPRINT %q: want the 64 hex digits of a SHA-256 (colons allowed)", c.CAFingerprint))
		}
	}
	return errors.Join(errs...)
}

// checkURL refuses a URL with credentials in it: URLs end up in logs,
// banners and error messages, so the secret goes in its own setting.
func checkURL(variable, instead, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error would quote the URL, credentials and all.
		return fmt.Errorf("%s: not a URL (want http(s)://host:port)", variable)
	}
	if u.User != nil {
		u.User = nil
		return fmt.Errorf("%s %s carries a user name or password: remove it from the URL and %s", variable, u.String(), instead)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%s %s: want http(s)://host:port", variable, u.String())
	}
	return nil
}

// RedactURLs returns the comma-separated URLs with any password replaced
// by "xxxxx", for showing a value that failed checkURL.
func RedactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		} else if err != nil && strings.Contains(p, "@") {
			parts[i] = "(unparsable URL)"
		}
	}
	return strings.Join(parts, ",")
}

func normalFingerprint(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
}

// Config returns the go-elasticsearch configuration: the URLs, the
// credentials and base (nil: http.DefaultTransport's settings) with the
// TLS trust set up.
func (c Elasticsearch) Config(base *http.Transport) (elasticsearch.Config, error) {
	if err := c.Validate(); err != nil {
		return elasticsearch.Config{}, err
	}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.TLSClientConfig != nil {
		tc = t.TLSClientConfig.Clone()
	}
	if c.CAFile != "" {
		cfg, err := TLS{CAFile: c.CAFile}.Config("ELASTICSEARCH")
		if err != nil {
			return elasticsearch.Config{}, err
		}
		tc.RootCAs = cfg.RootCAs
	}
	if c.CAFingerprint != "" {
		want, _ := hex.DecodeString(normalFingerprint(c.CAFingerprint))
		// The chain is checked against the pinned certificate instead of
		// a CA pool, as go-elasticsearch's own CertificateFingerprint does,
		// keeping this transport's timeouts.
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, der := range raw {
				if sum := sha256.Sum256(der); bytes.Equal(sum[:], want) {
					return nil
				}
			}
			return errFingerprint
		}
	}
	t.TLSClientConfig = tc
	return elasticsearch.Config{
		Addresses: c.URLs,
		Username:  c.Username,
		Password:  c.Password.Reveal(),
		APIKey:    c.APIKey.Reveal(),
		Transport: t,
	}, nil
}

var errFingerprint = errors.New("no certificate of the server matches ELASTICSEARCH_CA_FINGERPRINT")

// Secured reports whether the connection uses TLS or credentials.
func (c Elasticsearch) Secured() bool {
	if c.Username != "" || !c.APIKey.IsZero() || c.CAFile != "" || c.CAFingerprint != "" {
		return true
	}
	for _, u := range c.URLs {
		if strings.HasPrefix(strings.ToLower(u), "https://") {
			return true
		}
	}
	return false
}

// Describe is the connection in a few words, for banners and logs.
func (c Elasticsearch) Describe() string {
	s := strings.Join(c.URLs, ",")
	switch {
	case !c.APIKey.IsZero():
		s += " (API key)"
	case c.Username != "":
		s += fmt.Sprintf(" (basic auth as %s)", c.Username)
	}
	return s
}

// CheckPlainURLs probes the port of each http:// URL with a TLS handshake
// within ctx, before a request sends anything (credentials included) in
// plaintext to it: a port that answers with a certificate is an HTTPS
// port, reported as an *Error. Behind nginx a plain request there is a
// 400, which waiting never fixes. A port that does not answer passes: the
// server may be down.
func (c Elasticsearch) CheckPlainURLs(ctx context.Context) error {
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		if err != nil || !strings.EqualFold(u.Scheme, "http") {
			continue
		}
		port := u.Port()
		if port == "" {
			port = "80"
		}
		cert := speaksTLS(ctx, net.JoinHostPort(u.Hostname(), port))
		if cert == nil {
			continue
		}
		e := plainToTLS(ElasticsearchServer, raw)
		https := *u
		https.Scheme = "https"
		e.Fix = fmt.Sprintf("use https:// (ELASTICSEARCH_URL=%s), with its CA (ELASTICSEARCH_CA_FILE or ELASTICSEARCH_CA_FINGERPRINT)", https.String())
		e.Err = fmt.Errorf("a TLS handshake with it was answered with a certificate for %q issued by %q, before any request",
			cert.Subject.CommonName, cert.Issuer.CommonName)
		return e
	}
	return nil
}
