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
