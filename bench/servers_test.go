package bench

import (
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/streamview/streamview/internal/testenv"
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

// jitCPU adds up the CPU times of a JVM's compiler threads, found by
// their names in /proc/<pid>/task/<tid>/stat, and nothing else's: not a
// thread whose name only contains "Compiler", nor one that ended between
// the listing and the read.
func TestJITCPU(t *testing.T) {
	stat := func(tid int, comm string, utime, stime int) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(fmt.Sprintf("%d (%s) S 1 1 1 0 -1 4194368 100 0 0 0 %d %d 0 0 20 0 40 0 1000 1 1 18446744073709551615\n", tid, comm, utime, stime))}
	}
	proc := fstest.MapFS{
		"42/task/42/stat": stat(42, "java", 500, 100),
		"42/task/43/stat": stat(43, "C2 CompilerThre", 3000, 349),
		"42/task/44/stat": stat(44, "C1 CompilerThre", 450, 46),
		"42/task/45/stat": stat(45, "VM Thread", 70, 0),
		"42/task/46/stat": stat(46, "a) C2 CompilerThre", 900, 0), // a name with ") " in it
		"42/task/47":      &fstest.MapFile{Mode: fs.ModeDir},      // ended: no stat
		"7/task/7/stat":   stat(7, "redis-server", 800, 200),
	}
	got := JITTimes{}
	err := jitCPU(proc, 42, got)
	if want := (JITTimes{"42/43": 3349 * 10 * time.Millisecond, "42/44": 496 * 10 * time.Millisecond}); err != nil || !maps.Equal(got, want) {
		t.Errorf("jitCPU(42) = %v, %v; want %v", got, err, want)
	}
	none := JITTimes{}
	if err := jitCPU(proc, 7, none); err != nil || len(none) != 0 {
		t.Errorf("jitCPU(7) (no JVM) = %v, %v; want none", none, err)
	}
	if err := jitCPU(proc, 9, JITTimes{}); err == nil {
		t.Error("jitCPU(9) of no process: no error")
	}
}

// serverSpent gives the JIT time spent between two readings when both
// were read, thread by thread (one that started since counts whole, one
// that ended loses only its time since the first reading), no more than
// the CPU time, and none when either reading failed.
func TestServerSpentJIT(t *testing.T) {
	servers := []Server{{Name: "kafka"}, {Name: "elasticsearch"}, {Name: "redis"}, {Name: "gone"}, {Name: "busy"}}
	s := time.Second
	before := map[string]ServerSpent{
		"kafka":         {CPU: 10 * s, jitOK: true, jit: JITTimes{"1/2": 2 * s, "1/3": s, "1/9": 4 * s}},
		"elasticsearch": {CPU: 20 * s, jitOK: true, jit: JITTimes{"5/6": 9 * s}},
		"redis":         {CPU: 1 * s},
		"gone":          {CPU: 5 * s, jitOK: true, jit: JITTimes{"7/8": s}},
		"busy":          {CPU: 5 * s, jitOK: true, jit: JITTimes{"4/4": s}},
	}
	after := map[string]ServerSpent{
		// 1/2 grew by 0.5 s, 1/3 by none, 1/9 ended, 1/10 started: 0.3 s.
		"kafka":         {CPU: 16 * s, jitOK: true, jit: JITTimes{"1/2": 2500 * time.Millisecond, "1/3": s, "1/10": 300 * time.Millisecond}},
		"elasticsearch": {CPU: 23 * s, jit: JITTimes{"5/6": 12 * s}}, // not read
		"redis":         {CPU: 1500 * time.Millisecond},
		"gone":          {CPU: 4 * s, jitOK: true, jit: JITTimes{"7/8": 2 * s}}, // another process on its pid
		"busy":          {CPU: 6 * s, jitOK: true, jit: JITTimes{"4/4": 3 * s}}, // more than the CPU: at most it
	}
	got := serverSpent(servers, before, after)
	want := []ServerSpent{
		{Name: "kafka", CPU: 6 * s, JIT: 800 * time.Millisecond, jitOK: true},
		{Name: "elasticsearch", CPU: 3 * s},
		{Name: "redis", CPU: 500 * time.Millisecond},
		{Name: "busy", CPU: s, JIT: s, jitOK: true},
	}
	if len(got) != len(want) {
		t.Fatalf("serverSpent = %+v\nwant %+v", got, want)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.Name != w.Name || g.CPU != w.CPU || g.JIT != w.JIT || g.jitOK != w.jitOK {
			t.Errorf("serverSpent[%d] = %+v, want %+v", i, g, w)
		}
	}
}

// A Java server found by its address reads its compiler threads' time:
// the broker of the tests, when it runs on this machine (make test's
// does), has compiled something since it started; this process has no
// JIT.
func TestLocalServerJIT(t *testing.T) {
	brokers := testenv.Kafka(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if self, err := LocalServer("self", ln.Addr().String()); err != nil || self.JIT != nil {
		t.Errorf("LocalServer(this process) = JIT set %v, %v; want no JIT (not a JVM)", self.JIT != nil, err)
	}
	k, err := LocalServer("kafka", brokers[0])
	if err != nil {
		t.Skipf("the broker %s is not a process of this machine that /proc shows: %v", brokers[0], err)
	}
	if k.JIT == nil {
		t.Fatalf("the broker at %s (a JVM) has no JIT figure", brokers[0])
	}
	jit, err := k.JIT()
	cpu, cerr := k.CPU()
	if sum := jit.since(nil); err != nil || cerr != nil || len(jit) < 2 || sum <= 0 || sum > cpu {
		t.Errorf("broker JIT %v = %v (%v), CPU %v (%v); want two compiler threads or more (a C1 and a C2), 0 < JIT <= CPU", jit, sum, err, cpu, cerr)
	}
}
