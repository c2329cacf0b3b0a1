package remoting

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// Errors a Channel reports.
var (
	// ErrTimeout: no response came within the invocation's timeout.
	ErrTimeout = errors.New("remoting: request timed out")
	// ErrChannelClosed: the channel closed before the response came, or
	// was closed when the call was made. The cause, if any, is wrapped too.
	ErrChannelClosed = errors.New("remoting: channel closed")
	// ErrTooManyPending: the channel already waits for Options.MaxPending
	// responses.
	ErrTooManyPending = errors.New("remoting: too many pending requests")
	// ErrBadBody: RespondWithBody was given an inconsistent segment.
	ErrBadBody = errors.New("remoting: bad body segment")
)

// Defaults for Options.
const (
	// DefaultMaxPending bounds a channel's invocations awaiting a response.
	// A busy client has a few dozen in flight (long-polling pulls, sends,
	// heartbeats); tens of thousands is far past legitimate use and still
	// costs little memory.
	DefaultMaxPending = 1 << 16
)

// Options configure channels, whether accepted by a Server or dialled.
type Options struct {
	// MaxFrameBytes is the largest frame accepted from the peer, length
	// field included; zero means DefaultMaxFrameBytes.
	MaxFrameBytes int
	// MaxPending bounds invocations awaiting a response; zero means
	// DefaultMaxPending.
	MaxPending int
	// UseSendFile lets RespondWithBody hand file-backed segments to the
	// connection's SendFile when the connection offers it. Off, they are
	// copied. Tuning runs compare the two.
	UseSendFile bool
	// Stats receives the channels' counters. Nil gives each channel (or the
	// server's channels together) a private Stats.
	Stats *Stats
}

func (o Options) framer() Framer { return Framer{MaxFrameBytes: o.MaxFrameBytes} }

// Stats counts what channels did. It is touched only on the node's loop, so
// its fields are plain integers; read them there too.
type Stats struct {
	RequestsIn  uint64 // requests received
	ResponsesIn uint64 // responses received, matched or not
	// RequestsOut counts requests sent, oneway ones included.
	RequestsOut uint64
	// ResponsesOut counts responses sent.
	ResponsesOut uint64
	// SendFileBytes counts body bytes handed to the connection's SendFile.
	SendFileBytes uint64
	// CopiedBodyBytes counts body bytes of RespondWithBody that went
	// through a buffer (a mapped view or ReadAt) and Write instead.
	CopiedBodyBytes uint64
	// DecodeErrors counts frames that failed to decode.
	DecodeErrors uint64
	// UnsupportedRequests counts requests answered with
	// REQUEST_CODE_NOT_SUPPORTED.
	UnsupportedRequests uint64
	// UnmatchedResponses counts responses whose opaque no invocation was
	// waiting for (it had timed out, most likely).
	UnmatchedResponses uint64
	// Timeouts counts invocations failed with ErrTimeout.
	Timeouts uint64
	// WriteErrors counts writes the connection refused, each of which
	// closed its channel.
	WriteErrors uint64
}

// HandlerFunc serves one request. It answers with ch.Respond now, or keeps
// req and answers later (a long-polling pull holds its request until
// messages arrive or the hold expires); it must not block. Handlers run on
// the node's loop, one at a time, so a held request never delays the next
// one on the same channel.
type HandlerFunc func(ch *Channel, req *Command)

// Channel is the protocol engine of one connection, used the same way by the
// broker's server side, by Thrust's clients and by the broker's link to a name
// server. It routes incoming requests to a Dispatcher, matches incoming
// responses to the invocations waiting for them by opaque (in any order),
// and writes frames.
//
// Callbacks never run inside the call that causes them: an invocation's
// callback runs from a later loop event (its response's arrival, its
// timer, or a task deferred when the channel closes), so callers need not
// guard against reentrancy.
type Channel struct {
	// UseSendFile: see Options.UseSendFile.
	UseSendFile bool
	// Attachment is the owner's per-connection state: the client id and
	// groups a broker learns from heartbeats, say.
	Attachment any

	conn       host.Conn
	clock      host.Clock
	log        *slog.Logger
	dispatcher *Dispatcher
	stats      *Stats
	maxPending int

	lastOpaque int32
	pending    map[int32]*call
	callSeq    uint64

	closed     bool
	closeCause error // why the channel closed; nil for a local Close
	connGone   bool  // OnClose came: the connection must not be touched
	closeHooks []func(ch *Channel, err error)
}

