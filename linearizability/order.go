package linearizability

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/thrustmq/thrust/workloads"
)

// A consumer session is a stretch in which one consumer process holds one
// queue for one group and pulls it forward from one position: its
// deliveries must have strictly increasing offsets. The history has no
// explicit "rebalance" op for every case, so a session ends at anything
// that may legitimately move the position back:
//
//   - a fault op naming the process or its host (Node or Process, and
//     Options.ProcessHosts): a crash, restart, partition or an explicit
//     FaultRebalance;
//   - a membership change of the group: a process appears in the group for
//     the first time, a fault names any member, or a FaultRebalance names
//     the group (op.Group): RocketMQ rebalances every member then;
//   - another member was handed the queue since (it was reassigned away
//     and back: the position restarts from the committed offset);
//   - a rollback of the queue (an ASYNC_FLUSH power loss): the consumer's
//     position may be past the new tail and gets corrected.
//
// Re-delivery is judged across sessions, against the group's committed
// offset: a message handed to the group again must sit at or above the
// last acknowledged commit for its queue at the time the pull was sent
// (the lowest, when concurrent commits leave the last one ambiguous),
// except for commits a broker crash may have lost (acknowledged within
// Options.OffsetPersistWindow before the crash: RocketMQ persists offsets
// periodically, so such commits are legitimately forgotten), and for
// commits sent before the group was first handed the message (after an
// ASYNC_FLUSH rollback, offsets below such a commit hold new messages it
// cannot have been about).

type sessionKey struct {
	proc, group, queue int
}

type consumerPos struct {
	group, process string
	queue          QueueKey
}

type orderState struct {
	sess    sessionKey
	last    int64
	lastSeq int64
}

// queueBreaks returns, per op index, the queues whose content a rollback
// may have changed at that op: the first op of a rollback recovery (or the
// unrecovered power loss).
func (a *analysis) queueBreaks() map[int][]QueueKey {
	bySeq := map[int64]int{}
	for i := range a.ops {
		bySeq[a.ops[i].Seq] = i
	}
	out := map[int][]QueueKey{}
	for _, name := range sortedKeys(a.brokers) {
		b := a.brokers[name]
		for _, g := range b.recoveries {
			if g.rollback {
				i := bySeq[g.seq]
				out[i] = append(out[i], b.queues...)
			}
		}
		if b.unanchored != nil {
			i := bySeq[b.unanchored.seq]
			out[i] = append(out[i], b.queues...)
		}
	}
	return out
}

func (a *analysis) checkOrder(r *Report) {
	breaks := a.queueBreaks()
	procEpoch := map[string]int{}
	groupEpoch := map[string]int{}
	queueEpoch := map[QueueKey]int{}
	members := map[string]map[string]bool{}
	groupsOf := map[string][]string{}
	owner := map[[2]string]string{} // (group, queue) -> last process handed it
	state := map[consumerPos]*orderState{}
	onHost := map[string][]string{} // host -> its processes
	for _, p := range sortedKeys(a.opts.ProcessHosts) {
		h := a.opts.ProcessHosts[p]
		onHost[h] = append(onHost[h], p)
	}

	join := func(group, proc string) {
		if group == "" || proc == "" {
			return
		}
		m := members[group]
		if m == nil {
			m = map[string]bool{}
			members[group] = m
		}
		if !m[proc] {
			m[proc] = true
			groupEpoch[group]++
			groupsOf[proc] = append(groupsOf[proc], group)
		}
	}
	for i := range a.ops {
		for _, k := range breaks[i] {
			queueEpoch[k]++
		}
		op := &a.ops[i]
		switch op.Kind {
		case workloads.OpFault:
			for _, name := range []string{op.Node, op.Process} {
				if name == "" {
					continue
				}
				for _, p := range append([]string{name}, onHost[name]...) {
					procEpoch[p]++
					for _, g := range groupsOf[p] {
						groupEpoch[g]++
					}
				}
			}
			if op.Group != "" {
				groupEpoch[op.Group]++
			}
		case workloads.OpCommit:
			join(op.Group, op.Process)
		case workloads.OpRecv:
			if op.Group == "" || !isDelivery(op) {
				continue
			}
			join(op.Group, op.Process)
			k := opQueue(op)
			pos := consumerPos{op.Group, op.Process, k}
			sess := sessionKey{procEpoch[op.Process], groupEpoch[op.Group], queueEpoch[k]}
			ok := [2]string{op.Group, k.String()}
			takeover := !a.opts.broadcast(op.Group) && owner[ok] != "" && owner[ok] != op.Process
			owner[ok] = op.Process
			st := state[pos]
			if st == nil || st.sess != sess || takeover {
				r.stat("order.sessions", 1)
				state[pos] = &orderState{sess: sess, last: op.QueueOffset, lastSeq: op.Seq}
				continue
			}
			if op.QueueOffset <= st.last {
				what := "went back to"
				if op.QueueOffset == st.last {
					what = "repeated"
				}
				r.add(Violation{Checker: CheckerOrder, Kind: Correctness, Queue: k, Group: op.Group, MsgID: op.MsgID,
					Detail: fmt.Sprintf("consumer %s %s offset %d after offset %d in one session (no restart, rebalance or rollback between)",
						op.Process, what, op.QueueOffset, st.last),
					Ops: []int64{op.Seq, st.lastSeq}})
			}
			st.last, st.lastSeq = op.QueueOffset, op.Seq
		}
	}
}

