package linearizability

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/thrustmq/thrust/workloads"
)

// analysis is a history indexed once for every checker: per broker its
// flush mode, faults and recoveries; per queue the appends that may have
// reached it, what observed its content, and its consumers' ops.
type analysis struct {
	opts *Options
	ops  []workloads.Op
	// horizon is later than every op: the return time of an unseen
	// attempt porcupine keeps (it may take effect any time after its
	// invoke).
	horizon int64

	brokers map[string]*brokerInfo
	queues  map[QueueKey]*queueInfo
	// sends maps a message id to the indexes (into ops) of the sends that
	// carried it; normally exactly one.
	sends map[string][]int

	phases []phaseMark
	// livenessStart and livenessEnd index the marker ops, or are -1.
	livenessStart, livenessEnd int
	hasFinal                   bool

	// findings are violations found while indexing (a malformed history,
	// content no attempt explains), each tagged with its checker.
	findings []Violation
	stats    map[string]int64

	timeline *timelineResult // computed on first use
}

type brokerInfo struct {
	name       string
	flush      string
	flushKnown bool
	// powerLosses and crashes are in time order; crashes include power
	// losses (both restart the process and lose what it held in memory).
	powerLosses []event
	crashes     []event
	recoveries  []*recoveryGroup
	hasFinal    bool
	finalTime   int64
	finalSeq    int64
	// unanchored is the first power loss of an ASYNC_FLUSH broker after
	// which it never reported a recovery, or nil.
	unanchored *event
	queues     []QueueKey
}

func (b *brokerInfo) async() bool { return b.flush == AsyncFlush }

type event struct {
	time int64
	seq  int64
}

// after orders events by time, then by history order.
func (e event) after(o event) bool {
	return e.time > o.time || (e.time == o.time && e.seq > o.seq)
}

// recoveryGroup is one broker recovery: the OpRecovered ops it reported,
// one per queue, all at one time.
type recoveryGroup struct {
	time int64
	seq  int64 // the first op's
	ops  map[QueueKey]int
	// rollback: an ASYNC_FLUSH broker had a power loss since its previous
	// recovery, so the content may be any prefix of what was there.
	rollback  bool
	powerLoss event
}

type queueInfo struct {
	key QueueKey
	// ignored: a system topic (or one Options.IgnoreTopics names): no
	// sends explain its content, so only its deliveries are checked.
	ignored      bool
	instances    []*instance
	observations []*observation
	recvs        []int // indexes into ops, in history order
	commits      []int
}

// instance is one way a message may have been appended to one queue: the
// acknowledged attempt of an ok send, or one attempt with an unknown
// outcome (a Maybe entry).
type instance struct {
	msgID   string
	op      int // index of the send
	seq     int64
	process string
	call    int64
	ret     int64
	// offset is where the append happened, or -1 if not known whether or
	// where it did (then the model lets it apply, at the tail, or not).
	offset int64
	acked  bool
	// pinnedBy is the Seq of the op whose observation made an
	// unacknowledged attempt definite, or -1.
	pinnedBy int64
}

// observation is a harness read of a queue's whole content: a recovery
// (OpRecovered, or synthesized empty for a queue the recovery did not
// list) or the final read.
type observation struct {
	kind string
	time int64
	seq  int64 // -1: synthesized
	// order places it in history order among ops at the same time: its
	// own Seq, or the Seq of the op it was synthesized for.
	order int64
	tail  int64
	ids   []string
	// skip is how many hole offsets the store added after tail at this
	// observation (see observationOf).
	skip int
	// rollback: see recoveryGroup.rollback.
	rollback  bool
	powerLoss event
	// unanchored: not an observation but a power loss with no recovery
	// after it: the content from then on is unknown.
	unanchored bool
}

func (o *observation) base() int64 { return o.tail - int64(len(o.ids)) }

// at returns the message at off, and whether off is inside the observed
// range.
func (o *observation) at(off int64) (string, bool) {
	if off < o.base() || off >= o.tail {
		return "", false
	}
	return o.ids[off-o.base()], true
}

