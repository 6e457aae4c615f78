package testenv

import (
	"fmt"
	"testing"
	"time"
)

// Eventually polls cond every few milliseconds until it returns nil or
// timeout passes, then fails the test with cond's last error. Tests use it
// instead of sleeping a fixed time.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// Errorf is fmt.Errorf, for conditions.
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
