package bench

import (
	"context"
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
