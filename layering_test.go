package streamview

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The dependency rule of the architecture ("Dependency rule"): data flows
// down and imports point the same way, toward the pure core. These tests
// hold it over the real import graph (`go list -deps`, non-test files), and
// the table below shows each rule catching an import that breaks it.

const module = "github.com/streamview/streamview"

// Client libraries of the stores: only sinks (and the wiring) may touch them.
var storeClients = []string{
	"github.com/redis/go-redis/",
	"github.com/elastic/go-elasticsearch/",
	"github.com/blevesearch/",
	"github.com/alicebob/miniredis/",
}

// pure are the pure cores: the aggregate and the projections. Each owns its
// logic, its vocabulary and the port its store implements.
var pure = []string{"producers/product", "producers/subscription", "producers/reference", "processors/productview", "processors/productsearch", "processors/notifier", "processors/producthistory"}

// contractSuites are the ports' contract test suites: non-test packages that
// only tests import, so they may drive the runtime and a fake broker.
var contractSuites = []string{"processors/productview/storetest", "processors/productsearch/indextest"}

// leaves import nothing of this module beyond what is listed.
var leaves = map[string][]string{
	"schemas":            nil,
	"topics":             nil,
	"processors/batch":   nil,
	"internal/backoff":   nil,
	"internal/thousands": nil,
	// Tokens and scopes: the api's guard and cmd's `token` build on it.
	"api/auth":          nil,
	"api/auth/authtest": nil,
	"internal/connect":  nil,
	"internal/logkey":   nil,
}

// Metric and trace libraries: only internal/telemetry (which implements
// the runtime's and the decider's hooks), the HTTP edge (api) and the
// wiring may touch them.
var telemetryLibs = []string{
	"github.com/prometheus/",
	"go.opentelemetry.io/",
	"github.com/twmb/franz-go/plugin/kprom",
	"github.com/twmb/franz-go/plugin/kotel",
}

func isTelemetryLib(imp string) bool {
	for _, l := range telemetryLibs {
		if strings.HasPrefix(imp, l) {
			return true
		}
	}
	return false
}

// rule is one clause of the dependency rule. It returns why pkg may not
// import imp (both relative to the module, or full paths for libraries), or
// "" when it may.
type rule struct {
	name  string
	check func(pkg, imp string) string
}

