package eventgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/streamview/streamview/schemas"
)

// jsonlEvent is one line of an event fixture file: the envelope, the event
// type and the payload as the schemas type marshals it. It differs from
// schemas' event JSON in one point: the timestamp keeps its full precision,
// so that a fixture can hold what a store is expected to drop.
type jsonlEvent struct {
	ID            string           `json:"eventId"`
	EventType     string           `json:"eventType"`
	AggregateType string           `json:"aggregateType"`
	AggregateID   string           `json:"aggregateId"`
	Version       int64            `json:"version"`
	Timestamp     time.Time        `json:"timestamp"`
	Metadata      schemas.Metadata `json:"metadata"`
	Data          json.RawMessage  `json:"data"`
}

// WriteJSONL writes events as JSON Lines, one event a line, for fixture
// files that ReadJSONL reads back.
func WriteJSONL(w io.Writer, events []schemas.Event) error {
	enc := json.NewEncoder(w)
	for _, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			return fmt.Errorf("event %s v%d: %w", e.AggregateID, e.Version, err)
		}
		if err := enc.Encode(jsonlEvent{
			ID: e.ID, EventType: e.Type(), AggregateType: e.AggregateType, AggregateID: e.AggregateID,
			Version: e.Version, Timestamp: e.Timestamp, Metadata: e.Metadata, Data: data,
		}); err != nil {
			return err
		}
	}
	return nil
}

// ReadJSONL reads an event fixture file: JSON Lines as WriteJSONL writes
// them, where blank lines and lines starting with '#' are comments, an
// absent aggregateType is schemas.AggregateProduct and an absent metadata is
// empty. Unknown fields are errors, in the envelope and in the payload, so
// that a misspelt field in a hand-written fixture does not pass unnoticed.
func ReadJSONL(r io.Reader) ([]schemas.Event, error) {
	var out []schemas.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var l jsonlEvent
		if err := strict(line, &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		data, ok := schemas.NewEventData(l.EventType)
		if !ok {
			return nil, fmt.Errorf("line %d: unknown event type %q", n, l.EventType)
		}
		if err := strict(l.Data, data); err != nil {
			return nil, fmt.Errorf("line %d: %s data: %w", n, l.EventType, err)
		}
		if l.AggregateType == "" {
			l.AggregateType = schemas.AggregateProduct
		}
		out = append(out, schemas.Event{
			ID: l.ID, AggregateType: l.AggregateType, AggregateID: l.AggregateID,
			Version: l.Version, Timestamp: l.Timestamp, Metadata: l.Metadata, Data: data,
		})
	}
	return out, sc.Err()
}

func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
