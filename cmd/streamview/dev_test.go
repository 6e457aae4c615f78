package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/api/auth"
	"github.com/streamview/streamview/api/auth/authtest"
	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// startDev runs `streamview dev` on its embedded Kafka, Redis and search
// index with its log in dir, and returns the API's base URL, the embedded
// broker's address and a stop function (the Ctrl-C of a user).
func startDev(t *testing.T, dir string) (base string, brokers []string, stop func()) {
	t.Helper()
	return startDevWith(t, dir)
}

// The fast tier runs the whole pipeline end to end on the embedded stack.
func TestDevEndToEnd(t *testing.T) {
	base, brokers, _ := startDev(t, t.TempDir())
	endToEnd(t, base)
	commandsEndToEnd(t, base, brokers)
}

// A restart keeps every event: the views come back from the kept log.
func TestDevRestartKeepsTheCatalogue(t *testing.T) {
	dir := t.TempDir()
	base, brokers, stop := startDev(t, dir)
	a := call(t, "POST", base+"/v1/products", `{"name":"Kept Kettle","description":"","price":{"amount":"30.00","currency":"EUR"},
		"categoryId":"kettles","categoryName":"Kettles","brandId":"acme","brandName":"Acme"}`, "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)
	if a = call(t, "POST", base+"/v1/products/"+id+"/reviews", `{"rating":4,"userId":"u1"}`, "Prefer", "wait=20"); a.status != 200 {
		t.Fatalf("review: %d %v", a.status, a.body)
	}
	before := call(t, "GET", base+"/v1/products/"+id+"?minVersion=2&wait=20", "")
	// A log long enough that its rebuild takes a while.
	events := eventgen.Stream(eventgen.Options{Products: 600, Events: 6000, Seed: 11})
	publishEvents(t, brokers, events)
	waitDevCaughtUp(t, brokers)
	total := call(t, "GET", base+"/v1/products/search?pageSize=1", "").body["total"]
	page := call(t, "GET", base+"/v1/products/search?pageSize=5&sort=price_asc", "")
	next, _ := page.body["nextCursor"].(string)
	if next == "" {
		t.Fatalf("no nextCursor: %v", page.body)
	}
	secondPage := fmt.Sprint(call(t, "GET", base+"/v1/products/search?pageSize=5&sort=price_asc&cursor="+next, "").body)
	var sample []string
	views := map[string]string{}
	for i := 0; i < len(events); i += 300 {
		pid := events[i].AggregateID
		sample = append(sample, pid)
		views[pid] = fmt.Sprint(call(t, "GET", base+"/v1/products/"+pid, "").body)
	}
	// The embedded broker's cluster ID is its own, kept across restarts
	// (every embedded broker was "kfake": another dev's group marks
	// matched it).
	clusterID := func(brokers []string) string {
		t.Helper()
		meta, err := testenv.Admin(t, brokers).BrokerMetadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return meta.Cluster
	}
	id1 := clusterID(brokers)
	stop()

	// The API listens once the views are rebuilt: its first answers are
	// the whole catalogue's (they were 404s and empty searches before).
	// It takes 10-35 s here under -race; a rebuild's retries against the
	// embedded Redis once made it 13 minutes, unseen but for CI's time.
	base, brokers, _ = startDevWithin(t, dir, 3*time.Minute)
	if id2 := clusterID(brokers); id1 == "kfake" || id2 != id1 {
		t.Fatalf("the embedded broker's cluster ID %q, after a restart %q: want one of its own, kept", id1, id2)
	}
	if after := call(t, "GET", base+"/v1/products/"+id, ""); after.status != 200 || fmt.Sprint(after.body) != fmt.Sprint(before.body) {
		t.Fatalf("after restart: %d %v, before %v", after.status, after.body, before.body)
	}
	if s := call(t, "GET", base+"/v1/products/search?q=kettle", ""); !hasProduct(s.body, id) {
		t.Fatalf("not searchable after restart: %v", s.body)
	}
	if got := call(t, "GET", base+"/v1/products/search?pageSize=1", "").body["total"]; got != total {
		t.Fatalf("search total after restart %v, before %v", got, total)
	}
	// A cursor outlives the restart (dev keeps its secret in --data).
	if got := call(t, "GET", base+"/v1/products/search?pageSize=5&sort=price_asc&cursor="+next, ""); got.status != 200 || fmt.Sprint(got.body) != secondPage {
		t.Fatalf("the cursor after restart: %d %v, before %v", got.status, got.body, secondPage)
	}
	for _, pid := range sample {
		if got := fmt.Sprint(call(t, "GET", base+"/v1/products/"+pid, "").body); got != views[pid] {
			t.Fatalf("view of %s after restart %s, before %s", pid, got, views[pid])
		}
	}
}

// dev reads its whole log again at every start; a bad record it
// dead-lettered before is not dead-lettered again (each start added a copy).
func TestDevDeadLettersOnce(t *testing.T) {
	dir := t.TempDir()
	_, brokers, stop := startDev(t, dir)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, v := range []string{"garbage", "more garbage"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.Events, Key: []byte("p-" + v), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitDevCaughtUp(t, brokers)
	letters := func(brokers []string) map[string]int {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		n := map[string]int{}
		for _, name := range []string{productview.Name, searchProjection} {
			for l, err := range deadletter.NewReader(cl, topics.DeadLetter(name)).All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				n[name+" "+l.Reason]++
			}
		}
		return n
	}
	want := map[string]int{productview.Name + " undecodable": 2, searchProjection + " undecodable": 2}
	if got := letters(brokers); !maps.Equal(got, want) {
		t.Fatalf("dead letters %v, want %v", got, want)
	}
	for range 2 {
		stop()
		_, brokers, stop = startDev(t, dir) // it listens once the views have read the log again
		if got := letters(brokers); !maps.Equal(got, want) {
			t.Fatalf("dead letters after a restart %v, want %v", got, want)
		}
	}
}

// A rebuild of product-view over the API makes g2 live and deletes g1's
// group; dev, started again on the same --data, builds its in-memory views
// in generation 1 again, listens, and rebuilds again. It waited at that
// start for g1's group (reset to the start of the log, read by nobody)
// while its projector read g2 again, printing "66% (n records behind)"
// forever. A bad record that g2 dead-lettered is not dead-lettered again
// by g1 after the restart. On its embedded broker dev deletes the
// rebuilds' groups at its start: nothing is left to abort. On a real
// Kafka (--kafka; a kfake cluster here) it leaves them, and the next
// rebuild starts over what the last one left.
func TestDevRestartsAfterARebuild(t *testing.T) {
	old := rebuildGrace
	rebuildGrace = 0
	t.Cleanup(func() { rebuildGrace = old })
	for _, tc := range []struct {
		name  string
		kafka bool
	}{{"embedded broker", false}, {"real kafka", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var extra, kafka []string
			if tc.kafka {
				cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(cluster.Close)
				kafka = cluster.ListenAddrs()
				extra = []string{"--kafka", strings.Join(kafka, ",")}
			}
			rebuild := func(base string) {
				t.Helper()
				if tc.kafka {
					rebuildView(t, base)
				} else {
					rebuildEndToEnd(t, base) // and nothing to abort before it
				}
				// The old generation retires after the swap; a rebuild
				// asked for before it is gone is a 409 (one under way).
				testenv.Eventually(t, time.Minute, func() error {
					if gens := viewGenerations(t, base); len(gens) != 1 {
						return fmt.Errorf("product-view generations %v, want only the live one", gens)
					}
					return nil
				})
			}
			dir := t.TempDir()
			base, brokers, stop := startDevWithin(t, dir, time.Minute, extra...)
			if tc.kafka {
				brokers = kafka
			}
			a := call(t, "POST", base+"/v1/products", `{"name":"Rebuilt Radio","description":"","price":{"amount":"45.00","currency":"EUR"},
				"categoryId":"radios","categoryName":"Radios","brandId":"acme","brandName":"Acme"}`, "Prefer", "wait=20")
			if a.status != 201 {
				t.Fatalf("create: %d %v", a.status, a.body)
			}
			id := a.body["productId"].(string)
			before := call(t, "GET", base+"/v1/products/"+id+"?minVersion=1&wait=20", "")
			if before.status != 200 {
				t.Fatalf("view: %d %v", before.status, before.body)
			}
			viewed := func(base string) {
				t.Helper()
				if a := call(t, "GET", base+"/v1/products/"+id, ""); a.status != 200 || fmt.Sprint(a.body) != fmt.Sprint(before.body) {
					t.Fatalf("view after a restart: %d %v, before %v", a.status, a.body, before.body)
				}
			}
			rebuild(base) // g2 live, g1's group deleted

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			client := func(brokers []string) *kgo.Client {
				t.Helper()
				cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
				if err != nil {
					t.Fatal(err)
				}
				return cl
			}
			cl := client(brokers)
			err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.Events, Key: []byte("p-bad"), Value: []byte("not avro")}).FirstErr()
			cl.Close()
			if err != nil {
				t.Fatal(err)
			}
			letters := func(brokers []string) map[string]int {
				t.Helper()
				cl := client(brokers)
				defer cl.Close()
				n := map[string]int{}
				for l, err := range deadletter.NewReader(cl, topics.DeadLetter(productview.Name)).All(ctx) {
					if err != nil {
						t.Fatal(err)
					}
					n[l.Projection]++
				}
				return n
			}
			want := map[string]int{processors.GroupName(productview.Name, 2): 1}
			testenv.Eventually(t, 30*time.Second, func() error {
				if got := letters(brokers); !maps.Equal(got, want) {
					return fmt.Errorf("product-view's dead letters by group %v, want %v", got, want)
				}
				return nil
			})
			stop()

			base, brokers, stop = startDevWithin(t, dir, time.Minute, extra...)
			if tc.kafka {
				brokers = kafka
			}
			viewed(base)
			if got := letters(brokers); !maps.Equal(got, want) {
				t.Fatalf("product-view's dead letters by group after the restart %v, want %v (none again)", got, want)
			}
			rebuild(base) // after a restart
			rebuild(base) // and from a rebuilt generation
			viewed(base)
			stop()

			base, _, _ = startDevWithin(t, dir, time.Minute, extra...)
			viewed(base)
		})
	}
}

