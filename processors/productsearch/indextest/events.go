package indextest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/streamview/streamview/schemas"
)

// jsonEvent is the JSON Lines form of an event in testdata: the envelope,
// the event type, and the payload as the schemas type marshals it.
type jsonEvent struct {
	ID            string           `json:"eventId"`
	EventType     string           `json:"eventType"`
	AggregateType string           `json:"aggregateType"`
	AggregateID   string           `json:"aggregateId"`
	Version       int64            `json:"version"`
	Timestamp     time.Time        `json:"timestamp"`
	Metadata      schemas.Metadata `json:"metadata"`
	Data          json.RawMessage  `json:"data"`
}

// WriteEvents writes events as JSON Lines, one event a line.
func WriteEvents(w io.Writer, events []schemas.Event) error {
	enc := json.NewEncoder(w)
	for _, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			return fmt.Errorf("event %s v%d: %w", e.AggregateID, e.Version, err)
		}
		if err := enc.Encode(jsonEvent{
			ID: e.ID, EventType: e.Type(), AggregateType: e.AggregateType, AggregateID: e.AggregateID,
			Version: e.Version, Timestamp: e.Timestamp, Metadata: e.Metadata, Data: data,
		}); err != nil {
			return err
		}
	}
	return nil
}

// ReadEvents reads what WriteEvents wrote.
func ReadEvents(r io.Reader) ([]schemas.Event, error) {
	var out []schemas.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var je jsonEvent
		if err := json.Unmarshal(sc.Bytes(), &je); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		var data schemas.EventData
		switch je.EventType {
		case schemas.TypeProductCreated:
			data = &schemas.ProductCreated{}
		case schemas.TypeProductDetailsUpdated:
			data = &schemas.ProductDetailsUpdated{}
		case schemas.TypeProductPriceChanged:
			data = &schemas.ProductPriceChanged{}
		case schemas.TypeProductStockChanged:
			data = &schemas.ProductStockChanged{}
		case schemas.TypeProductReviewAdded:
			data = &schemas.ProductReviewAdded{}
		case schemas.TypeProductDiscontinued:
			data = &schemas.ProductDiscontinued{}
		default:
			return nil, fmt.Errorf("line %d: unknown event type %q", line, je.EventType)
		}
		if err := json.Unmarshal(je.Data, data); err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", line, je.EventType, err)
		}
		out = append(out, schemas.Event{
			ID: je.ID, AggregateType: je.AggregateType, AggregateID: je.AggregateID,
			Version: je.Version, Timestamp: je.Timestamp, Metadata: je.Metadata, Data: data,
		})
	}
	return out, sc.Err()
}
