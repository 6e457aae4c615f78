package productsearch

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// Cursor is what a Query.Cursor carries: where the previous page ended.
// Indexes fill After with their own sort values; to a client the encoded
// form is opaque.
type Cursor struct {
	// Page is the number of the page the cursor leads to; Result.Page
	// reports it.
	Page int
	// After holds the sort values of the previous page's last hit, the
	// product ID (the tie-breaker) last.
	After []json.RawMessage
}

// maxCursorLength bounds an encoded cursor; real ones are far smaller.
const maxCursorLength = 4096

var (
	errCursorMalformed = errors.New("is not a cursor this service issued")
	errCursorQuery     = errors.New("belongs to another query: send the same q, filters, sort and pageSize as the page that returned it")
)

type cursorWire struct {
	Query string            `json:"q"` // fingerprint of the query it belongs to
	Page  int               `json:"p"`
	After []json.RawMessage `json:"a"`
}

// EncodeCursor returns c as an opaque string valid only with q (same text,
// filters, sort and page size).
func EncodeCursor(q Query, c Cursor) string {
	b, err := json.Marshal(cursorWire{Query: fingerprint(q), Page: c.Page, After: c.After})
	if err != nil {
		// After holds raw JSON values an index produced; they always marshal.
		panic("productsearch: encoding a cursor: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the Cursor in s, or a *ValidationError naming
// `cursor` when s is malformed or belongs to another query.
func DecodeCursor(q Query, s string) (Cursor, error) {
	c, err := decodeCursor(q, s)
	if err != nil {
		return Cursor{}, &ValidationError{Errors: []FieldError{{Field: "cursor", Message: err.Error()}}}
	}
	return c, nil
}

func decodeCursor(q Query, s string) (Cursor, error) {
	if len(s) > maxCursorLength {
		return Cursor{}, errCursorMalformed
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errCursorMalformed
	}
	var w cursorWire
	if err := json.Unmarshal(b, &w); err != nil || w.Page < 2 || len(w.After) == 0 {
		return Cursor{}, errCursorMalformed
	}
	if w.Query != fingerprint(q) {
		return Cursor{}, errCursorQuery
	}
	return Cursor{Page: w.Page, After: w.After}, nil
}

// fingerprint identifies what a cursor depends on: everything of the
// normalized query but the page and the cursor itself.
func fingerprint(q Query) string {
	n := q.Normalized()
	n.Page, n.Cursor = 0, ""
	b, _ := json.Marshal(n) // plain strings, ints and bools: cannot fail
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