// rebuildView rebuilds product-view over the API and waits until its next
// generation is live.
func rebuildView(t *testing.T, base string) {
	t.Helper()
	before := viewGenerations(t, base)["live"]
	if len(before) != 1 {
		t.Fatalf("product-view live generations %v, want one", before)
	}
	if a := call(t, "POST", base+"/v1/projections/product-view/rebuild", ""); a.status != 202 {
		t.Fatalf("rebuild: %d %v", a.status, a.body)
	}
	testenv.Eventually(t, 2*time.Minute, func() error {
		if gens := viewGenerations(t, base); !slices.Equal(gens["live"], []int{before[0] + 1}) || len(gens) != 1 {
			return fmt.Errorf("product-view generations %v, want only g%d live", gens, before[0]+1)
		}
		return nil
	})
	// How rebuilds ended is reported beside the generations (this one
	// still retires the old generation for its grace).
	if a := call(t, "GET", base+"/v1/projections", ""); a.status != 200 {
		t.Fatalf("GET /v1/projections: %d %v", a.status, a.body)
	} else if _, ok := a.body["rebuildsEnded"].([]any); !ok {
		t.Fatalf("GET /v1/projections has no rebuildsEnded list: %v", a.body)
	}
}

// startDevWithin starts dev on dir with extra flags, failing the test
// when dev does not listen within bound of its start (0: as long as the
// test runs). stop stops it (and the test's end does).
func startDevWithin(t *testing.T, dir string, bound time.Duration, extra ...string) (base string, brokers []string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveForTest(ctx, append([]string{"dev", "--data", dir, "--addr", "127.0.0.1:0", "--kafka-port", strconv.Itoa(port), "--log-level", "error"}, extra...), addrCh)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("dev did not stop within 30s of Ctrl-C")
		}
	})
	t.Cleanup(stop)
	if bound > 0 {
		select {
		case a := <-addrCh:
			addrCh <- a
		case <-time.After(bound):
			t.Fatalf("dev did not listen within %v of its start", bound)
		case err := <-done:
			done <- err
		}
	}
	return waitListening(t, addrCh, done), []string{fmt.Sprintf("127.0.0.1:%d", port)}, stop
}

