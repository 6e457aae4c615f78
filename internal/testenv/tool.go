package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool returns the path of the command-line tool name (promtool, kcat,
// kafka-consumer-groups.sh) that scripts/services/tools.sh installs: from
// $STREAMVIEW_TOOLS (which the Makefile sets), else from ~/.cache/streamview/tools/bin,
// else from PATH. A tool that is not there skips the test, saying how to
// install it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv("STREAMVIEW_TOOLS"); d != "" {
		dirs = append(dirs, d)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "streamview", "tools", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Skipf("%s is not installed; run `make tools` (scripts/services/tools.sh) to install it", name)
	return ""
}
