package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	streamview "github.com/streamview/streamview"
	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/sinks/bleveindex"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

func init() {
	commands["dev"] = command{
		summary: "run the whole pipeline in one process on embedded Kafka, Redis and search (nothing to install)",
		usage:   "[--data .streamview] [--addr 127.0.0.1:8080] [--seed-demo] [--kafka host:port] [--redis addr] [--elasticsearch url] [connection flags]",
		help: `Starts, in one process: an embedded Kafka-protocol broker (franz-go's kfake,
its log kept in --data so a restart keeps every event), an embedded Redis
(miniredis) and an embedded search index (bleve), then the topics of
topics.yaml, the command decider, both projectors, the notifier (webhooks
for price drops and returns to stock; see 'streamview help notify', whose
flags dev takes too) and the HTTP API.

Redis and the search index live in memory: at every start the views are
rebuilt from the kept log (progress is shown) before the API listens, in
generation 1 whichever a rebuild over the API made live before, and the
notifier reads the log again to know its subscriptions. A journal
in --data (a file, and the topic catalog.notifier.journal) keeps what it
delivered or dead-lettered: that is not sent again, with or without
--redis, and a notification still being retried at the stop is retried
after the start (its 24 hours start again). Webhook targets are loopback
only unless ` + envWebhookAllow + ` says more.

Any embedded part can be swapped for a real server:
  --kafka host:port       use a real Kafka instead of the embedded broker
  --redis host:port       use a real Redis instead of miniredis
  --elasticsearch URL     use a real Elasticsearch instead of bleve
A real server's TLS, SASL/ACL user and credentials come from the same flags
and environment as serve's (see 'streamview help'); the banner names the
user, never a secret. On a real Kafka with an embedded Redis or search
index, dev reads their projections' groups and its notifier's from the
start at each start: it refuses groups with offsets it did not make (a
deployment's projectors or notifier would skip what they had not read;
--group gives dev's notifier its own) and a notifier group with members
elsewhere.

--seed-demo creates a demo catalogue through the command API (1,200 products
in 12 categories and 20 brands, with price changes and reviews) when the
event log is empty.

--data is made readable by its owner only (0700): the log holds the
webhook subscriptions' secrets. An existing folder is not changed; dev warns
when others may read it.

Authentication is off by default here: dev listens on 127.0.0.1 only, like
its embedded servers, and says so in a banner. --auth turns it on with a
secret made for this run and prints a ready token with every scope, which
works until dev stops. A configured STREAMVIEW_JWT_SECRET(_FILE) or
STREAMVIEW_JWKS turns it on too; with a configured secret dev prints no
token (every server sharing the secret would take it) but the
'streamview token' command that mints one.`,
		run: runDev,
	}
}

// devKafkaPort is the embedded broker's port: off Kafka's 9092 so that a real
// broker can run beside it.
const devKafkaPort = 19092

// dataLockWait is how long dev waits for --data's lock: a dev killed a
// moment before (kill -9, a supervisor restarting it at once) holds it
// until the kernel has torn the process down.
const dataLockWait = 5 * time.Second

