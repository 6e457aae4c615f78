package netcut

import (
	"io"
	"net"
	"sync"
)

// Proxy forwards connections from Addr to a target address; Cut and
// Blackhole take the target off the network in two ways, Restore brings it
// back.
type Proxy struct {
	target string
	mu     sync.Mutex
	ln     net.Listener
	addr   string
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
	// hole: accept connections and never answer them (Blackhole).
	hole bool
}

// New starts a proxy on a free loopback port in front of target.
func New(target string) (*Proxy, error) {
	p := &Proxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	return p, nil
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			hole := p.hole
			p.mu.Unlock()
			if hole {
				go p.drop(c)
			} else {
				go p.pipe(c)
			}
		}
	}()
}

// drop holds c open, reading and discarding what it sends, until the
// proxy is cut or restored.
func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c] = true
	p.mu.Unlock()
	io.Copy(io.Discard, c)
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut while dialling
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// Cut closes the listener and every open connection: clients see refused
// and reset connections, as if the server were down.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Blackhole closes every open connection (clients see them reset) and then
// accepts new ones on the same address without ever forwarding or
// answering them, as a hung server or a firewall that swallows packets
// after the handshake would, until Restore.
func (p *Proxy) Blackhole() error { return p.listen(true) }

// Restore forwards again on the same address, after Cut or Blackhole (the
// connections a blackhole held are closed first).
func (p *Proxy) Restore() error { return p.listen(false) }

func (p *Proxy) listen(hole bool) error {
	p.Cut()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hole = hole
	p.serve(ln)
	return nil
}

// Close stops the proxy for good.
func (p *Proxy) Close() { p.Cut() }
