package oshost

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

// Loop runs one node's callbacks, one at a time, in the order they were
// posted. Any goroutine may Post; only the goroutine in Run executes.
type Loop struct {
	mu      sync.Mutex
	queue   []func()
	spare   []func() // the drained queue, reused to avoid an allocation per batch
	wake    chan struct{}
	stopped bool
	done    chan struct{}
}

// NewLoop returns a loop that is not yet running.
func NewLoop() *Loop {
	return &Loop{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Post queues f to run on the loop. It never blocks. Functions posted after
// Stop are dropped.
func (l *Loop) Post(f func()) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.queue = append(l.queue, f)
	first := len(l.queue) == 1
	l.mu.Unlock()
	if first {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// postBatch queues several functions under one lock acquisition; connection
// readers use it to hand over every frame of one read at once.
func (l *Loop) postBatch(fs []func()) {
	if len(fs) == 0 {
		return
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	first := len(l.queue) == 0
	l.queue = append(l.queue, fs...)
	l.mu.Unlock()
	if first {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Run executes posted functions until Stop. It returns after the function
// that called Stop (and those queued before it) have run.
func (l *Loop) Run() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for len(l.queue) == 0 {
			if l.stopped {
				l.mu.Unlock()
				return
			}
			l.mu.Unlock()
			<-l.wake
			l.mu.Lock()
		}
		// Two slices alternate: posters append to one while the loop runs
		// the other, so a steady state allocates nothing.
		batch := l.queue
		l.queue, l.spare = l.spare[:0], nil
		l.mu.Unlock()
		for i, f := range batch {
			f()
			batch[i] = nil
		}
		l.mu.Lock()
		l.spare = batch[:0]
		l.mu.Unlock()
	}
}

// Stop makes Run return once what is already queued has run. Later posts
// are dropped. It may be called from any goroutine, the loop's included.
func (l *Loop) Stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Done is closed when Run has returned.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Do runs f on the loop and waits for it. It must not be called from the
// loop itself. It reports false if the loop stopped before f could run.
func (l *Loop) Do(f func()) bool {
	ran := make(chan struct{})
	l.Post(func() { f(); close(ran) })
	select {
	case <-ran:
		return true
	case <-l.done:
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
}

// clock is the real clock, with timers that fire on the loop.
type clock struct {
	loop  *Loop
	start time.Time
}

func (c *clock) Now() time.Time      { return time.Now() }
func (c *clock) Mono() time.Duration { return time.Since(c.start) }

func (c *clock) AfterFunc(d time.Duration, f func()) host.Timer {
	t := &timer{f: f}
	if d <= 0 {
		c.loop.Post(t.fire)
		return t
	}
	t.rt = time.AfterFunc(d, func() { c.loop.Post(t.fire) })
	return t
}

// timer's fields other than rt are touched only on the loop, which is what
// makes Stop's guarantee hold even when the real timer has already fired and
// posted: the posted fire sees the flag and does nothing.
type timer struct {
	f     func()
	rt    *time.Timer
	state uint8 // 0 pending, 1 fired, 2 stopped
}

func (t *timer) fire() {
	if t.state != 0 {
		return
	}
	t.state = 1
	t.f()
}

func (t *timer) Stop() bool {
	if t.state != 0 {
		// Stopped before: f has not run and will not, as Stop promises.
		return t.state == 2
	}
	t.state = 2
	if t.rt != nil {
		t.rt.Stop()
	}
	return true
}

// Options configure a real Env.
type Options struct {
	// Log receives the node's logs; nil means text to stderr at Info.
	Log *slog.Logger
	// ConnQueueLimitBytes bounds each connection's write queue; 0 means
	// DefaultConnQueueLimitBytes.
	ConnQueueLimitBytes int
	// Seed seeds Env.Rand; 0 draws one from the operating system.
	Seed uint64
}

// DefaultConnQueueLimitBytes is large enough for many pulls of the largest
// size in flight on one connection, small enough that a stuck peer cannot
// make the broker hold unbounded memory.
const DefaultConnQueueLimitBytes = 64 << 20

// NewEnv returns the Env of a node that runs on loop.
func NewEnv(loop *Loop, opts Options) host.Env {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.ConnQueueLimitBytes <= 0 {
		opts.ConnQueueLimitBytes = DefaultConnQueueLimitBytes
	}
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		if _, err := io.ReadFull(rand.Reader, b[:]); err == nil {
			seed = binary.LittleEndian.Uint64(b[:])
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	return host.Env{
		Clock:  &clock{loop: loop, start: time.Now()},
		FS:     &FS{loop: loop},
		Net:    &Network{loop: loop, queueLimit: opts.ConnQueueLimitBytes},
		Rand:   mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		Log:    opts.Log,
		Faults: realFaults(),
	}
}
