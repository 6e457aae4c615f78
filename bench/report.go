package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/streamview/streamview/internal/thousands"
)

// Target is the share of the smaller raw figure that the Redis projection
// should reach; a Sink may set its own (Report.Target).
const Target = 0.5

// Figure is one timed step: Count items of Unit in Elapsed.
type Figure struct {
	Label   string        // what was measured, for the table
	Unit    string        // what Count counts: "records", "writes", "events"
	Count   int           // items done
	Elapsed time.Duration // time they took
}

// Rate is items per second, 0 for an untimed figure.
func (f Figure) Rate() float64 {
	if f.Elapsed <= 0 {
		return 0
	}
	return float64(f.Count) / f.Elapsed.Seconds()
}

// MarshalJSON adds the rate, so scripts need not divide.
func (f Figure) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Label     string  `json:"label"`
		Unit      string  `json:"unit"`
		Count     int     `json:"count"`
		Seconds   float64 `json:"seconds"`
		PerSecond float64 `json:"perSecond"`
	}{f.Label, f.Unit, f.Count, f.Elapsed.Seconds(), f.Rate()})
}

// Report is the outcome of one run.
type Report struct {
	Sink     string `json:"sink"`  // Sink.Name
	Topic    string `json:"topic"` // the run's events topic (deleted afterwards)
	Events   int    `json:"events"`
	Products int    `json:"products"`
	Batch    int    `json:"batch"`

	// Distribution is the data set's spread over products: "zipf" or
	// "uniform".
	Distribution string `json:"distribution"`
	// Lanes is how many partitions the events are in: the runtime applies
	// that many batches at once, and the raw writes mirror it.
	Lanes int `json:"lanes"`
	// Batches is how many batches the raw writes make: each lane's events
	// cut into batches of Batch. The projection folds as much only when
	// its Apply calls get batches as full (Measured.Applies).
	Batches int `json:"batches"`

	Produce   Figure `json:"produce"`   // making the data set; not a limit
	Consume   Figure `json:"consume"`   // raw limit: bare franz-go consume
	RawSecond Figure `json:"rawSecond"` // another raw figure, shown, not compared with (may be zero)
	// ConsumeCPU is the CPU time the raw consume cost this process and the
	// whole machine.
	ConsumeCPU CPU `json:"consumeCpu"`

	// Measured is the projection and the raw writes beside it: of the
	// median round when the run had several (Rounds).
	Measured

	// DeadLettered and Retries count over every round.
	DeadLettered int64 `json:"deadLettered"` // records the runtime dead-lettered
	Retries      int64 `json:"retries"`      // failed sink attempts the runtime retried

	// Target is the share of the smaller raw rate the projection should
	// reach; Target (0.50) when 0.
	Target float64 `json:"target"`

	// Rounds are the run's rounds when it had more than one (Config.Rounds):
	// each a projection between two runs of the raw writes. Measured is
	// then Round's, the median round's, and Ratio is its ratio: one step's
	// pace on a shared machine moves by more than the differences worth
	// measuring, and the median of several alternations does not ride on
	// one step's luck.
	Rounds []Round `json:"rounds,omitempty"`
	// Round is the number (from 1) of the round Measured is of; 0 when the
	// run had one round.
	Round int `json:"round,omitempty"`
}

// Measured is one projection with the raw writes run just before and just
// after it.
type Measured struct {
	Raw        Figure `json:"raw"`        // raw limit: bare sink writes, the projection's own, at its concurrency
	Projection Figure `json:"projection"` // the runtime with the projection

	// RawAfter is Raw run again after the projection (zero when it was
	// not): on a shared machine the share of CPU a step gets drifts within
	// seconds, so the projection is compared with the raw writes on both
	// sides of it, in their mean time (Limit).
	RawAfter Figure `json:"rawAfter"`

	// RawCPU, ProjectionCPU and RawAfterCPU are the CPU time the raw
	// writes and the projection cost the server (when the sink reports
	// it), this process and the whole machine.
	RawCPU        CPU `json:"rawCpu"`
	ProjectionCPU CPU `json:"projectionCpu"`
	RawAfterCPU   CPU `json:"rawAfterCpu"`

	// InApply is the part of Projection.Elapsed during which at least one
	// Apply of the projection was in flight (mostly the sink); the rest is
	// the runtime's alone: poll, decode, commit.
	InApply time.Duration `json:"inApplyNanos"`
	// FirstApply is when the projection's first Apply began, from its
	// start: joining the group, fetching and decoding the first batch.
	FirstApply time.Duration `json:"firstApplyNanos"`

	Stored int `json:"stored"` // documents the projection stored

	// Applies counts the projection's Apply calls that succeeded (a
	// batch the runtime retried counts once): as many as Batches when the
	// runtime gave it batches as full as the raw writes' (no call holds
	// more than a batch of one partition), more when it gave shorter ones,
	// each folding fewer of a product's events into a write.
	Applies int64 `json:"applies"`
}

