package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/api/auth"
	"github.com/streamview/streamview/api/auth/authtest"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/topics"
)

// envOf is an environment of a test: vars, nothing else.
func envOf(vars map[string]string, stdout, stderr io.Writer) env {
	return env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: func(k string) string { return vars[k] }}
}

func TestTokenCommand(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, append(authtest.Secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, vars := range map[string]map[string]string{
		"secret in the environment": {envJWTSecret: string(authtest.Secret), envJWTIssuer: "iss", envJWTAudience: "aud"},
		"secret in a file":          {envJWTSecretFile: secretFile, envJWTIssuer: "iss", envJWTAudience: "aud"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runEnv(context.Background(), []string{"token", "--scope", "catalog:write catalog:read", "--sub", "alice", "--ttl", "10m"}, envOf(vars, &out, &errOut))
			if err != nil {
				t.Fatalf("token: %v\n%s", err, &errOut)
			}
			v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: authtest.Secret, Issuer: "iss", Audience: "aud"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
			if err != nil {
				t.Fatalf("the printed token: %v", err)
			}
			if c.Subject != "alice" || !slices.Equal(c.Scopes, []auth.Scope{auth.CatalogWrite, auth.CatalogRead}) || time.Until(c.ExpiresAt) > 10*time.Minute {
				t.Errorf("claims %+v", c)
			}
		})
	}
	for name, tc := range map[string]struct {
		args []string
		vars map[string]string
		want string
	}{
		"no secret":     {[]string{"--scope", "ops"}, nil, "no HS256 secret configured"},
		"no scope":      {nil, map[string]string{envJWTSecret: string(authtest.Secret)}, "--scope is required"},
		"unknown scope": {[]string{"--scope", "admin"}, map[string]string{envJWTSecret: string(authtest.Secret)}, "unknown scope"},
		"short secret":  {[]string{"--scope", "ops"}, map[string]string{envJWTSecret: "short"}, "at least 32"},
		"two secrets":   {[]string{"--scope", "ops"}, map[string]string{envJWTSecret: string(authtest.Secret), envJWTSecretFile: secretFile}, "keep one"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := runEnv(context.Background(), append([]string{"token"}, tc.args...), envOf(tc.vars, &out, &out))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("token %v: %v, want an error containing %q", tc.args, err, tc.want)
			}
			if strings.Contains(err.Error(), string(authtest.Secret)) || strings.Contains(out.String(), string(authtest.Secret)) {
				t.Error("the secret shows in the output")
			}
		})
	}
}

// TestServeRefusesOpenNonLoopback: serve will not listen beyond loopback
// without auth unless told --insecure; it says what to do, before it
// connects to anything.
func TestServeRefusesOpenNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.1:8080", "[::]:8080"} {
		var out bytes.Buffer
		err := runEnv(context.Background(), []string{"serve", "--addr", addr, "--brokers", "127.0.0.1:1"}, envOf(nil, &out, &out))
		if err == nil || !strings.Contains(err.Error(), "--insecure") || !strings.Contains(err.Error(), envJWTSecretFile) {
			t.Errorf("serve --addr %s: %v, want a refusal naming --insecure and %s", addr, err, envJWTSecretFile)
		}
	}
	for _, tc := range []struct {
		addr   string
		authOn bool
		ok     bool
	}{
		{"127.0.0.1:8080", false, true}, {"localhost:8080", false, true}, {"[::1]:8080", false, true},
		{"0.0.0.0:8080", true, true}, {"0.0.0.0:8080", false, false},
	} {
		if err := checkListen(tc.addr, tc.authOn, false); (err == nil) != tc.ok {
			t.Errorf("checkListen(%s, auth %v) = %v", tc.addr, tc.authOn, err)
		}
	}
	if err := checkListen("0.0.0.0:8080", false, true); err != nil {
		t.Errorf("--insecure: %v", err)
	}
}