func (o *observation) name() string {
	switch {
	case o.unanchored:
		return "unrecovered power loss"
	case o.kind == workloads.OpFinal:
		return "final content"
	case o.rollback:
		return "recovered content after power loss"
	}
	return "recovered content"
}

type phaseMark struct {
	time  int64
	phase string
}

func dur(d time.Duration) int64 { return int64(d) }

// faultTarget is the broker (or process) a fault op hits.
func faultTarget(op *workloads.Op) string {
	if op.Broker != "" {
		return op.Broker
	}
	return op.Node
}

func analyze(ops []workloads.Op, opts *Options) *analysis {
	a := &analysis{
		opts:          opts,
		ops:           ops,
		brokers:       map[string]*brokerInfo{},
		queues:        map[QueueKey]*queueInfo{},
		sends:         map[string][]int{},
		livenessStart: -1,
		livenessEnd:   -1,
		stats:         map[string]int64{},
	}
	a.index()
	a.resolveBrokers()
	a.match()
	return a
}

func (a *analysis) finding(v Violation) {
	if v.Kind == 0 {
		v.Kind = Correctness
	}
	a.findings = append(a.findings, v)
}

func (a *analysis) broker(name string) *brokerInfo {
	b := a.brokers[name]
	if b == nil {
		b = &brokerInfo{name: name}
		a.brokers[name] = b
	}
	return b
}

func (a *analysis) queue(k QueueKey) *queueInfo {
	q := a.queues[k]
	if q == nil {
		q = &queueInfo{key: k, ignored: a.opts.systemTopic(k.Topic)}
		a.queues[k] = q
		a.broker(k.Broker)
	}
	return q
}

// isDelivery reports whether op handed a message to a consumer. A failed
// recv is a pull that failed on a record the client could not verify: no
// message was handed over (checkReads reports it).
func isDelivery(op *workloads.Op) bool {
	return op.Kind == workloads.OpRecv && op.Result != workloads.ResultFailed
}

func opQueue(op *workloads.Op) QueueKey {
	return QueueKey{Broker: op.Broker, Topic: op.Topic, Queue: op.Queue}
}

