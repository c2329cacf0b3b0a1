package benchmarks

import (
	"math"
	"testing"
	"time"
)

func near(a, b time.Duration) bool {
	d := a - b
	return d < time.Microsecond && d > -time.Microsecond
}

func TestScheduleConstantRate(t *testing.T) {
	s := NewSchedule(time.Second, 100, 1000, 2*time.Second, 0, nil)
	if s.Total() != 100+2000 || s.End() != 3*time.Second {
		t.Fatalf("total %d end %v", s.Total(), s.End())
	}
	for k, want := range map[int64]time.Duration{
		0:    0,
		1:    10 * time.Millisecond,
		99:   990 * time.Millisecond,
		100:  time.Second,
		101:  time.Second + time.Millisecond,
		2099: 2999 * time.Millisecond,
	} {
		got, ok := s.At(k)
		if !ok || !near(got, want) {
			t.Errorf("At(%d) = %v %v, want %v", k, got, ok, want)
		}
	}
	if _, ok := s.At(2100); ok {
		t.Error("At past the end")
	}
	if r := s.RateAt(1500 * time.Millisecond); r != 1000 {
		t.Errorf("RateAt = %v", r)
	}
	// Intended times never go backwards.
	prev := time.Duration(-1)
	for k := int64(0); k < s.Total(); k++ {
		at, _ := s.At(k)
		if at < prev {
			t.Fatalf("At(%d) = %v < At(%d) = %v", k, at, k-1, prev)
		}
		prev = at
	}
}

func TestScheduleRamps(t *testing.T) {
	// From 0 to 1000 msg/s over 1 s: N(t) = 500 t^2, so message k is at
	// sqrt(k/500); then down to 0 over 1 s: 500 more.
	s := NewSchedule(0, 0, 0, 0, 0, []Stage{{time.Second, 1000}, {time.Second, 0}})
	if s.Total() != 1000 {
		t.Fatalf("total %d", s.Total())
	}
	for _, k := range []int64{0, 1, 10, 250, 499} {
		got, _ := s.At(k)
		want := time.Duration(math.Sqrt(float64(k)/500) * float64(time.Second))
		if !near(got, want) {
			t.Errorf("ramp up: At(%d) = %v, want %v", k, got, want)
		}
	}
	// Ramp down: N(t) = 500 + 1000 u - 500 u^2 for u = t - 1 s.
	for _, k := range []int64{500, 600, 900, 999} {
		got, _ := s.At(k)
		m := float64(k - 500)
		u := (1000 - math.Sqrt(1000*1000-4*500*m)) / 1000
		want := time.Second + time.Duration(u*float64(time.Second))
		if !near(got, want) {
			t.Errorf("ramp down: At(%d) = %v, want %v", k, got, want)
		}
	}
	// Messages per 100 ms follow the rate.
	counts := make([]int, 20)
	for k := int64(0); k < s.Total(); k++ {
		at, _ := s.At(k)
		counts[at/(100*time.Millisecond)]++
	}
	if counts[0] > 10 || counts[9] < 90 || counts[10] < 90 || counts[19] > 10 {
		t.Errorf("messages per 100 ms: %v", counts)
	}
}

func TestScheduleZeroRateSegment(t *testing.T) {
	s := NewSchedule(time.Second, 0, 10, time.Second, 0, nil)
	if s.Total() != 10 {
		t.Fatalf("total %d", s.Total())
	}
	if at, _ := s.At(0); at != time.Second {
		t.Errorf("first message at %v, want after the empty warm-up", at)
	}
}
