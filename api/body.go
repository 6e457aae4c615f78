package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// decodeBody decodes the JSON object in r's body into dst, strictly: the
// content type must be JSON, the body at most max bytes, one object with no
// unknown fields, no duplicated or case-variant keys (checkKeys), values of
// the right JSON types (no null in a list of strings: checkKeys too),
// nothing after it. On any problem it answers (400, 413 or 415) and
// returns false. When
// optional, an empty body (no Content-Type needed) leaves dst as it is.
// It returns the body as read, too.
func decodeBody(w http.ResponseWriter, r *http.Request, max int64, dst any, optional bool) ([]byte, bool) {
	if !optional && !jsonContentType(w, r) {
		return nil, false
	}
	if r.ContentLength > max {
		tooLarge(w, max)
		return nil, false
	}
	body := http.MaxBytesReader(w, r.Body, max)
	data, err := io.ReadAll(body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			tooLarge(w, max)
		} else {
			badRequest(w, "", "the body could not be read: "+err.Error())
		}
		return nil, false
	}
	if optional {
		if len(data) == 0 {
			return data, true
		}
		if !jsonContentType(w, r) {
			return nil, false
		}
	}
	switch trimmed := bytes.TrimSpace(data); {
	case len(trimmed) == 0:
		badRequest(w, "", "the body is empty; it must be a JSON object")
		return nil, false
	case trimmed[0] != '{':
		badRequest(w, "", "the body must be a JSON object")
		return nil, false
	case !utf8.Valid(data):
		// encoding/json would quietly replace the bad bytes.
		badRequest(w, "", "the body is not valid UTF-8")
		return nil, false
	}
	if ke := checkKeys(data, dst); ke != nil {
		badRequest(w, ke.field, ke.msg)
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		field, msg := describeJSONError(err)
		badRequest(w, field, msg)
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		badRequest(w, "", fmt.Sprintf("the body must hold one JSON value; more follows at offset %d", dec.InputOffset()))
		return nil, false
	}
	return data, true
}

func tooLarge(w http.ResponseWriter, max int64) {
	writeProblem(w, newProblem(http.StatusRequestEntityTooLarge, problemBlank,
		fmt.Sprintf("The body is larger than %d bytes.", max)))
}

// jsonContentType accepts application/json with no charset or UTF-8, and
// answers 415 for anything else.
func jsonContentType(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return true
		}
	}
	w.Header().Set("Accept", "application/json") // RFC 9110 §15.5.16: say what would do
	detail := "The body must be application/json (UTF-8)"
	if ct == "" {
		detail += "; the request has no Content-Type."
	} else {
		detail += fmt.Sprintf(", not %q.", ct)
	}
	writeProblem(w, newProblem(http.StatusUnsupportedMediaType, problemBlank, detail,
		FieldError{Field: "Content-Type", Message: "must be application/json"}))
	return false
}

// valueError is a well-formed JSON value that a field's own decoder
// refuses (a custom UnmarshalJSON): a 400 naming the field.
type valueError struct{ field, msg string }

func (e *valueError) Error() string { return e.field + ": " + e.msg }

// describeJSONError turns a decoding error into the field it concerns and a
// message for a person.
func describeJSONError(err error) (field, msg string) {
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		return "", fmt.Sprintf("the body is not valid JSON: %s (offset %d)", strings.TrimPrefix(e.Error(), "json: "), e.Offset)
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if e.Field == "" {
			return "", "the body must be a JSON object, not " + jsonKind(e.Value)
		}
		if lo, hi, ok := intRange(e.Type.Kind()); ok && isIntegerLiteral(strings.TrimPrefix(e.Value, "number ")) {
			// A whole number too large for the field: say so, not "must be an integer".
			return e.Field, fmt.Sprintf("must be an integer from %d to %d, not %s", lo, hi, jsonKind(e.Value))
		}
		return e.Field, "must be " + goKind(e.Type.Kind().String(), e.Type.String()) + ", not " + jsonKind(e.Value)
	}
	if e, ok := errors.AsType[*unknownFieldError](err); ok {
		return e.field, "is not a known field"
	}
	if e, ok := errors.AsType[*valueError](err); ok {
		return e.field, e.msg
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(name, `"`), "is not a known field"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "", "the body is not valid JSON: it ends too early"
	}
	return "", "the body is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

// intRange is the range of a signed integer kind.
func intRange(k reflect.Kind) (lo, hi int64, ok bool) {
	switch k {
	case reflect.Int32:
		return math.MinInt32, math.MaxInt32, true
	case reflect.Int, reflect.Int64:
		return math.MinInt64, math.MaxInt64, true
	}
	return 0, 0, false
}

// isIntegerLiteral reports whether a JSON number is written as a whole
// number: an optional '-' and digits.
func isIntegerLiteral(num string) bool {
	return allDigits(strings.TrimPrefix(num, "-"))
}

// jsonKind names the JSON type in an UnmarshalTypeError's Value ("string",
// "number 1.5", "array", ...).
func jsonKind(v string) string {
	switch {
	case v == "":
		return "this value"
	case strings.HasPrefix(v, "number"):
		if num, ok := strings.CutPrefix(v, "number "); ok {
			return "the number " + num
		}
		return "a number"
	case v == "object", v == "array":
		return "an " + v
	default:
		return "a " + v
	}
}

// goKind names the JSON type that a Go kind expects.
func goKind(kind, typ string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		if typ == "[]string" {
			return "an array of strings"
		}
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// unknownFieldError names an unknown member of a nested object with its
// whole path ("price.cents"), which encoding/json does not.
type unknownFieldError struct{ field string }

func (e *unknownFieldError) Error() string { return "json: unknown field " + e.field }
