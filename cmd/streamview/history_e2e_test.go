package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/topics"
)

func TestDevHistoryAndOperations(t *testing.T) {
	// The old generation stays 30 s after the swap: the window in which
	// abortAfterSwap's DELETE must land.
	old := rebuildGrace
	rebuildGrace = 30 * time.Second
	t.Cleanup(func() { rebuildGrace = old })
	base, brokers, _ := startDev(t, t.TempDir())
	historyEndToEnd(t, base)
	historyReadsItsWrites(t, base)
	deadLettersEndToEnd(t, base, brokers)
	rebuildEndToEnd(t, base)
	abortAfterSwap(t, base)
	liveClientMetrics(t, base)
	countersContinue(t, base)
}

func TestServeHistoryAndOperations(t *testing.T) {
	base, brokers := startServeBrokers(t)
	historyEndToEnd(t, base)
	historyReadsItsWrites(t, base)
	deadLettersEndToEnd(t, base, brokers)
}

// historyEndToEnd changes a product's price twice and reads its history and
// its past versions back.
func historyEndToEnd(t *testing.T, base string) {
	t.Helper()
	a := call(t, "POST", base+"/v1/products", `{"name":"History Lamp","description":"Old light","price":{"amount":"10.00","currency":"EUR"},
		"categoryId":"lamps","categoryName":"Lamps","brandId":"lumen","brandName":"Lumen","stock":2}`, "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)
	for i, price := range []string{"12.50", "9.99"} {
		a = call(t, "PUT", base+"/v1/products/"+id+"/price", `{"price":{"amount":"`+price+`","currency":"EUR"}}`, "Prefer", "wait=20")
		if a.status != 200 || a.body["version"] != float64(i+2) {
			t.Fatalf("price %s: %d %v", price, a.status, a.body)
		}
	}
	var h answer
	testenv.Eventually(t, 60*time.Second, func() error {
		h = call(t, "GET", base+"/v1/products/"+id+"/events", "")
		if h.status != 200 || len(h.body["events"].([]any)) != 3 {
			return fmt.Errorf("history: %d %v", h.status, h.body)
		}
		return nil
	})
	events := h.body["events"].([]any)
	for i, want := range []string{"ProductCreated", "ProductPriceChanged", "ProductPriceChanged"} {
		e := events[i].(map[string]any)
		if e["eventType"] != want || e["version"] != float64(i+1) || e["eventId"] == "" || e["data"] == nil || e["timestamp"] == "" {
			t.Errorf("event %d: %v, want %s version %d", i, e, want, i+1)
		}
		if md, ok := e["metadata"].(map[string]any); !ok || md["causationId"] == "" || md["correlationId"] == nil {
			t.Errorf("event %d: metadata %v", i, e["metadata"])
		}
	}
	if _, ok := h.body["nextFromVersion"]; ok {
		t.Errorf("whole history: nextFromVersion %v, want none", h.body["nextFromVersion"])
	}
	p := call(t, "GET", base+"/v1/products/"+id+"/events?fromVersion=2&limit=1", "")
	if p.status != 200 || len(p.body["events"].([]any)) != 1 || p.body["nextFromVersion"] != float64(3) ||
		p.body["events"].([]any)[0].(map[string]any)["version"] != float64(2) {
		t.Errorf("page from 2, limit 1: %d %v", p.status, p.body)
	}
	for _, bad := range []string{"?limit=0", "?limit=1001", "?fromVersion=0", "?fromVersion=x", "?other=1"} {
		if b := call(t, "GET", base+"/v1/products/"+id+"/events"+bad, ""); b.status != 400 {
			t.Errorf("events%s: %d, want 400", bad, b.status)
		}
	}
	if u := call(t, "GET", base+"/v1/products/"+commandbus.NewID()+"/events", ""); u.status != 404 {
		t.Errorf("history of an unknown product: %d, want 404", u.status)
	}

	for v, price := range map[int]string{1: "10.00", 2: "12.50", 3: "9.99"} {
		o := call(t, "GET", fmt.Sprintf("%s/v1/products/%s?asOfVersion=%d", base, id, v), "")
		if o.status != 200 || o.body["version"] != float64(v) || o.body["price"].(map[string]any)["amount"] != price || o.body["name"] != "History Lamp" {
			t.Errorf("asOfVersion=%d: %d %v, want price %s", v, o.status, o.body, price)
		}
		if o.header.Get("ETag") != fmt.Sprintf(`"%d"`, v) {
			t.Errorf("asOfVersion=%d: ETag %q", v, o.header.Get("ETag"))
		}
	}
	if o := call(t, "GET", base+"/v1/products/"+id+"?asOfVersion=4", ""); o.status != 404 {
		t.Errorf("asOfVersion=4 of a product at 3: %d %v, want 404", o.status, o.body)
	}
	if o := call(t, "GET", base+"/v1/products/"+id+"?asOfVersion=0", ""); o.status != 404 {
		t.Errorf("asOfVersion=0: %d, want 404 (no product has a version 0)", o.status)
	}
}

// historyReadsItsWrites reads the history right after each command's
// answer, as a client does: it has the command's version. The history
// answered 404 right after a create ("No product … is known", "never had
// version 1"), and pages without the version just written.
func historyReadsItsWrites(t *testing.T, base string) {
	t.Helper()
	var wrong []string
	check := func(what string, a answer, ok bool) {
		if !ok {
			wrong = append(wrong, fmt.Sprintf("%s: %d %v", what, a.status, a.body))
		}
	}
	for i := range 10 {
		a := call(t, "POST", base+"/v1/products", fmt.Sprintf(`{"name":"Written Lamp %d","description":"","price":{"amount":"10.00","currency":"EUR"},
			"categoryId":"lamps","categoryName":"Lamps","brandId":"lumen","brandName":"Lumen"}`, i), "Prefer", "wait=20")
		if a.status != 201 {
			t.Fatalf("create: %d %v", a.status, a.body)
		}
		id := a.body["productId"].(string)
		h := call(t, "GET", base+"/v1/products/"+id+"/events", "")
		evs, _ := h.body["events"].([]any)
		check("events after the create", h, h.status == 200 && len(evs) == 1)
		o := call(t, "GET", base+"/v1/products/"+id+"?asOfVersion=1", "")
		check("asOfVersion=1 after the create", o, o.status == 200 && o.body["version"] == float64(1))
		a = call(t, "PUT", base+"/v1/products/"+id+"/price", `{"price":{"amount":"12.00","currency":"EUR"}}`, "Prefer", "wait=20")
		if a.status != 200 || a.body["version"] != float64(2) {
			t.Fatalf("price: %d %v", a.status, a.body)
		}
		h = call(t, "GET", base+"/v1/products/"+id+"/events?fromVersion=2", "")
		evs, _ = h.body["events"].([]any)
		check("events from version 2 after the change", h, h.status == 200 && len(evs) == 1)
		o = call(t, "GET", base+"/v1/products/"+id+"?asOfVersion=2", "")
		check("asOfVersion=2 after the change", o, o.status == 200 && o.body["version"] == float64(2))
	}
	if len(wrong) > 0 {
		t.Errorf("%d of 40 reads right after a command's answer missed its version; the first: %s", len(wrong), strings.Join(wrong[:min(3, len(wrong))], "; "))
	}
}

// deadLettersEndToEnd publishes a record no projection can decode, finds
// its dead letter over HTTP and re-drives it: it fails again and comes back
// at the offset the re-drive wrote.
func deadLettersEndToEnd(t *testing.T, base string, brokers []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	key := commandbus.NewID()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.Events, Key: []byte(key), Value: []byte("not avro")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	find := func(sourceOffset int64) (map[string]any, error) {
		a := call(t, "GET", base+"/v1/projections/product-view/dead-letters?limit=1000", "")
		if a.status != 200 {
			return nil, fmt.Errorf("dead letters: %d %v", a.status, a.body)
		}
		for _, l := range a.body["deadLetters"].([]any) {
			m := l.(map[string]any)
			if m["aggregateId"] == key && (sourceOffset < 0 || m["sourceOffset"] == float64(sourceOffset)) && strings.HasPrefix(fmt.Sprint(m["group"]), "streamview.product-view.g") {
				return m, nil
			}
		}
		return nil, fmt.Errorf("no dead letter of %s (source offset %d) among %d", key, sourceOffset, len(a.body["deadLetters"].([]any)))
	}
	var letter map[string]any
	testenv.Eventually(t, 60*time.Second, func() (err error) {
		letter, err = find(-1)
		return err
	})
	if letter["reason"] != "undecodable" || letter["sourceTopic"] != topics.Events || letter["error"] == "" || letter["time"] == "" {
		t.Errorf("dead letter: %v", letter)
	}
	// Still undecodable: left out, with why, and nothing published.
	r := call(t, "POST", base+"/v1/projections/product-view/dead-letters/redrive", fmt.Sprintf(`{"offsets":[%v]}`, letter["offset"]))
	if r.status != 422 || !strings.Contains(fmt.Sprint(r.body), "the record still fails (undecodable)") {
		t.Fatalf("redrive of a record still undecodable: %d %v, want 422 saying so", r.status, r.body)
	}
	// A letter whose record applies now (a store's refusal since mended):
	// re-driven, the product's view appears.
	offset, id := plantDeadLetter(t, cl)
	r = call(t, "POST", base+"/v1/projections/product-view/dead-letters/redrive", fmt.Sprintf(`{"offsets":[%d]}`, offset))
	if r.status != 200 || len(r.body["redriven"].([]any)) != 1 {
		t.Fatalf("redrive: %d %v", r.status, r.body)
	}
	rd := r.body["redriven"].([]any)[0].(map[string]any)
	if rd["topic"] != topics.Events || rd["offset"] != float64(offset) {
		t.Errorf("redriven: %v", rd)
	}
	if a := call(t, "GET", base+"/v1/products/"+id+"?minVersion=1&wait=30", ""); a.status != 200 {
		t.Errorf("the re-driven product's view: %d %v", a.status, a.body)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		return lastAppliedReaches(t, base, int32(rd["toPartition"].(float64)), int64(rd["toOffset"].(float64)))
	})

	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v1/projections/no-such/dead-letters", "", 404},
		{"POST", "/v1/projections/product-view/dead-letters/redrive", `{}`, 422},
		{"POST", "/v1/projections/product-view/dead-letters/redrive", `{"all":true,"offsets":[1]}`, 422},
		{"POST", "/v1/projections/product-view/dead-letters/redrive", `{"offsets":[999999999]}`, 422},
		{"POST", "/v1/projections/product-view/dead-letters/redrive", `{"offsets":"x"}`, 400},
		{"GET", "/v1/projections/product-view/dead-letters?limit=0", "", 400},
		{"POST", "/v1/projections/no-such/rebuild", "", 404},
		{"POST", "/v1/projections/product-history/rebuild", "", 409},
		// The notifier's dead letters are listed (they were a 404 "no
		// projection notifier runs here"); it has nothing to rebuild.
		{"GET", "/v1/projections/notifier/dead-letters", "", 200},
		{"POST", "/v1/projections/notifier/dead-letters/redrive", `{"all":true}`, 200},
		{"POST", "/v1/projections/notifier/rebuild", "", 409},
		{"DELETE", "/v1/projections/notifier/rebuild", "", 409},
	} {
		if a := call(t, tc.method, base+tc.path, tc.body); a.status != tc.status {
			t.Errorf("%s %s %s: %d %v, want %d", tc.method, tc.path, tc.body, a.status, a.body, tc.status)
		}
	}
}

