package schemas

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// Vectors from the Avro specification's test data
// (share/test/data/schema-tests.txt, checked by the Java implementation),
// plus the cases goavro gets wrong.
func TestCanonicalFormAndFingerprint(t *testing.T) {
	tests := []struct {
		name, schema, canonical string
		fingerprint             int64 // as Java's signed long
	}{
		{"null", `"null"`, `"null"`, 7195948357588979594},
		{"null as object", `{"type":"null"}`, `"null"`, 7195948357588979594},
		{"boolean", `"boolean"`, `"boolean"`, -6970731678124411036},
		{"int", `"int"`, `"int"`, 8247732601305521295},
		{"long", `"long"`, `"long"`, -3434872931120570953},
		{"string", `{"type":"string"}`, `"string"`, -8142146995180207161},
		{"empty union", `[  ]`, `[]`, -1241056759729112623},
		{"union", `[ "int" , {"type":"boolean"} ]`, `["int","boolean"]`, 5392556393470105090},
		{"record", `{"fields":[], "type":"record", "name":"foo"}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
		{"record in namespace", `{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}`, `{"name":"x.y.foo","type":"record","fields":[]}`, 5916914534497305771},
		{"full name wins over namespace", `{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}`, `{"name":"a.b.foo","type":"record","fields":[]}`, -4616218487480524110},
		{"doc and aliases stripped", `{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
		{"field attributes stripped", `{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},
			{"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo"}`,
			`{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}`, -4860222112080293046},
		{"enum", `{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}`, `{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}`, -4448647247586288245},
		{"fixed", `{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}`, `{"name":"x.y.z.foo","type":"fixed","size":32}`, -3064184465700546786},
		{"array", `{ "items":{"type":"null"}, "type":"array"}`, `{"type":"array","items":"null"}`, -589620603366471059},
		{"map", `{ "values":"string", "type":"map"}`, `{"type":"map","values":"string"}`, -8732877298790414990},
		{"recursive", `{"name":"PigValue","type":"record","fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}`,
			`{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}`, -1759257747318642341},
		// Java's parsing form writes a primitive with a logical type as
		// the plain primitive; goavro writes {"type":"long"}.
		{"logical type", `{"type":"long","logicalType":"timestamp-millis"}`, `"long"`, -3434872931120570953},
		// A namespace attribute is absolute; goavro prefixes the
		// enclosing namespace to it.
		{"nested namespace", `{"type":"record","name":"R","namespace":"a.b","fields":[
			{"name":"m","type":{"type":"record","name":"M","namespace":"a.b","fields":[]}},
			{"name":"n","type":"M"}]}`,
			`{"name":"a.b.R","type":"record","fields":[{"name":"m","type":{"name":"a.b.M","type":"record","fields":[]}},{"name":"n","type":"a.b.M"}]}`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pcf, err := CanonicalForm(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			if pcf != tc.canonical {
				t.Errorf("canonical form\n got %s\nwant %s", pcf, tc.canonical)
			}
			fp, err := Fingerprint(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			if tc.fingerprint != 0 && int64(fp) != tc.fingerprint {
				t.Errorf("fingerprint %d, want %d", int64(fp), tc.fingerprint)
			}
		})
	}
}

// Every schema compiles, is self-contained, and defines each shared type
// once, inline at its first use.
func TestSchemasCompile(t *testing.T) {
	c := newCodec(t)
	for _, s := range c.Schemas() {
		t.Run(s.Type, func(t *testing.T) {
			if _, err := goavro.NewCodec(s.Schema); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(s.Canonical, `{"name":"io.streamview.catalog.Metadata","type":"record"`); n != 1 && s.Kind != KindResult {
				t.Errorf("Metadata defined %d times:\n%s", n, s.Canonical)
			}
			if n := strings.Count(s.Canonical, `{"name":"io.streamview.catalog.Money","type":"record"`); n > 1 {
				t.Errorf("Money defined %d times:\n%s", n, s.Canonical)
			}
		})
	}
	// The composed form, pinned: Money inline at oldPrice, by name at
	// newPrice. Its fingerprint was cross-checked with Apache Avro's
	// Python implementation.
	info, _ := c.SchemaFor(TypeProductPriceChanged)
	const want = `{"name":"io.streamview.catalog.ProductPriceChanged","type":"record","fields":[` +
		`{"name":"eventId","type":"string"},{"name":"aggregateType","type":"string"},{"name":"aggregateId","type":"string"},` +
		`{"name":"version","type":"long"},{"name":"timestamp","type":"long"},` +
		`{"name":"metadata","type":{"name":"io.streamview.catalog.Metadata","type":"record","fields":[{"name":"correlationId","type":"string"},{"name":"causationId","type":"string"},{"name":"userId","type":"string"}]}},` +
		`{"name":"oldPrice","type":{"name":"io.streamview.catalog.Money","type":"record","fields":[{"name":"amount","type":"long"},{"name":"currency","type":"string"}]}},` +
		`{"name":"newPrice","type":"io.streamview.catalog.Money"}]}`
	if info.Canonical != want {
		t.Errorf("canonical form\n got %s\nwant %s", info.Canonical, want)
	}
	if int64(info.Fingerprint) != 6013073829210846901 {
		t.Errorf("fingerprint %d", int64(info.Fingerprint))
	}
}

// TestFingerprintsGolden pins every writer fingerprint. A diff here means a
// schema changed, and bytes written with the old one will no longer decode
// unless the old schema is kept as a retired one (see upcast.go). Rewrite
// with -update once that is done.
func TestFingerprintsGolden(t *testing.T) {
	c := newCodec(t)
	var b strings.Builder
	for _, s := range c.Schemas() {
		fmt.Fprintf(&b, "%016x %s\n", s.Fingerprint, s.Name)
	}
	for _, file := range slices.Sorted(maps.Keys(upcasters)) {
		text, _ := avscFiles.ReadFile("avro/" + file)
		fp, err := Fingerprint(string(text))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%016x %s (retired)\n", fp, file)
	}
	const golden = "testdata/fingerprints.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("fingerprints changed\n got:\n%s\nwant:\n%s", b.String(), want)
	}
}
