package sim

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

func TestTimerStop(t *testing.T) {
	w := NewWorld(1, Options{})
	env := w.NewHost("h", HostOptions{}).Start()
	ran := map[string]int{}
	a := env.Clock.AfterFunc(time.Second, func() { ran["a"]++ })
	b := env.Clock.AfterFunc(time.Second, func() { ran["b"]++ })
	var self host.Timer
	var selfStop bool
	self = env.Clock.AfterFunc(time.Second, func() { ran["self"]++; selfStop = self.Stop() })
	env.Clock.AfterFunc(500*time.Millisecond, func() {
		if !a.Stop() {
			t.Error("Stop of a pending timer returned false")
		}
		if !a.Stop() {
			t.Error("second Stop returned false, but f has not run")
		}
	})
	w.RunFor(2 * time.Second)
	if ran["a"] != 0 || ran["b"] != 1 || ran["self"] != 1 {
		t.Fatalf("ran %v", ran)
	}
	if b.Stop() {
		t.Error("Stop after f ran returned true")
	}
	if selfStop {
		t.Error("Stop from inside f returned true")
	}
}

func TestAfterFuncZeroDefers(t *testing.T) {
	w := NewWorld(1, Options{})
	env := w.NewHost("h", HostOptions{})
	e := env.Start()
	var order []string
	e.Clock.AfterFunc(time.Millisecond, func() {
		e.Clock.AfterFunc(0, func() { order = append(order, "deferred") })
		e.Clock.AfterFunc(-time.Second, func() { order = append(order, "negative") })
		order = append(order, "caller")
	})
	w.RunFor(time.Second)
	if len(order) != 3 || order[0] != "caller" {
		t.Fatalf("order %v", order)
	}
}

func TestTiesShuffledBySeed(t *testing.T) {
	run := func(seed uint64, fifo bool) string {
		w := NewWorld(seed, Options{FIFOTies: fifo})
		e := w.NewHost("h", HostOptions{}).Start()
		var got []byte
		for i := 0; i < 8; i++ {
			e.Clock.AfterFunc(time.Millisecond, func() { got = append(got, byte('a'+i)) })
		}
		w.RunFor(time.Second)
		return string(got)
	}
	orders := map[string]bool{}
	for seed := uint64(0); seed < 10; seed++ {
		if run(seed, false) != run(seed, false) {
			t.Fatal("same seed, different tie order")
		}
		orders[run(seed, false)] = true
		if got := run(seed, true); got != "abcdefgh" {
			t.Fatalf("FIFOTies order %q", got)
		}
	}
	if len(orders) < 5 {
		t.Fatalf("ties barely shuffled: %v", orders)
	}
}

func TestClocks(t *testing.T) {
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{ClockSkew: 3 * time.Second})
	env := h.Start()
	w.RunFor(time.Minute)
	if got, want := env.Clock.Now(), Epoch.Add(time.Minute+3*time.Second); !got.Equal(want) {
		t.Fatalf("wall %v, want %v", got, want)
	}
	if env.Clock.Mono() != time.Minute {
		t.Fatalf("mono %v", env.Clock.Mono())
	}
	mono := env.Clock.Mono()
	h.StepClock(-time.Hour)
	if env.Clock.Now().After(Epoch) {
		t.Fatal("wall clock did not step back")
	}
	if env.Clock.Mono() < mono {
		t.Fatal("mono went back with the wall clock")
	}
	h.Crash(ProcessCrash)
	w.RunFor(time.Second)
	env = h.Start()
	if env.Clock.Mono() != 0 {
		t.Fatalf("a new incarnation's mono starts at %v", env.Clock.Mono())
	}
	// Seeded skew: deterministic per seed, within bounds, different hosts
	// differ.
	skews := map[time.Duration]bool{}
	for i := range 5 {
		hh := w.NewHost("s"+string(rune('a'+i)), HostOptions{MaxClockSkew: time.Second})
		sk := hh.Wall().Sub(Epoch.Add(w.Now()))
		if sk < -time.Second || sk > time.Second {
			t.Fatalf("skew %v out of bounds", sk)
		}
		skews[sk] = true
	}
	if len(skews) < 5 {
		t.Fatal("seeded skews collide")
	}
}

