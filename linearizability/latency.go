package linearizability

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/thrustmq/thrust/workloads"
)

// Latencies are recorded in microseconds, from 1µs to one hour of
// virtual time, to 3 significant digits. Both metrics are measured from
// the send's Invoke, which for the open-loop generator is the intended
// send time: a send that waited behind a stalled one is charged for the
// wait, which is the coordinated-omission correction. A sample is
// attributed to the phase in force at that Invoke.
const (
	latencyUnit    = time.Microsecond
	latencyMaxUnit = int64(time.Hour / latencyUnit)
	latencyDigits  = 3
)

type histKey struct{ metric, phase string }

func (a *analysis) checkLatency(r *Report) {
	hists := map[histKey]*hdrhistogram.Histogram{}
	record := func(metric, phase string, d int64) {
		for _, p := range []string{phase, PhaseAll} {
			k := histKey{metric, p}
			h := hists[k]
			if h == nil {
				h = hdrhistogram.New(1, latencyMaxUnit, latencyDigits)
				hists[k] = h
			}
			// Round up, so that no sample records as zero, and clamp to the
			// histogram's range rather than drop an outlier.
			v := min(max((d+int64(latencyUnit)-1)/int64(latencyUnit), 1), latencyMaxUnit)
			if err := h.RecordValue(v); err != nil {
				r.stat("latency.unrecorded", 1)
			}
		}
	}

	firstSend := map[string]int{}
	for i := range a.ops {
		op := &a.ops[i]
		if op.Kind != workloads.OpSend || op.MsgID == "" {
			continue
		}
		if j, ok := firstSend[op.MsgID]; !ok || op.Invoke < a.ops[j].Invoke {
			firstSend[op.MsgID] = i
		}
		if op.Result == workloads.ResultOK {
			record(MetricSend, a.phaseAt(dur(op.Invoke)), dur(op.Complete-op.Invoke))
		}
	}
	type gm struct{ group, msg string }
	firstRecv := map[gm]int{}
	var order []gm
	for i := range a.ops {
		op := &a.ops[i]
		if !isDelivery(op) || op.MsgID == "" {
			continue
		}
		k := gm{op.Group, op.MsgID}
		if j, ok := firstRecv[k]; !ok {
			firstRecv[k] = i
			order = append(order, k)
		} else if op.Complete < a.ops[j].Complete {
			firstRecv[k] = i
		}
	}
	for _, k := range order {
		s, ok := firstSend[k.msg]
		if !ok {
			continue // a phantom: the reads checker reports it
		}
		recv, send := &a.ops[firstRecv[k]], &a.ops[s]
		record(MetricEndToEnd, a.phaseAt(dur(send.Invoke)), max(dur(recv.Complete-send.Invoke), 0))
	}

	keys := make([]histKey, 0, len(hists))
	for k := range hists {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y histKey) int {
		return cmp.Or(cmp.Compare(x.metric, y.metric), cmp.Compare(phaseRank(x.phase), phaseRank(y.phase)), cmp.Compare(x.phase, y.phase))
	})
	summaries := map[histKey]LatencySummary{}
	for _, k := range keys {
		h := hists[k]
		s := LatencySummary{Metric: k.metric, Phase: k.phase, Count: h.TotalCount(),
			P50: unit(h.ValueAtQuantile(50)), P99: unit(h.ValueAtQuantile(99)),
			P999: unit(h.ValueAtQuantile(99.9)), Max: unit(h.Max())}
		summaries[k] = s
		r.Latency = append(r.Latency, s)
	}

	for _, slo := range a.opts.SLOs {
		phase := slo.Phase
		if phase == "" {
			phase = PhaseAll
		}
		h := hists[histKey{slo.Metric, phase}]
		if h == nil || h.TotalCount() == 0 {
			r.stat("latency.slo_no_data", 1)
			continue
		}
		got := unit(h.ValueAtQuantile(slo.Percentile))
		if got > slo.Max {
			r.add(Violation{Checker: CheckerLatency, Kind: Latency, Detail: fmt.Sprintf(
				"%s latency p%v in phase %s is %v, over the bound %v (%d samples, max %v)",
				slo.Metric, slo.Percentile, phase, got, slo.Max, h.TotalCount(), summaries[histKey{slo.Metric, phase}].Max)})
		} else {
			r.stat("latency.slo_met", 1)
		}
	}
}

func unit(v int64) time.Duration { return time.Duration(v) * latencyUnit }

// phaseRank orders the phases as a run goes through them.
func phaseRank(p string) int {
	switch p {
	case PhaseNoFault:
		return 0
	case PhaseFault:
		return 1
	case PhaseRecovery:
		return 2
	case PhaseAll:
		return 4
	}
	return 3
}
