package batch_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/streamview/streamview/processors/batch"
)

var errBad = errors.New("bad")

func TestFail(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []batch.Failure
		want []batch.Failure
	}{
		{"none", nil, nil},
		{"sorted", []batch.Failure{batch.Transient(3, errBad), batch.Permanent(1, errBad)},
			[]batch.Failure{batch.Permanent(1, errBad), batch.Transient(3, errBad)}},
		{"one per index, permanent wins", []batch.Failure{batch.Transient(2, errBad), batch.Permanent(2, errBad), batch.Transient(2, errBad)},
			[]batch.Failure{batch.Permanent(2, errBad)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := batch.Fail(tc.in...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Fail() = %v, want nil", err)
				}
				return
			}
			var e *batch.Error
			if !errors.As(err, &e) || !reflect.DeepEqual(e.Failures, tc.want) {
				t.Fatalf("Fail() = %#v, want %#v", err, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		err                  error
		permanent, transient bool
	}{
		{"plain error", errBad, false, false},
		{"permanent", batch.Fail(batch.Permanent(0, errBad)), true, false},
		{"wrapped", fmt.Errorf("sink: %w", batch.Fail(batch.Permanent(0, errBad))), true, false},
		{"transient", batch.Fail(batch.Transient(0, errBad)), false, true},
		{"both", batch.Fail(batch.Transient(0, errBad), batch.Permanent(1, errBad)), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := batch.IsPermanent(tc.err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tc.permanent)
			}
			var e *batch.Error
			if got := errors.As(tc.err, &e) && e.Transient(); got != tc.transient {
				t.Errorf("Transient = %v, want %v", got, tc.transient)
			}
			if !errors.Is(tc.err, errBad) {
				t.Error("the cause is not seen through the error")
			}
		})
	}
}
