package linearizability

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/thrustmq/thrust/workloads"
)

// The timeline replays, per queue, every fact that pins a message to an
// offset, in virtual-time order, against every observation of the
// queue's content. It is the direct, explainable counterpart of the
// porcupine check: where porcupine says "no linearization exists", the
// timeline says which message went missing from which read. Durability
// (acknowledged and observed messages stay) and read consistency
// (deliveries agree with the log) both come from it.
//
// Facts are "evidence": an acknowledged send (X at o, from its ack), a
// delivery (X at o, from a recv) and an observation's content. Evidence
// holds from the moment it is established until an observation:
//
//   - a plain observation (a recovery after a process crash, any recovery
//     of a SYNC_FLUSH broker, the final read) must show every piece of
//     evidence at its offset;
//   - a rollback observation (the first recovery of an ASYNC_FLUSH broker
//     after a power loss) must show the evidence below its tail, and may
//     have lost what is at or above it: a suffix, the flush window. Below
//     the tail, a different message is a hole, never allowed.
//
// Evidence established by an op whose window straddles a power loss
// (invoked before it, completed after the recovery) may be from before
// the loss: if its offset is at or above that recovery's tail it is kept
// as "may be lost", and its absence later is a loss, not a violation.
type timelineResult struct {
	findings []Violation
	losses   []Loss
	stats    map[string]int64
	// fillers are, per rollback observation, the offsets of its lost
	// suffix that no acknowledged, delivered or observed message claims:
	// an attempt nobody saw must have filled each (see queueOps).
	fillers map[*observation][]fillerSpan
}

// fillerSpan is when an unseen attempt must have filled one gap: after the
// message below it was sent (or the previous read), before the message
// above it was acknowledged (and before the power loss).
type fillerSpan struct{ from, to int64 }

type evItem struct {
	id        string
	start     int64 // when the op that first established it was invoked
	acked     bool  // an acknowledged send put it here
	delivered bool  // a consumer was handed it here
	seq       int64 // the op that first established it
	seqs      []int64
	end       int64 // when it was established
	// mayLost is the index of the rollback that may have taken it
	// (evidence straddling a power loss), or -1.
	mayLost int
}

type rollbackRec struct {
	obs  *observation
	tail int64
	loss *Loss // created on the first acknowledged or delivered loss
	// lost is every offset it took that evidence claimed, with when that
	// evidence's op was invoked and established it.
	lost map[int64][2]int64
	// prev is the time of the observation before it, or, if later, when
	// the op that put the last surviving message was invoked: what the
	// power loss took came after both.
	prev int64
}

type timelineEvent struct {
	time int64
	obs  *observation // or:
	item *evItem
	off  int64
	// start is when the op that established the item was invoked.
	start int64
}

func (a *analysis) timelineResult() *timelineResult {
	if a.timeline != nil {
		return a.timeline
	}
	t := &timelineResult{stats: map[string]int64{}, fillers: map[*observation][]fillerSpan{}}
	for _, k := range a.sortedQueues() {
		q := a.queues[k]
		if q.ignored {
			continue
		}
		a.replayQueue(q, t)
	}
	a.timeline = t
	return t
}

