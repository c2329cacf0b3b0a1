package sim

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// NetOptions configure the simulated network. Start from DefaultNetOptions;
// zero sizes and a zero RetransmitDelay mean their defaults, every other
// field is taken as given.
type NetOptions struct {
	// Delay is the one-way latency of each segment.
	Delay Dist
	// MaxSegment bounds a segment's payload in bytes.
	MaxSegment int
	// SplitProb is the chance that a segment is cut at a random length
	// (from 1 byte) instead of as much as MaxSegment allows, so decoders
	// see partial frames.
	SplitProb float64
	// Window bounds the bytes in flight in one direction of a connection;
	// beyond it, writes wait in the connection's queue.
	Window int
	// QueueLimit bounds a connection's queue (host.ErrBackpressure).
	QueueLimit int
	// Bandwidth is each host's egress in bytes per second, shared by its
	// connections; 0 is unlimited.
	Bandwidth int64
	// Timeout is TCP's patience: a dial not answered within it fails, and
	// a connection whose path is cut by a partition for this long is reset
	// on both ends, as are the peers of a host that lost power. 0 waits
	// forever.
	Timeout time.Duration
	// Faults are the network's injected failures.
	Faults NetFaults
}

// NetFaults are the network's injected failures, off by default;
// World.SetFaults(false) silences them.
type NetFaults struct {
	// LossProb is the chance that a segment is lost and retransmitted:
	// TCP hides the loss, and the stream stalls for RetransmitDelay.
	LossProb        float64
	RetransmitDelay time.Duration
	// ResetProb is the chance that a segment resets its connection
	// instead of arriving (a middlebox, a stray RST).
	ResetProb float64
}

// DefaultNetOptions is a quiet data-center network: 50-500 µs one way with
// a 0.1% tail to 5 ms, 64 KiB segments of which a quarter are cut short,
// 1 MiB windows, oshost's 64 MiB queue limit, 10 Gbit/s per host, 10 s
// timeout.
func DefaultNetOptions() NetOptions {
	o := NetOptions{
		Delay: Dist{
			Min: 50 * time.Microsecond, Max: 500 * time.Microsecond,
			TailProb: 0.001, TailMax: 5 * time.Millisecond,
		},
		SplitProb: 0.25,
		Bandwidth: 10e9 / 8,
		Timeout:   10 * time.Second,
	}
	o.fill()
	return o
}

func (o *NetOptions) fill() {
	if o.MaxSegment <= 0 {
		o.MaxSegment = 64 << 10
	}
	if o.Window <= 0 {
		o.Window = 1 << 20
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 64 << 20
	}
	if o.Faults.RetransmitDelay <= 0 {
		o.Faults.RetransmitDelay = 200 * time.Millisecond
	}
}

// Errors a connection's OnClose may carry (besides io.EOF when the peer
// closed, and the Framer's own errors).
var (
	ErrConnRefused = errors.New("sim: connection refused")
	ErrConnReset   = errors.New("sim: connection reset by peer")
	ErrTimeout     = errors.New("sim: connection timed out")
	ErrUnreachable = errors.New("sim: no route to host")
)

const (
	ephemeralMin = 32768
	ephemeralMax = 60999
)

type network struct {
	opts        NetOptions
	listeners   map[string]*listener // by "ip:port"; looked up, never iterated
	cut         map[[2]int]bool      // directed host-index pairs that drop traffic
	isolated    map[int]bool
	partitioned bool
	conns       []*tcpConn // in creation order
	pruneAt     int
	held        []*pipe // pipes holding segments until the partition heals
}

func (n *network) init(o NetOptions) {
	n.opts = o
	n.listeners = map[string]*listener{}
	n.cut = map[[2]int]bool{}
	n.isolated = map[int]bool{}
	n.pruneAt = 64
}

// blocked reports whether traffic from a to b is cut.
func (n *network) blocked(a, b *Host) bool {
	if !n.partitioned || a == b {
		return false
	}
	return n.isolated[a.index] || n.isolated[b.index] || n.cut[[2]int{a.index, b.index}]
}

