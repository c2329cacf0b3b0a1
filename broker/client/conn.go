package client

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/remoting"
)

// callback receives a request's fate: the response, or an error. written
// tells the two kinds of failure apart: false means the request certainly
// never reached the connection (it never opened, it refused the write, the
// client was closed first), so the peer cannot have acted on it; true means
// it was handed to an open connection, and without a response the peer may
// or may not have acted on it.
type callback func(resp *remoting.Command, err error, written bool)

// conn is the client's connection to one address, a broker or a name
// server, and the requests waiting for it to open.
//
// Requests are held until the transport reports the connection open
// (host.Handler.OnOpen) and only then written. That costs nothing once a
// connection is up, and it is what makes the written flag exact: a request
// that fails while its connection was still opening never left the client,
// so a send that only ever met refused connections is a definite failure,
// not an indefinite one. (The remoting package hides OnOpen; openNotifier
// below observes it by wrapping the Network the channel dials through.)
type conn struct {
	c      *Client
	addr   string
	ch     *remoting.Channel
	open   bool // the transport reported the connection established
	closed bool
	queued []*queuedCall // in arrival order, written in that order on open
}

type queuedCall struct {
	req      *remoting.Command
	oneway   bool
	deadline time.Duration // on the monotonic clock
	cb       callback
	timer    host.Timer
	done     bool
}

// openNotifier is the node's Network with every dialled connection's OnOpen
// also reported to onOpen.
type openNotifier struct {
	host.Network
	onOpen func()
}

func (n openNotifier) Dial(addr string, framer host.Framer, h host.Handler) host.Conn {
	return n.Network.Dial(addr, framer, openHandler{Handler: h, onOpen: n.onOpen})
}

type openHandler struct {
	host.Handler
	onOpen func()
}

func (h openHandler) OnOpen(c host.Conn) {
	h.Handler.OnOpen(c)
	h.onOpen()
}

// connTo returns the live connection to addr, dialling one if there is none.
func (c *Client) connTo(addr string) *conn {
	// A channel that has closed but whose close hook has not run yet is
	// as good as gone: dial afresh rather than fail the request on it.
	if cn := c.conns[addr]; cn != nil && !cn.closed && !cn.ch.Closed() {
		return cn
	}
	cn := &conn{c: c, addr: addr}
	netw := openNotifier{Network: c.env.Net, onOpen: cn.opened}
	cn.ch = remoting.Dial(netw, c.env.Clock, c.log, addr, c.dispatcher, remoting.Options{MaxPending: c.cfg.MaxPendingPerConn})
	cn.ch.OnClose(func(_ *remoting.Channel, err error) { cn.lost(err) })
	c.conns[addr] = cn
	c.stats.Dials++
	return cn
}

// opened runs when the transport reports the connection established: the
// held requests go out, in order, with what is left of their timeouts.
func (cn *conn) opened() {
	if cn.closed || cn.open {
		return
	}
	cn.open = true
	if cn.ch == nil {
		return // reported from inside Dial; nothing can be queued yet
	}
	queued := cn.queued
	cn.queued = nil
	now := cn.c.env.Clock.Mono()
	for _, q := range queued {
		if q.done {
			continue
		}
		q.done = true
		q.timer.Stop()
		if q.oneway {
			cn.sendOneway(q.req, q.cb)
			continue
		}
		left := q.deadline - now
		if left <= 0 {
			// The timer is due but has not run yet: nothing was written.
			q.cb(nil, fmt.Errorf("%w: %s to %s not open within its timeout", ErrConnect, remoting.RequestCode(q.req.Code), cn.addr), false)
			continue
		}
		cn.send(q.req, left, q.cb)
	}
}