func runDev(ctx context.Context, e env, args []string) (err error) {
	stopped := false // said so
	defer func(stop context.Context) {
		// A Ctrl-C while it starts is a stop, not the failure of the step
		// it cut short.
		if err != nil && stop.Err() != nil && !errors.Is(err, errUsage) {
			if !stopped {
				fmt.Fprintln(e.stdout, "streamview dev stopped")
			}
			err = nil
		}
	}(ctx)
	fs := newFlags(e, "dev")
	data := fs.String("data", ".streamview", "folder for the embedded broker's log and dev's own state (a lock, the notifier's journal, the cursor secret, the demo's marks)")
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address")
	kafkaAddr := fs.String("kafka", "", "a real Kafka's seed brokers instead of the embedded one")
	kafkaSec := connect.RegisterKafka(fs, e.getenv)
	kafkaPort := fs.Int("kafka-port", devKafkaPort, "port of the embedded broker")
	redisAddr := fs.String("redis", "", "a real Redis instead of the embedded one")
	redisSec := connect.RegisterRedis(fs, e.getenv)
	esURL := fs.String("elasticsearch", "", "a real Elasticsearch instead of the embedded search index (a URL without credentials)")
	esSec := connect.RegisterElasticsearch(fs, e.getenv)
	registry := connect.RegisterSchemaRegistry(fs, e.getenv)
	seed := fs.Bool("seed-demo", false, "create the demo catalogue when the event log is empty")
	currency := fs.String("currency", "EUR", "the catalogue's currency")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	logFormat := logFormatFlag(fs, e)
	var delivery time.Duration
	deliveryTimeoutFlag(fs, &delivery)
	var acc accessFlags
	acc.register(fs, e)
	var nf notifyFlags
	nf.register(fs)
	authOn := fs.Bool("auth", false, "turn API authentication on with a secret made for this run, and print a ready token")
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(e.stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	logRedisTo(logger)
	if err := nf.check(); err != nil {
		return err
	}
	// --data holds the embedded log and dev's own state (the notifier's
	// journal, the cursor secret, the demo's marks): one dev at a time.
	if err := makeDataDir(*data, e.stderr); err != nil {
		return err
	}
	release, err := lockData(ctx, *data, dataLockWait, e.stderr)
	if err != nil {
		return err
	}
	defer release()
	say := func(format string, args ...any) { fmt.Fprintf(e.stdout, format+"\n", args...) }
	st := stack{currency: *currency, logger: logger, sessionTimeout: nf.session}
	if st.deliveryTimeout, err = deliveryTimeout(fs, e, delivery); err != nil {
		return err
	}
	acc.secretLater = *authOn
	if st.access, err = acc.resolve(); err != nil {
		return err
	}
	runSecret := *authOn && !st.access.auth.Enabled()
	if runSecret {
		st.access.auth.Secret = devSecret()
		// No other process knows that secret: `streamview token` cannot
		// mint for it.
		st.access.tokenHint = "use the token dev printed when it started"
	}
	if st.access.cursor == nil {
		// Cursors outlive a restart, as the catalogue does.
		if st.access.cursor, err = keptSecret(filepath.Join(*data, "cursor-secret")); err != nil {
			return err
		}
	}
	if err := checkListen(*addr, st.access.auth.Enabled(), acc.insecure); err != nil {
		return err
	}
	if err := st.access.start(ctx); err != nil {
		return err
	}
	devToken, err := devAccessBanner(e.stdout, st.access, *addr, runSecret)
	if err != nil {
		return err
	}
	// Only the run's own secret's token is printed: one of a configured
	// secret would be taken by every server sharing the secret, for 24
	// hours, from wherever the output is kept. The welcome says how to
	// mint one instead.
	printed, mint := devToken, ""
	if !runSecret && devToken != "" {
		printed, mint = "", mintCommand(acc.tokens)
	}
	if *seed && st.access.auth.Enabled() && devToken == "" {
		return errors.New("--seed-demo with JWKS-only authentication: dev cannot mint a token to seed with; add STREAMVIEW_JWT_SECRET_FILE or seed without auth")
	}

	tel, shutdown, err := newTelemetry(ctx, e, logger)
	if err != nil {
		return err
	}
	defer shutdown()
	st.tel = tel

	// Real servers are checked before anything starts: a refused
	// certificate or login ends dev with the setting to fix.
	var given connections

	// Kafka.
	if *kafkaAddr != "" {
		conn, err := kafkaSec.Load(splitList(*kafkaAddr))
		if err != nil {
			return err
		}
		if st.kafkaOpt, err = conn.SecurityOpts(); err != nil {
			return err
		}
		st.brokers = conn.Brokers
		given.kafka = &conn
		say("kafka: %s", conn.Describe())
	} else {
		dir := filepath.Join(*data, "kafka")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		// A cluster ID of its own (kfake's default, "kfake", is every
		// embedded broker's): another dev's group marks (claimGroups) must
		// not match it. The first start's is kept in dir.
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(*kafkaPort), kfake.DataDir(dir),
			kfake.GroupMinSessionTimeout(time.Second), kfake.ClusterID("streamview-dev-"+commandbus.NewID()))
		if err != nil {
			return fmt.Errorf("embedded kafka on port %d: %w (another `streamview dev` running? pass --kafka-port)", *kafkaPort, err)
		}
		defer cluster.Close()
		st.brokers = cluster.ListenAddrs()
		say("kafka: embedded at %s, log in %s", st.brokers[0], dir)
	}
	// Redis.
	embeddedViews := *redisAddr == ""
	var redisConn connect.Redis
	if embeddedViews {
		mr, stopRedis, err := startEmbeddedRedis()
		if err != nil {
			return err
		}
		defer stopRedis()
		redisConn = connect.Redis{Addr: mr.Addr()}
		say("redis: embedded at %s (in memory; rebuilt from the log)", mr.Addr())
	} else {
		if redisConn, err = redisSec.Load(*redisAddr); err != nil {
			return err
		}
		given.redis = &redisConn
		say("redis: %s", redisConn.Describe())
	}
	newConn := newRedisConn
	if embeddedViews {
		newConn = newEmbeddedRedisConn
	}
	if st.redis, err = newConn(redisConn); err != nil {
		return err
	}
	defer st.redis.Close()
	st.epoch = redisview.NewEpochReader(st.redis, 0).Log(st.logger)

	// Search.
	embeddedSearch := *esURL == ""
	if embeddedSearch {
		ix, err := bleveindex.NewMemory(bleveindex.WithCurrency(*currency), bleveindex.WithLogger(logger))
		if err != nil {
			return err
		}
		defer ix.Close()
		st.search = ix
		st.searchWrite = func(int) (productsearch.Index, error) { return ix, nil }
		st.searchLive = func(context.Context) (int, error) { return 1, nil }
		say("search: embedded bleve index (in memory; rebuilt from the log)")
	} else {
		conn, err := esSec.Load(*esURL)
		if err != nil {
			return err
		}
		if err := attachSearch(ctx, &st, conn); err != nil {
			return err
		}
		given.es = &conn
		say("search: %s", conn.Describe())
	}
	if st.registry, err = registry.Load(); err != nil {
		return err
	}
	if st.registry.On() {
		say("schema registry: %s (Confluent framing)", st.registry.Describe())
	}
	if err := preflight(ctx, st, given); err != nil {
		return err
	}
	// One admin client for dev's own work on the broker: topics, group
	// resets, dead letters, the wait for the views. Its metadata is kept
	// for a short while only: applyTopics lists the topics, creates those
	// missing, then lists them again until they show, and with the
	// client's default of 5 s the second list answered from the first
	// (no topics) until then: a first start took 5 s.
	kcl, err := kgo.NewClient(st.kafkaOpts(kgo.MetadataMinAge(adminMetadataMinAge))...)
	if err != nil {
		return err
	}
	defer kcl.Close()
	adm := kadm.NewClient(kcl)
	if err := applyTopics(ctx, adm); err != nil {
		return err
	}
	if st.webhookAllow, err = webhookAllowlist(e); err != nil {
		return err
	}
	// The notifier's state lives in Redis. Over the in-memory one it folds
	// the subscriptions from the log again, and a journal in --data
	// tells it what was delivered or dead-lettered: it sends nothing twice
	// and retries what was waiting. It reads the events: with a registry,
	// their Confluent framing.
	codec, err := newDecoder(ctx, st.registry)
	if err != nil {
		return err
	}
	// dev keeps what its notifier delivered in two journals, read at every
	// start and written at every delivery: a file in --data, and the
	// journal topic (in --data too, on the embedded broker). Over the
	// in-memory Redis the file was the only one, over --redis the topic:
	// with both, a dev started the other way on the same --data sends
	// nothing again.
	journalFile := filepath.Join(*data, "notifier-journal")
	if embeddedViews {
		// Its state is in memory and in the journal: a notifier elsewhere
		// in the same group (serve's, on a --kafka cluster) would take
		// partitions whose deliveries this one never learns of, and both
		// would send them.
		if err := processors.CheckIdle(ctx, adm, nf.group); err != nil {
			return fmt.Errorf("notifier: %w; dev's notifier keeps what it delivered in --data, not in that group's Redis: stop that notifier, or give dev's its own group (--group). A deployment's serve running its projectors there refuses dev too (dev reads its projections' groups again at every start): stop it, or run dev on its own broker (without --kafka)", err)
		}
		nf.refold = true
		store := redisnotify.New(st.redis, nf.redisPrefix)
		kj, err := newKafkaJournal(st, nf.journal)
		if err != nil {
			return err
		}
		j, n, err := openJournal(ctx, journalFile, store, kj, nf.trimBefore(time.Now()))
		if err != nil {
			kj.Close()
			return err
		}
		defer j.Close()
		m, err := restoreJournal(ctx, st, nf.journal, store, nf.trimBefore(time.Now()))
		if err != nil {
			return err
		}
		if n+m > 0 {
			logger.Info("notifier journal read", "webhook_ids", n+m)
		}
		if st.notifier, err = notifierOn(e, st, &nf, codec, j, nil); err != nil {
			return err
		}
	} else {
		// A Redis of the user's (--redis), as serve's: the topic, and the
		// recovery after a loss; and the file.
		fj, read, err := openFileJournal(ctx, journalFile, redisnotify.New(st.redis, nf.redisPrefix), nf.trimBefore(time.Now()))
		if err != nil {
			return err
		}
		defer fj.Close() // also closed by the notifier when it stops
		if read > 0 {
			logger.Info("notifier journal read", "webhook_ids", read)
		}
		if st.notifier, err = newNotifier(e, st, &nf, codec, fj); err != nil {
			return err
		}
	}
	say("notifier: webhooks to %s (%s)", st.webhookAllow, envWebhookAllow)

	// Stores that start empty must read the log from the start.
	var rebuild []string
	if embeddedViews {
		rebuild = append(rebuild, productview.Name, historyProjection)
	}
	if embeddedSearch {
		rebuild = append(rebuild, searchProjection)
	}
	if *kafkaAddr != "" {
		// The groups dev reads from the start (its notifier's too: it
		// refolds, and commits past what a deployment's notifier has not
		// read) must be dev's own.
		var groups []string
		for _, name := range rebuild {
			groups = append(groups, processors.GroupName(name, 1))
		}
		if nf.refold {
			groups = append(groups, nf.group)
		}
		if err := claimGroups(ctx, adm, filepath.Join(*data, "kafka-groups"), groups); err != nil {
			return err
		}
	} else if err := dropRebuilt(ctx, adm, rebuild); err != nil {
		return err
	}
	if err := resetGroups(ctx, adm, rebuild); err != nil {
		return err
	}
	if embeddedViews {
		// The empty Redis's live generation is 1 before the projector
		// starts, whichever a rebuild over the API had made live before
		// the stop. Its start would otherwise take the newest group that
		// read the log (a rebuild's, on a real Kafka that keeps it) for
		// one whose views Redis lost, and read that one again instead of
		// g1, which dev reset and waits for.
		views, err := redisview.New(st.redis, redisview.Config{Projection: productview.Name})
		if err != nil {
			return err
		}
		if _, err := views.EnsureLive(ctx, 1); err != nil {
			return fmt.Errorf("projection %s: making g1 live: %w", productview.Name, err)
		}
	}
	if st.deadLettered, err = deadLettered(ctx, kcl, rebuild); err != nil {
		return err
	}

	st.beforeListen = func(ctx context.Context) error {
		if err := waitCaughtUp(ctx, adm, rebuild, e.stdout); err != nil {
			return err
		}
		waitDeciderMember(ctx, adm, deciderJoinWait, logger)
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	listening := make(chan string, 1)
	st.ready = func(a string) { listening <- a }
	if testReady != nil {
		ready := testReady
		st.ready = func(a string) { listening <- a; ready(a) }
	}
	g.Go(func() error {
		return serveStack(ctx, st, map[string]bool{"api": true, "decider": true, "projector": true}, *addr,
			[]string{productview.Name, searchProjection, historyProjection})
	})
	g.Go(func() error {
		var base string
		select {
		case a := <-listening:
			base = "http://" + a
		case <-ctx.Done():
			return nil
		}
		if *seed {
			ctx := ctx
			if devToken != "" {
				ctx = context.WithValue(ctx, bearerKey{}, devToken)
			}
			if err := seedDemo(ctx, base, st.kafkaOpts(), st.currency, *data, e.stdout); err != nil {
				return fmt.Errorf("seeding the demo catalogue: %w", err)
			}
		}
		logDir := "" // a real Kafka keeps the log
		if *kafkaAddr == "" {
			logDir = filepath.Join(*data, "kafka")
		}
		printWelcome(e.stdout, base, logDir, printed, mint)
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	say("streamview dev stopped")
	stopped = true
	return err
}

// makeDataDir makes dev's --data folder readable by its owner only: the
// embedded broker's log in it holds the webhook subscriptions' secrets in
// plain text. An existing folder is left as it is (it may be shared on
// purpose), with a warning on w when group or others may read it, write
// it or search it (the log's files have names known to all).
func makeDataDir(dir string, w io.Writer) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			fmt.Fprintf(w, "streamview dev: warning: --data %s is open to other users (mode %04o) and holds the event log, webhook subscription secrets included; chmod 700 %s\n", dir, perm, dir)
		}
	}
	return os.MkdirAll(dir, 0o700)
}