// SetNetFaults replaces the network's injected failure probabilities.
func (w *World) SetNetFaults(f NetFaults) {
	if f.RetransmitDelay <= 0 {
		f.RetransmitDelay = w.net.opts.Faults.RetransmitDelay
	}
	w.net.opts.Faults = f
}

// Partition cuts traffic between a and b in both directions.
func (w *World) Partition(a, b *Host) {
	w.net.cut[[2]int{a.index, b.index}] = true
	w.net.cut[[2]int{b.index, a.index}] = true
	w.partitioned("partition", a.name+"<->"+b.name)
}

// PartitionOneWay cuts traffic from one host to another; the other way
// still flows. A TCP stream across it stalls one way only (acks are not
// modelled) until Timeout resets it.
func (w *World) PartitionOneWay(from, to *Host) {
	w.net.cut[[2]int{from.index, to.index}] = true
	w.partitioned("partition", from.name+"->"+to.name)
}

// Isolate cuts h from every other host, including hosts added later.
func (w *World) Isolate(h *Host) {
	w.net.isolated[h.index] = true
	w.partitioned("isolate", h.name)
}

// Heal removes every partition. Held segments are delivered after a fresh
// delay each, in order, and stalled queues resume.
func (w *World) Heal() {
	n := &w.net
	clear(n.cut)
	clear(n.isolated)
	n.partitioned = false
	w.tbegin("world", "heal")
	w.tend()
	held := n.held
	n.held = nil
	for _, p := range held {
		p.unhold(w)
	}
	for _, c := range n.conns {
		if c.stalled {
			c.stalled = false
			c.stallEpoch++
		}
		c.dialer.kick()
		if c.acceptor != nil {
			c.acceptor.kick()
		}
	}
}

func (w *World) partitioned(what, who string) {
	n := &w.net
	n.partitioned = true
	w.tbegin("world", what)
	w.tstr("hosts", who)
	w.tend()
	n.prune()
	// Start the reset clock of every connection the cut has just severed.
	for _, c := range n.conns {
		if c.stalled || n.opts.Timeout <= 0 {
			continue
		}
		if n.blocked(c.fwd.src, c.fwd.dst) || n.blocked(c.fwd.dst, c.fwd.src) {
			c.stalled = true
			c.stallEpoch++
			w.schedule(w.now+int64(n.opts.Timeout), c, connStall|c.stallEpoch<<2, nil)
		}
	}
}

func (n *network) prune() {
	live := n.conns[:0]
	for _, c := range n.conns {
		if c.dialer.state != epClosed || (c.acceptor != nil && c.acceptor.state != epClosed) {
			live = append(live, c)
		}
	}
	clear(n.conns[len(live):])
	n.conns = live
	n.pruneAt = max(64, 2*len(live))
}

// tcpConn is one connection: the dialer's endpoint, the acceptor's (once
// the SYN has arrived), and a pipe each way.
type tcpConn struct {
	addr             string // the address dialed, "ip:port"
	dialer, acceptor *endpoint
	fwd, rev         pipe // dialer->acceptor, acceptor->dialer
	stalled          bool
	stallEpoch       uint64
}

const (
	connDialTimeout = iota
	connStall
	connPeerLost
)

func (c *tcpConn) fire(w *World, arg uint64) {
	switch arg & 3 {
	case connDialTimeout:
		if c.dialer.state == epConnecting {
			c.dialer.terminate(ErrTimeout)
			if a := c.acceptor; a != nil {
				a.terminate(ErrTimeout)
			}
		}
	case connStall:
		if !c.stalled || arg>>2 != c.stallEpoch {
			return
		}
		w.tbegin(c.dialer.inc.tag, "conn-timeout")
		w.tint("conn", int64(c.dialer.id))
		w.tend()
		c.dialer.terminate(ErrTimeout)
		if a := c.acceptor; a != nil {
			a.terminate(ErrTimeout)
		}
	case connPeerLost:
		c.dialer.terminate(ErrTimeout)
		if a := c.acceptor; a != nil {
			a.terminate(ErrTimeout)
		}
	}
}

