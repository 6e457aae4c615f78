package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

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
		var out syncBuffer
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