// viewGenerations lists product-view's generations by state, from GET
// /v1/projections.
func viewGenerations(t *testing.T, base string) map[string][]int {
	t.Helper()
	a := call(t, "GET", base+"/v1/projections", "")
	gens := map[string][]int{}
	for _, p := range a.body["projections"].([]any) {
		m := p.(map[string]any)
		if m["projection"] == "product-view" {
			state := m["state"].(string)
			gens[state] = append(gens[state], int(m["generation"].(float64)))
		}
	}
	return gens
}

// rebuildEndToEnd rebuilds product-view over HTTP and waits for the new
// generation to be live.
func rebuildEndToEnd(t *testing.T, base string) {
	t.Helper()
	live := func() (int, bool) {
		gens := viewGenerations(t, base)
		gen := 0
		if l := gens["live"]; len(l) == 1 {
			gen = l[0]
		}
		return gen, len(gens["building"])+len(gens["handover"]) > 0
	}
	before, _ := live()
	if before == 0 {
		t.Fatalf("product-view has no live generation")
	}
	if a := call(t, "DELETE", base+"/v1/projections/product-view/rebuild", ""); a.status != 409 {
		t.Errorf("abort with no rebuild: %d %v, want 409", a.status, a.body)
	}
	if a := call(t, "POST", base+"/v1/projections/product-view/rebuild", ""); a.status != 202 {
		t.Fatalf("rebuild: %d %v", a.status, a.body)
	}
	testenv.Eventually(t, 120*time.Second, func() error {
		if gen, building := live(); gen != before+1 || building {
			return fmt.Errorf("product-view live g%d (building %v), want g%d", gen, building, before+1)
		}
		return nil
	})
}

