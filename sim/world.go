package sim

import (
	"github.com/thrustmq/thrust/broker/host"

	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"time"
)

// Epoch is the wall-clock instant at which every world begins (before each
// host's skew), fixed so that timestamps in a run are the same on every
// replay.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configure a World. The zero value is a quiet world with default
// network parameters and no faults.
type Options struct {
	// Trace, if set, receives every trace line (see World.Digest).
	Trace io.Writer
	// Log, if set, also receives the nodes' log lines alone. Log lines are
	// always part of the trace and the digest.
	Log io.Writer
	// LogLevel is the minimum level of the nodes' loggers; nil means Info.
	LogLevel slog.Leveler
	// FIFOTies runs events scheduled for the same instant in the order they
	// were scheduled instead of a seeded shuffle. Use it only to bisect a
	// failure: the shuffle is what finds code that depends on that order.
	FIFOTies bool
	// Net configures the network; nil means DefaultNetOptions().
	Net *NetOptions
	// Faults gives each fault site (host.Faults.Fire) a default probability
	// for every host; HostOptions.Faults overrides it per host.
	Faults map[string]float64
}

// World is a deterministic simulated world: hosts with disks, clocks and
// network addresses, the network between them, and the scheduler that runs
// all of it on the caller's goroutine in virtual time.
//
// Everything a World does derives from its seed, and it is not safe for
// concurrent use: it has no goroutines of its own, and its callers must
// have none either.
type World struct {
	seed     uint64
	opts     Options
	now      int64 // virtual nanoseconds since Epoch
	seq      uint64
	queue    eventHeap
	sched    *rand.Rand
	streams  *Streams
	hosts    []*Host
	byName   map[string]*Host
	byIP     map[string]*Host
	net      network
	tr       tracer
	cur      *incarnation // the incarnation whose callback is running, if any
	kicked   []*endpoint  // endpoints written to by the running callback
	faultsOn bool
	faultP   map[string]float64

	fired, stale uint64
	// dead counts events in the heap that will do nothing (stopped
	// timers), so that the heap is compacted before they dominate it.
	dead int

	// OnSiteCrash, if set, is told when a node crashed itself at a fault
	// site (a host.Crash panic), after its incarnation ended.
	OnSiteCrash func(h *Host, site string)
}

// cancelled notes that an event in the heap will do nothing, compacting
// the heap once such events are half of it.
func (w *World) cancelled() {
	w.dead++
	if w.dead > 1024 && 2*w.dead > len(w.queue) {
		w.queue.compact()
		w.dead = 0
	}
}

// NewWorld returns an empty world at virtual time 0.
func NewWorld(seed uint64, opts Options) *World {
	w := &World{
		seed:     seed,
		opts:     opts,
		streams:  NewStreams(seed),
		byName:   map[string]*Host{},
		byIP:     map[string]*Host{},
		tr:       newTracer(opts.Trace, opts.Log),
		faultsOn: true,
		faultP:   maps.Clone(opts.Faults),
	}
	if w.faultP == nil {
		w.faultP = map[string]float64{}
	}
	if w.opts.LogLevel == nil {
		w.opts.LogLevel = slog.LevelInfo
	}
	w.sched = w.streams.Get("sched")
	no := DefaultNetOptions()
	if opts.Net != nil {
		no = *opts.Net
		no.fill()
	}
	w.net.init(no)
	w.tbegin("world", "seed")
	w.tstr("seed", fmt.Sprint(seed))
	w.tend()
	return w
}

// Seed is the world's master seed.
func (w *World) Seed() uint64 { return w.seed }

// Now is the virtual time elapsed since the world began.
func (w *World) Now() time.Duration { return time.Duration(w.now) }

// Stream returns the named random stream of this world's seed (see
// Streams). Workloads take theirs here: "workload/producer-3".
func (w *World) Stream(name string) *rand.Rand { return w.streams.Get(name) }

// RandState digests the state of every stream used so far (see
// Streams.State).
func (w *World) RandState() string { return w.streams.State() }

// Pending is the number of events in the queue, including stale ones not
// yet popped.
func (w *World) Pending() int { return len(w.queue) }

// Fired is the number of events that have run.
func (w *World) Fired() uint64 { return w.fired }

// Stale is the number of events dropped because their incarnation died.
func (w *World) Stale() uint64 { return w.stale }

// schedule queues act to fire at virtual time at. inc, if not nil, binds
// the event to an incarnation: it runs on that node's loop, waits while the
// node is busy in a blocking call, and is dropped if the node has died.
func (w *World) schedule(at int64, act action, arg uint64, inc *incarnation) {
	if at < w.now {
		at = w.now
	}
	var tie uint64
	if !w.opts.FIFOTies {
		tie = w.sched.Uint64()
	}
	w.seq++
	w.queue.push(event{at: at, tie: tie, seq: w.seq, arg: arg, act: act, inc: inc})
}