func (a *analysis) replayQueue(q *queueInfo, t *timelineResult) {
	var events []timelineEvent
	for _, in := range q.instances {
		if !in.acked {
			continue
		}
		events = append(events, timelineEvent{time: in.ret, off: in.offset, start: in.call, item: &evItem{
			id: in.msgID, start: in.call, acked: true, seq: in.seq, seqs: []int64{in.seq}, end: in.ret, mayLost: -1,
		}})
	}
	for _, i := range q.recvs {
		op := &a.ops[i]
		events = append(events, timelineEvent{time: dur(op.Complete), off: op.QueueOffset, start: dur(op.Invoke), item: &evItem{
			id: op.MsgID, start: dur(op.Invoke), delivered: true, seq: op.Seq, seqs: []int64{op.Seq}, end: dur(op.Complete), mayLost: -1,
		}})
	}
	for _, o := range q.observations {
		events = append(events, timelineEvent{time: o.time, obs: o})
	}
	// At one instant an observation comes first: an op completing at the
	// very time of a read is concurrent with it, so the read need not
	// show it (porcupine's closed intervals say the same).
	slices.SortStableFunc(events, func(x, y timelineEvent) int {
		return cmp.Or(cmp.Compare(x.time, y.time), cmp.Compare(obsFirst(x), obsFirst(y)), cmp.Compare(seqOf(x), seqOf(y)))
	})

	ev := map[int64]*evItem{}
	var rollbacks []*rollbackRec
	prevObs := int64(0)
	lose := func(off int64, it *evItem, r int) {
		rb := rollbacks[r]
		if rb.lost == nil {
			rb.lost = map[int64][2]int64{}
		}
		rb.lost[off] = [2]int64{it.start, it.end}
		if it.acked && a.opts.AsyncFlushWindow > 0 && it.end < rb.obs.powerLoss.time-int64(a.opts.AsyncFlushWindow) {
			t.findings = append(t.findings, Violation{Checker: CheckerDurability, Kind: Correctness, Queue: q.key, MsgID: it.id,
				Detail: fmt.Sprintf("power loss at %v took offset %d, acknowledged at %v: older than the %v flush window",
					fmtTime(rb.obs.powerLoss.time), off, fmtTime(it.end), a.opts.AsyncFlushWindow),
				Ops: append(slices.Clone(it.seqs), rb.obs.powerLoss.seq)})
		}
		if rb.loss == nil && (it.acked || it.delivered) {
			rb.loss = &Loss{Queue: q.key, PowerLoss: rb.obs.powerLoss.seq, Recovered: rb.obs.seq, RecoveredTail: rb.tail}
		}
		if it.acked {
			rb.loss.Offsets = append(rb.loss.Offsets, off)
			rb.loss.MsgIDs = append(rb.loss.MsgIDs, it.id)
			t.stats["durability.async_lost_acked"]++
		}
		if it.delivered {
			rb.loss.Delivered++
			t.stats["durability.async_lost_delivered"]++
		}
	}

	for _, e := range events {
		if e.item != nil {
			a.addEvidence(q, t, ev, rollbacks, e, lose)
			continue
		}
		o := e.obs
		if o.unanchored {
			// Nothing is known after this power loss; everything before it
			// may be gone.
			rollbacks = append(rollbacks, &rollbackRec{obs: o, tail: 0})
			for _, it := range ev {
				if it.mayLost < 0 {
					it.mayLost = len(rollbacks) - 1
				}
			}
			continue
		}
		r := -1
		if o.rollback {
			rb := &rollbackRec{obs: o, tail: o.tail, prev: prevObs}
			if it := ev[o.tail-1]; it != nil {
				rb.prev = max(rb.prev, it.start)
			}
			rollbacks = append(rollbacks, rb)
			r = len(rollbacks) - 1
		}
		prevObs = o.time
		for _, off := range sortedKeys64(ev) {
			it := ev[off]
			if off < o.base() {
				// Below what the read covers (retention deleted it, or the
				// read started higher): nothing to compare with, ever again.
				t.stats["durability.unverifiable_below_retention"]++
				delete(ev, off)
				continue
			}
			id, in := o.at(off)
			if in && id == it.id {
				it.mayLost = -1
				if it.acked && o.kind == workloads.OpFinal {
					t.stats["durability.acked_verified"]++
				}
				continue
			}
			delete(ev, off)
			switch {
			case r >= 0 && !in:
				lose(off, it, r)
				continue
			case it.mayLost >= 0:
				lose(off, it, it.mayLost)
				continue
			}
			t.findings = append(t.findings, a.missing(q, o, off, it, id, in))
		}
		for j, id := range o.ids {
			off := o.base() + int64(j)
			if id == "" || id == workloads.HoleID {
				continue // unreadable (reported when indexing) or skipped
			}
			if _, ok := ev[off]; !ok {
				ev[off] = &evItem{id: id, start: o.time, seq: o.seq, seqs: []int64{o.seq}, end: o.time, mayLost: -1}
			}
		}
	}
	if q.finalOf() == nil {
		for _, it := range ev {
			if it.acked {
				t.stats["durability.unchecked_no_final"]++
			}
		}
	}
	for _, rb := range rollbacks {
		if rb.loss != nil {
			t.losses = append(t.losses, *rb.loss)
		}
	}
	a.fillGaps(q, t, rollbacks)
}