// lost runs once the channel has closed, after remoting has failed the
// requests that were written (written = true: the peer may have them).
// Requests still waiting for the connection to open were never written.
func (cn *conn) lost(err error) {
	cn.closed = true
	if cn.c.conns[cn.addr] == cn {
		delete(cn.c.conns, cn.addr)
	}
	queued := cn.queued
	cn.queued = nil
	if cn.open {
		cn.c.log.Debug("client: connection closed", "addr", cn.addr, "err", err)
	} else {
		cn.c.log.Debug("client: connection failed", "addr", cn.addr, "err", err)
	}
	cause := err
	if cause == nil {
		cause = errors.New("closed before it opened")
	}
	for _, q := range queued {
		if q.done {
			continue
		}
		q.done = true
		q.timer.Stop()
		q.cb(nil, cn.c.wrapClosed(fmt.Errorf("%w: %s: %w", ErrConnect, cn.addr, cause)), false)
	}
}

// enqueue holds a request until the connection opens, failing it unwritten
// if its timeout passes first.
func (cn *conn) enqueue(req *remoting.Command, oneway bool, timeout time.Duration, cb callback) {
	if len(cn.queued) >= cn.c.cfg.MaxPendingPerConn {
		cn.c.later(func() {
			cb(nil, fmt.Errorf("%w: %d requests wait for %s to open", ErrTooManyPending, len(cn.queued), cn.addr), false)
		})
		return
	}
	q := &queuedCall{req: req, oneway: oneway, deadline: cn.c.env.Clock.Mono() + timeout, cb: cb}
	q.timer = cn.c.env.Clock.AfterFunc(timeout, func() {
		if q.done {
			return
		}
		q.done = true
		cn.queued = slices.DeleteFunc(cn.queued, func(x *queuedCall) bool { return x == q })
		q.cb(nil, fmt.Errorf("%w: %s not open within %v", ErrConnect, cn.addr, timeout), false)
	})
	cn.queued = append(cn.queued, q)
}

// send writes a request on the open connection.
func (cn *conn) send(req *remoting.Command, timeout time.Duration, cb callback) {
	ch := cn.ch
	before := ch.Pending()
	written := false
	ch.Invoke(req, timeout, func(resp *remoting.Command, err error) {
		if err != nil {
			err = cn.c.wrapClosed(err)
		}
		cb(resp, err, written)
	})
	// NB: Invoke either registers the call and hands its frame to the
	// connection (one more pending call, channel still open), or fails it
	// later without writing anything: the channel was already closed, too
	// many calls were pending, the request did not encode, or the
	// connection refused the write. A refused write closes the channel
	// before Invoke returns, and host.Conn.Write queues nothing when it
	// refuses. So this tells exactly whether the frame left.
	written = !ch.Closed() && ch.Pending() == before+1
}

// sendOneway writes a request flagged oneway: no answer will come.
func (cn *conn) sendOneway(req *remoting.Command, cb callback) {
	err := cn.ch.InvokeOneway(req)
	if err != nil {
		err = cn.c.wrapClosed(fmt.Errorf("%w: %s: %w", ErrConnect, cn.addr, err))
	}
	// InvokeOneway reports synchronously; callbacks never run inside the
	// call that caused them.
	cn.c.later(func() { cb(nil, err, err == nil) })
}

// invoke sends req to addr and calls cb once, from a later loop event.
func (c *Client) invoke(addr string, req *remoting.Command, timeout time.Duration, cb callback) {
	if c.closed {
		c.later(func() { cb(nil, ErrClientClosed, false) })
		return
	}
	c.stats.Requests++
	cn := c.connTo(addr)
	if !cn.open {
		cn.enqueue(req, false, timeout, cb)
		return
	}
	cn.send(req, timeout, cb)
}

// invokeOneway sends req to addr flagged oneway. cb learns whether it was
// written; timeout bounds only the wait for the connection to open.
func (c *Client) invokeOneway(addr string, req *remoting.Command, timeout time.Duration, cb callback) {
	if c.closed {
		c.later(func() { cb(nil, ErrClientClosed, false) })
		return
	}
	c.stats.Requests++
	cn := c.connTo(addr)
	if !cn.open {
		cn.enqueue(req, true, timeout, cb)
		return
	}
	cn.sendOneway(req, cb)
}

// wrapClosed marks a failure caused by Close as such.
func (c *Client) wrapClosed(err error) error {
	if c.closed && !errors.Is(err, ErrClientClosed) {
		return fmt.Errorf("%w: %w", ErrClientClosed, err)
	}
	return err
}
