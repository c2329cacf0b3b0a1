package sim

import (
	"bytes"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// TestSweepInvariants runs a faulty world over many seeds and checks the
// simulator's own promises from the outside: a SyncAsync that reports
// success has made durable exactly the bytes written before it was called,
// and each connection delivers a gapless, ordered prefix of what was
// written to it.
func TestSweepInvariants(t *testing.T) {
	seeds := uint64(120)
	if testing.Short() {
		seeds = 20
	}
	var msgs, syncs int
	for seed := uint64(1); seed <= seeds; seed++ {
		m, s := sweepOne(t, seed)
		msgs += m
		syncs += s
	}
	// Some seeds spend the run partitioned or without a log (an injected
	// EIO on SyncDir); the sweep as a whole must not.
	if msgs < 100*int(seeds) || syncs < 50*int(seeds) {
		t.Fatalf("%d messages, %d checked syncs over %d seeds: the sweep did little", msgs, syncs, seeds)
	}
	t.Logf("%d messages, %d checked syncs over %d seeds", msgs, syncs, seeds)
}

func sweepOne(t *testing.T, seed uint64) (msgs, syncs int) {
	no := DefaultNetOptions()
	no.Timeout = 2 * time.Second
	no.Faults = NetFaults{LossProb: 0.01, ResetProb: 0.002}
	w := NewWorld(seed, Options{Net: &no})
	do := DefaultDiskOptions()
	do.Faults = DiskFaults{ReadEIO: 0.001, WriteEIO: 0.002, SyncEIO: 0.02}
	srv := w.NewHost("server", HostOptions{Disk: &do})
	cli := w.NewHost("client", HostOptions{})
	harness := w.Stream("harness")

	startServer := func() {
		env := srv.Start()
		env.FS.MkdirAll("/data")
		f, err := env.FS.Create("/data/log")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if env.FS.SyncDir("/data") != nil || env.FS.SyncDir("/") != nil {
			f = nil // injected EIO: run without a durable log this time
		}
		var written []byte
		last := map[uint64]int{} // conn -> last sequence number seen
		h := newRecorder(t, "server")
		h.onMsg = func(c host.Conn, msg string) {
			msgs++
			var n int
			for _, ch := range msg[1:6] {
				n = n*10 + int(ch-'0')
			}
			if prev, ok := last[c.ID()]; ok && n != prev+1 {
				t.Fatalf("seed %d: conn %d delivered %d after %d", seed, c.ID(), n, prev)
			}
			last[c.ID()] = n
			if f == nil {
				return
			}
			if _, err := f.WriteAt([]byte(msg), int64(len(written))); err != nil {
				return
			}
			written = append(written, msg...)
			want := bytes.Clone(written)
			d := srv.Disk()
			f.SyncAsync(func(err error) {
				if err != nil {
					return
				}
				syncs++
				got := make([]byte, len(want))
				if n, _ := d.ReadDurable("/data/log", got, 0); n != len(want) || !bytes.Equal(got, want) {
					t.Fatalf("seed %d: a successful SyncAsync left %d of %d bytes durable, or wrong ones", seed, n, len(want))
				}
			})
		}
		h.onClose = func(c host.Conn, _ error) { delete(last, c.ID()) }
		mustListen(t, env, ":7000", h)
	}
	startServer()

	cenv := cli.Start()
	var conn host.Conn
	seq := 0
	ch := newRecorder(t, "client")
	ch.onClose = func(host.Conn, error) {
		conn = nil
		cenv.Clock.AfterFunc(10*time.Millisecond, func() {
			conn, seq = cenv.Net.Dial(srv.Addr()+":7000", lenFramer{}, ch), 0
		})
	}
	conn = cenv.Net.Dial(srv.Addr()+":7000", lenFramer{}, ch)
	var tick func()
	tick = func() {
		if conn != nil && conn.Write(frame(msgN(seq))) == nil {
			seq++
		}
		cenv.Clock.AfterFunc(time.Duration(200+cenv.Rand.IntN(800))*time.Microsecond, tick)
	}
	tick()

	// Faults from the harness's own stream: crashes of both kinds, partitions.
	for at := 50 * time.Millisecond; at < 2*time.Second; at += time.Duration(20+harness.IntN(200)) * time.Millisecond {
		switch harness.IntN(4) {
		case 0:
			w.At(at, func() { srv.Crash(ProcessCrash) })
			w.At(at+5*time.Millisecond, startServer)
		case 1:
			w.At(at, func() { srv.Crash(PowerLoss) })
			w.At(at+5*time.Millisecond, startServer)
		case 2:
			w.At(at, func() { w.Partition(srv, cli) })
			w.At(at+time.Duration(harness.IntN(3000))*time.Millisecond, w.Heal)
		}
	}
	w.Run(3 * time.Second)
	return msgs, syncs
}
