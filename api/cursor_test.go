package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/streamview/streamview/processors/productsearch"
)

// TestCursorTampering follows a real nextCursor, then sends it changed,
// forged or with another query: each is a 400 naming cursor, and the index
// is not asked.
func TestCursorTampering(t *testing.T) {
	first := productsearch.Query{Text: "shoe", Categories: []string{"run"}, Sort: "price_asc", Page: 1, PageSize: 10}
	inner := productsearch.EncodeCursor(first, productsearch.Cursor{Page: 2, After: []json.RawMessage{json.RawMessage(`1500`), json.RawMessage(`"id-9"`)}})
	idx := &fakeSearch{result: productsearch.Result{NextCursor: inner, Page: 1, PageSize: 10}}
	s := testServer(t, Deps{Search: idx})
	const base = "/v1/products/search?q=shoe&category=run&sort=price_asc&pageSize=10"
	var answer searchAnswer
	if err := json.Unmarshal(serve(t, s.Handler(), request{method: "GET", path: base}).Body.Bytes(), &answer); err != nil || answer.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", answer, err)
	}
	next := answer.NextCursor
	if next == inner {
		t.Fatal("the index's cursor reached the client unsigned")
	}

	// The cursor as issued works, and the index gets its own cursor back.
	if w := serve(t, s.Handler(), request{method: "GET", path: base + "&cursor=" + url.QueryEscape(next)}); w.Code != http.StatusOK {
		t.Fatalf("the issued cursor: status %d; body %s", w.Code, w.Body)
	}
	if calls := idx.calls(); calls[len(calls)-1].Cursor != inner {
		t.Fatalf("the index got cursor %q, want its own %q", calls[len(calls)-1].Cursor, inner)
	}

	dot := strings.LastIndexByte(next, '.')
	forgedInner := productsearch.EncodeCursor(first, productsearch.Cursor{Page: 50, After: []json.RawMessage{json.RawMessage(`0`), json.RawMessage(`"id-0"`)}})
	other := testServer(t, Deps{Search: &fakeSearch{}}) // another random secret
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct{ name, query string }{
		{"index cursor unsigned", base + "&cursor=" + inner},
		{"index part changed", base + "&cursor=" + flip(next, dot/2)},
		{"MAC changed", base + "&cursor=" + flip(next, len(next)-2)},
		{"MAC's last character changed", base + "&cursor=" + next[:len(next)-1] + otherLast(next[len(next)-1])},
		{"MAC cut", base + "&cursor=" + next[:len(next)-3]},
		{"MAC removed", base + "&cursor=" + next[:dot+1]},
		{"forged with a made-up MAC", base + "&cursor=" + forgedInner + "." + next[dot+1:]},
		{"signed by another server", base + "&cursor=" + other.cursors.sign(first, forgedInner)},
		{"another q", strings.Replace(base, "q=shoe", "q=boot", 1) + "&cursor=" + next},
		{"another category", strings.Replace(base, "category=run", "category=walk", 1) + "&cursor=" + next},
		{"a category more", base + "&brand=acme&cursor=" + next},
		{"another sort", strings.Replace(base, "sort=price_asc", "sort=price_desc", 1) + "&cursor=" + next},
		{"another pageSize", strings.Replace(base, "pageSize=10", "pageSize=11", 1) + "&cursor=" + next},
		{"a price filter", base + "&minPrice=1&cursor=" + next},
		{"inStock", base + "&inStock=true&cursor=" + next},
		{"garbage", base + "&cursor=....."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(idx.calls())
			p := wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: tt.query}), http.StatusBadRequest, "cursor")
			if !strings.Contains(p.Detail, "invalid cursor") {
				t.Errorf("detail %q does not say invalid cursor", p.Detail)
			}
			if n := len(idx.calls()); n != before {
				t.Errorf("the index was asked")
			}
		})
	}
	// Normalization is not a change: filters in another order, spaces around q.
	same := "/v1/products/search?pageSize=10&sort=price_asc&category=run&category=run&q=+shoe+&cursor=" + url.QueryEscape(next)
	if w := serve(t, s.Handler(), request{method: "GET", path: same}); w.Code != http.StatusOK {
		t.Errorf("the same query, written differently: status %d; body %s", w.Code, w.Body)
	}
	// A server given the same secret takes it (instances behind a load balancer).
	key := []byte("0123456789abcdef0123456789abcdef")
	a := testServer(t, Deps{Search: idx}, func(c *Config) { c.CursorSecret = key })
	b := testServer(t, Deps{Search: idx}, func(c *Config) { c.CursorSecret = key })
	if w := serve(t, b.Handler(), request{method: "GET", path: base + "&cursor=" + url.QueryEscape(a.cursors.sign(first, inner))}); w.Code != http.StatusOK {
		t.Errorf("a cursor of a server with the same secret: status %d; body %s", w.Code, w.Body)
	}
}

// otherLast returns a base64url character that differs from c only in the
// bits a lax decoder ignores in the last character of 16 bytes.
func otherLast(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}
