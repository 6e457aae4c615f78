package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU is what a timed step cost in CPU time: the server's (when the sink
// reports it; Redis is shared with whatever else runs on it) and this
// process's (the client side: the projection runtime and the sink's
// client, or the raw writer), over the step's wall time.
type CPU struct {
	Wall    time.Duration `json:"wallNanos"`
	Server  time.Duration `json:"serverNanos"` // 0 when unknown
	Process time.Duration `json:"processNanos"`
}

// probe samples CPU times at the start and the end of a step.
type probe struct {
	cpu            ServerCPU
	start          time.Time
	server, client time.Duration
	ok             bool
}

func startProbe(ctx context.Context, cpu ServerCPU) *probe {
	p := &probe{cpu: cpu, start: time.Now(), client: processCPU()}
	if cpu != nil {
		var err error
		p.server, err = cpu.ServerCPU(ctx)
		p.ok = err == nil
	}
	return p
}

func (p *probe) stop(ctx context.Context) CPU {
	c := CPU{Wall: time.Since(p.start), Process: processCPU() - p.client}
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
