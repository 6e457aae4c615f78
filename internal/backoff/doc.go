// Package backoff owns the one retry policy of streamview: exponential
// delays with full jitter and a cap, waited for under a context. The
// projection runtime, the Elasticsearch sink and the decider retry with it,
// so that every part that waits for a failing dependency spreads its
// retries the same way.
//
// It owns only the timing. Whether an error is worth a retry, how many
// attempts to make and what to log stay with the caller.
package backoff
