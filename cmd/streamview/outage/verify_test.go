package outage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/netcut"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// errBroken marks a check that failed for good: waiting longer cannot
// mend it (a command decided twice, a version gap).
var errBroken = errors.New("broken")

// checkAnswers holds every answer of the load to the documented ones: a
// command is 200/201/202 or a 503 problem with Retry-After (Kafka did not
// take it within the delivery timeout); a view read or a search is 200 or
// such a 503 (its store did not answer within the query timeout). Every
// answer comes within its configured bound (plus answerMargin): none
// hangs. A 503 is documented whenever a server is slow, so one outside an
// outage is not an error here (a loaded machine makes them); the
// scenarios check for each outage that its part's requests get the 503
// and the others keep working (waitSeen). It returns the 503s outside an
// outage of their part, for the log.
func checkAnswers(t *testing.T, answers []*outcome) (stray int) {
	t.Helper()
	bad := 0
	for _, o := range answers {
		var why string
		switch {
		case o.err != nil:
			why = "no answer"
		case o.took > bound(o.kind, o.wait):
			why = fmt.Sprintf("answered after %v, bound %v: a hang", o.took.Round(time.Millisecond), bound(o.kind, o.wait))
		case o.status == http.StatusServiceUnavailable:
			if o.retryAfter == "" || !o.problem {
				why = "503 without Retry-After or not problem+json"
			}
			part := map[string]string{kindView: "redis", kindSearch: "elasticsearch"}[o.kind]
			if isCommand(o.kind) {
				part = "kafka"
			}
			if !strings.Contains(o.outage, part) {
				stray++
			}
		case isCommand(o.kind):
			if o.status != 200 && o.status != 201 && o.status != 202 {
				why = "want 200, 201, 202 or 503"
			} else if o.commandID == "" {
				why = "no commandId"
			}
		case o.status != 200:
			why = "want 200 or 503"
		}
		if why != "" {
			bad++
			if bad <= 20 {
				t.Errorf("%s: %s", why, o)
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d answers in all were not the documented ones", bad)
	}
	return stray
}

// succeeded reports whether o is a command the API took (2xx).
func succeeded(o *outcome) bool {
	return isCommand(o.kind) && o.err == nil && o.status >= 200 && o.status < 300 && o.commandID != ""
}

// logState is what the run wrote to Kafka, from the offsets at its start.
type logState struct {
	commands map[string]int                     // command ID → records on the commands topic
	results  map[string][]schemas.CommandResult // command ID → results, in offset order
	events   map[string][]schemas.Event         // product ID → events, in offset order
	byCause  map[string]int                     // command ID → events it caused
}

// world is what the outage tests share: the servers, the serve under
// test, the clients that check the stores, and where the run's records
// begin in each topic.
type world struct {
	svc     services
	bin     string
	base    string
	serve   *serveProc
	load    *load
	from    map[string]map[int32]int64 // topic → partition → first offset of the run
	adm     *kadm.Client
	rc      *redis.Client
	es      *elasticsearch.Client
	esProxy *netcut.Proxy // serve's way to Elasticsearch: the blackhole

	mu sync.Mutex // guards created and answers against the probes
	// created are the products the run asked to create (seeds, creates,
	// probes), whether or not the API took them.
	created map[string]bool
	// answers are every scenario's answers so far, retries included.
	answers []*outcome
}

// readTopic reads topic from the run's start to its last stable offset.
// With settled, it first waits until everything written to topic before the
// call can be read committed (topics.StableEnds): a transaction that wrote
// to topic and to another read before is then read whole.
func (w *world) readTopic(ctx context.Context, topic string, settled bool, fn func(r *kgo.Record) error) error {
	spans, err := topics.Spans(ctx, w.adm, topic)
	if err != nil {
		return err
	}
	if settled {
		ends, open, err := topics.StableEnds(ctx, w.adm, topic, nil, 30*time.Second)
		if err != nil {
			return err
		}
		if len(open) > 0 {
			return fmt.Errorf("%s: transactions still open on partitions %v", topic, open)
		}
		for p, e := range ends {
			s := spans[p]
			s.To = e
			spans[p] = s
		}
	}
	for p, s := range spans {
		s.From = max(s.From, w.from[topic][p])
		spans[p] = s
	}
	return topics.ReadBounded(ctx, []kgo.Opt{kgo.SeedBrokers(kafkaAddr)}, topic, spans, func(recs []*kgo.Record) error {
		for _, r := range recs {
			if err := fn(r); err != nil {
				return fmt.Errorf("%s partition %d offset %d: %w", topic, r.Partition, r.Offset, err)
			}
		}
		return nil
	})
}

// readLog reads the run's commands, events and results. The decider writes
// a command's result and its events in one transaction, and may still be
// deciding: the results are read after the events, once everything written
// to them before is settled (topics.StableEnds), so that every event read
// has its result.
func (w *world) readLog(ctx context.Context) (logState, error) {
	codec, err := schemas.NewCodec()
	if err != nil {
		return logState{}, err
	}
	st := logState{commands: map[string]int{}, results: map[string][]schemas.CommandResult{},
		events: map[string][]schemas.Event{}, byCause: map[string]int{}}
	err = w.readTopic(ctx, topics.Commands, false, func(r *kgo.Record) error {
		c, err := codec.DecodeCommand(r.Value)
		if err != nil {
			return err
		}
		st.commands[c.ID]++
		return nil
	})
	if err == nil {
		err = w.readTopic(ctx, topics.Events, false, func(r *kgo.Record) error {
			e, err := codec.DecodeEvent(r.Value)
			if err != nil {
				return err
			}
			st.events[e.AggregateID] = append(st.events[e.AggregateID], e)
			st.byCause[e.Metadata.CausationID]++
			return nil
		})
	}
	if err == nil {
		err = w.readTopic(ctx, topics.CommandResults, true, func(r *kgo.Record) error {
			res, err := codec.DecodeResult(r.Value)
			if err != nil {
				return err
			}
			st.results[res.CommandID] = append(st.results[res.CommandID], res)
			return nil
		})
	}
	return st, err
}

// checkLog checks the log against the answers: every command the API took
// is decided exactly once (one outcome, however often it is answered; one
// event when accepted, none when rejected or a no-op: a price or stock set
// to what it is), accepted, with the version its answer named; no command
// of the run is decided twice or causes two events; every product's
// versions run 1, 2, 3 … without gaps. An error wrapping errBroken is
// final; any other may mend with time (a command not decided yet).
func checkLog(st logState, answers []*outcome, created map[string]bool) error {
	var broken, missing []string
	for cid, rs := range st.results {
		for _, r := range rs[1:] {
			if r.Status != rs[0].Status || r.Version != rs[0].Version || r.Code != rs[0].Code {
				broken = append(broken, fmt.Sprintf("command %s decided twice: %+v and %+v", cid, rs[0], r))
				break
			}
		}
		// An accepted command causes one event, or none when it changes
		// nothing (a price or stock set to what it is: the no-op); a
		// rejected one none.
		limit := 0
		if rs[0].Status == schemas.StatusAccepted {
			limit = 1
		}
		if n := st.byCause[cid]; n > limit {
			broken = append(broken, fmt.Sprintf("command %s (%s, version %d) caused %d events, want at most %d", cid, rs[0].Status, rs[0].Version, n, limit))
		}
	}
	for cid, n := range st.byCause {
		if _, ok := st.results[cid]; !ok {
			broken = append(broken, fmt.Sprintf("%d events caused by command %s, which has no result", n, cid))
		}
	}
	for id := range created {
		for i, e := range st.events[id] {
			if e.Version != int64(i+1) {
				broken = append(broken, fmt.Sprintf("product %s: event %d of its log has version %d: versions are not 1, 2, 3 … without gaps", id, i, e.Version))
				break
			}
		}
	}
	var pending []string
	for _, o := range answers {
		if !succeeded(o) {
			continue
		}
		rs := st.results[o.commandID]
		switch {
		case len(rs) == 0:
			pending = append(pending, o.commandID)
		case rs[0].Status != schemas.StatusAccepted:
			broken = append(broken, fmt.Sprintf("command %s rejected (%s: %s): %s", o.commandID, rs[0].Code, rs[0].Reason, o))
		case o.status != 202 && o.version != rs[0].Version:
			broken = append(broken, fmt.Sprintf("command %s answered version %d, decided %d: %s", o.commandID, o.version, rs[0].Version, o))
		case st.byCause[o.commandID] == 0 && (o.kind == kindCreate || o.kind == kindReview):
			// Never a no-op: its event is in the transaction of its
			// result, but a read of a partition that a slow broker
			// leaves quiet may end early (topics.ReadBounded), so read
			// again before calling it lost.
			missing = append(missing, fmt.Sprintf("%s command %s accepted at version %d has no event", o.kind, o.commandID, rs[0].Version))
		}
	}
	if len(broken) > 0 {
		if len(broken) > 10 {
			broken = append(broken[:10], fmt.Sprintf("… %d problems in all", len(broken)))
		}
		return fmt.Errorf("%w: %s", errBroken, strings.Join(broken, "\n"))
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d decided commands without their events (yet), e.g. %s", len(missing), missing[0])
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d commands the API took are not decided yet, e.g. %s", len(pending), pending[0])
	}
	return nil
}

// checkStores compares every product's Redis view and Elasticsearch
// document with the fold of its events.
func (w *world) checkStores(ctx context.Context, st logState) error {
	views, err := redisview.New(w.rc, redisview.Config{Projection: productview.Name})
	if err != nil {
		return err
	}
	gen, err := views.Live(ctx)
	if err != nil {
		return fmt.Errorf("redis live generation: %w", err)
	}
	reader := productview.NewReader(views)
	ids := make([]string, 0, len(w.created))
	for id := range w.created {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var want productview.View
		for _, e := range st.events[id] {
			want = productview.Fold(want, e)
		}
		got, found, err := reader.GetAt(ctx, gen, id)
		if err != nil {
			return fmt.Errorf("redis view %s: %w", id, err)
		}
		if len(st.events[id]) == 0 {
			// Not final: the decider may have decided the product's
			// create after the log was read, and the view shown it since.
			if found {
				return fmt.Errorf("product %s has a view but no events (yet)", id)
			}
			continue
		}
		if !found || !reflect.DeepEqual(got, want) {
			return fmt.Errorf("redis view %s (found %v) is not the fold of its %d events:\n got %+v\nwant %+v", id, found, len(st.events[id]), got, want)
		}
	}

	reader1, err := esindex.New(w.es, esindex.Config{Generation: 1, Currency: "EUR"})
	if err != nil {
		return err
	}
	sgen, err := reader1.LiveGeneration(ctx)
	if err != nil {
		return fmt.Errorf("elasticsearch live generation: %w", err)
	}
	ix, err := esindex.New(w.es, esindex.Config{Generation: sgen, Currency: "EUR"})
	if err != nil {
		return err
	}
	docs, err := ix.Get(ctx, ids...)
	if err != nil {
		return fmt.Errorf("elasticsearch documents: %w", err)
	}
	for _, id := range ids {
		evs := st.events[id]
		got, found := docs[id]
		if len(evs) == 0 {
			if found {
				return fmt.Errorf("product %s has a search document but no events (yet)", id)
			}
			continue
		}
		want, _, _ := productsearch.FoldAll(productsearch.Doc{}, evs)
		if !found || !indextest.EqualDocs(got, want) {
			return fmt.Errorf("search document %s (found %v) is not the fold of its %d events:\n got %+v\nwant %+v", id, found, len(evs), got, want)
		}
	}
	return nil
}

// settle waits until the log and the stores agree with the answers (see
// checkLog, checkStores), failing at once on a final problem.
func (w *world) settle(t *testing.T, answers []*outcome) logState {
	t.Helper()
	ctx := context.Background()
	var st logState
	start := time.Now()
	eventually(t, 4*time.Minute, func() error {
		w.serve.alive(t)
		var err error
		if st, err = w.readLog(ctx); err != nil {
			return err
		}
		if err := checkLog(st, answers, w.created); err != nil {
			return err
		}
		return w.checkStores(ctx, st)
	})
	nEvents := 0
	for _, evs := range st.events {
		nEvents += len(evs)
	}
	t.Logf("settled in %v: %d commands, %d decided, %d events of %d products; every view and search document is the fold of its events",
		time.Since(start).Round(100*time.Millisecond), len(st.commands), len(st.results), nEvents, len(w.created))
	return st
}

// eventually is testenv.Eventually that stops at once on errBroken.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if errors.Is(err, errBroken) || time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout-time.Until(deadline), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
