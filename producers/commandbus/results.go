package commandbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// ResultDecoder turns a record value into a command result;
// *schemas.Codec is one.
type ResultDecoder interface {
	DecodeResult([]byte) (schemas.CommandResult, error)
}

// Defaults of ResultsConfig.
const (
	// DefaultLookBack is the decider's idempotency window
	// (decider.DefaultIdempotencyWindow): API.md keeps a key's first
	// outcome for at least 24 hours across restarts of any part, the API's
	// too. It was an hour: a restarted API forgot the keys of commands
	// decided 1–24 h before, so that a key reused with another request
	// acted, and GET /v1/commands/{id} said 404 for them (helper 91).
	DefaultLookBack = 24 * time.Hour
	// DefaultMaxResults keeps some 200,000 keys' bindings (about 60 MiB):
	// past that many keyed commands within the look-back, the oldest
	// bindings go first, as the decider's remembered command IDs do
	// (decider.Config.MaxDecided).
	DefaultMaxResults = 200_000
	DefaultMaxPending = 100_000
	// DefaultMaxAcceptedBytes keeps some 170,000 accepted outcomes of
	// typical size (UUIDs, no reason): ResultBytes measures each.
	DefaultMaxAcceptedBytes = 64 << 20
	// DefaultMaxRejectedBytes keeps some 40,000 rejected outcomes with a
	// reason of a hundred bytes.
	DefaultMaxRejectedBytes = 16 << 20
)

// resultOverhead is what a kept outcome costs besides its strings' bytes:
// the CommandResult, its map slot and its place in the eviction queue. A
// heap measurement of 200,000 outcomes (Go 1.25, amd64) gave 365 bytes an
// entry for 131 bytes of strings, so 234 of overhead; 256 leaves room for
// a map that has just doubled. The fingerprint's string header added 16.
const resultOverhead = 272

// ResultBytes is the memory a kept outcome is counted for against
// ResultsConfig.MaxAcceptedBytes or MaxRejectedBytes.
func ResultBytes(res schemas.CommandResult) int64 {
	return int64(resultOverhead + len(res.CommandID) + len(res.ProductID) + len(res.Code) + len(res.Reason) + len(res.IdempotencyKey) +
		len(res.Fingerprint))
}

// ResultsConfig configures Results. The zero value with Brokers set works.
type ResultsConfig struct {
	// Brokers are the seed brokers. Required.
	Brokers []string
	// Topic is the results topic; topics.CommandResults when "".
	Topic string
	// CommandsTopic is read (keys and headers only) to learn of commands
	// that other instances sent, so that they answer "pending" too;
	// topics.Commands when "", and "-" to read none and only know
	// what this process's Sender tracks.
	CommandsTopic string
	// LookBack is how far back in time Run starts reading, so that a
	// restarted instance still knows recent outcomes (GET
	// /v1/commands/{id}) and the keys they bound; DefaultLookBack (24h)
	// when 0. Negative reads everything the topics retain. Commands wait
	// until Run has read it (Ready).
	LookBack time.Duration
	// MaxResults bounds the Idempotency-Key bindings kept, the oldest
	// forgotten first; DefaultMaxResults when 0.
	MaxResults int
	// MaxAcceptedBytes and MaxRejectedBytes bound the memory of the
	// outcomes kept (each counted for ResultBytes), accepted and rejected
	// apart; DefaultMaxAcceptedBytes (64 MiB) and DefaultMaxRejectedBytes
	// (16 MiB) when 0. Each kind forgets its own oldest first, so a flood
	// of rejected commands (cheap to send: no event, no state) pushes out
	// only older rejections, never an accepted outcome; accepted outcomes
	// are forgotten only for newer accepted ones. The price: in a flood, a
	// rejection may be forgotten here within minutes, and GET
	// /v1/commands/{id} then says not found (or pending, from the
	// commands topic). A retry is still answered with the first outcome:
	// the decider keeps every outcome for its idempotency window (24h),
	// across restarts.
	MaxAcceptedBytes, MaxRejectedBytes int64
	// MaxPending bounds the pending commands kept; DefaultMaxPending when
	// 0.
	MaxPending int
	// Logger receives progress and errors; nil discards.
	Logger *slog.Logger
	// ClientOpts are extra Kafka client options, applied after Run's own.
	ClientOpts []kgo.Opt
	// ReadOpts, when set, replace ClientOpts for the short-lived clients
	// of the catch-up reads at start and for the client that follows the
	// commands topic: connection settings without the hooks that may
	// belong to one client only (kprom's metrics).
	ReadOpts []kgo.Opt
	// Decided, when set, is told of the outcome of each command that this
	// process's Sender claimed: its status and the time from the claim
	// (the API's request) to the outcome being known here (read from the
	// topic, or delivered by Deliver). For metrics.
	Decided func(status string, took time.Duration)
	// Read, when set, is told of each outcome taken after the catch-up
	// (read from the topic, or delivered by Deliver; a repeat of one
	// held not again), before its waiters are answered: the time since
	// its decidedAt, the start of the decider's batch. It is called with
	// the reader's lock held: it must be quick. For a benchmark's
	// breakdown of a command's wait.
	Read func(sinceDecided time.Duration)
}

