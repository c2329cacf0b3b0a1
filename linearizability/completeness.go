package linearizability

import (
	"fmt"
	"math"
	"slices"

	"github.com/thrustmq/thrust/workloads"
)

// checkCompleteness judges the end of a run with a liveness phase: every
// message in a queue's final content must have reached every group that
// consumes its topic, and every group's committed offset must have
// reached the queue's tail. Its violations are Liveness: the system did
// not converge in time, which says nothing of what it returned.
//
// A group consumes a topic if any of its members was handed a message of
// it or committed an offset in it. It owes the offsets from where it
// started (its lowest delivery or commit in the queue: a group that
// started at the last offset does not owe what came before) to the tail.
// A broadcasting group owes every offset to each member.
func (a *analysis) checkCompleteness(r *Report) {
	if a.livenessStart < 0 || !a.hasFinal {
		r.stat("completeness.skipped", 1)
		return
	}
	if a.livenessEnd >= 0 {
		r.stat("completeness.liveness_finished", 1)
	}
	for _, name := range sortedKeys(a.brokers) {
		b := a.brokers[name]
		if b.hasFinal {
			continue
		}
		for _, k := range b.queues {
			if q := a.queues[k]; !q.ignored && len(q.instances) > 0 {
				r.add(Violation{Checker: CheckerCompleteness, Kind: Liveness, Queue: k,
					Detail: fmt.Sprintf("broker %s has no final read: it did not come back in the liveness phase, so nothing it stored can be consumed", name)})
				break
			}
		}
	}

	type member struct{ group, process string }
	topics := map[string]map[string]bool{} // group -> topics
	procs := map[string]map[string]bool{}  // group -> processes
	note := func(op *workloads.Op) {
		if op.Group == "" || a.opts.systemTopic(op.Topic) {
			return
		}
		if topics[op.Group] == nil {
			topics[op.Group], procs[op.Group] = map[string]bool{}, map[string]bool{}
		}
		topics[op.Group][op.Topic] = true
		if op.Process != "" {
			procs[op.Group][op.Process] = true
		}
	}
	// got[(group or group+process)][queue][offset] = ids delivered there
	type deliveries map[QueueKey]map[int64][]string
	got := map[member]deliveries{}
	starts := map[member]map[QueueKey]int64{}
	lowest := func(m member, k QueueKey, off int64) {
		if starts[m] == nil {
			starts[m] = map[QueueKey]int64{}
		}
		if s, ok := starts[m][k]; !ok || off < s {
			starts[m][k] = off
		}
	}
	for i := range a.ops {
		op := &a.ops[i]
		switch op.Kind {
		case workloads.OpRecv:
			if !isDelivery(op) {
				continue
			}
			note(op)
			if op.Group == "" {
				continue
			}
			m := member{group: op.Group}
			if a.opts.broadcast(op.Group) {
				m.process = op.Process
			}
			k := opQueue(op)
			if got[m] == nil {
				got[m] = deliveries{}
			}
			if got[m][k] == nil {
				got[m][k] = map[int64][]string{}
			}
			got[m][k][op.QueueOffset] = append(got[m][k][op.QueueOffset], op.MsgID)
			lowest(m, k, op.QueueOffset)
		case workloads.OpCommit:
			note(op)
			if op.Group != "" && op.Result == workloads.ResultOK {
				m := member{group: op.Group}
				if a.opts.broadcast(op.Group) {
					m.process = op.Process
				}
				lowest(m, opQueue(op), op.Offset)
			}
		}
	}

	queuesOf := map[string][]QueueKey{}
	for _, k := range a.sortedQueues() {
		queuesOf[k.Topic] = append(queuesOf[k.Topic], k)
	}
	for _, group := range sortedKeys(topics) {
		var ms []member
		if a.opts.broadcast(group) {
			for _, p := range sortedKeys(procs[group]) {
				ms = append(ms, member{group, p})
			}
		} else {
			ms = []member{{group: group}}
		}
		for _, topic := range sortedKeys(topics[group]) {
			for _, k := range queuesOf[topic] {
				q := a.queues[k]
				final := q.finalOf()
				if q.ignored || final == nil {
					continue
				}
				for _, m := range ms {
					a.owed(r, m.group, m.process, q, final, got[m][k], starts[m])
				}
				if !a.opts.broadcast(group) {
					a.lag(r, group, q, final)
				}
			}
		}
	}
}

