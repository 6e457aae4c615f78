package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// keyError is what encoding/json would take quietly but API.md refuses
// (400): a duplicated key, whose last value would win; a key that matches a
// field only when case is ignored ("Price" for "price"), which
// encoding/json matches case-insensitively; or a null element of a list of
// strings, numbers or objects ("tags":["a",null]), which encoding/json
// leaves as the zero value ("") for the rules to misreport as a 422.
type keyError struct {
	field string // the path of the member ("price.Amount", "tags[1]")
	msg   string
}

func (e *keyError) Error() string { return e.field + " " + e.msg }

// checkKeys walks the JSON value in data and returns a *keyError for the
// first duplicated or case-variant key, comparing each object's keys with
// the JSON names of the Go type it decodes into (dst), or for the first
// null element of an array whose Go elements have no null (refusesNull).
// A syntax error is not its business: it returns nil and lets the decoder
// report it. It scans the bytes itself (a command body's keys cost a few
// hundred nanoseconds, against microseconds through json.Decoder's tokens)
// and finds what a walk of the decoder's tokens finds, in the same order:
// FuzzCheckKeys holds it to that walk.
func checkKeys(data []byte, dst any) *keyError {
	s := keyScanner{data: data}
	ke, _ := s.value(reflect.TypeOf(dst))
	return ke
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

// fieldSet is the JSON members of a struct type: their types by name,
// and their names in order.
type fieldSet struct {
	types map[string]reflect.Type
	names []string
}

// fieldsOf caches jsonFields per type: the same few request types are
// walked for every command.
var fieldsOf sync.Map // reflect.Type → *fieldSet

// jsonFields returns the JSON members of struct type t; nil for any other
// type. It is shared: do not change it.
func jsonFields(t reflect.Type) *fieldSet {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	if m, ok := fieldsOf.Load(t); ok {
		return m.(*fieldSet)
	}
	fs := &fieldSet{types: map[string]reflect.Type{}}
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
		fs.types[name] = f.Type
		fs.names = append(fs.names, name)
	}
	slices.Sort(fs.names)
	fieldsOf.Store(t, fs)
	return fs
}

// member returns the type of the member named name exactly, and, when
// there is none, the name of a member that matches it only when case is
// ignored ("" if none). A nil set has no members.
func (fs *fieldSet) member(name string) (reflect.Type, string) {
	if fs == nil {
		return nil, ""
	}
	if t, ok := fs.types[name]; ok {
		return t, ""
	}
	for _, n := range fs.names {
		if strings.EqualFold(n, name) {
			return nil, n
		}
	}
	return nil, ""
}

// keyScanner scans one JSON value for checkKeys. Its methods return
// ok=false at the first syntax error.
type keyScanner struct {
	data  []byte
	i     int
	path  []pathPart // where the scan is, for an error's field
	keys  []string   // the keys of the objects being scanned, innermost last
	depth int        // objects and arrays open
}

// linearKeys is how many keys of an object checkKeys compares one by one
// before it puts them in a map.
const linearKeys = 16

// maxDepth is encoding/json's bound on nesting: deeper is a syntax error
// for it, and so for checkKeys, whose recursion it also bounds.
const maxDepth = 10000

// enter opens an object or array; false past maxDepth.
func (s *keyScanner) enter() bool {
	s.depth++
	s.i++ // { or [
	return s.depth <= maxDepth
}

// pathPart is a member name, or an array index when key is "" and index
// is not negative.
type pathPart struct {
	key   string
	index int
}

// field is the path of the member last of the object being scanned.
func (s *keyScanner) field(last string) string {
	at := s.at()
	if at == "" {
		return last
	}
	return at + "." + last
}

// at is the path of the value being scanned.
func (s *keyScanner) at() string {
	var b strings.Builder
	for _, p := range s.path {
		if p.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
	}
	return b.String()
}

