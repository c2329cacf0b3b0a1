package sim

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// CrashKind says what a crash takes with it.
type CrashKind int

const (
	// ProcessCrash kills the node's process; the machine stays up. The
	// page cache survives: everything written or stored reaches the disk
	// eventually, synced or not. The kernel resets the process's
	// connections.
	ProcessCrash CrashKind = iota + 1
	// PowerLoss kills the machine. Unsynced pages are dropped, kept or torn
	// per sector, unsynced directory entries kept or rolled back, all by
	// the seed. Peers hear nothing: their connections time out.
	PowerLoss
)

func (k CrashKind) String() string {
	switch k {
	case ProcessCrash:
		return "process-crash"
	case PowerLoss:
		return "power-loss"
	}
	return "crash(" + strconv.Itoa(int(k)) + ")"
}

// HostOptions configure a host.
type HostOptions struct {
	// Disk configures the host's disk; nil means DefaultDiskOptions().
	Disk *DiskOptions
	// ClockSkew is added to the host's wall clock.
	ClockSkew time.Duration
	// MaxClockSkew adds a skew drawn uniformly from [-MaxClockSkew,
	// MaxClockSkew] by the host's "clock" stream.
	MaxClockSkew time.Duration
	// Faults sets the probability of fault sites on this host, overriding
	// Options.Faults.
	Faults map[string]float64
}

// Host is a simulated machine: a disk that outlives its processes, a wall
// clock, a network address, and at most one running incarnation of the node
// process at a time.
type Host struct {
	w     *World
	name  string
	ip    string
	index int

	disk   *Disk
	skew   int64 // wall clock offset: configured + drawn + steps
	inc    *incarnation
	incs   int
	off    bool // powered off by PowerLoss, until the next Start
	fault  map[string]float64
	faultR map[string]*rand.Rand

	netR    *rand.Rand
	txFree  int64 // when the host's egress link is next free
	nextEph int   // next ephemeral port
}

// NewHost adds a host. Hosts get addresses 10.0.0.1, 10.0.0.2, ... in
// creation order. The name must be unique and free of spaces; it names the
// host's random streams ("<name>/disk") and its trace lines.
func (w *World) NewHost(name string, opts HostOptions) *Host {
	if name == "" || strings.ContainsAny(name, " \t\n#/") {
		panic(fmt.Sprintf("sim: bad host name %q", name))
	}
	if w.byName[name] != nil {
		panic(fmt.Sprintf("sim: host %q exists", name))
	}
	idx := len(w.hosts) + 1
	h := &Host{
		w:       w,
		name:    name,
		ip:      fmt.Sprintf("10.0.%d.%d", idx/250, idx%250+1),
		index:   idx,
		fault:   maps.Clone(opts.Faults),
		faultR:  map[string]*rand.Rand{},
		netR:    w.Stream(name + "/net"),
		nextEph: ephemeralMin,
	}
	if idx < 250 {
		h.ip = "10.0.0." + strconv.Itoa(idx)
	}
	if h.fault == nil {
		h.fault = map[string]float64{}
	}
	h.skew = int64(opts.ClockSkew)
	if m := int64(opts.MaxClockSkew); m > 0 {
		h.skew += w.Stream(name+"/clock").Int64N(2*m+1) - m
	}
	do := DefaultDiskOptions()
	if opts.Disk != nil {
		do = *opts.Disk
		if do.Capacity <= 0 {
			do.Capacity = DefaultDiskOptions().Capacity
		}
	}
	h.disk = newDisk(h, do)
	w.hosts = append(w.hosts, h)
	w.byName[name] = h
	w.byIP[h.ip] = h
	w.tbegin(name, "host")
	w.tstr("addr", h.ip)
	w.tint("skew", h.skew)
	w.tint("disk", do.Capacity)
	w.tend()
	return h
}

// Name is the host's name.
func (h *Host) Name() string { return h.name }

// Addr is the host's IP address, "10.0.0.N".
func (h *Host) Addr() string { return h.ip }

// Disk is the host's disk, for harnesses and checkers.
func (h *Host) Disk() *Disk { return h.disk }

// Running reports whether an incarnation of the node runs.
func (h *Host) Running() bool { return h.inc != nil }

// Incarnation is the number of the current (or last) incarnation; the
// first Start makes 1.
func (h *Host) Incarnation() int { return h.incs }

