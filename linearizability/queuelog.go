package linearizability

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/thrustmq/thrust/workloads"
)

// opMeta rides along each porcupine operation so that a failure can name
// history ops.
type opMeta struct{ seq int64 }

// queueOps turns one queue's appends and observations into porcupine
// operations. partial reports a power loss with no recovery after it:
// the history is cut there.
//
// Attempts with an unknown outcome that nobody ever saw are the model's
// only source of nondeterminism, and the one that makes porcupine slow: a
// pending "maybe" can stand in for any missing offset, so the search
// tries it in every gap that ordinary concurrency opens. But an attempt
// nobody saw either never applied, or applied and was lost to a power
// loss before any read (else that read would have pinned it), or applied
// after the queue's last observation. So they are replaced by:
//
//   - fillers: for each rollback, one "maybe" per offset of the lost
//     suffix that no evidence claims (computed by the timeline), applied
//     after the previous observation and the message below it was sent,
//     before the message above it was acknowledged and the power loss;
//   - the unseen attempts themselves, as maybes, only when some definite
//     append ends after the queue's last observation (a history without a
//     final read), and then only from that observation on.
func (a *analysis) queueOps(q *queueInfo) (ops []porcupine.Operation, partial bool) {
	fillers := a.timelineResult().fillers
	cut := int64(math.MaxInt64)
	for _, o := range q.observations {
		if o.unanchored {
			cut, partial = o.time, true
			break
		}
	}
	end := min(cut, a.horizon)
	clients := map[string]int{}
	var names []string
	for _, in := range q.instances {
		if _, ok := clients[in.process]; !ok {
			clients[in.process] = 0
			names = append(names, in.process)
		}
	}
	slices.Sort(names)
	for i, n := range names {
		clients[n] = i
	}
	harness := len(names)

	lastObs := int64(math.MinInt64)
	for _, o := range q.observations {
		if !o.unanchored && o.time <= cut {
			lastObs = max(lastObs, o.time)
		}
	}
	var unseen []*instance
	openEnd := false // a definite append may have landed after the last observation
	for _, in := range q.instances {
		if in.call > cut {
			continue
		}
		off, ret, pinned := in.offset, in.ret, in.pinnedBy >= 0
		if pinned && ret > cut {
			// Seen only after an unrecovered power loss: the sighting
			// says nothing reliable about before it.
			off, pinned = -1, false
		}
		if off < 0 {
			unseen = append(unseen, in)
			continue
		}
		if ret > lastObs {
			openEnd = true
		}
		ops = append(ops, porcupine.Operation{
			ClientId: clients[in.process],
			Input:    appendInput{id: in.msgID, offset: off, seq: in.seq, pinned: pinned},
			Call:     in.call,
			Return:   max(min(ret, end), in.call),
			Metadata: opMeta{in.seq},
		})
	}
	if openEnd {
		for _, in := range unseen {
			call := max(in.call, lastObs)
			ops = append(ops, porcupine.Operation{
				ClientId: clients[in.process],
				Input:    appendInput{id: in.msgID, offset: -1, seq: in.seq},
				Call:     call,
				Return:   max(end, call),
				Metadata: opMeta{in.seq},
			})
		}
	}
	for _, o := range q.observations {
		if o.unanchored || o.time > cut {
			continue
		}
		for i, f := range fillers[o] {
			ops = append(ops, porcupine.Operation{
				ClientId: harness,
				Input:    appendInput{id: fmt.Sprintf("?unseen-%d-%d", o.powerLoss.seq, i), offset: -1, seq: -1},
				Call:     f.from,
				Return:   f.to,
				Metadata: opMeta{-1},
			})
		}
		ops = append(ops, porcupine.Operation{
			ClientId: harness,
			Input: observeInput{kind: o.kind, tail: o.tail, ids: o.ids, full: chainAll(fnvOffset, o.ids),
				holes: slices.Contains(o.ids, ""), rollback: o.rollback, skip: o.skip, seq: o.seq},
			Call:     o.time,
			Return:   o.time,
			Metadata: opMeta{o.seq},
		})
	}
	return ops, partial
}

type queueOutcome struct {
	result    QueueResult
	violation *Violation
	artifact  *Artifact
	stats     map[string]int64
}

// checkQueueLogs runs porcupine on every queue, several at a time; the
// results are put in queue order, so parallelism does not change the
// report.
func (a *analysis) checkQueueLogs(r *Report) {
	keys := a.sortedQueues()
	keys = slices.DeleteFunc(keys, func(k QueueKey) bool { return a.queues[k].ignored })
	a.timelineResult() // computed once, before the workers read it
	out := make([]queueOutcome, len(keys))
	workers := a.opts.Parallelism
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(keys), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = a.checkQueueLog(a.queues[keys[i]])
			}
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()

	for _, o := range out {
		r.Queues = append(r.Queues, o.result)
		r.stat("queue-log.queues", 1)
		r.stat("queue-log."+o.result.Result, 1)
		for k, n := range o.stats {
			r.stat(k, n)
		}
		if o.violation != nil {
			r.add(*o.violation)
		}
		if o.artifact != nil {
			r.Artifacts = append(r.Artifacts, *o.artifact)
		}
	}
}

