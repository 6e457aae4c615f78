package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// startDevWith is startDev with extra flags; it waits for dev to listen
// as long as the test runs.
func startDevWith(t *testing.T, dir string, extra ...string) (base string, brokers []string, stop func()) {
	t.Helper()
	return startDevWithin(t, dir, 0, extra...)
}

// TestSchemaRegistry: with --schema-registry (franz-go's srfake, with
// basic auth) the pipeline registers its schemas and writes Confluent
// framing; events written before in single-object encoding are still read
// (the views are rebuilt from them), and a wrong password stops dev with
// the setting to fix. No real registry runs here (see README).
func TestSchemaRegistry(t *testing.T) {
	const user, password = "sv-registry", "registry-secret-7"
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))))
	defer reg.Close()
	dir := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "registry.password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	create := func(base, name string) string {
		t.Helper()
		a := call(t, "POST", base+"/v1/products", `{"name":"`+name+`","description":"","price":{"amount":"5.00","currency":"EUR"},
			"categoryId":"c","categoryName":"C","brandId":"b","brandName":"B"}`, "Prefer", "wait=20")
		if a.status != 201 {
			t.Fatalf("create %s: %d %v", name, a.status, a.body)
		}
		return a.body["productId"].(string)
	}
	viewed := func(base, id string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, func() error {
			if a := call(t, "GET", base+"/v1/products/"+id, ""); a.status != 200 {
				return fmt.Errorf("GET product %s: %d", id, a.status)
			}
			return nil
		})
	}

	// Before: no registry, single-object encoding.
	base, _, stop := startDevWith(t, dir)
	soe := create(base, "Before Registry")
	stop()

	t.Run("wrong password", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "wrong")
		os.WriteFile(wrong, []byte("nope"), 0o600)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var out testenv.Buffer
		err := run(ctx, []string{"dev", "--data", dir, "--addr", "127.0.0.1:0", "--kafka-port", "0", "--log-level", "error",
			"--schema-registry", reg.URL(), "--schema-registry-username", user, "--schema-registry-password-file", wrong}, nil, &out, &out)
		if err == nil {
			t.Fatal("dev started with a wrong registry password")
		}
		for _, w := range []string{"schema registry at " + reg.URL(), "credentials were refused", "SCHEMA_REGISTRY_PASSWORD"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not say %q: %v", w, err)
			}
		}
	})

	// After: with the registry, Confluent framing; the old events still read.
	base, brokers, stop := startDevWith(t, dir, "--schema-registry", reg.URL(), "--schema-registry-username", user, "--schema-registry-password-file", pwFile)
	defer stop()
	viewed(base, soe)
	confluent := create(base, "After Registry")
	viewed(base, confluent)

	// The notifier reads the Confluent-framed events too: a price drop is
	// delivered. (It decoded with no registry, and dead-lettered every
	// event written with one.)
	hooks := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct{ Event, ProductID string }
		_ = json.NewDecoder(r.Body).Decode(&n)
		hooks <- n.Event + " " + n.ProductID
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	if a := call(t, "POST", base+"/v1/products/"+confluent+"/subscriptions", `{"url":"`+hook.URL+`/hook","events":["priceDrop"],"secret":"s3cret"}`, "Prefer", "wait=20"); a.status != 201 {
		t.Fatalf("subscribe: %d %v", a.status, a.body)
	}
	if a := call(t, "PUT", base+"/v1/products/"+confluent+"/price", `{"price":{"amount":"4.00","currency":"EUR"}}`, "Prefer", "wait=20"); a.status != 200 {
		t.Fatalf("price drop: %d %v", a.status, a.body)
	}
	select {
	case got := <-hooks:
		if got != "priceDrop "+confluent {
			t.Fatalf("webhook %q, want priceDrop of %s", got, confluent)
		}
	case <-time.After(time.Minute):
		t.Fatal("no webhook for a price drop within a minute: the notifier does not read Confluent framing")
	}

	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	created, _ := codec.SchemaFor(schemas.TypeProductCreated)
	registered, ok := reg.GetSchema(created.Name, 1)
	if !ok {
		t.Fatalf("subject %s is not registered", created.Name)
	}
	framing := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spans, err := topics.Spans(ctx, testenv.Admin(t, brokers), topics.Events)
	if err != nil {
		t.Fatal(err)
	}
	err = topics.ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topics.Events, spans, func(recs []*kgo.Record) error {
		for _, r := range recs {
			id := string(r.Key)
			if id != soe && id != confluent || len(r.Value) < 5 {
				continue
			}
			if _, seen := framing[id]; seen {
				continue // its creation was the first: the price drop has another schema ID
			}
			switch {
			case r.Value[0] == 0xC3 && r.Value[1] == 0x01:
				framing[id] = "single-object"
			case r.Value[0] == 0 && int(binary.BigEndian.Uint32(r.Value[1:5])) == registered.ID:
				framing[id] = "confluent"
			case r.Value[0] == 0:
				return fmt.Errorf("product %s: schema ID %d, want %d", id, binary.BigEndian.Uint32(r.Value[1:5]), registered.ID)
			default:
				return errors.New("unknown framing")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if framing[soe] != "single-object" || framing[confluent] != "confluent" {
		t.Fatalf("framing of the events: %v, want %s single-object and %s confluent", framing, soe, confluent)
	}
}

// TestDecoderRegistersNothing: the codec of the commands that only read
// events (dlq show and redrive, replay, rebuild, projections) reads a
// Confluent-framed event by its schema ID and writes nothing to the
// registry, where newCodec registers every schema; a refused password
// says what to fix. A dry run registered the schemas, and read-only
// registry credentials could not run dlq show.
func TestDecoderRegistersNothing(t *testing.T) {
	const user, password = "sv-reader", "reader-secret-7"
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))))
	defer reg.Close()
	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var writes []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			mu.Lock()
			writes = append(writes, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer proxy.Close()
	written := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(writes)
	}
	settings := func(pw string) connect.SchemaRegistry {
		return connect.SchemaRegistry{URL: proxy.URL, Username: user, Password: connect.NewSecret(pw)}
	}
	ctx := context.Background()

	writer, err := newCodec(ctx, settings(password))
	if err != nil {
		t.Fatal(err)
	}
	if len(written()) == 0 {
		t.Fatal("newCodec registered no schema through the proxy: the proxy does not see the registry's writes")
	}
	const id = "00000000-0000-4000-8000-0000000000ab"
	b, err := writer.EncodeEvent(schemas.Event{ID: schemas.NameUUID([16]byte{31}, "decoder"), AggregateID: id, AggregateType: schemas.AggregateProduct,
		Version: 1, Timestamp: time.Now().UTC().Truncate(time.Millisecond),
		Data: &schemas.ProductCreated{Name: "Kettle", Price: schemas.Money{Amount: 1000, Currency: "EUR"}}})
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 {
		t.Fatalf("the event is not Confluent-framed: first byte %#02x", b[0])
	}

	before := len(written())
	reader, err := newDecoder(ctx, settings(password))
	if err != nil {
		t.Fatal(err)
	}
	e, err := reader.DecodeEvent(b)
	if err != nil {
		t.Fatalf("the decoder does not read the event: %v", err)
	}
	if e.AggregateID != id {
		t.Fatalf("decoded product %s, want %s", e.AggregateID, id)
	}
	if w := written()[before:]; len(w) > 0 {
		t.Fatalf("the decoder wrote to the registry: %v", w)
	}

	_, err = newDecoder(ctx, settings("wrong"))
	if err == nil {
		t.Fatal("the decoder took a wrong password")
	}
	for _, w := range []string{"schema registry at " + proxy.URL, "credentials were refused", "SCHEMA_REGISTRY_PASSWORD"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
}

// TestRegistryHelpSaysWhoRegisters: the help of the commands that only
// read events says they register nothing, that of the writers that they
// register (the readers' help said they registered too).
func TestRegistryHelpSaysWhoRegisters(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "list", "--help"}, "none is registered"},
		{[]string{"dlq", "redrive", "--help"}, "none is registered"},
		{[]string{"replay", "--help"}, "none is registered"},
		{[]string{"rebuild", "--help"}, "none is registered"},
		{[]string{"projections", "--help"}, "none is registered"},
		{[]string{"notify", "--help"}, "none is registered"},
		{[]string{"publish", "--help"}, "schemas registered"},
		{[]string{"serve", "--help"}, "schemas registered"},
	} {
		var out strings.Builder
		_ = run(context.Background(), c.args, strings.NewReader(""), &out, &out)
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("%s: the help does not say %q of --schema-registry:\n%s", strings.Join(c.args, " "), c.want, out.String())
		}
	}
}
