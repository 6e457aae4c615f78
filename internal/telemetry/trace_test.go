package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/internal/telemetry"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// countingProjection stores nothing; it counts the events it is given.
type countingProjection struct {
	mu sync.Mutex
	n  int
}

func (p *countingProjection) Apply(_ context.Context, b []schemas.Event) error {
	p.mu.Lock()
	p.n += len(b)
	p.mu.Unlock()
	return nil
}

// stack is the pipeline on fresh topics of the real Kafka: the API, the
// command bus, the decider and two projectors, all with tel's hooks.
type stack struct {
	base                      string
	commands, events, results string
	projections               []string
	tel                       *telemetry.Telemetry
}

func startStack(t *testing.T, tel *telemetry.Telemetry) stack {
	t.Helper()
	brokers := testenv.Kafka(t)
	st := stack{tel: tel,
		commands: testenv.Topic(t, brokers, "t.trace.commands", 2),
		events:   testenv.Topic(t, brokers, "t.trace.events", 2),
		results:  testenv.Topic(t, brokers, "t.trace.results", 2),
	}
	dlq := testenv.Topic(t, brokers, "t.trace.dlq", 1)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	group := testenv.Name("t.trace.decider")
	d, err := decider.New(decider.Config{Brokers: brokers, CommandsTopic: st.commands, EventsTopic: st.events, ResultsTopic: st.results,
		Group: group, TransactionalID: group, Rules: product.Rules{Currency: "EUR"}, Hooks: tel.Decider(), SnapshotEvery: -1,
		ClientOpts: tel.KafkaLog("decider")}, codec)
	if err != nil {
		t.Fatal(err)
	}
	tel.WatchDecider(func() telemetry.DeciderStats {
		s := d.Stats()
		return telemetry.DeciderStats{Accepted: s.Accepted, Rejected: s.Rejected, Duplicates: s.Duplicates, Events: s.Events, Partitions: s.Partitions}
	})
	results, err := commandbus.NewResults(commandbus.ResultsConfig{Brokers: brokers, Topic: st.results, CommandsTopic: st.commands,
		ClientOpts: tel.Kafka("api-results"), Decided: tel.Decided}, codec)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: brokers, Topic: st.commands, Tracker: results,
		ClientOpts: tel.Kafka("api-sender")}, codec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sender.Close)
	var runners []*processors.Runner
	for _, name := range []string{testenv.Name("t-trace-view"), testenv.Name("t-trace-search")} {
		r, err := processors.New(processors.Config{Name: name, Generation: 1, Topic: st.events, DeadLetterTopic: dlq,
			Hooks: tel.Projection(name, 1)}, codec, &countingProjection{}, kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
		st.projections = append(st.projections, name)
	}
	tel.WatchProjections(func() []telemetry.ProjectionStats {
		var out []telemetry.ProjectionStats
		for _, r := range runners {
			s, c := r.Stats(), r.Config()
			out = append(out, telemetry.ProjectionStats{Projection: c.Name, Generation: c.Generation, Records: s.Records, Applied: s.Applied,
				DeadLettered: s.DeadLettered, Retries: s.Retries, Offsets: s.Offsets, HighWatermarks: s.HighWatermarks})
		}
		return out
	})
	cfg := api.Config{Currency: "EUR"}
	if tp := tel.TracerProvider(); tp != nil {
		cfg.TracerProvider = tp
	}
	srv := api.New(cfg, api.Deps{Commands: bus{results, sender}, Metrics: tel.Registry()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st.base = "http://" + ln.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error { return d.Run(gctx) })
	g.Go(func() error { return results.Run(gctx) })
	g.Go(func() error { return srv.Serve(gctx, ln) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("stack: %v", err)
		}
	})
	return st
}

type bus struct {
	*commandbus.Results
	*commandbus.Sender
}

// create posts a new product and waits for the decider's outcome.
func (st stack) create(t *testing.T) string {
	t.Helper()
	body := `{"name":"Traced Trike","description":"","price":{"amount":"120.00","currency":"EUR"},"categoryId":"bikes","categoryName":"Bikes","brandId":"acme","brandName":"Acme"}`
	var id string
	testenv.Eventually(t, 60*time.Second, func() error {
		req, _ := http.NewRequest("POST", st.base+"/v1/products", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "wait=10")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /v1/products: %d %s", resp.StatusCode, b)
		}
		id = strings.TrimPrefix(resp.Header.Get("Location"), "/v1/products/")
		return nil
	})
	return id
}

// TestTraceAcrossTopics follows one command: the HTTP request's span is
// the root; the command record's publish span its child; the decider's
// receive span the child of that (through the traceparent header of the
// record); its decide span the child of the receive; the event record's
// publish span a child of decide; each projector's receive span a child of
// the event's publish (the header again), and its apply span a child of
// its receive. All in one trace.
func TestTraceAcrossTopics(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	st := startStack(t, telemetry.New(telemetry.Config{TracerProvider: tp}))
	st.create(t)

	var root tracetest.SpanStub
	testenv.Eventually(t, 60*time.Second, func() error {
		spans := exp.GetSpans()
		var roots []tracetest.SpanStub
		for _, s := range spans {
			if s.Name == "POST /v1/products" && s.SpanKind == trace.SpanKindServer {
				roots = append(roots, s)
			}
		}
		if len(roots) == 0 {
			return errors.New("no span of POST /v1/products yet")
		}
		root = roots[len(roots)-1] // the one that answered 201
		tr := map[trace.SpanID]tracetest.SpanStub{}
		for _, s := range spans {
			if s.SpanContext.TraceID() == root.SpanContext.TraceID() {
				tr[s.SpanContext.SpanID()] = s
			}
		}
		children := func(of tracetest.SpanStub, name string) []tracetest.SpanStub {
			var out []tracetest.SpanStub
			for _, s := range tr {
				if s.Parent.SpanID() == of.SpanContext.SpanID() && s.Name == name {
					out = append(out, s)
				}
			}
			return out
		}
		one := func(of tracetest.SpanStub, name string) (tracetest.SpanStub, error) {
			cs := children(of, name)
			if len(cs) == 0 {
				return tracetest.SpanStub{}, fmt.Errorf("no span %q under %q in the trace (%d spans so far)", name, of.Name, len(tr))
			}
			return cs[0], nil
		}
		cmdPub, err := one(root, st.commands+" publish")
		if err != nil {
			return err
		}
		// The command topic is read by the decider and by the results
		// reader (to know pending commands): the decider's receive is the
		// one with a decide under it.
		var decide tracetest.SpanStub
		for _, rcv := range children(cmdPub, st.commands+" receive") {
			if d, err := one(rcv, "decide"); err == nil {
				decide = d
			}
		}
		if !decide.SpanContext.IsValid() {
			return fmt.Errorf("no decide span under a receive of %s", st.commands)
		}
		if _, err := one(decide, st.results+" publish"); err != nil {
			return err
		}
		evPub, err := one(decide, st.events+" publish")
		if err != nil {
			return err
		}
		for _, name := range st.projections {
			found := false
			for _, rcv := range children(evPub, st.events+" receive") {
				if _, err := one(rcv, name+" apply"); err == nil {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("no %q apply span under a receive of the event", name)
			}
		}
		return nil
	})
}
