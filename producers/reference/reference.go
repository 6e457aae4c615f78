package reference

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/streamview/streamview/schemas"
)

// MaxNameRunes is the longest name a category or brand may have.
const MaxNameRunes = 200

// State is a fold of one category's or brand's events by Evolve. The zero
// State is one that does not exist.
type State struct {
	Name    string
	Version int64 // 0: does not exist
}

// Exists reports whether the aggregate has been created.
func (s State) Exists() bool { return s.Version > 0 }

// Evolve returns s with e applied. Events of other types leave s as it is
// but for the version, which always follows the event's.
func Evolve(s State, e schemas.Event) State {
	switch d := e.Data.(type) {
	case *schemas.CategoryRenamed:
		s.Name = d.Name
	case *schemas.BrandRenamed:
		s.Name = d.Name
	}
	s.Version = e.Version
	return s
}

// Rejection is why a command was refused; Code is a schemas.Reject* code.
type Rejection struct {
	Code, Reason string
}

func (r *Rejection) Error() string {
	return "reference: command rejected (" + r.Code + "): " + r.Reason
}

// FieldError is one broken stateless rule, named by its JSON field.
type FieldError struct{ Field, Message string }

// Check returns the stateless problems of a reference command: a key that
// is its aggregate's (schemas.ReferenceKey of a valid ID) and a name of
// 1..MaxNameRunes code points that is not blank and holds no control
// character (as a product's categoryName and brandName).
func Check(c schemas.Command) []FieldError {
	var out []FieldError
	typ := schemas.ReferenceAggregate(c.Data)
	if typ == "" {
		return []FieldError{{"commandType", fmt.Sprintf("%q is not a category or brand command", c.Type())}}
	}
	if t, _, ok := schemas.ParseReferenceKey(c.ProductID); !ok || t != typ {
		out = append(out, FieldError{"id", fmt.Sprintf("must be 1..64 characters of [A-Za-z0-9._-] (key %q)", c.ProductID)})
	}
	name := Name(c.Data)
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		out = append(out, FieldError{"name", "is required and must not be blank"})
	case n > MaxNameRunes:
		out = append(out, FieldError{"name", fmt.Sprintf("must be at most %d characters, got %d", MaxNameRunes, n)})
	case !utf8.ValidString(name):
		out = append(out, FieldError{"name", "is not valid UTF-8"})
	case strings.ContainsFunc(name, unicode.IsControl):
		out = append(out, FieldError{"name", "must not contain control characters"})
	}
	return out
}

// Name is the name a reference command asks for ("" for other commands).
func Name(d schemas.CommandData) string {
	switch d := d.(type) {
	case *schemas.RenameCategory:
		return d.Name
	case *schemas.RenameBrand:
		return d.Name
	}
	return ""
}

// Decide returns the payloads of the events that c yields on a category or
// brand in state s (none for a name it already has), or why c is refused:
// invalid (Check) first, then ExpectedVersion (conflict).
func Decide(s State, c schemas.Command) ([]schemas.EventData, *Rejection) {
	if errs := Check(c); len(errs) > 0 {
		parts := make([]string, len(errs))
		for i, e := range errs {
			parts[i] = e.Field + " " + e.Message
		}
		return nil, &Rejection{Code: schemas.RejectInvalid, Reason: strings.Join(parts, "; ")}
	}
	if ev := c.ExpectedVersion; ev != nil && *ev != s.Version {
		what := "does not exist yet"
		if s.Exists() {
			what = fmt.Sprintf("is at version %d", s.Version)
		}
		return nil, &Rejection{Code: schemas.RejectConflict, Reason: fmt.Sprintf("If-Match names version %d, but the %s %s", *ev, strings.ToLower(schemas.ReferenceAggregate(c.Data)), what)}
	}
	name := Name(c.Data)
	if s.Exists() && s.Name == name {
		return nil, nil // no change: accepted, no event
	}
	switch c.Data.(type) {
	case *schemas.RenameCategory:
		return []schemas.EventData{&schemas.CategoryRenamed{Name: name}}, nil
	default:
		return []schemas.EventData{&schemas.BrandRenamed{Name: name}}, nil
	}
}
