package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
)

// dashboardMetrics returns the metric names that the Grafana dashboard's
// queries use.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/grafana/streamview.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/grafana/streamview.json: %v", err)
	}
	name := regexp.MustCompile(`\bstreamview_[a-z0-9_]+`)
	var names []string
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			found := name.FindAllString(tg.Expr, -1)
			if len(found) == 0 {
				t.Errorf("panel %q queries no streamview metric: %s", p.Title, tg.Expr)
			}
			names = append(names, found...)
		}
	}
	if queries < 20 {
		t.Fatalf("the dashboard has %d queries; expected the panels of lag, rates, latencies and errors", queries)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestDashboardMetricsParse(t *testing.T) {
	names := dashboardMetrics(t)
	for _, want := range []string{"streamview_projection_lag_records", "streamview_http_request_duration_seconds_bucket",
		"streamview_decider_transactions_total", "streamview_command_outcome_duration_seconds_bucket"} {
		if !slices.Contains(names, want) {
			t.Errorf("the dashboard does not query %s", want)
		}
	}
}

// TestServeMetrics runs serve on the real servers, sends it some traffic,
// and checks its /metrics scrape: every metric the Grafana dashboard
// queries is there, and promtool accepts the scrape.
func TestServeMetrics(t *testing.T) {
	base, _ := startServeBrokers(t)
	create := `{"name":"Metered Mug","description":"","price":{"amount":"12.00","currency":"EUR"},"categoryId":"mugs","categoryName":"Mugs","brandId":"acme","brandName":"ACME","stock":2}`
	a := call(t, "POST", base+"/v1/products", create, "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)
	if v := call(t, "GET", base+"/v1/products/"+id+"?minVersion=1&wait=20", ""); v.status != 200 {
		t.Fatalf("view: %d %v", v.status, v.body)
	}
	if a := call(t, "PUT", base+"/v1/products/"+id+"/price", `{"price":{"amount":"11.00","currency":"EUR"}}`, "Prefer", "wait=20"); a.status != 200 {
		t.Fatalf("price: %d %v", a.status, a.body)
	}
	if a := call(t, "PUT", base+"/v1/products/"+id+"/stock", `{"quantity":5}`, "Prefer", "wait=20", "If-Match", `"1"`); a.status != 409 {
		t.Fatalf("stale If-Match: %d %v", a.status, a.body)
	}
	call(t, "GET", base+"/v1/products/search?q=metered", "")

	names := dashboardMetrics(t)
	var body string
	testenv.Eventually(t, 60*time.Second, func() error {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		var missing []string
		for _, n := range names {
			if !regexp.MustCompile(`(?m)^` + n + `[{ ]`).MatchString(body) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("the scrape lacks metrics the dashboard queries: %s", strings.Join(missing, ", "))
		}
		// After traffic: the projectors have applied events and the API
		// has seen outcomes.
		for _, re := range []string{
			`(?m)^streamview_projection_events_applied_total\{generation="\d+",projection="product-view"\} [1-9]`,
			`(?m)^streamview_command_outcome_duration_seconds_count\{status="accepted"\} [1-9]`,
			// serve runs the decider beside the API: it hands its outcomes over.
			`(?m)^streamview_api_outcomes_total\{source="decider"\} [1-9]`,
			`(?m)^streamview_http_requests_total\{code="201",method="POST",route="/v1/products"\} [1-9]`,
		} {
			if !regexp.MustCompile(re).MatchString(body) {
				return fmt.Errorf("the scrape has no sample matching %s", re)
			}
		}
		return nil
	})
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