// dev's banner says which requests need a token. With --public-reads it
// said "every request but /healthz, /readyz and /v1/openapi.json needs a
// token" while the reads answered without one.
//
// The token it returns is for dev's own requests (--seed-demo), with the
// run's secret and with a configured one; TestDevWelcome says which is
// printed.
func TestDevBanner(t *testing.T) {
	secret := auth.Config{Secret: []byte("dev-banner-secret-0123456789abcdef")}
	jwks := auth.Config{JWKS: "https://idp.example/.well-known/jwks.json"}
	for _, tc := range []struct {
		name      string
		access    access
		runSecret bool // --auth's
		says      []string
		not       string
		token     bool
	}{
		{"off", access{}, false, []string{"auth: OFF: no token needed"}, "auth: on", false},
		{"on", access{auth: secret}, true, []string{"auth: on: every request but /healthz, /readyz and /v1/openapi.json needs a token (one is printed"}, "public", true},
		{"on, public reads", access{auth: secret, publicReads: true}, true,
			[]string{"auth: on, reads public (--public-reads): products, search, history, categories, brands and command outcomes answer without a token", "need a token (one is printed"}, "every request", true},
		{"configured secret", access{auth: secret}, false,
			[]string{"auth: on: every request but /healthz, /readyz and /v1/openapi.json needs a token signed with the configured secret (how to mint one is printed"}, "(one is printed", true},
		{"configured secret, public reads", access{auth: secret, publicReads: true}, false,
			[]string{"auth: on, reads public (--public-reads):", "need a token signed with the configured secret"}, "(one is printed", true},
		{"JWKS", access{auth: jwks}, false, []string{"auth: on (JWKS): every request but /healthz, /readyz and /v1/openapi.json needs a token from your identity provider"}, "public", false},
		{"JWKS, public reads", access{auth: jwks, publicReads: true}, false,
			[]string{"auth: on (JWKS), reads public (--public-reads):", "need a token from your identity provider"}, "every request", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			tok, err := devAccessBanner(&out, tc.access, "127.0.0.1:8080", tc.runSecret)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.says {
				if !strings.Contains(out.String(), s) {
					t.Errorf("banner %q, want it to say %q", out.String(), s)
				}
			}
			if strings.Contains(out.String(), tc.not) || strings.Count(out.String(), "\n") != 1 {
				t.Errorf("banner %q: want one line, without %q", out.String(), tc.not)
			}
			if (tok != "") != tc.token {
				t.Errorf("token %q, want one: %v", tok, tc.token)
			}
		})
	}
}

