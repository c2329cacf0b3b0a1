package sim

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// echoServer is a tiny "broker": it appends each message to a log file and
// answers only after a SyncAsync covering it has completed (persist before
// you acknowledge), logging as it goes.
type echoServer struct {
	env  host.Env
	log  host.File
	off  int64
	acks int
}

func startEcho(t testing.TB, env host.Env) *echoServer {
	s := &echoServer{env: env}
	if err := env.FS.MkdirAll("/data"); err != nil {
		t.Fatal(err)
	}
	f, err := env.FS.Create("/data/log")
	if err != nil {
		t.Fatal(err)
	}
	s.log = f
	h := newRecorder(t, "echo")
	h.onMsg = func(c host.Conn, msg string) {
		if _, err := s.log.WriteAt([]byte(msg), s.off); err != nil {
			env.Log.Warn("write failed", "err", err)
			return
		}
		s.off += int64(len(msg))
		s.log.SyncAsync(func(err error) {
			if err != nil {
				return
			}
			s.acks++
			if err := c.Write(frame("ack:" + msg[:min(8, len(msg))])); err != nil {
				env.Log.Info("ack dropped", "conn", c.ID(), "err", err)
			}
		})
	}
	mustListen(t, env, ":9000", h)
	env.Log.Info("echo listening")
	return s
}

// client sends a message of seeded size every few milliseconds, redialling
// after a close.
type client struct {
	env  host.Env
	addr string
	conn host.Conn
	sent int
	acks int
	h    *recorder
}

func startClient(t testing.TB, env host.Env, addr string) *client {
	c := &client{env: env, addr: addr, h: newRecorder(t, "client")}
	c.h.onMsg = func(host.Conn, string) { c.acks++ }
	c.h.onClose = func(_ host.Conn, err error) {
		env.Log.Info("closed", "err", err)
		c.conn = nil
		env.Clock.AfterFunc(5*time.Millisecond, c.dial)
	}
	c.dial()
	var tick func()
	tick = func() {
		if c.conn != nil {
			n := 1 + env.Rand.IntN(20000)
			body := fmt.Sprintf("%s-%d-%s", "msg", c.sent, strings.Repeat("x", n))
			if err := c.conn.Write(frame(body)); err == nil {
				c.sent++
			}
		}
		env.Clock.AfterFunc(time.Duration(500+env.Rand.IntN(2000))*time.Microsecond, tick)
	}
	env.Clock.AfterFunc(time.Millisecond, tick)
	return c
}

func (c *client) dial() {
	c.conn = c.env.Net.Dial(c.addr, lenFramer{max: 1 << 20}, c.h)
}

// scenario runs timers, disk I/O with syncs, connections exchanging framed
// messages, a partition, a process crash with restart and a power loss, and
// returns the digest and the trace.
func scenario(t testing.TB, seed uint64) (string, string, *World) {
	var trace bytes.Buffer
	return scenarioTo(t, seed, &trace, &trace)
}

func scenarioTo(t testing.TB, seed uint64, out io.Writer, trace *bytes.Buffer) (string, string, *World) {
	w := NewWorld(seed, Options{Trace: out})
	srv := w.NewHost("server", HostOptions{MaxClockSkew: time.Second})
	c1 := w.NewHost("client-1", HostOptions{MaxClockSkew: time.Second})
	c2 := w.NewHost("client-2", HostOptions{})
	startEcho(t, srv.Start())
	startClient(t, c1.Start(), srv.Addr()+":9000")
	startClient(t, c2.Start(), srv.Addr()+":9000")
	w.Schedule(50*time.Millisecond, func() { w.Partition(srv, c1) })
	w.Schedule(70*time.Millisecond, func() { w.Heal() })
	w.Schedule(100*time.Millisecond, func() { srv.Crash(ProcessCrash) })
	w.Schedule(120*time.Millisecond, func() { startEcho(t, srv.Start()) })
	w.Schedule(200*time.Millisecond, func() { srv.Crash(PowerLoss) })
	w.Schedule(230*time.Millisecond, func() { startEcho(t, srv.Start()) })
	w.Run(300 * time.Millisecond)
	return w.Digest(), trace.String(), w
}

func TestDeterminism(t *testing.T) {
	d1, t1, w1 := scenario(t, 42)
	d2, t2, w2 := scenario(t, 42)
	if d1 != d2 {
		t.Fatalf("same seed, different digests: %s vs %s", d1, d2)
	}
	if t1 != t2 {
		t.Fatal("same seed, different traces")
	}
	if w1.RandState() != w2.RandState() {
		t.Fatal("same seed, different final random state")
	}
	// One goroutine runs everything, so the Go scheduler has no say.
	prev := runtime.GOMAXPROCS(1)
	d4, _, _ := scenario(t, 42)
	runtime.GOMAXPROCS(prev)
	if d4 != d1 {
		t.Fatal("GOMAXPROCS changed the digest")
	}
	// Writers render text; they do not change what is hashed.
	if d5, _, _ := scenarioTo(t, 42, nil, new(bytes.Buffer)); d5 != d1 {
		t.Fatal("attaching a trace writer changed the digest")
	}
	d3, t3, _ := scenario(t, 43)
	if d3 == d1 || t3 == t1 {
		t.Fatal("different seeds, same digest")
	}
	// The scenario must actually have exercised what it claims.
	for _, want := range []string{" timer ", " recv ", " sync-done ", " accept ", " partition ",
		" heal", " crash kind=process-crash", " crash kind=power-loss", " power-loss ", " log "} {
		if !strings.Contains(t1, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	if w1.Stale() == 0 {
		t.Error("no stale event was dropped across two crashes")
	}
	t.Logf("digest %s: %d lines, %d events fired, %d stale", d1[:16], w1.TraceLines(), w1.Fired(), w1.Stale())
}
