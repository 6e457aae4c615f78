package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// TestNotifierRecoversALostStore: the notifier's Redis loses its data
// (FLUSHALL; on the shared real Redis, the store's keys deleted) while
// the notifier runs; while it is stopped; while it is stopped and its
// group is reset (`replay --projection notifier`); and after an upgrade
// from a notifier without the journal (a store without the mark, whose
// deliveries no journal holds). Every notification is delivered once:
// those of subscriptions made before the loss (known only from the log),
// those waiting on a failing receiver at the loss, and none of those
// delivered before it again. (Before the journal and the recovery, the
// notifier lost its subscriptions with Redis and sent nothing more; the
// first recovery resent everything after a reset group, and what a
// notifier older than the journal had delivered.)
func TestNotifierRecoversALostStore(t *testing.T) {
	t.Run("flushall, embedded servers", func(t *testing.T) {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events"),
			kfake.SeedTopics(1, "dlq", topics.NotifierJournal, "journal2"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cluster.Close)
		mr := miniredis.RunT(t)
		testNotifierRecovery(t, notifierRecoveryEnv{
			brokers: cluster.ListenAddrs(), redis: mr.Addr(), events: "events", dlq: "dlq",
			journal: topics.NotifierJournal, journal2: "journal2", prefix: redisnotify.DefaultPrefix, group: "notifier",
			lose: func() { mr.FlushAll() },
		})
	})
	t.Run("its keys deleted, real servers", func(t *testing.T) {
		if testing.Short() {
			t.Skip("real servers: not in -short")
		}
		brokers := testenv.Kafka(t)
		addr := testenv.Redis(t)
		prefix := testenv.Name("svtest:notifier") + ":"
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		deleteAll := func() {
			ctx := context.Background()
			iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
		}
		t.Cleanup(func() { deleteAll(); rdb.Close() })
		testNotifierRecovery(t, notifierRecoveryEnv{
			brokers: brokers, redis: addr, prefix: prefix, group: testenv.Name("notify-recovery"),
			events:   testenv.Topic(t, brokers, "notify-recovery-events", 2),
			dlq:      testenv.Topic(t, brokers, "notify-recovery-dlq", 1),
			journal:  testenv.Topic(t, brokers, "notify-recovery-journal", 1, "cleanup.policy", "compact"),
			journal2: testenv.Topic(t, brokers, "notify-recovery-journal2", 1, "cleanup.policy", "compact"),
			lose:     deleteAll,
		})
	})
}

type notifierRecoveryEnv struct {
	brokers              []string
	redis, prefix, group string
	events, dlq, journal string
	journal2             string // another, empty journal: an upgrade
	lose                 func() // the store loses its data
}