// index makes one pass over the history.
func (a *analysis) index() {
	var maxTime int64
	flushSeen := map[string]string{}
	flushOp := map[string]int64{}
	noteFlush := func(broker, flush string, seq int64) {
		if broker == "" || flush == "" {
			return
		}
		if prev, ok := flushSeen[broker]; ok && prev != flush {
			a.finding(Violation{Checker: CheckerHistory, Detail: fmt.Sprintf(
				"broker %s reported as %s and as %s", broker, prev, flush), Ops: []int64{flushOp[broker], seq}})
			return
		}
		flushSeen[broker], flushOp[broker] = flush, seq
	}
	var faultTargets []int // fault ops, resolved once brokers are known

	for i := range a.ops {
		op := &a.ops[i]
		inv, comp := dur(op.Invoke), dur(op.Complete)
		maxTime = max(maxTime, inv, comp)
		if comp < inv {
			a.finding(Violation{Checker: CheckerHistory, Detail: fmt.Sprintf(
				"%s op completes (%v) before it is invoked (%v)", op.Kind, op.Complete, op.Invoke), Ops: []int64{op.Seq}})
		}
		switch op.Kind {
		case workloads.OpSend:
			a.stats["ops.send"]++
			a.stats["ops.send."+op.Result]++
			if op.MsgID == "" {
				a.finding(Violation{Checker: CheckerHistory, Detail: "send without a message id", Ops: []int64{op.Seq}})
				continue
			}
			a.sends[op.MsgID] = append(a.sends[op.MsgID], i)
			if op.Result == workloads.ResultOK {
				if op.Broker == "" || op.Topic == "" {
					a.finding(Violation{Checker: CheckerHistory, MsgID: op.MsgID,
						Detail: "acknowledged send without broker or topic", Ops: []int64{op.Seq}})
				} else {
					q := a.queue(opQueue(op))
					q.instances = append(q.instances, &instance{
						msgID: op.MsgID, op: i, seq: op.Seq, process: op.Process,
						call: inv, ret: comp, offset: op.QueueOffset, acked: true, pinnedBy: -1,
					})
				}
			}
			if op.Result == workloads.ResultIndefinite && len(op.Maybe) == 0 {
				// The Maybe list is authoritative: an indefinite send that
				// lists no queue cannot have stored anything. Count it, as a
				// workload that forgets Maybe entries hides appends.
				a.stats["ops.send.indefinite_without_maybe"]++
			}
			for _, m := range op.Maybe {
				q := a.queue(QueueKey{Broker: m.Broker, Topic: op.Topic, Queue: m.Queue})
				q.instances = append(q.instances, &instance{
					msgID: op.MsgID, op: i, seq: op.Seq, process: op.Process,
					call: inv, ret: math.MaxInt64, offset: -1, pinnedBy: -1,
				})
			}
		case workloads.OpRecv:
			a.stats["ops.recv"]++
			if !isDelivery(op) {
				a.stats["ops.recv.failed"]++
				continue
			}
			if op.MsgID == "" || op.Broker == "" || op.Topic == "" {
				a.finding(Violation{Checker: CheckerHistory, MsgID: op.MsgID,
					Detail: "recv without message id, broker or topic", Ops: []int64{op.Seq}})
				continue
			}
			q := a.queue(opQueue(op))
			q.recvs = append(q.recvs, i)
		case workloads.OpCommit:
			a.stats["ops.commit"]++
			if op.Broker == "" || op.Topic == "" || op.Group == "" {
				a.finding(Violation{Checker: CheckerHistory, Detail: "commit without broker, topic or group", Ops: []int64{op.Seq}})
				continue
			}
			q := a.queue(opQueue(op))
			q.commits = append(q.commits, i)
		case workloads.OpRecovered:
			a.stats["ops.recovered"]++
			if op.Broker == "" || op.Topic == "" {
				a.finding(Violation{Checker: CheckerHistory, Detail: "recovered op without broker or topic", Ops: []int64{op.Seq}})
				continue
			}
			noteFlush(op.Broker, op.FlushDiskType, op.Seq)
			k := opQueue(op)
			a.queue(k)
			b := a.broker(op.Broker)
			// One recovery reports every queue at one instant; a new
			// instant is a new recovery.
			var g *recoveryGroup
			if n := len(b.recoveries); n > 0 && b.recoveries[n-1].time == inv {
				g = b.recoveries[n-1]
			} else {
				g = &recoveryGroup{time: inv, seq: op.Seq, ops: map[QueueKey]int{}}
				b.recoveries = append(b.recoveries, g)
			}
			if prev, dup := g.ops[k]; dup {
				a.finding(Violation{Checker: CheckerHistory, Queue: k,
					Detail: "one recovery reported the queue twice", Ops: []int64{a.ops[prev].Seq, op.Seq}})
			}
			g.ops[k] = i
		case workloads.OpFinal:
			a.stats["ops.final"]++
			if op.Broker == "" || op.Topic == "" {
				a.finding(Violation{Checker: CheckerHistory, Detail: "final op without broker or topic", Ops: []int64{op.Seq}})
				continue
			}
			k := opQueue(op)
			q := a.queue(k)
			for _, o := range q.observations {
				if o.kind == workloads.OpFinal {
					a.finding(Violation{Checker: CheckerHistory, Queue: k, Detail: "two final reads of one queue", Ops: []int64{o.seq, op.Seq}})
				}
			}
			q.observations = append(q.observations, observationOf(op))
			b := a.broker(op.Broker)
			b.hasFinal = true
			if inv >= b.finalTime {
				b.finalTime, b.finalSeq = inv, op.Seq
			}
			a.hasFinal = true
		case workloads.OpFault:
			a.stats["ops.fault"]++
			switch f := op.Fault; {
			case f == FaultLivenessStart:
				if a.livenessStart < 0 {
					a.livenessStart = i
				}
				a.phases = append(a.phases, phaseMark{inv, PhaseRecovery})
			case f == FaultLivenessEnd:
				if a.livenessEnd < 0 {
					a.livenessEnd = i
				}
			case f == FaultFaultPhaseStart:
				a.phases = append(a.phases, phaseMark{inv, PhaseFault})
			case strings.HasPrefix(f, FaultPhasePrefix):
				a.phases = append(a.phases, phaseMark{inv, strings.TrimPrefix(f, FaultPhasePrefix)})
			}
			noteFlush(faultTarget(op), op.FlushDiskType, op.Seq)
			faultTargets = append(faultTargets, i)
		default:
			a.finding(Violation{Checker: CheckerHistory, Detail: fmt.Sprintf("unknown op kind %q", op.Kind), Ops: []int64{op.Seq}})
		}
	}
	a.horizon = maxTime + 1

	// Brokers are now known (every broker the history names in a queue);
	// a fault that targets anything else hits a client.
	// A flush mode names a broker only if something else does too: fault
	// ops carry the run's mode whatever their target (a partition of the
	// name server, say).
	crashTargets := map[string]bool{}
	for _, i := range faultTargets {
		op := &a.ops[i]
		if slices.Contains(a.opts.crashFaults(), op.Fault) || slices.Contains(a.opts.powerLossFaults(), op.Fault) {
			crashTargets[faultTarget(op)] = true
		}
	}
	for _, name := range sortedKeys(flushSeen) {
		if a.brokers[name] == nil && !crashTargets[name] {
			continue
		}
		b := a.broker(name)
		b.flush, b.flushKnown = flushSeen[name], true
	}
	for name, flush := range a.opts.FlushDiskType {
		b := a.broker(name)
		b.flush, b.flushKnown = flush, true
	}
	for _, i := range faultTargets {
		op := &a.ops[i]
		b := a.brokers[faultTarget(op)]
		if b == nil {
			continue
		}
		e := event{dur(op.Invoke), op.Seq}
		if slices.Contains(a.opts.powerLossFaults(), op.Fault) {
			b.powerLosses = append(b.powerLosses, e)
		}
		if slices.Contains(a.opts.crashFaults(), op.Fault) {
			b.crashes = append(b.crashes, e)
		}
	}
	slices.SortStableFunc(a.phases, func(x, y phaseMark) int { return cmp.Compare(x.time, y.time) })
}

