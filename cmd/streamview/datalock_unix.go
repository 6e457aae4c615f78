//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// lockData takes dir for this process: two dev processes on one embedded
// log would each write it as their own and lose each other's records. The
// lock is the kernel's (flock), so it goes with the process however it
// ends; release gives it back. A process killed a moment ago holds it
// until the kernel has torn it down, so lockData waits up to wait for the
// lock (saying so on progress) before it gives up.
func lockData(ctx context.Context, dir string, wait time.Duration, progress io.Writer) (release func(), err error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	deadline := time.Now().Add(wait)
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		who := "another process"
		if held, _ := os.ReadFile(path); len(bytes.TrimSpace(held)) > 0 {
			who = "process " + string(bytes.TrimSpace(held))
		}
		if ctx.Err() != nil {
			f.Close()
			return nil, fmt.Errorf("waiting for %s, in use by %s: %w", dir, who, ctx.Err())
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%s is in use by %s (another `streamview dev`?): stop it, or give this one another --data", dir, who)
		}
		if !said {
			said = true
			fmt.Fprintf(progress, "%s is in use by %s; waiting up to %v for it to end\n", dir, who, wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
