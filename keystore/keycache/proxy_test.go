package keycache

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// tcpProxy forwards connections to a target and can cut every link at will, like a
// network partition between the sidecar and Redis.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	unstall *sync.Cond // on mu; broadcast when stalled turns false
	down    bool
	stalled bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	pipes   atomic.Int64 // goroutines copying bytes, for goroutine counts that exclude the proxy
}

func startProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting proxy: %v", err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.unstall = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	p.pipes.Add(1)
	defer p.pipes.Add(-1)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled {
				p.unstall.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every link and refuses new ones until Resume.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Stall holds every byte in transit, in both directions, until Unstall: a Redis
// that has become arbitrarily slow.
func (p *tcpProxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// Unstall lets held bytes through.
func (p *tcpProxy) Unstall() {
	p.mu.Lock()
	p.stalled = false
	p.mu.Unlock()
	p.unstall.Broadcast()
}

// Resume accepts links again.
func (p *tcpProxy) Resume() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *tcpProxy) close() {
	_ = p.ln.Close()
	p.Unstall()
	p.Cut()
	p.wg.Wait()
}