func applyTopics(ctx context.Context, adm *kadm.Client) error {
	spec, err := topics.Parse(streamview.TopicsYAML)
	if err != nil {
		return err
	}
	_, err = topics.Apply(ctx, adm, spec, false, io.Discard)
	return err
}

// resetGroups points generation 1 of each projection, the one dev runs
// over a store that starts empty, back at the start of the events topic.
func resetGroups(ctx context.Context, adm *kadm.Client, projections []string) error {
	for _, name := range projections {
		if _, err := processors.ResetToStart(ctx, adm, processors.GroupName(name, 1), topics.Events, false); err != nil {
			return fmt.Errorf("projection %s: %w", name, err)
		}
	}
	return nil
}

// dropRebuilt deletes, on dev's embedded broker, the groups of the
// generations past 1 of projections: what rebuilds over the API built,
// live or half built at the stop. dev runs generation 1 again over its
// empty stores (resetGroups); a rebuild's group left behind would be taken
// for the leftovers of a rebuild to abort, and its offsets would make it
// look like a generation whose store lost its data.
func dropRebuilt(ctx context.Context, adm *kadm.Client, projections []string) error {
	for _, name := range projections {
		if _, err := dropGenerations(ctx, adm, name, func(gen int) bool { return gen > 1 }, false); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
	}
	return nil
}