// Wall is the host's wall clock now: Epoch + virtual time + skew + steps.
func (h *Host) Wall() time.Time { return Epoch.Add(time.Duration(h.w.now + h.skew)) }

// StepClock steps the host's wall clock by delta (an NTP step, an operator
// with `date`). The monotonic clock is unaffected.
func (h *Host) StepClock(delta time.Duration) {
	h.skew += int64(delta)
	h.w.tbegin(h.name, "clock-step")
	h.w.tint("delta", int64(delta))
	h.w.tint("skew", h.skew)
	h.w.tend()
}

// SetFault sets the probability of a fault site on this host.
func (h *Host) SetFault(site string, p float64) { h.fault[site] = p }

// Start boots a new incarnation of the node process on the host and returns
// its Env. The disk is whatever survived; nothing else is. It panics if an
// incarnation is running.
func (h *Host) Start() host.Env {
	if h.inc != nil {
		panic(fmt.Sprintf("sim: %s: Start while incarnation %d runs", h.name, h.incs))
	}
	w := h.w
	h.incs++
	h.off = false
	inc := &incarnation{h: h, n: h.incs, start: w.now}
	inc.tag = h.name + "#" + strconv.Itoa(inc.n)
	inc.env = host.Env{
		Clock:  simClock{inc},
		FS:     &fileSystem{inc: inc, d: h.disk},
		Net:    simNet{inc},
		Rand:   w.Stream(h.name + "/rand/" + strconv.Itoa(inc.n)),
		Log:    newLogger(inc, w.opts.LogLevel),
		Faults: simFaults{inc},
	}
	h.inc = inc
	w.tbegin(inc.tag, "start")
	w.tend()
	return inc.env
}

// Crash ends the running incarnation (if any) the way kind says. Its pending
// timers, disk completions and connection events are dropped; its listeners
// vanish; its connections are reset (ProcessCrash: the kernel sends RSTs
// that reach peers after network delay) or go silent (PowerLoss: peers time
// out). PowerLoss also drops the page cache, even of a host whose process
// was already down, and keeps the machine off until Start.
//
// Called from inside the node's own callback, the crash takes effect for
// everything the callback has not done yet: it cannot unwind it.
func (h *Host) Crash(kind CrashKind) {
	if kind != ProcessCrash && kind != PowerLoss {
		panic("sim: bad crash kind")
	}
	w := h.w
	who := h.name
	if inc := h.inc; inc != nil {
		who = inc.tag
		h.inc = nil
		inc.kill(kind)
	}
	w.tbegin(who, "crash")
	w.tstr("kind", kind.String())
	w.tend()
	if kind == PowerLoss {
		h.off = true
		h.disk.powerLoss()
	} else if w.faultP[BugProcessCrashDropsPageCache] >= 1 {
		// The planted bug: a process crash treated like a power loss, as a
		// simulator that got the fault model wrong would.
		h.disk.powerLoss()
	}
}

func (h *Host) faultStream(site string) *rand.Rand {
	r := h.faultR[site]
	if r == nil {
		r = h.w.Stream(h.name + "/fault/" + site)
		h.faultR[site] = r
	}
	return r
}

// incarnation is one life of the node process on a host: from Start to
// Crash. Everything the node can reach (its Env) is bound to it, and dies
// with it.
type incarnation struct {
	h     *Host
	n     int
	tag   string // "host#n"
	start int64
	dead  bool
	env   host.Env

	// busy is virtual time spent in blocking calls by the running
	// callback; busyUntil is when the last such callback's calls ended.
	busy, busyUntil int64
	deferq          []deferred
	dhead           int
	wakePending     bool

	nextTimer uint64
	nextConn  uint64
	conns     []*endpoint
	files     []*file
	openFiles int
	listeners []*listener
}

type deferred struct {
	act action
	arg uint64
}

// now is the node's view of virtual time: inside one of its callbacks it
// includes the time its blocking calls have taken so far. It never
// decreases.
func (inc *incarnation) now() int64 {
	w := inc.h.w
	t := max(w.now, inc.busyUntil)
	if w.cur == inc {
		t += inc.busy
	}
	return t
}

// block charges d of virtual time to a blocking call made by the node. Calls
// from outside the node's callbacks (a test poking at a file) cost nothing.
func (inc *incarnation) block(d int64) {
	if d > 0 && inc.h.w.cur == inc {
		inc.busy += d
	}
}