func (a *analysis) checkQueueLog(q *queueInfo) queueOutcome {
	ops, partial := a.queueOps(q)
	res := queueOutcome{result: QueueResult{Queue: q.key, Ops: len(ops)}, stats: map[string]int64{}}
	for _, op := range ops {
		if in, ok := op.Input.(appendInput); ok {
			switch {
			case in.seq < 0:
				// a filler, counted by the timeline
			case in.offset < 0:
				res.stats["queue-log.appends.maybe"]++
			default:
				res.stats["queue-log.appends.definite"]++
			}
		}
	}
	for _, in := range q.instances {
		if in.offset < 0 {
			res.stats["queue-log.appends.unseen"]++
		}
	}
	model := queueModel.ToModel()
	timeout := a.opts.porcupineTimeout()
	start := time.Now()
	verdict := porcupine.CheckOperationsTimeout(model, ops, timeout)
	res.result.Elapsed = time.Since(start)
	switch verdict {
	case porcupine.Ok:
		res.result.Result = ResultOK
		if partial {
			res.result.Result = ResultPartial
		}
		return res
	case porcupine.Unknown:
		res.result.Result = ResultUnknown
		return res
	}
	res.result.Result = ResultIllegal

	// Run again, verbose, for an explanation and the visualization.
	v := Violation{Checker: CheckerQueueLog, Kind: Correctness, Queue: q.key,
		Detail: fmt.Sprintf("the queue is not a linearizable log: no order of its %d appends and observations explains what was acknowledged and observed", len(ops))}
	verdict, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	if verdict == porcupine.Illegal {
		v.Detail, v.Ops = explain(model, ops, info)
		if !a.opts.NoVisualization {
			info.AddAnnotations(a.annotations(q.key.Broker))
			var buf bytes.Buffer
			if err := porcupine.Visualize(model, info, &buf); err == nil {
				res.artifact = &Artifact{Name: "porcupine-" + fileName(q.key.String()) + ".html", Data: buf.Bytes()}
			}
		}
	}
	res.violation = &v
	return res
}

// explain names the operation porcupine could not place: among those
// outside the longest linearizable prefix, the one that had to take
// effect first (earliest return).
func explain(model porcupine.Model, ops []porcupine.Operation, info porcupine.LinearizationInfo) (string, []int64) {
	partials := info.PartialLinearizationsOperations()
	var longest []porcupine.Operation
	if len(partials) > 0 {
		for _, p := range partials[0] {
			if len(p) > len(longest) {
				longest = p
			}
		}
	}
	placed := map[int64]int{}
	for _, op := range longest {
		placed[op.Metadata.(opMeta).seq]++
	}
	var stuck *porcupine.Operation
	for i := range ops {
		op := &ops[i]
		seq := op.Metadata.(opMeta).seq
		if placed[seq] > 0 {
			placed[seq]--
			continue
		}
		if stuck == nil || op.Return < stuck.Return || (op.Return == stuck.Return && op.Call < stuck.Call) {
			stuck = op
		}
	}
	detail := fmt.Sprintf("no linearization of its %d appends and observations exists; the longest linearizable prefix places %d", len(ops), len(longest))
	var seqs []int64
	if stuck != nil {
		// Replay the prefix to say what the log looked like where the
		// stuck operation had to take effect.
		states := []any{}
		if ok, st := replay(model, longest); ok {
			states = st.([]any)
		}
		var where []string
		for _, st := range states {
			where = append(where, queueModel.DescribeState(st))
		}
		detail += fmt.Sprintf(", and then cannot place %q (invoked %v, returned %v) on the log as it then was (%s)",
			model.DescribeOperation(stuck.Input, stuck.Output), fmtTime(stuck.Call), fmtTime(stuck.Return), strings.Join(where, " or "))
		seqs = append(seqs, stuck.Metadata.(opMeta).seq)
	}
	if n := len(longest); n > 0 {
		last := longest[n-1]
		detail += fmt.Sprintf("; the last op placed is %q", model.DescribeOperation(last.Input, last.Output))
		seqs = append(seqs, last.Metadata.(opMeta).seq)
	}
	return detail, slices.DeleteFunc(seqs, func(s int64) bool { return s < 0 })
}

func replay(model porcupine.Model, ops []porcupine.Operation) (bool, any) {
	state := model.Init()
	for _, op := range ops {
		ok, next := model.Step(state, op.Input, op.Output)
		if !ok {
			return false, nil
		}
		state = next
	}
	return true, state
}

// annotations mark the broker's faults and the run's phases on the
// visualization's time line.
func (a *analysis) annotations(broker string) []porcupine.Annotation {
	var anns []porcupine.Annotation
	for i := range a.ops {
		op := &a.ops[i]
		if op.Kind != workloads.OpFault {
			continue
		}
		tag := "run"
		if t := faultTarget(op); t == broker {
			tag = broker
		} else if !strings.HasPrefix(op.Fault, "liveness") && !strings.HasPrefix(op.Fault, FaultPhasePrefix) && op.Fault != FaultFaultPhaseStart {
			continue
		}
		anns = append(anns, porcupine.Annotation{
			Tag: tag, Start: dur(op.Invoke), End: dur(op.Complete),
			Description: op.Fault, Details: fmt.Sprintf("op %d %s %s", op.Seq, op.Fault, faultTarget(op)),
			BackgroundColor: "#f4c7c3",
		})
	}
	slices.SortStableFunc(anns, func(x, y porcupine.Annotation) int { return cmp.Compare(x.Start, y.Start) })
	return anns
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