// abortAfterSwap aborts product-view's rebuild after rebuildEndToEnd's
// swap, while the old generation is retiring: a 409 (the new generation is
// live; there is nothing to abort), and the rebuild goes on to remove the
// old generation. A DELETE here once stopped the retiring and answered 503
// to every retry, leaving the old generation retiring for good.
func abortAfterSwap(t *testing.T, base string) {
	t.Helper()
	gens := viewGenerations(t, base)
	if len(gens["retiring"]) != 1 || len(gens["live"]) != 1 {
		t.Fatalf("product-view generations %v: want one live and one retiring (the 30 s grace after the swap)", gens)
	}
	a := call(t, "DELETE", base+"/v1/projections/product-view/rebuild", "")
	if detail, _ := a.body["detail"].(string); a.status != 409 || !strings.Contains(detail, "can no longer be aborted") {
		t.Fatalf("abort after the swap: %d %v, want 409 saying it can no longer be aborted", a.status, a.body)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		if now := viewGenerations(t, base); len(now["retiring"]) > 0 || len(now) != 1 || !slices.Equal(now["live"], gens["live"]) {
			return fmt.Errorf("product-view generations %v, want only g%v live", now, gens["live"])
		}
		return nil
	})
}

// lastAppliedReaches checks that product-view's live generation reports a
// last applied offset of at least offset on partition p.
func lastAppliedReaches(t *testing.T, base string, p int32, offset int64) error {
	t.Helper()
	a := call(t, "GET", base+"/v1/projections", "")
	for _, g := range a.body["projections"].([]any) {
		m := g.(map[string]any)
		if m["projection"] != "product-view" || m["state"] != "live" {
			continue
		}
		for _, pl := range m["partitions"].([]any) {
			pm := pl.(map[string]any)
			if pm["partition"] != float64(p) {
				continue
			}
			last, ok := pm["lastApplied"].(float64)
			if !ok || int64(last) < offset || int64(last) != int64(pm["committed"].(float64))-1 {
				return fmt.Errorf("product-view partition %d: %v, want lastApplied >= %d and committed - 1", p, pm, offset)
			}
			return nil
		}
	}
	return fmt.Errorf("no live product-view partition %d in %v", p, a.body)
}