// Round is one round of a run.
type Round struct {
	N int `json:"n"`
	Measured
	Ratio float64 `json:"ratio"` // as Report.Ratio, of this round alone
}

// withRound is r with the figures of round rd.
func (r Report) withRound(rd Round) Report {
	r.Measured = rd.Measured
	return r
}

// median sets each round's ratio and makes r the report of the median
// round: the middle one by ratio, the lower of the two middle ones for an
// even number (a verdict should not round up). Rounds are listed when
// there are several; none leaves r as it is.
func (r Report) median(rounds []Round) Report {
	if len(rounds) == 0 {
		return r
	}
	for i := range rounds {
		rounds[i].Ratio = r.withRound(rounds[i]).Ratio()
	}
	byRatio := slices.Clone(rounds)
	slices.SortStableFunc(byRatio, func(a, b Round) int { return cmp.Compare(a.Ratio, b.Ratio) })
	mid := byRatio[(len(byRatio)-1)/2]
	r = r.withRound(mid)
	if len(rounds) > 1 {
		r.Rounds, r.Round = rounds, mid.N
	}
	return r
}

func (r Report) target() float64 {
	if r.Target > 0 {
		return r.Target
	}
	return Target
}

// Limit is the smaller of the two raw figures: what the projection runs
// against. The raw writes count with the mean of their times before and
// after the projection when they ran twice.
func (r Report) Limit() Figure {
	raw := r.RawWrites()
	if raw.Rate() < r.Consume.Rate() {
		return raw
	}
	return r.Consume
}

// RawWrites is the raw writes' figure: Raw, or, when they ran again after
// the projection, the same writes in the mean of the two times.
func (r Report) RawWrites() Figure {
	if r.RawAfter.Elapsed <= 0 || r.RawAfter.Count != r.Raw.Count {
		return r.Raw
	}
	f := r.Raw
	f.Label += ", mean of the runs before and after the projection"
	f.Elapsed = (r.Raw.Elapsed + r.RawAfter.Elapsed) / 2
	return f
}

// Ratio is the projection's rate over the smaller raw rate.
func (r Report) Ratio() float64 {
	l := r.Limit().Rate()
	if l == 0 {
		return 0
	}
	return r.Projection.Rate() / l
}

// MeetsTarget reports whether the projection reached its target share of
// the smaller raw rate.
func (r Report) MeetsTarget() bool { return r.Ratio() >= r.target() }

// Bound is what the machine's CPU says of the projection's figure: what
// consuming and the raw writes cost all processes together (the servers
// included) per event, and so the most a projection that did nothing else
// could reach once every core is busy. It is an estimate on that one
// assumption (CPU is the limit, as on a small machine that runs the servers
// too), printed beside the measured ratio, not a verdict.
type Bound struct {
	Cores int `json:"cores"`
	// Machine CPU per event, in µs: reading a record in the raw consume,
	// making the raw writes of an event (mean of the runs before and
	// after the projection), and the projection's whole work per event.
	Consume    float64 `json:"consumeMicros"`
	Writes     float64 `json:"writesMicros"`
	Projection float64 `json:"projectionMicros"`
	// WritesBusy and ProjectionBusy are the shares of the cores busy
	// during the raw writes and the projection (0 to 1).
	WritesBusy     float64 `json:"writesBusy"`
	ProjectionBusy float64 `json:"projectionBusy"`
	// Ceiling is the highest projection / raw writes ratio a projection
	// could reach that only consumed and made the same writes, all cores
	// busy: the raw writes' time over that projection's, Writes /
	// (WritesBusy × (Consume + Writes)).
	Ceiling float64 `json:"ceiling"`
}