// observationOf reads an observation op. Holes at its end (workloads.HoleID)
// are offsets the store skipped at this recovery, so that none it may have
// shown before an unclean shutdown is reused: they are not content, and
// the observation is read as its content up to them plus a skip, which the
// queue model applies as the store did.
func observationOf(op *workloads.Op) *observation {
	ids := op.IDs
	skip := 0
	for len(ids) > 0 && ids[len(ids)-1] == workloads.HoleID {
		ids = ids[:len(ids)-1]
		skip++
	}
	return &observation{kind: op.Kind, time: dur(op.Invoke), seq: op.Seq, order: op.Seq,
		tail: op.Tail - int64(skip), ids: ids, skip: skip}
}

// resolveBrokers decides, per broker, which recoveries may roll queues
// back, fills in the queues a recovery or final read did not list (they
// were empty), and orders each queue's observations in time.
func (a *analysis) resolveBrokers() {
	for k := range a.queues {
		b := a.brokers[k.Broker]
		b.queues = append(b.queues, k)
	}
	for _, name := range sortedKeys(a.brokers) {
		b := a.brokers[name]
		slices.SortFunc(b.queues, compareQueues)
		if !b.flushKnown {
			b.flush = SyncFlush
		}
		a.stats["brokers."+strings.ToLower(b.flush)]++
		if n := len(b.powerLosses); n > 0 {
			a.stats["faults.power_loss"] += int64(n)
		}
		slices.SortStableFunc(b.powerLosses, func(x, y event) int { return cmp.Compare(x.time, y.time) })
		slices.SortStableFunc(b.crashes, func(x, y event) int { return cmp.Compare(x.time, y.time) })

		// A power loss belongs to the first recovery after it; history order
		// breaks ties in time (a broker may lose power at the very instant
		// it finished recovering).
		prev := event{math.MinInt64, math.MinInt64}
		for _, g := range b.recoveries {
			at := event{g.time, g.seq}
			if b.async() {
				for _, p := range b.powerLosses {
					if p.after(prev) && at.after(p) {
						g.rollback, g.powerLoss = true, p
						break
					}
				}
			}
			prev = at
			for _, k := range b.queues {
				q := a.queues[k]
				var o *observation
				if i, ok := g.ops[k]; ok {
					o = observationOf(&a.ops[i])
				} else {
					// A recovery lists every queue the store holds: one it
					// does not list is empty.
					o = &observation{kind: workloads.OpRecovered, time: g.time, seq: -1, order: g.seq}
				}
				o.rollback, o.powerLoss = g.rollback, g.powerLoss
				q.observations = append(q.observations, o)
			}
			if g.rollback {
				a.stats["faults.power_loss_rollbacks"]++
			}
		}
		if b.async() {
			for _, p := range b.powerLosses {
				if p.after(prev) {
					p := p
					b.unanchored = &p
					a.stats["faults.power_loss_unrecovered"]++
					for _, k := range b.queues {
						q := a.queues[k]
						q.observations = append(q.observations, &observation{
							time: p.time, seq: -1, order: p.seq, unanchored: true, powerLoss: p,
						})
					}
					break
				}
			}
		}
		if b.hasFinal {
			for _, k := range b.queues {
				q := a.queues[k]
				if !slices.ContainsFunc(q.observations, func(o *observation) bool { return o.kind == workloads.OpFinal }) {
					q.observations = append(q.observations, &observation{kind: workloads.OpFinal, time: b.finalTime, seq: -1, order: b.finalSeq})
				}
			}
		}
	}
	for _, q := range a.queues {
		slices.SortStableFunc(q.observations, func(x, y *observation) int {
			return cmp.Or(cmp.Compare(x.time, y.time), cmp.Compare(x.order, y.order))
		})
	}
}

