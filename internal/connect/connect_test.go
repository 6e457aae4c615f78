package connect

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

const pw = "s3cret-value-42"

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(pw)
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "password", s, "conn", Kafka{Password: s})
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "password", s, "conn", Redis{Password: s})
	js, err := json.Marshal(struct {
		P Secret
		E Elasticsearch
	}{s, Elasticsearch{APIKey: s, Password: s}})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", Kafka{Password: s}, Redis{Password: s}, Elasticsearch{APIKey: s}),
		logs.String(), string(js),
	} {
		if strings.Contains(out, pw) || strings.Contains(out, hex.EncodeToString([]byte(pw))) {
			t.Errorf("the secret is printed: %s", out)
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("no %s in %s", redacted, out)
		}
	}
	if s.Reveal() != pw {
		t.Fatal("Reveal lost the value")
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(file, []byte(pw+"\n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string
		wantErr string
	}{
		{"from the environment", map[string]string{"KAFKA_SASL_PASSWORD": pw}, nil, pw, ""},
		{"from the _FILE variable", map[string]string{"KAFKA_SASL_PASSWORD_FILE": file}, nil, pw, ""},
		{"from the file flag", nil, []string{"--kafka-sasl-password-file", file}, pw, ""},
		{"both", map[string]string{"KAFKA_SASL_PASSWORD": pw}, []string{"--kafka-sasl-password-file", file}, "", "keep one"},
		{"empty file", nil, []string{"--kafka-sasl-password-file", empty}, "", "is empty"},
		{"missing file", nil, []string{"--kafka-sasl-password-file", filepath.Join(dir, "nope")}, "", "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			e := env(c.env)
			f := RegisterKafka(fs, e)
			if err := fs.Parse(append(c.args, "--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u")); err != nil {
				t.Fatal(err)
			}
			k, err := f.Load([]string{"b:9092"})
			switch {
			case c.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), pw) {
					t.Fatalf("the error shows the secret: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case k.Password.Reveal() != c.want:
				t.Fatalf("password %q, want %q", k.Password.Reveal(), c.want)
			}
		})
	}
}

func TestHelpShowsNoSecret(t *testing.T) {
	env := map[string]string{
		"KAFKA_SASL_PASSWORD": pw, "REDIS_PASSWORD": pw, "ELASTICSEARCH_PASSWORD": pw, "ELASTICSEARCH_API_KEY": pw,
		"KAFKA_SASL_USERNAME": "alice",
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	getenv := func(k string) string { return env[k] }
	RegisterKafka(fs, getenv)
	RegisterRedis(fs, getenv)
	RegisterElasticsearch(fs, getenv)
	fs.PrintDefaults()
	if strings.Contains(out.String(), pw) || !strings.Contains(out.String(), "alice") {
		t.Fatalf("help:\n%s", &out)
	}
}

func TestValidate(t *testing.T) {
	s := NewSecret(pw)
	cases := []struct {
		name string
		err  error
		want string // "" is valid
	}{
		{"kafka plaintext", Kafka{Brokers: []string{"b"}}.Validate(), ""},
		{"kafka scram", Kafka{Brokers: []string{"b"}, Mechanism: "scram-sha-512", Username: "u", Password: s}.Validate(), ""},
		{"kafka unknown mechanism", Kafka{Brokers: []string{"b"}, Mechanism: "GSSAPI", Username: "u", Password: s}.Validate(), "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{"kafka mechanism without user", Kafka{Brokers: []string{"b"}, Mechanism: "PLAIN"}.Validate(), "needs KAFKA_SASL_USERNAME"},
		{"kafka user without mechanism", Kafka{Brokers: []string{"b"}, Username: "u", Password: s}.Validate(), "KAFKA_SASL_MECHANISM is not"},
		{"kafka cert without key", Kafka{Brokers: []string{"b"}, TLS: TLS{CertFile: "c"}}.Validate(), "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together"},
		{"redis acl", Redis{Addr: "a", Username: "u", Password: s}.Validate(), ""},
		{"redis user without password", Redis{Addr: "a", Username: "u"}.Validate(), "REDIS_USERNAME is set without REDIS_PASSWORD"},
		{"es api key", Elasticsearch{URLs: []string{"https://h:9200"}, APIKey: s}.Validate(), ""},
		{"es both logins", Elasticsearch{URLs: []string{"https://h:9200"}, APIKey: s, Username: "u", Password: s}.Validate(), "keep one way to log in"},
		{"es url with password", Elasticsearch{URLs: []string{"https://u:" + pw + "@h:9200"}}.Validate(), "carries a user name or password"},
		{"es bad fingerprint", Elasticsearch{URLs: []string{"https://h:9200"}, CAFingerprint: "abc"}.Validate(), "64 hex digits"},
		{"es ca file and fingerprint", Elasticsearch{URLs: []string{"https://h:9200"}, CAFile: "f", CAFingerprint: strings.Repeat("ab", 32)}.Validate(), "keep one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			switch {
			case c.want == "" && c.err != nil:
				t.Fatalf("unexpected error: %v", c.err)
			case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
				t.Fatalf("err %v, want %q", c.err, c.want)
			case c.err != nil && strings.Contains(c.err.Error(), pw):
				t.Fatalf("the error shows the secret: %v", c.err)
			}
		})
	}
}

