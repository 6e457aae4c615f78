package bench

import (
	"strings"
	"testing"
	"time"
)

// Hops summarizes each hop's samples in the order a command passes them,
// then forgets them.
func TestHopsTake(t *testing.T) {
	var h Hops
	h.Add(HopWait, 30*time.Millisecond)
	h.Add("zz other", time.Millisecond)
	for _, d := range []time.Duration{1, 2, 3, 4} {
		h.Add(HopSend, d*time.Millisecond)
	}
	h.Add(HopPolled, 10*time.Millisecond)
	got := h.take()
	var kinds []string
	for _, s := range got {
		kinds = append(kinds, s.Kind)
	}
	if want := []string{HopSend, HopPolled, HopWait, "zz other"}; strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Fatalf("hops %q, want %q", kinds, want)
	}
	if s := got[0]; s.Requests != 4 || s.P50 != 2*time.Millisecond || s.P99 != 4*time.Millisecond {
		t.Errorf("send %+v, want 4 samples, p50 2 ms, p99 4 ms", s)
	}
	if again := h.take(); len(again) != 0 {
		t.Errorf("a second take returned %+v, want nothing", again)
	}
}

// The report's hop table has a column per step that has hops, a row per
// hop, and "-" where a step lacks one.
func TestWriteHops(t *testing.T) {
	rep := APIReport{Steps: []APIStep{
		{Rate: 250, Wait: true, Hops: []KindSummary{{Kind: HopSend, P50: time.Millisecond, P99: 3 * time.Millisecond}, {Kind: HopWait, P50: 40 * time.Millisecond, P99: 90 * time.Millisecond}}},
		{Rate: 250, Wait: false, Hops: []KindSummary{{Kind: HopSend, P50: 2 * time.Millisecond, P99: 5 * time.Millisecond}}},
		{Rate: 500, Wait: true},
	}}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	_, table, ok := strings.Cut(out, "where the stack's commands spent their time")
	if !ok {
		t.Fatalf("no hop table:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 {
		t.Fatalf("hop table of %d lines, want a title, a header and two hops:\n%s", len(lines), table)
	}
	for i, want := range [][]string{{"hop", "250/s wait", "250/s nowait"}, {HopSend, "1.0 / 3.0", "2.0 / 5.0"}, {HopWait, "40.0 / 90.0", "-"}} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %q lacks %q", lines[i+1], w)
			}
		}
	}
	if strings.Contains(lines[1], "500/s") {
		t.Errorf("a step without hops has a column: %q", lines[1])
	}
}

// Each step's row says how busy the machine's cores were, the stolen share
// when there was one, and "-" when the machine's CPU was not measured.
func TestAPITableBusy(t *testing.T) {
	rep := APIReport{Steps: []APIStep{
		{Rate: 500, Wait: true, CPU: CPU{Wall: 10 * time.Second, Machine: 15 * time.Second, Cores: 2},
			Raw: &RawStep{CPU: CPU{Wall: 10 * time.Second, Machine: 5 * time.Second, Steal: time.Second, Cores: 2}}},
		{Rate: 1000, Wait: false},
	}}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[0] == "stack" || f[0] == "raw") {
			rows = append(rows, line)
		}
	}
	if len(rows) != 3 {
		t.Fatalf("%d step rows, want 3:\n%s", len(rows), b.String())
	}
	for i, want := range []string{" 75% ", " 25% +10% stolen "} {
		if !strings.Contains(rows[i], want) {
			t.Errorf("row %q lacks %q", rows[i], want)
		}
	}
	if strings.Contains(rows[2], "%") {
		t.Errorf("a step without the machine's CPU shows a share: %q", rows[2])
	}
}
