package bench

import (
	"strings"
	"testing"
	"time"
)

func TestTailOf(t *testing.T) {
	msec := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	// steady: a command answered every 10 ms for 2 s, every 20th slow.
	var steadyLat []time.Duration
	var steadyEnds []time.Time
	for i := range 200 {
		d := msec(5)
		if i%20 == 0 {
			d = msec(60)
		}
		steadyLat = append(steadyLat, d)
		steadyEnds = append(steadyEnds, t0.Add(msec(10*i)))
	}
	// burst: the same, but the slow ones all answered in 150-230 ms and
	// one at 1,950 ms (windows 1, 2 and 19).
	burstLat := append([]time.Duration(nil), steadyLat...)
	burstEnds := append([]time.Time(nil), steadyEnds...)
	for i := range burstLat {
		burstLat[i] = msec(5)
	}
	for _, i := range []int{15, 16, 17, 18, 19, 20, 21, 22, 23, 195} {
		burstLat[i] = msec(80)
	}
	tests := []struct {
		name string
		lat  []time.Duration
		ends []time.Time
		p99  time.Duration
		want Tail
	}{
		{"steady", steadyLat, steadyEnds, msec(60), Tail{Slow: 10, Window: msec(100), Windows: 20, Hit: 10, Top3: 3}},
		{"burst", burstLat, burstEnds, msec(80), Tail{Slow: 10, Window: msec(100), Windows: 20, Hit: 3, Top3: 10}},
		{"top three of four windows", []time.Duration{msec(9), msec(9), msec(9), msec(9), msec(9), msec(9), msec(9), msec(9), msec(9), msec(9), msec(1)},
			[]time.Time{t0, t0.Add(msec(110)), t0.Add(msec(120)), t0.Add(msec(210)), t0.Add(msec(220)), t0.Add(msec(230)),
				t0.Add(msec(310)), t0.Add(msec(320)), t0.Add(msec(330)), t0.Add(msec(340)), t0.Add(msec(450))}, msec(9),
			Tail{Slow: 10, Window: msec(100), Windows: 5, Hit: 4, Top3: 9}},
		{"at the p99 counts", []time.Duration{msec(1), msec(9), msec(9)}, []time.Time{t0, t0.Add(msec(350)), t0.Add(msec(50))}, msec(9),
			Tail{Slow: 2, Window: msec(100), Windows: 4, Hit: 2, Top3: 2}},
		{"answers out of order", []time.Duration{msec(9), msec(1)}, []time.Time{t0.Add(msec(250)), t0}, msec(9),
			Tail{Slow: 1, Window: msec(100), Windows: 3, Hit: 1, Top3: 1}},
		{"none", nil, nil, 0, Tail{Window: msec(100)}},
		{"answers a day apart", []time.Duration{msec(9), msec(9)}, []time.Time{t0, t0.Add(24 * time.Hour)}, msec(9), Tail{Window: msec(100)}},
		{"lengths differ", []time.Duration{msec(1)}, nil, msec(1), Tail{Window: msec(100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tailOf(tt.lat, tt.ends, tt.p99, TailWindow); got != tt.want {
				t.Errorf("tailOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWriteTail(t *testing.T) {
	var b strings.Builder
	writeTail(&b, []APIStep{
		{Rate: 1000, Wait: true, Latency: KindSummary{P99: 53100 * time.Microsecond},
			Tail: Tail{Slow: 300, Window: TailWindow, Windows: 300, Hit: 18, Top3: 176}},
		{Rate: 2000, Wait: false}, // nothing slow: no line
	})
	want := "  1000/s wait: 300 commands (>= 53.1 ms) in 18 of 300 windows; the 3 fullest hold 176 (59%)\n"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "2000/s") {
		t.Errorf("writeTail wrote\n%s\nwant the line\n%s", b.String(), want)
	}
}
