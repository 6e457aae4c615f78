package redisview

import (
	"context"
	"testing"
	"time"
)

// A read of the pointer sent before a swap this Store made, answered after
// it, must not bring the old generation back.
func TestRememberKeepsTheLatestSent(t *testing.T) {
	s := &Store{liveCache: time.Hour} // no client: a pointer read would panic
	t0 := time.Now()
	s.remember(2, t0.Add(time.Millisecond)) // the swap
	s.remember(1, t0)                       // the slow read, sent before it
	if gen, err := s.liveForRead(context.Background()); err != nil || gen != 2 {
		t.Fatalf("liveForRead = %d, %v; want 2", gen, err)
	}
	s.remember(3, t0.Add(2*time.Millisecond))
	if gen, err := s.liveForRead(context.Background()); err != nil || gen != 3 {
		t.Fatalf("liveForRead = %d, %v; want 3", gen, err)
	}
}