// call is an invocation awaiting its response.
type call struct {
	seq   uint64 // issue order, to fail calls deterministically on close
	code  int32
	cb    func(resp *Command, err error)
	timer host.Timer
}

func newChannel(clock host.Clock, log *slog.Logger, d *Dispatcher, opts Options) *Channel {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stats := opts.Stats
	if stats == nil {
		stats = new(Stats)
	}
	maxPending := opts.MaxPending
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	return &Channel{
		UseSendFile: opts.UseSendFile,
		clock:       clock,
		log:         log,
		dispatcher:  d,
		stats:       stats,
		maxPending:  maxPending,
		pending:     make(map[int32]*call),
	}
}

// ID is the connection's id: unique for the node's life and increasing with
// creation order, so channels sort by it deterministically.
func (ch *Channel) ID() uint64 { return ch.conn.ID() }

// Conn is the underlying connection.
func (ch *Channel) Conn() host.Conn { return ch.conn }

// RemoteAddr is the peer's address.
func (ch *Channel) RemoteAddr() string { return ch.conn.RemoteAddr() }

// LocalAddr is this end's address.
func (ch *Channel) LocalAddr() string { return ch.conn.LocalAddr() }

// Stats is where the channel counts.
func (ch *Channel) Stats() *Stats { return ch.stats }

// Closed reports whether the channel is closed: nothing more will be sent or
// received.
func (ch *Channel) Closed() bool { return ch.closed }

// Pending is the number of invocations awaiting a response.
func (ch *Channel) Pending() int { return len(ch.pending) }

// OnClose registers f to run once the channel has closed, after the
// callbacks of the invocations the close failed. err is the cause: nil for a
// local Close. Registered on a closed channel, f runs soon, from its own loop
// event.
func (ch *Channel) OnClose(f func(ch *Channel, err error)) {
	if ch.closed {
		cause := ch.closeCause
		ch.clock.AfterFunc(0, func() { f(ch, cause) })
		return
	}
	ch.closeHooks = append(ch.closeHooks, f)
}

// Invoke sends req and calls cb exactly once: with the response, or with an
// error wrapping ErrTimeout when timeout passes first (timeout <= 0 waits
// for ever), or ErrChannelClosed when the channel closes first or already
// has, or ErrTooManyPending, or the decode error of a response that arrived
// malformed. Invoke sets req's opaque and clears its flag.
func (ch *Channel) Invoke(req *Command, timeout time.Duration, cb func(resp *Command, err error)) {
	if ch.closed {
		ch.failLater(cb, ErrChannelClosed)
		return
	}
	if len(ch.pending) >= ch.maxPending {
		ch.failLater(cb, fmt.Errorf("%w: %d awaiting a response", ErrTooManyPending, len(ch.pending)))
		return
	}
	req.Opaque = ch.nextOpaque()
	req.Flag &^= FlagResponse | FlagOneway
	frame, err := AppendFrame(nil, req)
	if err != nil {
		ch.failLater(cb, err)
		return
	}
	ch.callSeq++
	c := &call{seq: ch.callSeq, code: req.Code, cb: cb}
	ch.pending[req.Opaque] = c
	if timeout > 0 {
		opaque := req.Opaque
		c.timer = ch.clock.AfterFunc(timeout, func() { ch.expire(opaque, c, timeout) })
	}
	// A refused write closes the channel, which fails c with the rest.
	if ch.write(frame) == nil {
		ch.stats.RequestsOut++
	}
}

// InvokeOneway sends req flagged oneway: the peer must not answer. Java
// peers honour the flag; note that the Go client never sets it on its own
// "oneway" sends, and answers the pushes it receives only when its handler
// returns something.
func (ch *Channel) InvokeOneway(req *Command) error {
	if ch.closed {
		return ErrChannelClosed
	}
	req.Opaque = ch.nextOpaque()
	req.Flag = req.Flag&^FlagResponse | FlagOneway
	frame, err := AppendFrame(nil, req)
	if err != nil {
		return err
	}
	if err := ch.write(frame); err != nil {
		return err
	}
	ch.stats.RequestsOut++
	return nil
}