// finalOf returns the queue's final observation, or nil.
func (q *queueInfo) finalOf() *observation {
	for _, o := range slices.Backward(q.observations) {
		if o.kind == workloads.OpFinal {
			return o
		}
	}
	return nil
}

// sortedQueues returns the queue keys in order.
func (a *analysis) sortedQueues() []QueueKey {
	keys := make([]QueueKey, 0, len(a.queues))
	for k := range a.queues {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareQueues)
	return keys
}

// sighting is the earliest moment some op saw a message at an offset.
type sighting struct {
	time int64
	seq  int64
	recv bool // a consumer's delivery, rather than a harness read
}

// match pins unacknowledged attempts to where they were seen, and clamps
// every append's completion to the first time it was seen. A message seen
// at offset o of a queue was appended there before the seeing op
// completed; an attempt with an unknown outcome that was seen is no longer
// unknown. This removes nondeterminism before porcupine sees the history:
// only attempts nobody ever saw stay "maybe".
func (a *analysis) match() {
	for _, k := range a.sortedQueues() {
		q := a.queues[k]
		if q.ignored {
			continue
		}
		seen := map[string]map[int64]sighting{}
		see := func(id string, off int64, s sighting) {
			m := seen[id]
			if m == nil {
				m = map[int64]sighting{}
				seen[id] = m
			}
			if prev, ok := m[off]; !ok || s.time < prev.time || (s.time == prev.time && s.seq < prev.seq) {
				m[off] = s
			}
		}
		for _, i := range q.recvs {
			op := &a.ops[i]
			see(op.MsgID, op.QueueOffset, sighting{dur(op.Complete), op.Seq, true})
		}
		for _, o := range q.observations {
			var holes []int64
			for j, id := range o.ids {
				if id == workloads.HoleID {
					continue // skipped by the store: no message, by design
				}
				if id == "" {
					holes = append(holes, o.base()+int64(j))
					continue
				}
				see(id, o.base()+int64(j), sighting{o.time, o.seq, false})
			}
			if len(holes) > 0 {
				a.finding(Violation{Checker: CheckerDurability, Queue: k, Detail: fmt.Sprintf(
					"the %s at %v has no readable message at offsets %s: the queue points at records that are gone or do not decode",
					o.name(), fmtTime(o.time), formatOffsets(holes)), Ops: []int64{o.seq}})
			}
		}
		byID := map[string][]*instance{}
		for _, in := range q.instances {
			byID[in.msgID] = append(byID[in.msgID], in)
		}
		for _, id := range sortedKeys(seen) {
			offs := sortedKeys64(seen[id])
			ins := byID[id]
			used := map[*instance]bool{}
			var rest []int64
			for _, off := range offs {
				s := seen[id][off]
				idx := slices.IndexFunc(ins, func(in *instance) bool { return in.acked && in.offset == off && !used[in] })
				if idx < 0 {
					rest = append(rest, off)
					continue
				}
				in := ins[idx]
				used[in] = true
				if s.time < in.call {
					a.seenBeforeSent(k, id, off, s, in)
					continue
				}
				in.ret = min(in.ret, s.time)
			}
			for _, off := range rest {
				s := seen[id][off]
				idx := slices.IndexFunc(ins, func(in *instance) bool { return !in.acked && !used[in] && in.call <= s.time })
				if idx >= 0 {
					in := ins[idx]
					used[in] = true
					in.offset, in.ret, in.pinnedBy = off, s.time, s.seq
					a.stats["queue-log.appends.pinned"]++
					continue
				}
				a.unexplained(k, id, off, s, ins, used)
			}
		}
	}
}