// claimGroups makes sure that dev may read groups from the start on a real
// cluster: those it claimed before (named in the file mark, with the
// cluster's ID), or groups with no offsets. A group with offsets dev did
// not make is a deployment's (serve's projector or notifier, stopped now):
// reset or moved on by dev, it would skip what it had not read yet. The
// claimed groups are written to mark.
func claimGroups(ctx context.Context, adm *kadm.Client, mark string, groups []string) error {
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("kafka: reading the cluster's ID: %w", err)
	}
	claimed := map[string]bool{}
	if b, err := os.ReadFile(mark); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if id, group, ok := strings.Cut(line, " "); ok && id == meta.Cluster {
				claimed[group] = true
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var add []string
	for _, group := range groups {
		if claimed[group] {
			continue
		}
		used, err := processors.HasOffsets(ctx, adm, group)
		if err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		if used {
			return fmt.Errorf("group %s on this cluster has offsets that this --data's dev did not make (or a dev older than this check, which kept no mark): a deployment's projector or notifier (serve, stopped now?) reads from them. dev starts its in-memory stores from the start of the log and would reset or move them on, and the deployment would then skip what it had not read yet. Give dev a cluster of its own, or the deployment's stores (--redis, --elasticsearch: dev then leaves the groups as they are); if nothing else uses the group, delete it (kafka-consumer-groups.sh --delete --group %s)", group, group)
		}
		add = append(add, meta.Cluster+" "+group+"\n")
	}
	if len(add) == 0 {
		return nil
	}
	f, err := os.OpenFile(mark, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(add, ""))
	return errors.Join(err, f.Close())
}

