package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// eventJSON is the JSON shape of an event, one per line in the input of
// `streamview publish`: the envelope, eventType to say what data holds, and
// data shaped by the payload type's JSON tags. Money is
// {"amount": <minor units>, "currency": "EUR"}.
type eventJSON struct {
	ID            string          `json:"eventId"`
	Type          string          `json:"eventType"`
	AggregateType string          `json:"aggregateType"`
	AggregateID   string          `json:"aggregateId"`
	Version       int64           `json:"version"`
	Timestamp     string          `json:"timestamp"` // RFC 3339; a string so that a bad one is named
	Metadata      Metadata        `json:"metadata"`
	Data          json.RawMessage `json:"data"`
}

// jsonTime writes UTC with milliseconds, the precision the wire keeps.
const jsonTime = "2006-01-02T15:04:05.000Z07:00"

// ParseEventJSON reads one event in the JSON shape MarshalEventJSON writes,
// rejecting unknown fields anywhere, and validates it. Errors name the
// field (see FieldErrors). The timestamp is kept in UTC at millisecond
// precision, as on the wire.
func ParseEventJSON(b []byte) (Event, error) {
	var e Event
	if err := e.UnmarshalJSON(b); err != nil {
		return Event{}, err
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("schemas: invalid event: %w", err)
	}
	return e, nil
}

// MarshalEventJSON writes e as one line of JSON:
// {"eventId","eventType","aggregateType","aggregateId","version","timestamp","metadata","data"}.
func MarshalEventJSON(e Event) ([]byte, error) {
	if e.Data == nil || isNilPointer(e.Data) {
		return nil, fmt.Errorf("%w: event %s has no data", ErrUnknownType, e.ID)
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(eventJSON{
		ID:            e.ID,
		Type:          e.Type(),
		AggregateType: e.AggregateType,
		AggregateID:   e.AggregateID,
		Version:       e.Version,
		Timestamp:     e.Timestamp.UTC().Format(jsonTime),
		Metadata:      e.Metadata,
		Data:          data,
	})
}

// MarshalJSON writes the shape of MarshalEventJSON, so that an Event inside
// another JSON document says its type.
func (e Event) MarshalJSON() ([]byte, error) { return MarshalEventJSON(e) }

// UnmarshalJSON reads the shape of MarshalEventJSON strictly, like
// ParseEventJSON, but does not validate.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return jsonError(b, &j, "", err)
	}
	ts, err := time.Parse(time.RFC3339Nano, j.Timestamp)
	if err != nil {
		problem := "not an RFC 3339 time: " + strconv.Quote(j.Timestamp)
		if j.Timestamp == "" {
			problem = "missing"
		}
		return fmt.Errorf("schemas: event JSON: %w", &FieldError{Field: "timestamp", Problem: problem})
	}
	newData, ok := eventTypes[j.Type]
	if !ok {
		problem := "unknown event type " + strconv.Quote(j.Type)
		if j.Type == "" {
			problem = "missing"
		}
		return fmt.Errorf("schemas: event JSON: %w", &FieldError{Field: "eventType", Problem: problem})
	}
	if len(j.Data) == 0 || string(j.Data) == "null" {
		return fmt.Errorf("schemas: event JSON: %w", &FieldError{Field: "data", Problem: "missing"})
	}
	data := newData()
	if err := strictUnmarshal(j.Data, data); err != nil {
		return jsonError(j.Data, data, "data", err)
	}
	*e = Event{
		ID:            j.ID,
		AggregateType: j.AggregateType,
		AggregateID:   j.AggregateID,
		Version:       j.Version,
		Timestamp:     ts.UTC().Truncate(time.Millisecond),
		Metadata:      j.Metadata,
		Data:          data,
	}
	return nil
}

// strictUnmarshal is json.Unmarshal with unknown fields and trailing data
// as errors.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// jsonError names the field of an error decoding b into v, which is the
// envelope (section "") or the payload (section "data").
func jsonError(b []byte, v any, section string, err error) error {
	path := func(field string) string {
		switch {
		case section == "":
			return field
		case field == "":
			return section
		}
		return section + "." + field
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		err = &FieldError{Field: path(te.Field), Problem: fmt.Sprintf("want %s, got %s", jsonKind(te.Type), te.Value)}
	case errors.As(err, &se) && section != "":
		err = &FieldError{Field: section, Problem: fmt.Sprintf("invalid JSON: %v", se)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The decoder names the field but not where it is.
		if field := unknownField(b, reflect.TypeOf(v).Elem()); field != "" {
			err = &FieldError{Field: path(field), Problem: "unknown field"}
		}
	}
	return fmt.Errorf("schemas: event JSON: %w", err)
}

// unknownField is the dotted path of the first key in b that t, a struct,
// has no field for.
func unknownField(b []byte, t reflect.Type) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		f, ok := jsonField(t, key)
		if !ok {
			return key
		}
		if ft := f.Type; ft.Kind() == reflect.Struct && ft != timeType {
			if sub := unknownField(m[key], ft); sub != "" {
				return key + "." + sub
			}
		}
	}
	return ""
}

func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); strings.EqualFold(tag, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonKind says in JSON's words what a Go type wants.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}