// fillGaps finds, per rollback, the offsets of the lost suffix below its
// highest lost message that no evidence claims. Something was there, and
// nobody ever saw it: an attempt with an unknown outcome, applied and then
// lost. Enough such attempts must exist; each can fill one offset once.
func (a *analysis) fillGaps(q *queueInfo, t *timelineResult, rollbacks []*rollbackRec) {
	var unseen []int64 // calls of attempts nobody saw
	for _, in := range q.instances {
		if in.offset < 0 {
			unseen = append(unseen, in.call)
		}
	}
	// Offsets an earlier recovery skipped held no message: a later power
	// loss that takes them takes nothing, and nothing has to fill them.
	skippedBefore := func(off, before int64) bool {
		for _, o := range q.observations {
			if o.skip > 0 && o.time < before && off >= o.tail && off < o.tail+int64(o.skip) {
				return true
			}
		}
		return false
	}
	need := 0
	for _, rb := range rollbacks {
		if rb.obs.unanchored || len(rb.lost) == 0 {
			continue
		}
		lost := sortedKeys64(rb.lost)
		var gaps []int64
		var spans []fillerSpan
		for i, off := 0, rb.tail; off < lost[len(lost)-1]; off++ {
			for lost[i] < off {
				i++
			}
			if lost[i] == off || skippedBefore(off, rb.obs.time) {
				continue
			}
			// lost[i] is the nearest claimed offset above, lost[i-1] (if
			// any) the nearest below.
			from, to := rb.prev, min(rb.obs.powerLoss.time, rb.lost[lost[i]][1])
			if i > 0 {
				from = max(from, rb.lost[lost[i-1]][0])
			}
			gaps = append(gaps, off)
			spans = append(spans, fillerSpan{from, max(from, to)})
		}
		if len(gaps) == 0 {
			continue
		}
		t.fillers[rb.obs] = spans
		t.stats["queue-log.appends.fillers"] += int64(len(gaps))
		need += len(gaps)
		avail := 0
		for _, c := range unseen {
			if c < rb.obs.powerLoss.time {
				avail++
			}
		}
		if need > avail {
			t.findings = append(t.findings, Violation{Checker: CheckerQueueLog, Kind: Correctness, Queue: q.key,
				Detail: fmt.Sprintf("the power loss at %v took offsets %s, which no acknowledged, delivered or observed message held, and only %d attempt(s) with an unknown outcome could have filled the %d such offset(s) so far",
					fmtTime(rb.obs.powerLoss.time), formatOffsets(gaps), avail, need),
				Ops: []int64{rb.obs.powerLoss.seq}})
			need = avail
		}
	}
}

func obsFirst(e timelineEvent) int {
	if e.obs != nil {
		return 0
	}
	return 1
}

func seqOf(e timelineEvent) int64 {
	if e.obs != nil {
		return e.obs.order
	}
	return e.item.seq
}

