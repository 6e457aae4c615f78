package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
)

// startServe runs `streamview serve` with every role against the real
// servers and returns the API's base URL.
func startServeBrokers(t *testing.T) (string, []string) {
	t.Helper()
	brokers := strings.Join(testenv.Kafka(t), ",")
	redisAddr := testenv.Redis(t)
	esURL := testenv.Elasticsearch(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"topics", "apply", "--brokers", brokers, "--file", "../../topics.yaml"}, nil, &out, &out); err != nil {
		t.Fatalf("topics apply: %v\n%s", err, &out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveForTest(ctx, []string{"serve", "--brokers", brokers, "--redis", redisAddr, "--elasticsearch", esURL, "--addr", "127.0.0.1:0", "--log-level", "warn"}, addrCh)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return waitListening(t, addrCh, done), strings.Split(brokers, ",")
}

// waitListening waits for the API's address and for /readyz to say 200.
func waitListening(t *testing.T, addrCh chan string, done chan error) string {
	t.Helper()
	select {
	case addr := <-addrCh:
		base := "http://" + addr
		testenv.Eventually(t, 60*time.Second, func() error {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("readyz %d: %s", resp.StatusCode, b)
			}
			return nil
		})
		return base
	case err := <-done:
		done <- err // for the caller's cleanup, which waits for it too
		t.Fatalf("serve stopped: %v", err)
	}
	return ""
}

// serveForTest runs a serving command (serve or dev) with a hook that
// reports the listen address.
func serveForTest(ctx context.Context, args []string, addr chan<- string) error {
	testReady = func(a string) { addr <- a }
	defer func() { testReady = nil }()
	var errOut bytes.Buffer
	err := run(ctx, args, nil, io.Discard, &errOut)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, errOut.String())
	}
	return nil
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, method, url, body string, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a.body); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, url, resp.StatusCode, b)
		}
	}
	return a
}

func TestServeEndToEnd(t *testing.T) {
	base, brokers := startServeBrokers(t)
	endToEnd(t, base)
	commandsEndToEnd(t, base, brokers)
}

// endToEnd drives commands through the API and watches them reach the
// product view and the search index.
func endToEnd(t *testing.T, base string) {
	create := `{"name":"Trail Runner 2","description":"A light trail shoe","price":{"amount":"89.90","currency":"EUR"},
		"categoryId":"shoes","categoryName":"Shoes","brandId":"acme","brandName":"ACME","tags":["trail","running"],"stock":3}`
	a := call(t, "POST", base+"/v1/products", create, "Prefer", "wait=20")
	if a.status != 201 || a.body["version"] != float64(1) {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)

	// Read-your-writes: the view reaches version 1 without the test sleeping.
	v := call(t, "GET", base+"/v1/products/"+id+"?minVersion=1&wait=20", "")
	if v.status != 200 || v.body["version"] != float64(1) || v.body["name"] != "Trail Runner 2" || v.header.Get("ETag") != `"1"` {
		t.Fatalf("view: %d %v %v", v.status, v.body, v.header)
	}
	if p := v.body["price"].(map[string]any); p["amount"] != "89.90" || p["currency"] != "EUR" {
		t.Fatalf("price %v", p)
	}

	// A price change without waiting: 202, then the command resolves.
	a = call(t, "PUT", base+"/v1/products/"+id+"/price", `{"price":{"amount":"79.5","currency":"EUR"}}`)
	if a.status != 202 || a.header.Get("Location") == "" {
		t.Fatalf("price change: %d %v", a.status, a.body)
	}
	loc := a.header.Get("Location")
	testenv.Eventually(t, 30*time.Second, func() error {
		c := call(t, "GET", base+loc, "")
		if c.body["status"] != "accepted" || c.body["version"] != float64(2) {
			return fmt.Errorf("command %d %v", c.status, c.body)
		}
		return nil
	})
	v = call(t, "GET", base+"/v1/products/"+id+"?minVersion=2&wait=20", "")
	if v.body["price"].(map[string]any)["amount"] != "79.50" {
		t.Fatalf("view after price change: %v", v.body)
	}

	// Rejections come from the decider.
	if a = call(t, "PUT", base+"/v1/products/"+id+"/stock", `{"quantity":5}`, "Prefer", "wait=20", "If-Match", `"1"`); a.status != 409 {
		t.Fatalf("stale If-Match: %d %v", a.status, a.body)
	}
	if a = call(t, "PUT", base+"/v1/products/6f0c2a62-2b4c-4f7e-9d55-000000000001/stock", `{"quantity":5}`, "Prefer", "wait=20"); a.status != 404 {
		t.Fatalf("unknown product: %d %v", a.status, a.body)
	}

	// Search finds it, then not after it is discontinued.
	testenv.Eventually(t, 30*time.Second, func() error {
		s := call(t, "GET", base+"/v1/products/search?q=trail+runner&maxPrice=80", "")
		if s.status != 200 || !hasProduct(s.body, id) {
			return fmt.Errorf("search: %d %v", s.status, s.body)
		}
		return nil
	})
	if a = call(t, "DELETE", base+"/v1/products/"+id, "", "Prefer", "wait=20"); a.status != 200 {
		t.Fatalf("discontinue: %d %v", a.status, a.body)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		s := call(t, "GET", base+"/v1/products/search?q=trail+runner", "")
		if s.status != 200 || hasProduct(s.body, id) {
			return fmt.Errorf("discontinued product still found: %d", s.status)
		}
		return nil
	})
	v = call(t, "GET", base+"/v1/products/"+id+"?minVersion=3&wait=20", "")
	if v.status != 200 || v.body["discontinued"] != true {
		t.Fatalf("discontinued view: %d %v", v.status, v.body)
	}

	// Operations.
	p := call(t, "GET", base+"/v1/projections", "")
	if p.status != 200 {
		t.Fatalf("projections: %d %v", p.status, p.body)
	}
	if o := call(t, "GET", base+"/v1/openapi.json", ""); o.status != 200 || o.body["openapi"] == nil {
		t.Fatalf("openapi: %d", o.status)
	}
}

func hasProduct(body map[string]any, id string) bool {
	ps, _ := body["products"].([]any)
	for _, p := range ps {
		if m, _ := p.(map[string]any); m["id"] == id {
			return true
		}
	}
	return false
}
