package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// envWebhookAllow is the allowlist of webhook target hosts.
const envWebhookAllow = "STREAMVIEW_WEBHOOK_ALLOW"

func init() {
	commands["notify"] = command{
		summary: "run the notifier alone: webhooks for price drops and returns to stock (serve --roles notifier)",
		usage:   "[--redis ADDR] [--workers N] [--timeout D] [--dead-letter-after D] [--horizon D] [--retry-min D] [--retry-max D] [connection flags]",
		help: `Runs the notifier, consumer group streamview.notifier, on the events topic:
for each price drop (a new price lower than the old) and each stock change
from 0 to more, it POSTs a JSON notification to every live subscription of
the product that asked for it, signed with the subscription's secret:

  Webhook-Id         <eventId>.<subscriptionId>, the same on every attempt
  Webhook-Timestamp  Unix seconds of the attempt
  Webhook-Signature  v1=<hex HMAC-SHA256 of "<timestamp>.<body>">

A 2xx is delivered. Another answer, a time-out (--timeout) or no connection
is retried with exponential backoff and jitter (--retry-min..--retry-max),
for --dead-letter-after (24h), then the notification goes to the
dead-letter topic catalog.notifier.dlq (streamview dlq list --projection
notifier). A 410 Gone is retried like any other answer; with
--stop-on-gone it dead-letters that notification at once and stops
deliveries to its subscription (its later notifications are dead-lettered
unsent). A deleted subscription's waiting notifications, retries
included, are dropped unsent. A failing receiver parks only its own
subscription: the others, and the partitions, go on. Each subscription's
notifications are delivered in order.

Its state lives in Redis under sv:notifier:{n}: (queues, delivered and
dead-lettered Webhook-Ids), so a restart, a redelivery or "streamview
replay --projection notifier" sends nothing twice. An event older than
--horizon (7 days; 0: never) notifies nothing, and every hour the
Webhook-Ids finished before the horizon (and 1h for clock skew) are
trimmed from Redis, and from the journal by a tombstone written first. Each
Webhook-Id delivered or dead-lettered is also written to the topic
catalog.notifier.journal (--journal-topic): when Redis loses its data
(emptied, or restarted without persistence), the notifier notices within a
second (or at its start), reads the journal back into Redis and the events
log again from its start, so that the subscriptions come back, what was
waiting is queued again (its retries start over), and nothing delivered is
sent again. A stop
lets the attempts under way finish (each at most --timeout) and records
them; a crash between a receiver's 2xx and its record sends that one again:
receivers should drop a Webhook-Id they have seen. Target hosts are checked against
` + envWebhookAllow + ` (host or host:port, comma separated; default loopback
only) before every attempt.

Examples:
  streamview notify
  STREAMVIEW_WEBHOOK_ALLOW=hooks.example.com streamview notify --workers 32`,
		run: runNotify,
	}
}

// notifyFlags are the notifier's flags, shared by notify and serve.
type notifyFlags struct {
	workers     int
	timeout     time.Duration
	deadAfter   time.Duration
	stopOnGone  bool
	retryMin    time.Duration
	retryMax    time.Duration
	lease       time.Duration
	session     time.Duration
	redisPrefix string
	group       string
	topic       string
	dlqTopic    string
	journal     string
	horizon     time.Duration
	// refold is webhook.Config.Refold: set by dev over its in-memory
	// Redis, not a flag.
	refold bool
	// trimEvery and skew are webhook.Config.TrimEvery and Skew (their
	// defaults when 0): not flags, tests set them small.
	trimEvery, skew time.Duration
}

// defaultHorizon is --horizon's default.
const defaultHorizon = 7 * 24 * time.Hour

// defaultSessionTimeout is --session-timeout's default. The Kafka client's
// own, 45s, left a crashed instance's partitions unprocessed that long:
// no command of theirs decided, no event projected. A member heartbeats
// every quarter of it, so a member has to miss three heartbeats in a row
// to be taken for dead.
const defaultSessionTimeout = 10 * time.Second

