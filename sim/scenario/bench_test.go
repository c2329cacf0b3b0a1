package scenario

import "testing"

// BenchmarkSimulate measures the simulator's speed on whole scenarios
// (simulation only, no checking): seeds 1..8 in turn, one per iteration.
// It reports virtual seconds per wall second, the figure mqsim's sweep
// prints, so profiles (-cpuprofile) can be taken on the real workload.
func BenchmarkSimulate(b *testing.B) {
	var virtual float64
	for i := 0; b.Loop(); i++ {
		res := Simulate(Options{Seed: uint64(i%8 + 1)})
		virtual += res.Virtual.Seconds()
	}
	b.ReportMetric(virtual/b.Elapsed().Seconds(), "virtual-s/s")
}
