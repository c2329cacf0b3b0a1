package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/thrustmq/thrust/broker/host"
)

// lenFramer frames a stream as 4-byte big-endian length + body, like the
// remoting protocol, and decodes a frame to its body as a string.
type lenFramer struct{ max int }

var errFrameTooBig = errors.New("test: frame too big")

func (f lenFramer) FrameLen(p []byte) (int, error) {
	if len(p) < 4 {
		return 0, nil
	}
	n := int(binary.BigEndian.Uint32(p))
	if f.max > 0 && n > f.max {
		return 0, errFrameTooBig
	}
	return 4 + n, nil
}

func (lenFramer) Decode(frame []byte) any { return string(frame[4:]) }

func frame(body string) []byte {
	b := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	copy(b[4:], body)
	return b
}

// recorder is a Handler that records what happens, and checks the
// callback order contract (OnOpen before OnMessage, OnClose once and last).
type recorder struct {
	t       testing.TB
	name    string
	opened  []host.Conn
	msgs    []string
	closes  []error
	closed  map[uint64]bool
	onOpen  func(c host.Conn)
	onMsg   func(c host.Conn, msg string)
	onClose func(c host.Conn, err error)
	seen    map[uint64]bool
}

func newRecorder(t testing.TB, name string) *recorder {
	return &recorder{t: t, name: name, closed: map[uint64]bool{}, seen: map[uint64]bool{}}
}

func (r *recorder) OnOpen(c host.Conn) {
	if r.seen[c.ID()] || r.closed[c.ID()] {
		r.t.Errorf("%s: OnOpen twice or after OnClose on conn %d", r.name, c.ID())
	}
	r.seen[c.ID()] = true
	r.opened = append(r.opened, c)
	if r.onOpen != nil {
		r.onOpen(c)
	}
}

func (r *recorder) OnMessage(c host.Conn, msg any) {
	if !r.seen[c.ID()] || r.closed[c.ID()] {
		r.t.Errorf("%s: OnMessage outside OnOpen..OnClose on conn %d", r.name, c.ID())
	}
	r.msgs = append(r.msgs, msg.(string))
	if r.onMsg != nil {
		r.onMsg(c, msg.(string))
	}
}

func (r *recorder) OnClose(c host.Conn, err error) {
	if r.closed[c.ID()] {
		r.t.Errorf("%s: OnClose twice on conn %d", r.name, c.ID())
	}
	r.closed[c.ID()] = true
	r.closes = append(r.closes, err)
	if r.onClose != nil {
		r.onClose(c, err)
	}
}

func msgN(i int) string { return fmt.Sprintf("m%05d", i) }

// newPair makes a world with a server and a client host, both started.
func newPair(t testing.TB, seed uint64, opts Options) (w *World, s, c *Host, senv, cenv host.Env) {
	w = NewWorld(seed, opts)
	s = w.NewHost("server", HostOptions{})
	c = w.NewHost("client", HostOptions{})
	return w, s, c, s.Start(), c.Start()
}

func mustListen(t testing.TB, env host.Env, addr string, h host.Handler) host.Listener {
	t.Helper()
	l, err := env.Net.Listen(addr, lenFramer{max: 1 << 20}, h)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
