package schemas

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEventJSONRoundTrip(t *testing.T) {
	for _, tc := range sampleEvents {
		t.Run(tc.name, func(t *testing.T) {
			b, err := MarshalEventJSON(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseEventJSON(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, tc.e) {
				t.Fatalf("round trip of %s\n got %#v\nwant %#v", b, got.Data, tc.e.Data)
			}
		})
	}
}

func TestMarshalEventJSONShape(t *testing.T) {
	e := event(3, &ProductPriceChanged{OldPrice: eur(3999), NewPrice: eur(3499)})
	b, err := MarshalEventJSON(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"eventId":"c3a1e5f2-7b6d-4e8f-9a0b-1c2d3e4f5a03","eventType":"ProductPriceChanged",` +
		`"aggregateType":"Product","aggregateId":"0b6e0d8c-5d1e-4c71-9a38-2f4f1c1f6a01","version":3,` +
		`"timestamp":"2026-03-14T15:09:26.535Z",` +
		`"metadata":{"correlationId":"req-7f3a","causationId":"6f1c2b9e-8f0a-4a43-b7a5-0d7e2f3c4b02","userId":"alice"},` +
		`"data":{"oldPrice":{"amount":3999,"currency":"EUR"},"newPrice":{"amount":3499,"currency":"EUR"}}}`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	// An Event inside another document has the same shape.
	nested, err := json.Marshal(struct{ E Event }{e})
	if err != nil || !strings.Contains(string(nested), want) {
		t.Fatalf("nested: %s, %v", nested, err)
	}
}

// A cleared list (empty) and an unchanged one (nil) stay apart in JSON.
func TestDetailsJSONNilVersusEmpty(t *testing.T) {
	e := event(2, &ProductDetailsUpdated{Tags: []string{}})
	b, err := MarshalEventJSON(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEventJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	d := got.Data.(*ProductDetailsUpdated)
	if d.Tags == nil || d.ImageURLs != nil {
		t.Fatalf("tags %#v, imageUrls %#v from %s", d.Tags, d.ImageURLs, b)
	}
}

func TestParseEventJSONErrors(t *testing.T) {
	valid, err := MarshalEventJSON(sampleEvents[0].e)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !strings.Contains(string(valid), old) {
			t.Fatalf("%q not in %s", old, valid)
		}
		return strings.Replace(string(valid), old, new, 1)
	}
	withData := func(data string) string {
		return string(valid[:strings.Index(string(valid), `,"data":`)]) + data + "}"
	}
	tests := []struct {
		name, in, field string
	}{
		{"unknown envelope field", edit(`"version":1`, `"version":1,"colour":"red"`), "colour"},
		{"unknown data field", edit(`"stock":12`, `"stock":12,"weight":3`), "data.weight"},
		{"unknown field in data.price", edit(`"currency":"EUR"`, `"currency":"EUR","cents":true`), "data.price.cents"},
		{"unknown field in metadata", edit(`"userId":"alice"`, `"userId":"alice","role":"admin"`), "metadata.role"},
		{"amount as a string", edit(`"amount":3999`, `"amount":"39.99"`), "data.price.amount"},
		{"version as a string", edit(`"version":1`, `"version":"1"`), "version"},
		{"timestamp not RFC 3339", edit(`"2026-03-14T15:09:26.535Z"`, `"14/03/2026"`), "timestamp"},
		{"timestamp missing", edit(`"timestamp":"2026-03-14T15:09:26.535Z",`, ``), "timestamp"},
		{"unknown event type", edit(`"ProductCreated"`, `"ProductStolen"`), "eventType"},
		{"data missing", withData(""), "data"},
		{"data null", withData(`,"data":null`), "data"},
		{"data not an object", withData(`,"data":[1]`), "data"},
		{"invalid: version 0", edit(`"version":1`, `"version":0`), "version"},
		{"invalid: free", edit(`"amount":3999`, `"amount":0`), "data.price.amount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEventJSON([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error for %s", tc.in)
			}
			fes := FieldErrors(err)
			if !hasField(fes, tc.field) {
				t.Fatalf("error %q does not name field %s", err, tc.field)
			}
		})
	}
	for _, in := range []string{`{`, string(valid) + ` {}`, `[]`} {
		if _, err := ParseEventJSON([]byte(in)); err == nil {
			t.Errorf("no error for %q", in)
		}
	}
	if _, err := MarshalEventJSON(event(1, nil)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("marshal without data: %v", err)
	}
}

func hasField(fes []*FieldError, field string) bool {
	for _, fe := range fes {
		if fe.Field == field {
			return true
		}
	}
	return false
}