const (
	segData = iota
	segDataReset
	segSYN
	segSYNACK
	segFIN
	segRST
)

type segment struct {
	data []byte
	at   int64
	kind uint8
}

// pipe is one direction of a connection: the segments in flight, in
// order. Each segment has one delivery event; an event delivers whatever
// segment is at the head, so that simultaneous deliveries, whatever order
// the scheduler's shuffle gives them, keep the stream in order.
type pipe struct {
	c        *tcpConn
	src, dst *Host
	from, to *endpoint // to is nil until the SYN is accepted
	q        []segment
	qh       int
	inflight int
	last     int64
	epoch    uint64 // bumped when the pipe is held: outstanding events go stale
	held     bool
}

func (p *pipe) recvInc() *incarnation {
	if p.to == nil {
		return nil // a SYN: the kernel of dst answers it, whoever runs there
	}
	return p.to.inc
}

func (p *pipe) send(w *World, kind uint8, data []byte) {
	o := &w.net.opts
	r := p.src.netR
	now := w.now
	if p.from != nil {
		now = p.from.inc.now()
	}
	depart := now
	if o.Bandwidth > 0 && len(data) > 0 {
		start := max(now, p.src.txFree)
		depart = start + int64(len(data))*1e9/o.Bandwidth
		p.src.txFree = depart
	}
	at := depart + o.Delay.draw(r)
	if kind == segData && w.faultsOn {
		if o.Faults.LossProb > 0 && r.Float64() < o.Faults.LossProb {
			at += int64(o.Faults.RetransmitDelay)
		}
		if o.Faults.ResetProb > 0 && r.Float64() < o.Faults.ResetProb {
			kind = segDataReset
		}
	}
	at = max(at, p.last)
	p.last = at
	p.q = append(p.q, segment{data: data, at: at, kind: kind})
	p.inflight += len(data)
	if !p.held {
		w.schedule(at, p, p.epoch, p.recvInc())
	}
}

func (p *pipe) hold(w *World) {
	if p.held {
		return
	}
	p.held = true
	p.epoch++
	w.net.held = append(w.net.held, p)
}

// unhold reschedules the held segments as retransmissions after the heal.
func (p *pipe) unhold(w *World) {
	p.held = false
	last := w.now
	for i := p.qh; i < len(p.q); i++ {
		at := max(w.now+w.net.opts.Delay.draw(p.src.netR), last)
		last = at
		p.q[i].at = at
		w.schedule(at, p, p.epoch, p.recvInc())
	}
	p.last = max(p.last, last)
}

func (p *pipe) fire(w *World, epoch uint64) {
	if epoch != p.epoch || p.qh >= len(p.q) {
		return
	}
	if w.net.blocked(p.src, p.dst) {
		p.hold(w)
		return
	}
	seg := p.q[p.qh]
	p.q[p.qh] = segment{}
	p.qh++
	if p.qh == len(p.q) {
		p.q, p.qh = p.q[:0], 0
	}
	p.inflight -= len(seg.data)
	if p.to == nil && seg.kind != segSYN {
		return // the SYN was refused or dropped: nobody to tell
	}
	switch seg.kind {
	case segSYN:
		w.net.accept(w, p.c)
	case segSYNACK:
		p.to.established(w)
	case segData:
		p.to.receive(w, seg.data)
		if from := p.from; from != nil && from.buffered > 0 {
			from.kick() // the window has room again
		}
	case segDataReset:
		w.tbegin(p.to.inc.tag, "reset-injected")
		w.tint("conn", int64(p.to.id))
		w.tend()
		p.to.terminate(ErrConnReset)
		if p.from != nil {
			p.from.terminate(ErrConnReset)
		}
	case segFIN:
		p.to.terminate(io.EOF)
	case segRST:
		if p.to.state == epConnecting {
			p.to.terminate(ErrConnRefused)
		} else {
			p.to.terminate(ErrConnReset)
		}
	}
}

