package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/bench"
	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
)

// soakServers are the real servers a soak run starts its stack on.
type soakServers struct {
	kafka  connect.Kafka
	redis  connect.Redis
	es     connect.Elasticsearch
	logger *slog.Logger
	// outcomeBytes, when positive, is the memory of the stack's outcome
	// memories instead of their defaults: the API's accepted outcomes
	// (a quarter of it for rejected ones) and the decider's, split among
	// the commands topic's partitions. A soak sets it small to see them
	// fill and the process's memory level off within the run.
	outcomeBytes int64
	// hops, when set, receives each command's time per hop through the
	// stack (bench api's breakdown).
	hops *bench.Hops
	// requests, when set, counts each of the stack's Kafka clients'
	// requests (bench api's breakdown).
	requests *bench.Requests
}

// counted is the option that makes a client of the stack count its Kafka
// requests as client, when srv counts them.
func (srv soakServers) counted(client string) []kgo.Opt {
	if srv.requests == nil {
		return nil
	}
	return []kgo.Opt{srv.requests.Opt(client)}
}

// soakNames are a run's own topics, groups, keys and index: nothing a
// user's data lives in.
type soakNames struct {
	run                                string
	commands, events, results, state   string
	viewDLQ, searchDLQ                 string
	viewName, searchName, deciderGroup string
}

func newSoakNames() soakNames {
	var b [6]byte
	_, _ = rand.Read(b[:])
	run := "soak-" + hex.EncodeToString(b[:])
	return soakNames{
		run: run, commands: run + ".commands", events: run + ".events", results: run + ".results", state: run + ".state",
		viewDLQ: run + ".view.dlq", searchDLQ: run + ".search.dlq",
		viewName: run + "-view", searchName: run + "-search", deciderGroup: run + ".decider",
	}
}

// soakPartitions is the partition count of a run's commands, events and
// results topics, as topics.yaml has them.
const soakPartitions = 6

// runSoak starts the whole stack in-process (API, decider, both
// projectors) on fresh names on srv, drives cfg's load through it, and
// removes everything it made, also when ctx ends.
func runSoak(ctx context.Context, srv soakServers, cfg bench.SoakConfig) (rep bench.SoakReport, err error) {
	err = withStack(ctx, srv, func(ctx context.Context, base string, lag func(context.Context) (map[string]int64, error)) error {
		cfg.Base = base
		cfg.Lag = lag
		fmt.Fprintf(cfg.Out, "soak: stack on %s\n", base)
		var err error
		rep, err = bench.Soak(ctx, cfg)
		return err
	})
	return rep, err
}

