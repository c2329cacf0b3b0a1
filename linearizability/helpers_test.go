package linearizability

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/workloads"
)

// hist builds histories by hand. Times are in milliseconds of virtual
// time; every op gets the next Seq.
type hist struct{ ops []workloads.Op }

const ms = time.Millisecond

func (h *hist) add(op workloads.Op) int64 {
	op.Seq = int64(len(h.ops))
	h.ops = append(h.ops, op)
	return op.Seq
}

type q struct {
	broker, topic string
	queue         int
}

var (
	qa = q{"broker-a", "T", 0}
	qb = q{"broker-a", "T", 1}
)

func (h *hist) send(proc, id, result string, at q, off int64, inv, comp int, maybe ...q) int64 {
	op := workloads.Op{Kind: workloads.OpSend, Process: proc, MsgID: id, Result: result, Topic: at.topic,
		Invoke: time.Duration(inv) * ms, Complete: time.Duration(comp) * ms}
	if result == workloads.ResultOK {
		op.Broker, op.Queue, op.QueueOffset = at.broker, at.queue, off
	}
	for _, m := range maybe {
		op.Maybe = append(op.Maybe, workloads.QueueRef{Broker: m.broker, Queue: m.queue})
	}
	return h.add(op)
}

func (h *hist) ok(proc, id string, at q, off int64, inv, comp int) int64 {
	return h.send(proc, id, workloads.ResultOK, at, off, inv, comp)
}

func (h *hist) recv(proc, group, id string, at q, off int64, inv, comp int) int64 {
	return h.add(workloads.Op{Kind: workloads.OpRecv, Process: proc, Group: group, MsgID: id, BodyOK: true,
		Broker: at.broker, Topic: at.topic, Queue: at.queue, QueueOffset: off,
		Invoke: time.Duration(inv) * ms, Complete: time.Duration(comp) * ms})
}

func (h *hist) commit(proc, group string, at q, offset int64, inv, comp int) int64 {
	return h.add(workloads.Op{Kind: workloads.OpCommit, Process: proc, Group: group, Result: workloads.ResultOK,
		Broker: at.broker, Topic: at.topic, Queue: at.queue, Offset: offset,
		Invoke: time.Duration(inv) * ms, Complete: time.Duration(comp) * ms})
}

func (h *hist) fault(name, node, flush string, t int) int64 {
	return h.add(workloads.Op{Kind: workloads.OpFault, Fault: name, Node: node, FlushDiskType: flush,
		Invoke: time.Duration(t) * ms, Complete: time.Duration(t) * ms})
}

func (h *hist) observe(kind string, at q, tail int64, ids []string, flush string, t int) int64 {
	return h.add(workloads.Op{Kind: kind, Broker: at.broker, Topic: at.topic, Queue: at.queue,
		Tail: tail, IDs: ids, FlushDiskType: flush,
		Invoke: time.Duration(t) * ms, Complete: time.Duration(t) * ms})
}

func (h *hist) recovered(at q, tail int64, flush string, t int, ids ...string) int64 {
	return h.observe(workloads.OpRecovered, at, tail, ids, flush, t)
}

func (h *hist) final(at q, tail int64, t int, ids ...string) int64 {
	return h.observe(workloads.OpFinal, at, tail, ids, "", t)
}

// checkers returns the distinct checkers with violations, sorted.
func checkers(r Report) []string {
	var out []string
	for _, v := range r.Violations {
		if !slices.Contains(out, v.Checker) {
			out = append(out, v.Checker)
		}
	}
	slices.Sort(out)
	return out
}

func dump(t *testing.T, r Report) {
	t.Helper()
	var b strings.Builder
	_ = r.WriteText(&b)
	t.Log("\n" + b.String())
}