// nextOpaque returns the next request id. Ids are positive, and one still
// awaiting its response (a long poll issued 2^31 requests ago) is skipped
// after the counter wraps.
func (ch *Channel) nextOpaque() int32 {
	for {
		ch.lastOpaque++
		if ch.lastOpaque <= 0 {
			ch.lastOpaque = 1
		}
		if _, busy := ch.pending[ch.lastOpaque]; !busy {
			return ch.lastOpaque
		}
	}
}

func (ch *Channel) failLater(cb func(*Command, error), err error) {
	ch.clock.AfterFunc(0, func() { cb(nil, err) })
}

func (ch *Channel) expire(opaque int32, c *call, timeout time.Duration) {
	if ch.pending[opaque] != c {
		return // answered, or failed by close, in the meantime
	}
	delete(ch.pending, opaque)
	ch.stats.Timeouts++
	c.cb(nil, fmt.Errorf("%w: %s opaque %d after %v", ErrTimeout, RequestCode(c.code), opaque, timeout))
}

// Respond sends resp as the answer to req, setting resp's opaque, response
// flag and serialize type from req. A oneway request gets nothing. An error
// means nothing was sent: the channel is closed, resp cannot be encoded, or
// the connection refused the write (which closes the channel).
func (ch *Channel) Respond(req, resp *Command) error {
	if req.IsOneway() {
		return nil
	}
	if ch.closed {
		return ErrChannelClosed
	}
	prepareResponse(req, resp)
	frame, err := AppendFrame(nil, resp)
	if err != nil {
		return err
	}
	if err := ch.write(frame); err != nil {
		return err
	}
	ch.stats.ResponsesOut++
	return nil
}

func prepareResponse(req, resp *Command) {
	resp.Opaque = req.Opaque
	resp.Flag = resp.Flag&^FlagOneway | FlagResponse
	resp.Serialize = req.Serialize
}

// BodySegment is one piece of a response body: N bytes of File at Off, or N
// bytes already in memory in View (a slice of a mapped commit-log segment,
// say). When both are set the channel picks: SendFile from File when it
// may, otherwise a copy from View.
type BodySegment struct {
	File host.File
	Off  int64
	N    int
	// View, when not nil, holds exactly the N bytes.
	View []byte
}

// RespondWithBody answers req with resp's header followed by the segments as
// its body (resp.Body is ignored). With UseSendFile set and a connection that
// implements host.FileSender, file-backed segments go out by SendFile and
// never pass through the broker's memory; otherwise each segment is copied
// from its View, or read with ReadAt, into the frame.
//
// An error with the channel still open means nothing was written (a
// segment was inconsistent or a read failed), and the caller may answer
// otherwise. Once the header is written, a failure closes the channel,
// since the stream would be mid-frame.
func (ch *Channel) RespondWithBody(req, resp *Command, segments []BodySegment) error {
	if req.IsOneway() {
		return nil
	}
	if ch.closed {
		return ErrChannelClosed
	}
	total := 0
	for i, s := range segments {
		switch {
		case s.N < 0:
			return fmt.Errorf("%w: segment %d has length %d", ErrBadBody, i, s.N)
		case s.View != nil && len(s.View) != s.N:
			return fmt.Errorf("%w: segment %d has a view of %d bytes for length %d", ErrBadBody, i, len(s.View), s.N)
		case s.View == nil && s.File == nil && s.N > 0:
			return fmt.Errorf("%w: segment %d has neither file nor view", ErrBadBody, i)
		case s.N > math.MaxInt32-total:
			return fmt.Errorf("%w: body over int32", ErrBadBody)
		}
		total += s.N
	}
	prepareResponse(req, resp)
	sender, _ := ch.conn.(host.FileSender)
	sendFile := ch.UseSendFile && sender != nil
	if sendFile {
		segments = coalesceSegments(segments)
	}

	// Without sendfile, the whole frame is built before anything is
	// written, so that a failed read leaves the stream untouched.
	frameCap := framePrefixBytes + headerSizeHint(resp)
	if !sendFile {
		frameCap += total
	}
	buf, err := AppendFrameHeader(make([]byte, 0, frameCap), resp, total)
	if err != nil {
		return err
	}
	var copied, sent uint64
	for i, s := range segments {
		if sendFile && s.File != nil {
			if len(buf) > 0 {
				if err := ch.write(buf); err != nil {
					return err
				}
				buf = nil // the connection owns what it was given
			}
			if err := sender.SendFile(s.File, s.Off, s.N); err != nil {
				ch.stats.WriteErrors++
				ch.log.Warn("remoting: sendfile refused, closing channel", "conn", ch.conn.ID(), "remote", ch.conn.RemoteAddr(), "err", err)
				ch.closeWith(err)
				return fmt.Errorf("%w: sendfile: %w", ErrChannelClosed, err)
			}
			sent += uint64(s.N)
			continue
		}
		if s.View != nil {
			buf = append(buf, s.View...)
		} else if s.N > 0 {
			// NB: only reached without sendfile, when nothing of the
			// frame has been written yet: a failed read can still be
			// answered with an error response.
			start := len(buf)
			buf = slices.Grow(buf, s.N)[:start+s.N]
			if n, err := s.File.ReadAt(buf[start:], s.Off); n < s.N {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("remoting: body segment %d: read %d of %d bytes at offset %d of %s: %w", i, n, s.N, s.Off, s.File.Name(), err)
			}
		}
		copied += uint64(s.N)
	}
	if len(buf) > 0 {
		if err := ch.write(buf); err != nil {
			return err
		}
	}
	ch.stats.SendFileBytes += sent
	ch.stats.CopiedBodyBytes += copied
	ch.stats.ResponsesOut++
	return nil
}

