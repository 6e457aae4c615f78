// Package webhook runs the notifier (consumer group streamview.notifier):
// Consumer reads the events topic and queues the notifications that
// notifier.Plan finds in each batch before committing its offsets;
// Deliverer POSTs the queued notifications, one subscription at a time per
// worker, in each subscription's order, retrying with backoff and jitter
// and dead-lettering what fails for longer than Config.DeadLetterAfter.
//
// A receiver that is slow or failing holds one worker for at most one
// time-out per attempt and then parks its subscription until its next
// attempt is due: other subscriptions' deliveries and the partitions'
// consumption go on meanwhile (the consumer only queues).
//
// Guarantees: every Webhook-Id is queued at most once (the store keeps the
// Webhook-Ids it delivered or dead-lettered), so replays and redeliveries
// send nothing twice; a delivery is recorded only after a 2xx. A crash
// between a receiver's 2xx and that record sends it again after the lease
// ends: at-least-once to the receiver, which drops a Webhook-Id it has
// seen. The notifier records exactly one successful delivery per
// Webhook-Id.
//
// A store that can lose its data (a Redis emptied, or restarted without
// persistence) comes with a Config.Recovery: the notifier asks it every
// second whether the store lost its data, and after a loss stops claiming
// (deliveries in flight finish and are recorded), has it restore the
// record of what was delivered from where the loss did not reach (the
// journal topic, in cmd/streamview), and reads the log again from its
// start. A store that notices the loss first refuses to queue or claim
// (notifier.ErrStoreLost), which wakes the check at once.
//
// It owns no store (notifier.Store is a port) and no event logic (see
// processors/notifier).
package webhook
