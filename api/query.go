package api

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// queryParams reads r's query string strictly: a parameter not in single or
// repeated is a 400, and so is one of single given twice. It answers the
// request itself and returns ok false on a problem.
func queryParams(w http.ResponseWriter, r *http.Request, single, repeated []string) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		badParams(w, []FieldError{{Field: "", Message: "the query string is malformed: " + err.Error()}})
		return nil, false
	}
	var errs []FieldError
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch {
		case slices.Contains(repeated, name):
		case slices.Contains(single, name):
			if len(q[name]) > 1 {
				errs = append(errs, FieldError{Field: name, Message: "must be given once"})
			}
		default:
			errs = append(errs, FieldError{Field: name, Message: "is not a known parameter"})
			continue
		}
		for _, v := range q[name] {
			if !utf8.ValidString(v) {
				errs = append(errs, FieldError{Field: name, Message: "must be UTF-8 (percent-encode its bytes as UTF-8)"})
				break
			}
		}
	}
	if len(errs) > 0 {
		badParams(w, errs)
		return nil, false
	}
	return q, true
}

// waitParam reads ?wait= as whole seconds, capped at max; def without one.
func waitParam(q url.Values, def, max time.Duration) (time.Duration, *FieldError) {
	if !q.Has("wait") {
		return def, nil
	}
	v := q.Get("wait")
	if !allDigits(v) {
		return 0, &FieldError{Field: "wait", Message: "must be a whole number of seconds"}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > int64(max/time.Second) {
		return max, nil
	}
	return time.Duration(n) * time.Second, nil
}

// intParam reads a whole number of at most 9 digits; def without one.
func intParam(q url.Values, name string, def int, errs *[]FieldError) int {
	if !q.Has(name) {
		return def
	}
	v := q.Get(name)
	switch {
	case !allDigits(v):
		*errs = append(*errs, FieldError{Field: name, Message: "must be a whole number"})
		return def
	case len(v) > 9:
		*errs = append(*errs, FieldError{Field: name, Message: "is too large"})
		return def
	}
	n, _ := strconv.Atoi(v)
	return n
}
