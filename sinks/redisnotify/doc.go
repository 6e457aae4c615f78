// Package redisnotify is the notifier's store on Redis: it implements
// notifier.Store. Every key shares the hash tag {n} under its prefix
// (default "sv:notifier:"), so that each script touches one slot and runs
// on Redis Cluster too; the notifier's keys then live on one shard.
//
// Keys, under <prefix>{n}:
//
//	subs:<productId>  hash  subscription ID → JSON notifier.Subscription
//	out:<subId>       zset  queued Webhook-Ids, scored by event offset
//	msg               hash  Webhook-Id → JSON notifier.Notification (queued only)
//	due               zset  subscription ID → when (Unix ms) it is due; a claim
//	                        moves it to the lease's end
//	try               hash  subscription ID → JSON notifier.Attempts of its head
//	done              hash  Webhook-Id → delivered at (Unix ms)
//	dead              hash  Webhook-Id → dead-lettered at (Unix ms)
//	gone              hash  subscription ID → when its receiver answered 410
//	mark              string  the epoch of Redis under which the notifier last
//	                        made the store whole (Mark, SetMark)
//
// done and dead are what makes a replay of the notifier's group send
// nothing twice (a few dozen bytes per delivery); they are trimmed only of
// what is past the notifier's horizon (Trim, TrimFunc;
// webhook.Config.Horizon), whose events it never queues again.
// It does not deliver anything; processors/webhook does.
package redisnotify
