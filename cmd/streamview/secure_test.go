package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/testenv"
)

// secureFlags are the connection flags of a run over the secured
// listeners: SCRAM-SHA-512 over TLS with a client certificate to Kafka, an
// ACL user over TLS with a client certificate to Redis, an API key over TLS
// to the Elasticsearch proxy. Secrets come from files.
func secureFlags(s testenv.Secure) []string {
	return []string{
		"--brokers", strings.Join(s.KafkaBrokers, ","),
		"--kafka-sasl-mechanism", connect.ScramSHA512, "--kafka-sasl-username", s.User,
		"--kafka-sasl-password-file", s.File("kafka.password"),
		"--kafka-tls-ca-file", s.File("ca.pem"), "--kafka-tls-cert-file", s.File("client.pem"), "--kafka-tls-key-file", s.File("client.key"),
		"--redis", s.RedisAddr, "--redis-username", s.User, "--redis-password-file", s.File("redis.password"),
		"--redis-tls-ca-file", s.File("ca.pem"), "--redis-tls-cert-file", s.File("client.pem"), "--redis-tls-key-file", s.File("client.key"),
		"--elasticsearch", s.ESURL, "--elasticsearch-api-key-file", s.File("es.apikey"), "--elasticsearch-ca-file", s.File("ca.pem"),
	}
}

// without returns flags with each named flag and its value removed.
func without(flags []string, names ...string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		drop := false
		for _, n := range names {
			drop = drop || flags[i] == n
		}
		if drop {
			i++ // and its value
			continue
		}
		out = append(out, flags[i])
	}
	return out
}

// TestServeSecuredEndToEnd is TestServeEndToEnd with every connection of
// serve over the secured listeners. The test's own reads of the topics go
// through the plaintext listener of the same cluster.
func TestServeSecuredEndToEnd(t *testing.T) {
	s := testenv.SecureServers(t)
	plain := testenv.Kafka(t)
	flags := secureFlags(s)
	var out bytes.Buffer
	topicFlags := append([]string{"topics", "apply", "--file", "../../topics.yaml"}, without(flags, "--redis", "--redis-username", "--redis-password-file",
		"--redis-tls-ca-file", "--redis-tls-cert-file", "--redis-tls-key-file", "--elasticsearch", "--elasticsearch-api-key-file", "--elasticsearch-ca-file")...)
	if err := run(context.Background(), topicFlags, nil, &out, &out); err != nil {
		t.Fatalf("topics apply over SASL_SSL: %v\n%s", err, &out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveForTest(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, flags...), addrCh)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := waitListening(t, addrCh, done)
	endToEnd(t, base)
	commandsEndToEnd(t, base, plain)
}

// TestSecuredConnectionErrors: a wrong password, an untrusted CA, a
// missing client certificate and TLS left off each stop serve before it
// starts, with an error that names the server and the setting to fix, and
// no secret.
func TestSecuredConnectionErrors(t *testing.T) {
	s := testenv.SecureServers(t)
	flags := secureFlags(s)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.password")
	if err := os.WriteFile(wrong, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	otherCA, _ := testCA(t) // a CA that signed none of the servers
	set := func(name, value string) func([]string) []string {
		return func(f []string) []string { return append(without(f, name), name, value) }
	}
	drop := func(names ...string) func([]string) []string {
		return func(f []string) []string { return without(f, names...) }
	}
	esBasic := func(password string) func([]string) []string {
		return func(f []string) []string {
			return append(without(f, "--elasticsearch-api-key-file"), "--elasticsearch-username", s.User, "--elasticsearch-password-file", password)
		}
	}
	cases := []struct {
		name   string
		change func([]string) []string
		want   []string
	}{
		{"kafka wrong password", set("--kafka-sasl-password-file", wrong),
			[]string{"kafka at " + s.KafkaBrokers[0], `login as "` + s.User + `" was refused`, "KAFKA_SASL_PASSWORD"}},
		{"kafka untrusted CA", set("--kafka-tls-ca-file", otherCA),
			[]string{"kafka at", "not signed by a CA this client trusts", "set KAFKA_TLS_CA_FILE"}},
		{"kafka without client certificate", drop("--kafka-tls-cert-file", "--kafka-tls-key-file"),
			[]string{"kafka at", "requires a client certificate", "set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE"}},
		{"redis wrong password", set("--redis-password-file", wrong),
			[]string{"redis at " + s.RedisAddr, `login as "` + s.User + `" was refused`, "REDIS_PASSWORD"}},
		{"redis untrusted CA", set("--redis-tls-ca-file", otherCA),
			[]string{"redis at", "not signed by a CA this client trusts", "set REDIS_TLS_CA_FILE"}},
		{"redis without client certificate", drop("--redis-tls-cert-file", "--redis-tls-key-file"),
			[]string{"redis at", "requires a client certificate", "set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE"}},
		{"elasticsearch wrong API key", set("--elasticsearch-api-key-file", wrong),
			[]string{"elasticsearch at " + s.ESURL, "credentials were refused", "ELASTICSEARCH_API_KEY"}},
		{"elasticsearch wrong password", esBasic(wrong),
			[]string{"elasticsearch at", "credentials were refused", "ELASTICSEARCH_PASSWORD"}},
		{"elasticsearch untrusted CA", set("--elasticsearch-ca-file", otherCA),
			[]string{"elasticsearch at", "not signed by a CA this client trusts", "set ELASTICSEARCH_CA_FILE"}},
		{"kafka without TLS", drop("--kafka-tls-ca-file", "--kafka-tls-cert-file", "--kafka-tls-key-file"),
			[]string{"kafka at " + s.KafkaBrokers[0], "the broker speaks TLS on this port: set KAFKA_TLS=true"}},
		{"redis without TLS", drop("--redis-tls-ca-file", "--redis-tls-cert-file", "--redis-tls-key-file"),
			[]string{"redis at " + s.RedisAddr, "it speaks TLS on this port: set REDIS_TLS=true and its CA (REDIS_TLS_CA_FILE)"}},
		{"elasticsearch http:// with a password", func(f []string) []string {
			return set("--elasticsearch", strings.Replace(s.ESURL, "https://", "http://", 1))(esBasic(s.File("es.password"))(f))
		}, []string{"elasticsearch at http://", "it speaks TLS on this port: use https:// (ELASTICSEARCH_URL=" + s.ESURL}},
		{"elasticsearch credentials in the URL", set("--elasticsearch", strings.Replace(s.ESURL, "https://", "https://"+s.User+":"+s.Secret(t, "es.password")+"@", 1)),
			[]string{"ELASTICSEARCH_URL", "carries a user name or password", "set ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD"}},
	}
	secrets := secretsOf(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, c.change(flags)...), nil, &out, &out)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("serve did not stop with an error (err %v, ctx %v)\n%s", err, ctx.Err(), &out)
			}
			t.Logf("serve: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			for name, v := range secrets {
				if strings.Contains(err.Error()+out.String(), v) {
					t.Errorf("the %s is in the error or output:\n%v\n%s", name, err, &out)
				}
			}
		})
	}
}

