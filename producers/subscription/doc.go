// Package subscription is the pure webhook-subscription aggregate: the
// stateless rules of a subscription request (Check, with the Allowlist of
// target hosts), and Decide, which turns CreateSubscription and
// DeleteSubscription into SubscriptionCreated and SubscriptionDeleted
// events or a rejection, given the subscription's state and its product's.
//
// A subscription's commands and events are keyed by its product's ID, so
// the decider that owns the product's partition owns its subscriptions:
// a subscription to a product that does not exist is refused (not_found)
// with the same certainty as any product command, and the notifier reads a
// product's subscriptions in order with the product's own events.
//
// It does not deliver anything (see processors/notifier and
// processors/webhook) and does no I/O.
package subscription
