package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU is what a timed step cost in CPU time: the server's (when the sink
// reports it; Redis is shared with whatever else runs on it), this
// process's (the client side: the projection runtime and the sink's
// client, or the raw writer) and the whole machine's (every process: the
// servers, this one and whatever else runs), over the step's wall time.
type CPU struct {
	Wall    time.Duration `json:"wallNanos"`
	Server  time.Duration `json:"serverNanos"` // 0 when unknown
	Process time.Duration `json:"processNanos"`
	// Machine is the busy time of all the machine's cores (/proc/stat:
	// user, nice, system, irq and softirq), 0 when unknown (not Linux);
	// Steal is the time a hypervisor ran something else while the
	// machine's work waited; Cores is how many there are.
	Machine time.Duration `json:"machineNanos"`
	Steal   time.Duration `json:"stealNanos"`
	Cores   int           `json:"cores"`
}

// Busy is the share of the machine's cores that were busy during the
// step (0 to 1), 0 when unknown.
func (c CPU) Busy() float64 {
	if c.Cores == 0 || c.Wall <= 0 {
		return 0
	}
	return c.Machine.Seconds() / (c.Wall.Seconds() * float64(c.Cores))
}

// probe samples CPU times at the start and the end of a step.
type probe struct {
	cpu                            ServerCPU
	start                          time.Time
	server, client, machine, steal time.Duration
	ok, machineOK                  bool
}

func startProbe(ctx context.Context, cpu ServerCPU) *probe {
	p := &probe{cpu: cpu, start: time.Now(), client: processCPU()}
	var err error
	p.machine, p.steal, _, err = machineCPU()
	p.machineOK = err == nil
	if cpu != nil {
		var err error
		p.server, err = cpu.ServerCPU(ctx)
		p.ok = err == nil
	}
	return p
}

func (p *probe) stop(ctx context.Context) CPU {
	c := CPU{Wall: time.Since(p.start), Process: processCPU() - p.client}
	if p.machineOK {
		if m, steal, cores, err := machineCPU(); err == nil {
			c.Machine, c.Steal, c.Cores = m-p.machine, steal-p.steal, cores
		}
	}
	if p.ok {
		if s, err := p.cpu.ServerCPU(ctx); err == nil {
			c.Server = s - p.server
		}
	}
	return c
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system CPU time process pid has used, from
// /proc/<pid>/stat (Linux; its clock ticks are 1/100 s): for a server on
// this machine that does not report its own CPU finely enough.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads utime and stime (fields 14 and 15) from a
// /proc/<pid>/stat line; the command name (field 2) may hold spaces and
// parentheses, so the fields are counted from its closing parenthesis.
func parseProcStat(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no command name", stat)
	}
	f := strings.Fields(stat[i+1:]) // from field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// machineCPU is the time all cores of the machine have been busy and the
// time stolen from them since it started, and how many cores it has, from
// /proc/stat (Linux).
func machineCPU() (busy, steal time.Duration, cores int, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	return parseMachineStat(string(b))
}

// parseMachineStat reads /proc/stat: the first line ("cpu", the sum over
// cores, in clock ticks of 1/100 s) gives the busy time (user, nice,
// system, irq, softirq; guest time is within user time) and the stolen
// time (steal); the "cpuN" lines give the cores.
func parseMachineStat(stat string) (busy, steal time.Duration, cores int, err error) {
	found := false
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			cores++
			continue
		}
		if len(f) < 9 {
			return 0, 0, 0, fmt.Errorf("/proc/stat: %d fields on the cpu line, want at least 9", len(f))
		}
		var t [8]int64 // user nice system idle iowait irq softirq steal
		for i := range t {
			if t[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
				return 0, 0, 0, fmt.Errorf("/proc/stat: %w", err)
			}
		}
		const tick = 10 * time.Millisecond
		busy = time.Duration(t[0]+t[1]+t[2]+t[5]+t[6]) * tick
		steal = time.Duration(t[7]) * tick
		found = true
	}
	if !found || cores == 0 {
		return 0, 0, 0, errors.New("/proc/stat: no cpu lines")
	}
	return busy, steal, cores, nil
}
