package namesrv

import (
	"cmp"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// fakeLoop is a node's event loop on a virtual clock. Nothing runs until
// the test calls Run or Advance; events run in (due time, sequence) order.
type fakeLoop struct {
	now    time.Duration
	seq    uint64
	events []*fakeTimer
}

type fakeTimer struct {
	at   time.Duration
	seq  uint64
	f    func()
	done bool
}

func (l *fakeLoop) Now() time.Time      { return time.Unix(1_700_000_000, 0).Add(l.now) }
func (l *fakeLoop) Mono() time.Duration { return l.now }

func (l *fakeLoop) AfterFunc(d time.Duration, f func()) host.Timer {
	l.seq++
	t := &fakeTimer{at: l.now + max(d, 0), seq: l.seq, f: f}
	l.events = append(l.events, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Run runs every event due now, and those they schedule for now.
func (l *fakeLoop) Run() { l.Advance(0) }

// Advance moves the clock forward by d, running events as they fall due.
func (l *fakeLoop) Advance(d time.Duration) {
	end := l.now + d
	for {
		l.events = slices.DeleteFunc(l.events, func(t *fakeTimer) bool { return t.done })
		if len(l.events) == 0 {
			break
		}
		next := slices.MinFunc(l.events, func(a, b *fakeTimer) int {
			if c := cmp.Compare(a.at, b.at); c != 0 {
				return c
			}
			return cmp.Compare(a.seq, b.seq)
		})
		if next.at > end {
			break
		}
		next.done = true
		l.now = next.at
		next.f()
	}
	l.now = end
}

// fakeNet is an in-memory host.Network on a fakeLoop. Every write reaches
// the peer as a later loop event, through the peer's own Deframer.
type fakeNet struct {
	loop      *fakeLoop
	nextID    uint64
	nextPort  int
	listeners map[string]*fakeListener
}

func newFakeNet(loop *fakeLoop) *fakeNet {
	return &fakeNet{loop: loop, nextPort: 40000, listeners: map[string]*fakeListener{}}
}

type fakeListener struct {
	addr   string
	framer host.Framer
	h      host.Handler
	closed bool
}

func (l *fakeListener) Addr() string { return l.addr }
func (l *fakeListener) Close() error { l.closed = true; return nil }

func (n *fakeNet) Listen(addr string, framer host.Framer, h host.Handler) (host.Listener, error) {
	l := &fakeListener{addr: addr, framer: framer, h: h}
	n.listeners[addr] = l
	return l, nil
}

func (n *fakeNet) Dial(addr string, framer host.Framer, h host.Handler) host.Conn {
	n.nextID++
	n.nextPort++
	client := &pipeConn{net: n, id: n.nextID, framer: framer, h: h, remote: addr,
		local: "10.0.0.9:" + strconv.Itoa(n.nextPort)}
	client.deframer = host.NewDeframer(framer)
	l, ok := n.listeners[addr]
	if !ok || l.closed {
		n.loop.AfterFunc(0, func() { client.shut(io.ErrUnexpectedEOF) })
		return client
	}
	n.nextID++
	server := &pipeConn{net: n, id: n.nextID, framer: l.framer, h: l.h, local: addr, remote: client.local}
	server.deframer = host.NewDeframer(l.framer)
	client.peer, server.peer = server, client
	n.loop.AfterFunc(0, func() {
		server.h.OnOpen(server)
		client.h.OnOpen(client)
	})
	return client
}

type pipeConn struct {
	net           *fakeNet
	id            uint64
	peer          *pipeConn
	framer        host.Framer
	h             host.Handler
	deframer      *host.Deframer
	local, remote string
	closed        bool
}

func (c *pipeConn) ID() uint64         { return c.id }
func (c *pipeConn) Buffered() int      { return 0 }
func (c *pipeConn) LocalAddr() string  { return c.local }
func (c *pipeConn) RemoteAddr() string { return c.remote }

func (c *pipeConn) Write(p []byte) error {
	if c.closed {
		return host.ErrClosed
	}
	if peer := c.peer; peer != nil {
		c.net.loop.AfterFunc(0, func() { peer.deliver(p) })
	}
	return nil
}

func (c *pipeConn) deliver(p []byte) {
	if c.closed {
		return
	}
	err := c.deframer.Push(p, func(frame []byte) {
		if !c.closed {
			c.h.OnMessage(c, c.framer.Decode(frame))
		}
	})
	if err != nil {
		c.shut(err)
		c.peer.shutLater(io.EOF)
	}
}

// Close closes this end; the peer sees EOF.
func (c *pipeConn) Close() {
	if c.closed {
		return
	}
	c.shut(nil)
	if c.peer != nil {
		c.peer.shutLater(io.EOF)
	}
}

func (c *pipeConn) shutLater(err error) { c.net.loop.AfterFunc(0, func() { c.shut(err) }) }

func (c *pipeConn) shut(err error) {
	if c.closed {
		return
	}
	c.closed = true
	c.net.loop.AfterFunc(0, func() { c.h.OnClose(c, err) })
}