func (f *notifyFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.workers, "workers", 16, "deliveries at once, each to another subscription")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "time-out of one delivery attempt")
	fs.DurationVar(&f.deadAfter, "dead-letter-after", webhook.DefaultDeadLetterAfter, "how long a notification is retried before it is dead-lettered; 0 means the default")
	fs.BoolVar(&f.stopOnGone, "stop-on-gone", false, "take a receiver's 410 Gone as final: that notification is dead-lettered at once and its subscription gets no more deliveries (without it, a 410 is retried as any other answer)")
	fs.DurationVar(&f.retryMin, "retry-min", time.Second, "first backoff ceiling between attempts of a notification")
	fs.DurationVar(&f.retryMax, "retry-max", 10*time.Minute, "largest backoff between attempts")
	fs.DurationVar(&f.lease, "lease", 0, "how long a worker holds a subscription; a crashed one's are free after it (default max(30s, 3×timeout))")
	fs.DurationVar(&f.session, "session-timeout", defaultSessionTimeout, "consumer group session timeout of every group member of this process (serve's decider and projectors, the notifier): how long the partitions of an instance that crashed wait before the others take them (the broker allows 6s to 30m by default; 0 is the Kafka client's default, 45s)")
	fs.StringVar(&f.redisPrefix, "redis-prefix", redisnotify.DefaultPrefix, "prefix of the notifier's Redis keys")
	fs.StringVar(&f.group, "group", webhook.Group, "consumer group")
	fs.StringVar(&f.topic, "topic", "", "events topic (default catalog.product-events)")
	fs.StringVar(&f.dlqTopic, "dlq-topic", "", "dead-letter topic (default catalog.notifier.dlq)")
	fs.StringVar(&f.journal, "journal-topic", topics.NotifierJournal, "topic keeping every Webhook-Id delivered or dead-lettered, read back after Redis lost its data")
	fs.DurationVar(&f.horizon, "horizon", defaultHorizon, "events older than this notify nothing, and the Webhook-Ids delivered or dead-lettered before it (and 1h for clock skew) are trimmed from Redis and the journal every hour; must exceed --dead-letter-after plus 1h; 0 keeps every Webhook-Id for ever")
}

// webhookAllowlist reads STREAMVIEW_WEBHOOK_ALLOW.
func webhookAllowlist(e env) (*subscription.Allowlist, error) {
	a, err := subscription.ParseAllowlist(e.getenv(envWebhookAllow))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envWebhookAllow, err)
	}
	return a, nil
}

// check refuses flag values the notifier cannot run with, naming the flag.
func (f *notifyFlags) check() error {
	if f.workers < 1 {
		return fmt.Errorf("--workers %d: want 1 or more deliveries at once", f.workers)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", f.timeout}, {"dead-letter-after", f.deadAfter}, {"retry-min", f.retryMin}, {"retry-max", f.retryMax}, {"lease", f.lease}, {"session-timeout", f.session}} {
		if d.v < 0 {
			return fmt.Errorf("--%s %v: want a duration of 0 or more", d.name, d.v)
		}
	}
	if f.horizon < 0 {
		return fmt.Errorf("--horizon %v: want a duration of 0 (never) or more", f.horizon)
	}
	if f.retryMax > 0 && f.retryMin > f.retryMax {
		return fmt.Errorf("--retry-min %v must not exceed --retry-max %v: the backoff between attempts grows from the one to the other", f.retryMin, f.retryMax)
	}
	if f.lease > 0 && f.lease < 2*cmp.Or(f.timeout, webhook.DefaultTimeout) {
		return fmt.Errorf("--lease %v must be at least twice --timeout %v: a delivery attempt must end well within the lease its notifier holds on the notification", f.lease, cmp.Or(f.timeout, webhook.DefaultTimeout))
	}
	if (webhook.Config{Horizon: f.horizon, DeadLetterAfter: f.deadAfter, Skew: f.skew}).HorizonTooShort() {
		// The check is of the values in effect: 0 is the default.
		deadAfter := f.deadAfter.String()
		if f.deadAfter == 0 {
			deadAfter = webhook.DefaultDeadLetterAfter.String() + " (the default for 0)"
		}
		return fmt.Errorf("--horizon %v must exceed --dead-letter-after %s plus %v for clock skew: a notification is retried for up to --dead-letter-after, and its event must not pass the horizon meanwhile (0 turns the horizon off)",
			f.horizon, deadAfter, cmp.Or(f.skew, webhook.DefaultSkew))
	}
	return nil
}

// trimBefore is webhook.Config.TrimBefore under these flags.
func (f *notifyFlags) trimBefore(now time.Time) time.Time {
	return webhook.Config{Horizon: f.horizon, Skew: f.skew}.TrimBefore(now)
}

