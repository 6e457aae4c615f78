package productview_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// eventLine is the test-only JSON of one event in testdata/*.jsonl: the
// envelope's JSON names with the event type beside the payload, which uses
// the schemas payload types' JSON.
type eventLine struct {
	EventType   string          `json:"eventType"`
	EventID     string          `json:"eventId"`
	AggregateID string          `json:"aggregateId"`
	Version     int64           `json:"version"`
	Timestamp   time.Time       `json:"timestamp"`
	Data        json.RawMessage `json:"data"`
}

func payload(eventType string) (schemas.EventData, error) {
	switch eventType {
	case schemas.TypeProductCreated:
		return new(schemas.ProductCreated), nil
	case schemas.TypeProductDetailsUpdated:
		return new(schemas.ProductDetailsUpdated), nil
	case schemas.TypeProductPriceChanged:
		return new(schemas.ProductPriceChanged), nil
	case schemas.TypeProductStockChanged:
		return new(schemas.ProductStockChanged), nil
	case schemas.TypeProductReviewAdded:
		return new(schemas.ProductReviewAdded), nil
	case schemas.TypeProductDiscontinued:
		return new(schemas.ProductDiscontinued), nil
	}
	return nil, fmt.Errorf("unknown eventType %q", eventType)
}

// readEvents reads a .jsonl event stream; blank lines and lines starting
// with '#' are skipped.
func readEvents(path string) ([]schemas.Event, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var events []schemas.Event
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var l eventLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		data, err := payload(l.EventType)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		dec = json.NewDecoder(bytes.NewReader(l.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(data); err != nil {
			return nil, fmt.Errorf("%s:%d: data: %w", path, n, err)
		}
		events = append(events, schemas.Event{
			ID: l.EventID, AggregateType: schemas.AggregateProduct, AggregateID: l.AggregateID,
			Version: l.Version, Timestamp: l.Timestamp, Data: data,
		})
	}
	return events, sc.Err()
}

// foldAll folds a stream, in order, into one view per product.
func foldAll(events []schemas.Event) map[string]productview.View {
	views := make(map[string]productview.View)
	for _, e := range events {
		views[e.AggregateID] = productview.Fold(views[e.AggregateID], e)
	}
	return views
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
