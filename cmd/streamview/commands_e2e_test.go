package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// commandsEndToEnd checks the write side through the API against a running
// pipeline whose broker is at brokers: bad requests publish nothing,
// concurrent commands on one product get gap-free versions, and an
// Idempotency-Key makes a retry answer the same without a second event.
func commandsEndToEnd(t *testing.T, base string, brokers []string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends := func() map[int32]int64 {
		o, err := adm.ListEndOffsets(context.Background(), topics.Commands)
		if err != nil {
			t.Fatal(err)
		}
		m := map[int32]int64{}
		o.Each(func(l kadm.ListedOffset) { m[l.Partition] = l.Offset })
		return m
	}

	a := call(t, "POST", base+"/v1/products", `{"name":"Busy Bike","description":"","price":{"amount":"500.00","currency":"EUR"},
		"categoryId":"bikes","categoryName":"Bikes","brandId":"acme","brandName":"Acme"}`, "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)

	t.Run("bad input publishes nothing", func(t *testing.T) {
		before := ends()
		price := base + "/v1/products/" + id + "/price"
		big := `{"price":{"amount":"1.00","currency":"EUR"},"x":"` + strings.Repeat("a", 1<<20+10) + `"}`
		cases := []struct {
			name, method, url, body, ctype string
			headers                        []string
			want                           int
		}{
			{"malformed JSON", "PUT", price, `{"price":`, "application/json", nil, 400},
			{"unknown field", "PUT", price, `{"price":{"amount":"1.00","currency":"EUR"},"colour":"red"}`, "application/json", nil, 400},
			{"wrong type", "PUT", price, `{"price":{"amount":1.00,"currency":"EUR"}}`, "application/json", nil, 400},
			{"body over 1 MiB", "PUT", price, big, "application/json", nil, 413},
			{"wrong content type", "PUT", price, `{"price":{"amount":"1.00","currency":"EUR"}}`, "text/plain", nil, 415},
			{"bad Prefer", "PUT", price, `{"price":{"amount":"1.00","currency":"EUR"}}`, "application/json", []string{"Prefer", "wait=abc"}, 400},
			{"bad If-Match", "PUT", price, `{"price":{"amount":"1.00","currency":"EUR"}}`, "application/json", []string{"If-Match", "x"}, 400},
			{"bad path ID", "PUT", base + "/v1/products/not-a-uuid/price", `{"price":{"amount":"1.00","currency":"EUR"}}`, "application/json", nil, 400},
			{"price zero", "PUT", price, `{"price":{"amount":"0","currency":"EUR"}}`, "application/json", nil, 422},
			{"too many decimals", "PUT", price, `{"price":{"amount":"1.001","currency":"EUR"}}`, "application/json", nil, 422},
			{"other currency", "PUT", price, `{"price":{"amount":"1.00","currency":"USD"}}`, "application/json", nil, 422},
			{"negative stock", "PUT", base + "/v1/products/" + id + "/stock", `{"quantity":-1}`, "application/json", nil, 422},
			{"rating 6", "POST", base + "/v1/products/" + id + "/reviews", `{"rating":6,"userId":"u"}`, "application/json", nil, 422},
			{"empty name", "POST", base + "/v1/products", `{"name":"","description":"","price":{"amount":"1.00","currency":"EUR"},"categoryId":"c","categoryName":"C","brandId":"b","brandName":"B"}`, "application/json", nil, 422},
		}
		for _, c := range cases {
			req, _ := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ctype)
			for i := 0; i+1 < len(c.headers); i += 2 {
				req.Header.Set(c.headers[i], c.headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s: %d %s, want %d problem+json", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), c.want)
			}
		}
		if after := ends(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("bad requests published commands: end offsets %v -> %v", before, after)
		}
	})

	t.Run("200 concurrent price changes", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					body := fmt.Sprintf(`{"price":{"amount":"%d.%02d","currency":"EUR"}}`, 100+c, i)
					req, _ := http.NewRequest("PUT", base+"/v1/products/"+id+"/price", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Prefer", "wait=30")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("client %d change %d: %s", c, i, resp.Status)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		versions := eventVersions(t, brokers, id, schemas.TypeProductPriceChanged)
		if len(versions) != 200 {
			t.Fatalf("%d ProductPriceChanged events, want 200", len(versions))
		}
		for i, v := range versions {
			if v != int64(i+2) {
				t.Fatalf("versions are not 2..201 without gaps or duplicates: %v", versions)
			}
		}
	})

	t.Run("Idempotency-Key retry", func(t *testing.T) {
		before := len(eventVersions(t, brokers, id, schemas.TypeProductStockChanged))
		first := call(t, "PUT", base+"/v1/products/"+id+"/stock", `{"quantity":7}`, "Prefer", "wait=20", "Idempotency-Key", "restock-"+id)
		second := call(t, "PUT", base+"/v1/products/"+id+"/stock", `{"quantity":7}`, "Prefer", "wait=20", "Idempotency-Key", "restock-"+id)
		if first.status != 200 || second.status != 200 || fmt.Sprint(first.body) != fmt.Sprint(second.body) {
			t.Fatalf("retry answered differently: %d %v / %d %v", first.status, first.body, second.status, second.body)
		}
		if after := len(eventVersions(t, brokers, id, schemas.TypeProductStockChanged)); after != before+1 {
			t.Fatalf("%d new stock events for two requests with one key, want 1", after-before)
		}
	})

	t.Run("Prefer wait outcomes", func(t *testing.T) {
		unknown := "6f0c2a62-2b4c-4f7e-9d55-0000000000aa"
		for _, c := range []struct {
			name, method, url, body string
			headers                 []string
			want                    int
		}{
			{"create", "POST", base + "/v1/products", `{"name":"Wait Watch","description":"","price":{"amount":"99.00","currency":"EUR"},"categoryId":"watches","categoryName":"Watches","brandId":"acme","brandName":"Acme"}`, nil, 201},
			{"update", "PATCH", base + "/v1/products/" + id, `{"name":"Busy Bike Pro"}`, nil, 200},
			{"unknown product", "PUT", base + "/v1/products/" + unknown + "/stock", `{"quantity":1}`, nil, 404},
			{"taken productId", "POST", base + "/v1/products", `{"productId":"` + id + `","name":"Dup","description":"","price":{"amount":"1.00","currency":"EUR"},"categoryId":"c","categoryName":"C","brandId":"b","brandName":"B"}`, nil, 409},
			{"stale If-Match", "PUT", base + "/v1/products/" + id + "/stock", `{"quantity":2}`, []string{"If-Match", `"1"`}, 409},
			{"invalid", "PUT", base + "/v1/products/" + id + "/price", `{"price":{"amount":"-1.00","currency":"EUR"}}`, nil, 422},
		} {
			a := call(t, c.method, c.url, c.body, append([]string{"Prefer", "wait=20"}, c.headers...)...)
			if a.status != c.want {
				t.Errorf("%s: %d %v, want %d", c.name, a.status, a.body, c.want)
			}
		}
	})
}

// eventVersions reads the events topic and returns the versions of
// aggregate id's events of type typ, sorted, once every event written so
// far can be read (awaitReadable).
func eventVersions(t *testing.T, brokers []string, id, typ string) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	awaitReadable(t, ctx, testenv.Admin(t, brokers), topics.Events)
	spans, err := topics.Spans(ctx, testenv.Admin(t, brokers), topics.Events)
	if err != nil {
		t.Fatal(err)
	}
	codec, _ := schemas.NewCodec()
	var versions []int64
	err = topics.ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topics.Events, spans, func(recs []*kgo.Record) error {
		for _, r := range recs {
			if string(r.Key) != id {
				continue
			}
			e, err := codec.DecodeEvent(r.Value)
			if err != nil {
				return fmt.Errorf("partition %d offset %d: %w", r.Partition, r.Offset, err)
			}
			if e.Type() == typ {
				versions = append(versions, e.Version)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	return versions
}