func ours(p string) (string, bool) {
	if p == module {
		return ".", true
	}
	return strings.CutPrefix(p, module+"/")
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func isStoreClient(imp string) bool {
	for _, c := range storeClients {
		if strings.HasPrefix(imp, c) {
			return true
		}
	}
	return false
}

func isSink(p string) bool { return strings.HasPrefix(p, "sinks/") }

var rules = []rule{
	{"leaves", func(pkg, imp string) string {
		allowed, isLeaf := leaves[pkg]
		if _, mine := ours(imp); isLeaf && mine && !slices.Contains(allowed, strings.TrimPrefix(imp, module+"/")) {
			return pkg + " is a leaf that every layer builds on: it imports nothing of this module"
		}
		return ""
	}},
	{"pure cores import only schemas", func(pkg, imp string) string {
		if !slices.Contains(pure, pkg) {
			return ""
		}
		if isStoreClient(imp) || strings.HasPrefix(imp, "github.com/twmb/franz-go/") || imp == "net/http" {
			return pkg + " is a pure core (events in, changes out): I/O clients belong to sinks, the runtime and cmd"
		}
		if rel, mine := ours(imp); mine && rel != "schemas" && rel != "processors/batch" {
			return pkg + " is a pure core: it imports only schemas (and the batch error); whoever needs it imports it, not the other way round"
		}
		return ""
	}},
	{"the runtime knows ports, no store", func(pkg, imp string) string {
		if pkg != "processors" && !under(pkg, "processors/rebuild") && pkg != "processors/deadletter" && pkg != "processors/webhook" {
			return ""
		}
		rel, mine := ours(imp)
		switch {
		case isStoreClient(imp):
			return pkg + " is the projection runtime: it reaches stores only through ports, never a store client"
		case mine && isSink(rel):
			return pkg + " is the projection runtime: it reaches stores only through ports, never a concrete sink"
		case mine && (rel == "processors/productview" || rel == "processors/productsearch"):
			return pkg + " is the projection runtime: projections are handed to it as ports by the wiring (cmd, bench)"
		case mine && (under(rel, "api") || under(rel, "producers") || under(rel, "cmd") || rel == "bench"):
			return pkg + " is the projection runtime: it sits below api, producers, cmd and bench"
		case pkg == "processors/deadletter" && rel == "processors":
			return "processors/deadletter owns the dead-letter record; the runtime imports it, not the other way round"
		}
		return ""
	}},
	{"sinks implement ports", func(pkg, imp string) string {
		if !isSink(pkg) {
			return ""
		}
		rel, mine := ours(imp)
		if !mine {
			return ""
		}
		switch {
		case rel == "processors" || under(rel, "processors/rebuild") || rel == "processors/deadletter":
			return pkg + " is a sink: it implements a projection's port and never knows the runtime"
		case under(rel, "api") || under(rel, "producers") || under(rel, "cmd") || rel == "bench" || rel == "topics":
			return pkg + " is a sink: it knows only the projection it stores and its client library"
		case isSink(rel) && !under(pkg, rel) && !under(rel, pkg):
			return pkg + " is a sink: sinks do not know each other"
		}
		return ""
	}},
	{"only the wiring imports concrete sinks", func(pkg, imp string) string {
		rel, mine := ours(imp)
		if !mine || !isSink(rel) || isSink(pkg) || under(pkg, "cmd/streamview") || pkg == "bench" {
			return ""
		}
		return "only cmd/streamview and bench wire concrete sinks; " + pkg + " must take a port"
	}},
	{"api reads through ports", func(pkg, imp string) string {
		if !under(pkg, "api") {
			return ""
		}
		rel, mine := ours(imp)
		switch {
		case isStoreClient(imp):
			return "api reads through query ports, never a store client"
		case mine && (rel == "processors" || under(rel, "processors/rebuild") || rel == "producers/decider"):
			return "api reads through query ports and writes through producers/commandbus, not through the runtime or the decider"
		}
		return ""
	}},
	{"contract suites test ports", func(pkg, imp string) string {
		if !slices.Contains(contractSuites, pkg) {
			return ""
		}
		if rel, mine := ours(imp); isStoreClient(imp) || mine && isSink(rel) {
			return pkg + " is a port's contract suite: every store passes it, so it knows none of them"
		}
		return ""
	}},
	{"connections are the wiring's", func(pkg, imp string) string {
		rel, mine := ours(imp)
		if !mine || rel != "internal/connect" || under(pkg, "cmd/streamview") || pkg == "bench" {
			return ""
		}
		return "internal/connect builds the store clients' options from flags and environment: only cmd/streamview and bench wire clients; " + pkg + " takes a client or client options"
	}},
	{"metrics and traces live in telemetry", func(pkg, imp string) string {
		if !isTelemetryLib(imp) || under(pkg, "internal/telemetry") || under(pkg, "api") || under(pkg, "cmd") {
			return ""
		}
		return pkg + " counts or traces through hooks (processors.Hooks, decider.Hooks, callbacks) that internal/telemetry implements; it does not import " + imp
	}},
	{"nothing imports the binary", func(pkg, imp string) string {
		rel, mine := ours(imp)
		switch {
		case mine && under(rel, "cmd"):
			return "cmd is the top: nothing imports it"
		case mine && rel == "bench" && !under(pkg, "cmd"):
			return "bench wires concrete sinks like cmd: only cmd imports it"
		}
		return ""
	}},
}

// violations applies every rule to the import edges of graph (package ->
// its imports, full paths).
func violations(graph map[string][]string) []string {
	var out []string
	for full, imps := range graph {
		pkg, mine := ours(full)
		if !mine {
			continue
		}
		for _, imp := range imps {
			for _, r := range rules {
				if why := r.check(pkg, imp); why != "" {
					out = append(out, fmt.Sprintf("%s imports %s: rule %q: %s", pkg, strings.TrimPrefix(imp, module+"/"), r.name, why))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestDependencyRuleTable(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	tests := []struct {
		name string
		pkg  string
		imp  string
		want string // rule name; "" when the import is allowed
	}{
		{"projection importing its store", "processors/productview", m("sinks/redisview"), "pure cores import only schemas"},
		{"history index importing kafka", "processors/producthistory", "github.com/twmb/franz-go/pkg/kgo", "pure cores import only schemas"},
		{"projection importing a client", "processors/productsearch", "github.com/elastic/go-elasticsearch/v8", "pure cores import only schemas"},
		{"aggregate importing kafka", "producers/product", "github.com/twmb/franz-go/pkg/kgo", "pure cores import only schemas"},
		{"projection importing schemas", "processors/productview", m("schemas"), ""},
		{"projection importing the batch error", "processors/productsearch", m("processors/batch"), ""},
		{"schemas importing a projection", "schemas", m("processors/productview"), "leaves"},
		{"topics importing schemas", "topics", m("schemas"), "leaves"},
		{"runtime importing a sink", "processors", m("sinks/redisview"), "the runtime knows ports, no store"},
		{"rebuild importing go-redis", "processors/rebuild", "github.com/redis/go-redis/v9", "the runtime knows ports, no store"},
		{"rebuild importing a projection", "processors/rebuild", m("processors/productview"), "the runtime knows ports, no store"},
		{"dead letters importing the runtime", "processors/deadletter", m("processors"), "the runtime knows ports, no store"},
		{"runtime importing dead letters", "processors", m("processors/deadletter"), ""},
		{"sink importing the runtime", "sinks/esindex", m("processors"), "sinks implement ports"},
		{"sink importing api", "sinks/bleveindex", m("api"), "sinks implement ports"},
		{"sink importing another sink", "sinks/esindex", m("sinks/redisview"), "sinks implement ports"},
		{"sink importing its projection", "sinks/redisview", m("processors/productview"), ""},
		{"api importing a sink", "api", m("sinks/redisview"), "only the wiring imports concrete sinks"},
		{"api importing go-redis", "api", "github.com/redis/go-redis/v9", "api reads through ports"},
		{"api importing the decider", "api", m("producers/decider"), "api reads through ports"},
		{"cmd importing a sink", "cmd/streamview", m("sinks/esindex"), ""},
		{"bench importing a sink", "bench", m("sinks/redisview"), ""},
		{"contract suite importing a sink", "processors/productsearch/indextest", m("sinks/bleveindex"), "contract suites test ports"},
		{"contract suite importing the runtime", "processors/productview/storetest", m("processors"), ""},
		{"anything importing cmd", "api", m("cmd/streamview"), "nothing imports the binary"},
		{"cmd importing connect", "cmd/streamview", m("internal/connect"), ""},
		{"sink importing connect", "sinks/redisview", m("internal/connect"), "connections are the wiring's"},
		{"runtime importing connect", "processors", m("internal/connect"), "connections are the wiring's"},
		{"connect importing a sink", "internal/connect", m("sinks/esindex"), "leaves"},
		{"api importing bench", "api", m("bench"), "nothing imports the binary"},
		{"auth importing api", "api/auth", m("api"), "leaves"},
		{"api importing auth", "api", m("api/auth"), ""},
		{"runtime importing prometheus", "processors", "github.com/prometheus/client_golang/prometheus", "metrics and traces live in telemetry"},
		{"decider importing kotel", "producers/decider", "github.com/twmb/franz-go/plugin/kotel", "metrics and traces live in telemetry"},
		{"projection importing otel", "processors/productview", "go.opentelemetry.io/otel/trace", "metrics and traces live in telemetry"},
		{"telemetry importing kprom", "internal/telemetry", "github.com/twmb/franz-go/plugin/kprom", ""},
		{"telemetry importing the runtime", "internal/telemetry", m("processors"), ""},
		{"api importing otelhttp", "api", "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", ""},
		{"logkey importing schemas", "internal/logkey", m("schemas"), "leaves"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range rules {
				if why := r.check(tt.pkg, tt.imp); why != "" {
					got = append(got, r.name)
				}
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("%s importing %s: allowed, but rules %q refuse it", tt.pkg, tt.imp, got)
			case tt.want != "" && !slices.Contains(got, tt.want):
				t.Errorf("%s importing %s: rule %q should refuse it; refused by %q", tt.pkg, tt.imp, tt.want, got)
			}
		})
	}
}

// TestDependencyRule checks the module's real import graph.
func TestDependencyRule(t *testing.T) {
	graph := importGraph(t)
	if len(graph) < 10 {
		t.Fatalf("go list found only %d packages", len(graph))
	}
	for _, v := range violations(graph) {
		t.Error(v)
	}
}

// TestDependencyRuleTransitive checks that the runtime, api and the pure
// cores do not reach a store client through anything they import.
func TestDependencyRuleTransitive(t *testing.T) {
	graph := importGraph(t)
	for _, pkg := range append([]string{"processors", "processors/rebuild", "processors/deadletter", "processors/eventlog", "api"}, pure...) {
		for _, chain := range storeChains(graph, module+"/"+pkg) {
			t.Errorf("%s reaches a store client: %s; the runtime, api and the pure cores reach stores only through ports",
				pkg, strings.ReplaceAll(strings.Join(chain, " -> "), module+"/", ""))
		}
	}
}

// storeChains returns, for each store client reachable from from, the
// import chain that reaches it first (breadth first).
func storeChains(graph map[string][]string, from string) [][]string {
	parent := map[string]string{from: ""}
	queue := []string{from}
	var chains [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range graph[p] {
			if _, seen := parent[imp]; seen {
				continue
			}
			parent[imp] = p
			if isStoreClient(imp) {
				chain := []string{imp}
				for q := p; q != ""; q = parent[q] {
					chain = append([]string{q}, chain...)
				}
				chains = append(chains, chain)
				continue // one line per client, not per client package
			}
			queue = append(queue, imp)
		}
	}
	return chains
}

// importGraph is the non-test import graph of the module and everything it
// depends on, from `go list -deps -json ./...`.
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list: %v %s", err, msg)
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("go list output: %v", err)
		}
		graph[p.ImportPath] = p.Imports
	}
	return graph
}