// liveClientMetrics checks that after a rebuild over HTTP the projector of
// the new live generation has its Kafka client's metrics in /metrics. The
// rebuild's runner once had a client of the same name, projector-<name>-
// g<N>: the live one's metrics could not be registered beside it, and the
// rebuild's went when its client closed.
func liveClientMetrics(t *testing.T, base string) {
	t.Helper()
	live := viewGenerations(t, base)["live"]
	if len(live) != 1 {
		t.Fatalf("product-view live generations %v, want one", live)
	}
	client := fmt.Sprintf(`client="projector-product-view-g%d"`, live[0])
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var seen []string
		for line := range strings.Lines(string(b)) {
			if strings.HasPrefix(line, "streamview_kafka_") && strings.Contains(line, client) {
				if strings.HasPrefix(line, "streamview_kafka_connects_total{") {
					return nil
				}
				seen = append(seen, strings.TrimSpace(line))
			}
		}
		return testenv.Errorf("/metrics has no streamview_kafka_connects_total of %s; its series: %v", client, seen)
	})
}

// countersContinue checks that after a rebuild over HTTP the new live
// generation's counters go on from what its rebuild applied: the rebuild
// stored every event of the log, and nothing came after it, so the live
// projector applied nothing itself. They once started again from 0 at the
// swap: the report's applied vanished and Prometheus saw a counter reset.
func countersContinue(t *testing.T, base string) {
	t.Helper()
	live := viewGenerations(t, base)["live"]
	if len(live) != 1 {
		t.Fatalf("product-view live generations %v, want one", live)
	}
	var applied float64
	for _, g := range call(t, "GET", base+"/v1/projections", "").body["projections"].([]any) {
		if m := g.(map[string]any); m["projection"] == "product-view" && m["generation"] == float64(live[0]) {
			applied, _ = m["applied"].(float64)
		}
	}
	if applied < 3 { // historyEndToEnd's three events at least
		t.Fatalf("product-view g%d reports %v events applied after its rebuild, want the rebuild's count (at least 3)", live[0], applied)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	series := fmt.Sprintf(`streamview_projection_events_applied_total{generation="%d",projection="product-view"} %v`, live[0], applied)
	if !strings.Contains(string(b), series+"\n") {
		t.Errorf("/metrics lacks %q", series)
	}
}

// plantDeadLetter writes a dead letter of product-view whose record is a
// valid creation of a new product, as a store's refusal leaves one (the
// store mended since, a re-drive applies it), and returns its offset in
// the dead-letter topic and the product's ID.
func plantDeadLetter(t *testing.T, cl *kgo.Client) (int64, string) {
	t.Helper()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	e := eventgen.Stream(eventgen.Options{Products: 1, Events: 1, Seed: uint64(time.Now().UnixNano())})[0]
	e.ID, e.AggregateID = commandbus.NewID(), commandbus.NewID()
	rec, err := producers.NewPublisher(cl, codec, topics.Events).Record(e)
	if err != nil {
		t.Fatal(err)
	}
	rec.Topic = topics.DeadLetter("product-view")
	rec.Headers = append(rec.Headers,
		kgo.RecordHeader{Key: deadletter.HeaderError, Value: []byte("rejected by the store: planted by the test")},
		kgo.RecordHeader{Key: deadletter.HeaderReason, Value: []byte(deadletter.ReasonRejected)},
		kgo.RecordHeader{Key: deadletter.HeaderSourceTopic, Value: []byte(topics.Events)},
		kgo.RecordHeader{Key: deadletter.HeaderProjection, Value: []byte("streamview.product-view.g1")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return rec.Offset, e.AggregateID
}
