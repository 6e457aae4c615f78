package rebuild

import (
	"fmt"
	"strings"
	"time"

	"github.com/streamview/streamview/internal/thousands"
)

// Progress is a snapshot of a rebuild, given to Config.Progress.
type Progress struct {
	Projection string
	Generation int   // the generation being built
	Phase      Phase // building, handover, swapped
	// Step says what the rebuild is doing within the phase, in a few words.
	Step string
	// Done and Total are offsets consumed by the new group and in the log,
	// summed over partitions from their start offsets; Lag is the rest.
	Done, Total, Lag int64
	Rate             float64       // records per second, smoothed
	Left             time.Duration // time left at Rate; -1 when unknown
	Elapsed          time.Duration
}

// String is one human line, e.g.
// "product-view g2 building: 412,000/1,000,000 records (41%), 52,300 records/s, 11s left".
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s g%d %s", p.Projection, p.Generation, p.Phase)
	if p.Step != "" {
		fmt.Fprintf(&b, " (%s)", p.Step)
	}
	if p.Total == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, ": %s/%s records", thousands.Format(p.Done), thousands.Format(p.Total))
	fmt.Fprintf(&b, " (%d%%)", 100*p.Done/p.Total)
	fmt.Fprintf(&b, ", %s records/s", thousands.Format(int64(p.Rate+0.5)))
	switch {
	case p.Lag == 0:
		b.WriteString(", caught up")
	case p.Left >= 0:
		fmt.Fprintf(&b, ", %s left", p.Left.Round(time.Second))
	}
	return b.String()
}

// meter smooths a rate from successive counts.
type meter struct {
	lastN int64
	lastT time.Time
	rate  float64
}

func (m *meter) add(n int64, now time.Time) float64 {
	if !m.lastT.IsZero() {
		if d := now.Sub(m.lastT).Seconds(); d >= 0.2 {
			inst := float64(n-m.lastN) / d
			if m.rate == 0 {
				m.rate = inst
			} else {
				m.rate = 0.6*m.rate + 0.4*inst
			}
			m.lastN, m.lastT = n, now
		}
		return m.rate
	}
	m.lastN, m.lastT = n, now
	return m.rate
}