// Validate reports every problem at once.
func (c ResultsConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("commandbus: results: Brokers is required"))
	}
	if c.MaxResults < 0 {
		errs = append(errs, fmt.Errorf("commandbus: results: MaxResults must not be negative, got %d", c.MaxResults))
	}
	if c.MaxPending < 0 {
		errs = append(errs, fmt.Errorf("commandbus: results: MaxPending must not be negative, got %d", c.MaxPending))
	}
	if c.MaxAcceptedBytes < 0 || c.MaxRejectedBytes < 0 {
		errs = append(errs, fmt.Errorf("commandbus: results: MaxAcceptedBytes (%d) and MaxRejectedBytes (%d) must not be negative",
			c.MaxAcceptedBytes, c.MaxRejectedBytes))
	}
	return errors.Join(errs...)
}

func (c ResultsConfig) withDefaults() ResultsConfig {
	if c.Topic == "" {
		c.Topic = topics.CommandResults
	}
	if c.CommandsTopic == "" {
		c.CommandsTopic = topics.Commands
	}
	if c.LookBack == 0 {
		c.LookBack = DefaultLookBack
	}
	if c.MaxResults == 0 {
		c.MaxResults = DefaultMaxResults
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxAcceptedBytes == 0 {
		c.MaxAcceptedBytes = DefaultMaxAcceptedBytes
	}
	if c.MaxRejectedBytes == 0 {
		c.MaxRejectedBytes = DefaultMaxRejectedBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ErrStopped is returned by Wait when Run has ended before the outcome
// arrived.
var ErrStopped = errors.New("commandbus: results reader stopped")

// StatePending is the state of a command sent but not yet decided; the
// decided states are schemas.StatusAccepted and schemas.StatusRejected.
const StatePending = "pending"

// Status is what is known of one command.
type Status struct {
	CommandID string
	ProductID string
	// State is StatePending, schemas.StatusAccepted or
	// schemas.StatusRejected.
	State string
	// Result is the outcome when State is not pending.
	Result schemas.CommandResult
}

// Results follows the results topic from every partition (no consumer
// group: every API instance needs every outcome), read_committed, so it
// sees an outcome exactly when the decider's transaction that wrote it
// committed. It keeps the latest outcomes in a bounded map, wakes waiters,
// and tracks pending commands (see the package documentation).
//
// Run it in its own goroutine; the other methods are safe for concurrent
// use, also before Run has caught up (they then know less).
type Results struct {
	cfg ResultsConfig
	dec ResultDecoder
	log *slog.Logger

	running atomic.Bool
	ready   chan struct{}
	stopped chan struct{}

	mu      sync.Mutex
	results outcomes
	pending *bounded[string]    // command ID → product ID
	claimed *bounded[time.Time] // command ID → when this process's Sender claimed it, for Decided
	waiters map[string][]chan schemas.CommandResult
	// delivered holds the commands whose outcome held came from Deliver
	// and has not been read from the topic yet.
	delivered *bounded[struct{}]
	// bindings maps a key ID to the command that first used the key, from
	// the commands topic and this process's sends; claims holds the keys
	// this process is writing now.
	bindings *bounded[KeyBinding]
	claims   map[string]Claim

	seen, undecodable atomic.Int64
	// deliveredN and readN count the outcomes first known from Deliver,
	// and from the topic once live.
	deliveredN, readN atomic.Int64
}

// NewResults returns a results reader; call Run.
func NewResults(cfg ResultsConfig, dec ResultDecoder) (*Results, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dec == nil {
		return nil, errors.New("commandbus: results: nil decoder")
	}
	cfg = cfg.withDefaults()
	return &Results{
		cfg:       cfg,
		dec:       dec,
		log:       cfg.Logger,
		ready:     make(chan struct{}),
		stopped:   make(chan struct{}),
		results:   newOutcomes(cfg.MaxAcceptedBytes, cfg.MaxRejectedBytes),
		pending:   newBounded[string](cfg.MaxPending),
		claimed:   newBounded[time.Time](cfg.MaxPending),
		delivered: newBounded[struct{}](cfg.MaxPending),
		waiters:   make(map[string][]chan schemas.CommandResult),
		bindings:  newBounded[KeyBinding](cfg.MaxResults),
		claims:    make(map[string]Claim),
	}, nil
}

// Ready is closed once Run has read what the topics held when it started
// (from the look-back on), so that Lookup and Status answer for commands
// decided before a restart.
func (r *Results) Ready() <-chan struct{} { return r.ready }

// Lookup returns the latest outcome of commandID, if known.
func (r *Results) Lookup(commandID string) (schemas.CommandResult, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results.get(commandID)
}

// Status returns what is known of commandID: its outcome, or that it is
// pending; false when neither.
func (r *Results) Status(commandID string) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := r.results.get(commandID); ok {
		return Status{CommandID: commandID, ProductID: res.ProductID, State: res.Status, Result: res}, true
	}
	if pid, ok := r.pending.get(commandID); ok {
		return Status{CommandID: commandID, ProductID: pid, State: StatePending}, true
	}
	return Status{}, false
}

// Track notes commandID of productID as pending (Kafka has it), unless its
// outcome is known already.
func (r *Results) Track(commandID, productID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trackLocked(commandID, productID)
}

func (r *Results) trackLocked(commandID, productID string) {
	if _, ok := r.results.get(commandID); ok {
		return
	}
	r.pending.put(commandID, productID)
}

// KeyBinding is the command an Idempotency-Key was first used for.
type KeyBinding struct {
	CommandID string
	// Fingerprint is Request.Fingerprint of the request; "" when it was
	// sent without one (then nothing is checked against it).
	Fingerprint string
	// Writing says that this process is writing the command to Kafka now:
	// it is not pending yet, and may still fail.
	Writing bool
}

// Matches reports whether a request with fingerprint may use the key: the
// same request, or one of the two fingerprints unknown.
func (b KeyBinding) Matches(fingerprint string) bool {
	return b.Fingerprint == "" || fingerprint == "" || b.Fingerprint == fingerprint
}

// Bound returns what the key with keyID (KeyID) is bound to: the command
// this process is writing for it, or the first command with it read from
// the commands topic or sent from here; false when neither.
func (r *Results) Bound(keyID string) (KeyBinding, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.claims[keyID]; ok {
		return KeyBinding{CommandID: c.CommandID, Fingerprint: c.Fingerprint, Writing: true}, true
	}
	return r.bindings.get(keyID)
}

// Claim implements Tracker: a keyed command is refused with ErrInFlight
// while its key is being written from this process, and with ErrKeyReused
// when its key is bound to another request.
func (r *Results) Claim(c Claim) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.KeyID == "" {
		r.noteClaimLocked(c)
		return nil
	}
	if w, ok := r.claims[c.KeyID]; ok {
		if !(KeyBinding{Fingerprint: w.Fingerprint}).Matches(c.Fingerprint) || w.CommandID != c.CommandID {
			return ErrKeyReused
		}
		return ErrInFlight
	}
	if b, ok := r.bindings.get(c.KeyID); ok && (!b.Matches(c.Fingerprint) || b.CommandID != c.CommandID) {
		return ErrKeyReused
	}
	r.claims[c.KeyID] = c
	r.noteClaimLocked(c)
	return nil
}

// noteClaimLocked remembers when c was claimed, for Decided.
func (r *Results) noteClaimLocked(c Claim) {
	if r.cfg.Decided != nil && c.CommandID != "" {
		r.claimed.put(c.CommandID, time.Now())
	}
}

// Release implements Tracker: a written command is pending and binds its
// key; an unwritten one frees its key.
func (r *Results) Release(c Claim, written bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.claims[c.KeyID]; ok && w.CommandID == c.CommandID {
		delete(r.claims, c.KeyID)
	}
	if !written {
		r.claimed.delete(c.CommandID)
		return
	}
	r.trackLocked(c.CommandID, c.ProductID)
	if c.KeyID != "" {
		r.bindLocked(c.KeyID, KeyBinding{CommandID: c.CommandID, Fingerprint: c.Fingerprint})
	}
}

// bindLocked keeps the first binding of a key: a later command with it
// can only be a retry, or a reuse from another instance that raced the
// first before either was read here.
func (r *Results) bindLocked(keyID string, b KeyBinding) {
	if old, ok := r.bindings.get(keyID); ok && old.Fingerprint != "" {
		return
	}
	if res, ok := r.results.get(b.CommandID); ok && res.Fingerprint != "" {
		b.Fingerprint = res.Fingerprint // decided already, for this request (see rebindLocked)
	}
	r.bindings.put(keyID, b)
}

// Wait returns the outcome of commandID as soon as it is known, at once
// when it is known already. It returns ctx's error when ctx ends first
// (the API then answers 202) and ErrStopped when Run has ended.
func (r *Results) Wait(ctx context.Context, commandID string) (schemas.CommandResult, error) {
	r.mu.Lock()
	if res, ok := r.results.get(commandID); ok {
		r.mu.Unlock()
		return res, nil
	}
	ch := make(chan schemas.CommandResult, 1)
	r.waiters[commandID] = append(r.waiters[commandID], ch)
	r.mu.Unlock()

	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		r.dropWaiter(commandID, ch)
		return schemas.CommandResult{}, ctx.Err()
	case <-r.stopped:
		r.dropWaiter(commandID, ch)
		select {
		case res := <-ch: // arrived while stopping
			return res, nil
		default:
		}
		return schemas.CommandResult{}, ErrStopped
	}
}

