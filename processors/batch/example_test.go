package batch_test

import (
	"errors"
	"fmt"

	"github.com/streamview/streamview/processors/batch"
)

// A sink stores what it can of a batch and names the rest: event 1 is
// refused for good (the runtime dead-letters it), event 3 failed for now
// (the runtime retries the batch after a backoff).
func Example() {
	err := batch.Fail(
		batch.Transient(3, errors.New("429 es_rejected_execution_exception")),
		batch.Permanent(1, errors.New("400 document_parsing_exception")),
	)
	err = fmt.Errorf("search: %w", err) // wrapping keeps it visible

	var be *batch.Error
	if errors.As(err, &be) {
		for _, f := range be.Failures {
			fmt.Println(f.Index, f.Permanent)
		}
		fmt.Println("retry after a backoff:", be.Transient())
	}
	fmt.Println(batch.IsPermanent(err))
	// Output:
	// 1 true
	// 3 false
	// retry after a backoff: true
	// true
}
