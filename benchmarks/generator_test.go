package benchmarks

import (
	"sync"
	"testing"
	"time"
)

// fakeBroker answers requests in order, one at a time, after service; it
// answers nothing while stalled (between stallFrom and stallTo after the
// recorder's epoch), and never when mute. Every failEvery-th request is
// answered with SYSTEM_BUSY.
type fakeBroker struct {
	rec                *Recorder
	service            time.Duration
	stallFrom, stallTo time.Duration
	mute               bool
	failEvery          int

	once sync.Once
	q    chan *Request
	n    int
}

func (f *fakeBroker) Send(reqs []*Request) {
	f.once.Do(func() {
		f.q = make(chan *Request, 1<<16)
		if !f.mute {
			go f.serve()
		}
	})
	for _, r := range reqs {
		r.Stamp()
		f.q <- r
	}
}

func (f *fakeBroker) serve() {
	for r := range f.q {
		if now := f.rec.Now(); now >= f.stallFrom && now < f.stallTo {
			time.Sleep(f.stallTo - now)
		}
		if f.service > 0 {
			time.Sleep(f.service) // NB: the runtime rounds this up to about 1 ms
		}
		f.n++
		if f.failEvery > 0 && f.n%f.failEvery == 0 {
			r.Complete("SYSTEM_BUSY")
			continue
		}
		r.Complete("")
	}
}

func load(sched *Schedule, inFlight int) Load {
	return Load{Schedule: sched, Producers: 1, InFlight: inFlight, BatchSize: 1, MessageSize: 64, Topics: 1, KeyDist: KeyNone, Drain: 2 * time.Second}
}

// TestCoordinatedOmissionCorrection is the reason the generator exists: a
// broker that stalls for 300 ms holds back only the few sends in flight,
// so latency measured from the actual send (what a closed-loop tool, or
// OMB, reports) shows the stall in its maximum alone, while latency
// measured from the intended send time shows it for every message that
// should have gone during the stall.
func TestCoordinatedOmissionCorrection(t *testing.T) {
	const rate, secs = 1000, 1.5
	sched := NewSchedule(0, 0, rate, time.Duration(secs*float64(time.Second)), 0, nil)
	rec := NewRecorder(time.Now(), 0, sched.End())
	fb := &fakeBroker{rec: rec, stallFrom: 500 * time.Millisecond, stallTo: 800 * time.Millisecond}
	Run(load(sched, 4), []Sender{fb}, rec, nil)
	r := rec.Result()
	if r.Sent != rate*secs || r.Acked != r.Sent || len(r.Errors) != 0 {
		t.Fatalf("sent %d acked %d errors %v", r.Sent, r.Acked, r.Errors)
	}
	t.Logf("corrected p50 %.0fµs p99 %.0fµs max %.0fµs; uncorrected p50 %.0fµs p99 %.0fµs max %.0fµs; lag p99 %.0fµs",
		r.Latency.P50, r.Latency.P99, r.Latency.Max, r.Uncorrected.P50, r.Uncorrected.P99, r.Uncorrected.Max, r.SenderLag.P99)
	if r.Latency.P99 < 150e3 || r.Latency.Max < 250e3 {
		t.Errorf("corrected latency hides the 300 ms stall: p99 %.0fµs max %.0fµs", r.Latency.P99, r.Latency.Max)
	}
	if r.Uncorrected.P99 > 50e3 {
		t.Errorf("uncorrected p99 %.0fµs: expected the stall to be omitted (only the 4 sends in flight wait)", r.Uncorrected.P99)
	}
	if r.Uncorrected.Max < 250e3 {
		t.Errorf("uncorrected max %.0fµs: the sends in flight during the stall should show it", r.Uncorrected.Max)
	}
	if r.SenderLag.P99 < 150e3 {
		t.Errorf("sender lag p99 %.0fµs: the window held sends back during the stall", r.SenderLag.P99)
	}
	if r.Latency.P50 > 5e3 {
		t.Errorf("corrected p50 %.0fµs: outside the stall the broker answers at once", r.Latency.P50)
	}
	// The series: the stall's second carries the latency.
	if len(r.Series) != 2 || r.Series[0].P99Us < 100e3 || r.Series[1].P99Us > 50e3 {
		t.Errorf("series: %+v", r.Series)
	}
	if len(r.Latency.Spectrum) < 5 || r.Latency.Spectrum[0].Percentile != 0 || r.Latency.Spectrum[len(r.Latency.Spectrum)-1].Percentile != 100 {
		t.Errorf("spectrum: %+v", r.Latency.Spectrum)
	}
	for i := 1; i < len(r.Latency.Spectrum); i++ {
		if p := r.Latency.Spectrum; p[i].ValueUs < p[i-1].ValueUs || p[i].Percentile <= p[i-1].Percentile {
			t.Errorf("spectrum not monotone at %d: %+v", i, p[i-1:i+1])
		}
	}
}