func (r *Results) dropWaiter(commandID string, ch chan schemas.CommandResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ws := r.waiters[commandID]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(r.waiters, commandID)
	} else {
		r.waiters[commandID] = ws
	}
}

// addLocked records an outcome and wakes its waiters.
func (r *Results) addLocked(res schemas.CommandResult) {
	r.settleClaimLocked(res)
	r.results.put(res.CommandID, res)
	r.pending.delete(res.CommandID)
	for _, ch := range r.waiters[res.CommandID] {
		ch <- res // buffered, one send per waiter
	}
	delete(r.waiters, res.CommandID)
}

// settleClaimLocked tells Decided of res if this process's Sender claimed
// its command.
func (r *Results) settleClaimLocked(res schemas.CommandResult) {
	if at, ok := r.claimed.get(res.CommandID); ok {
		r.claimed.delete(res.CommandID)
		r.cfg.Decided(res.Status, time.Since(at))
	}
}

// outcomes keeps accepted and rejected outcomes in two byte budgets, so
// that neither kind can push out the other (see
// ResultsConfig.MaxRejectedBytes).
type outcomes struct {
	accepted, rejected *bounded[schemas.CommandResult]
}

func newOutcomes(acceptedBytes, rejectedBytes int64) outcomes {
	size := func(_ string, res schemas.CommandResult) int64 { return ResultBytes(res) }
	return outcomes{
		accepted: newBoundedBytes(acceptedBytes, size),
		rejected: newBoundedBytes(rejectedBytes, size),
	}
}