func (n *network) accept(w *World, c *tcpConn) {
	dst := c.fwd.dst
	if dst.off {
		return // nobody home: the dialer times out
	}
	l := n.listeners[c.addr]
	if l == nil {
		w.tbegin(dst.name, "refuse")
		w.tstr("addr", c.addr)
		w.tstr("from", c.dialer.local)
		w.tend()
		c.rev.send(w, segRST, nil)
		return
	}
	inc := l.inc
	ep := newEndpoint(inc, c, l.framer, l.h)
	ep.state = epOpen
	ep.local, ep.remote = c.addr, c.dialer.local
	ep.out = &c.rev
	c.acceptor = ep
	c.fwd.to = ep
	c.rev.from = ep
	ep.pendingOpen = true
	ep.scheduleNotify()
	w.tbegin(inc.tag, "accept")
	w.tint("conn", int64(ep.id))
	w.tstr("from", ep.remote)
	w.tend()
	c.rev.send(w, segSYNACK, nil)
}

const (
	epConnecting = iota
	epOpen
	epClosed
)

const (
	epPump = iota
	epNotify
)

// endpoint is one end of a connection, owned by an incarnation: the
// host.Conn its handler sees.
type endpoint struct {
	c             *tcpConn
	inc           *incarnation
	id            uint64
	h             host.Handler
	framer        host.Framer
	df            *host.Deframer
	emitFn        func([]byte)
	out           *pipe
	local, remote string

	state         uint8
	closing       bool // Close was called
	finSent       bool
	pendingOpen   bool // OnOpen is owed
	pendingClose  bool // OnClose is owed
	closeErr      error
	notifyPending bool
	pumpPending   bool

	q        [][]byte // written, not yet in flight; the endpoint owns them
	qh, qoff int
	buffered int
}

var (
	_ host.Conn       = (*endpoint)(nil)
	_ host.FileSender = (*endpoint)(nil)
)

func newEndpoint(inc *incarnation, c *tcpConn, f host.Framer, h host.Handler) *endpoint {
	inc.nextConn++
	ep := &endpoint{c: c, inc: inc, id: inc.nextConn, h: h, framer: f, df: host.NewDeframer(f)}
	ep.emitFn = ep.emit
	inc.conns = append(inc.conns, ep)
	return ep
}

func (ep *endpoint) ID() uint64         { return ep.id }
func (ep *endpoint) LocalAddr() string  { return ep.local }
func (ep *endpoint) RemoteAddr() string { return ep.remote }
func (ep *endpoint) Buffered() int      { return ep.buffered }

func (ep *endpoint) Write(p []byte) error {
	if ep.closing || ep.state == epClosed || ep.inc.dead {
		return host.ErrClosed
	}
	// Like oshost: one write larger than the limit is accepted into an
	// empty queue, so that no message is unsendable.
	if ep.buffered > 0 && ep.buffered+len(p) > ep.inc.h.w.net.opts.QueueLimit {
		return host.ErrBackpressure
	}
	if len(p) == 0 {
		return nil
	}
	ep.q = append(ep.q, p)
	ep.buffered += len(p)
	ep.kick()
	return nil
}

// SendFile falls back to ReadAt at call time plus Write: the bytes are
// those of the file when SendFile was called.
func (ep *endpoint) SendFile(f host.File, off int64, n int) error {
	if n == 0 {
		return nil
	}
	if ep.closing || ep.state == epClosed || ep.inc.dead {
		return host.ErrClosed
	}
	if ep.buffered > 0 && ep.buffered+n > ep.inc.h.w.net.opts.QueueLimit {
		return host.ErrBackpressure
	}
	buf := make([]byte, n)
	k, err := f.ReadAt(buf, off)
	if k < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file is shorter than the range
		}
		return fmt.Errorf("sim: read for send: %w", err)
	}
	return ep.Write(buf)
}