func TestRedactURLs(t *testing.T) {
	got := RedactURLs("https://u:" + pw + "@a:9200,http://b:9200")
	if strings.Contains(got, pw) || !strings.Contains(got, "http://b:9200") {
		t.Fatal(got)
	}
}

func TestExplain(t *testing.T) {
	cases := []struct {
		name string
		srv  Server
		err  error
		want string // "" is not a configuration error
	}{
		{"kafka sasl", KafkaServer, fmt.Errorf("ping: %w", kerr.SaslAuthenticationFailed), "KAFKA_SASL_PASSWORD"},
		{"kafka mechanism", KafkaServer, kerr.UnsupportedSaslMechanism, "KAFKA_SASL_MECHANISM"},
		{"client certificate", KafkaServer, errors.New("remote error: tls: bad certificate"), "KAFKA_TLS_CERT_FILE"},
		{"redis wrongpass", RedisServer, errors.New("WRONGPASS invalid username-password pair"), "REDIS_PASSWORD"},
		{"redis noauth", RedisServer, errors.New("NOAUTH Authentication required."), "REDIS_USERNAME"},
		{"not TLS", RedisServer, errors.New("tls: first record does not look like a TLS handshake"), "TLS port"},
		{"elasticsearch not TLS", ElasticsearchServer, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "use an http:// URL"},
		{"kafka plaintext to TLS", KafkaServer, errors.New("invalid large response size 352518912 > limit 104857600; the first three bytes received appear to be a tls alert record for TLS v1.2; is this a plaintext connection speaking to a tls endpoint?"),
			"the broker speaks TLS on this port: set KAFKA_TLS=true"},
		{"redis cluster client, one server", RedisServer, errors.New("ERR This instance has cluster support disabled"), "not a Redis Cluster (cluster support disabled): drop --redis-cluster"},
		{"redis moved", RedisServer, errors.New("MOVED 8110 127.0.0.1:7002"), ""},
		{"refused", KafkaServer, errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Explain(c.srv, "h:1", "u", c.err)
			if c.want == "" {
				if IsConfig(err) {
					t.Fatalf("explained as a setting: %v", err)
				}
				return
			}
			if !IsConfig(err) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), c.srv.Name+" at h:1: ") {
				t.Fatalf("got %v, want %s at h:1 … %q", err, c.srv.Name, c.want)
			}
			if !errors.Is(err, c.err) {
				t.Fatal("the cause is not wrapped")
			}
		})
	}
}

func TestElasticsearchFingerprint(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		fmt.Fprint(w, `{"status":"green"}`)
	}))
	defer srv.Close()
	sum := sha256.Sum256(srv.Certificate().Raw)
	for _, c := range []struct {
		name        string
		fingerprint string
		ok          bool
	}{
		{"matching", hex.EncodeToString(sum[:]), true},
		{"other", strings.Repeat("ab", 32), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Elasticsearch{URLs: []string{srv.URL}, CAFingerprint: c.fingerprint}.Config(nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: cfg.Transport}).Get(srv.URL)
			if c.ok != (err == nil) {
				t.Fatalf("ok %v, err %v", c.ok, err)
			}
			if err == nil {
				resp.Body.Close()
				return
			}
			if e := Explain(ElasticsearchServer, srv.URL, "", err); !strings.Contains(e.Error(), "ELASTICSEARCH_CA_FINGERPRINT") {
				t.Fatalf("not explained: %v", e)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.3.2.1": true, "::1": true,
		"10.0.0.5": false, "example.com": false, "": false, "0.0.0.0": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