// deadLettered returns, for each of projections, which records of the
// events topic any of its generations has dead-lettered: read again from
// the start by generation 1, they are not dead-lettered twice (nor again
// when a rebuild's generation, live at the stop, wrote their letters).
func deadLettered(ctx context.Context, cl *kgo.Client, projections []string) (map[string]func(int32, int64) bool, error) {
	out := map[string]func(int32, int64) bool{}
	for _, name := range projections {
		seen := map[deadletter.Position]bool{}
		for l, err := range deadletter.NewReader(cl, topics.DeadLetter(name)).All(ctx) {
			if err != nil {
				return nil, fmt.Errorf("projection %s: reading its dead letters: %w", name, err)
			}
			if _, ok := generationOf(name, l.Projection); ok && l.SourceTopic == topics.Events {
				seen[deadletter.Position{Partition: l.SourcePartition, Offset: l.SourceOffset}] = true
			}
		}
		out[name] = func(p int32, o int64) bool { return seen[deadletter.Position{Partition: p, Offset: o}] }
	}
	return out, nil
}

// waitCaughtUp prints progress until the projections have read the whole
// log as it stood at start.
func waitCaughtUp(ctx context.Context, adm *kadm.Client, projections []string, w io.Writer) error {
	if len(projections) == 0 {
		return nil
	}
	start, said := time.Now(), time.Now()
	var total int64 = -1
	for {
		var behind int64
		for _, name := range projections {
			lag, err := processors.Lag(ctx, adm, processors.GroupName(name, 1), topics.Events)
			if ctx.Err() != nil {
				return nil // the stop
			}
			if err != nil {
				return err
			}
			for _, l := range lag {
				behind += l.Lag
			}
		}
		if total < 0 {
			total = behind
			if total > 0 {
				fmt.Fprintf(w, "rebuilding views from the log: %d records (events and transaction markers)…\n", total/int64(len(projections)))
			}
		}
		if behind == 0 {
			if total > 0 {
				fmt.Fprintf(w, "views rebuilt in %s\n", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if total > 0 && time.Since(said) >= time.Second {
			done := total - behind
			fmt.Fprintf(w, "  %d%% (%d records behind)\n", 100*done/total, behind/int64(len(projections)))
			said = time.Now()
		}
		select { // checked often, said once a second: the API waits for it
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deciderJoinWait bounds how long dev waits, before it listens, for its
// decider to join its group. It joins within milliseconds of its start, on
// the embedded broker as on a real one; a Kafka that keeps it out is the
// decider's to retry, and no reason to keep the API from serving reads.
const deciderJoinWait = 10 * time.Second

// waitDeciderMember waits until the decider's group has a member, at most
// bound. A running decider is what publish refuses to publish beside (it
// asks the group the same way), so dev says it is ready only once a
// publish is refused: the decider starts with the API and joins a moment
// after the views are read.
func waitDeciderMember(ctx context.Context, adm *kadm.Client, bound time.Duration, logger *slog.Logger) {
	deadline := time.Now().Add(bound)
	for {
		err := processors.CheckIdle(ctx, adm, decider.DefaultGroup)
		if errors.Is(err, processors.ErrGroupActive) || ctx.Err() != nil {
			return
		}
		if time.Now().After(deadline) {
			logger.Warn("the decider has not joined its group yet; listening anyway (a publish meanwhile is not refused)",
				"group", decider.DefaultGroup, "waited", bound, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// printWelcome tells where the running pipeline answers, with requests to
// try (carrying $TOKEN when auth is on with an HS256 secret) and where the
// embedded broker's log stays (logDir; "" with a real Kafka). tok is the
// token of --auth's secret, to print; mint, with a configured secret, the
// command that mints one.
func printWelcome(w io.Writer, base, logDir, tok, mint string) {
	fmt.Fprintf(w, `
streamview is running: %[1]s
  API docs      %[1]s/v1/openapi.json
  health        %[1]s/readyz
  console       %[1]s/
  projections   %[1]s/v1/projections
  metrics       %[1]s/metrics
`, base)
	bearer := ""
	switch {
	case tok != "":
		printTokenWelcome(w, tok)
		bearer = ` -H "Authorization: Bearer $TOKEN"`
	case mint != "":
		printMintWelcome(w, mint)
		bearer = ` -H "Authorization: Bearer $TOKEN"`
	}
	fmt.Fprintf(w, `
Try:
  curl -s%[2]s '%[1]s/v1/products/search?q=lamp&pageSize=3'
  curl -s%[2]s -X POST %[1]s/v1/products -H 'Content-Type: application/json' -H 'Prefer: wait=5' \
    -d '{"name":"Desk Lamp","description":"Warm light","price":{"amount":"24.50","currency":"EUR"},"categoryId":"lamps","categoryName":"Lamps","brandId":"lumen","brandName":"Lumen"}'

`, base, bearer)
	if logDir != "" {
		fmt.Fprintf(w, "Ctrl-C stops it; the event log stays in %s for the next run.\n", logDir)
	} else {
		fmt.Fprintln(w, "Ctrl-C stops it; the events stay in the Kafka it was given.")
	}
}

// startEmbeddedRedis starts dev's embedded Redis (miniredis) on a free
// loopback port; stop closes it.
//
// Its keys expire by the clock, as on Redis (a rebuild's lease left by a
// killed CLI): once every redisTTLTick the TTLs are aged by the time gone
// by. Not with miniredis's ClockTTL, which ages them at every command and
// walks (and sorts) every key to do so: a projector's batch of 2,000
// writes over a few ten thousand keys then outlasted the client's 3 s read
// timeout, and the projectors retried it for ever.
func startEmbeddedRedis() (mr *miniredis.Miniredis, stop func(), err error) {
	mr = miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(redisTTLTick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return mr, func() {
		close(done)
		<-stopped
		mr.Close()
	}, nil
}

// redisTTLTick is how often the embedded Redis ages its keys' TTLs.
const redisTTLTick = time.Second
