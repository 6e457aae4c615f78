package outage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
)

// The servers of these tests, in the outage helper's port range: never the
// shared ones on 9092/6379/9200, since the tests stop them, nor dev's
// embedded broker on 19092 (make run beside make test).
const (
	kafkaPort           = "19192"
	kafkaControllerPort = "19193"
	redisPort           = "16379"
	esPort              = "19200"
	esTransportPort     = "19300"
	apiAddr             = "127.0.0.1:19080"

	kafkaAddr = "127.0.0.1:" + kafkaPort
	redisAddr = "127.0.0.1:" + redisPort
	esURL     = "http://127.0.0.1:" + esPort
)

// keepEnv, set to 1, leaves the servers running after the tests, so that
// the next run reuses them (development only; the data stays too).
const keepEnv = "STREAMVIEW_OUTAGE_KEEP"

// services runs scripts/services on the tests' own ports and data dir.
type services struct {
	root string // the repository
	dir  string // STREAMVIEW_SERVICES_DIR
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// needScripts skips the test where scripts/services cannot run its own
// servers: -short, outside the integration tier, not Linux, not root (the
// scripts run Elasticsearch as a user of its own), or tools missing.
func needScripts(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("outage tests skipped in -short mode: they start, stop and blackhole Kafka, Redis and Elasticsearch servers of their own")
	}
	if os.Getenv("KAFKA_BROKERS") == "" {
		t.Skip("outage tests run in the integration tier: KAFKA_BROKERS is not set; run `make test`")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("outage tests need scripts/services, which run on Linux only (this is %s)", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Skip("outage tests need root: scripts/services run Elasticsearch as a user of its own (setpriv)")
	}
	for _, tool := range []string{"bash", "ss", "flock", "setpriv", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("outage tests need %s for scripts/services and the build: %v", tool, err)
		}
	}
}

// startServices starts (or reuses) the tests' own Kafka, Redis and
// Elasticsearch and stops them when the test ends.
func startServices(t *testing.T) services {
	t.Helper()
	root := repoRoot(t)
	s := services{root: root, dir: filepath.Join(root, ".services", "outage")}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv(keepEnv) == "1" {
			t.Logf("%s=1: leaving the outage servers running (scripts/services/down.sh with STREAMVIEW_SERVICES_DIR=%s and their ports stops them)", keepEnv, s.dir)
			return
		}
		if out, err := s.run("down.sh"); err != nil {
			t.Errorf("stopping the outage servers: %v\n%s", err, out)
		}
	})
	start := time.Now()
	s.script(t, "up.sh")
	t.Logf("servers up in %v (Kafka %s, Redis %s, Elasticsearch %s)", time.Since(start).Round(time.Second), kafkaAddr, redisAddr, esURL)
	return s
}

func (s services) env() []string {
	return append(os.Environ(),
		"STREAMVIEW_NO_DOCKER=1", // Docker's compose file has fixed ports
		"STREAMVIEW_SERVICES_DIR="+s.dir,
		"KAFKA_PORT="+kafkaPort, "KAFKA_CONTROLLER_PORT="+kafkaControllerPort,
		"REDIS_PORT="+redisPort, "REDIS_APPENDONLY=yes", // a restart keeps the views, as a persistent store does
		"ES_PORT="+esPort, "ES_TRANSPORT_PORT="+esTransportPort,
		// On a loaded 2-core machine Elasticsearch took over 3 minutes to
		// start again; the outage is the point, not the start's speed.
		"ES_START_TIMEOUT=600", "KAFKA_START_TIMEOUT=300",
	)
}

// run runs scripts/services/name with args and returns its output.
func (s services) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(s.root, "scripts", "services", name)}, args...)...)
	cmd.Env = s.env()
	cmd.Dir = s.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// script is run, failing the test when the script fails.
func (s services) script(t *testing.T, name string, args ...string) {
	t.Helper()
	start := time.Now()
	out, err := s.run(name, args...)
	if err != nil {
		t.Fatalf("scripts/services/%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("scripts/services/%s %s: %v", name, strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
}

// buildStreamview builds the streamview binary into a temporary directory.
func buildStreamview(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "streamview")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/streamview")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/streamview: %v\n%s", err, out)
	}
	return bin
}

// serveProc is a `streamview serve` process.
type serveProc struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error // once exited is closed
}

// startServe runs `streamview serve` (all roles) with args and stops it
// (SIGTERM) when the test ends, failing the test when it exited early or
// not cleanly.
func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: exec.Command(bin, append([]string{"serve"}, args...)...), log: logPath, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			t.Errorf("serve exited before the end of the test: %v\n%s", p.err, p.tail())
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			var exit *exec.ExitError
			if p.err != nil && !errors.As(p.err, &exit) {
				t.Errorf("serve: %v", p.err)
			} else if p.err != nil {
				t.Errorf("serve did not stop cleanly on SIGTERM: %v\n%s", p.err, p.tail())
			}
		case <-time.After(60 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("serve did not stop within 60s of SIGTERM\n%s", p.tail())
		}
		if t.Failed() {
			t.Logf("serve log (last lines):\n%s", p.tail())
		}
	})
	return p
}

// alive fails the test when serve has exited: it must ride out every
// outage.
func (p *serveProc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("serve exited: %v\n%s", p.err, p.tail())
	default:
	}
}

// tail is the end of serve's log.
func (p *serveProc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}

// runCLI runs a streamview command to its end.
func runCLI(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("streamview %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitReady waits for the API's /readyz to answer 200.
func waitReady(t *testing.T, base string, p *serveProc) {
	t.Helper()
	testenv.Eventually(t, 3*time.Minute, func() error {
		p.alive(t)
		a := get(base + "/readyz")
		if a.err != nil {
			return a.err
		}
		if a.status != 200 {
			return fmt.Errorf("readyz %d: %s", a.status, a.raw)
		}
		return nil
	})
}
