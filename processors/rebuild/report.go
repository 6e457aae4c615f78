package rebuild

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/topics"
)

// Generation states in a report.
const (
	StateLive     = "live"
	StateBuilding = "building"
	StateHandover = "handover" // building, caught up, swapping
	StateRetiring = "retiring" // replaced, its documents not yet removed
	// StateUnreachable is a projection whose store did not say its
	// generations (GenerationReport.Error says why): the others are
	// still reported.
	StateUnreachable = "unreachable"
)

// GenerationReport is one generation of one projection, as GET
// /v1/projections and `streamview projections` show it.
type GenerationReport struct {
	Projection string                    `json:"projection"`
	Generation int                       `json:"generation"`
	State      string                    `json:"state"`
	Group      string                    `json:"group"`
	Consumers  int                       `json:"consumers"` // live members of the group
	Partitions []processors.PartitionLag `json:"partitions"`
	Lag        int64                     `json:"lag"`
	// RatePerSec is records per second: from the processor when it runs in
	// the reporting process (over its last processors.RateWindow), else
	// measured from the group's committed offsets (ReportConfig.Rates,
	// ReportConfig.Sample), else a rebuild's recorded rate. Nil (absent
	// from the JSON) when unknown: no earlier report to measure from yet,
	// or a retiring generation, which reads nothing.
	RatePerSec   *float64 `json:"ratePerSecond,omitempty"`
	DeadLettered int64    `json:"deadLettered"` // the records this generation dead-lettered, each once
	// DeadLetteredPartial is true when counting the dead-letter topic
	// took longer than the report could wait: DeadLettered is then a
	// lower bound.
	DeadLetteredPartial bool `json:"deadLetteredPartial,omitempty"`
	// Applied and LastBatch come from a processor in the reporting process
	// (its events applied since it started): absent in a process that does
	// not run the generation's projector.
	Applied   int64      `json:"applied,omitempty"`
	LastBatch *time.Time `json:"lastBatch,omitempty"`
	// Error is why a projection is StateUnreachable.
	Error string `json:"error,omitempty"`
	// Build is the progress of a generation being built.
	Build *BuildReport `json:"build,omitempty"`
}