// addEvidence puts a fact at its offset, unless the offset already holds
// another message, which is a violation unless one of the two may have
// been lost to a power loss in between.
func (a *analysis) addEvidence(q *queueInfo, t *timelineResult, ev map[int64]*evItem, rollbacks []*rollbackRec,
	e timelineEvent, lose func(int64, *evItem, int)) {
	it, off := e.item, e.off
	// Straddling: a power loss after the op was invoked, whose recovery
	// (before the op completed) cut the queue at or below this offset.
	minTail := int64(-1)
	for r, rb := range rollbacks {
		if rb.obs.powerLoss.time > e.start && off >= rb.tail && (minTail < 0 || rb.tail < minTail) {
			minTail, it.mayLost = rb.tail, r
		}
	}
	cur := ev[off]
	switch {
	case cur == nil:
		ev[off] = it
	case cur.id == it.id:
		cur.acked = cur.acked || it.acked
		cur.delivered = cur.delivered || it.delivered
		cur.seqs = append(cur.seqs, it.seq)
		if it.mayLost < 0 {
			cur.mayLost = -1
		}
	case it.mayLost >= 0:
		lose(off, it, it.mayLost)
	case cur.mayLost >= 0:
		lose(off, cur, cur.mayLost)
		ev[off] = it
	default:
		t.findings = append(t.findings, a.conflict(q, off, cur, it))
	}
}

func (a *analysis) describe(it *evItem) string {
	switch {
	case it.acked:
		return fmt.Sprintf("acknowledged at %v", fmtTime(it.end))
	case it.delivered:
		return fmt.Sprintf("delivered at %v", fmtTime(it.end))
	}
	return fmt.Sprintf("read by the harness at %v", fmtTime(it.end))
}

// conflict reports two messages at one offset within one epoch.
func (a *analysis) conflict(q *queueInfo, off int64, cur, it *evItem) Violation {
	checker := CheckerQueueLog
	if cur.delivered || it.delivered {
		checker = CheckerReads
	}
	return Violation{Checker: checker, Kind: Correctness, Queue: q.key, MsgID: it.id,
		Detail: fmt.Sprintf("offset %d holds two messages: %s %s, and %s %s, with no power loss between that could explain it",
			off, cur.id, a.describe(cur), it.id, a.describe(it)),
		Ops: append(slices.Clone(it.seqs), cur.seqs...)}
}

// missing reports evidence an observation contradicts.
func (a *analysis) missing(q *queueInfo, o *observation, off int64, it *evItem, got string, in bool) Violation {
	checker := CheckerDurability
	if it.delivered && !it.acked {
		checker = CheckerReads
	}
	what := "is not there"
	switch {
	case in && got == "":
		what = "has a hole there (no readable message)"
	case in:
		what = fmt.Sprintf("holds %s there instead", got)
	case off >= o.tail:
		what = fmt.Sprintf("ends at tail %d", o.tail)
	}
	var detail string
	switch {
	case o.rollback:
		detail = fmt.Sprintf("hole: %s at offset %d (%s) is below the tail %d that the recovery after the power loss at %v kept, but the %s %s",
			it.id, off, a.describe(it), o.tail, fmtTime(o.powerLoss.time), o.name(), what)
	case it.delivered && !it.acked:
		detail = fmt.Sprintf("a consumer was handed %s at offset %d (%s), but the %s at %v %s",
			it.id, off, a.describe(it), o.name(), fmtTime(o.time), what)
	default:
		detail = fmt.Sprintf("%s at offset %d (%s) is lost: the %s at %v %s",
			it.id, off, a.describe(it), o.name(), fmtTime(o.time), what)
		if !it.acked && !it.delivered && !a.brokers[q.key.Broker].async() {
			// Only a harness read saw it: content a recovery kept is what
			// consumers are served, so it must be as durable as an ack.
			detail += "; under SYNC_FLUSH what a recovery keeps is served to consumers, so recovery must make it durable before serving it"
		}
	}
	ops := slices.Clone(it.seqs)
	if o.seq >= 0 {
		ops = append(ops, o.seq)
	}
	return Violation{Checker: checker, Kind: Correctness, Queue: q.key, MsgID: it.id, Detail: detail, Ops: ops}
}