// secretsOf are the secrets of the secured servers, and the basic-auth
// header value they make, by name.
func secretsOf(t *testing.T, s testenv.Secure) map[string]string {
	m := map[string]string{}
	for _, f := range []string{"kafka.password", "redis.password", "es.password", "es.apikey"} {
		m[f] = s.Secret(t, f)
	}
	m["es basic auth header"] = base64.StdEncoding.EncodeToString([]byte(s.User + ":" + m["es.password"]))
	return m
}

// TestNoSecretInOutput runs the commands with every secret in the
// environment (where the flags' defaults come from) and greps what they
// print for each secret: the help of every command, serve at debug level
// with a few requests, topics apply, projections, the dev banner on the
// secured servers, and refused connections.
func TestNoSecretInOutput(t *testing.T) {
	s := testenv.SecureServers(t)
	secrets := secretsOf(t, s)
	ca, cert, key := s.File("ca.pem"), s.File("client.pem"), s.File("client.key")
	for k, v := range map[string]string{
		"KAFKA_SASL_MECHANISM": connect.ScramSHA512, "KAFKA_SASL_USERNAME": s.User, "KAFKA_SASL_PASSWORD": secrets["kafka.password"],
		"KAFKA_TLS_CA_FILE": ca, "KAFKA_TLS_CERT_FILE": cert, "KAFKA_TLS_KEY_FILE": key,
		"KAFKA_BROKERS": strings.Join(s.KafkaBrokers, ","),
		"REDIS_ADDR":    s.RedisAddr, "REDIS_USERNAME": s.User, "REDIS_PASSWORD": secrets["redis.password"],
		"REDIS_TLS_CA_FILE": ca, "REDIS_TLS_CERT_FILE": cert, "REDIS_TLS_KEY_FILE": key,
		"ELASTICSEARCH_URL": s.ESURL, "ELASTICSEARCH_API_KEY": secrets["es.apikey"], "ELASTICSEARCH_CA_FILE": ca,
	} {
		t.Setenv(k, v)
	}
	var all testenv.Buffer
	runTo := func(ctx context.Context, args ...string) error {
		err := run(ctx, args, nil, &all, &all)
		if err != nil {
			all.Write([]byte("\nerror: " + err.Error() + "\n"))
		}
		return err
	}

	// Help, with a URL that carries the password in the environment: the
	// flag's default must show it redacted.
	t.Run("help", func(t *testing.T) {
		t.Setenv("ELASTICSEARCH_URL", strings.Replace(s.ESURL, "https://", "https://"+s.User+":"+secrets["es.password"]+"@", 1))
		_ = runTo(context.Background(), "help")
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			_ = runTo(context.Background(), n, "--help")
		}
		for _, args := range [][]string{{"bench", "redis", "--help"}, {"bench", "soak", "--help"}, {"dlq", "list", "--help"}} {
			_ = runTo(context.Background(), args...)
		}
		// The URL with a password is refused, naming neither.
		if err := runTo(context.Background(), "topics", "apply", "--file", "../../topics.yaml"); err != nil {
			t.Logf("topics apply: %v", err)
		}
		if err := runTo(context.Background(), "projections"); err == nil || !strings.Contains(err.Error(), "carries a user name or password") {
			t.Errorf("projections with credentials in ELASTICSEARCH_URL: %v, want a refusal", err)
		}
	})

	t.Run("serve", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		addrCh := make(chan string, 1)
		done := make(chan error, 1)
		testReady = func(a string) { addrCh <- a }
		go func() { done <- runTo(ctx, "serve", "--addr", "127.0.0.1:0", "--log-level", "debug") }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			testReady = nil
		}()
		base := waitListening(t, addrCh, done)
		a := call(t, "POST", base+"/v1/products", `{"name":"Secret Safe","description":"","price":{"amount":"10.00","currency":"EUR"},
			"categoryId":"safes","categoryName":"Safes","brandId":"acme","brandName":"Acme"}`, "Prefer", "wait=20")
		if a.status != 201 {
			t.Fatalf("create: %d %v", a.status, a.body)
		}
		for _, p := range []string{"/readyz", "/v1/projections", "/metrics"} {
			resp, err := httpGet(base + p)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(resp)
		}
	})

	t.Run("commands", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := runTo(ctx, "topics", "apply", "--file", "../../topics.yaml"); err != nil {
			t.Error(err)
		}
		if err := runTo(ctx, "projections", "--sample", "0"); err != nil {
			t.Error(err)
		}
		if err := runTo(ctx, "dlq", "list", "--topic", "catalog.product-view.dlq"); err != nil {
			t.Logf("dlq list: %v", err)
		}
		// Refused logins print their error, not the password tried.
		t.Setenv("KAFKA_SASL_PASSWORD", secrets["kafka.password"]+"x")
		if err := runTo(ctx, "topics", "apply", "--file", "../../topics.yaml"); err == nil {
			t.Error("topics apply with a wrong password worked")
		}
		t.Setenv("KAFKA_SASL_PASSWORD", secrets["kafka.password"])
		// A CA not given is named, as serve names it (it printed the raw
		// x509 error).
		t.Setenv("ELASTICSEARCH_CA_FILE", "")
		if err := runTo(ctx, "projections", "--sample", "0"); err == nil || !strings.Contains(err.Error(), "ELASTICSEARCH_CA_FILE") {
			t.Errorf("projections without Elasticsearch's CA: %v, want the setting named", err)
		}
		t.Setenv("ELASTICSEARCH_CA_FILE", ca)
	})

	t.Run("dev banner", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- runTo(ctx, "dev", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--log-level", "debug",
				"--kafka", strings.Join(s.KafkaBrokers, ","), "--redis", s.RedisAddr, "--elasticsearch", s.ESURL)
		}()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("dev: %v", err)
			}
		}()
		testenv.Eventually(t, 3*time.Minute, func() error {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("dev stopped: %v\n%s", err, all.String())
			default:
			}
			// The connection lines come first; on the shared servers the
			// welcome banner waits for the views to be rebuilt from every
			// event other tests left in the log, so its first progress
			// line does as well.
			if out := all.String(); !strings.Contains(out, "streamview is running") && !strings.Contains(out, "rebuilding views from") {
				return errors.New("no welcome banner yet")
			}
			return nil
		})
	})

	out := all.String()
	for _, want := range []string{"Usage: streamview serve", "kafka-sasl-password-file", "api listening",
		"SASL SCRAM-SHA-512 as " + s.User, "TLS, ACL user " + s.User, "(API key)", "login as"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q: the run did not do what this test greps", want)
		}
	}
	for name, v := range secrets {
		if i := strings.Index(out, v); i >= 0 {
			t.Errorf("the %s appears in the output: …%s…", name, out[max(0, i-200):min(len(out), i+len(v)+50)])
		}
	}
}

// httpGet returns the body of a GET of url.
func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
