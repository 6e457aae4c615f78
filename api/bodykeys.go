package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// keyError is a member name that encoding/json would take quietly but
// API.md refuses (400): a duplicated key, whose last value would win, or a
// key that matches a field only when case is ignored ("Price" for
// "price"), which encoding/json matches case-insensitively.
type keyError struct {
	field string // the path of the member ("price.Amount")
	msg   string
}

func (e *keyError) Error() string { return e.field + " " + e.msg }

// checkKeys walks the JSON value in data and returns a *keyError for the
// first duplicated or case-variant key, comparing each object's keys with
// the JSON names of the Go type it decodes into (dst). A syntax error is
// not its business: it returns nil and lets the decoder report it.
func checkKeys(data []byte, dst any) *keyError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var ke *keyError
	if err := walkKeys(dec, reflect.TypeOf(dst), ""); errors.As(err, &ke) {
		return ke
	}
	return nil
}

// optional is implemented by opt[T]: the type its value decodes into.
type optional interface{ elemType() reflect.Type }

func (opt[T]) elemType() reflect.Type { return reflect.TypeFor[T]() }

// jsonTarget strips pointers and opt[T] from t.
func jsonTarget(t reflect.Type) reflect.Type {
	for t != nil {
		switch {
		case t.Kind() == reflect.Pointer:
			t = t.Elem()
		case t.Implements(reflect.TypeFor[optional]()):
			t = reflect.Zero(t).Interface().(optional).elemType()
		default:
			return t
		}
	}
	return nil
}

// fieldsOf caches jsonFields per type: the same few request types are
// walked for every command.
var fieldsOf sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields returns the JSON member names of struct type t and their
// types; nil for any other type. The map is shared: do not change it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	fieldsOf.Store(t, out)
	return out
}

func walkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	t = jsonTarget(t)
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, elem, path+"["+itoa(i)+"]"); err != nil {
				return err
			}
		}
	case '{':
		fields := jsonFields(t)
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		seen := map[string]string{} // foldKey → the key as sent
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			at := key
			if path != "" {
				at = path + "." + key
			}
			folded := foldKey(key)
			if prev, dup := seen[folded]; dup {
				if prev == key {
					return &keyError{field: at, msg: "is duplicated; send each member once"}
				}
				return &keyError{field: at, msg: "duplicates " + quote(prev) + " when case is ignored; send each member once, in the case of the API"}
			}
			seen[folded] = key
			ft, exact := fields[key]
			if !exact {
				for name := range fields {
					if strings.EqualFold(name, key) {
						return &keyError{field: at, msg: "matches the field " + quote(name) + " only when case is ignored; member names are case-sensitive"}
					}
				}
			}
			if elem != nil {
				ft = elem
			}
			if err := walkKeys(dec, ft, at); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// foldKey maps every key that strings.EqualFold (and encoding/json) holds
// equal to one string: each rune replaced by the smallest of its case
// orbit ("K", "k" and the Kelvin sign alike).
func foldKey(s string) string {
	if ascii(s) {
		// An ASCII letter's orbit is its upper and lower case (and, for k
		// and s, the Kelvin and long s signs, above ASCII): the least is
		// the upper case.
		return strings.ToUpper(s)
	}
	return foldRunes(s)
}

// foldRunes is foldKey rune by rune, for any string.
func foldRunes(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