func (o outcomes) get(commandID string) (schemas.CommandResult, bool) {
	if res, ok := o.accepted.get(commandID); ok {
		return res, true
	}
	return o.rejected.get(commandID)
}

func (o outcomes) put(commandID string, res schemas.CommandResult) {
	keep, other := o.accepted, o.rejected
	if res.Status != schemas.StatusAccepted {
		keep, other = o.rejected, o.accepted
	}
	other.delete(commandID)
	keep.put(commandID, res)
}

func (o outcomes) len() int { return o.accepted.len() + o.rejected.len() }

// ResultsStats are counters of a Results.
type ResultsStats struct {
	Results     int   // outcomes held
	ResultBytes int64 // their memory, as ResultBytes counts it
	Pending     int   // pending commands held
	Bindings    int   // idempotency keys bound
	Writing     int   // keyed commands being written from this process
	Waiters     int   // commands someone waits for
	Seen        int64 // result records read
	Undecodable int64 // result records that did not decode (skipped)
	// Delivered and Read count the outcomes by where this reader learnt
	// each first: from this process's decider (Deliver), or from the
	// results topic once caught up (the start's catch-up not counted).
	Delivered, Read int64
}

// Stats returns the current counters.
func (r *Results) Stats() ResultsStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ResultsStats{
		Results: r.results.len(), ResultBytes: r.results.accepted.bytes + r.results.rejected.bytes, Pending: r.pending.len(), Waiters: len(r.waiters),
		Bindings: r.bindings.len(), Writing: len(r.claims),
		Seen: r.seen.Load(), Undecodable: r.undecodable.Load(), Delivered: r.deliveredN.Load(), Read: r.readN.Load(),
	}
}