func (inc *incarnation) deferEvent(act action, arg uint64) {
	inc.deferq = append(inc.deferq, deferred{act, arg})
	if !inc.wakePending {
		inc.wakePending = true
		w := inc.h.w
		w.schedule(max(inc.busyUntil, w.now), inc, 0, nil)
	}
}

// fire is the wake-up after a blocking call: it runs the events that came
// due meanwhile, in order, until one of them blocks again.
func (inc *incarnation) fire(w *World, _ uint64) {
	inc.wakePending = false
	for inc.dhead < len(inc.deferq) {
		if inc.dead {
			break
		}
		if inc.busyUntil > w.now {
			inc.wakePending = true
			w.schedule(inc.busyUntil, inc, 0, nil)
			return
		}
		d := inc.deferq[inc.dhead]
		inc.deferq[inc.dhead] = deferred{}
		inc.dhead++
		w.runOn(inc, d.act, d.arg)
	}
	inc.deferq = inc.deferq[:0]
	inc.dhead = 0
}

// kill ends the incarnation. Events bound to it are dropped when popped.
func (inc *incarnation) kill(kind CrashKind) {
	inc.dead = true
	inc.deferq, inc.dhead = nil, 0
	for _, l := range inc.listeners {
		l.close()
	}
	for _, ep := range inc.conns {
		ep.crash(kind)
	}
	for _, f := range inc.files {
		if !f.closed {
			f.release()
		}
	}
	inc.conns, inc.files, inc.listeners = nil, nil, nil
}

// simClock is an incarnation's host.Clock.
type simClock struct{ inc *incarnation }

func (c simClock) Now() time.Time {
	return Epoch.Add(time.Duration(c.inc.now() + c.inc.h.skew))
}

func (c simClock) Mono() time.Duration {
	return time.Duration(c.inc.now() - c.inc.start)
}

func (c simClock) AfterFunc(d time.Duration, f func()) host.Timer {
	inc := c.inc
	inc.nextTimer++
	t := &timer{inc: inc, f: f, id: inc.nextTimer}
	if !inc.dead {
		inc.h.w.schedule(inc.now()+max(int64(d), 0), t, 0, inc)
	}
	return t
}

const (
	timerPending = iota
	timerFired
	timerStopped
)

type timer struct {
	inc   *incarnation
	f     func()
	id    uint64
	state uint8
}

func (t *timer) fire(w *World, _ uint64) {
	if t.state != timerPending {
		return
	}
	t.state = timerFired
	w.tbegin(t.inc.tag, "timer")
	w.tint("id", int64(t.id))
	w.tend()
	t.f()
}

// Stop follows host.Timer to the letter: true means f has not run and never
// will (also on a second Stop), false means f has run or is running.
func (t *timer) Stop() bool {
	if t.state == timerFired {
		return false
	}
	if t.state == timerPending && !t.inc.dead {
		t.inc.h.w.cancelled()
	}
	t.state = timerStopped
	return true
}

// simFaults is an incarnation's host.Faults.
type simFaults struct{ inc *incarnation }

// BugSitePrefix names the fault sites that plant bugs.
const BugSitePrefix = "bug/"

// BugProcessCrashDropsPageCache, set to 1 with World.SetFault, plants a bug
// in the simulator itself: a process crash loses unsynced data as a power
// loss does. The durability checker must notice under ASYNC_FLUSH.
const BugProcessCrashDropsPageCache = "bug/process-crash-drops-page-cache"

func (f simFaults) Fire(site string) bool {
	inc := f.inc
	h := inc.h
	w := h.w
	// Planted bugs (sites named "bug/...") are not faults: a liveness phase
	// that silences faults must not also fix the bug under test.
	if inc.dead || !w.faultsOn && !strings.HasPrefix(site, BugSitePrefix) {
		return false
	}
	p, ok := h.fault[site]
	if !ok {
		p = w.faultP[site]
	}
	// NB: an inert site draws nothing, so switching one site on does not
	// disturb any other stream.
	if p <= 0 {
		return false
	}
	if h.faultStream(site).Float64() >= p {
		return false
	}
	w.tbegin(inc.tag, "fault")
	w.tstr("site", site)
	w.tend()
	return true
}