// coalesceSegments merges segments that continue each other in one file
// (and, where both have views, in one mapping): the records of one queue
// that lie back to back in the commit log go out as one range, one
// sendfile(2) or one iovec, instead of one per record. The caller's slice
// is left alone; a new one is made only when something merges.
func coalesceSegments(segs []BodySegment) []BodySegment {
	follows := func(a, b BodySegment) bool {
		if a.File == nil || a.File != b.File || a.Off+int64(a.N) != b.Off || a.N == 0 || b.N == 0 {
			return false
		}
		if (a.View == nil) != (b.View == nil) {
			return false
		}
		// Views are merged by extending the first over the second, which
		// is only right if the second starts where the first ends in the
		// same array.
		return a.View == nil || (len(a.View)+len(b.View) <= cap(a.View) && &a.View[:len(a.View)+1][len(a.View)] == &b.View[0])
	}
	var out []BodySegment
	for i, s := range segs {
		if i > 0 && follows(segs[i-1], s) {
			if out == nil {
				out = append(make([]BodySegment, 0, len(segs)), segs[:i]...)
			}
			last := &out[len(out)-1]
			last.N += s.N
			if last.View != nil {
				last.View = last.View[:last.N]
			}
			continue
		}
		if out != nil {
			out = append(out, s)
		}
	}
	if out == nil {
		return segs
	}
	return out
}

// write hands one frame, or part of one, to the connection. A refusal
// (backpressure, most likely) closes the channel: the frame may be partly
// queued ahead of it, and a peer that does not read is better cut off than
// buffered for.
func (ch *Channel) write(p []byte) error {
	if err := ch.conn.Write(p); err != nil {
		ch.stats.WriteErrors++
		if errors.Is(err, host.ErrClosed) {
			// The connection is already gone (the peer closed it, or the
			// socket failed); its OnClose follows on the loop, after the
			// frames it had read. Leave the channel open until then, so
			// that those requests are still served: a client's last
			// UPDATE_CONSUMER_OFFSETs arrive just before its close.
			return fmt.Errorf("%w: %w", ErrChannelClosed, err)
		}
		ch.log.Warn("remoting: write refused, closing channel", "conn", ch.conn.ID(), "remote", ch.conn.RemoteAddr(), "err", err)
		ch.closeWith(err)
		return fmt.Errorf("%w: %w", ErrChannelClosed, err)
	}
	return nil
}

// Close closes the channel: queued bytes drain, pending invocations fail with
// ErrChannelClosed, then the OnClose hooks run (both from a later loop
// event).
func (ch *Channel) Close() { ch.closeWith(nil) }

