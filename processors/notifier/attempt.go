package notifier

import (
	"fmt"
	"time"
)

// statusGone is HTTP 410 (net/http is the runtime's, not this core's).
const statusGone = 410

// Attempts is the delivery state of the notification at the head of a
// subscription's queue.
type Attempts struct {
	WebhookID string    `json:"webhookId"`
	Count     int       `json:"count"`
	First     time.Time `json:"first"` // of the first failed attempt
	LastError string    `json:"lastError,omitempty"`
}

// Action is what to do after an attempt.
type Action int

// Actions after an attempt.
const (
	// Delivered: record the Webhook-Id, move on to the next notification.
	Delivered Action = iota + 1
	// Retry: try the same notification again after the backoff; the
	// subscription's later notifications wait behind it (its order is
	// kept), other subscriptions do not.
	Retry
	// DeadLetter: give up on this notification (retried for longer than
	// the dead-letter age), move on to the next.
	DeadLetter
	// Gone: the receiver answered 410 Gone under Policy.StopOnGone:
	// dead-letter this notification and stop delivering to the
	// subscription; its later notifications go to the dead-letter topic
	// unsent.
	Gone
)

// Reasons of a notification's dead letter (the dlq-reason header).
const (
	ReasonUndeliverable = "undeliverable" // failed for longer than the dead-letter age
	ReasonGone          = "gone"          // the receiver answered 410, now or before
	ReasonForbidden     = "forbidden"     // the URL's host is not (any more) allowed
)

// Reasons lists every reason above.
func Reasons() []string { return []string{ReasonUndeliverable, ReasonGone, ReasonForbidden} }

// Policy is how a subscription's failed attempts are treated.
type Policy struct {
	// DeadAfter is how long a notification is retried before it is
	// dead-lettered.
	DeadAfter time.Duration
	// StopOnGone makes a 410 Gone final: the notification is
	// dead-lettered at once and the subscription gets no more deliveries
	// (Gone). Without it a 410 is retried as any other answer.
	StopOnGone bool
}

// Next decides what follows an attempt that ended at now with HTTP status
// (0 when there was no answer: a time-out, a refused connection) and err,
// given the attempts before it (Count 0 for a first attempt) and the
// policy. It returns the action and the updated attempts.
func Next(a Attempts, status int, err error, now time.Time, p Policy) (Action, Attempts) {
	switch {
	case err == nil && status >= 200 && status < 300:
		return Delivered, Attempts{}
	case err == nil && status == statusGone && p.StopOnGone:
		a.Count++
		a.LastError = "the receiver answered 410 Gone"
		return Gone, a
	}
	if a.Count == 0 || a.First.IsZero() {
		a.First = now
	}
	a.Count++
	if err != nil {
		a.LastError = err.Error()
	} else {
		a.LastError = fmt.Sprintf("the receiver answered %d", status)
	}
	if now.Sub(a.First) >= p.DeadAfter {
		return DeadLetter, a
	}
	return Retry, a
}
