// Package memory sets the Go collector's defaults for streamview's
// processes: a projection or the API allocates a little per event and per
// request and keeps a small live heap, so the collector's default pace
// (GOGC=100: collect when the heap has doubled) spends a large share of the
// CPU collecting. A pace of 400 halves that share at the cost of a heap up
// to five times the live one, held under the container's memory limit when
// there is one.
package memory

import (
	"io/fs"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// GCPercent is the collector's pace unless GOGC says otherwise.
const GCPercent = 400

// LimitShare is the share of a container's memory limit that becomes the
// Go runtime's soft memory limit unless GOMEMLIMIT says otherwise, leaving
// the rest for what the runtime does not count (stacks of cgo, the page
// cache of the files the process writes).
const LimitShare = 0.8

// Settings is what Plan decides: 0 where the runtime's setting stays.
type Settings struct {
	GCPercent   int   // the pace set, when GOGC was not
	MemoryLimit int64 // the soft limit set in bytes, when GOMEMLIMIT was not and a container limit was found
}

// Plan decides the settings from the environment (getenv) and the
// container's memory limit in bytes (0: none).
func Plan(getenv func(string) string, containerLimit int64) Settings {
	var s Settings
	if getenv("GOGC") == "" {
		s.GCPercent = GCPercent
	}
	if getenv("GOMEMLIMIT") == "" && containerLimit > 0 {
		s.MemoryLimit = int64(float64(containerLimit) * LimitShare)
	}
	return s
}

// Tune applies Plan for this process, reading the container limit from
// the cgroup files under root (os.DirFS("/")).
func Tune(getenv func(string) string, root fs.FS) {
	s := Plan(getenv, ContainerLimit(root))
	if s.GCPercent > 0 {
		debug.SetGCPercent(s.GCPercent)
	}
	if s.MemoryLimit > 0 {
		debug.SetMemoryLimit(s.MemoryLimit)
	}
}

// ContainerLimit is the memory limit of this process's cgroup in bytes,
// from cgroup v2 (sys/fs/cgroup/memory.max) or v1
// (sys/fs/cgroup/memory/memory.limit_in_bytes) under root; 0 when there is
// none ("max", or v1's page-rounded maximum) or it cannot be read.
func ContainerLimit(root fs.FS) int64 {
	for _, name := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := fs.ReadFile(root, name)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= math.MaxInt64/2 { // v1 says "no limit" with about 2^63
			return 0
		}
		return n
	}
	return 0
}
