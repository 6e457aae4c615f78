package batch

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Failure is one failed event of a batch.
type Failure struct {
	Index     int   // position of the event in the batch given to Apply
	Err       error // why, with the coordinates that help a person
	Permanent bool  // no retry can store the event: dead-letter it
}

// Permanent is the failure of batch[index] that no retry can fix, such as
// an invalid event or a document the store refuses.
func Permanent(index int, err error) Failure {
	return Failure{Index: index, Err: err, Permanent: true}
}

// Transient is the failure of batch[index] that a later attempt may fix.
func Transient(index int, err error) Failure {
	return Failure{Index: index, Err: err}
}

// Error reports which events of a batch failed. A projection returns it
// once every event it does not name is stored (or, with transient failures,
// may be stored): the runtime dead-letters the events named as permanent
// and applies the rest of the batch again, after a backoff when some
// failure is transient. An error that is not an *Error (nor wraps one)
// fails the whole batch, transiently.
type Error struct {
	Failures []Failure // by ascending Index, one per index
}

// Fail returns nil when fs is empty and an *Error of fs otherwise, sorted
// by index; a later failure of an index already named is dropped, unless it
// is permanent and the first is not.
func Fail(fs ...Failure) error {
	if len(fs) == 0 {
		return nil
	}
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b Failure) int { return a.Index - b.Index })
	kept := out[:1]
	for _, f := range out[1:] {
		last := &kept[len(kept)-1]
		switch {
		case f.Index != last.Index:
			kept = append(kept, f)
		case f.Permanent && !last.Permanent:
			*last = f
		}
	}
	out = kept
	return &Error{Failures: out}
}

func (e *Error) Error() string {
	var b strings.Builder
	perm := 0
	for _, f := range e.Failures {
		if f.Permanent {
			perm++
		}
	}
	fmt.Fprintf(&b, "%d events of the batch failed (%d permanently)", len(e.Failures), perm)
	for i, f := range e.Failures {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failures)-i)
			break
		}
		kind := "transient"
		if f.Permanent {
			kind = "permanent"
		}
		fmt.Fprintf(&b, "; event %d (%s): %v", f.Index, kind, f.Err)
	}
	return b.String()
}

// Unwrap gives the causes, so errors.Is sees through an Error.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, len(e.Failures))
	for _, f := range e.Failures {
		if f.Err != nil {
			errs = append(errs, f.Err)
		}
	}
	return errs
}

// Transient reports whether some failure of e is not permanent.
func (e *Error) Transient() bool {
	return slices.ContainsFunc(e.Failures, func(f Failure) bool { return !f.Permanent })
}

// IsPermanent reports whether err is or wraps an *Error that names some
// event as failed permanently.
func IsPermanent(err error) bool { return len(PermanentAt(err)) > 0 }

// PermanentAt returns the batch indexes that err (an *Error, or wrapping
// one) names as failed permanently, ascending; nil for any other error.
func PermanentAt(err error) []int {
	var e *Error
	if !errors.As(err, &e) {
		return nil
	}
	var at []int
	for _, f := range e.Failures {
		if f.Permanent {
			at = append(at, f.Index)
		}
	}
	return at
}