func (ch *Channel) closeWith(cause error) {
	if ch.closed {
		return
	}
	ch.closed, ch.closeCause = true, cause
	if !ch.connGone {
		ch.conn.Close()
	}
	calls := make([]*call, 0, len(ch.pending))
	for _, c := range ch.pending {
		calls = append(calls, c)
	}
	clear(ch.pending)
	// NB: map order is random; the callbacks must run in a fixed order or
	// a simulation would not replay.
	slices.SortFunc(calls, func(a, b *call) int { return cmp.Compare(a.seq, b.seq) })
	for _, c := range calls {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	failure := ErrChannelClosed
	if cause != nil {
		failure = fmt.Errorf("%w: %w", ErrChannelClosed, cause)
	}
	hooks := ch.closeHooks
	ch.closeHooks = nil
	if len(calls) == 0 && len(hooks) == 0 {
		return
	}
	// Deferred, so that a close caused deep inside a handler (a refused
	// write while walking a consumer group, say) never runs the owner's
	// hooks in the middle of that walk.
	ch.clock.AfterFunc(0, func() {
		for _, c := range calls {
			c.cb(nil, failure)
		}
		for _, h := range hooks {
			h(ch, cause)
		}
	})
}

// connClosed is the connection's OnClose.
func (ch *Channel) connClosed(err error) {
	ch.connGone = true
	// NB: conn is nil when a dial fails before Dial has returned.
	if err != nil && ch.conn != nil {
		ch.log.Debug("remoting: connection closed", "conn", ch.conn.ID(), "remote", ch.conn.RemoteAddr(), "err", err)
	}
	ch.closeWith(err)
}

// receive is the connection's OnMessage.
func (ch *Channel) receive(msg any) {
	if ch.closed {
		return
	}
	switch m := msg.(type) {
	case *Command:
		if m.IsResponse() {
			ch.stats.ResponsesIn++
			ch.complete(m.Opaque, m, nil)
			return
		}
		ch.stats.RequestsIn++
		ch.dispatch(m)
	case *DecodeError:
		ch.stats.DecodeErrors++
		ch.decodeFailed(m)
	default:
		// Only a Framer other than this package's could do this.
		ch.closeWith(fmt.Errorf("remoting: unexpected message type %T", msg))
	}
}

func (ch *Channel) complete(opaque int32, resp *Command, err error) {
	c, ok := ch.pending[opaque]
	if !ok {
		ch.stats.UnmatchedResponses++
		ch.log.Debug("remoting: response matches no pending request", "conn", ch.conn.ID(), "opaque", opaque)
		return
	}
	delete(ch.pending, opaque)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cb(resp, err)
}

func (ch *Channel) dispatch(req *Command) {
	if h, ok := ch.dispatcher.Handler(RequestCode(req.Code)); ok {
		h(ch, req)
		return
	}
	ch.stats.UnsupportedRequests++
	// Java's exact text, leading space included.
	remark := " request type " + strconv.Itoa(int(req.Code)) + " not supported"
	ch.Respond(req, NewResponse(req, RequestCodeNotSupported, remark))
}

// decodeFailed handles a frame that did not decode. The frame boundaries
// are intact, so the connection can go on when the frame can be accounted
// for: a request is answered with SYSTEM_ERROR, a response fails the call it
// answers. A frame that might be either is a protocol violation the
// connection does not survive.
func (ch *Channel) decodeFailed(e *DecodeError) {
	switch {
	case e.answerable():
		ch.log.Info("remoting: undecodable request", "conn", ch.conn.ID(), "remote", ch.conn.RemoteAddr(), "opaque", e.Opaque, "err", e.Err)
		req := &Command{Opaque: e.Opaque, Flag: e.Flag, Serialize: e.Serialize}
		ch.Respond(req, NewResponse(req, SystemError, e.Error()))
	case e.OpaqueKnown && e.FlagKnown && e.Flag&FlagResponse != 0:
		ch.complete(e.Opaque, nil, e)
	case e.OpaqueKnown && e.FlagKnown:
		ch.log.Info("remoting: undecodable oneway request dropped", "conn", ch.conn.ID(), "remote", ch.conn.RemoteAddr(), "opaque", e.Opaque, "err", e.Err)
	default:
		ch.log.Warn("remoting: undecodable frame, closing channel", "conn", ch.conn.ID(), "remote", ch.conn.RemoteAddr(), "err", e.Err)
		ch.closeWith(e)
	}
}
