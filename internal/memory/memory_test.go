package memory_test

import (
	"testing"
	"testing/fstest"

	"github.com/streamview/streamview/internal/memory"
)

func TestPlan(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name  string
		env   func(string) string
		limit int64
		want  memory.Settings
	}{
		{"nothing set, no container limit", env(), 0, memory.Settings{GCPercent: 400}},
		{"nothing set, 2 GiB container", env(), 2 << 30, memory.Settings{GCPercent: 400, MemoryLimit: 1717986918}},
		{"GOGC set", env("GOGC", "100"), 2 << 30, memory.Settings{MemoryLimit: 1717986918}},
		{"GOGC off", env("GOGC", "off"), 0, memory.Settings{}},
		{"GOMEMLIMIT set", env("GOMEMLIMIT", "1GiB"), 2 << 30, memory.Settings{GCPercent: 400}},
		{"both set", env("GOGC", "200", "GOMEMLIMIT", "1GiB"), 2 << 30, memory.Settings{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := memory.Plan(tc.env, tc.limit); got != tc.want {
				t.Errorf("Plan = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestContainerLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  int64
	}{
		{"no cgroup files", fstest.MapFS{}, 0},
		{"v2 limit", fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("2147483648\n")}}, 2 << 30},
		{"v2 unlimited", fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("max\n")}}, 0},
		{"v1 limit", fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("536870912\n")}}, 512 << 20},
		{"v1 unlimited", fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")}}, 0},
		{"unreadable number", fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("lots\n")}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := memory.ContainerLimit(tc.files); got != tc.want {
				t.Errorf("ContainerLimit = %d, want %d", got, tc.want)
			}
		})
	}
}
