package bench

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamview/streamview/internal/connect"
)

// Server is a server on this machine whose CPU time each step of an API
// run reports beside this process's (APIStep.Servers).
type Server struct {
	Name string
	// CPU is the user and system CPU time the server has used so far.
	CPU func() (time.Duration, error)
	// JIT, set for a Java server (Kafka, Elasticsearch), is the CPU time
	// each of its JIT compiler threads has used so far: compiling its
	// code, which a JVM does for many minutes after it starts, as its hot
	// paths show themselves under load.
	JIT func() (JITTimes, error)
}

// JITTimes are the CPU times of a server's JIT compiler threads, by thread
// ("<pid>/<tid>"). HotSpot starts and stops compiler threads beyond the
// first of each kind as its queue needs them (on machines with more than
// two cores), and a thread that ended takes its time with it, so what was
// spent between two readings is counted per thread (JITTimes.since).
type JITTimes map[string]time.Duration

// since is the CPU time the compiler threads spent after the reading
// before: each thread's growth, all of a thread that started since; a
// thread that ended meanwhile loses only its time after before.
func (t JITTimes) since(before JITTimes) time.Duration {
	var sum time.Duration
	for id, d := range t {
		if b, ok := before[id]; ok && b <= d {
			d -= b
		}
		sum += d
	}
	return sum
}

// ServerSpent is what one server spent during a step.
type ServerSpent struct {
	Name string        `json:"name"`
	CPU  time.Duration `json:"cpuNanos"`
	// JIT is the part of CPU spent compiling (Server.JIT), 0 for a server
	// that is not a JVM.
	JIT time.Duration `json:"jitNanos,omitempty"`

	jitOK bool     // JIT was read (at both ends, in serverSpent)
	jit   JITTimes // in serverTimes: the reading
}

// LocalServer is the process listening on addr (host:port), found in
// /proc (Linux): its listening socket's inode in /proc/net/tcp{,6}, then
// the processes holding it (all of them, whose CPU times add up: a server
// whose workers share the socket, as nginx's do). It fails when the host
// is not a loopback address, or when /proc does not show the process
// (another user's, read without the rights to).
func LocalServer(name, addr string) (Server, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return Server{}, fmt.Errorf("%s at %q: %w", name, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return Server{}, fmt.Errorf("%s at %q: port: %w", name, addr, err)
	}
	if !connect.IsLoopback(host) {
		return Server{}, fmt.Errorf("%s at %s is not on a loopback address", name, addr)
	}
	pids, err := listenerPIDs(port)
	if err != nil {
		return Server{}, fmt.Errorf("%s at %s: %w", name, addr, err)
	}
	s := Server{Name: name, CPU: func() (time.Duration, error) {
		var sum time.Duration
		for _, pid := range pids {
			t, err := procCPU(pid)
			if err != nil {
				return 0, err
			}
			sum += t
		}
		return sum, nil
	}}
	proc := os.DirFS("/proc")
	jit := func() (JITTimes, error) {
		out := JITTimes{}
		for _, pid := range pids {
			if err := jitCPU(proc, pid, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if t, err := jit(); err == nil && len(t) > 0 {
		s.JIT = jit
	}
	return s, nil
}

// jitCPU adds to out the user and system CPU time of each JIT compiler
// thread of process pid, read from proc (a /proc: <pid>/task/<tid>/stat).
// HotSpot names them "C1 CompilerThread<n>" and "C2 CompilerThread<n>",
// which the kernel keeps to 15 bytes.
func jitCPU(proc fs.FS, pid int, out JITTimes) error {
	dir := strconv.Itoa(pid) + "/task"
	tasks, err := fs.ReadDir(proc, dir)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		b, err := fs.ReadFile(proc, dir+"/"+t.Name()+"/stat")
		if err != nil {
			continue // the thread ended after the listing
		}
		stat := string(b)
		i, j := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
		if i < 0 || j < i {
			continue
		}
		if comm := stat[i+1 : j]; !strings.HasPrefix(comm, "C1 CompilerThre") && !strings.HasPrefix(comm, "C2 CompilerThre") {
			continue
		}
		d, err := parseProcStat(stat)
		if err != nil {
			return fmt.Errorf("%s/%s/stat: %w", dir, t.Name(), err)
		}
		out[strconv.Itoa(pid)+"/"+t.Name()] = d
	}
	return nil
}

// listenerPIDs are the processes holding a socket that listens on port.
func listenerPIDs(port int) ([]int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, in := range listening(string(b), port) {
			inodes["socket:["+in+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return nil, fmt.Errorf("nothing listens on port %d", port)
	}
	var pids []int
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
			if err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no process in /proc holds the socket listening on port %d (another user's?)", port)
	}
	return pids, nil
}

// listening gives the inodes of the sockets in the listen state on port,
// on a loopback or any address, in the text of /proc/net/tcp or tcp6 (a
// header line, then per socket: sl, local address as hex IP:hex port,
// remote address, state (0A: listen), queues, timer, retransmits, uid,
// timeout, inode, ...).
func listening(table string, port int) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		hexIP, hexPort, ok := strings.Cut(f[1], ":")
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil || int(p) != port {
			continue
		}
		if ip := procIP(hexIP); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			out = append(out, f[9])
		}
	}
	return out
}

// procIP reads an address of /proc/net/tcp (8 hex digits) or tcp6 (32):
// the bytes of each 32-bit word in the host's order, little-endian here.
func procIP(h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}

// serverTimes reads each server's CPU time and the part of it spent
// compiling (JIT, when the server has it); a server whose CPU time fails
// to answer is left out.
func serverTimes(servers []Server) map[string]ServerSpent {
	out := make(map[string]ServerSpent, len(servers))
	for _, s := range servers {
		t, err := s.CPU()
		if err != nil {
			continue
		}
		sp := ServerSpent{Name: s.Name, CPU: t}
		if s.JIT != nil {
			jit, err := s.JIT()
			sp.jit, sp.jitOK = jit, err == nil
		}
		out[s.Name] = sp
	}
	return out
}

// serverSpent is what each server spent between two serverTimes, in the
// servers' order.
func serverSpent(servers []Server, before, after map[string]ServerSpent) []ServerSpent {
	var out []ServerSpent
	for _, s := range servers {
		b, ok1 := before[s.Name]
		a, ok2 := after[s.Name]
		if !ok1 || !ok2 || a.CPU < b.CPU { // less: a pid gone and reused
			continue
		}
		sp := ServerSpent{Name: s.Name, CPU: a.CPU - b.CPU, jitOK: a.jitOK && b.jitOK}
		if sp.jitOK {
			sp.JIT = min(a.jit.since(b.jit), sp.CPU)
		}
		out = append(out, sp)
	}
	return out
}
