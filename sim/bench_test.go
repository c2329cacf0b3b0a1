package sim

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// BenchmarkScheduler measures raw scheduler throughput: self-rescheduling
// timers on a few nodes, each firing a traced event.
func BenchmarkScheduler(b *testing.B) {
	w := NewWorld(1, Options{})
	const nodes, timersPerNode = 4, 64
	for i := range nodes {
		env := w.NewHost("n"+string(rune('0'+i)), HostOptions{}).Start()
		for range timersPerNode {
			var tick func()
			tick = func() { env.Clock.AfterFunc(time.Duration(1+env.Rand.IntN(1000))*time.Microsecond, tick) }
			tick()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w.Step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEcho measures the network path: a client streams 1 KiB framed
// requests, the server appends each to a file, group-commits with
// SyncAsync and answers; b.N is requests answered.
func BenchmarkEcho(b *testing.B) {
	w := NewWorld(1, Options{})
	s := w.NewHost("server", HostOptions{})
	c := w.NewHost("client", HostOptions{})
	senv, cenv := s.Start(), c.Start()
	f, _ := senv.FS.Create("log")
	var off int64
	var waiting []host.Conn
	syncing := false
	var commit func()
	commit = func() {
		if syncing || len(waiting) == 0 {
			return
		}
		syncing = true
		batch := waiting
		waiting = nil
		f.SyncAsync(func(error) {
			syncing = false
			for _, c := range batch {
				c.Write(frame("ok"))
			}
			commit()
		})
	}
	srv := newRecorder(b, "server")
	srv.onMsg = func(c host.Conn, msg string) {
		f.WriteAt([]byte(msg), off)
		off += int64(len(msg))
		if off > 64<<20 {
			off = 0 // reuse the file: keep memory flat
		}
		waiting = append(waiting, c)
		commit()
	}
	mustListen(b, senv, ":7000", srv)
	acks := 0
	cli := newRecorder(b, "client")
	body := frame(strings.Repeat("p", 1024))
	cli.onOpen = func(c host.Conn) {
		for range 256 { // 256 requests in flight
			c.Write(body)
		}
	}
	cli.onMsg = func(c host.Conn, _ string) {
		acks++
		c.Write(body)
	}
	cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
	b.ReportAllocs()
	b.ResetTimer()
	start, fired := w.Now(), w.Fired()
	w.RunUntil(func() bool { return acks >= b.N }, time.Duration(1<<62))
	virt := w.Now() - start
	b.ReportMetric(float64(w.Fired()-fired)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(virt.Seconds()/b.Elapsed().Seconds(), "x-realtime")
}

// BenchmarkBrokerLike is a one-broker workload at realistic, open-loop
// rates: four producers send 1 KiB messages (100 or 1000 msg/s in all); the
// server appends, group-commits every millisecond with SyncAsync on a flush
// timer, and acknowledges; a 100 ms heartbeat timer runs on every node. It
// reports virtual seconds simulated per real second; b.N counts virtual
// milliseconds.
func BenchmarkBrokerLike(b *testing.B) {
	for _, rate := range []int{100, 1000} {
		b.Run(strconv.Itoa(rate)+"msg/s", func(b *testing.B) { benchBrokerLike(b, rate) })
	}
}

func benchBrokerLike(b *testing.B, rate int) {
	every := time.Duration(4 * int(time.Second) / rate) // per producer
	w := NewWorld(1, Options{})
	s := w.NewHost("broker", HostOptions{})
	senv := s.Start()
	f, _ := senv.FS.Create("commitlog")
	var off int64
	var waiting, batch []host.Conn
	flushing := false
	var flush func()
	flush = func() {
		if !flushing && len(waiting) > 0 {
			flushing = true
			batch, waiting = waiting, batch[:0]
			f.SyncAsync(func(error) {
				for _, c := range batch {
					c.Write(frame("ok"))
				}
				flushing = false
			})
		}
		senv.Clock.AfterFunc(time.Millisecond, flush)
	}
	flush()
	heartbeat := func(env host.Env) {
		var beat func()
		beat = func() { env.Clock.AfterFunc(100*time.Millisecond, beat) }
		beat()
	}
	heartbeat(senv)
	srv := &leanHandler{onMsg: func(c host.Conn, frame []byte) {
		f.WriteAt(frame, off)
		off = (off + int64(len(frame))) % (64 << 20)
		waiting = append(waiting, c)
	}}
	if _, err := senv.Net.Listen(":10911", rawFramer{}, srv); err != nil {
		b.Fatal(err)
	}
	body := frame(strings.Repeat("p", 1024))
	for i := range 4 {
		env := w.NewHost("producer-"+string(rune('0'+i)), HostOptions{}).Start()
		heartbeat(env)
		conn := env.Net.Dial(s.Addr()+":10911", rawFramer{}, &leanHandler{})
		var send func()
		send = func() {
			conn.Write(body)
			env.Clock.AfterFunc(every, send)
		}
		env.Clock.AfterFunc(time.Duration(i)*time.Millisecond, send)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, fired := w.Now(), w.Fired()
	w.RunFor(time.Duration(b.N) * time.Millisecond) // b.N virtual milliseconds
	b.ReportMetric(float64(w.Fired()-fired)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric((w.Now()-start).Seconds()/b.Elapsed().Seconds(), "x-realtime")
}

// rawFramer is lenFramer without the copy to a string: what a broker's
// decoder costs is the broker's business, not the simulator's.
type rawFramer struct{ lenFramer }

func (rawFramer) Decode(frame []byte) any { return frame }

// leanHandler keeps nothing, so that a benchmark measures the simulator.
type leanHandler struct{ onMsg func(host.Conn, []byte) }

func (*leanHandler) OnOpen(host.Conn)         {}
func (*leanHandler) OnClose(host.Conn, error) {}
func (h *leanHandler) OnMessage(c host.Conn, msg any) {
	if h.onMsg != nil {
		h.onMsg(c, msg.([]byte))
	}
}