func (ep *endpoint) Close() {
	if ep.closing || ep.state == epClosed {
		return
	}
	ep.closing = true
	ep.df = nil // stop reading
	w := ep.inc.h.w
	w.tbegin(ep.inc.tag, "close")
	w.tint("conn", int64(ep.id))
	w.tend()
	ep.kick() // drain, then FIN and OnClose(nil)
}

// kick arranges for the pump to run: when the node's current callback
// returns, if the kick comes from inside it (so that all the callback's
// writes coalesce, as the kernel would batch them), else as an event on the
// node's loop.
func (ep *endpoint) kick() {
	if ep.pumpPending || ep.state != epOpen || ep.inc.dead || (ep.buffered == 0 && !ep.closing) {
		return
	}
	ep.pumpPending = true
	w := ep.inc.h.w
	if w.cur == ep.inc {
		w.kicked = append(w.kicked, ep)
		return
	}
	w.schedule(ep.inc.now(), ep, epPump, ep.inc)
}

func (ep *endpoint) scheduleNotify() {
	if ep.notifyPending || ep.inc.dead {
		return
	}
	ep.notifyPending = true
	w := ep.inc.h.w
	w.schedule(ep.inc.now(), ep, epNotify, ep.inc)
}

func (ep *endpoint) fire(w *World, arg uint64) {
	switch arg {
	case epPump:
		ep.pump(w)
	case epNotify:
		ep.notifyPending = false
		ep.ensureOpen()
		if ep.pendingClose {
			ep.pendingClose = false
			ep.h.OnClose(ep, ep.closeErr)
		}
	}
}

// ensureOpen delivers an owed OnOpen before anything else reaches the
// handler.
func (ep *endpoint) ensureOpen() {
	if ep.pendingOpen {
		ep.pendingOpen = false
		ep.h.OnOpen(ep)
	}
}

// pump moves queued bytes into flight, as window, partitions and the
// segment size allow.
func (ep *endpoint) pump(w *World) {
	ep.pumpPending = false
	if ep.state != epOpen {
		return
	}
	p := ep.out
	n := &w.net
	for ep.buffered > 0 && p.inflight < n.opts.Window {
		if n.blocked(p.src, p.dst) {
			return // Heal kicks the pump again
		}
		size := min(ep.buffered, n.opts.MaxSegment)
		if n.opts.SplitProb > 0 && p.src.netR.Float64() < n.opts.SplitProb {
			size = 1 + p.src.netR.IntN(size)
		}
		p.send(w, segData, ep.take(size))
	}
	if ep.closing && ep.buffered == 0 && !ep.finSent {
		ep.finSent = true
		p.send(w, segFIN, nil)
		ep.terminate(nil)
	}
}

// take removes the next size bytes from the queue: a slice of one write
// when it holds them all, else a copy gathered across writes (TCP
// coalescing small writes into one segment).
func (ep *endpoint) take(size int) []byte {
	head := ep.q[ep.qh][ep.qoff:]
	var seg []byte
	if len(head) >= size {
		seg = head[:size:size]
		ep.advance(size)
	} else {
		seg = make([]byte, 0, size)
		for len(seg) < size {
			head = ep.q[ep.qh][ep.qoff:]
			k := min(len(head), size-len(seg))
			seg = append(seg, head[:k]...)
			ep.advance(k)
		}
	}
	ep.buffered -= size
	return seg
}

func (ep *endpoint) advance(k int) {
	ep.qoff += k
	if ep.qoff == len(ep.q[ep.qh]) {
		ep.q[ep.qh] = nil
		ep.qh++
		ep.qoff = 0
		if ep.qh == len(ep.q) {
			ep.q, ep.qh = ep.q[:0], 0
		}
	}
}