// Schedule runs f after d of virtual time, outside any node: the way a
// harness injects faults and workload steps. d < 0 counts as 0.
func (w *World) Schedule(d time.Duration, f func()) {
	w.schedule(w.now+max(int64(d), 0), funcAction(f), 0, nil)
}

// At runs f at virtual time t (or now, if t has passed), outside any node.
func (w *World) At(t time.Duration, f func()) {
	w.schedule(int64(t), funcAction(f), 0, nil)
}

// Step runs the next event, advancing virtual time to it. It reports false
// when no event is left.
func (w *World) Step() bool {
	if len(w.queue) == 0 {
		return false
	}
	ev := w.queue.pop()
	if ev.at < w.now {
		panic("sim: event scheduled in the past")
	}
	w.now = ev.at
	w.dispatch(&ev)
	return true
}

// Run runs every event due at or before virtual time until, then leaves the
// clock at until.
func (w *World) Run(until time.Duration) {
	t := int64(until)
	for len(w.queue) > 0 && w.queue[0].at <= t {
		w.Step()
	}
	if w.now < t {
		w.now = t
	}
}

// RunFor runs for d of virtual time from now.
func (w *World) RunFor(d time.Duration) { w.Run(w.Now() + d) }

// RunUntil runs events until pred holds (checked before the first event and
// after each one) or virtual time would pass limit. It reports whether pred
// held. When it gives up, the clock is left at limit.
func (w *World) RunUntil(pred func() bool, limit time.Duration) bool {
	if pred() {
		return true
	}
	t := int64(limit)
	for len(w.queue) > 0 && w.queue[0].at <= t {
		w.Step()
		if pred() {
			return true
		}
	}
	if w.now < t {
		w.now = t
	}
	return pred()
}

func (w *World) dispatch(ev *event) {
	inc := ev.inc
	if inc == nil {
		w.fired++
		ev.act.fire(w, ev.arg)
		return
	}
	if inc.dead {
		w.stale++
		return
	}
	if inc.busyUntil > w.now || inc.dhead < len(inc.deferq) {
		// The node is still inside a blocking call (in virtual time), or
		// events that came due during it are waiting: queue behind them,
		// so that the node sees its events in due order.
		inc.deferEvent(ev.act, ev.arg)
		return
	}
	w.runOn(inc, ev.act, ev.arg)
}

// runOn fires act as a callback on inc's loop. Blocking calls made during
// it (Sync, say) accumulate in inc.busy; the node is then busy until now +
// busy, and its next events wait.
func (w *World) runOn(inc *incarnation, act action, arg uint64) {
	if w.cur != nil {
		panic("sim: nested callback")
	}
	w.fired++
	w.cur = inc
	defer func() {
		// NB: deferred so that a panicking callback (which ends the run
		// anyway) does not leave the world believing it is still inside.
		w.cur = nil
		clear(w.kicked)
		w.kicked = w.kicked[:0]
		if inc.busy > 0 {
			inc.busyUntil = w.now + inc.busy
			inc.busy = 0
		}
	}()
	if site, crashed := fireCatchingCrash(act, w, arg); crashed {
		// The node died at a fault site (host.Crash): its process ends
		// here, as if killed, and what it wrote in this callback never
		// leaves. The deferred cleanup above still runs first.
		defer func() {
			w.tbegin(inc.tag, "crash-site")
			w.tstr("site", site)
			w.tend()
			inc.h.Crash(ProcessCrash)
			if w.OnSiteCrash != nil {
				w.OnSiteCrash(inc.h, site)
			}
		}()
		return
	}
	// The callback has returned: its writes leave now, still at the
	// node's time (after any blocking calls it made).
	for i := 0; i < len(w.kicked); i++ {
		w.kicked[i].pump(w)
	}
}

// fireCatchingCrash runs act, turning a host.Crash panic into a report;
// any other panic goes on up.
func fireCatchingCrash(act action, w *World, arg uint64) (site string, crashed bool) {
	defer func() {
		if p := recover(); p != nil {
			c, ok := p.(host.Crash)
			if !ok {
				panic(p)
			}
			site, crashed = c.Site, true
		}
	}()
	act.fire(w, arg)
	return "", false
}

// SetFaults switches every probabilistic fault on or off: disk errors and
// bit flips, packet loss and random resets, and the fault sites of
// host.Faults. Latencies, partitions and crashes the harness asks for are
// unaffected. A liveness phase turns faults off.
func (w *World) SetFaults(on bool) {
	w.faultsOn = on
	w.tbegin("world", "faults")
	w.tint("on", b2i(on))
	w.tend()
}

// SetFault sets the default probability of a fault site for every host.
func (w *World) SetFault(site string, p float64) { w.faultP[site] = p }

// Host returns the host called name, or nil.
func (w *World) Host(name string) *Host { return w.byName[name] }

// Hosts returns the hosts in creation order.
func (w *World) Hosts() []*Host { return append([]*Host(nil), w.hosts...) }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
