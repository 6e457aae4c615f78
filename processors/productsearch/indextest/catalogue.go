package indextest

import (
	"bytes"
	_ "embed"
	"sync"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/schemas"
)

// The fixed test catalogue: testdata/catalogue.jsonl is
// Generate(CatalogueSeed, CatalogueProducts, CatalogueMaxUpdates), kept as a
// golden file (refresh with go test ./processors/productsearch/indextest -update).
const (
	CatalogueSeed       = 20250101
	CatalogueProducts   = 600
	CatalogueMaxUpdates = 8
	// Currency of every generated price.
	Currency = eventgen.Currency
)

//go:embed testdata/catalogue.jsonl
var catalogueJSONL []byte

var catalogue = sync.OnceValues(func() ([]schemas.Event, error) {
	return eventgen.ReadJSONL(bytes.NewReader(catalogueJSONL))
})

// Catalogue returns the events of the fixed test catalogue in log order:
// products interleaved, each product's events in version order. Callers must
// not modify the payloads.
func Catalogue() []schemas.Event {
	events, err := catalogue()
	if err != nil {
		panic("indextest: testdata/catalogue.jsonl: " + err.Error())
	}
	return append([]schemas.Event(nil), events...)
}

// Generate returns the events of products generated products from seed, in
// log order: each product's events in version order, products interleaved at
// random. Each product has a ProductCreated and up to maxUpdates later
// events (details, price, stock, reviews), and about one in twelve ends
// discontinued: an eventgen catalogue (see eventgen.Options).
func Generate(seed uint64, products, maxUpdates int) []schemas.Event {
	return eventgen.Stream(eventgen.Options{
		Products: products, Seed: seed, Updates: eventgen.Range{Max: maxUpdates},
		Start:       time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Discontinue: true, DiscontinueOneIn: 12,
		Mix: eventgen.Mix{Price: 5, Stock: 4, Review: 6, Details: 5},
	})
}