func (ep *endpoint) dropQueue() {
	clear(ep.q)
	ep.q, ep.qh, ep.qoff, ep.buffered = nil, 0, 0, 0
}

func (ep *endpoint) established(w *World) {
	if ep.state != epConnecting {
		// The dial gave up meanwhile: the kernel resets the late answer.
		if ep.c.acceptor != nil && ep.c.acceptor.state != epClosed {
			ep.out.send(w, segRST, nil)
		}
		return
	}
	ep.state = epOpen
	w.tbegin(ep.inc.tag, "open")
	w.tint("conn", int64(ep.id))
	w.tstr("to", ep.remote)
	w.tend()
	if !ep.closing {
		ep.h.OnOpen(ep)
	}
	ep.kick()
}

func (ep *endpoint) receive(w *World, data []byte) {
	if ep.state != epOpen || ep.closing {
		return
	}
	if w.cur != ep.inc {
		panic("sim: data delivered outside its node's loop")
	}
	ep.ensureOpen()
	if ep.state != epOpen || ep.closing {
		return
	}
	w.tbegin(ep.inc.tag, "recv")
	w.tint("conn", int64(ep.id))
	w.tint("bytes", int64(len(data)))
	w.tend()
	if err := ep.df.PushOwned(data, ep.emitFn); err != nil && ep.state == epOpen && !ep.closing {
		// A malformed stream: close it with the framer's error, and reset
		// the peer.
		ep.out.send(w, segRST, nil)
		ep.terminate(err)
	}
}

func (ep *endpoint) emit(frame []byte) {
	if ep.state != epOpen || ep.closing {
		return // Close stops reading: frames still arriving are dropped
	}
	ep.h.OnMessage(ep, ep.framer.Decode(frame))
}

// terminate closes the endpoint and owes its handler OnClose: nil after a
// local Close, err otherwise.
func (ep *endpoint) terminate(err error) {
	if ep.state == epClosed {
		return
	}
	ep.state = epClosed
	ep.dropQueue()
	ep.df = nil
	if ep.closing {
		err = nil
	}
	ep.closeErr = err
	ep.pendingClose = true
	w := ep.inc.h.w
	w.tbegin(ep.inc.tag, "closed")
	w.tint("conn", int64(ep.id))
	w.terr(err)
	w.tend()
	ep.scheduleNotify()
}

// crash ends the endpoint with its process: no callback. The kernel resets
// the peer after a process crash; after a power loss nothing is sent and
// the peer times out.
func (ep *endpoint) crash(kind CrashKind) {
	if ep.state == epClosed {
		return
	}
	ep.state = epClosed
	ep.dropQueue()
	ep.df = nil
	w := ep.inc.h.w
	switch {
	case kind == ProcessCrash:
		ep.out.send(w, segRST, nil)
	case w.net.opts.Timeout > 0:
		w.schedule(w.now+int64(w.net.opts.Timeout), ep.c, connPeerLost, nil)
	}
}

type listener struct {
	inc    *incarnation
	addr   string
	framer host.Framer
	h      host.Handler
	closed bool
}

func (l *listener) Addr() string { return l.addr }

func (l *listener) Close() error {
	if l.closed {
		return host.ErrClosed
	}
	l.close()
	w := l.inc.h.w
	w.tbegin(l.inc.tag, "unlisten")
	w.tstr("addr", l.addr)
	w.tend()
	return nil
}

func (l *listener) close() {
	l.closed = true
	n := &l.inc.h.w.net
	if n.listeners[l.addr] == l {
		delete(n.listeners, l.addr)
	}
}

// simNet is an incarnation's host.Network.
type simNet struct{ inc *incarnation }

func splitAddr(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("sim: address %q: missing port", addr)
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("sim: address %q: bad port", addr)
	}
	return strings.Trim(addr[:i], "[]"), port, nil
}

