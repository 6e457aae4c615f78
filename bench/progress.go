package bench

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamview/streamview/internal/thousands"
)

// progressEvery is how often a long step prints where it is.
const progressEvery = 2 * time.Second

// meter prints a step's progress every progressEvery until stopped.
type meter struct {
	out        io.Writer
	step, unit string
	total      int
	start      time.Time
	done       atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
	stopOnce   sync.Once
}

func startMeter(out io.Writer, step, unit string, total int) *meter {
	m := &meter{out: out, step: step, unit: unit, total: total, start: time.Now(), stop: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.print()
			}
		}
	}()
	return m
}

func (m *meter) add(n int)   { m.done.Add(int64(n)) }
func (m *meter) set(n int64) { m.done.Store(n) }

func (m *meter) print() {
	n := m.done.Load()
	rate := float64(n) / time.Since(m.start).Seconds()
	fmt.Fprintf(m.out, "%-12s %s/%s %s (%s/s)\n", m.step, thousands.Format(int(n)), thousands.Format(m.total), m.unit, thousands.Format(int(rate)))
}

// finish stops the meter and prints a last line.
func (m *meter) finish() {
	m.stopOnce.Do(func() {
		close(m.stop)
		m.wg.Wait()
		m.print()
	})
}