// ResultsFetchMaxWait bounds how long the broker holds an empty fetch of
// the results. A read_committed fetch is not always answered when the
// commit markers land (measured here: now and then a fetch waited its
// whole bound after the decider's commit), so the bound is what such a
// command's Prefer: wait pays on top of the decision. At 25 ms an idle
// reader sends 40 small fetches a second; bench api measured p50 452 ms
// with 500 ms here against 283 ms with 25 ms, at 100 commands/s.
const ResultsFetchMaxWait = 25 * time.Millisecond

// Run reads until ctx ends; it returns nil then, or an error when it cannot
// start (a topic is missing). Run may be called once.
func (r *Results) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("commandbus: results: Run called twice")
	}
	defer close(r.stopped)

	opts := append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.FetchMaxWait(ResultsFetchMaxWait),
	}, r.cfg.ClientOpts...)
	readOpts := opts
	if r.cfg.ReadOpts != nil {
		readOpts = append([]kgo.Opt{kgo.SeedBrokers(r.cfg.Brokers...), kgo.FetchMaxWait(ResultsFetchMaxWait)}, r.cfg.ReadOpts...)
	}
	cl, err := kgo.NewClient(append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return fmt.Errorf("commandbus: results client: %w", err)
	}
	defer cl.Close()

	names := []string{r.cfg.Topic}
	if r.cfg.CommandsTopic != "-" {
		// Commands first: each comes before its result, as when live.
		names = []string{r.cfg.CommandsTopic, r.cfg.Topic}
	}
	var starts, ends kadm.ListedOffsets
	adm := kadm.NewClient(cl)
	var deadline time.Time // of the wait for the topics, from the first answer without them
	retry := positionsRetry.Start()
