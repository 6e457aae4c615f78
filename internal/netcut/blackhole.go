package netcut

import (
	"net"
	"sync"
)

// Blackhole is a server that accepts connections and never answers: it
// reads and drops what clients send, as a hung server or a firewall that
// swallows packets after the handshake would. A client without timeouts
// waits on it forever.
type Blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewBlackhole starts a blackhole on a free loopback port.
func NewBlackhole() (*Blackhole, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Blackhole{ln: ln, conns: map[net.Conn]bool{}}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			if b.conns == nil { // closed
				b.mu.Unlock()
				c.Close()
				return
			}
			b.conns[c] = true
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return b, nil
}

// Addr is where clients connect.
func (b *Blackhole) Addr() string { return b.ln.Addr().String() }

// Close stops accepting and closes every connection.
func (b *Blackhole) Close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
	b.wg.Wait()
}
