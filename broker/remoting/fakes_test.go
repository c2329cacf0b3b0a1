package remoting

import (
	"cmp"
	"io"
	"slices"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// fakeLoop is a one-node event loop with a virtual clock: the test's
// host.Clock. Events run in (time, sequence) order when the test calls Run
// or Advance, never on their own.
type fakeLoop struct {
	now    time.Duration
	seq    uint64
	events []*fakeTimer
}

type fakeTimer struct {
	loop *fakeLoop
	at   time.Duration
	seq  uint64
	f    func()
	done bool // ran or stopped
}

func (l *fakeLoop) Now() time.Time      { return time.Unix(1_700_000_000, 0).Add(l.now) }
func (l *fakeLoop) Mono() time.Duration { return l.now }

func (l *fakeLoop) AfterFunc(d time.Duration, f func()) host.Timer {
	l.seq++
	t := &fakeTimer{loop: l, at: l.now + max(d, 0), seq: l.seq, f: f}
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

// Run runs every event due now, including those they schedule for now.
func (l *fakeLoop) Run() { l.Advance(0) }

// Advance moves the clock forward by d, running events as they fall due.
func (l *fakeLoop) Advance(d time.Duration) {
	end := l.now + d
	for {
		slices.SortFunc(l.events, func(a, b *fakeTimer) int {
			if c := cmp.Compare(a.at, b.at); c != 0 {
				return c
			}
			return cmp.Compare(a.seq, b.seq)
		})
		i := slices.IndexFunc(l.events, func(t *fakeTimer) bool { return !t.done })
		if i < 0 || l.events[i].at > end {
			l.events = slices.DeleteFunc(l.events, func(t *fakeTimer) bool { return t.done })
			l.now = end
			return
		}
		t := l.events[i]
		t.done = true
		l.now = t.at
		t.f()
	}
}

// fakeConn records what a Channel writes. It is the simplest host.Conn:
// nothing is delivered anywhere.
type fakeConn struct {
	id       uint64
	written  []byte
	writes   int
	failNext error // returned by the next Write, then cleared
	closed   bool
}

func (c *fakeConn) ID() uint64 { return c.id }
func (c *fakeConn) Write(p []byte) error {
	if c.closed {
		return host.ErrClosed
	}
	if err := c.failNext; err != nil {
		c.failNext = nil
		return err
	}
	c.writes++
	c.written = append(c.written, p...)
	return nil
}
func (c *fakeConn) Buffered() int      { return 0 }
func (c *fakeConn) Close()             { c.closed = true }
func (c *fakeConn) LocalAddr() string  { return "127.0.0.1:10911" }
func (c *fakeConn) RemoteAddr() string { return "127.0.0.1:50000" }

// frames decodes everything written so far, and forgets it.
func (c *fakeConn) frames(t interface{ Fatalf(string, ...any) }) []*Command {
	var out []*Command
	d := host.NewDeframer(Framer{})
	if err := d.Push(c.written, func(frame []byte) {
		cmd, err := DecodeFrame(frame)
		if err != nil {
			t.Fatalf("written frame does not decode: %v", err)
		}
		out = append(out, cmd)
	}); err != nil {
		t.Fatalf("written bytes do not frame: %v", err)
	}
	if d.Buffered() != 0 {
		t.Fatalf("%d bytes of a partial frame written", d.Buffered())
	}
	c.written = nil
	return out
}

// sendFileConn is a fakeConn that can send files, recording each range in
// the stream as the bytes it would have sent.
type sendFileConn struct {
	fakeConn
	sendFiles int
}

func (c *sendFileConn) SendFile(f host.File, off int64, n int) error {
	if c.closed {
		return host.ErrClosed
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return err
	}
	c.sendFiles++
	c.written = append(c.written, buf...)
	return nil
}

// memFile is a read-only in-memory host.File.
type memFile struct {
	name    string
	data    []byte
	readErr error
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.readErr != nil {
		return 0, f.readErr
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (f *memFile) WriteAt(p []byte, off int64) (int, error) { return 0, host.ErrIO }
func (f *memFile) Sync() error                              { return nil }
func (f *memFile) SyncAsync(done func(error))               { done(nil) }
func (f *memFile) Truncate(int64) error                     { return host.ErrIO }
func (f *memFile) Size() (int64, error)                     { return int64(len(f.data)), nil }
func (f *memFile) Name() string                             { return f.name }
func (f *memFile) Close() error                             { return nil }

// fakeNet is an in-memory host.Network on a fakeLoop: each Write is
// delivered to the peer as a later loop event, through the peer's own
// Deframer, optionally one byte per event.
type fakeNet struct {
	loop      *fakeLoop
	nextID    uint64
	listeners map[string]*fakeListener
	byteWise  bool // deliver one byte per event, to split every frame
}

type fakeListener struct {
	net    *fakeNet
	addr   string
	framer host.Framer
	h      host.Handler
	closed bool
}

func (l *fakeListener) Addr() string { return l.addr }
func (l *fakeListener) Close() error { l.closed = true; return nil }

func newFakeNet(loop *fakeLoop) *fakeNet {
	return &fakeNet{loop: loop, listeners: make(map[string]*fakeListener)}
}

func (n *fakeNet) Listen(addr string, framer host.Framer, h host.Handler) (host.Listener, error) {
	l := &fakeListener{net: n, addr: addr, framer: framer, h: h}
	n.listeners[addr] = l
	return l, nil
}

func (n *fakeNet) Dial(addr string, framer host.Framer, h host.Handler) host.Conn {
	n.nextID++
	client := &pipeConn{net: n, id: n.nextID, framer: framer, h: h, local: "10.0.0.2:40000", remote: addr}
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
	failWrites    error
}

func (c *pipeConn) ID() uint64         { return c.id }
func (c *pipeConn) Buffered() int      { return 0 }
func (c *pipeConn) LocalAddr() string  { return c.local }
func (c *pipeConn) RemoteAddr() string { return c.remote }

func (c *pipeConn) Write(p []byte) error {
	if c.closed {
		return host.ErrClosed
	}
	if c.failWrites != nil {
		return c.failWrites
	}
	peer := c.peer
	if peer == nil {
		return nil // dialling nowhere: the close is on its way
	}
	if !c.net.byteWise {
		c.net.loop.AfterFunc(0, func() { peer.deliver(p) })
		return nil
	}
	for i := range p {
		b := p[i : i+1]
		c.net.loop.AfterFunc(0, func() { peer.deliver(b) })
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
