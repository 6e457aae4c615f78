package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/streamview/streamview/processors/productsearch"
)

// cursorSigner signs the search index's cursors and checks them when they
// come back (API.md: "A search cursor is bound to its query and signed").
// A client sees `<index cursor>.<MAC>`, the MAC an HMAC-SHA256 over the
// query the cursor belongs to (q, filters, sort, pageSize: everything but
// page and cursor, normalized as the index runs it) and the index's
// cursor. So a cursor cannot be made up, edited (its sort values, its
// page) or sent with another query. The index's own query fingerprint
// stays as a second line of defence.
type cursorSigner struct{ key []byte }

const cursorMACBytes = 16 // 128 bits: forging is out of reach

func (c cursorSigner) mac(q productsearch.Query, inner string) []byte {
	n := q.Normalized()
	n.Page, n.Cursor = 0, ""
	binding, _ := json.Marshal(n) // plain strings, ints and bools: cannot fail
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte("streamview search cursor v1\x00"))
	h.Write(binding)
	h.Write([]byte{0})
	h.Write([]byte(inner))
	return h.Sum(nil)[:cursorMACBytes]
}

// sign returns the cursor a client gets for the index's cursor inner of
// query q; "" stays "".
func (c cursorSigner) sign(q productsearch.Query, inner string) string {
	if inner == "" {
		return ""
	}
	return inner + "." + base64.RawURLEncoding.EncodeToString(c.mac(q, inner))
}

// open returns the index's cursor in signed when it was issued by this
// server (or one sharing its secret) for q; false when it was changed,
// forged or belongs to another query.
func (c cursorSigner) open(q productsearch.Query, signed string) (string, bool) {
	i := strings.LastIndexByte(signed, '.')
	if i <= 0 {
		return "", false
	}
	inner := signed[:i]
	// Strict: the lax decoder ignores the spare bits of the last
	// character, so a cursor differing there would pass as the same.
	got, err := base64.RawURLEncoding.Strict().DecodeString(signed[i+1:])
	if err != nil || !hmac.Equal(got, c.mac(q, inner)) {
		return "", false
	}
	return inner, true
}

// errCursorInvalid is the message of a cursor that open refused.
const errCursorInvalid = "is an invalid cursor: it was changed, belongs to another query, or was signed with another secret (a server restarted, or another instance, without the same --cursor-secret-file); send the nextCursor as it came, with the same q, filters, sort and pageSize, or start again from the first page without one"