// withStack starts the whole stack in-process (API, decider, both
// projectors) on fresh names on srv (soak-<random>.*), runs drive against
// its API at base (lag reads each projection's lag), and removes everything
// it made, also when ctx ends. drive's context ends when the stack fails.
func withStack(ctx context.Context, srv soakServers, drive func(ctx context.Context, base string, lag func(context.Context) (map[string]int64, error)) error) (err error) {
	n := newSoakNames()
	log := srv.logger
	kafkaOpt, err := srv.kafka.SecurityOpts()
	if err != nil {
		return err
	}
	brokers := srv.kafka.Brokers
	cl, err := newKafkaClient(ctx, srv.kafka)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	rc, err := newRedisConn(srv.redis)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := pingRedis(ctx, rc, srv.redis); connect.IsConfig(err) {
		return err
	}
	es, err := newElasticsearch(srv.es)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	views, err := redisview.New(rc, redisview.Config{Projection: n.viewName})
	if err != nil {
		return err
	}
	index, err := esindex.New(es, esindex.Config{IndexPrefix: n.searchName, Alias: n.searchName, Generation: 1, Currency: product.DefaultCurrency, Logger: log})
	if err != nil {
		return err
	}

	stackCtx, stopStack := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(stackCtx)
	running := false
	defer func() {
		stopStack()
		if running {
			if serr := g.Wait(); serr != nil && !errors.Is(serr, context.Canceled) && !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, fmt.Errorf("soak: stack: %w", serr))
			}
		}
		// The caller's context may be done (Ctrl-C): clean up regardless.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		err = errors.Join(err, soakCleanup(cctx, adm, rc, views, es, index, n))
	}()

	for topic, parts := range map[string]int32{n.commands: soakPartitions, n.events: soakPartitions, n.results: soakPartitions, n.state: soakPartitions,
		n.viewDLQ: 1, n.searchDLQ: 1} {
		var cfg map[string]*string
		if topic == n.state {
			compact := "compact"
			cfg = map[string]*string{"cleanup.policy": &compact}
		}
		res, err := adm.CreateTopic(ctx, parts, 1, cfg, topic)
		if err == nil {
			err = res.Err
		}
		if err != nil {
			return fmt.Errorf("soak: create topic %s: %w", topic, err)
		}
	}
	codec, err := schemas.NewCodec()
	if err != nil {
		return err
	}
	if _, err := views.EnsureLive(ctx, 1); err != nil {
		return fmt.Errorf("soak: redis view generation: %w", err)
	}
	if _, err := ensureSearchLive(ctx, index); err != nil {
		return fmt.Errorf("soak: search index: %w", err)
	}
	changes := new(productview.Changes) // the API's ?minVersion= reads wake at the writer's writes, as in serve
	viewProj, err := viewWriter(views, 1, changes)
	if err != nil {
		return err
	}
	var projectors []*processors.Runner
	for _, p := range []struct {
		name, dlq, label string
		proj             processors.Projection
		batch            int
		interval         time.Duration
	}{{n.viewName, n.viewDLQ, "projector-" + productview.Name, viewProj, 0, applyIntervalOf(productview.Name)},
		{n.searchName, n.searchDLQ, "projector-" + searchProjection, index, productsearch.Batch, applyIntervalOf(searchProjection)}} {
		r, err := processors.New(processors.Config{Name: p.name, Generation: 1, Topic: n.events, DeadLetterTopic: p.dlq, MaxBatch: p.batch, MinApplyInterval: p.interval, Logger: log},
			codec, p.proj, append(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, kafkaOpt...), srv.counted(p.label)...)...)
		if err != nil {
			return err
		}
		projectors = append(projectors, r)
	}
	dcfg := decider.Config{Brokers: brokers, ClientOpts: append(slices.Clip(kafkaOpt), srv.counted("decider")...), CommandsTopic: n.commands, EventsTopic: n.events, ResultsTopic: n.results, StateTopic: n.state,
		Group: n.deciderGroup, TransactionalID: n.deciderGroup, Rules: product.Rules{Currency: product.DefaultCurrency}, Logger: log}
	rcfg := commandbus.ResultsConfig{Brokers: brokers, ClientOpts: append(slices.Clip(kafkaOpt), srv.counted("api-results")...), Topic: n.results, CommandsTopic: n.commands, Logger: log}
	if b := srv.outcomeBytes; b > 0 {
		dcfg.MaxDecidedBytes = max(1, b/soakPartitions)
		rcfg.MaxAcceptedBytes, rcfg.MaxRejectedBytes = b, max(1, b/4)
	}
	if h := srv.hops; h != nil {
		dcfg.Hooks.Batch = func(b decider.BatchTiming) {
			for _, issued := range b.Issued {
				h.Add(bench.HopPolled, b.Began.Sub(issued))
				h.Add(bench.HopDecide, b.Decide)
				h.Add(bench.HopProduce, b.Produce)
				h.Add(bench.HopCommit, b.End)
			}
		}
		rcfg.Read = func(d time.Duration) { h.Add(bench.HopSeen, d) }
	}
	results, err := commandbus.NewResults(rcfg, codec)
	if err != nil {
		return err
	}
	dcfg.Outcomes = results.Deliver // as serve wires an API beside its decider
	d, err := decider.New(dcfg, codec)
	if err != nil {
		return err
	}
	sender, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: brokers, ClientOpts: append(slices.Clip(kafkaOpt), srv.counted("api-sender")...), Topic: n.commands, Tracker: results, Logger: log}, codec)
	if err != nil {
		return err
	}
	defer sender.Close()
	apiCfg := api.Config{Currency: product.DefaultCurrency, Logger: log}
	if err := apiCfg.Validate(); err != nil {
		return err
	}
	var bus api.CommandBus = busOf{results, sender}
	if srv.hops != nil {
		bus = timedBus{busOf{results, sender}, srv.hops}
	}
	server := api.New(apiCfg, api.Deps{Commands: bus, Views: productview.NewReader(views), ViewChanges: changes, Search: index})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("soak: listen: %w", err)
	}
	running = true
	for _, p := range projectors {
		g.Go(func() error { return p.Run(gctx) })
	}
	g.Go(func() error { return d.Run(gctx) })
	g.Go(func() error { return results.Run(gctx) })
	g.Go(func() error { return server.Serve(gctx, ln) })

	base := "http://" + ln.Addr().String()
	lag := func(ctx context.Context) (map[string]int64, error) {
		out := map[string]int64{}
		for _, p := range projectors {
			c := p.Config()
			parts, err := processors.Lag(ctx, adm, c.Group(), n.events)
			if err != nil {
				return nil, err
			}
			var sum int64
			for _, pl := range parts {
				sum += pl.Lag
			}
			// The report names the projections, not the run's copies.
			name := productview.Name
			if c.Name == n.searchName {
				name = searchProjection
			}
			out[name] = sum
		}
		return out, nil
	}
	srv.logger.Info("stack started", "url", base, "topics", n.run+".*")
	g.Go(func() error {
		// Where the commands are, for a person reading the log at info:
		// transactions and commands per transaction of the decider.
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		var last decider.Stats
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
			st := d.Stats()
			txns := st.Committed - last.Committed
			per := 0.0
			if txns > 0 {
				per = float64(st.Decided-last.Decided) / float64(txns)
			}
			srv.logger.Info("decider", "decided_per_s", float64(st.Decided-last.Decided)/5, "transactions_per_s", float64(txns)/5,
				"commands_per_transaction", per, "aborted", st.Aborted-last.Aborted)
			last = st
		}
	})
	// The load stops when the stack fails, too.
	return drive(gctx, base, lag)
}

