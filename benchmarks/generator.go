package benchmarks

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one send request of a producer: a message, or a batch of
// messages for one topic (and key).
type Request struct {
	Producer int
	Topic    int
	// Key is the message key under KEY_ROUND_ROBIN and RANDOM_NANO; empty
	// under NO_KEY. Senders map it to a queue with QueueOf.
	Key string
	// Intended are the members' intended send times, since the epoch.
	Intended []time.Duration
	// Bodies are the members' bodies, MessageSize bytes each. The first
	// 16 bytes carry the intended and actual send times (nanoseconds
	// since the epoch, little endian), written by Stamp, so that a
	// consumer can measure end-to-end latency.
	Bodies [][]byte

	sent time.Duration
	gen  *producer
	done atomic.Bool
}

// Stamp marks the request as leaving now: the sender calls it right
// before handing the request to the connection.
func (r *Request) Stamp() {
	r.sent = r.gen.rec.r.Now()
	for i, b := range r.Bodies {
		binary.LittleEndian.PutUint64(b[0:8], uint64(r.Intended[i]))
		binary.LittleEndian.PutUint64(b[8:16], uint64(r.sent))
	}
	for i := range r.Intended {
		r.gen.rec.Sent(r.Intended[i], r.sent, len(r.Bodies[i]))
	}
}

// Complete ends the request: code "" means acknowledged, anything else
// names the failure (a response code's name, or "timeout", "closed", ...).
// It may be called from any goroutine; only the first call counts.
func (r *Request) Complete(code string) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	p := r.gen
	now := p.rec.r.Now()
	for i, t := range r.Intended {
		if code == "" {
			p.rec.Acked(t, r.sent, now, len(r.Bodies[i]))
		} else {
			p.rec.Failed(t, code)
		}
	}
	p.untrack(r)
	p.release()
}

// BodyTimes reads the intended and actual send times a consumed body
// carries.
func BodyTimes(body []byte) (intended, sent time.Duration, ok bool) {
	if len(body) < MinMessageSize {
		return 0, 0, false
	}
	return time.Duration(binary.LittleEndian.Uint64(body[0:8])), time.Duration(binary.LittleEndian.Uint64(body[8:16])), true
}

// QueueOf maps a key to one of n queues (FNV-1a), as a keyed producer's
// hash selector does.
func QueueOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// Sender hands requests to the system under test. Send is called from
// the producer's pacing goroutine with requests in schedule order; the
// sender calls Stamp on each right before it leaves and Complete exactly
// once when it is answered or fails. Send must not block for long: the
// in-flight window, not the sender, applies back-pressure.
type Sender interface {
	Send(reqs []*Request)
}

// Load is what a generator runs.
type Load struct {
	// Schedule is the open-loop schedule; nil runs closed-loop (each
	// producer keeps its window full) until ClosedUntil.
	Schedule    *Schedule
	ClosedUntil time.Duration
	Producers   int
	InFlight    int // requests outstanding per producer, at most
	BatchSize   int
	MessageSize int
	Topics      int
	KeyDist     string
	// Drain bounds the wait for outstanding answers after the schedule
	// ends; messages still unsent or unanswered then count as errors.
	Drain time.Duration
}

// Error codes the generator itself records.
const (
	CodeUnsent     = "unsent"     // still waiting for a window slot at the deadline
	CodeUnanswered = "unanswered" // sent, no answer by the deadline
)

// Run drives senders[p] for producer p until the schedule (or the closed
// loop) ends and the answers are in, or the drain deadline passes. It
// records into rec and returns when every producer has finished.
func Run(load Load, senders []Sender, rec *Recorder, stop <-chan struct{}) {
	end := load.ClosedUntil
	if load.Schedule != nil {
		end = load.Schedule.End()
	}
	deadline := end + load.Drain
	var wg sync.WaitGroup
	for p := 0; p < load.Producers; p++ {
		pr := &producer{
			id: p, load: load, snd: senders[p], rec: rec.Shard(),
			window: make(chan struct{}, load.InFlight), deadline: deadline, stop: stop,
			rng: rand.New(rand.NewPCG(uint64(p), 0x5eed)),
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr.run()
		}()
	}
	wg.Wait()
}

type producer struct {
	id       int
	load     Load
	snd      Sender
	rec      *Shard
	window   chan struct{}
	deadline time.Duration
	stop     <-chan struct{}
	rng      *rand.Rand

	mu          sync.Mutex
	outstanding map[*Request]bool
	requests    int
}

func (p *producer) release() { <-p.window }