// TestServeAuthOnRealKafka runs serve with authentication on against the
// real servers, sends 1,000 bad tokens of every kind to the command
// endpoints, and checks with kadm that the commands and events topics
// took no record of theirs; then a good token works.
func TestServeAuthOnRealKafka(t *testing.T) {
	brokers := testenv.Kafka(t)
	redisAddr, esURL := testenv.Redis(t), testenv.Elasticsearch(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"topics", "apply", "--brokers", strings.Join(brokers, ","), "--file", "../../topics.yaml"}, nil, &out, &out); err != nil {
		t.Fatalf("topics apply: %v\n%s", err, &out)
	}
	keys := authtest.NewKeys(t)
	vars := map[string]string{
		envJWTSecret: string(authtest.Secret), envJWKS: keys.WriteJWKS(t),
		envJWTIssuer: "https://issuer.test", envJWTAudience: "streamview",
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh, done := make(chan string, 1), make(chan error, 1)
	testReady = func(a string) { addrCh <- a }
	var logs bytes.Buffer
	go func() {
		done <- runEnv(ctx, []string{"serve", "--roles", "api", "--brokers", strings.Join(brokers, ","), "--redis", redisAddr,
			"--elasticsearch", esURL, "--addr", "127.0.0.1:0", "--log-level", "debug"}, envOf(vars, io.Discard, &logs))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, &logs)
		}
		testReady = nil
		if strings.Contains(logs.String(), string(authtest.Secret)) {
			t.Error("the JWT secret shows in serve's log")
		}
	})
	base := waitListening(t, addrCh, done)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends := func() kadm.ListedOffsets {
		o, err := adm.ListEndOffsets(context.Background(), topics.Commands, topics.Events)
		if err != nil || o.Error() != nil {
			t.Fatalf("end offsets: %v %v", err, o.Error())
		}
		return o
	}

	// Every request names products of this test only, so that records of
	// other tests sharing the servers can be told apart.
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = commandbus.NewID()
	}
	bad := authtest.BadTokens(t, keys, vars[envJWTIssuer], vars[envJWTAudience])
	before := ends()
	for i := range 1000 {
		b := bad[i%len(bad)]
		id := ids[i%len(ids)]
		var method, path, body string
		switch i % 4 {
		case 0:
			method, path, body = "POST", "/v1/products", `{"productId":"`+id+`","name":"Forged","description":"","price":{"amount":"1.00","currency":"EUR"},"categoryId":"x","categoryName":"X","brandId":"y","brandName":"Y"}`
		case 1:
			method, path, body = "PUT", "/v1/products/"+id+"/price", `{"price":{"amount":"0.01","currency":"EUR"}}`
		case 2:
			method, path, body = "POST", "/v1/products/"+id+"/reviews", `{"rating":1}`
		case 3:
			method, path = "DELETE", "/v1/products/"+id
		}
		a := call(t, method, base+path, body, "Authorization", b.Header)
		if a.status != b.Status {
			t.Fatalf("request %d (%s, %s %s): status %d, want %d: %v", i, b.Name, method, path, a.status, b.Status, a.body)
		}
		if a.status == http.StatusUnauthorized && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("request %d (%s): 401 without a Bearer challenge", i, b.Name)
		}
	}
	after := ends()
	if moved := movedPartitions(before, after); len(moved) > 0 {
		// Other tests share these topics: what they wrote must not be ours.
		t.Logf("the topics moved (other tests): %v; checking the new records", moved)
		if n := recordsWithKeys(t, brokers, before, after, ids); n > 0 {
			t.Fatalf("%d records of refused requests reached Kafka", n)
		}
	}

	// A good token, RS256 from the JWKS, works for what it grants.
	good := authtest.RS256(t, keys.RSA, "rsa-1", authtest.Claims{Sub: "carol", Scope: "catalog:write", Iss: vars[envJWTIssuer], Aud: []string{vars[envJWTAudience]}, Exp: time.Now().Add(time.Hour)})
	a := call(t, "POST", base+"/v1/products", `{"productId":"`+ids[0]+`","name":"Real","description":"","price":{"amount":"1.00","currency":"EUR"},"categoryId":"x","categoryName":"X","brandId":"y","brandName":"Y"}`,
		"Authorization", "Bearer "+good)
	if a.status != http.StatusAccepted {
		t.Fatalf("good token: %d %v", a.status, a.body)
	}
	if n := recordsWithKeys(t, brokers, after, ends(), ids[:1]); n != 1 {
		t.Fatalf("the accepted command: %d records in the commands topic, want 1", n)
	}
	if a := call(t, "GET", base+"/v1/products/"+ids[0], "", "Authorization", "Bearer "+good); a.status != http.StatusForbidden {
		t.Fatalf("a catalog:write token reading: %d, want 403", a.status)
	}
}

