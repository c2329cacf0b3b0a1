package linearizability

import (
	"fmt"
	"slices"
	"strings"

	"github.com/thrustmq/thrust/workloads"
)

// Check runs every checker over a recorded history. The history is the
// ops in the order they happened (workloads.History's order); only their
// virtual times and Seq numbers are used, never wall time, so the same
// history gives the same report (bar porcupine running out of wall time;
// see Options.PorcupineTimeout).
func Check(ops []workloads.Op, opts Options) Report {
	a := analyze(ops, &opts)
	r := newReport(&opts)
	a.report(r, "")
	a.checkQueueLogs(r)
	a.reportTimeline(r, CheckerQueueLog)
	a.reportTimeline(r, CheckerDurability)
	a.checkReads(r)
	a.checkOrder(r)
	a.checkRedelivery(r)
	a.checkCompleteness(r)
	a.checkLatency(r)
	return r.finish()
}

// CheckQueueLog checks that every queue is a linearizable append-only log
// (porcupine, one partition per queue) and that its content names no
// message that no attempt could have stored there.
func CheckQueueLog(ops []workloads.Op, opts Options) Report {
	a := analyze(ops, &opts)
	r := newReport(&opts)
	a.report(r, CheckerQueueLog)
	a.checkQueueLogs(r)
	a.reportTimeline(r, CheckerQueueLog)
	return r.finish()
}

// CheckDurability checks that acknowledged messages, and content the
// harness observed, survive crashes: always under SYNC_FLUSH, and under
// ASYNC_FLUSH except for a suffix a power loss cut off (reported in
// Report.Losses).
func CheckDurability(ops []workloads.Op, opts Options) Report {
	a := analyze(ops, &opts)
	r := newReport(&opts)
	a.report(r, CheckerDurability)
	a.reportTimeline(r, CheckerDurability)
	return r.finish()
}

// CheckReads checks every delivery: the message was sent (no phantom), to
// this queue, its body is intact, and the log agrees on its offset.
func CheckReads(ops []workloads.Op, opts Options) Report {
	a := analyze(ops, &opts)
	r := newReport(&opts)
	a.report(r, CheckerReads)
	a.checkReads(r)
	return r.finish()
}

// CheckOrder checks per-session offset order and that no group is handed
// a message again below its committed offset.
func CheckOrder(ops []workloads.Op, opts Options) Report {
	a := analyze(ops, &opts)
	r := newReport(&opts)
	a.report(r, CheckerOrder)
	a.checkOrder(r)
	a.checkRedelivery(r)
	return r.finish()
}

// CheckCompleteness checks, for a history with a liveness phase, that every
// group consumed every message of the final content and that its committed
// offsets reached the tails. Its violations are Liveness.
func CheckCompleteness(ops []workloads.Op, opts Options) Report {
	a := analyze(ops, &opts)
	r := newReport(&opts)
	a.report(r, CheckerCompleteness)
	a.checkCompleteness(r)
	return r.finish()
}

// CheckLatency summarizes send and end-to-end latency per phase and checks
// the SLO bounds.
func CheckLatency(ops []workloads.Op, opts Options) Report {
	a := analyze(ops, &opts)
	r := newReport(&opts)
	a.report(r, CheckerLatency)
	a.checkLatency(r)
	return r.finish()
}

// report copies the indexing pass's findings for one checker ("" for all)
// into r; malformed-history findings go to every checker, since each
// checker's verdict is only as good as the history.
func (a *analysis) report(r *Report, checker string) {
	for _, v := range a.findings {
		if checker == "" || v.Checker == checker || v.Checker == CheckerHistory {
			r.add(v)
		}
	}
	for k, n := range a.stats {
		r.stat(k, n)
	}
}

// reportTimeline adds the timeline's findings and stats for checker;
// durability also brings the losses.
func (a *analysis) reportTimeline(r *Report, checker string) {
	t := a.timelineResult()
	for _, v := range t.findings {
		if v.Checker == checker {
			r.add(v)
		}
	}
	if checker == CheckerDurability {
		r.Losses = append(r.Losses, t.losses...)
	}
	for k, n := range t.stats {
		if strings.HasPrefix(k, checker+".") {
			r.stat(k, n)
		}
	}
}

// checkReads: phantoms and misplaced deliveries come from matching, offset
// disagreements from the timeline; integrity and deliveries from system
// topics (retries) are checked here.
func (a *analysis) checkReads(r *Report) {
	for i := range a.ops {
		op := &a.ops[i]
		if op.Kind == workloads.OpRecv && !isDelivery(op) {
			r.add(Violation{Checker: CheckerReads, Kind: Correctness, Queue: opQueue(op), Group: op.Group,
				Detail: fmt.Sprintf("consumer %s's pull failed on a record that does not verify (%s): the broker served a torn or corrupt record",
					op.Process, op.Err), Ops: []int64{op.Seq}})
			continue
		}
		if op.Kind != workloads.OpRecv || op.MsgID == "" {
			continue
		}
		if !op.BodyOK {
			r.add(Violation{Checker: CheckerReads, Kind: Correctness, Queue: opQueue(op), Group: op.Group, MsgID: op.MsgID,
				Detail: fmt.Sprintf("consumer %s was handed offset %d with a body that is not the one sent: a torn or corrupt record was served",
					op.Process, op.QueueOffset), Ops: []int64{op.Seq}})
		}
		if a.opts.systemTopic(op.Topic) && len(a.sends[op.MsgID]) == 0 {
			r.add(Violation{Checker: CheckerReads, Kind: Correctness, Queue: opQueue(op), Group: op.Group, MsgID: op.MsgID,
				Detail: fmt.Sprintf("consumer %s was handed a phantom from a system topic: no send carried this message id", op.Process),
				Ops:    []int64{op.Seq}})
		}
	}
	a.reportTimeline(r, CheckerReads)
}

// finish sorts nothing (every checker already emits in a deterministic
// order) but settles the derived stats.
func (r *Report) finish() Report {
	for _, v := range r.Violations {
		r.Stats["violations."+v.Kind.String()]++
	}
	r.Artifacts = slices.Clip(r.Artifacts)
	return *r
}