// TestDevWelcome: dev prints a ready token only for --auth's secret, made
// for the run, which no other process knows. With a configured secret it
// printed a 24-hour token with every scope, ops included, which every
// serve sharing the secret took, into scrollback and CI logs; it prints
// the command that mints one instead, naming the secret's file, never the
// secret.
func TestDevWelcome(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXYifQ.c2ln"
	tokens := tokenFlags{secretFile: "/etc/streamview/jwt secret", issuer: "https://idp.example", audience: "streamview"}
	for _, tc := range []struct {
		name, tok, mint string
		says            []string
		not             []string
	}{
		{"--auth", tok, "", []string{"export TOKEN=" + tok + "\n", "made for this run", "stops working when dev stops", `-H "Authorization: Bearer $TOKEN"`}, []string{"streamview token --scope"}},
		{"configured secret", "", mintCommand(tokens), []string{
			`export TOKEN=$(streamview token --scope "catalog:write catalog:read" --sub dev --jwt-secret-file '/etc/streamview/jwt secret' --jwt-issuer https://idp.example --jwt-audience streamview)` + "\n",
			"dev prints no token", `-H "Authorization: Bearer $TOKEN"`,
		}, []string{"eyJ", "made for this run"}},
		{"configured secret in the environment", "", mintCommand(tokenFlags{}), []string{
			`export TOKEN=$(streamview token --scope "catalog:write catalog:read" --sub dev)` + "\n",
		}, []string{"eyJ", "--jwt-"}},
		{"off or JWKS", "", "", []string{"curl -s '"}, []string{"TOKEN", "Authorization"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printWelcome(&out, "http://127.0.0.1:8080", ".streamview/kafka", tc.tok, tc.mint)
			for _, s := range tc.says {
				if !strings.Contains(out.String(), s) {
					t.Errorf("welcome:\n%s\nwant it to say %q", out.String(), s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(out.String(), s) {
					t.Errorf("welcome:\n%s\nwant it not to say %q", out.String(), s)
				}
			}
		})
	}
}

// TestDevAuthWithAConfiguredSecret runs dev with STREAMVIEW_JWT_SECRET and
// --seed-demo: it prints no token (TestDevWelcome) but how to mint one,
// seeds the demo with a token of its own, and a token minted with the
// secret works. Its --data, new, and the log's folder in it are its
// owner's only.
func TestDevAuthWithAConfiguredSecret(t *testing.T) {
	defer func(n int) { demoProducts = n }(demoProducts)
	demoProducts = 24 // the seeding's requests carry dev's own token
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"dev", "--data", data, "--addr", "127.0.0.1:0", "--kafka-port", strconv.Itoa(port), "--log-level", "error", "--seed-demo"}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testenv.Buffer
	addrCh, done := make(chan string, 1), make(chan error, 1)
	testReady = func(a string) { addrCh <- a }
	go func() {
		done <- runEnv(ctx, args, envOf(map[string]string{envJWTSecret: string(authtest.Secret)}, &out, &errOut))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev: %v", err)
		}
		testReady = nil
	})
	base := waitListening(t, addrCh, done)
	testenv.Eventually(t, 2*time.Minute, func() error {
		if !strings.Contains(out.String(), "Ctrl-C stops it") { // the welcome's last line, after the seeding
			return errors.New("no welcome yet")
		}
		return nil
	})
	s := out.String()
	if strings.Contains(s, "eyJ") || !strings.Contains(s, `export TOKEN=$(streamview token --scope "catalog:write catalog:read" --sub dev)`) {
		t.Fatalf("dev's output shows a token, or not how to mint one:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(data, demoSeeded)); err != nil {
		t.Fatalf("the demo was not seeded: %v\n%s", err, s)
	}
	search := base + "/v1/products/search?pageSize=1"
	if a := call(t, "GET", search, ""); a.status != http.StatusUnauthorized {
		t.Fatalf("search without a token: %d, want 401", a.status)
	}
	tok, err := auth.Mint(authtest.Secret, auth.Token{Subject: "alice", Scopes: []auth.Scope{auth.CatalogRead}, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		a := call(t, "GET", search, "", "Authorization", "Bearer "+tok)
		if a.status != http.StatusOK || fmt.Sprint(a.body["total"]) != strconv.Itoa(demoProducts) {
			return fmt.Errorf("search with a minted token: %d %v, want the %d seeded products", a.status, a.body["total"], demoProducts)
		}
		return nil
	})
	for _, dir := range []string{data, filepath.Join(data, "kafka")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want mode 0700", dir, fi.Mode(), err)
		}
	}
	if strings.Contains(errOut.String(), "warning") {
		t.Errorf("a warning for the folder dev made:\n%s", errOut.String())
	}
}