// Bound computes the CPU bound; false when the machine's CPU was not
// measured (not Linux) or a step did not run.
func (r Report) Bound() (Bound, bool) {
	consume, proj := r.ConsumeCPU, r.ProjectionCPU
	raw := r.RawCPU
	n := r.Raw.Count
	if r.RawAfterCPU.Machine > 0 && r.RawAfter.Count > 0 {
		raw.Wall += r.RawAfterCPU.Wall
		raw.Machine += r.RawAfterCPU.Machine
		n += r.RawAfter.Count
	}
	if consume.Machine <= 0 || raw.Machine <= 0 || proj.Machine <= 0 || r.Consume.Count == 0 || n == 0 || r.Projection.Count == 0 || raw.Busy() <= 0 {
		return Bound{}, false
	}
	micros := func(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }
	b := Bound{
		Cores:          raw.Cores,
		Consume:        micros(consume.Machine, r.Consume.Count),
		Writes:         micros(raw.Machine, n),
		Projection:     micros(proj.Machine, r.Projection.Count),
		WritesBusy:     raw.Busy(),
		ProjectionBusy: proj.Busy(),
	}
	b.Ceiling = b.Writes / (b.WritesBusy * (b.Consume + b.Writes))
	return b, true
}

// MarshalJSON adds the ratio, the verdict and the CPU bound.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	var bound *Bound
	if b, ok := r.Bound(); ok {
		bound = &b
	}
	return json.Marshal(struct {
		plain
		Limit       string  `json:"limit"`
		Ratio       float64 `json:"ratio"`
		Target      float64 `json:"target"`
		MeetsTarget bool    `json:"meetsTarget"`
		Bound       *Bound  `json:"cpuBound,omitempty"`
	}{plain(r), r.Limit().Label, r.Ratio(), r.target(), r.MeetsTarget(), bound})
}

// ratioText is ratio in two decimals, or three when two would round it to
// the target it missed (0.899 is not "0.90; target 0.90 NOT met").
func ratioText(ratio, target float64) string {
	t := fmt.Sprintf("%.2f", ratio)
	if ratio < target && t == fmt.Sprintf("%.2f", target) {
		t = fmt.Sprintf("%.3f", ratio)
	}
	return t
}

