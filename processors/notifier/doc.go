// Package notifier is the pure core of webhook notifications: which events
// notify whom (Plan), what a delivery carries (Body, WebhookID, Sign), what
// to do after an attempt (Next), and the port its outbox store implements
// (Store).
//
// Subscriptions are event-sourced: SubscriptionCreated and
// SubscriptionDeleted sit in their product's partition of the events
// topic, so the notifier meets them in order with the product's events.
// Each subscription remembers the offsets of its creation and deletion,
// and an event notifies exactly the subscriptions live at its offset
// (Subscription.Active); a re-driven copy of a dead letter is positioned
// at the offset its event first had (processors/webhook does that). That makes the set of notifications a pure
// function of the log: a redelivery, a restart or a replay of the
// notifier's group computes the same Webhook-Ids, and the store, which
// remembers every Webhook-Id it delivered or dead-lettered, queues none of
// them twice.
//
// It does no I/O: the consumer and the HTTP deliveries are
// processors/webhook's, the store is sinks/redisnotify.
package notifier