listing:
	for {
		starts, ends, err = r.positions(ctx, adm, names)
		var kafkaErr *kerr.Error
		switch {
		case err == nil || ctx.Err() != nil:
			break listing
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			// A topic just created may take a moment to show up
			// everywhere; one that never does is a setting (topics
			// apply).
			if deadline.IsZero() {
				deadline = time.Now().Add(topicWait)
			}
			if time.Now().After(deadline) || !backoff.Sleep(ctx, 250*time.Millisecond) {
				break listing
			}
		case errors.As(err, &kafkaErr) && !kafkaErr.Retriable:
			// Refused (authorization, say): waiting will not help.
			break listing
		default:
			// The broker is down or not reachable yet: waited for, as
			// the decider and the projectors wait.
			r.log.Warn("command results reader: kafka does not answer yet; trying again", "err", err, "attempt", retry.Attempt()+1)
			if !backoff.Sleep(ctx, retry.Next()) {
				break listing
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.log.Info("command results reader started", logkey.Topic, r.cfg.Topic, "commands_topic", r.cfg.CommandsTopic, "look_back", r.cfg.LookBack)

	// Catch up: read each topic from the look-back to where it ended at
	// start, then Ready; then follow from there. A results partition is
	// read from its last MaxResults records at most: what came before
	// would be read only to be forgotten (a busy day's 17 M records took
	// some 40 s, during which keyed commands wait). Not a commands
	// partition: MaxResults bounds the keys' bindings, and its last
	// MaxResults records may hold far fewer keyed commands than that (the
	// others unkeyed), whose bindings a restart would forget.
	began := time.Now()
	for _, topic := range names {
		spans := map[int32]topics.Span{}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Topic == topic {
				s, _ := starts.Lookup(o.Topic, o.Partition)
				from := min(s.Offset, o.Offset)
				if topic == r.cfg.Topic {
					from = max(from, o.Offset-int64(r.cfg.MaxResults))
				}
				spans[o.Partition] = topics.Span{From: from, To: o.Offset}
			}
		})
		err := topics.ReadBounded(ctx, readOpts, topic, spans, func(recs []*kgo.Record) error {
			for _, rec := range recs {
				// The offsets listed by time may start below the look-back:
				// a broker finds the first batch whose largest timestamp
				// reaches it, and a transaction's marker is stamped when it
				// is written, after records stamped earlier.
				if r.cfg.LookBack < 0 || !rec.Timestamp.Before(began.Add(-r.cfg.LookBack)) {
					r.handle(rec)
				}
			}
			return nil
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("commandbus: catch up: %w", err)
		}
	}
	close(r.ready)
	r.log.Info("command results reader caught up", logkey.Topic, r.cfg.Topic, "took", time.Since(began), "results", r.Stats().Results)

	live := ends.KOffsets()
	if cmds, ok := live[r.cfg.CommandsTopic]; ok {
		// The commands go to a client of their own that fetches them in
		// bulk: in one client with the results, every command sent woke
		// the shared fetch, a fetch a command (most of the broker's fetch
		// requests at 1,000 commands/s), while a Prefer: wait needs only
		// the results to be read at once.
		delete(live, r.cfg.CommandsTopic)
		// readOpts: it runs beside cl, whose hooks may belong to one
		// client only.
		ccl, err := kgo.NewClient(append(slices.Clip(readOpts), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.FetchMaxWait(CommandsFetchMaxWait), kgo.FetchMinBytes(commandsFetchMinBytes))...)
		if err != nil {
			return fmt.Errorf("commandbus: commands client: %w", err)
		}
		defer ccl.Close()
		ccl.AddConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.CommandsTopic: cmds})
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { r.follow(ctx, ccl) })
	}
	cl.AddConsumePartitions(live)
	r.follow(ctx, cl)
	return nil
}

// CommandsFetchMaxWait bounds how long the broker holds a fetch of the
// commands topic (the results reader's second client) for
// commandsFetchMinBytes to gather: how late this process may learn of a
// command another instance sent, as pending and as its Idempotency-Key's
// binding. Its own sends it knows at once.
const CommandsFetchMaxWait = 25 * time.Millisecond

// commandsFetchMinBytes is what a fetch of the commands waits to gather
// (some 70 commands) unless CommandsFetchMaxWait passes first.
const commandsFetchMinBytes = 32 << 10

// follow hands the records cl fetches to handle until ctx ends or cl is
// closed.
func (r *Results) follow(ctx context.Context, cl *kgo.Client) {
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			r.log.Warn("fetch error", logkey.Topic, topic, logkey.Partition, partition, "err", err)
		})
		fetches.EachRecord(r.handle)
	}
}

func (r *Results) handle(rec *kgo.Record) {
	if rec.Attrs.IsControl() {
		return
	}
	if rec.Topic != r.cfg.Topic {
		// A command: note it as pending from its headers.
		if id := producers.Header(rec, HeaderCommandID); id != "" {
			r.mu.Lock()
			r.trackLocked(id, string(rec.Key))
			if key := producers.Header(rec, HeaderKeyID); key != "" {
				r.bindLocked(key, KeyBinding{CommandID: id, Fingerprint: producers.Header(rec, HeaderFingerprint)})
			}
			r.mu.Unlock()
		}
		return
	}
	r.seen.Add(1)
	res, err := r.dec.DecodeResult(rec.Value)
	if err != nil || res.CommandID == "" {
		r.undecodable.Add(1)
		r.log.Warn("skipping undecodable command result", logkey.Topic, rec.Topic, logkey.Partition, rec.Partition, logkey.Offset, rec.Offset,
			logkey.AggregateID, string(rec.Key), "err", err)
		return
	}
	res.Fingerprint = producers.Header(rec, HeaderFingerprint)
	if r.take(res, false) && r.live() {
		r.readN.Add(1)
	}
}