func isLocal(h *Host, ip string) bool {
	switch ip {
	case "", "0.0.0.0", "::", "127.0.0.1", "localhost", h.ip:
		return true
	}
	return false
}

func (h *Host) ephemeral() int {
	p := h.nextEph
	h.nextEph++
	if h.nextEph > ephemeralMax {
		h.nextEph = ephemeralMin
	}
	return p
}

// Listen binds on the host's address whatever local form addr takes
// ("10.0.0.1:10911", ":10911", "0.0.0.0:10911", "127.0.0.1:10911"); port 0
// picks the next free ephemeral port.
func (s simNet) Listen(addr string, framer host.Framer, h host.Handler) (host.Listener, error) {
	inc := s.inc
	if inc.dead {
		return nil, host.ErrClosed
	}
	hst := inc.h
	ip, port, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	if !isLocal(hst, ip) {
		return nil, fmt.Errorf("sim: listen %s: not an address of %s", addr, hst.name)
	}
	n := &hst.w.net
	if port == 0 {
		for i := 0; ; i++ {
			if i > ephemeralMax-ephemeralMin {
				return nil, fmt.Errorf("sim: listen %s: no free port", addr)
			}
			port = hst.ephemeral()
			if n.listeners[hst.ip+":"+strconv.Itoa(port)] == nil {
				break
			}
		}
	}
	key := hst.ip + ":" + strconv.Itoa(port)
	if n.listeners[key] != nil {
		return nil, fmt.Errorf("sim: listen %s: address already in use", addr)
	}
	l := &listener{inc: inc, addr: key, framer: framer, h: h}
	n.listeners[key] = l
	inc.listeners = append(inc.listeners, l)
	w := hst.w
	w.tbegin(inc.tag, "listen")
	w.tstr("addr", key)
	w.tend()
	return l, nil
}

// Dial starts a connection: a SYN to addr, answered by the host's kernel
// with a SYN-ACK (a listener is there), an RST (nobody listens), or nothing
// (the host is powered off or cut off: the dial times out).
func (s simNet) Dial(addr string, framer host.Framer, h host.Handler) host.Conn {
	inc := s.inc
	src := inc.h
	w := src.w
	n := &w.net
	c := &tcpConn{}
	ep := newEndpoint(inc, c, framer, h)
	ep.state = epConnecting
	ep.local = src.ip + ":" + strconv.Itoa(src.ephemeral())
	ep.remote = addr
	c.dialer = ep
	ep.out = &c.fwd
	if inc.dead {
		ep.state = epClosed
		return ep
	}
	ip, port, err := splitAddr(addr)
	var dst *Host
	if err == nil {
		if ip == "127.0.0.1" || ip == "localhost" || ip == "" {
			dst = src
		} else if dst = w.byIP[ip]; dst == nil {
			err = fmt.Errorf("sim: dial %s: %w", addr, ErrUnreachable)
		}
	}
	w.tbegin(inc.tag, "dial")
	w.tint("conn", int64(ep.id))
	w.tstr("to", addr)
	w.terr(err)
	w.tend()
	if err != nil {
		ep.terminate(err)
		return ep
	}
	c.addr = dst.ip + ":" + strconv.Itoa(port)
	ep.remote = c.addr
	c.fwd = pipe{c: c, src: src, dst: dst, from: ep}
	c.rev = pipe{c: c, src: dst, dst: src, to: ep}
	if len(n.conns) >= n.pruneAt {
		n.prune()
	}
	n.conns = append(n.conns, c)
	c.fwd.send(w, segSYN, nil)
	if n.opts.Timeout > 0 {
		w.schedule(w.now+int64(n.opts.Timeout), c, connDialTimeout, nil)
	}
	if n.partitioned && n.opts.Timeout > 0 && (n.blocked(src, dst) || n.blocked(dst, src)) {
		c.stalled = true
		c.stallEpoch++
		w.schedule(w.now+int64(n.opts.Timeout), c, connStall|c.stallEpoch<<2, nil)
	}
	return ep
}