// TestDevDataFolder: dev makes --data its owner's only, the log in it
// holding the webhook subscriptions' secrets (it was 0755, with the log's
// files 0644); an existing folder keeps its mode, with one warning line
// when others may read, write or search it.
func TestDevDataFolder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: made by dev
		warns    bool
	}{
		{"new", 0, false},
		{"existing 0700", 0o700, false},
		{"existing 0755", 0o755, true},
		{"existing 0750", 0o750, true},
		{"existing 0711", 0o711, true}, // the log's file names are known
		{"existing 0777", 0o777, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", ".streamview")
			want := os.FileMode(0o700)
			if tc.existing != 0 {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tc.existing); err != nil {
					t.Fatal(err)
				}
				want = tc.existing
			}
			var w bytes.Buffer
			if err := makeDataDir(dir, &w); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != want {
				t.Errorf("mode %v (%v), want %04o", fi.Mode(), err, want)
			}
			if !tc.warns {
				if w.Len() > 0 {
					t.Errorf("warned %q", w.String())
				}
				return
			}
			got := w.String()
			for _, s := range []string{"warning", fmt.Sprintf("mode %04o", tc.existing), "event log", "webhook subscription secrets", "chmod 700 " + dir} {
				if !strings.Contains(got, s) {
					t.Errorf("warning %q, want it to say %q", got, s)
				}
			}
			if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
				t.Errorf("warning %q: want one line", got)
			}
		})
	}
}

// TestDevAuthWithPublicReads: --public-reads needs auth on, which dev
// --auth turns on with a secret made after the flags are resolved; the
// combination was refused as if auth were off.
func TestDevAuthWithPublicReads(t *testing.T) {
	for _, later := range []bool{true, false} {
		var errOut bytes.Buffer
		e := envOf(nil, &errOut, &errOut)
		fs := newFlags(e, "dev")
		var acc accessFlags
		acc.register(fs, e)
		if err := parse(fs, []string{"--public-reads"}); err != nil {
			t.Fatal(err)
		}
		acc.secretLater = later
		_, err := acc.resolve()
		if later && err != nil {
			t.Errorf("--public-reads with a secret to come (dev --auth): %v", err)
		}
		if !later && (err == nil || !strings.Contains(err.Error(), "--public-reads needs auth on")) {
			t.Errorf("--public-reads without auth: %v, want it refused", err)
		}
	}
}

// publishEvents writes events to the events topic of the broker at
// brokers, as `streamview publish` does.
func publishEvents(t *testing.T, brokers []string, events []schemas.Event) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producers.NewPublisher(cl, codec, topics.Events).Publish(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
}

