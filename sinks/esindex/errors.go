package esindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// ResponseError is an error answer of Elasticsearch to a whole request.
type ResponseError struct {
	Op     string // what was asked: "bulk product-search-g1", "search product-search", …
	Status int
	Type   string // Elasticsearch's error type, e.g. index_not_found_exception
	Reason string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("elasticsearch %s: %d %s: %s", e.Op, e.Status, e.Type, e.Reason)
}

// Retryable reports whether the same request may succeed later: 429 (the
// cluster is overloaded) and 5xx.
func (e *ResponseError) Retryable() bool { return retryableStatus(e.Status) }

// Temporary is Retryable under the name other libraries test for.
func (e *ResponseError) Temporary() bool { return e.Retryable() }

func retryableStatus(s int) bool { return s == http.StatusTooManyRequests || s >= 500 }

// retryableItem reports whether a bulk item failed for the state of the
// cluster rather than for its document, so that the same write succeeds
// once an operator has acted: 429 and 5xx as for a whole request; 401 and
// 403 (credentials, privileges, and a write block on the index,
// cluster_block_exception: index.blocks.write); and a missing index. Such
// an item is written again with backoff, as a whole request refused so
// would be, never dead-lettered (the next ones would all follow it).
func retryableItem(item bulkItem) bool {
	switch {
	case retryableStatus(item.Status), item.Status == http.StatusUnauthorized, item.Status == http.StatusForbidden:
		return true
	}
	return item.Error != nil && (item.Error.Type == "cluster_block_exception" || item.Error.Type == "index_not_found_exception")
}

// refusedRequest reports whether Elasticsearch refused a whole request for
// what it holds: 400 (a malformed body, a mapping error at request level)
// or 413 (too large). The same request fails again, so retrying it as it is
// would block the partition for good; but the status names no document, so
// the caller sends the documents again in smaller requests (halving) until
// the ones at fault stand alone. Any other error (429, 5xx, a transport
// failure, 401/403, 404) stays transient.
func refusedRequest(err error) bool {
	var re *ResponseError
	return errors.As(err, &re) && (re.Status == http.StatusBadRequest || re.Status == http.StatusRequestEntityTooLarge)
}

// errorBody is the "error" object of an Elasticsearch answer; in some
// answers (a 404 of GET _alias) it is a plain string.
type errorBody struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

func (b *errorBody) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		b.Reason = s
		return nil
	}
	type plain errorBody
	return json.Unmarshal(data, (*plain)(b))
}

// do sends req and decodes a 2xx body into out (when not nil). An error
// answer becomes a *ResponseError; a transport failure is wrapped as-is, so
// the caller sees connection refused for what it is.
func (ix *Index) do(ctx context.Context, op string, req esapi.Request, out any) error {
	res, err := req.Do(ctx, ix.client)
	if err != nil {
		return fmt.Errorf("elasticsearch %s: %w", op, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return readError(op, res)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("elasticsearch %s: decoding the answer: %w", op, err)
	}
	return nil
}

func readError(op string, res *esapi.Response) error {
	var body struct {
		Error errorBody `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if json.Unmarshal(b, &body) != nil || (body.Error.Type == "" && body.Error.Reason == "") {
		body.Error.Reason = string(b)
	}
	return &ResponseError{Op: op, Status: res.StatusCode, Type: body.Error.Type, Reason: body.Error.Reason}
}

// isStatus reports whether err is a *ResponseError with status s.
func isStatus(err error, s int) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.Status == s
}

// isType reports whether err is a *ResponseError of Elasticsearch type t.
func isType(err error, t string) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.Type == t
}
