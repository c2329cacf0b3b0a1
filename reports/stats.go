package reports

import (
	"math"
	"sort"
)

// Metric names a per-run figure. Comparison.Metric should be one of these,
// so that the report can show the two medians a ratio was formed from; a
// comparison whose metric is not listed here is still printed, with its
// ratio only.
const (
	MetricThroughputMsgs  = "throughputMsgs"  // acknowledged msg/s
	MetricThroughputBytes = "throughputBytes" // acknowledged body bytes/s
	MetricP50Us           = "p50Us"           // corrected send-to-ack latency
	MetricP99Us           = "p99Us"
	MetricP999Us          = "p999Us"
	MetricMaxUs           = "maxUs"
	MetricUncorrectedP99  = "uncorrectedP99Us" // from the actual send
	MetricEndToEndP99Us   = "endToEndP99Us"    // consume time minus born time
	MetricSenderLagP99Us  = "senderLagP99Us"   // actual minus intended send
	MetricCPUPerMessageUs = "cpuPerMessageUs"
	MetricCPUPerGBUs      = "cpuPerGBUs"
)

// MetricValue returns metric's value in r, and whether r has one: a
// latency of a run that acknowledged nothing, or a CPU figure that was not
// measured (zero), is absent rather than zero, so that it does not drag a
// median down. Unknown metrics are absent.
func MetricValue(r *Run, metric string) (float64, bool) {
	var v float64
	var ok bool
	switch metric {
	case MetricThroughputMsgs:
		v, ok = r.ThroughputMsgs, measured(r)
	case MetricThroughputBytes:
		v, ok = r.ThroughputBytes, measured(r)
	case MetricP50Us:
		v, ok = r.Latency.P50, r.Latency.present()
	case MetricP99Us:
		v, ok = r.Latency.P99, r.Latency.present()
	case MetricP999Us:
		v, ok = r.Latency.P999, r.Latency.present()
	case MetricMaxUs:
		v, ok = r.Latency.Max, r.Latency.present()
	case MetricUncorrectedP99:
		v, ok = r.Uncorrected.P99, r.Uncorrected.present()
	case MetricEndToEndP99Us:
		v, ok = r.EndToEnd.P99, r.EndToEnd.present()
	case MetricSenderLagP99Us:
		v, ok = r.SenderLag.P99, r.SenderLag.present()
	case MetricCPUPerMessageUs:
		v, ok = r.CPUPerMessageUs, r.CPUPerMessageUs > 0
	case MetricCPUPerGBUs:
		v, ok = r.CPUPerGBUs, r.CPUPerGBUs > 0
	}
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// measured reports whether r ran at all: a zero throughput of a run that
// did run (its broker refused everything, say) is a real figure, but a run
// with no duration and nothing sent has no figures.
func measured(r *Run) bool {
	return r.DurationSeconds > 0 || r.Sent > 0 || r.Acked > 0 || r.ThroughputMsgs > 0
}

// present reports whether l holds a distribution. A run that acknowledged
// nothing has none; its zeros are not latencies.
func (l *Latency) present() bool {
	return l.Count > 0 || l.P50 > 0 || l.P99 > 0 || l.Max > 0 || len(l.Spectrum) > 0
}

// Stat is a figure over the repetitions of one configuration: the median
// with the least and greatest values. N is how many runs had the figure;
// with N == 0 the other fields are zero and mean nothing.
type Stat struct {
	N                int
	Median, Min, Max float64
}

// Over computes metric over runs. The median of an even number of values
// is the mean of the middle two. The result depends only on the multiset
// of values, not on the order of runs.
func Over(runs []Run, metric string) Stat {
	vs := make([]float64, 0, len(runs))
	for i := range runs {
		if v, ok := MetricValue(&runs[i], metric); ok {
			vs = append(vs, v)
		}
	}
	return statOf(vs)
}

func statOf(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	vs = append([]float64(nil), vs...)
	sort.Float64s(vs)
	n := len(vs)
	med := vs[n/2]
	if n%2 == 0 {
		med = vs[n/2-1]/2 + vs[n/2]/2
	}
	return Stat{N: n, Median: med, Min: vs[0], Max: vs[n-1]}
}

// MedianRun returns the index in runs of the run whose metric is the
// (lower) median, or -1 if no run has the metric. Ties are broken by
// Repetition, then Order, then position, so the choice is deterministic.
// Charts draw this run as the configuration's representative.
func MedianRun(runs []Run, metric string) int {
	type cand struct {
		v   float64
		idx int
	}
	var cs []cand
	for i := range runs {
		if v, ok := MetricValue(&runs[i], metric); ok {
			cs = append(cs, cand{v, i})
		}
	}
	if len(cs) == 0 {
		return -1
	}
	sort.Slice(cs, func(a, b int) bool {
		x, y := cs[a], cs[b]
		if x.v != y.v {
			return x.v < y.v
		}
		rx, ry := &runs[x.idx], &runs[y.idx]
		if rx.Repetition != ry.Repetition {
			return rx.Repetition < ry.Repetition
		}
		if rx.Order != ry.Order {
			return rx.Order < ry.Order
		}
		return x.idx < y.idx
	})
	return cs[(len(cs)-1)/2].idx
}
