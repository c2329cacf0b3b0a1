package benchmarks

import (
	"math"
	"time"
)

// Schedule is an open-loop arrival schedule: the intended send time of
// every message, fixed before the run starts and independent of how fast
// the system answers. Message k (counting from 0 over all producers) is
// intended at the time t where the integral of the rate from 0 to t
// reaches k; producer p of P sends messages p, p+P, p+2P, ...
//
// The rate is piecewise linear: a run of segments, each ramping from one
// rate to another (constant when they are equal), which covers a constant
// producerRate and k6's ramping-arrival-rate stages alike.
type Schedule struct {
	segs  []segment
	end   time.Duration
	total int64 // messages in the whole schedule
}

type segment struct {
	start, dur time.Duration
	r0, r1     float64 // msg/s at the start and the end
	n0         float64 // messages intended before the segment
	n          float64 // messages intended in it
}

// NewSchedule builds the schedule of a warm-up at warmupRate followed by
// the measured period: a constant rate for duration when stages is empty,
// else the stages ramping from startRate.
func NewSchedule(warmup time.Duration, warmupRate float64, rate float64, duration time.Duration, startRate float64, stages []Stage) *Schedule {
	s := &Schedule{}
	if warmup > 0 {
		s.add(warmup, warmupRate, warmupRate)
	}
	if len(stages) == 0 {
		s.add(duration, rate, rate)
	} else {
		from := startRate
		for _, st := range stages {
			s.add(st.Duration, from, st.Target)
			from = st.Target
		}
	}
	return s
}

func (s *Schedule) add(d time.Duration, r0, r1 float64) {
	n0 := 0.0
	if k := len(s.segs); k > 0 {
		n0 = s.segs[k-1].n0 + s.segs[k-1].n
	}
	n := (r0 + r1) / 2 * d.Seconds()
	s.segs = append(s.segs, segment{start: s.end, dur: d, r0: r0, r1: r1, n0: n0, n: n})
	s.end += d
	s.total = int64(math.Ceil(n0 + n - 1e-9))
}

// End is when the schedule ends.
func (s *Schedule) End() time.Duration { return s.end }

// Total is the number of messages in the schedule.
func (s *Schedule) Total() int64 { return s.total }

// At returns message k's intended time, and false when the schedule holds
// fewer than k+1 messages.
func (s *Schedule) At(k int64) (time.Duration, bool) {
	if k < 0 || k >= s.total {
		return 0, false
	}
	x := float64(k)
	for i := range s.segs {
		g := &s.segs[i]
		if g.n <= 0 || x >= g.n0+g.n {
			continue
		}
		m := x - g.n0 // messages into the segment
		// Solve r0*t + (r1-r0)*t^2/(2D) = m for t, in the form that
		// stays exact for ramps down and flat segments alike.
		a := (g.r1 - g.r0) / (2 * g.dur.Seconds())
		disc := g.r0*g.r0 + 4*a*m
		t := 0.0
		if den := g.r0 + math.Sqrt(math.Max(disc, 0)); den > 0 {
			t = 2 * m / den
		}
		return g.start + time.Duration(math.Min(t, g.dur.Seconds())*float64(time.Second)), true
	}
	return 0, false
}

// RateAt is the intended rate at time t (msg/s), 0 outside the schedule.
func (s *Schedule) RateAt(t time.Duration) float64 {
	for _, g := range s.segs {
		if t >= g.start && t < g.start+g.dur {
			f := float64(t-g.start) / float64(g.dur)
			return g.r0 + (g.r1-g.r0)*f
		}
	}
	return 0
}
