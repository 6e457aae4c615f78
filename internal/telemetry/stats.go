package telemetry

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// ProjectionStats are one projection generation's counters, read at each
// scrape from the runner (processors.Runner.Stats) and its sink.
type ProjectionStats struct {
	Projection string
	Generation int
	// Records are the records consumed and committed; Applied the events
	// stored; Duplicates the events the sink skipped because it had their
	// version already; DeadLettered the records sent to the dead-letter
	// topic; Retries the failed sink calls retried.
	Records, Applied, Duplicates, DeadLettered, Retries int64
	// Offsets are the committed offsets and HighWatermarks the partitions'
	// end offsets: their difference is the lag.
	Offsets, HighWatermarks map[int32]int64
}

// DeciderStats are the decider's counters (decider.Stats), read at each
// scrape.
type DeciderStats struct {
	Accepted, Rejected, Duplicates, Undecodable, Events int64
	Partitions                                          int
}

// OutcomeStats count the command outcomes the API's results reader took,
// by where it learnt each first (commandbus.ResultsStats Delivered and
// Read), read at each scrape.
type OutcomeStats struct {
	Decider, Topic int64
}

// NotifierStats are the notifier's counters (webhook.Stats), read at each
// scrape.
type NotifierStats struct {
	Events, Queued, Delivered, Failed, DeadLettered, Undecodable, Restored, Stale, Trimmed, Dropped int64
}

// WatchNotifier makes each scrape report what stats returns.
func (t *Telemetry) WatchNotifier(stats func() NotifierStats) {
	t.mu.Lock()
	t.notifier = stats
	t.mu.Unlock()
}

// WatchOutcomes makes each scrape report what stats returns.
func (t *Telemetry) WatchOutcomes(stats func() OutcomeStats) {
	t.mu.Lock()
	t.outcomes = stats
	t.mu.Unlock()
}

// WatchProjections makes each scrape report what stats returns: the
// projection generations running now (a rebuild changes them).
func (t *Telemetry) WatchProjections(stats func() []ProjectionStats) {
	t.mu.Lock()
	t.projections = stats
	t.mu.Unlock()
}

// WatchDecider makes each scrape report what stats returns.
func (t *Telemetry) WatchDecider(stats func() DeciderStats) {
	t.mu.Lock()
	t.decider = stats
	t.mu.Unlock()
}