func testNotifierRecovery(t *testing.T, env notifierRecoveryEnv) {
	ctx := context.Background()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	healthy := newReceiver(t, "healthy", "secret-one", func(int) (int, bool) { return http.StatusNoContent, false })
	var flakyDown atomic.Bool
	flakyDown.Store(true)
	flaky := newReceiver(t, "flaky", "secret-two", func(int) (int, bool) {
		if flakyDown.Load() {
			return http.StatusServiceUnavailable, false
		}
		return http.StatusOK, false
	})

	at := time.Now().UTC().Truncate(time.Millisecond)
	n := 0
	record := func(aggType, aggID, product string, version int64, data schemas.EventData) (*kgo.Record, schemas.Event) {
		t.Helper()
		n++
		e := schemas.Event{ID: schemas.NameUUID([16]byte{11}, env.group+strconv.Itoa(n)), AggregateType: aggType, AggregateID: aggID,
			Version: version, Timestamp: at, Metadata: schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{12}, strconv.Itoa(n)), UserID: "test"},
			Data: data}
		return eventRecord(t, codec, env.events, product, e), e
	}

	// Three products, each with a subscription of healthy's; product 0
	// also one of flaky's. Every change is a price drop.
	var setup []*kgo.Record
	products := make([]string, 3)
	subs := map[string][]string{} // product → subscription IDs
	var flakySub string
	price := map[string]int64{}
	version := map[string]int64{}
	for i := range products {
		p := schemas.NameUUID([16]byte{13}, env.group+strconv.Itoa(i))
		products[i], price[p], version[p] = p, 1_000_000, 1
		r, _ := record(schemas.AggregateProduct, p, p, 1, &schemas.ProductCreated{Name: "P", Price: schemas.Money{Amount: price[p], Currency: "EUR"}})
		setup = append(setup, r)
		receivers := []*receiver{healthy}
		if i == 0 {
			receivers = append(receivers, flaky)
		}
		for _, rc := range receivers {
			id := schemas.SubscriptionID(p, schemas.NameUUID([16]byte{14}, env.group+rc.name+strconv.Itoa(i)))
			r, _ := record(schemas.AggregateSubscription, id, p, 1, &schemas.SubscriptionCreated{ProductID: p, URL: rc.url("/hook"), Events: []string{schemas.NotifyPriceDrop}, Secret: rc.secret})
			setup = append(setup, r)
			subs[p] = append(subs[p], id)
			if rc == flaky {
				flakySub = id
			}
		}
	}
	want := map[*receiver]map[string]bool{healthy: {}, flaky: {}}
	changes := func(count int) []*kgo.Record {
		var out []*kgo.Record
		for i := range count {
			p := products[i%len(products)]
			version[p]++
			r, e := record(schemas.AggregateProduct, p, p, version[p], &schemas.ProductPriceChanged{
				OldPrice: schemas.Money{Amount: price[p], Currency: "EUR"}, NewPrice: schemas.Money{Amount: price[p] - 100, Currency: "EUR"}})
			price[p] -= 100
			out = append(out, r)
			for _, s := range subs[p] {
				rc := healthy
				if s == flakySub {
					rc = flaky
				}
				want[rc][e.ID+"."+s] = true
			}
		}
		return out
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(env.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(recs []*kgo.Record) {
		t.Helper()
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	var logs testenv.Buffer
	journal := env.journal
	startNotifier := func() (stop func()) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"notify", "--brokers", strings.Join(env.brokers, ","), "--redis", env.redis,
				"--group", env.group, "--topic", env.events, "--dlq-topic", env.dlq, "--journal-topic", journal,
				"--redis-prefix", env.prefix, "--timeout", "500ms", "--retry-min", "100ms", "--retry-max", "300ms",
				"--lease", "3s", "--session-timeout", "6s", "--log-level", "info"}, nil, io.Discard, &logs)
		}()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("notify: %v", err)
			}
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("notifier log:\n%s", tail(logs.String(), 8192))
		}
	})
	delivered := func(rs ...*receiver) func() error {
		return func() error {
			for _, r := range rs {
				if m := r.missing(want[r]); len(m) > 0 {
					return testenv.Errorf("%s misses %d of %d deliveries, e.g. %s", r.name, len(m), len(want[r]), m[0])
				}
			}
			return nil
		}
	}
	once := func(when string) {
		t.Helper()
		for _, r := range []*receiver{healthy, flaky} {
			r.mu.Lock()
			for id, c := range r.accepted {
				if c > 1 {
					t.Errorf("%s: %s delivered %d times %s", r.name, id, c, when)
				}
				if !want[r][id] {
					t.Errorf("%s: got %s, which it should not", r.name, id)
				}
			}
			r.mu.Unlock()
		}
	}

	// Before the loss: healthy has everything; flaky's notifications wait.
	produce(setup)
	produce(changes(30))
	stop := startNotifier()
	testenv.Eventually(t, time.Minute, delivered(healthy))
	testenv.Eventually(t, 30*time.Second, func() error {
		if flaky.count() < 2 {
			return testenv.Errorf("flaky has had %d attempts", flaky.count())
		}
		return nil
	})
	if len(flaky.missing(want[flaky])) != len(want[flaky]) {
		t.Fatal("flaky accepted a delivery while answering 503")
	}

	// The store loses its data under the running notifier; then more
	// changes, and flaky answers again.
	env.lose()
	produce(changes(30))
	flakyDown.Store(false)
	testenv.Eventually(t, time.Minute, delivered(healthy, flaky))
	once("after a loss under the running notifier")

	// The store loses its data while the notifier is stopped.
	stop()
	env.lose()
	produce(changes(30))
	stop = startNotifier()
	testenv.Eventually(t, time.Minute, delivered(healthy, flaky))
	once("after a loss while the notifier was stopped")
	if !strings.Contains(logs.String(), "notifier journal read back") {
		t.Error("the notifier's log does not say it read the journal back")
	}

	// The same, and the group reset before the start (replay): it has
	// not read past the start of the log, which the store's mark, gone,
	// does not need.
	stop()
	env.lose()
	var out testenv.Buffer
	if err := run(ctx, []string{"replay", "--projection", "notifier", "--group", env.group, "--topic", env.events,
		"--brokers", strings.Join(env.brokers, ",")}, nil, &out, &out); err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	produce(changes(30))
	stop = startNotifier()
	testenv.Eventually(t, time.Minute, delivered(healthy, flaky))
	once("after a loss and a replay while the notifier was stopped")

	// An upgrade from a notifier without the journal: its store holds
	// what it delivered, no mark, and no journal holds it. The first start
	// copies the store's record into the journal; a loss after that
	// sends none of it again.
	stop()
	rdb := redis.NewClient(&redis.Options{Addr: env.redis})
	defer rdb.Close()
	if err := rdb.Del(ctx, env.prefix+"{n}:mark").Err(); err != nil {
		t.Fatal(err)
	}
	journal = env.journal2
	stop = startNotifier()
	defer func() { stop() }()
	testenv.Eventually(t, time.Minute, func() error {
		if !strings.Contains(logs.String(), "the store's record of deliveries copied into the journal") {
			return testenv.Errorf("the notifier has not copied its store's record into the journal")
		}
		return nil
	})
	env.lose()
	produce(changes(30))
	testenv.Eventually(t, time.Minute, delivered(healthy, flaky))
	once("after a loss following an upgrade")
	t.Logf("healthy: %d Webhook-Ids; flaky: %d, %d requests", len(want[healthy]), len(want[flaky]), flaky.count())
}

