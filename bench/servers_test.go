package bench

import (
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// A /proc/net/tcp: a listener on 9092 (0x2384) on loopback, one on any
// address, an established connection from that port (not listening), a
// listener on another port and one on 9092 of another address
// (10.0.0.5), which is not this machine's loopback.
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41001 1 0000000000000000 100 0 0 10 0
   1: 00000000:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:2384 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 41003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 41004 1 0000000000000000 100 0 0 10 0
   4: 0500000A:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41005 1 0000000000000000 100 0 0 10 0
`

// A /proc/net/tcp6: listeners on 9200 (0x23F0) on ::1 and on ::, and
// one on 9200 of 2001:db8::1.
const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:23F0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 51001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:23F0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 51002 1 0000000000000000 100 0 0 10 0
   2: B80D0120000000000000000001000000:23F0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 51003 1 0000000000000000 100 0 0 10 0
`

func TestListening(t *testing.T) {
	for _, tc := range []struct {
		table string
		port  int
		want  []string
	}{
		{procNetTCP, 9092, []string{"41001", "41002"}},
		{procNetTCP, 6379, []string{"41004"}},
		{procNetTCP, 9200, nil},
		{procNetTCP6, 9200, []string{"51001", "51002"}},
		{procNetTCP6, 9092, nil},
	} {
		if got := listening(tc.table, tc.port); !slices.Equal(got, tc.want) {
			t.Errorf("port %d: %v, want %v", tc.port, got, tc.want)
		}
	}
}

// LocalServer finds the process listening on an address: this one, for a
// listener of its own, whose CPU time it then reads; and refuses what is
// not on this machine or not listened on.
func TestLocalServer(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp:", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := LocalServer("self", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if pids, err := listenerPIDs(port); err != nil || !slices.Equal(pids, []int{os.Getpid()}) {
		t.Fatalf("listenerPIDs(%d) = %v, %v; want this process, %d", port, pids, err, os.Getpid())
	}
	before, err := s.CPU()
	if err != nil {
		t.Fatal(err)
	}
	// Spinning, this process's CPU time grows by a clock tick (10 ms)
	// within a few.
	after := before
	for start := time.Now(); after <= before && time.Since(start) < 10*time.Second; {
		if after, err = s.CPU(); err != nil {
			t.Fatal(err)
		}
	}
	if after <= before {
		t.Errorf("CPU %v, still %v after spinning 10 s; want it to grow", before, after)
	}
	// Port 1 (tcpmux) has no listener on such a machine.
	for _, addr := range []string{"192.0.2.1:9092", "example.com:9092", "127.0.0.1:1", "127.0.0.1:" + strconv.Itoa(port) + "x"} {
		if _, err := LocalServer("x", addr); err == nil {
			t.Errorf("LocalServer(%q): no error", addr)
		}
	}
}