func (s *keyScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans the value at s.i, which decodes into t (nil: not known).
func (s *keyScanner) value(t reflect.Type) (*keyError, bool) {
	s.space()
	if s.i >= len(s.data) {
		return nil, false
	}
	switch c := s.data[s.i]; {
	case c == '{':
		return s.object(jsonTarget(t))
	case c == '[':
		return s.array(jsonTarget(t))
	case c == '"':
		_, ok := s.str()
		return nil, ok
	case c == '-' || c >= '0' && c <= '9':
		return nil, s.number()
	case c == 't':
		return nil, s.literal("true")
	case c == 'f':
		return nil, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	}
	return nil, false
}

func (s *keyScanner) object(t reflect.Type) (*keyError, bool) {
	defer func() { s.depth-- }()
	if !s.enter() {
		return nil, false
	}
	fields := jsonFields(t)
	var elem reflect.Type
	if t != nil && t.Kind() == reflect.Map {
		elem = t.Elem()
	}
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	var folded map[string]string // a wide object's keys by their fold (foldKey)
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return nil, true
	}
	for {
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return nil, false
		}
		key, ok := s.str()
		if !ok {
			return nil, false
		}
		// The key is checked before what follows it, as a walk of the
		// decoder's tokens would. A few keys are compared one by one; a
		// wide object's go in a map by their fold, so that a body of a
		// hundred thousand keys costs no more than their number.
		prev, dup := "", false
		if folded != nil {
			prev, dup = folded[foldKey(key)]
		} else {
			for _, k := range s.keys[base:] {
				if strings.EqualFold(k, key) {
					prev, dup = k, true
					break
				}
			}
		}
		if dup {
			if prev == key {
				return &keyError{field: s.field(key), msg: "is duplicated; send each member once"}, true
			}
			return &keyError{field: s.field(key), msg: "duplicates " + quote(prev) + " when case is ignored; send each member once, in the case of the API"}, true
		}
		if folded == nil && len(s.keys)-base >= linearKeys {
			folded = make(map[string]string, 2*linearKeys)
			for _, k := range s.keys[base:] {
				folded[foldKey(k)] = k
			}
		}
		if folded != nil {
			folded[foldKey(key)] = key
		} else {
			s.keys = append(s.keys, key)
		}
		ft, folded := fields.member(key)
		if folded != "" {
			return &keyError{field: s.field(key), msg: "matches the field " + quote(folded) + " only when case is ignored; member names are case-sensitive"}, true
		}
		if elem != nil {
			ft = elem
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return nil, false
		}
		s.i++
		if ke, ok, end := s.element(pathPart{key: key, index: -1}, ft, '}'); end {
			return ke, ok
		}
	}
}

func (s *keyScanner) array(t reflect.Type) (*keyError, bool) {
	defer func() { s.depth-- }()
	if !s.enter() {
		return nil, false
	}
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	noNull := refusesNull(elem)
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return nil, true
	}
	for n := 0; ; n++ {
		if noNull {
			s.space()
			if bytes.HasPrefix(s.data[s.i:], []byte("null")) {
				s.path = append(s.path, pathPart{index: n})
				field := s.at()
				s.path = s.path[:len(s.path)-1]
				return &keyError{field: field, msg: nullElement(elem)}, true
			}
		}
		if ke, ok, end := s.element(pathPart{index: n}, elem, ']'); end {
			return ke, ok
		}
	}
}

// refusesNull reports whether a null array element decoding into t would
// pass unseen: encoding/json leaves a string, number, bool or struct as it
// is (the zero value), and calls a value's own UnmarshalJSON with null.
// Pointers, interfaces, maps, slices and opt[T] take null as what it is.
func refusesNull(t reflect.Type) bool {
	if t == nil || t.Implements(reflect.TypeFor[optional]()) {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return false
	}
	return true
}

// nullElement is the message of a null element that decodes into t.
func nullElement(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return "must not hold null; leave the element out"
	}
	return "must be " + goKind(t.Kind().String(), t.String()) + ", not null; leave the element out"
}

// element scans the value of one member or element, part of the path,
// which decodes into t, then what follows it: a comma (end false: more
// to come) or closing (end true, the object or array done). A key error or
// a syntax error ends it too.
func (s *keyScanner) element(part pathPart, t reflect.Type, closing byte) (ke *keyError, ok, end bool) {
	s.path = append(s.path, part)
	ke, ok = s.value(t)
	s.path = s.path[:len(s.path)-1]
	if ke != nil || !ok {
		return ke, ok, true
	}
	s.space()
	if s.i >= len(s.data) {
		return nil, false, true
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		return nil, true, false
	case closing:
		s.i++
		return nil, true, true
	}
	return nil, false, true
}

// str scans a string and returns its value: its bytes when it has no
// escape, else what encoding/json makes of it.
func (s *keyScanner) str() (string, bool) {
	start := s.i
	s.i++ // "
	escaped := false
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			if !escaped {
				return string(s.data[start+1 : s.i-1]), true
			}
			var v string
			if err := json.Unmarshal(s.data[start:s.i], &v); err != nil {
				return "", false
			}
			return v, true
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.data) {
				return "", false
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.data) {
					return "", false
				}
				for _, h := range s.data[s.i+2 : s.i+6] {
					if !isHex(h) {
						return "", false
					}
				}
				s.i += 6
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		default:
			s.i++
		}
	}
	return "", false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *keyScanner) number() bool {
	d := s.data
	if s.i < len(d) && d[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(d) && d[s.i] == '0':
		s.i++
	case s.i < len(d) && d[s.i] >= '1' && d[s.i] <= '9':
		for s.i < len(d) && isDigit(d[s.i]) {
			s.i++
		}
	default:
		return false
	}
	if s.i < len(d) && d[s.i] == '.' {
		s.i++
		if s.i >= len(d) || !isDigit(d[s.i]) {
			return false
		}
		for s.i < len(d) && isDigit(d[s.i]) {
			s.i++
		}
	}
	if s.i < len(d) && (d[s.i] == 'e' || d[s.i] == 'E') {
		s.i++
		if s.i < len(d) && (d[s.i] == '+' || d[s.i] == '-') {
			s.i++
		}
		if s.i >= len(d) || !isDigit(d[s.i]) {
			return false
		}
		for s.i < len(d) && isDigit(d[s.i]) {
			s.i++
		}
	}
	return true
}

func (s *keyScanner) literal(word string) bool {
	if !bytes.HasPrefix(s.data[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

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