var (
	projLabels     = []string{"projection", "generation"}
	descRecords    = prometheus.NewDesc(Namespace+"_projection_records_total", "Records consumed and committed by a projection generation (transaction markers not counted).", projLabels, nil)
	descApplied    = prometheus.NewDesc(Namespace+"_projection_events_applied_total", "Events a projection generation stored in its sink.", projLabels, nil)
	descDuplicates = prometheus.NewDesc(Namespace+"_projection_events_duplicate_total", "Events a projection's sink skipped because the stored document had their version already (redelivery, replay).", projLabels, nil)
	descDead       = prometheus.NewDesc(Namespace+"_projection_dead_letters_total", "Records a projection generation sent to its dead-letter topic.", projLabels, nil)
	descRetries    = prometheus.NewDesc(Namespace+"_projection_retries_total", "Failed sink calls of a projection generation that were retried with backoff.", projLabels, nil)
	descLag        = prometheus.NewDesc(Namespace+"_projection_lag_records", "Records of a partition the projection generation has not committed yet: the end offset its last fetch saw minus its committed offset.", append(projLabels, "partition"), nil)
	descDecided    = prometheus.NewDesc(Namespace+"_decider_commands_total", "Command records the decider decided, in committed transactions, by result: accepted, rejected, duplicate (decided before, answered again), undecodable.", []string{"result"}, nil)
	descEvents     = prometheus.NewDesc(Namespace+"_decider_events_total", "Events the decider produced in committed transactions.", nil, nil)
	descOutcomes   = prometheus.NewDesc(Namespace+"_api_outcomes_total", "Command outcomes the API's results reader took, by where it learnt each first: decider (this process's decider, at its commit) or topic (the results topic, after the start's catch-up: another instance's decider, or before the decider here handed it over).", []string{"source"}, nil)
	descPartitions = prometheus.NewDesc(Namespace+"_decider_partitions", "Command partitions whose product state the decider holds now.", nil, nil)
	descNotifier   = []*prometheus.Desc{
		prometheus.NewDesc(Namespace+"_notifier_events_total", "Events the notifier read (read again after a recovery counted again).", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_queued_total", "Notifications the notifier queued: new Webhook-Ids.", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_delivered_total", "Deliveries a receiver answered 2xx.", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_attempts_failed_total", "Delivery attempts that failed (retried later, or dead-lettered).", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_dead_letters_total", "Notifications given up on and sent to the notifier's dead-letter topic.", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_undecodable_total", "Records of the events topic the notifier could not decode (dead-lettered).", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_store_restores_total", "Losses of the notifier's Redis data it recovered: its journal read back into Redis and the log read again.", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_stale_events_total", "Events that could notify, older than the notifier's horizon (--horizon) when read: no notification queued.", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_trimmed_total", "Webhook-Ids delivered or dead-lettered before the horizon that the notifier trimmed from Redis (and its journal).", nil, nil),
		prometheus.NewDesc(Namespace+"_notifier_dropped_total", "Notifications of subscriptions deleted before their delivery, dequeued unsent.", nil, nil),
	}
	projectionDescs = []*prometheus.Desc{descRecords, descApplied, descDuplicates, descDead, descRetries, descLag}
)

// projectionCollector reads the projections' counters at each scrape.
type projectionCollector struct{ t *Telemetry }

func (c projectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range projectionDescs {
		ch <- d
	}
}

func (c projectionCollector) Collect(ch chan<- prometheus.Metric) {
	all, _ := watched(c.t, &c.t.projections)
	for _, s := range all {
		gen := strconv.Itoa(s.Generation)
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), s.Projection, gen)
		}
		counter(descRecords, s.Records)
		counter(descApplied, s.Applied)
		counter(descDuplicates, s.Duplicates)
		counter(descDead, s.DeadLettered)
		counter(descRetries, s.Retries)
		for p, hwm := range s.HighWatermarks {
			lag := max(hwm-s.Offsets[p], 0)
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), s.Projection, gen, strconv.Itoa(int(p)))
		}
	}
}

// deciderCollector reads the decider's counters at each scrape.
type deciderCollector struct{ t *Telemetry }

func (c deciderCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDecided
	ch <- descEvents
	ch <- descPartitions
}

func (c deciderCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := watched(c.t, &c.t.decider)
	if !ok {
		return
	}
	for result, v := range map[string]int64{"accepted": s.Accepted, "rejected": s.Rejected, "duplicate": s.Duplicates, "undecodable": s.Undecodable} {
		ch <- prometheus.MustNewConstMetric(descDecided, prometheus.CounterValue, float64(v), result)
	}
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(s.Partitions))
}

// notifierCollector reads the notifier's counters at each scrape.
type notifierCollector struct{ t *Telemetry }

func (c notifierCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descNotifier {
		ch <- d
	}
}

func (c notifierCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := watched(c.t, &c.t.notifier)
	if !ok {
		return
	}
	for i, v := range []int64{s.Events, s.Queued, s.Delivered, s.Failed, s.DeadLettered, s.Undecodable, s.Restored, s.Stale, s.Trimmed, s.Dropped} {
		ch <- prometheus.MustNewConstMetric(descNotifier[i], prometheus.CounterValue, float64(v))
	}
}

// outcomeCollector reads the API's outcome counters at each scrape.
type outcomeCollector struct{ t *Telemetry }

func (c outcomeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descOutcomes }

func (c outcomeCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := watched(c.t, &c.t.outcomes)
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(descOutcomes, prometheus.CounterValue, float64(s.Decider), "decider")
	ch <- prometheus.MustNewConstMetric(descOutcomes, prometheus.CounterValue, float64(s.Topic), "topic")
}

// watched calls the stats function a Watch* call set in *fn (read under
// t.mu); false when none is set.
func watched[T any](t *Telemetry, fn *func() T) (T, bool) {
	t.mu.Lock()
	stats := *fn
	t.mu.Unlock()
	if stats == nil {
		var zero T
		return zero, false
	}
	return stats(), true
}
