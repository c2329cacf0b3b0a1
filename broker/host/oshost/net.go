package oshost

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/thrustmq/thrust/broker/host"
)

// Network is real TCP. Connections read and write on goroutines of their
// own and deliver everything to the loop.
type Network struct {
	loop       *Loop
	queueLimit int
	nextID     atomic.Uint64
}

var _ host.Network = (*Network)(nil)

const (
	readBufferBytes = 64 << 10
	dialTimeout     = 5 * time.Second
	// closeDrainTimeout bounds how long Close waits for a peer that stopped
	// reading before the connection is torn down anyway.
	closeDrainTimeout = 5 * time.Second
)

func (n *Network) Listen(addr string, framer host.Framer, h host.Handler) (host.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &listener{ln: ln}
	go l.accept(n, framer, h)
	return l, nil
}

type listener struct {
	ln     net.Listener
	closed atomic.Bool
}

func (l *listener) Addr() string { return l.ln.Addr().String() }

func (l *listener) Close() error {
	l.closed.Store(true)
	return l.ln.Close()
}

func (l *listener) accept(n *Network, framer host.Framer, h host.Handler) {
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, say: back off rather than spin, and keep
			// serving the connections we have.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := n.newConn(framer, h)
		c.attach(nc)
		n.loop.Post(func() { h.OnOpen(c) })
		c.start()
	}
}

func (n *Network) Dial(addr string, framer host.Framer, h host.Handler) host.Conn {
	c := n.newConn(framer, h)
	c.remote = addr
	go func() {
		nc, err := net.DialTimeout("tcp", addr, dialTimeout)
		if err != nil {
			c.mu.Lock()
			c.dead = true
			items := c.takeAllLocked()
			c.mu.Unlock()
			releaseItems(items)
			n.loop.Post(func() { c.notifyClosed(err) })
			return
		}
		c.attach(nc)
		n.loop.Post(func() {
			if !c.notified && !c.localClose {
				h.OnOpen(c)
			}
		})
		c.start()
	}()
	return c
}

func (n *Network) newConn(framer host.Framer, h host.Handler) *conn {
	return &conn{
		net:    n,
		id:     n.nextID.Add(1),
		framer: framer,
		h:      h,
		wake:   make(chan struct{}, 1),
	}
}

// conn is one TCP connection. Fields are grouped by who may touch them.
type conn struct {
	net    *Network
	id     uint64
	framer host.Framer
	h      host.Handler

	// Set once by attach, before the reader and writer start.
	nc     net.Conn
	raw    syscall.RawConn
	local  string
	remote string

	// Shared between the loop and the writer.
	mu      sync.Mutex
	items   []item
	spare   []item
	queued  atomic.Int64 // bytes queued, not yet handed to the kernel
	closing bool         // Close was called: drain, then close
	dead    bool         // the socket failed or closed: drop everything
	wake    chan struct{}

	// Loop only.
	localClose bool
	notified   bool
}

// item is one queued write: bytes, or a range of a file.
type item struct {
	b   []byte
	f   *File
	off int64
	n   int
	// extraRefs are references to f beyond the item's own, from ranges
	// the writer merged into it (see coalesce).
	extraRefs int
}

func (it item) size() int {
	if it.f != nil {
		return it.n
	}
	return len(it.b)
}

// sendFileMinBytes is the smallest file range worth a sendfile(2) of its
// own. A pull body of small messages is many short ranges (the queues'
// records interleave in the commit log), and a syscall per range costs
// more than the bytes: measured on 1 KiB messages, sendfile took more
// broker CPU per GB than copying. Shorter ranges of a mapped file go out
// in the writer's writev straight from the mapping instead, which copies
// exactly as much as sendfile does (page cache to socket buffer, in the
// kernel) and never through the broker's heap: what RocketMQ does with
// the mapped buffers of its ManyMessageTransfer.
const sendFileMinBytes = 32 << 10

// fromMapping reports whether it is sent from its file's mapping rather
// than with sendfile(2).
func (it item) fromMapping() bool {
	return it.f != nil && it.n < sendFileMinBytes && it.f.view != nil && it.off >= 0 && it.off+int64(it.n) <= int64(len(it.f.view))
}