// TestStaleEventsNeverRun: nothing of a crashed incarnation runs after the
// crash: timers, disk completions, connection callbacks.
func TestStaleEventsNeverRun(t *testing.T) {
	for _, kind := range []CrashKind{ProcessCrash, PowerLoss} {
		w, s, _, senv, cenv := newPair(t, 11, Options{})
		crashed := false
		check := func(what string) {
			if crashed {
				t.Errorf("%v: %s ran after the crash", kind, what)
			}
		}
		for i := 1; i <= 20; i++ {
			senv.Clock.AfterFunc(time.Duration(i)*time.Millisecond, func() { check("timer") })
		}
		f, _ := senv.FS.Create("f")
		senv.Clock.AfterFunc(0, func() {
			for range 5 {
				f.WriteAt([]byte("x"), 0)
				f.SyncAsync(func(error) { check("sync completion") })
			}
		})
		srv := newRecorder(t, "server")
		srv.onOpen = func(host.Conn) { check("OnOpen") }
		srv.onMsg = func(host.Conn, string) { check("OnMessage") }
		srv.onClose = func(host.Conn, error) { check("OnClose") }
		mustListen(t, senv, ":7000", srv)
		cli := newRecorder(t, "client")
		conn := cenv.Net.Dial(s.Addr()+":7000", lenFramer{}, cli)
		var tick func()
		tick = func() {
			conn.Write(frame("ping"))
			cenv.Clock.AfterFunc(100*time.Microsecond, tick)
		}
		cenv.Clock.AfterFunc(time.Millisecond, tick)
		// Crash at an instant when timers, syncs and segments are pending.
		w.RunFor(1500 * time.Microsecond)
		if w.Pending() == 0 {
			t.Fatal("nothing pending at the crash")
		}
		s.Crash(kind)
		crashed = true
		if l := senv.Log; l.Enabled(context.Background(), slog.LevelError) {
			t.Error("a dead incarnation's logger is enabled")
		}
		senv.Clock.AfterFunc(0, func() { check("timer set after death") })
		w.RunFor(20 * time.Second)
		if w.Stale() == 0 {
			t.Errorf("%v: no stale event dropped", kind)
		}
		if len(srv.msgs) == 0 {
			t.Errorf("%v: the server never got a message before the crash", kind)
		}
	}
}

func TestStreamsIndependent(t *testing.T) {
	a := NewStreams(5)
	b := NewStreams(5)
	// Extra draws from another stream do not move this one.
	for range 100 {
		b.Get("other").Uint64()
	}
	for range 10 {
		if a.Get("x").Uint64() != b.Get("x").Uint64() {
			t.Fatal("stream x depends on draws from another stream")
		}
	}
	if NewStreams(5).Get("x").Uint64() == NewStreams(5).Get("y").Uint64() {
		t.Fatal("streams x and y coincide")
	}
	if NewStreams(5).Get("x").Uint64() == NewStreams(6).Get("x").Uint64() {
		t.Fatal("seeds 5 and 6 coincide")
	}
	hi, lo := StreamSeed(5, "x")
	if rand.New(rand.NewPCG(hi, lo)).Uint64() != NewStreams(5).Get("x").Uint64() {
		t.Fatal("StreamSeed disagrees with Get")
	}
	if a.State() == b.State() {
		t.Fatal("different draws, same state")
	}
}

func TestFaultSites(t *testing.T) {
	w := NewWorld(1, Options{Faults: map[string]float64{"always": 1}})
	h := w.NewHost("h", HostOptions{Faults: map[string]float64{"half": 0.5}})
	f := h.Start().Faults
	before := w.RandState()
	for range 100 {
		if f.Fire("inert") {
			t.Fatal("a site without probability fired")
		}
	}
	if w.RandState() != before {
		t.Fatal("an inert site drew randomness")
	}
	fired := 0
	for range 1000 {
		if !f.Fire("always") {
			t.Fatal("a site at probability 1 did not fire")
		}
		if f.Fire("half") {
			fired++
		}
	}
	if fired < 400 || fired > 600 {
		t.Fatalf("half fired %d of 1000", fired)
	}
	w.SetFaults(false)
	if f.Fire("always") {
		t.Fatal("faults off, yet a site fired")
	}
}

func TestLogLines(t *testing.T) {
	var logs bytes.Buffer
	w := NewWorld(1, Options{Log: &logs})
	env := w.NewHost("broker-1", HostOptions{}).Start()
	env.Clock.AfterFunc(1500*time.Millisecond, func() {
		env.Log.Info("flushed", "offset", 42)
		env.Log.Debug("not at this level")
	})
	w.RunFor(2 * time.Second)
	if got := logs.String(); got != "1.500000000 broker-1#1 log level=INFO msg=flushed offset=42\n" {
		t.Fatalf("log %q", got)
	}
}

func TestRunUntil(t *testing.T) {
	w := NewWorld(1, Options{})
	e := w.NewHost("h", HostOptions{}).Start()
	n := 0
	var tick func()
	tick = func() { n++; e.Clock.AfterFunc(time.Millisecond, tick) }
	e.Clock.AfterFunc(time.Millisecond, tick)
	if !w.RunUntil(func() bool { return n == 10 }, time.Second) || w.Now() != 10*time.Millisecond {
		t.Fatalf("n %d at %v", n, w.Now())
	}
	if w.RunUntil(func() bool { return false }, 20*time.Millisecond) || w.Now() != 20*time.Millisecond {
		t.Fatalf("RunUntil gave up at %v", w.Now())
	}
	w.Run(time.Second)
	if w.Now() != time.Second || n != 1000 {
		t.Fatalf("Run: n %d at %v", n, w.Now())
	}
}

func TestHostAddresses(t *testing.T) {
	w := NewWorld(1, Options{})
	var addrs []string
	for i := range 300 {
		addrs = append(addrs, w.NewHost("h"+strings.Repeat("x", i%3)+string(rune('0'+i/100))+string(rune('0'+i/10%10))+string(rune('0'+i%10)), HostOptions{}).Addr())
	}
	if addrs[0] != "10.0.0.1" || addrs[1] != "10.0.0.2" {
		t.Fatalf("first addresses %v", addrs[:2])
	}
	slices.Sort(addrs)
	if len(slices.Compact(addrs)) != 300 {
		t.Fatal("duplicate host addresses")
	}
}