// run paces one producer. Its goroutine holds an OS thread so that it can
// sleep with nanosleep(2), whose wake-ups are some 50 µs late here, where
// the runtime's timers round sub-millisecond sleeps up to about a
// millisecond; the lateness that remains is reported as sender lag.
func (p *producer) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p.outstanding = map[*Request]bool{}
	r := p.rec.r
	var pending []*Request
	flush := func() {
		if len(pending) > 0 {
			p.snd.Send(pending)
			pending = nil
		}
	}
	P := int64(p.load.Producers)
	B := p.load.BatchSize
	k := int64(p.id)
	stopped := false
	for !stopped {
		select {
		case <-p.stop:
			// Stopped: a closed loop (a backlog being filled) just ends;
			// an open loop's remaining schedule counts as unsent.
			stopped = true
			continue
		default:
		}
		req := &Request{Producer: p.id, gen: p}
		// The request is due when its last member is.
		var due time.Duration
		for len(req.Intended) < B {
			var t time.Duration
			if p.load.Schedule == nil {
				if r.Now() >= p.load.ClosedUntil {
					break
				}
				t = -1 // stamped when the window admits the request
			} else {
				var ok bool
				if t, ok = p.load.Schedule.At(k); !ok {
					break
				}
			}
			req.Intended = append(req.Intended, t)
			due = t
			k += P
		}
		if len(req.Intended) == 0 {
			break
		}
		// Never early (due is -1 in a closed loop): the epoch itself may
		// still be ahead.
		if due >= 0 && r.Now() < due {
			flush()
			if !p.sleepUntil(due) {
				p.abandon(req)
				stopped = true
				break
			}
		}
		select {
		case p.window <- struct{}{}:
		default:
			flush()
			if !p.acquire() {
				p.abandon(req)
				stopped = true
				continue
			}
		}
		if p.load.Schedule == nil {
			now := r.Now()
			for i := range req.Intended {
				req.Intended[i] = now
			}
		}
		p.fill(req)
		pending = append(pending, req)
		if len(pending) >= 64 {
			flush()
		}
	}
	flush()
	if stopped && p.load.Schedule != nil {
		// Whatever the schedule still held was never sent.
		for ; ; k += P {
			t, ok := p.load.Schedule.At(k)
			if !ok {
				break
			}
			p.rec.Failed(t, CodeUnsent)
		}
	}
	// Wait for the answers: every slot back, or the deadline (at most
	// Drain from now, even when the run was stopped early).
	deadline := min(p.deadline, r.Now()+p.load.Drain)
	for i := 0; i < cap(p.window); i++ {
		if !p.acquireBy(deadline, nil) {
			break
		}
	}
	p.mu.Lock()
	var left []*Request
	for req := range p.outstanding {
		left = append(left, req)
	}
	p.mu.Unlock()
	for _, req := range left {
		req.Complete(CodeUnanswered)
	}
}

// abandon records a request that never left.
func (p *producer) abandon(req *Request) {
	for _, t := range req.Intended {
		if t >= 0 {
			p.rec.Failed(t, CodeUnsent)
		}
	}
}

// fill gives the request its topic, key and bodies, and tracks it.
func (p *producer) fill(req *Request) {
	n := p.requests
	p.requests++
	req.Topic = (p.id + n) % p.load.Topics
	switch p.load.KeyDist {
	case KeyRoundRobin:
		req.Key = "k" + strconv.Itoa(n%1024)
	case KeyRandomNano:
		req.Key = strconv.FormatInt(time.Now().UnixNano()^int64(p.rng.Uint64()), 36)
	}
	req.Bodies = make([][]byte, len(req.Intended))
	for i := range req.Bodies {
		b := make([]byte, p.load.MessageSize)
		// Incompressible filler, cheaply: the rest of the body repeats
		// one random 64-bit word per 8 bytes.
		w := p.rng.Uint64()
		for j := MinMessageSize; j+8 <= len(b); j += 8 {
			binary.LittleEndian.PutUint64(b[j:], w)
			w = w*6364136223846793005 + 1442695040888963407
		}
		req.Bodies[i] = b
	}
	p.mu.Lock()
	p.outstanding[req] = true
	p.mu.Unlock()
}

// untrack removes a completed request from the outstanding set.
func (p *producer) untrack(req *Request) {
	p.mu.Lock()
	delete(p.outstanding, req)
	p.mu.Unlock()
}

// acquire takes a window slot, waiting until one frees, the deadline
// passes or the run is stopped.
func (p *producer) acquire() bool { return p.acquireBy(p.deadline, p.stop) }

func (p *producer) acquireBy(deadline time.Duration, stop <-chan struct{}) bool {
	left := deadline - p.rec.r.Now()
	if left <= 0 {
		select {
		case p.window <- struct{}{}:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case p.window <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-stop:
		return false
	}
}

// sleepUntil waits until the epoch-relative time t; false if the run is
// stopped or the deadline passes first.
func (p *producer) sleepUntil(t time.Duration) bool {
	r := p.rec.r
	for {
		now := r.Now()
		if now >= t {
			return true
		}
		if now >= p.deadline {
			return false
		}
		select {
		case <-p.stop:
			return false
		default:
		}
		preciseSleep(min(t-now, 50*time.Millisecond))
	}
}
