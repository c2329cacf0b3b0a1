package sim

import (
	"math/rand/v2"
	"time"
)

// Dist is a latency distribution: uniform in [Min, Max], except that with
// probability TailProb the draw is uniform in [Max, TailMax] instead, the
// rare slow operation (a disk's garbage collection, a retransmission) that
// averages hide and tail latencies show.
//
// A Dist with Min == Max and no tail is constant and draws nothing from its
// stream, so that making a latency fixed does not consume randomness.
type Dist struct {
	Min, Max time.Duration
	TailProb float64
	TailMax  time.Duration
}

// Fixed is a constant Dist.
func Fixed(d time.Duration) Dist { return Dist{Min: d, Max: d} }

func (d Dist) draw(r *rand.Rand) int64 {
	if d.TailProb > 0 && d.TailMax > d.Max && r.Float64() < d.TailProb {
		return int64(d.Max) + r.Int64N(int64(d.TailMax-d.Max)+1)
	}
	if d.Max <= d.Min {
		return max(int64(d.Min), 0)
	}
	return max(int64(d.Min)+r.Int64N(int64(d.Max-d.Min)+1), 0)
}