// BuildReport is a rebuild's recorded progress.
type BuildReport struct {
	Replaces int       `json:"replaces"`
	Done     int64     `json:"done"`  // records consumed
	Total    int64     `json:"total"` // records in the log
	Percent  int64     `json:"percent"`
	LeftSec  float64   `json:"secondsLeft,omitempty"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
}

// Source is one projection to report on.
type Source struct {
	// Target gives the name and the live generation.
	Target interface {
		Name() string
		Live(ctx context.Context) (int, error)
	}
	// Control is the projection's rebuild state; nil: none is shown.
	Control *Control
	// DeadLetterTopic defaults to topics.DeadLetter(name).
	DeadLetterTopic string
}

// ReportConfig says where to look.
type ReportConfig struct {
	// Topic is the events topic; topics.Events when empty.
	Topic string
	// Sample, when positive, measures the rate of generations that do not
	// run in this process from their committed offsets over this long:
	// the report waits for it.
	Sample time.Duration
	// Rates, when set, measures the rate of generations that do not run
	// in this process from their committed offsets since an earlier report
	// made with it: a report made often (the API's, polled by the console)
	// keeps one. Nil: no such rate.
	Rates *Rates
	// Local returns the stats of the processor of generation gen of
	// projection name when it runs in this process.
	Local func(name string, gen int) (processors.Stats, bool)
	// Letters counts the dead-letter topics; a report made often (the API's,
	// polled by the console) keeps one, so that each reads only the
	// letters since the last. Nil counts every topic whole.
	Letters *deadletter.Counts
}

// Report describes every live and building generation of sources. cl is a
// plain client (not a group member) on the cluster.
func Report(ctx context.Context, cl *kgo.Client, cfg ReportConfig, sources ...Source) ([]GenerationReport, error) {
	if cfg.Topic == "" {
		cfg.Topic = topics.Events
	}
	adm := kadm.NewClient(cl)
	out := []GenerationReport{}
	dlqs := map[string]map[string]int64{} // topic → group → count
	partial := map[string]bool{}          // topics whose count ran out of time
	letters := cfg.Letters
	if letters == nil {
		letters = new(deadletter.Counts)
	}
	var remote []int // the generations whose processor runs elsewhere, in out
	for _, src := range sources {
		name := src.Target.Name()
		sctx, cancel := storeContext(ctx)
		live, err := src.Target.Live(sctx)
		cancel()
		if err != nil {
			out = append(out, GenerationReport{Projection: name, State: StateUnreachable, Partitions: []processors.PartitionLag{}, Error: fmt.Sprintf("live generation: %v", err)})
			continue
		}
		var st State
		var building bool
		if src.Control != nil {
			sctx, cancel := storeContext(ctx)
			st, building, err = src.Control.Load(sctx)
			cancel()
			if err != nil {
				out = append(out, GenerationReport{Projection: name, State: StateUnreachable, Partitions: []processors.PartitionLag{}, Error: fmt.Sprintf("rebuild state: %v", err)})
				continue
			}
		}
		type gen struct {
			n     int
			state string
		}
		var gens []gen
		if live > 0 {
			gens = append(gens, gen{live, StateLive})
		}
		if building {
			switch {
			case st.Generation == live && st.From != live:
				gens = append(gens, gen{st.From, StateRetiring})
			case st.Generation != live && st.Phase == Handover:
				gens = append(gens, gen{st.Generation, StateHandover})
			case st.Generation != live:
				gens = append(gens, gen{st.Generation, StateBuilding})
			}
		}
		dlq := src.DeadLetterTopic
		if dlq == "" {
			dlq = topics.DeadLetter(name)
		}
		if _, ok := dlqs[dlq]; !ok {
			// A dead-letter topic is read whole the first time (and
			// only what is new after, with cfg.Letters): one of
			// millions of letters gets part of the time, and the count
			// so far.
			cctx, cancel := storeContext(ctx)
			dlqs[dlq], err = countLetters(letters, cctx, cl, dlq)
			cancel()
			if err != nil && cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
				partial[dlq], err = true, nil
			}
			if err != nil {
				return nil, err
			}
		}
		for _, g := range gens {
			r := GenerationReport{Projection: name, Generation: g.n, State: g.state, Group: processors.GroupName(name, g.n), Partitions: []processors.PartitionLag{}}
			// A retiring generation reads nothing: its group is deleted
			// at the swap, and a lag of the whole log would look like
			// an incident.
			var read time.Time // when the committed offsets were read
			if g.state != StateRetiring {
				if r.Partitions, err = processors.Lag(ctx, adm, r.Group, cfg.Topic); err != nil {
					return nil, err
				}
				read = time.Now()
			}
			for _, p := range r.Partitions {
				r.Lag += p.Lag
			}
			ms, err := members(ctx, adm, r.Group)
			if err != nil {
				return nil, err
			}
			r.Consumers = len(ms)
			r.DeadLettered, r.DeadLetteredPartial = dlqs[dlq][r.Group], partial[dlq]
			local := false
			if cfg.Local != nil {
				var s processors.Stats
				if s, local = cfg.Local(name, g.n); local {
					r.RatePerSec, r.Applied = &s.Rate, s.Applied
					if !s.LastBatch.IsZero() {
						r.LastBatch = &s.LastBatch
					}
				}
			}
			if !local && g.state != StateRetiring {
				remote = append(remote, len(out))
				if cfg.Rates != nil {
					if rate, ok := cfg.Rates.Rate(r.Group, read, committedOf(r.Partitions)); ok {
						r.RatePerSec = &rate
					}
				}
			}
			if building && g.n == st.Generation && g.state != StateLive {
				b := &BuildReport{Replaces: st.From, Done: st.Done, Total: st.Total, Started: st.Started, Updated: st.Updated}
				if b.Total > 0 {
					b.Percent = 100 * b.Done / b.Total
				}
				if st.Rate > 0 {
					b.LeftSec = float64(r.Lag) / st.Rate
				}
				r.Build = b
				if rate := st.Rate; rate > 0 && (r.RatePerSec == nil || *r.RatePerSec == 0) {
					r.RatePerSec = &rate
				}
			}
			out = append(out, r)
		}
	}
	if cfg.Sample > 0 {
		if err := sampleRates(ctx, adm, cfg, out, remote); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storeContext bounds a read of one projection's store (its live
// generation, its rebuild state) to half of what is left before ctx's
// deadline, or to maxStoreRead without one: a store that accepts
// connections and never answers makes that projection unreachable, and
// the report still has time for the others and for Kafka.
func storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := maxStoreRead
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/2)
	}
	return context.WithTimeout(ctx, d)
}

// maxStoreRead bounds a store read of a report without a deadline (the
// CLI's).
const maxStoreRead = 10 * time.Second

// committedOf is the committed offset of each partition of ps that has one.
func committedOf(ps []processors.PartitionLag) map[int32]int64 {
	out := make(map[int32]int64, len(ps))
	for _, p := range ps {
		if p.Committed >= 0 {
			out[p.Partition] = p.Committed
		}
	}
	return out
}

// sampleRates measures, over cfg.Sample, the committed progress of the
// generations of rs at idx, which have no processor in this process.
func sampleRates(ctx context.Context, adm *kadm.Client, cfg ReportConfig, rs []GenerationReport, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	sum := func(group string) (int64, error) {
		o, err := committed(ctx, adm, group, cfg.Topic)
		var n int64
		for _, v := range o {
			n += v
		}
		return n, err
	}
	before := make([]int64, len(idx))
	t0 := time.Now()
	for k, i := range idx {
		var err error
		if before[k], err = sum(rs[i].Group); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(cfg.Sample):
	}
	dt := time.Since(t0).Seconds()
	for k, i := range idx {
		after, err := sum(rs[i].Group)
		if err != nil {
			return err
		}
		rate := float64(after-before[k]) / dt
		rs[i].RatePerSec = &rate
	}
	return nil
}

// countLetters is Counts.Count, replaced by tests.
var countLetters = (*deadletter.Counts).Count