// movedPartitions names the partitions whose end offset changed.
func movedPartitions(before, after kadm.ListedOffsets) []string {
	var out []string
	after.Each(func(l kadm.ListedOffset) {
		if b, ok := before.Lookup(l.Topic, l.Partition); !ok || b.Offset != l.Offset {
			out = append(out, fmt.Sprintf("%s/%d", l.Topic, l.Partition))
		}
	})
	return out
}

// recordsWithKeys counts the records between the offsets from and to whose
// key is one of keys (product IDs), with the one bounded reader.
func recordsWithKeys(t *testing.T, brokers []string, from, to kadm.ListedOffsets, keys []string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found := 0
	for _, topic := range []string{topics.Commands, topics.Events} {
		spans := map[int32]topics.Span{}
		to.Each(func(l kadm.ListedOffset) {
			if b, _ := from.Lookup(l.Topic, l.Partition); l.Topic == topic && l.Offset > b.Offset {
				spans[l.Partition] = topics.Span{From: b.Offset, To: l.Offset}
			}
		})
		if len(spans) == 0 {
			continue
		}
		err := topics.ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, spans, func(recs []*kgo.Record) error {
			for _, r := range recs {
				if slices.Contains(keys, string(r.Key)) {
					found++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("reading the new records of %s: %v", topic, err)
		}
	}
	return found
}

// TestDevAuth: dev says when auth is off; with --auth it prints a token
// that works, and requests without one are refused.
func TestDevAuth(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", on), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			l.Close()
			args := []string{"dev", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--kafka-port", strconv.Itoa(port), "--log-level", "error"}
			if on {
				args = append(args, "--auth")
			}
			ctx, cancel := context.WithCancel(context.Background())
			var out testenv.Buffer
			addrCh, done := make(chan string, 1), make(chan error, 1)
			testReady = func(a string) { addrCh <- a }
			go func() { done <- runEnv(ctx, args, envOf(nil, &out, io.Discard)) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("dev: %v", err)
				}
				testReady = nil
			})
			base := waitListening(t, addrCh, done)
			var tok string
			testenv.Eventually(t, 60*time.Second, func() error {
				s := out.String()
				if !strings.Contains(s, "Ctrl-C stops it") { // the banner's last line
					return errors.New("no welcome yet")
				}
				if i := strings.Index(s, "export TOKEN="); i >= 0 {
					tok, _, _ = strings.Cut(s[i+len("export TOKEN="):], "\n")
				}
				return nil
			})
			search := base + "/v1/products/search"
			if !on {
				if !strings.Contains(out.String(), "auth: OFF") || tok != "" {
					t.Fatalf("no OFF banner, or a token:\n%s", out.String())
				}
				if a := call(t, "GET", search, ""); a.status != http.StatusOK {
					t.Fatalf("search without a token: %d", a.status)
				}
				return
			}
			if tok == "" {
				t.Fatalf("no token printed:\n%s", out.String())
			}
			// Its secret is this run's only: the 401 points at the banner,
			// not at `streamview token`.
			if a := call(t, "GET", search, ""); a.status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(a.body["detail"]), "the token dev printed") {
				t.Fatalf("search without a token: %d %v, want 401 pointing at dev's token", a.status, a.body["detail"])
			}
			for _, path := range []string{"/v1/products/search", "/v1/projections", "/metrics"} {
				req, _ := http.NewRequest("GET", base+path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s with the printed token: %d", path, resp.StatusCode)
				}
			}
		})
	}
}