// waitDevCaughtUp waits until dev's view and search projectors have
// committed the whole events topic.
func waitDevCaughtUp(t *testing.T, brokers []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := waitCaughtUp(ctx, kadm.NewClient(cl), []string{productview.Name, searchProjection}, io.Discard); err != nil || ctx.Err() != nil {
		t.Fatalf("dev's view and search projectors did not catch up within 2 minutes: %v %v", err, ctx.Err())
	}
}

// dev listens (and prints its banner) only once its decider is a member of
// its group: a publish to the events topic from then on is refused (see
// TestPublishRefusedWhileTheDeciderRuns). It listened once its views were
// read, and the decider joined a moment later. Each start is looked at the
// moment dev listens, with a client connected already; a restart is a start
// too.
func TestDevListensOnceItsDeciderIsAMember(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	broker := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	for start := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		checked := make(chan error, 1)
		var adm atomic.Pointer[kadm.Client]
		testReady = func(string) {
			a := adm.Load()
			if a == nil { // dev was quicker: a client dialled now
				a = testenv.Admin(t, []string{broker})
			}
			checked <- processors.CheckIdle(ctx, a, decider.DefaultGroup)
		}
		began := time.Now()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"dev", "--data", dir, "--addr", "127.0.0.1:0", "--kafka-port", strconv.Itoa(port), "--log-level", "error"}, nil, io.Discard, io.Discard)
		}()
		go func() { adm.Store(connectedAdmin(ctx, t, broker)) }()
		select {
		case err := <-checked:
			if !errors.Is(err, processors.ErrGroupActive) {
				t.Errorf("start %d: dev listened %s after its start with its decider's group %s not active (%v): a publish then is not refused",
					start+1, time.Since(began).Round(time.Millisecond), decider.DefaultGroup, err)
			}
		case err := <-done:
			t.Fatalf("start %d: dev stopped before it listened: %v", start+1, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("start %d: dev: %v", start+1, err)
		}
		testReady = nil
	}
}