type commitRec struct {
	offset   int64
	invoke   int64
	complete int64
	seq      int64
	process  string
}

// commitsOf returns the acknowledged commits of (group, queue), in
// completion order.
func (a *analysis) commitsOf(q *queueInfo) map[string][]commitRec {
	out := map[string][]commitRec{}
	for _, i := range q.commits {
		op := &a.ops[i]
		if op.Result != workloads.ResultOK {
			continue
		}
		out[op.Group] = append(out[op.Group], commitRec{op.Offset, dur(op.Invoke), dur(op.Complete), op.Seq, op.Process})
	}
	for _, cs := range out {
		slices.SortStableFunc(cs, func(x, y commitRec) int { return cmp.Compare(x.complete, y.complete) })
	}
	return out
}

// committed returns the commits that may hold the group's committed
// offset for the queue as of time t. The broker keeps the last commit it
// applied (UPDATE_CONSUMER_OFFSET overwrites), and concurrent commits, say
// from the old and the new owner of a queue during a rebalance, may apply
// in either order: any commit acknowledged before t that no later-invoked
// commit must follow may be the one in force. A commit a broker crash may
// have lost (acknowledged within Options.OffsetPersistWindow before it)
// does not count. process, if set, keeps only that member's commits
// (broadcasting: offsets are per member). The result is empty if the group
// has no such commit.
func (a *analysis) committed(commits []commitRec, broker string, t int64, process string) []commitRec {
	b := a.brokers[broker]
	window := int64(a.opts.offsetPersistWindow())
	var cands []commitRec
	maxInvoke := int64(math.MinInt64)
	for _, c := range commits {
		if c.complete >= t || (process != "" && c.process != process) {
			continue
		}
		lost := false
		if b != nil {
			for _, k := range b.crashes {
				// The crash may have come after the broker applied the
				// commit (any time after its invoke, even before the ack
				// reached the consumer) and before it persisted it.
				if k.time > c.invoke && k.time < t && k.time-c.complete < window {
					lost = true
					break
				}
			}
		}
		if !lost {
			cands = append(cands, c)
			maxInvoke = max(maxInvoke, c.invoke)
		}
	}
	// A commit that completed before another was invoked was overwritten.
	return slices.DeleteFunc(cands, func(c commitRec) bool { return c.complete < maxInvoke })
}

// floor is the offset below which a group must not be handed again a
// message it was first handed at time since: the lowest of the commits
// that may be in force at t, provided all of them were sent after since.
// A commit sent before the group was first handed the message cannot be
// about it (after an ASYNC_FLUSH rollback, offsets below such a commit hold
// new messages).
func floor(in []commitRec, since int64) (commitRec, bool) {
	if len(in) == 0 {
		return commitRec{}, false
	}
	low := in[0]
	for _, c := range in {
		if c.invoke < since {
			return commitRec{}, false
		}
		if c.offset < low.offset {
			low = c
		}
	}
	return low, true
}

type deliveryKey struct {
	group, process string
	queue          QueueKey
	offset         int64
	id             string
}

func (a *analysis) checkRedelivery(r *Report) {
	breaks := a.queueBreaks()
	commits := map[QueueKey]map[string][]commitRec{}
	for k, q := range a.queues {
		commits[k] = a.commitsOf(q)
	}
	delivered := map[deliveryKey]*workloads.Op{} // first delivery
	for i := range a.ops {
		for _, k := range breaks[i] {
			// The rollback may reuse offsets: what is there now is news.
			for d := range delivered {
				if d.queue == k {
					delete(delivered, d)
				}
			}
		}
		op := &a.ops[i]
		if !isDelivery(op) || op.Group == "" {
			continue
		}
		k := opQueue(op)
		d := deliveryKey{group: op.Group, queue: k, offset: op.QueueOffset, id: op.MsgID}
		member := ""
		if a.opts.broadcast(op.Group) {
			d.process, member = op.Process, op.Process
		}
		first, again := delivered[d]
		if !again {
			delivered[d] = op
			continue
		}
		r.stat("redelivery.count", 1)
		c, ok := floor(a.committed(commits[k][op.Group], k.Broker, dur(op.Invoke), member), dur(first.Complete))
		switch {
		case !ok:
			r.stat("redelivery.before_any_commit", 1)
		case op.QueueOffset < c.offset:
			r.add(Violation{Checker: CheckerRedelivery, Kind: Correctness, Queue: k, Group: op.Group, MsgID: op.MsgID,
				Detail: fmt.Sprintf("offset %d was handed to %s again although the group had committed offset %d (acknowledged at %v) before the pull was sent at %v",
					op.QueueOffset, op.Process, c.offset, fmtTime(c.complete), op.Invoke),
				Ops: []int64{op.Seq, first.Seq, c.seq}})
		default:
			// The allowed kind: at or above the last commit.
			r.stat("redelivery.after_commit", 1)
		}
	}
}