// config is the notifier's configuration; its callers (notify, serve)
// run check first, before they connect to anything. rec is its Recovery,
// nil for none.
func (f *notifyFlags) config(e env, st stack, rec webhook.Recovery) (webhook.Config, error) {
	allow, err := webhookAllowlist(e)
	if err != nil {
		return webhook.Config{}, err
	}
	cfg := webhook.Config{
		Group: f.group, Topic: f.topic, DeadLetterTopic: f.dlqTopic, Workers: f.workers, Timeout: f.timeout,
		Retry: backoff.Policy{Min: f.retryMin, Max: f.retryMax}, DeadLetterAfter: f.deadAfter, StopOnGone: f.stopOnGone, Lease: f.lease, SessionTimeout: f.session,
		Allowed: allow.Allows, Logger: st.logger, Refold: f.refold, Recovery: rec,
		Horizon: f.horizon, TrimEvery: f.trimEvery, Skew: f.skew,
	}
	return cfg, cfg.Validate()
}

// newNotifier builds the notifier of st over its Redis: each Webhook-Id
// it delivers or dead-letters is also written to the journal topic, and
// to also when not nil (dev's file; closed when the notifier stops), and
// after Redis lost its data the notifier reads the topic back and the log
// again (notifierRecovery).
func newNotifier(e env, st stack, f *notifyFlags, codec *schemas.Codec, also journal) (*journaledNotifier, error) {
	store := redisnotify.New(st.redis, f.redisPrefix)
	kj, err := newKafkaJournal(st, f.journal)
	if err != nil {
		return nil, err
	}
	rec := &notifierRecovery{st: st, store: store, journal: kj, trimBefore: f.trimBefore}
	var j journal = kj
	if also != nil {
		j = teeJournal{kj, also}
	}
	journaled := &journaledStore{Store: store, j: j}
	n, err := notifierOn(e, st, f, codec, journaled, rec)
	if err != nil {
		kj.Close()
		return nil, err
	}
	return &journaledNotifier{Notifier: n, journal: journaled}, nil
}

// journaledNotifier is a notifier that closes its journal when it stops.
type journaledNotifier struct {
	*webhook.Notifier
	journal *journaledStore
}

// Run runs the notifier until ctx ends, then closes its journal.
func (n *journaledNotifier) Run(ctx context.Context) error {
	defer n.journal.Close()
	return n.Notifier.Run(ctx)
}

// notifierOn builds the notifier of st over store, with recovery rec (nil
// for none).
func notifierOn(e env, st stack, f *notifyFlags, codec *schemas.Codec, store notifier.Store, rec webhook.Recovery) (*webhook.Notifier, error) {
	cfg, err := f.config(e, st, rec)
	if err != nil {
		return nil, err
	}
	return webhook.New(cfg, codec, store, append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...)...)
}

func runNotify(ctx context.Context, e env, args []string) error {
	var (
		kf       kafkaFlags
		nf       notifyFlags
		rf       redisFlags
		logLevel string
	)
	fs := newFlags(e, "notify")
	kf.register(fs, e)
	nf.register(fs)
	rf.register(fs, e, "127.0.0.1:6379", "the subscriptions, queues and delivered Webhook-Ids")
	registry := connect.RegisterSchemaRegistryReader(fs, e.getenv)
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	logFormat := logFormatFlag(fs, e)
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(e.stderr, logLevel, *logFormat)
	if err != nil {
		return err
	}
	logRedisTo(logger)
	if err := nf.check(); err != nil {
		return err
	}
	kconn, err := kf.settings()
	if err != nil {
		return err
	}
	kopts, err := kconn.SecurityOpts()
	if err != nil {
		return err
	}
	rconn, err := rf.settings()
	if err != nil {
		return err
	}
	rdb, err := newRedisConn(rconn)
	if err != nil {
		return err
	}
	st := stack{brokers: kconn.Brokers, kafkaOpt: kopts, logger: logger, redis: rdb, epoch: redisview.NewEpochReader(rdb, 0).Log(logger)}
	defer st.redis.Close()
	reg, err := registry.Load()
	if err != nil {
		return err
	}
	codec, err := newDecoder(ctx, reg)
	if err != nil {
		return err
	}
	n, err := newNotifier(e, st, &nf, codec, nil)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}
