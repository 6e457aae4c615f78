package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/streamview/streamview/producers/product"
)

// Request headers of the API.
const (
	headerPrefer         = "Prefer"
	headerIfMatch        = "If-Match"
	headerIfNoneMatch    = "If-None-Match"
	headerIdempotencyKey = "Idempotency-Key"
	headerCorrelationID  = "X-Correlation-ID"
	headerUserID         = "X-User-ID"
)

// maxIdempotencyKeyLength bounds an Idempotency-Key, as the IETF draft's
// examples and common practice do.
const maxIdempotencyKeyLength = 255

// anonymousUser is the metadata's userId of a request without X-User-ID.
const anonymousUser = "anonymous"

// headerError is a malformed request header: a 400 naming it.
type headerError struct{ header, msg string }

func (e *headerError) Error() string { return e.header + " " + e.msg }

// preferWait returns the wait preference of h's Prefer headers (RFC 7240):
// comma-separated preferences, each `token [= word] *(; parameter)`, names
// case-insensitive, the first of a repeated preference wins, unknown ones
// are ignored. wait must be 1*DIGIT seconds; it is capped at max. 0 means
// no wait.
func preferWait(h http.Header, max time.Duration) (time.Duration, error) {
	for _, line := range h.Values(headerPrefer) {
		for _, pref := range splitList(line) {
			head, _, _ := cutUnquoted(pref, ';') // the parameters of a preference do not matter here
			name, value, hasValue := strings.Cut(head, "=")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "wait") {
				continue
			}
			// RFC 7240 allows the value as a quoted string: wait="10".
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if !hasValue || value == "" || !allDigits(value) {
				return 0, &headerError{headerPrefer, "wait must be a whole number of seconds, as in wait=10"}
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n > int64(max/time.Second) {
				return max, nil // digits only, so the error is a range error: cap it
			}
			return time.Duration(n) * time.Second, nil
		}
	}
	return 0, nil
}

// ifMatchVersion returns the version named by If-Match: one strong entity
// tag holding a version, "3". nil means no If-Match, or "*".
func ifMatchVersion(h http.Header) (*int64, error) {
	lines := h.Values(headerIfMatch)
	if len(lines) == 0 {
		return nil, nil
	}
	var tags []string
	for _, l := range lines {
		tags = append(tags, splitList(l)...)
	}
	const want = `must be one version in quotes, without leading zeros, as in "3"`
	switch {
	case len(tags) == 0:
		return nil, &headerError{headerIfMatch, want}
	case len(tags) == 1 && tags[0] == "*":
		return nil, nil
	case len(tags) > 1:
		return nil, &headerError{headerIfMatch, want + "; it names several"}
	}
	tag := tags[0]
	if strings.HasPrefix(tag, "W/") {
		return nil, &headerError{headerIfMatch, want + `: a weak tag (W/"…") never matches, as If-Match compares strongly`}
	}
	v, ok := versionOfTag(tag)
	if !ok {
		return nil, &headerError{headerIfMatch, want}
	}
	return &v, nil
}

// versionOfTag reads a strong entity tag holding a version as the server
// writes it in ETag: "3". Tags compare strongly, byte for byte, so "03"
// would match no ETag: it is refused as not naming a version.
func versionOfTag(tag string) (int64, bool) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' || !allDigits(tag[1:len(tag)-1]) {
		return 0, false
	}
	if len(tag) > 3 && tag[1] == '0' {
		return 0, false
	}
	v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
	return v, err == nil
}

// preferenceApplied is the Preference-Applied value of a wait honoured.
func preferenceApplied(wait time.Duration) string {
	return "wait=" + strconv.Itoa(int(wait/time.Second))
}

// etag is the entity tag of a view at version v.
func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// noneMatch reports whether If-None-Match names tag or "*", comparing
// weakly as RFC 9110 §13.1.2 asks. Malformed members match nothing.
func noneMatch(h http.Header, tag string) bool {
	for _, l := range h.Values(headerIfNoneMatch) {
		for _, t := range splitList(l) {
			if t == "*" || strings.TrimPrefix(t, "W/") == tag {
				return true
			}
		}
	}
	return false
}

// idempotencyKey returns the Idempotency-Key, or "" without one. Both the
// IETF draft's quoted form ("abc", a structured-field string) and a bare
// value are accepted.
func idempotencyKey(h http.Header) (string, error) {
	vals := h.Values(headerIdempotencyKey)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", &headerError{headerIdempotencyKey, "must be given once"}
	}
	k := strings.TrimSpace(vals[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		uq, ok := unquoteSF(k[1 : len(k)-1])
		if !ok {
			return "", &headerError{headerIdempotencyKey, "is not a valid quoted string"}
		}
		k = uq
	}
	if k == "" || len(k) > maxIdempotencyKeyLength {
		return "", &headerError{headerIdempotencyKey, "must be 1 to " + strconv.Itoa(maxIdempotencyKeyLength) + " characters long"}
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", &headerError{headerIdempotencyKey, "must be printable ASCII"}
		}
	}
	return k, nil
}

// unquoteSF returns the content of a structured-field string (RFC 8941
// §3.3.3) between its quotes: only \" and \\ are escapes, and an unescaped
// quote is not allowed.
func unquoteSF(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// metadataHeader returns header name's one value: 1..MaxRefLength
// characters of UTF-8 without control characters. "" when absent.
func metadataHeader(h http.Header, name string) (string, error) {
	vals := h.Values(name)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", &headerError{name, "must be given once"}
	}
	v := strings.TrimSpace(vals[0])
	switch {
	case v == "":
		return "", &headerError{name, "must not be empty"}
	case !utf8.ValidString(v):
		return "", &headerError{name, "must be valid UTF-8"}
	case utf8.RuneCountInString(v) > product.MaxRefLength:
		return "", &headerError{name, "must be at most " + strconv.Itoa(product.MaxRefLength) + " characters long"}
	case strings.ContainsFunc(v, unicode.IsControl):
		return "", &headerError{name, "must not contain control characters"}
	}
	return v, nil
}

// splitList splits a header list value at commas outside quoted strings,
// trimming white space and dropping empty members (RFC 9110 §5.6.1).
func splitList(v string) []string {
	var out []string
	for v != "" {
		var item string
		item, v, _ = cutUnquoted(v, ',')
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// cutUnquoted is strings.Cut at the first sep outside a quoted string.
func cutUnquoted(s string, sep byte) (before, after string, found bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// asHeaderError answers a *headerError with a 400 and reports whether err
// was one.
func asHeaderError(w http.ResponseWriter, err error) bool {
	if e, ok := errors.AsType[*headerError](err); ok {
		badRequest(w, e.header, e.msg)
		return true
	}
	return false
}
