package api

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MetricWriter writes metrics in the Prometheus text format (version
// 0.0.4), for the server's own metrics and for Deps.Metrics: a few counters
// and one histogram do not need a client library. Write errors are left to
// the underlying writer (a bufio.Writer's Flush reports them).
type MetricWriter struct{ w io.Writer }

// NewMetricWriter writes to w.
func NewMetricWriter(w io.Writer) *MetricWriter { return &MetricWriter{w: w} }

// Label is one name="value" pair of a sample.
type Label struct{ Name, Value string }

// Family writes the HELP and TYPE lines of the metric name; typ is
// counter, gauge, histogram, summary or untyped.
func (m *MetricWriter) Family(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// Int writes one sample of name with an integer value.
func (m *MetricWriter) Int(name string, v int64, labels ...Label) {
	m.sample(name, strconv.FormatInt(v, 10), labels)
}

// Uint writes one sample of name with an unsigned integer value.
func (m *MetricWriter) Uint(name string, v uint64, labels ...Label) {
	m.sample(name, strconv.FormatUint(v, 10), labels)
}

// Float writes one sample of name with a float value (+Inf, -Inf and NaN
// as the format spells them).
func (m *MetricWriter) Float(name string, v float64, labels ...Label) {
	m.sample(name, formatFloat(v), labels)
}

func (m *MetricWriter) sample(name, value string, labels []Label) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.Name)
			b.WriteString(`="`)
			b.WriteString(escapeLabel(l.Value))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(value)
	b.WriteByte('\n')
	io.WriteString(m.w, b.String())
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// escapeLabel escapes a label value as the text format asks: backslash,
// double quote and line feed, and nothing else (Go quoting would also
// escape tabs and non-printable runes, which the format takes as they are).
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string { return helpEscaper.Replace(s) }

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
