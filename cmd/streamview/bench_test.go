package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/streamview/streamview/bench"
	"github.com/streamview/streamview/internal/testenv"
)

// A short run of each target against the real servers: the report must be
// sane, and the projection must have stored every product (the search run
// also checks each stored document against the fold).
func TestBenchSmall(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		benchSmall(t, []string{"redis", "--redis", testenv.Redis(t)}, "raw redis", "target 0.80", "zipf over products", "bare writes in MULTI/EXEC")
	})
	t.Run("redis --script", func(t *testing.T) {
		benchSmall(t, []string{"redis", "--redis", testenv.Redis(t), "--script"}, "raw redis", "versions checked in the script")
	})
	t.Run("search", func(t *testing.T) {
		es := testenv.Elasticsearch(t)
		want := []string{"raw search", "target 0.90", "zipf over products", "a bulk request per batch, 6 lanes at once", "5 MiB buffers across batches"}
		if u, err := url.Parse(es); err == nil && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost") {
			want = append(want, "search server busy") // its CPU read from /proc
		}
		benchSmall(t, []string{"search", "--es", es}, want...)
	})
}

func benchSmall(t *testing.T, args []string, wantStderr ...string) {
	t.Helper()
	brokers := testenv.Kafka(t)
	var stdout, stderr bytes.Buffer
	args = append(append([]string{"bench"}, args...), "--events", "20000", "--products", "2000", "--json", "--brokers", strings.Join(brokers, ","))
	err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	type figure struct {
		Count     int     `json:"count"`
		PerSecond float64 `json:"perSecond"`
	}
	var rep struct {
		Events, Products, Stored int
		Batches                  int
		Applies                  int64
		Consume, Raw, Projection figure
		Ratio                    float64
		Round                    int
		Rounds                   []struct {
			N                         int
			Raw, Projection, RawAfter figure
			Stored                    int
			Ratio                     float64
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Events != 20000 || rep.Products != 2000 {
		t.Errorf("report of %d events of %d products, want 20000 of 2000", rep.Events, rep.Products)
	}
	for name, f := range map[string]figure{"consume": rep.Consume, "raw": rep.Raw, "projection": rep.Projection} {
		if f.Count != rep.Events || f.PerSecond <= 0 {
			t.Errorf("%s: %d at %.0f/s, want %d at a positive rate", name, f.Count, f.PerSecond, rep.Events)
		}
	}
	if rep.Stored != rep.Products {
		t.Errorf("the projection stored %d documents, want one per product: %d", rep.Stored, rep.Products)
	}
	if rep.Ratio <= 0 {
		t.Errorf("ratio %v, want > 0", rep.Ratio)
	}
	// The report carries both counts. A projection's Apply holds at most a
	// batch of one partition, as a raw batch does, so there are at least as
	// many calls as raw batches whatever the runtime does (how full its
	// batches are is TestLaneTakesQueuedPollsTogether's): this checks the
	// counting, not the batching.
	if rep.Batches < 6 || rep.Applies < int64(rep.Batches) {
		t.Errorf("%d Apply calls for %d raw batches, want at least one per batch and a batch per partition", rep.Applies, rep.Batches)
	}
	// Three rounds by default, each a whole projection between two raw
	// runs, each checked; the verdict is the median round's.
	if len(rep.Rounds) != 3 {
		t.Fatalf("%d rounds, want 3 (the default)", len(rep.Rounds))
	}
	var ratios []float64
	for i, rd := range rep.Rounds {
		if rd.N != i+1 || rd.Projection.Count != rep.Events || rd.Raw.Count != rep.Events || rd.RawAfter.Count != rep.Events || rd.Stored != rep.Products || rd.Ratio <= 0 {
			t.Errorf("round %d: %+v, want round %d of %d events, each step measured, %d stored", i+1, rd, i+1, rep.Events, rep.Products)
		}
		if i > 0 && rd.Raw != rep.Rounds[i-1].RawAfter {
			t.Errorf("round %d's raw run before is not round %d's after", rd.N, i)
		}
		ratios = append(ratios, rd.Ratio)
	}
	slices.Sort(ratios)
	if rep.Round < 1 || rep.Round > 3 || rep.Ratio != ratios[1] || rep.Rounds[rep.Round-1].Ratio != rep.Ratio {
		t.Errorf("verdict on round %d at %v, want the median of %v", rep.Round, rep.Ratio, ratios)
	}
	for _, want := range append([]string{"raw consume", "projection", "the median by ratio", "<- the median, shown above", "Apply calls"}, wantStderr...) {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// A short soak of the whole stack against the real servers: it answers
// requests, and none with a 5xx.
func TestBenchSoak(t *testing.T) {
	brokers := testenv.Kafka(t)
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "soak", "--duration", "5s", "--rate", "20", "--products", "20", "--json",
		"--brokers", strings.Join(brokers, ","), "--redis", testenv.Redis(t), "--es", testenv.Elasticsearch(t)}
	if err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("bench soak: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Requests, ServerErrors int
		Kinds                  []struct{ Kind string }
		Process                []struct{ Label string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Requests == 0 || rep.ServerErrors != 0 {
		t.Errorf("%d requests, %d 5xx; want some and none\n%s", rep.Requests, rep.ServerErrors, stderr.String())
	}
	if len(rep.Kinds) == 0 || len(rep.Process) != 3 {
		t.Errorf("kinds %v, process samples %v; want some kinds and start, middle, end", rep.Kinds, rep.Process)
	}
	for _, want := range []string{"kind", "verdict: "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"no target", []string{"bench"}, errUsage},
		{"unknown target", []string{"bench", "postgres"}, errUsage},
		{"help", []string{"bench", "--help"}, flag.ErrHelp},
		{"help of redis", []string{"bench", "redis", "--help"}, flag.ErrHelp},
		{"help of search", []string{"bench", "search", "--help"}, flag.ErrHelp},
		{"bad flag", []string{"bench", "redis", "--events", "many"}, errUsage},
		{"stray argument", []string{"bench", "redis", "now"}, errUsage},
		{"help of soak", []string{"bench", "soak", "--help"}, flag.ErrHelp},
		{"soak bad flag", []string{"bench", "soak", "--rate", "fast"}, errUsage},
		{"soak stray argument", []string{"bench", "soak", "now"}, errUsage},
		// Every command names Elasticsearch's flag --elasticsearch; --es is kept.
		{"elasticsearch flag", []string{"bench", "search", "--elasticsearch", "http://127.0.0.1:1", "--help"}, flag.ErrHelp},
		{"es flag", []string{"bench", "search", "--es", "http://127.0.0.1:1", "--help"}, flag.ErrHelp},
		{"soak elasticsearch flag", []string{"bench", "soak", "--elasticsearch", "http://127.0.0.1:1", "--help"}, flag.ErrHelp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			if !errors.Is(err, tc.want) {
				t.Fatalf("run(%q) = %v, want %v", tc.args, err, tc.want)
			}
			// Help on stdout; a misuse said on stderr, with where the help is.
			if tc.want == flag.ErrHelp && !strings.Contains(out.String(), "Usage: streamview bench redis|search") {
				t.Errorf("no usage on stdout:\n%s", out.String())
			}
			if tc.want == errUsage && (!strings.Contains(errOut.String(), "streamview bench") || !strings.Contains(errOut.String(), "--help") && !strings.Contains(errOut.String(), "Usage:")) {
				t.Errorf("stderr does not say what is wrong and where the help is:\n%s", errOut.String())
			}
		})
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "redis", "--events", "10", "--products", "20"}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "20 products need at least as many events") {
		t.Errorf("more products than events = %v, want a config error", err)
	}
	if err := run(context.Background(), []string{"bench", "api", "--warm", "-1s", "--brokers", "127.0.0.1:1"}, strings.NewReader(""), &out, &errOut); err == nil || !strings.Contains(err.Error(), "--warm -1s: must not be negative") {
		t.Errorf("bench api --warm -1s = %v, want the flag refused", err)
	}
	// An unknown distribution is refused before a server is asked anything
	// (no servers named here: a stack starting would fail otherwise).
	for _, target := range []string{"soak", "api"} {
		err := run(context.Background(), []string{"bench", target, "--distribution", "pareto", "--brokers", "127.0.0.1:1"}, strings.NewReader(""), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), `--distribution "pareto": want zipf or uniform`) {
			t.Errorf("bench %s --distribution pareto = %v, want the flag refused", target, err)
		}
	}
}

// A short bench api on a stack of its own against the real servers: every
// step sends exactly rate × duration commands, and none is answered 5xx;
// the step with Prefer: wait has its raw EOS round trip, every record of it
// back as a result.
func TestBenchAPI(t *testing.T) {
	brokers := testenv.Kafka(t)
	args := []string{"bench", "api", "--rates", "20", "--duration", "2s", "--products", "5", "--json", "--warm", "1s",
		"--brokers", strings.Join(brokers, ","), "--redis", testenv.Redis(t), "--es", testenv.Elasticsearch(t)}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("bench api: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Warmup []struct {
			Rate    int
			Wait    bool
			Latency struct{ Requests int }
		}
		Steps []struct {
			Rate    int
			Wait    bool
			Latency struct {
				Requests int
				Errors   map[string]int
			}
			Raw *struct {
				Sent    int
				Latency struct {
					Requests int
					Errors   map[string]int
				}
			}
			Hops []struct {
				Kind     string
				Requests int
			}
			KafkaRequests []struct {
				Client, Request string
				Count           int
			}
			Servers []struct {
				Name     string
				CPUNanos int64
			}
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	if len(rep.Steps) != 2 || !rep.Steps[0].Wait || rep.Steps[1].Wait {
		t.Fatalf("steps %+v, want 20/s with Prefer: wait, then without", rep.Steps)
	}
	// --warm 1s: one round of the first step's load before the steps.
	if w := rep.Warmup; len(w) != 1 || w[0].Rate != 20 || !w[0].Wait || w[0].Latency.Requests < 19 || w[0].Latency.Requests > 20 {
		t.Errorf("warm-up %+v, want one round of 20 commands (19 after a slow moment) at 20/s with Prefer: wait", w)
	}
	if !strings.Contains(stderr.String(), "bench api: warm-up round 1 (") {
		t.Errorf("stderr lacks the warm-up round:\n%s", stderr.String())
	}
	for _, s := range rep.Steps {
		if s.Rate != 20 || s.Latency.Requests != 40 {
			t.Errorf("step %+v: want 40 commands at 20/s", s)
		}
		for status, n := range s.Latency.Errors {
			if strings.HasPrefix(status, "5") {
				t.Errorf("step wait=%v: %d answers %s", s.Wait, n, status)
			}
		}
		// Where the commands' time went: every send, every wait, and the
		// decider's and the results reader's hops (some of a step's may
		// come just after it ends, so these are not counted exactly).
		hops := map[string]int{}
		for _, h := range s.Hops {
			hops[h.Kind] = h.Requests
		}
		wantHops := map[string]int{bench.HopSend: 40}
		if s.Wait {
			wantHops[bench.HopWait] = 40
			for _, h := range []string{bench.HopPolled, bench.HopDecide, bench.HopProduce, bench.HopCommit, bench.HopSeen} {
				wantHops[h] = -1 // some
			}
		}
		for h, n := range wantHops {
			if got := hops[h]; (n < 0 && got == 0) || (n >= 0 && got != n) {
				t.Errorf("step wait=%v: hop %q has %d samples, want %d (-1: some); hops %v", s.Wait, h, got, n, hops)
			}
		}
		// The stack's Kafka requests, by client: every command is sent
		// (a Produce of the API's sender), every client that reads
		// fetches, and the decider ends a transaction per batch (checked
		// with Prefer: wait, whose commands are all decided within the
		// step).
		reqs := map[[2]string]int{}
		for _, r := range s.KafkaRequests {
			reqs[[2]string{r.Client, r.Request}] += r.Count
		}
		want := [][2]string{{"api-sender", "Produce"}, {"api-results", "Fetch"}, {"decider", "Fetch"}, {"projector-product-view", "Fetch"}, {"projector-product-search", "Fetch"}}
		if s.Wait {
			want = append(want, [2]string{"decider", "EndTxn"})
		}
		for _, k := range want {
			if reqs[k] == 0 {
				t.Errorf("step wait=%v: no %s request of %s counted; counted %v", s.Wait, k[1], k[0], reqs)
			}
		}
		// The servers on loopback, each found by its address (named
		// with it when there are several of a kind), Kafka busy with the
		// stack's requests; unless one was not found (a port proxy,
		// another user's process), which the run says.
		var kinds []string
		for _, sv := range s.Servers {
			kind, _, _ := strings.Cut(sv.Name, " ")
			if !slices.Contains(kinds, kind) {
				kinds = append(kinds, kind)
			}
			if kind == "kafka" && sv.CPUNanos <= 0 {
				t.Errorf("step wait=%v: server %s spent %d ns of CPU, want some", s.Wait, sv.Name, sv.CPUNanos)
			}
		}
		switch want := []string{"kafka", "elasticsearch", "redis"}; {
		case strings.Contains(stderr.String(), "no CPU figure for"):
			t.Logf("step wait=%v: CPU of servers %v; some not found: %s", s.Wait, kinds, stderr.String())
		case !slices.Equal(kinds, want):
			t.Errorf("step wait=%v: CPU of servers %v, want %v", s.Wait, kinds, want)
		}
		switch r := s.Raw; {
		case s.Wait && r == nil:
			t.Errorf("step with Prefer: wait: no raw EOS round trip")
		case s.Wait && (r.Sent != 40 || r.Latency.Requests != 40 || len(r.Latency.Errors) != 0):
			t.Errorf("raw EOS round trip %+v: want 40 sent, 40 results, no errors", *r)
		case !s.Wait && r != nil:
			t.Errorf("step without Prefer: wait has a raw EOS round trip %+v", *r)
		}
	}
	if !strings.Contains(stderr.String(), "Kafka requests the stack wrote at 20/s wait: ") {
		t.Errorf("stderr lacks the Kafka requests per command:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "where the stack's commands spent their time") {
		t.Errorf("stderr lacks the hop table:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "  20/s wait: this process (stack, load and readers) ") {
		t.Errorf("stderr lacks the CPU by process:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "rate/s") {
		t.Errorf("stderr lacks the table:\n%s", stderr.String())
	}
}

// TestBenchElasticsearchFlags: --elasticsearch and its older name --es set
// the one URL, the last given winning, over ELASTICSEARCH_URL.
func TestBenchElasticsearchFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "", "http://127.0.0.1:9200"},
		{nil, "http://env:9200", "http://env:9200"},
		{[]string{"--elasticsearch", "http://a:9200"}, "http://env:9200", "http://a:9200"},
		{[]string{"--es", "http://b:9200"}, "", "http://b:9200"},
		{[]string{"--es", "http://b:9200", "--elasticsearch", "http://a:9200"}, "", "http://a:9200"},
	} {
		e := env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
			if k == "ELASTICSEARCH_URL" {
				return tc.env
			}
			return ""
		}}
		fs := newFlags(e, "bench search")
		var b benchFlags
		b.register(fs, e)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if b.ef.url != tc.want {
			t.Errorf("%v with ELASTICSEARCH_URL=%q: URL %q, want %q", tc.args, tc.env, b.ef.url, tc.want)
		}
	}
}