// WriteTable writes the figures as a table, with the ratio and verdict.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	dist := r.Distribution
	if dist == "" {
		dist = "uniform"
	}
	fmt.Fprintf(&b, "\n%s events of %s products, %s over products, batch %d, %d partitions (lanes), topic %s\n\n",
		thousands.Format(r.Events), thousands.Format(r.Products), dist, r.Batch, r.Lanes, r.Topic)
	if len(r.Rounds) > 1 {
		fmt.Fprintf(&b, "round %d of %d, the median by ratio (all rounds below the table):\n\n", r.Round, len(r.Rounds))
	}
	rows := [][]string{{"step", "count", "", "seconds", "per second", ""}}
	figures := []Figure{r.Consume, r.Raw}
	if r.RawSecond.Count > 0 {
		second := r.RawSecond
		second.Label += " [not compared; ran first]"
		figures = append(figures, second)
	}
	figures = append(figures, r.Projection)
	if r.RawAfter.Count > 0 {
		after := r.RawAfter
		after.Label += " [after the projection]"
		figures = append(figures, after)
	}
	for _, f := range figures {
		rows = append(rows, []string{f.Label, thousands.Format(f.Count), f.Unit, fmt.Sprintf("%.2f", f.Elapsed.Seconds()), thousands.Format(int(f.Rate())), f.Unit + "/s"})
	}
	// Labels and units left, numbers right.
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range rows {
		line := fmt.Sprintf("  %-*s  %*s %-*s  %*s  %*s %s", width[0], row[0], width[1], row[1], width[2], row[2], width[3], row[3], width[4], row[4], row[5])
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	verdict := "met"
	if !r.MeetsTarget() {
		verdict = "NOT met"
	}
	fmt.Fprintf(&b, "\nprojection / smaller raw (%s): %s; target %.2f %s\n", r.Limit().Label, ratioText(r.Ratio(), r.target()), r.target(), verdict)
	if r.Raw.Rate() > 0 && r.Consume.Rate() > 0 {
		fmt.Fprintf(&b, "projection / raw writes: %.2f", r.Projection.Rate()/r.RawWrites().Rate())
		if r.RawAfter.Rate() > 0 {
			fmt.Fprintf(&b, " (%.2f against the run before, %.2f against the run after)", r.Projection.Rate()/r.Raw.Rate(), r.Projection.Rate()/r.RawAfter.Rate())
		}
		fmt.Fprintf(&b, "; projection / raw consume: %.2f\n", r.Projection.Rate()/r.Consume.Rate())
	}
	if len(r.Rounds) > 1 {
		fmt.Fprintf(&b, "rounds (each projection over the smaller raw rate: the consume, or the raw writes just before and after it in the mean of their times; the verdict is the median's):\n")
		for _, rd := range r.Rounds {
			mark := ""
			if rd.N == r.Round {
				mark = "  <- the median, shown above"
			}
			fmt.Fprintf(&b, "  round %d: projection %s %s/s; raw writes %s before, %s after: %s%s\n", rd.N,
				thousands.Format(int(rd.Projection.Rate())), rd.Projection.Unit, thousands.Format(int(rd.Raw.Rate())), thousands.Format(int(rd.RawAfter.Rate())),
				ratioText(rd.Ratio, r.target()), mark)
		}
	}
	for _, c := range []struct {
		step string
		cpu  CPU
		n    int
		unit string
	}{{"raw consume", r.ConsumeCPU, r.Consume.Count, "record"}, {"raw writes", r.RawCPU, r.Raw.Count, "event"}, {"projection", r.ProjectionCPU, r.Projection.Count, "event"}, {"raw writes after", r.RawAfterCPU, r.RawAfter.Count, "event"}} {
		if c.cpu.Wall <= 0 || c.n == 0 {
			continue
		}
		perEvent := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(c.n) }
		fmt.Fprintf(&b, "CPU during %s: this process %.0f%% of a core, %.1f µs CPU/%s", c.step,
			100*c.cpu.Process.Seconds()/c.cpu.Wall.Seconds(), perEvent(c.cpu.Process), c.unit)
		if c.cpu.Server > 0 {
			fmt.Fprintf(&b, "; %s server busy %.0f%% (shared), %.1f µs CPU/%s", r.Sink,
				100*c.cpu.Server.Seconds()/c.cpu.Wall.Seconds(), perEvent(c.cpu.Server), c.unit)
		}
		if c.cpu.Machine > 0 {
			fmt.Fprintf(&b, "; machine %.0f%% of %d cores busy, %.1f µs CPU/%s", 100*c.cpu.Busy(), c.cpu.Cores, perEvent(c.cpu.Machine), c.unit)
			if c.cpu.Steal > 0 {
				fmt.Fprintf(&b, " (%.0f%% of a core stolen)", 100*c.cpu.Steal.Seconds()/c.cpu.Wall.Seconds())
			}
		}
		b.WriteString("\n")
	}
	if bd, ok := r.Bound(); ok {
		fmt.Fprintf(&b, "CPU bound (all processes, %d cores): a record consumed costs %.1f µs, an event's raw writes %.1f µs with %.0f%% of the cores busy; "+
			"a projection that only consumed and made those writes would need %.1f µs/event, so with every core busy it reaches at most %.2f of the raw writes' rate (an estimate: CPU the limit). "+
			"This projection used %.1f µs/event (%.1f more) with %.0f%% busy\n",
			bd.Cores, bd.Consume, bd.Writes, 100*bd.WritesBusy, bd.Consume+bd.Writes, bd.Ceiling, bd.Projection, bd.Projection-bd.Consume-bd.Writes, 100*bd.ProjectionBusy)
	}
	if r.Applies > 0 && r.Batches > 0 {
		fmt.Fprintf(&b, "batches: the projection's runtime made %s Apply calls, %s events each on average; the raw writes %s batches (of at most %s events per lane)\n",
			thousands.Format(int(r.Applies)), thousands.Format(r.Projection.Count/int(r.Applies)), thousands.Format(r.Batches), thousands.Format(r.Batch))
	}
	if r.Projection.Elapsed > 0 {
		fmt.Fprintf(&b, "projection time with an Apply in flight (the sink): %.2f s (%.0f%%); with none (poll, decode, commit): %.2f s, of which %.2f s before the first Apply (joining the group, the first fetch and decode)\n",
			r.InApply.Seconds(), 100*r.InApply.Seconds()/r.Projection.Elapsed.Seconds(), (r.Projection.Elapsed - r.InApply).Seconds(), r.FirstApply.Seconds())
	}
	all := ""
	if len(r.Rounds) > 1 {
		all = " in all rounds"
	}
	fmt.Fprintf(&b, "stored %s of %s products; %d dead-lettered%s; %d sink attempts retried%s; data set produced at %s events/s (not a limit)\n",
		thousands.Format(r.Stored), thousands.Format(r.Products), r.DeadLettered, all, r.Retries, all, thousands.Format(int(r.Produce.Rate())))
	_, err := io.WriteString(w, b.String())
	return err
}