// TestNotifierWaitsForItsJournalTopic: without its journal topic (a
// cluster whose topics were applied before the journal existed, or the
// topic deleted), the notifier says what to do and waits (it could record
// no delivery, and would send each again after its lease); once the topic
// is there it delivers.
func TestNotifierWaitsForItsJournalTopic(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	mr := miniredis.RunT(t)
	// A store that was whole (its mark is Redis's epoch): only the
	// topic's check keeps the notifier from running without it. (A store
	// without the mark waits in its read-back of the journal.)
	mr.Set(redisview.EpochKey, "e1")
	mr.Set(redisnotify.DefaultPrefix+"{n}:mark", "e1")
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	hook := newReceiver(t, "hook", "s3cret", func(int) (int, bool) { return http.StatusOK, false })
	p := schemas.NameUUID([16]byte{15}, "product")
	sub := schemas.SubscriptionID(p, schemas.NameUUID([16]byte{15}, "sub"))
	var recs []*kgo.Record
	var drop schemas.Event
	for i, e := range []schemas.Event{
		{AggregateType: schemas.AggregateProduct, AggregateID: p, Version: 1, Data: &schemas.ProductCreated{Name: "P", Price: schemas.Money{Amount: 500, Currency: "EUR"}}},
		{AggregateType: schemas.AggregateSubscription, AggregateID: sub, Version: 1, Data: &schemas.SubscriptionCreated{ProductID: p, URL: hook.url("/h"), Events: []string{schemas.NotifyPriceDrop}, Secret: "s3cret"}},
		{AggregateType: schemas.AggregateProduct, AggregateID: p, Version: 2, Data: &schemas.ProductPriceChanged{OldPrice: schemas.Money{Amount: 500, Currency: "EUR"}, NewPrice: schemas.Money{Amount: 400, Currency: "EUR"}}},
	} {
		e.ID = schemas.NameUUID([16]byte{16}, strconv.Itoa(i))
		e.Timestamp = time.Now().UTC().Truncate(time.Millisecond)
		e.Metadata = schemas.Metadata{CorrelationID: "c", CausationID: e.ID, UserID: "test"}
		recs = append(recs, eventRecord(t, codec, "events", p, e))
		drop = e
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"notify", "--brokers", brokers, "--redis", mr.Addr(), "--topic", "events", "--dlq-topic", "dlq",
			"--journal-topic", "journal", "--retry-min", "100ms", "--retry-max", "200ms"}, nil, io.Discard, &logs)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("notify: %v", err)
		}
	}()
	testenv.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(logs.String(), "topic journal does not exist (create it, compacted, as topics.yaml's catalog.notifier.journal)") {
			return testenv.Errorf("the notifier does not say its journal topic is missing:\n%s", logs.String())
		}
		return nil
	})
	if hook.count() != 0 {
		t.Fatalf("the notifier sent %d notifications without a journal", hook.count())
	}
	testenv.TopicNamed(t, cluster.ListenAddrs(), "journal", 1)
	id := drop.ID + "." + sub
	testenv.Eventually(t, 30*time.Second, func() error {
		if m := hook.missing(map[string]bool{id: true}); len(m) > 0 {
			return testenv.Errorf("not delivered yet")
		}
		return nil
	})
}