// coalesce merges file ranges that follow each other on disk (a pull of
// one queue whose records are adjacent in the commit log) into one item,
// in place, so that the size that picks sendfile or the mapping is the
// run's, and a run goes out in one call.
func coalesce(batch []item) []item {
	out := batch[:0]
	for _, it := range batch {
		if k := len(out) - 1; k >= 0 && it.f != nil && out[k].f == it.f && out[k].off+int64(out[k].n) == it.off {
			out[k].n += it.n
			out[k].extraRefs += 1 + it.extraRefs
			continue
		}
		out = append(out, it)
	}
	clear(batch[len(out):])
	return out
}

var (
	_ host.Conn       = (*conn)(nil)
	_ host.FileSender = (*conn)(nil)
)

func (c *conn) attach(nc net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nc = nc
	c.local = nc.LocalAddr().String()
	c.remote = nc.RemoteAddr().String()
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
}

func (c *conn) start() {
	go c.readLoop()
	go c.writeLoop()
}

func (c *conn) ID() uint64         { return c.id }
func (c *conn) LocalAddr() string  { return c.local }
func (c *conn) RemoteAddr() string { return c.remote }
func (c *conn) Buffered() int      { return int(c.queued.Load()) }

func (c *conn) Write(p []byte) error {
	return c.enqueue(item{b: p})
}

func (c *conn) SendFile(f host.File, off int64, n int) error {
	if n == 0 {
		return nil
	}
	of, ok := f.(*File)
	if !ok {
		// Not a file of ours, so no descriptor to hand the kernel: copy.
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil {
			return fmt.Errorf("oshost: read for send: %w", err)
		}
		return c.Write(buf)
	}
	if !of.acquire() {
		return host.ErrClosed
	}
	if err := c.enqueue(item{f: of, off: off, n: n}); err != nil {
		of.release()
		return err
	}
	return nil
}

func (c *conn) enqueue(it item) error {
	size := it.size()
	c.mu.Lock()
	if c.closing || c.dead {
		c.mu.Unlock()
		return host.ErrClosed
	}
	if q := c.queued.Load(); q > 0 && q+int64(size) > int64(c.net.queueLimit) {
		c.mu.Unlock()
		return host.ErrBackpressure
	}
	c.items = append(c.items, it)
	c.queued.Add(int64(size))
	first := len(c.items) == 1
	c.mu.Unlock()
	if first {
		c.signal()
	}
	return nil
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) Close() {
	if c.localClose {
		return
	}
	c.localClose = true
	c.mu.Lock()
	c.closing = true
	nc := c.nc
	c.mu.Unlock()
	if nc != nil {
		nc.SetWriteDeadline(time.Now().Add(closeDrainTimeout))
	}
	c.signal()
}

// notifyClosed runs on the loop and delivers OnClose once.
func (c *conn) notifyClosed(err error) {
	if c.notified {
		return
	}
	c.notified = true
	if c.localClose {
		err = nil
	}
	c.h.OnClose(c, err)
}

func (c *conn) deliver(msg any) {
	if c.notified || c.localClose {
		return // Close stops reading: frames still in flight are dropped.
	}
	c.h.OnMessage(c, msg)
}

func (c *conn) readLoop() {
	buf := make([]byte, readBufferBytes)
	d := host.NewDeframer(c.framer)
	var batch []func()
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			batch = batch[:0]
			perr := d.Push(buf[:n], func(frame []byte) {
				msg := c.framer.Decode(frame)
				batch = append(batch, func() { c.deliver(msg) })
			})
			c.net.loop.postBatch(batch)
			clear(batch)
			if perr != nil && err == nil {
				err = perr
			}
		}
		if err != nil {
			c.fail()
			if errors.Is(err, net.ErrClosed) {
				err = host.ErrClosed
			}
			c.net.loop.Post(func() { c.notifyClosed(err) })
			return
		}
	}
}