// connectedAdmin returns, once broker listens, an admin client of it that
// has answered once, so that its next request is a round trip, not a dial.
func connectedAdmin(ctx context.Context, t *testing.T, broker string) *kadm.Client {
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", broker)
		if err == nil {
			c.Close()
			break
		}
		time.Sleep(time.Millisecond)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Error(err)
		return nil
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	for ctx.Err() == nil {
		if _, err := adm.DescribeGroups(ctx, decider.DefaultGroup); err == nil {
			return adm
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// A first start, on an empty --data, creates the topics and listens at
// once. It took 5 s: dev's admin client answered the list of the topics
// just created from the list before (none), for kgo's default metadata age
// of 5 s. The bound is under that age, far over what a start takes.
func TestDevFirstStartIsQuick(t *testing.T) {
	began := time.Now()
	startDev(t, t.TempDir())
	if took := time.Since(began); took > 4*time.Second {
		t.Fatalf("dev's first start took %s to answer /readyz, want well under 4s", took.Round(time.Millisecond))
	}
}

// A second dev on the folder of a running one is refused: both would write
// the embedded log as their own and lose each other's records.
func TestDevRefusesASecondOnItsData(t *testing.T) {
	dir := t.TempDir()
	startDev(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errOut bytes.Buffer
	err = run(ctx, []string{"dev", "--data", dir, "--addr", "127.0.0.1:0", "--kafka-port", strconv.Itoa(port)}, nil, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "is in use by process") || !strings.Contains(err.Error(), "another --data") {
		t.Fatalf("second dev on %s: %v, want it refused as in use", dir, err)
	}
}

// dev over a real Kafka keeps its notifier's state in memory and in
// --data, so it refuses to join a notifier group with members elsewhere
// (serve's notifier): they would take partitions whose deliveries dev
// never learns of, and both would send them.
func TestDevRefusesALiveNotifierGroup(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	member, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumerGroup(webhook.Group), kgo.ConsumeTopics(topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	polling, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	go func() {
		for polling.Err() == nil {
			member.PollFetches(polling)
		}
	}()
	adm := kadm.NewClient(member)
	for {
		groups, err := adm.DescribeGroups(ctx, webhook.Group)
		if err == nil && groups[webhook.Group].State == "Stable" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the notifier group never became stable: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}

	var errOut bytes.Buffer
	err = run(ctx, []string{"dev", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--kafka", strings.Join(cluster.ListenAddrs(), ",")}, nil, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), webhook.Group) || !strings.Contains(err.Error(), "--group") {
		t.Fatalf("dev beside a live notifier group: %v, want it refused, naming the group and --group", err)
	}
}

// dev over a real Kafka resets the groups of the projections it keeps in
// memory, but only those it reset before (from the same --data) or that
// have no offsets: a deployment's stopped projector would skip what it had
// not read. (dev once reset them whatever they were, and serve, started
// again, never had the events dev's commands made in its history.)
func TestDevClaimsOnlyItsGroups(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	dir := t.TempDir()
	base, _, stop := startDevWith(t, dir, "--kafka", brokers)
	a := call(t, "POST", base+"/v1/products", `{"name":"Kept Lamp","description":"","price":{"amount":"9.99","currency":"EUR"},"categoryId":"lamps","categoryName":"Lamps","brandId":"lumen","brandName":"Lumen"}`, "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)
	stop()

	// The same --data again: its groups, read again from the start.
	base, _, stop = startDevWith(t, dir, "--kafka", brokers)
	if a := call(t, "GET", base+"/v1/products/"+id+"/events", ""); a.status != 200 {
		t.Fatalf("history after dev's restart: %d %v", a.status, a.body)
	}
	stop()

	// Another --data: the groups' offsets are not its own.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errOut bytes.Buffer
	err = run(ctx, []string{"dev", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--kafka", brokers}, nil, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "this --data's dev did not make") || !strings.Contains(err.Error(), "--delete --group streamview.") {
		t.Fatalf("dev on another --data: %v, want the groups refused", err)
	}

	// A deployment's notifier, stopped, on a cluster of its own: dev's
	// notifier would commit past what it has not read.
	other, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topics.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(other.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topics.Events, Partition: 0, At: 0})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, webhook.Group, offsets); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"dev", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--kafka", strings.Join(other.ListenAddrs(), ",")}, nil, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "group "+webhook.Group+" on this cluster has offsets") {
		t.Fatalf("dev beside a stopped notifier's group: %v, want it refused", err)
	}
}

// dev runs the notifier: a subscription's price drop and return to stock
// are delivered. After a restart (dev's Redis is in memory) the notifier
// knows its subscriptions again from the log, sends nothing twice (a
// resent notification would queue before the new one of the same
// subscription, which is delivered in order), and goes on retrying what a
// failing receiver had not taken (it was dropped).
func TestDevNotifies(t *testing.T) {
	dir := t.TempDir()
	const secret = "dev-webhook-secret-0123456789abcdef"
	rcv := newReceiver(t, "dev", secret, func(int) (int, bool) { return http.StatusNoContent, false })
	var healthy atomic.Bool
	late := newReceiver(t, "late", secret, func(int) (int, bool) {
		if healthy.Load() {
			return http.StatusNoContent, false
		}
		return http.StatusInternalServerError, false
	})
	base, _, stop := startDevWith(t, dir, "--retry-min", "100ms", "--retry-max", "200ms")
	a := call(t, "POST", base+"/v1/products", `{"name":"Watched Kettle","description":"","price":{"amount":"30.00","currency":"EUR"},
		"categoryId":"kettles","categoryName":"Kettles","brandId":"acme","brandName":"Acme","stock":0}`, "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)
	subscribe := func(r *receiver) string {
		t.Helper()
		sub := call(t, "POST", base+"/v1/products/"+id+"/subscriptions",
			`{"url":"`+r.url("/hook")+`","events":["priceDrop","backInStock"],"secret":"`+secret+`"}`, "Prefer", "wait=20")
		if sub.status != 201 {
			t.Fatalf("subscribe: %d %v", sub.status, sub.body)
		}
		return sub.body["subscriptionId"].(string)
	}
	subID, lateID := subscribe(rcv), subscribe(late)
	var versions []int64
	command := func(method, path, body string) {
		t.Helper()
		a := call(t, method, base+"/v1/products/"+id+path, body, "Prefer", "wait=20")
		if a.status != 200 {
			t.Fatalf("%s %s: %d %v", method, path, a.status, a.body)
		}
		versions = append(versions, int64(a.body["version"].(float64)))
	}
	delivered := func(r *receiver, sub string) func() error {
		return func() error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.badSig) > 0 {
				t.Fatalf("%s: bad signatures or bodies: %v", r.name, r.badSig)
			}
			if got := r.order[sub]; !slices.Equal(got, versions) {
				return fmt.Errorf("%s: delivered versions %v, want %v", r.name, got, versions)
			}
			for wid, n := range r.accepted {
				if n != 1 {
					t.Fatalf("%s: %s delivered %d times", r.name, wid, n)
				}
			}
			return nil
		}
	}
	command("PUT", "/price", `{"price":{"amount":"20.00","currency":"EUR"}}`)
	command("PUT", "/stock", `{"quantity":5}`)
	testenv.Eventually(t, 30*time.Second, delivered(rcv, subID))
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := late.count(); n < 3 {
			return fmt.Errorf("the failing receiver was tried %d times", n)
		}
		return nil
	})
	stop()

	healthy.Store(true)
	base, _, stop = startDevWith(t, dir, "--retry-min", "100ms", "--retry-max", "200ms")
	command("PUT", "/price", `{"price":{"amount":"10.00","currency":"EUR"}}`)
	testenv.Eventually(t, 30*time.Second, delivered(rcv, subID))
	if n := rcv.count(); n != len(versions) {
		t.Fatalf("%d requests, want %d", n, len(versions))
	}
	testenv.Eventually(t, 30*time.Second, delivered(late, lateID))

	// The same --data with a Redis of the user's (--redis, empty), then
	// without again: each way reads what the other delivered, and sends
	// it not again. (Over --redis the journal was the topic only, without
	// it the file only: each resent the other's.)
	stop()
	mr := miniredis.RunT(t)
	base, _, stop = startDevWith(t, dir, "--redis", mr.Addr(), "--retry-min", "100ms", "--retry-max", "200ms")
	command("PUT", "/price", `{"price":{"amount":"9.00","currency":"EUR"}}`)
	testenv.Eventually(t, 30*time.Second, delivered(rcv, subID))
	testenv.Eventually(t, 30*time.Second, delivered(late, lateID))
	stop()
	base, _, _ = startDevWith(t, dir, "--retry-min", "100ms", "--retry-max", "200ms")
	command("PUT", "/price", `{"price":{"amount":"8.00","currency":"EUR"}}`)
	testenv.Eventually(t, 30*time.Second, delivered(rcv, subID))
	testenv.Eventually(t, 30*time.Second, delivered(late, lateID))
	if n := rcv.count(); n != len(versions) {
		t.Fatalf("%d requests, want %d: something was sent again", n, len(versions))
	}
}

// The README's example curl commands work as written (only the address is
// the test's own) and answer what the README says.
func TestReadmeCurlExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Each block's examples, and what each answer must contain, in README
	// order.
	blocks := []struct {
		marker string
		want   [][]string
	}{
		{"curl-examples", [][]string{
			{`"status":"accepted"`, `"version":1`},
			{`"name":"Desk Lamp"`, `"version":1`, `"amount":"24.50"`},
			{`"status":"accepted"`, `"version":2`},
			{`"name":"Desk Lamp"`, `"total":1`},
			{`"status":"pending"`},
		}},
		{"curl-examples-categories", [][]string{
			{`"status":"accepted"`, `"version":1`},
			{`"status":"accepted"`, `"version":2`},
			{`"id":"kitchen"`, `"name":"Cookware"`, `"version":2`},
		}},
	}
	base, _, _ := startDev(t, t.TempDir())
	for _, b := range blocks {
		block := regexp.MustCompile("(?s)<!-- " + b.marker + " -->\\s*```sh\\n(.*?)```").FindSubmatch(readme)
		if block == nil {
			t.Fatalf("README.md has no <!-- %s --> block", b.marker)
		}
		var cmds []string
		for _, line := range strings.Split(strings.ReplaceAll(string(block[1]), "\\\n", ""), "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "curl ") {
				cmds = append(cmds, line)
			}
		}
		if len(cmds) != len(b.want) {
			t.Fatalf("README's %s block has %d curl examples, the test knows %d: update both together", b.marker, len(cmds), len(b.want))
		}
		for i, c := range cmds {
			c = strings.ReplaceAll(c, "http://127.0.0.1:8080", base)
			var out []byte
			testenv.Eventually(t, 30*time.Second, func() error {
				var err error
				out, err = exec.Command("bash", "-c", c).Output()
				if err != nil {
					return fmt.Errorf("%s: %v", c, err)
				}
				for _, w := range b.want[i] {
					if !strings.Contains(string(out), w) {
						return fmt.Errorf("%s example %d answered %s; want it to contain %s", b.marker, i+1, out, w)
					}
				}
				return nil
			})
		}
	}
}