// owed reports the offsets of the final content a group (or, broadcasting,
// one member) was never handed.
func (a *analysis) owed(r *Report, group, process string, q *queueInfo, final *observation, got map[int64][]string, starts map[QueueKey]int64) {
	who := "group " + group
	if process != "" {
		who = fmt.Sprintf("member %s of broadcasting group %s", process, group)
	}
	start, ok := starts[q.key]
	if !ok {
		if len(final.ids) > 0 {
			r.add(Violation{Checker: CheckerCompleteness, Kind: Liveness, Queue: q.key, Group: group,
				Detail: fmt.Sprintf("%s consumes topic %s but was never handed anything from this queue, which holds %d message(s) at offsets %d-%d",
					who, q.key.Topic, len(final.ids), final.base(), final.tail-1)})
		}
		return
	}
	var missed []int64
	var ids []string
	for off := max(start, final.base()); off < final.tail; off++ {
		id, _ := final.at(off)
		if id == "" || id == workloads.HoleID {
			continue // nothing there can be delivered (unreadable: reported as durability)
		}
		r.stat("completeness.owed", 1)
		if !slices.Contains(got[off], id) {
			missed = append(missed, off)
			ids = append(ids, id)
		}
	}
	if len(missed) > 0 {
		r.stat("completeness.missed", int64(len(missed)))
		v := Violation{Checker: CheckerCompleteness, Kind: Liveness, Queue: q.key, Group: group, MsgID: ids[0],
			Detail: fmt.Sprintf("%s was never handed %d message(s) of the final content at offsets %s (it started at offset %d; the tail is %d)%s",
				who, len(missed), formatOffsets(missed), start, final.tail, a.rollbackHint(q, group, process, missed[0]))}
		if final.seq >= 0 {
			v.Ops = []int64{final.seq}
		}
		r.add(v)
	}
}

// lag reports a clustering group whose committed offset at the end is not
// the queue's final tail. Of several commits that may be in force (see
// committed), one at the tail is enough.
func (a *analysis) lag(r *Report, group string, q *queueInfo, final *observation) {
	// The queue's real end includes offsets the store skipped at its last
	// recovery: a commit there is caught up, not past the end.
	end := final.tail + int64(final.skip)
	cs := a.committed(a.commitsOf(q)[group], q.key.Broker, math.MaxInt64, "")
	if len(cs) == 0 {
		if final.tail > final.base() {
			r.add(Violation{Checker: CheckerCompleteness, Kind: Liveness, Queue: q.key, Group: group,
				Detail: fmt.Sprintf("group %s never committed an offset for this queue (tail %d)", group, final.tail)})
		}
		return
	}
	c := cs[0]
	for _, x := range cs {
		if x.offset == end || (c.offset != end && x.complete > c.complete) {
			c = x
		}
	}
	switch {
	case c.offset < end:
		r.add(Violation{Checker: CheckerCompleteness, Kind: Liveness, Queue: q.key, Group: group,
			Detail: fmt.Sprintf("group %s's last commit is offset %d but the tail is %d: lag %d at the end of the liveness phase",
				group, c.offset, end, end-c.offset), Ops: []int64{c.seq}})
	case c.offset > end:
		r.add(Violation{Checker: CheckerCompleteness, Kind: Liveness, Queue: q.key, Group: group,
			Detail: fmt.Sprintf("group %s's last commit is offset %d, past the tail %d: messages appended at offsets %d-%d would be skipped",
				group, c.offset, end, end, c.offset-1), Ops: []int64{c.seq}})
	default:
		r.stat("completeness.lag_zero", 1)
	}
}

// rollbackHint explains the common cause of a miss after an ASYNC_FLUSH
// power loss: the group (or, broadcasting, the member) had already moved
// past the tail the queue was rolled back to, so the messages appended
// again at the freed offsets are below its position and never pulled.
func (a *analysis) rollbackHint(q *queueInfo, group, process string, off int64) string {
	for _, o := range q.observations {
		if !o.rollback || off < o.tail {
			continue
		}
		for _, i := range slices.Concat(q.commits, q.recvs) {
			op := &a.ops[i]
			if op.Group != group || (process != "" && op.Process != process) || dur(op.Invoke) >= o.time {
				continue
			}
			pos, how := op.Offset, "committed"
			if op.Kind == workloads.OpRecv {
				pos, how = op.QueueOffset+1, "delivered up to"
			}
			if pos > o.tail {
				return fmt.Sprintf(": its position (%s offset %d at %v) was past the tail %d the power loss at %v rolled the queue back to, and what was appended at the freed offsets is below it",
					how, pos, op.Invoke, o.tail, fmtTime(o.powerLoss.time))
			}
		}
	}
	return ""
}
