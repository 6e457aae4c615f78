package api

import (
	"math"
	"strings"
	"testing"
)

func TestMetricWriter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*MetricWriter)
		want  string
	}{
		{"family", func(m *MetricWriter) { m.Family("x_total", "counter", "Things counted.") },
			"# HELP x_total Things counted.\n# TYPE x_total counter\n"},
		{"help escaped", func(m *MetricWriter) { m.Family("x", "gauge", "a \\ b\nc \"d\"") },
			"# HELP x a \\\\ b\\nc \"d\"\n# TYPE x gauge\n"},
		{"no labels", func(m *MetricWriter) { m.Int("x", -3) }, "x -3\n"},
		{"labels in order", func(m *MetricWriter) { m.Uint("x", 18446744073709551615, Label{"b", "1"}, Label{"a", "2"}) },
			"x{b=\"1\",a=\"2\"} 18446744073709551615\n"},
		{"plain value", func(m *MetricWriter) { m.Int("x", 1, Label{"p", "product-view"}) }, "x{p=\"product-view\"} 1\n"},
		{"backslash", func(m *MetricWriter) { m.Int("x", 1, Label{"p", `a\b`}) }, "x{p=\"a\\\\b\"} 1\n"},
		{"double quote", func(m *MetricWriter) { m.Int("x", 1, Label{"p", `a"b`}) }, "x{p=\"a\\\"b\"} 1\n"},
		{"newline", func(m *MetricWriter) { m.Int("x", 1, Label{"p", "a\nb"}) }, "x{p=\"a\\nb\"} 1\n"},
		// Go quoting (%q) would write these as \t, \u00e9 and \x00; the
		// text format takes them as they are.
		{"tab, unicode and control bytes unescaped", func(m *MetricWriter) { m.Int("x", 1, Label{"p", "a\tb é\x00"}) }, "x{p=\"a\tb é\x00\"} 1\n"},
		{"float", func(m *MetricWriter) { m.Float("x", 0.25) }, "x 0.25\n"},
		{"+Inf", func(m *MetricWriter) { m.Float("x", math.Inf(1)) }, "x +Inf\n"},
		{"-Inf", func(m *MetricWriter) { m.Float("x", math.Inf(-1)) }, "x -Inf\n"},
		{"NaN", func(m *MetricWriter) { m.Float("x", math.NaN()) }, "x NaN\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tc.write(NewMetricWriter(&b))
			if b.String() != tc.want {
				t.Fatalf("wrote %q, want %q", b.String(), tc.want)
			}
		})
	}
}