func TestErrorsAreCountedByCode(t *testing.T) {
	sched := NewSchedule(0, 0, 2000, 200*time.Millisecond, 0, nil)
	rec := NewRecorder(time.Now(), 0, sched.End())
	fb := &fakeBroker{rec: rec, failEvery: 10}
	Run(load(sched, 8), []Sender{fb}, rec, nil)
	r := rec.Result()
	if r.Sent != 400 || r.Acked != 360 || r.Errors["SYSTEM_BUSY"] != 40 {
		t.Errorf("sent %d acked %d errors %v", r.Sent, r.Acked, r.Errors)
	}
}

// TestBoundedByTheDeadline: a broker that never answers costs the run the
// drain timeout, no more; what never left and what never came back are
// counted.
func TestBoundedByTheDeadline(t *testing.T) {
	sched := NewSchedule(0, 0, 100, 300*time.Millisecond, 0, nil)
	rec := NewRecorder(time.Now(), 0, sched.End())
	l := load(sched, 2)
	l.Drain = 100 * time.Millisecond
	start := time.Now()
	Run(l, []Sender{&fakeBroker{rec: rec, mute: true}}, rec, nil)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("run took %v", d)
	}
	r := rec.Result()
	if r.Sent != 2 || r.Acked != 0 || r.Errors[CodeUnanswered] != 2 || r.Errors[CodeUnsent] != 28 {
		t.Errorf("sent %d acked %d errors %v", r.Sent, r.Acked, r.Errors)
	}
}

func TestClosedLoop(t *testing.T) {
	rec := NewRecorder(time.Now(), 0, 200*time.Millisecond)
	fb := &fakeBroker{rec: rec, service: 100 * time.Microsecond}
	l := load(nil, 4)
	l.ClosedUntil = 200 * time.Millisecond
	Run(l, []Sender{fb}, rec, nil)
	r := rec.Result()
	if r.Acked < 100 || r.Acked != r.Sent {
		t.Errorf("closed loop: sent %d acked %d", r.Sent, r.Acked)
	}
	// No schedule: latency is measured from the send.
	if r.SenderLag.P99 > 5e3 {
		t.Errorf("closed loop sender lag p99 %.0fµs", r.SenderLag.P99)
	}
}

func TestBatchesAndBodies(t *testing.T) {
	sched := NewSchedule(0, 0, 1000, 100*time.Millisecond, 0, nil)
	rec := NewRecorder(time.Now(), 0, sched.End())
	var mu sync.Mutex
	var reqs []*Request
	snd := senderFunc(func(rs []*Request) {
		for _, r := range rs {
			r.Stamp()
			mu.Lock()
			reqs = append(reqs, r)
			mu.Unlock()
			r.Complete("")
		}
	})
	l := load(sched, 4)
	l.BatchSize, l.Topics, l.KeyDist = 10, 3, KeyRoundRobin
	Run(l, []Sender{snd}, rec, nil)
	if len(reqs) != 10 {
		t.Fatalf("%d requests, want 10 batches of 10", len(reqs))
	}
	topics := map[int]int{}
	for _, r := range reqs {
		topics[r.Topic]++
		if len(r.Bodies) != 10 || len(r.Bodies[0]) != 64 || r.Key == "" {
			t.Fatalf("request %+v", r)
		}
		intended, sent, ok := BodyTimes(r.Bodies[3])
		if !ok || intended != r.Intended[3] || sent < intended {
			t.Errorf("body times %v %v, intended %v", intended, sent, r.Intended[3])
		}
	}
	if len(topics) != 3 {
		t.Errorf("topics used: %v", topics)
	}
	if r := rec.Result(); r.Acked != 100 {
		t.Errorf("acked %d", r.Acked)
	}
}

type senderFunc func([]*Request)

func (f senderFunc) Send(r []*Request) { f(r) }

func TestQueueOf(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 1000; i++ {
		q := QueueOf("k"+string(rune('a'+i%26))+string(rune('a'+i/26)), 8)
		if q < 0 || q >= 8 {
			t.Fatal(q)
		}
		seen[q] = true
	}
	if len(seen) != 8 || QueueOf("x", 8) != QueueOf("x", 8) {
		t.Errorf("QueueOf spreads over %d queues", len(seen))
	}
}
