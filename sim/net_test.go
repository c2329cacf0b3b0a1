package sim

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

func TestPartialFramesReassembled(t *testing.T) {
	no := DefaultNetOptions()
	no.SplitProb = 0.9
	no.MaxSegment = 1500
	w, s, _, senv, cenv := newPair(t, 7, Options{Net: &no})
	srv := newRecorder(t, "server")
	mustListen(t, senv, ":7000", srv)
	cli := newRecorder(t, "client")
	var want []string
	cli.onOpen = func(c host.Conn) {
		for i := 0; i < 200; i++ {
			body := msgN(i) + strings.Repeat("y", (i*37)%5000)
			want = append(want, body)
			if err := c.Write(frame(body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	var trace strings.Builder
	w.tr.out = &trace
	w.RunFor(time.Second)
	if len(srv.msgs) != len(want) {
		t.Fatalf("got %d messages, want %d", len(srv.msgs), len(want))
	}
	for i := range want {
		if srv.msgs[i] != want[i] {
			t.Fatalf("message %d differs", i)
		}
	}
	segs := strings.Count(trace.String(), "server#1 recv ")
	if segs <= 2*len(want) {
		t.Fatalf("only %d segments for %d messages: frames were not split", segs, len(want))
	}
}

func TestDialRefusedAndUnreachable(t *testing.T) {
	w, s, _, _, cenv := newPair(t, 1, Options{})
	cli := newRecorder(t, "client")
	cenv.Net.Dial(s.Addr()+":1", lenFramer{}, cli)
	cenv.Net.Dial("10.9.9.9:1", lenFramer{}, cli)
	c := cenv.Net.Dial("garbage", lenFramer{}, cli)
	if err := c.Write([]byte("x")); !errors.Is(err, host.ErrClosed) {
		// Writes may be queued while connecting, but this one failed at once.
		t.Logf("write on failed dial: %v", err)
	}
	w.RunFor(time.Second)
	if len(cli.closes) != 3 || len(cli.opened) != 0 {
		t.Fatalf("closes %v opened %d", cli.closes, len(cli.opened))
	}
	if !errors.Is(cli.closes[0], ErrUnreachable) && !errors.Is(cli.closes[1], ErrUnreachable) {
		t.Errorf("no unreachable error: %v", cli.closes)
	}
	refused := 0
	for _, err := range cli.closes {
		if errors.Is(err, ErrConnRefused) {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("refused %d times: %v", refused, cli.closes)
	}
}

func TestGracefulClose(t *testing.T) {
	w, s, _, senv, cenv := newPair(t, 2, Options{})
	srv := newRecorder(t, "server")
	mustListen(t, senv, "0.0.0.0:7000", srv)
	cli := newRecorder(t, "client")
	c := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	// Written before the connection is even established, then closed.
	for i := 0; i < 50; i++ {
		if err := c.Write(frame(msgN(i))); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := c.Write(frame("late")); !errors.Is(err, host.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	w.RunFor(time.Second)
	if len(srv.msgs) != 50 {
		t.Fatalf("server got %d of 50 messages", len(srv.msgs))
	}
	if len(srv.closes) != 1 || srv.closes[0] != io.EOF {
		t.Fatalf("server closes: %v", srv.closes)
	}
	if len(cli.closes) != 1 || cli.closes[0] != nil {
		t.Fatalf("client closes: %v", cli.closes)
	}
	if len(cli.opened) != 0 {
		t.Fatal("OnOpen after Close")
	}
}

// TestPartitionStallsThenHeals: bytes written across a cut arrive only
// after the heal, in order, and the connection survives a cut shorter
// than the timeout.
func TestPartitionStallsThenHeals(t *testing.T) {
	w, s, c, senv, cenv := newPair(t, 3, Options{})
	srv := newRecorder(t, "server")
	mustListen(t, senv, ":7000", srv)
	cli := newRecorder(t, "client")
	conn := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	w.RunFor(10 * time.Millisecond)
	if len(cli.opened) != 1 {
		t.Fatal("not connected")
	}
	w.Partition(s, c)
	for i := 0; i < 10; i++ {
		conn.Write(frame(msgN(i)))
	}
	w.RunFor(5 * time.Second)
	if len(srv.msgs) != 0 {
		t.Fatalf("%d messages crossed a partition", len(srv.msgs))
	}
	if conn.Buffered() == 0 {
		t.Fatal("nothing queued during the partition")
	}
	w.Heal()
	w.RunFor(time.Second)
	if len(srv.msgs) != 10 || srv.msgs[9] != msgN(9) {
		t.Fatalf("after heal: %v", srv.msgs)
	}
	if len(cli.closes)+len(srv.closes) != 0 {
		t.Fatalf("a short partition closed the connection: %v %v", cli.closes, srv.closes)
	}
	// Segments already in flight when the cut starts are held too.
	conn.Write(frame("in-flight"))
	w.Schedule(0, func() {}) // let the pump put it in flight
	w.RunFor(time.Microsecond)
	w.Isolate(s)
	w.RunFor(time.Second)
	if len(srv.msgs) != 10 {
		t.Fatal("a held segment was delivered during the partition")
	}
	w.Heal()
	w.RunFor(time.Second)
	if len(srv.msgs) != 11 {
		t.Fatal("held segment lost")
	}
}

func TestPartitionTimeoutResets(t *testing.T) {
	w, s, c, senv, cenv := newPair(t, 4, Options{})
	srv := newRecorder(t, "server")
	mustListen(t, senv, ":7000", srv)
	cli := newRecorder(t, "client")
	cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	w.RunFor(10 * time.Millisecond)
	w.PartitionOneWay(c, s)
	w.RunFor(11 * time.Second)
	if len(cli.closes) != 1 || !errors.Is(cli.closes[0], ErrTimeout) ||
		len(srv.closes) != 1 || !errors.Is(srv.closes[0], ErrTimeout) {
		t.Fatalf("closes after a long partition: client %v server %v", cli.closes, srv.closes)
	}
	// A dial across the cut times out.
	cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	w.RunFor(11 * time.Second)
	if len(cli.closes) != 2 || !errors.Is(cli.closes[1], ErrTimeout) {
		t.Fatalf("dial across a partition: %v", cli.closes)
	}
}

func TestBackpressure(t *testing.T) {
	no := DefaultNetOptions()
	no.QueueLimit = 64 << 10
	w, s, c, senv, cenv := newPair(t, 5, Options{Net: &no})
	srv := newRecorder(t, "server")
	mustListen(t, senv, ":7000", srv)
	cli := newRecorder(t, "client")
	conn := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	w.RunFor(10 * time.Millisecond)
	w.Partition(s, c)
	sent := 0
	var err error
	for ; sent < 1000; sent++ {
		if err = conn.Write(frame(strings.Repeat("z", 1000))); err != nil {
			break
		}
	}
	if !errors.Is(err, host.ErrBackpressure) {
		t.Fatalf("no backpressure after %d writes: %v", sent, err)
	}
	if b := conn.Buffered(); b > no.QueueLimit || b < no.QueueLimit-1004 {
		t.Fatalf("buffered %d with limit %d", b, no.QueueLimit)
	}
	// A write bigger than the limit goes into an empty queue only.
	if err := conn.Write(make([]byte, 2*no.QueueLimit)); !errors.Is(err, host.ErrBackpressure) {
		t.Fatalf("huge write into a full queue: %v", err)
	}
	w.Heal()
	w.RunFor(time.Second)
	if len(srv.msgs) != sent || conn.Buffered() != 0 {
		t.Fatalf("after heal: got %d of %d, buffered %d", len(srv.msgs), sent, conn.Buffered())
	}
}

func TestCrashResetsPeersAndListeners(t *testing.T) {
	w, s, _, senv, cenv := newPair(t, 6, Options{})
	srv := newRecorder(t, "server")
	mustListen(t, senv, ":7000", srv)
	cli := newRecorder(t, "client")
	conn := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	w.RunFor(10 * time.Millisecond)
	conn.Write(frame("before crash"))
	w.RunFor(10 * time.Millisecond)
	s.Crash(ProcessCrash)
	w.RunFor(10 * time.Millisecond)
	if len(cli.closes) != 1 || !errors.Is(cli.closes[0], ErrConnReset) {
		t.Fatalf("client after server crash: %v", cli.closes)
	}
	if len(srv.closes) != 0 {
		t.Fatal("a crashed process got OnClose")
	}
	// The listener vanished with the process.
	cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	w.RunFor(10 * time.Millisecond)
	if !errors.Is(cli.closes[1], ErrConnRefused) {
		t.Fatalf("dial after crash: %v", cli.closes[1])
	}
	// A new incarnation listens again.
	srv2 := newRecorder(t, "server2")
	mustListen(t, s.Start(), ":7000", srv2)
	c2 := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	c2.Write(frame("after restart"))
	w.RunFor(10 * time.Millisecond)
	if len(srv2.msgs) != 1 || srv2.msgs[0] != "after restart" {
		t.Fatalf("restarted server got %v", srv2.msgs)
	}
	// Power loss: peers hear nothing until the timeout.
	s.Crash(PowerLoss)
	w.RunFor(5 * time.Second)
	if len(cli.closes) != 2 {
		t.Fatalf("peer of a powered-off host closed early: %v", cli.closes)
	}
	w.RunFor(6 * time.Second)
	if len(cli.closes) != 3 || !errors.Is(cli.closes[2], ErrTimeout) {
		t.Fatalf("peer of a powered-off host: %v", cli.closes)
	}
	// Dialing a powered-off host times out rather than being refused.
	cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	w.RunFor(11 * time.Second)
	if len(cli.closes) != 4 || !errors.Is(cli.closes[3], ErrTimeout) {
		t.Fatalf("dial to a powered-off host: %v", cli.closes)
	}
}

func TestFramerErrorClosesStream(t *testing.T) {
	w, s, _, senv, cenv := newPair(t, 8, Options{})
	srv := newRecorder(t, "server")
	if _, err := senv.Net.Listen(":7000", lenFramer{max: 100}, srv); err != nil {
		t.Fatal(err)
	}
	cli := newRecorder(t, "client")
	conn := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	conn.Write(frame("fine"))
	conn.Write(frame(strings.Repeat("!", 1000)))
	conn.Write(frame("never"))
	w.RunFor(time.Second)
	if len(srv.msgs) != 1 || len(srv.closes) != 1 || !errors.Is(srv.closes[0], errFrameTooBig) {
		t.Fatalf("server: msgs %v closes %v", srv.msgs, srv.closes)
	}
	if len(cli.closes) != 1 || !errors.Is(cli.closes[0], ErrConnReset) {
		t.Fatalf("client: %v", cli.closes)
	}
}

func TestSendFile(t *testing.T) {
	w, s, _, senv, cenv := newPair(t, 9, Options{})
	f, _ := cenv.FS.Create("seg")
	f.WriteAt(frame("from the file"), 100)
	srv := newRecorder(t, "server")
	mustListen(t, senv, ":7000", srv)
	cli := newRecorder(t, "client")
	conn := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	if err := conn.(host.FileSender).SendFile(f, 100, 4+13); err != nil {
		t.Fatal(err)
	}
	// The bytes are those at call time.
	f.WriteAt([]byte("XXXX"), 104)
	if err := conn.(host.FileSender).SendFile(f, 100, 1000); err == nil {
		t.Fatal("SendFile past the end of the file")
	}
	w.RunFor(time.Second)
	if len(srv.msgs) != 1 || srv.msgs[0] != "from the file" {
		t.Fatalf("got %v", srv.msgs)
	}
}

func TestListenAddresses(t *testing.T) {
	_, s, _, senv, _ := newPair(t, 1, Options{})
	h := newRecorder(t, "x")
	l, err := senv.Net.Listen(":0", lenFramer{}, h)
	if err != nil || !strings.HasPrefix(l.Addr(), s.Addr()+":") {
		t.Fatalf("listen :0 -> %v %v", l, err)
	}
	if _, err := senv.Net.Listen(l.Addr(), lenFramer{}, h); err == nil {
		t.Fatal("bound one address twice")
	}
	if _, err := senv.Net.Listen("10.0.0.2:1", lenFramer{}, h); err == nil {
		t.Fatal("bound another host's address")
	}
	l.Close()
	if _, err := senv.Net.Listen(l.Addr(), lenFramer{}, h); err != nil {
		t.Fatalf("rebind after close: %v", err)
	}
}

func TestInjectedResetAndLoss(t *testing.T) {
	no := DefaultNetOptions()
	no.Faults = NetFaults{LossProb: 0.2, ResetProb: 0.01}
	w, s, _, senv, cenv := newPair(t, 10, Options{Net: &no})
	srv := newRecorder(t, "server")
	mustListen(t, senv, ":7000", srv)
	resets := 0
	cli := newRecorder(t, "client")
	var conn host.Conn
	seq := 0
	dial := func() { conn, seq = cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli), 0 }
	cli.onClose = func(_ host.Conn, err error) {
		if errors.Is(err, ErrConnReset) {
			resets++
		}
		conn = nil
		cenv.Clock.AfterFunc(time.Millisecond, dial)
	}
	var tick func()
	tick = func() {
		if conn != nil && conn.Write(frame(msgN(seq))) == nil {
			seq++
		}
		cenv.Clock.AfterFunc(time.Millisecond, tick)
	}
	dial()
	tick()
	w.RunFor(10 * time.Second)
	if resets == 0 {
		t.Fatal("no injected reset")
	}
	// Whatever got through is gapless and in order within each connection:
	// numbers restart only at a new connection.
	for i := 1; i < len(srv.msgs); i++ {
		prev, _ := strconv.Atoi(srv.msgs[i-1][1:])
		cur, _ := strconv.Atoi(srv.msgs[i][1:])
		if cur != prev+1 && cur != 0 {
			t.Fatalf("gap or reorder: %s after %s", srv.msgs[i], srv.msgs[i-1])
		}
	}
	if len(srv.msgs) < 1000 {
		t.Fatalf("only %d messages in 10 s", len(srv.msgs))
	}
}