// writeFailed ends writing after the socket refused a write: the peer
// reset the connection, most likely, after sending requests it will not
// wait for (a consumer's last offset commits before it closes). Reading
// goes on, so that those requests are still delivered; the reader closes
// the socket at their end, or after a grace period if the peer stays
// half-open. A locally closing connection is closed at once.
func (c *conn) writeFailed() {
	c.mu.Lock()
	c.dead = true
	items := c.takeAllLocked()
	closing := c.closing
	c.mu.Unlock()
	releaseItems(items)
	if closing {
		c.nc.Close()
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(closeDrainTimeout))
}

// fail marks the connection dead and closes the socket, which ends both
// goroutines.
func (c *conn) fail() {
	c.mu.Lock()
	c.dead = true
	c.mu.Unlock()
	c.signal()
	c.nc.Close()
}

func (c *conn) takeAllLocked() []item {
	items := c.items
	c.items = nil
	c.queued.Store(0)
	return items
}

func releaseItems(items []item) {
	for _, it := range items {
		if it.f != nil {
			for range 1 + it.extraRefs {
				it.f.release()
			}
		}
	}
}

func (c *conn) writeLoop() {
	var bufs net.Buffers
	for {
		c.mu.Lock()
		for len(c.items) == 0 && !c.closing && !c.dead {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if c.dead || len(c.items) == 0 {
			// Dead, or closing with nothing left to drain.
			items := c.takeAllLocked()
			c.mu.Unlock()
			releaseItems(items)
			c.nc.Close()
			return
		}
		batch := c.items
		c.items, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		batch = coalesce(batch)

		var err error
		for i := 0; i < len(batch) && err == nil; {
			if it := batch[i]; it.f != nil && !it.fromMapping() {
				err = c.sendFile(it)
				releaseItems(batch[i : i+1])
				batch[i] = item{}
				c.queued.Add(-int64(it.n))
				i++
				continue
			}
			// Gather the run of byte slices and mapped ranges into one
			// writev. The references taken by SendFile keep the mappings
			// alive until it returns.
			j, size, mapped := i, 0, 0
			bufs = bufs[:0]
			for ; j < len(batch) && (batch[j].f == nil || batch[j].fromMapping()); j++ {
				it := batch[j]
				if it.f != nil {
					bufs = append(bufs, it.f.view[it.off:it.off+int64(it.n)])
					size += it.n
					mapped += it.n
					continue
				}
				bufs = append(bufs, it.b)
				size += len(it.b)
			}
			var n int64
			n, err = bufs.WriteTo(c.nc)
			stats.WrittenBytes.Add(uint64(n))
			if mapped > 0 {
				stats.MappedSendCalls.Add(1)
				stats.MappedSendBytes.Add(uint64(mapped))
			}
			c.queued.Add(-int64(size))
			releaseItems(batch[i:j])
			clear(batch[i:j])
			i = j
		}
		if err != nil {
			releaseItems(batch)
			clear(batch)
			c.writeFailed()
			return
		}
		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
	}
}

// sendFile sends it with sendfile(2) at an explicit offset: the kernel
// copies from the page cache to the socket, and the file position (shared
// by every concurrent send of the segment) is not used.
func (c *conn) sendFile(it item) error {
	if c.raw == nil {
		buf := make([]byte, it.n)
		if _, err := it.f.ReadAt(buf, it.off); err != nil {
			return err
		}
		_, err := c.nc.Write(buf)
		return err
	}
	off, remain := it.off, it.n
	var serr error
	err := c.raw.Write(func(fd uintptr) bool {
		for remain > 0 {
			n, err := unix.Sendfile(int(fd), it.f.fd, &off, remain)
			if n > 0 {
				remain -= n
				stats.SendFileBytes.Add(uint64(n))
			}
			switch {
			case err == unix.EAGAIN:
				return false // wait until the socket is writable
			case err == unix.EINTR:
				continue
			case err != nil:
				serr = err
				return true
			case n == 0:
				serr = io.ErrUnexpectedEOF // the file is shorter than the range
				return true
			}
		}
		return true
	})
	stats.SendFileCalls.Add(1)
	if err != nil {
		return err
	}
	return serr
}
