package indextest

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
)

var update = flag.Bool("update", false, "rewrite testdata/catalogue.jsonl from Generate")

func TestCatalogueGolden(t *testing.T) {
	var b bytes.Buffer
	if err := eventgen.WriteJSONL(&b, Generate(CatalogueSeed, CatalogueProducts, CatalogueMaxUpdates)); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/catalogue.jsonl", b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Skip("rewrote testdata/catalogue.jsonl")
	}
	if !bytes.Equal(b.Bytes(), catalogueJSONL) {
		t.Fatal("Generate no longer gives testdata/catalogue.jsonl; if that is intended, run with -update")
	}
}

func TestCatalogueShape(t *testing.T) {
	events := Catalogue()
	m := NewModel(Currency, events)
	if got := len(m.Docs); got != CatalogueProducts {
		t.Fatalf("%d products, want %d", got, CatalogueProducts)
	}
	var discontinued, outOfStock, reviewed int
	for _, d := range m.Docs {
		if d.Discontinued {
			discontinued++
		}
		if !d.InStock {
			outOfStock++
		}
		if d.ReviewCount > 0 {
			reviewed++
		}
	}
	t.Logf("%d events, %d products: %d discontinued, %d out of stock, %d reviewed", len(events), len(m.Docs), discontinued, outOfStock, reviewed)
	if discontinued == 0 || outOfStock == 0 || reviewed == 0 {
		t.Fatal("the catalogue lacks discontinued, out-of-stock or reviewed products")
	}
	// Round trip: what eventgen.ReadJSONL gives folds to what Generate folds to.
	direct := NewModel(Currency, Generate(CatalogueSeed, CatalogueProducts, CatalogueMaxUpdates))
	for id, d := range direct.Docs {
		if got := m.Docs[id]; !EqualDocs(got, d) {
			t.Fatalf("product %s: read back %+v, generated %+v", id, got, d)
		}
	}
}