func (a *analysis) seenBeforeSent(k QueueKey, id string, off int64, s sighting, in *instance) {
	checker, who := CheckerQueueLog, "a harness read"
	if s.recv {
		checker, who = CheckerReads, "a consumer"
	}
	a.finding(Violation{Checker: checker, Queue: k, MsgID: id, Detail: fmt.Sprintf(
		"%s saw the message at offset %d at %v, before its send was invoked at %v",
		who, off, fmtTime(s.time), fmtTime(in.call)), Ops: []int64{s.seq, in.seq}})
}

// unexplained reports a message seen at an offset that no attempt can
// account for: never sent (a phantom), never sent to this queue, or seen
// at more offsets than attempts went to the queue (a duplicate append).
func (a *analysis) unexplained(k QueueKey, id string, off int64, s sighting, ins []*instance, used map[*instance]bool) {
	checker, who := CheckerQueueLog, "the queue's content holds"
	if s.recv {
		checker, who = CheckerReads, "a consumer was handed"
	}
	v := Violation{Checker: checker, Queue: k, MsgID: id, Ops: []int64{s.seq}}
	switch {
	case len(a.sends[id]) == 0:
		v.Detail = fmt.Sprintf("%s a phantom at offset %d: no send carried this message id", who, off)
	case len(ins) == 0:
		v.Detail = fmt.Sprintf("%s the message at offset %d, but no attempt to send it went to this queue", who, off)
		for _, i := range a.sends[id] {
			v.Ops = append(v.Ops, a.ops[i].Seq)
		}
	default:
		late := false
		for _, in := range ins {
			v.Ops = append(v.Ops, in.seq)
			if !used[in] && in.call > s.time {
				late = true
			}
		}
		if late {
			v.Detail = fmt.Sprintf("%s the message at offset %d at %v, before its send was invoked", who, off, fmtTime(s.time))
		} else {
			var where []string
			for _, in := range ins {
				if in.offset >= 0 {
					where = append(where, fmt.Sprint(in.offset))
				}
			}
			v.Detail = fmt.Sprintf("%s the message at offset %d too, but its %d attempt(s) on this queue are all accounted for (at offsets %s): a duplicate append, or an acknowledgement naming the wrong offset",
				who, off, len(ins), strings.Join(where, ","))
		}
	}
	a.finding(v)
}

func sortedKeys64[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// phaseAt returns the phase in force at virtual time t.
func (a *analysis) phaseAt(t int64) string {
	phase := PhaseNoFault
	for _, m := range a.phases {
		if m.time > t {
			break
		}
		phase = m.phase
	}
	return phase
}

// fmtTime prints a virtual time as a duration since the run began.
func fmtTime(t int64) string {
	if t == math.MaxInt64 {
		return "never"
	}
	return time.Duration(t).String()
}