// soakCleanup removes a run's topics, groups, Redis keys and index.
func soakCleanup(ctx context.Context, adm *kadm.Client, rc redis.UniversalClient, views *redisview.Store, es *elasticsearch.Client, index *esindex.Index, n soakNames) error {
	var errs []error
	groups := []string{processors.GroupName(n.viewName, 1), processors.GroupName(n.searchName, 1), n.deciderGroup}
	if res, err := adm.DeleteGroups(ctx, groups...); err != nil {
		errs = append(errs, fmt.Errorf("soak: delete groups %v: %w", groups, err))
	} else {
		for g, r := range res {
			if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
				errs = append(errs, fmt.Errorf("soak: delete group %s: %w", g, r.Err))
			}
		}
	}
	topics := []string{n.commands, n.events, n.results, n.state, n.viewDLQ, n.searchDLQ}
	if res, err := adm.DeleteTopics(ctx, topics...); err != nil {
		errs = append(errs, fmt.Errorf("soak: delete topics %v: %w", topics, err))
	} else {
		for _, r := range res {
			if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
				errs = append(errs, fmt.Errorf("soak: delete topic %s: %w", r.Topic, r.Err))
			}
		}
	}
	if _, err := views.Clear(ctx, 1); err != nil {
		errs = append(errs, fmt.Errorf("soak: clear redis keys of %s: %w", n.viewName, err))
	}
	if err := rc.Del(ctx, views.LiveKey()).Err(); err != nil {
		errs = append(errs, fmt.Errorf("soak: delete %s: %w", views.LiveKey(), err))
	}
	res, err := es.Indices.Delete([]string{index.IndexName(1)}, es.Indices.Delete.WithContext(ctx), es.Indices.Delete.WithIgnoreUnavailable(true))
	if err != nil {
		errs = append(errs, fmt.Errorf("soak: delete index %s: %w", index.IndexName(1), err))
	} else {
		res.Body.Close()
		if res.IsError() {
			errs = append(errs, fmt.Errorf("soak: delete index %s: %s", index.IndexName(1), res.Status()))
		}
	}
	return errors.Join(errs...)
}

// timedBus is busOf telling hops how long each send and each wait took.
type timedBus struct {
	busOf
	hops *bench.Hops
}

func (b timedBus) SendBound(ctx context.Context, cmd schemas.Command, fingerprint string) (commandbus.Sent, error) {
	began := time.Now()
	sent, err := b.busOf.SendBound(ctx, cmd, fingerprint)
	b.hops.Add(bench.HopSend, time.Since(began))
	return sent, err
}

func (b timedBus) Wait(ctx context.Context, commandID string) (schemas.CommandResult, error) {
	began := time.Now()
	res, err := b.busOf.Wait(ctx, commandID)
	b.hops.Add(bench.HopWait, time.Since(began))
	return res, err
}