// Deliver takes outcomes that a decider in this process has committed
// (decider.Config.Outcomes): what this reader will read from the results
// topic a fetch later, when the commit markers have landed. Their waiters
// are answered now; the same outcomes read later change nothing. It does
// not keep the slice.
func (r *Results) Deliver(results []schemas.CommandResult) {
	for _, res := range results {
		if r.take(res, true) {
			r.deliveredN.Add(1)
		}
	}
}

// live reports whether Run has caught up.
func (r *Results) live() bool {
	select {
	case <-r.ready:
		return true
	default:
		return false
	}
}

// take records res, delivered by this process's decider (local) or read
// from the topic, unless this reader holds it already; it tells Read
// first, and reports whether res was new. An outcome held is replaced by
// another decision of its command (the decider had forgotten the first),
// except by an older one read from the topic behind a newer one delivered
// here: the topic brings a command's decisions in order, Deliver may come
// ahead of them.
func (r *Results) take(res schemas.CommandResult, local bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rebindLocked(res)
	if known, ok := r.results.get(res.CommandID); ok {
		_, delivered := r.delivered.get(res.CommandID)
		switch {
		case sameOutcome(known, res):
			if !local {
				r.delivered.delete(res.CommandID) // the topic has caught up with it
			}
			r.settleClaimLocked(res) // a retry claimed after the outcome came
			return false
		case !local && delivered && res.DecidedAt.Before(known.DecidedAt):
			return false
		}
	}
	if r.cfg.Read != nil && r.live() {
		r.cfg.Read(time.Since(res.DecidedAt))
	}
	r.addLocked(res)
	if local {
		r.delivered.put(res.CommandID, struct{}{})
	} else {
		r.delivered.delete(res.CommandID)
	}
	return true
}

// rebindLocked binds res's Idempotency-Key to the request its command was
// decided for (res.Fingerprint), the decider's word: it overrides a
// binding to another request of the same command, which this reader took
// from the commands topic (or its own send) after it had forgotten the
// key, so that a retry of the first request is answered and the other
// request's refused.
func (r *Results) rebindLocked(res schemas.CommandResult) {
	if res.IdempotencyKey == "" || res.Fingerprint == "" {
		return
	}
	key := KeyID(res.IdempotencyKey)
	if b, ok := r.bindings.get(key); ok && b.CommandID == res.CommandID && b.Fingerprint != res.Fingerprint {
		r.bindings.put(key, KeyBinding{CommandID: res.CommandID, Fingerprint: res.Fingerprint})
	}
}

// sameOutcome reports whether a and b are one decision: a result record
// and the outcome delivered before it, or a retried command's repeated
// answer. A command decided anew (its first outcome forgotten by the
// decider) has another decision time.
func sameOutcome(a, b schemas.CommandResult) bool {
	return a.Status == b.Status && a.Version == b.Version && a.Code == b.Code && a.DecidedAt.Equal(b.DecidedAt)
}

// topicWait bounds how long Run waits for its topics to show up.
const topicWait = 15 * time.Second

// positionsRetry spaces Run's attempts to reach a broker that does not
// answer at its start.
var positionsRetry = backoff.Policy{Min: 250 * time.Millisecond, Max: 10 * time.Second}

// positions lists where to start reading (the look-back) and where the
// topics end now (for Ready). The ends are listed first: a listing by time
// that finds no record falls back to the end offset at its own time, which
// may be past a record that landed since; a start past the end listed
// before is taken as that end, and the record is read.
func (r *Results) positions(ctx context.Context, adm *kadm.Client, names []string) (starts, ends kadm.ListedOffsets, err error) {
	ends, err = adm.ListCommittedOffsets(ctx, names...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("commandbus: list end offsets of %v: %w", names, err)
	}
	if r.cfg.LookBack < 0 {
		starts, err = adm.ListStartOffsets(ctx, names...)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-r.cfg.LookBack).UnixMilli(), names...)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("commandbus: list offsets of %v: %w", names, err)
	}
	return starts, ends, nil
}
