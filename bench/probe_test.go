package bench

import (
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		err        bool
	}{
		{"java", "19163 (java) S 1 19160 19160 0 -1 4194560 1234 0 0 0 2012 187 0 0 20 0 80 0 123 3750040 344524 18446744073709551615", 21990 * time.Millisecond, false},
		{"name with spaces and parentheses", "42 (a (b) c) R 1 1 1 0 -1 0 0 0 0 0 5 7 0 0", 120 * time.Millisecond, false},
		{"no name", "42 R 1", 0, true},
		{"too short", "42 (x) R 1 2 3", 0, true},
		{"not a number", "42 (x) R 1 1 1 0 -1 0 0 0 0 0 five 7 0 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat(tc.stat)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("parseProcStat = %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseMachineStat(t *testing.T) {
	const two = "cpu  500 4 100 700 30 0 16 33 0 0\ncpu0 250 2 50 350 15 0 8 16 0 0\ncpu1 250 2 50 350 15 0 8 17 0 0\nintr 1 2 3\nctxt 9\n"
	for _, tc := range []struct {
		name, stat  string
		busy, steal time.Duration
		cores       int
		err         bool
	}{
		// user+nice+system+irq+softirq = 500+4+100+0+16 ticks of 10 ms.
		{"two cores", two, 6200 * time.Millisecond, 330 * time.Millisecond, 2, false},
		{"no per-core lines", "cpu  1 2 3 4 5 6 7 8 0 0\n", 0, 0, 0, true},
		{"old kernel, too few fields", "cpu  1 2 3 4\ncpu0 1 2 3 4\n", 0, 0, 0, true},
		{"not a number", "cpu  1 x 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n", 0, 0, 0, true},
		{"empty", "", 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy, steal, cores, err := parseMachineStat(tc.stat)
			if (err != nil) != tc.err || busy != tc.busy || steal != tc.steal || cores != tc.cores {
				t.Errorf("parseMachineStat = %v, %v, %d, %v; want %v, %v, %d, error %v", busy, steal, cores, err, tc.busy, tc.steal, tc.cores, tc.err)
			}
		})
	}
}

func TestMachineCPUAdvances(t *testing.T) {
	busy, _, cores, err := machineCPU()
	if err != nil {
		t.Skipf("no /proc/stat here: %v", err)
	}
	if cores < 1 || busy <= 0 {
		t.Fatalf("machineCPU = %v busy on %d cores", busy, cores)
	}
	// Burn CPU until the machine's busy time has moved on (ticks of 10 ms).
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i := 0; i < 1e6; i++ {
			sink += i
		}
		if b, _, _, err := machineCPU(); err == nil && b > busy {
			return
		}
	}
	t.Fatalf("the machine's busy time stayed at %v for 10 s of a busy loop", busy)
}

var sink int

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		want  bool
	}{
		{[]string{"http://127.0.0.1:9200"}, true},
		{[]string{"https://localhost:9243"}, true},
		{[]string{"http://[::1]:9200", "http://127.0.0.2:9200"}, true},
		{[]string{"http://127.0.0.1:9200", "http://es.example:9200"}, false},
		{[]string{"http://10.0.0.5:9200"}, false},
		{nil, false},
	} {
		if got := loopback(tc.addrs); got != tc.want {
			t.Errorf("loopback(%q) = %v, want %v", tc.addrs, got, tc.want)
		}
	}
}
