package linearizability

import (
	"cmp"
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/thrustmq/thrust/workloads"
)

// generate runs a small, correct message broker in virtual time and
// records its history: several brokers (one SYNC_FLUSH, the others
// ASYNC_FLUSH), open-loop producers whose requests and acknowledgements
// get lost (indefinite sends, retries to other queues), consumers in
// clustering and broadcasting groups that commit offsets, process crashes
// and power losses of brokers (an ASYNC_FLUSH power loss keeps a random
// part of the unsynced suffix), consumer restarts, a liveness phase and
// the final reads. Everything it does is allowed, so the checkers must
// pass it; bugs then plant one violation each.
type genConfig struct {
	seed      uint64
	sends     int
	producers int
	queues    int // per broker
	bugs      []string
}

const (
	genTick          = time.Millisecond
	genTimeout       = 30 * time.Millisecond
	genFlushInterval = 40 * time.Millisecond
	genPersist       = 20 * time.Millisecond
	genPersistWindow = 25 * time.Millisecond
)

type gEvent struct {
	at  time.Duration
	n   int
	run func()
}

type gHeap []gEvent

func (h gHeap) Len() int { return len(h) }
func (h gHeap) Less(i, j int) bool {
	return cmp.Or(cmp.Compare(h[i].at, h[j].at), cmp.Compare(h[i].n, h[j].n)) < 0
}
func (h gHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *gHeap) Push(x any)   { *h = append(*h, x.(gEvent)) }
func (h *gHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type gBroker struct {
	name      string
	flush     string
	up        bool
	queues    []*gQueue
	offsets   map[string]int64 // group/queue -> committed (in memory)
	persisted map[string]int64
}

type gQueue struct {
	key    QueueKey
	broker *gBroker
	log    []string
	synced int
	// epoch counts rollbacks, so that a pull answered from before one is
	// dropped by the consumer.
	epoch int
}

type gConsumer struct {
	name, group string
	queues      []*gQueue
	pos         map[*gQueue]int64
	epoch       map[*gQueue]int
	restarts    int
}

type gen struct {
	t         *testing.T
	rng       *rand.Rand
	now       time.Duration
	events    gHeap
	n         int
	recs      []workloads.Op
	brokers   []*gBroker
	queues    []*gQueue
	consumers []*gConsumer
	faults    bool
	producing bool
}

func (g *gen) at(d time.Duration, f func()) {
	g.n++
	heap.Push(&g.events, gEvent{g.now + d, g.n, f})
}

func (g *gen) delay() time.Duration { return time.Duration(1+g.rng.IntN(4)) * genTick }

// record keeps op; ops are ordered by completion (the time the history
// learns of them) at the end.
func (g *gen) record(op workloads.Op) { g.recs = append(g.recs, op) }

func (g *gen) fault(name, node, flush string) {
	g.record(workloads.Op{Kind: workloads.OpFault, Fault: name, Node: node, FlushDiskType: flush, Invoke: g.now, Complete: g.now})
}

func generate(t *testing.T, cfg genConfig) []workloads.Op {
	t.Helper()
	if cfg.producers == 0 {
		cfg.producers = 4
	}
	if cfg.queues == 0 {
		cfg.queues = 3
	}
	g := &gen{t: t, rng: rand.New(rand.NewPCG(cfg.seed, 0x7468727573746d71)), faults: true, producing: true}
	for i, flush := range []string{SyncFlush, AsyncFlush, AsyncFlush} {
		b := &gBroker{name: fmt.Sprintf("broker-%d", i), flush: flush, up: true, offsets: map[string]int64{}, persisted: map[string]int64{}}
		for qi := range cfg.queues {
			q := &gQueue{key: QueueKey{b.name, "T", qi}, broker: b}
			b.queues = append(b.queues, q)
			g.queues = append(g.queues, q)
		}
		g.brokers = append(g.brokers, b)
		for _, q := range b.queues {
			g.record(workloads.Op{Kind: workloads.OpRecovered, Broker: b.name, Topic: "T", Queue: q.key.Queue, FlushDiskType: flush})
		}
	}
	// Two clustering groups (two members and one) and a broadcasting one.
	for _, spec := range []struct {
		group   string
		members int
		bcast   bool
	}{{"g1", 2, false}, {"g2", 1, false}, {"bc", 2, true}} {
		for m := range spec.members {
			c := &gConsumer{name: fmt.Sprintf("%s-c%d", spec.group, m), group: spec.group,
				pos: map[*gQueue]int64{}, epoch: map[*gQueue]int{}}
			for i, q := range g.queues {
				if spec.bcast || i%spec.members == m {
					c.queues = append(c.queues, q)
				}
			}
			g.consumers = append(g.consumers, c)
		}
	}

	perProducer := cfg.sends / cfg.producers
	for p := range cfg.producers {
		g.produce(fmt.Sprintf("p%d", p), perProducer, 0)
	}
	for _, c := range g.consumers {
		for _, q := range c.queues {
			g.pullLoop(c, q)
		}
		g.commitLoop(c)
	}
	for _, b := range g.brokers {
		g.flushLoop(b)
	}
	safety := time.Duration(perProducer) * 2 * genTick
	g.at(50*genTick, func() {
		g.fault(FaultFaultPhaseStart, "", "")
		g.faultLoop(safety)
	})
	g.at(safety+20*genTick, func() {
		g.faults = false
		g.fault(FaultLivenessStart, "", "")
		for _, b := range g.brokers {
			if !b.up {
				g.recover(b)
			}
		}
	})
	end := safety + 300*genTick
	g.at(end, func() {
		g.fault(FaultLivenessEnd, "", "")
		for _, q := range g.queues {
			if len(q.log) == 0 && g.rng.IntN(2) == 0 {
				continue // a final read may leave empty queues out
			}
			g.record(workloads.Op{Kind: workloads.OpFinal, Broker: q.key.Broker, Topic: "T", Queue: q.key.Queue,
				Tail: int64(len(q.log)), IDs: slices.Clone(q.log), Invoke: g.now, Complete: g.now})
		}
		g.events = nil
	})
	for len(g.events) > 0 {
		e := heap.Pop(&g.events).(gEvent)
		g.now = e.at
		e.run()
	}
	slices.SortStableFunc(g.recs, func(x, y workloads.Op) int { return cmp.Compare(x.Complete, y.Complete) })
	var h workloads.History
	for _, op := range g.recs {
		h.Add(op)
	}
	ops := h.Ops()
	for _, bug := range cfg.bugs {
		var ok bool
		if ops, ok = plant(g.rng, ops, bug); !ok {
			t.Fatalf("seed %d: cannot plant %q", cfg.seed, bug)
		}
	}
	return ops
}

// produce is one open-loop producer: a send every 2ms of virtual time,
// whatever happened to the previous ones.
func (g *gen) produce(name string, left, n int) {
	if left == 0 || !g.producing {
		return
	}
	g.at(time.Duration(1+g.rng.IntN(3))*genTick, func() {
		if !g.faults {
			return // the liveness phase sends nothing new
		}
		op := workloads.Op{Kind: workloads.OpSend, Process: name, MsgID: fmt.Sprintf("%s-%d", name, n), Topic: "T", Invoke: g.now}
		g.attempt(&op, 0)
		g.produce(name, left-1, n+1)
	})
}

// attempt sends op to a random queue: the request may be lost, the broker
// may be down (a clean failure), or the ack may be lost; a lost request or
// ack is an unknown outcome, which the producer may retry elsewhere.
func (g *gen) attempt(op *workloads.Op, tries int) {
	q := g.queues[g.rng.IntN(len(g.queues))]
	done := func() { g.record(*op) }
	giveUp := func(maybe bool) {
		if maybe {
			op.Maybe = append(op.Maybe, workloads.QueueRef{Broker: q.key.Broker, Queue: q.key.Queue})
		}
		if tries < 2 && g.rng.IntN(2) == 0 {
			g.attempt(op, tries+1)
			return
		}
		op.Complete = g.now
		op.Result = workloads.ResultFailed
		if len(op.Maybe) > 0 {
			op.Result = workloads.ResultIndefinite
		}
		done()
	}
	if g.rng.IntN(20) == 0 {
		g.at(genTimeout, func() { giveUp(true) }) // request lost
		return
	}
	g.at(g.delay(), func() {
		b := q.broker
		if !b.up {
			g.at(g.delay(), func() { giveUp(false) }) // refused: nothing stored
			return
		}
		off := int64(len(q.log))
		q.log = append(q.log, op.MsgID)
		if b.flush == SyncFlush {
			q.synced = len(q.log)
		}
		if g.rng.IntN(20) == 0 {
			g.at(genTimeout, func() { giveUp(true) }) // ack lost
			return
		}
		g.at(g.delay(), func() {
			op.Result, op.Complete = workloads.ResultOK, g.now
			op.Broker, op.Queue, op.QueueOffset = q.key.Broker, q.key.Queue, off
			done()
		})
	})
}

func (g *gen) flushLoop(b *gBroker) {
	g.at(genFlushInterval, func() {
		if b.up {
			for _, q := range b.queues {
				q.synced = len(q.log)
			}
		}
		g.flushLoop(b)
	})
	g.at(genPersist, func() { g.persistLoop(b) })
}

func (g *gen) persistLoop(b *gBroker) {
	if b.up {
		for k, v := range b.offsets {
			b.persisted[k] = v
		}
	}
	g.at(genPersist, func() { g.persistLoop(b) })
}

func (g *gen) faultLoop(until time.Duration) {
	g.at(time.Duration(40+g.rng.IntN(60))*genTick, func() {
		if !g.faults || g.now > until {
			return
		}
		switch g.rng.IntN(4) {
		case 0: // a consumer restarts from the committed offsets
			c := g.consumers[g.rng.IntN(len(g.consumers))]
			g.fault(FaultProcessCrash, c.name, "")
			c.restarts++
			for _, q := range c.queues {
				committed, ok := q.broker.offsets[offsetKeyOf(c, q)]
				if !ok {
					committed = 0
				}
				c.pos[q] = min(committed, int64(len(q.log)))
				c.epoch[q]++ // drop answers to pulls sent before
			}
		default:
			b := g.brokers[g.rng.IntN(len(g.brokers))]
			if !b.up {
				break
			}
			b.up = false
			kind := FaultProcessCrash
			if g.rng.IntN(2) == 0 {
				kind = FaultPowerLoss
			}
			g.fault(kind, b.name, b.flush)
			b.offsets = map[string]int64{}
			for k, v := range b.persisted {
				b.offsets[k] = v
			}
			if kind == FaultPowerLoss {
				for _, q := range b.queues {
					if q.synced < len(q.log) {
						keep := q.synced + g.rng.IntN(len(q.log)-q.synced+1)
						if keep < len(q.log) {
							q.log = q.log[:keep]
							q.epoch++
						}
					}
					q.synced = len(q.log)
				}
			}
			g.at(time.Duration(20+g.rng.IntN(40))*genTick, func() {
				if !b.up {
					g.recover(b)
				}
			})
		}
		g.faultLoop(until)
	})
}

func (g *gen) recover(b *gBroker) {
	b.up = true
	for _, q := range b.queues {
		// An ideal broker tells consumers past the new tail to come back:
		// RocketMQ's OFFSET_MOVED, done eagerly so that no consumer skips
		// what is appended at offsets it had already passed.
		for _, c := range g.consumers {
			if p, ok := c.pos[q]; ok && p > int64(len(q.log)) {
				c.pos[q] = int64(len(q.log))
			}
		}
		if len(q.log) == 0 && q.key.Queue > 0 && g.rng.IntN(2) == 0 {
			continue // recoveries may leave empty queues out
		}
		g.record(workloads.Op{Kind: workloads.OpRecovered, Broker: b.name, Topic: "T", Queue: q.key.Queue,
			FlushDiskType: b.flush, Tail: int64(len(q.log)), IDs: slices.Clone(q.log), Invoke: g.now, Complete: g.now})
	}
}

func offsetKeyOf(c *gConsumer, q *gQueue) string {
	if c.group == "bc" {
		return c.name + "/" + q.key.String()
	}
	return c.group + "/" + q.key.String()
}

// pullLoop pulls one queue for one consumer: up to 32 messages from its
// position, answered after a network delay.
func (g *gen) pullLoop(c *gConsumer, q *gQueue) {
	g.at(time.Duration(5+g.rng.IntN(10))*genTick, func() {
		invoke := g.now
		epoch, restart := q.epoch, c.epoch[q]
		g.at(g.delay(), func() {
			if !q.broker.up {
				g.pullLoop(c, q)
				return
			}
			from := c.pos[q]
			to := min(int64(len(q.log)), from+32)
			var ids []string
			if from < to {
				ids = slices.Clone(q.log[from:to])
			}
			g.at(g.delay(), func() {
				if q.epoch != epoch || c.epoch[q] != restart || c.pos[q] != from {
					g.pullLoop(c, q) // answered from before a rollback or restart: dropped
					return
				}
				for i, id := range ids {
					g.record(workloads.Op{Kind: workloads.OpRecv, Process: c.name, Group: c.group, MsgID: id, BodyOK: true,
						Broker: q.key.Broker, Topic: "T", Queue: q.key.Queue, QueueOffset: from + int64(i),
						Invoke: invoke, Complete: g.now})
				}
				c.pos[q] = from + int64(len(ids))
				g.pullLoop(c, q)
			})
		})
	})
}

func (g *gen) commitLoop(c *gConsumer) {
	g.at(time.Duration(20+g.rng.IntN(20))*genTick, func() {
		for _, q := range c.queues {
			pos, ok := c.pos[q]
			if !ok {
				continue
			}
			invoke, restarts := g.now, c.restarts
			g.at(g.delay(), func() {
				if !q.broker.up {
					return
				}
				// An ideal broker clamps a commit to the tail: one sent
				// before a rollback must not make the group skip what is
				// appended at the offsets the rollback freed.
				q.broker.offsets[offsetKeyOf(c, q)] = min(pos, int64(len(q.log)))
				g.at(g.delay(), func() {
					if c.restarts != restarts {
						return // the process that committed is gone: nobody heard the ack
					}
					g.record(workloads.Op{Kind: workloads.OpCommit, Process: c.name, Group: c.group, Result: workloads.ResultOK,
						Broker: q.key.Broker, Topic: "T", Queue: q.key.Queue, Offset: pos, Invoke: invoke, Complete: g.now})
				})
			})
		}
		g.commitLoop(c)
	})
}

// genOptions are the options a generated history is checked with.
func genOptions() Options {
	return Options{BroadcastGroups: []string{"bc"}, OffsetPersistWindow: genPersistWindow}
}

// Planted bugs: each breaks a valid history the way a broken broker,
// client or store would, and names the checker that must notice.
var plantedBugs = []struct {
	name    string
	checker string
	kind    Kind
}{
	{"lose-acked", CheckerDurability, Correctness},       // SYNC_FLUSH final read misses an acked message
	{"lose-acked-async", CheckerDurability, Correctness}, // ASYNC_FLUSH, no power loss to explain it
	{"async-hole", CheckerDurability, Correctness},       // a recovery after power loss keeps a survivor above a lost one
	{"dup-offset", CheckerQueueLog, Correctness},         // two acks name one offset
	{"inversion", CheckerQueueLog, Correctness},          // offsets against real-time order
	{"phantom", CheckerReads, Correctness},               // a delivery no send explains
	{"corrupt", CheckerReads, Correctness},               // a torn record served
	{"reorder", CheckerOrder, Correctness},               // a pull served out of order
	{"stale-pull", CheckerRedelivery, Correctness},       // a pull served from below the committed offset
	{"skip", CheckerCompleteness, Liveness},              // a group never handed one offset
	{"lag", CheckerCompleteness, Liveness},               // the last commit short of the tail
}

// plant breaks ops in the named way; ok is false if this history offers
// no place to do it.
func plant(rng *rand.Rand, ops []workloads.Op, bug string) ([]workloads.Op, bool) {
	ops = slices.Clone(ops)
	acked := map[string]*workloads.Op{} // "broker/queue/offset" -> ok send
	for i := range ops {
		if op := &ops[i]; op.Kind == workloads.OpSend && op.Result == workloads.ResultOK {
			acked[fmt.Sprintf("%s/%d/%d", op.Broker, op.Queue, op.QueueOffset)] = op
		}
	}
	pick := func(pred func(op *workloads.Op) bool) *workloads.Op {
		var cands []*workloads.Op
		for i := range ops {
			if pred(&ops[i]) {
				cands = append(cands, &ops[i])
			}
		}
		if len(cands) == 0 {
			return nil
		}
		return cands[rng.IntN(len(cands))]
	}
	hasFault := func(broker string) bool {
		return slices.ContainsFunc(ops, func(op workloads.Op) bool { return op.Kind == workloads.OpFault && op.Node == broker })
	}
	loseLast := func(broker string) bool {
		f := pick(func(op *workloads.Op) bool {
			return op.Kind == workloads.OpFinal && op.Broker == broker && len(op.IDs) > 0 &&
				acked[fmt.Sprintf("%s/%d/%d", op.Broker, op.Queue, op.Tail-1)] != nil
		})
		if f == nil {
			return false
		}
		f.IDs = slices.Clone(f.IDs[:len(f.IDs)-1])
		f.Tail--
		return true
	}
	renumber := func() []workloads.Op {
		slices.SortStableFunc(ops, func(x, y workloads.Op) int { return cmp.Compare(x.Complete, y.Complete) })
		var h workloads.History
		for _, op := range ops {
			h.Add(op)
		}
		return h.Ops()
	}

	switch bug {
	case "lose-acked":
		return ops, loseLast("broker-0")
	case "lose-acked-async":
		for _, b := range []string{"broker-1", "broker-2"} {
			if !hasFault(b) && loseLast(b) {
				return ops, true
			}
		}
		return ops, false
	case "async-hole":
		r := pick(func(op *workloads.Op) bool {
			return op.Kind == workloads.OpRecovered && op.FlushDiskType == AsyncFlush && len(op.IDs) >= 3 && op.Invoke > 0
		})
		if r == nil {
			return ops, false
		}
		k := 1 + rng.IntN(len(r.IDs)-2)
		r.IDs = append(slices.Clone(r.IDs[:k]), r.IDs[k+1:]...)
		r.Tail--
		return ops, true
	case "dup-offset":
		s := pick(func(op *workloads.Op) bool {
			return op.Kind == workloads.OpSend && op.Result == workloads.ResultOK && op.QueueOffset > 0 && op.Broker == "broker-0"
		})
		if s == nil {
			return ops, false
		}
		s.QueueOffset--
		return ops, true
	case "inversion":
		// Swap the time windows of two acked sends to one queue that did not
		// overlap, nobody having seen either before the later one began:
		// the later offset then completes before the earlier one starts.
		seen := map[string]time.Duration{}
		for _, op := range ops {
			if op.Kind == workloads.OpRecv {
				if t, ok := seen[op.MsgID]; !ok || op.Complete < t {
					seen[op.MsgID] = op.Complete
				}
			}
		}
		for i := range ops {
			a := &ops[i]
			if a.Kind != workloads.OpSend || a.Result != workloads.ResultOK || a.Broker != "broker-0" {
				continue
			}
			b := acked[fmt.Sprintf("%s/%d/%d", a.Broker, a.Queue, a.QueueOffset+1)]
			if b == nil || a.Complete >= b.Invoke || len(a.Maybe)+len(b.Maybe) > 0 {
				continue
			}
			if t, ok := seen[a.MsgID]; ok && t < b.Complete {
				continue
			}
			if t, ok := seen[b.MsgID]; ok && t < b.Complete {
				continue
			}
			a.Invoke, a.Complete, b.Invoke, b.Complete = b.Invoke, b.Complete, a.Invoke, a.Complete
			return renumber(), true
		}
		return ops, false
	case "phantom":
		r := pick(func(op *workloads.Op) bool { return op.Kind == workloads.OpRecv })
		if r == nil {
			return ops, false
		}
		r.MsgID = "ghost"
		return ops, true
	case "corrupt":
		r := pick(func(op *workloads.Op) bool { return op.Kind == workloads.OpRecv })
		if r == nil {
			return ops, false
		}
		r.BodyOK = false
		return ops, true
	case "reorder":
		for i := 1; i < len(ops); i++ {
			a, b := &ops[i-1], &ops[i]
			if a.Kind == workloads.OpRecv && b.Kind == workloads.OpRecv && a.Process == b.Process &&
				opQueue(a) == opQueue(b) && a.Complete == b.Complete && rng.IntN(4) == 0 {
				a.MsgID, b.MsgID = b.MsgID, a.MsgID
				a.QueueOffset, b.QueueOffset = b.QueueOffset, a.QueueOffset
				return ops, true
			}
		}
		return ops, false
	case "stale-pull":
		// Hand a clustering member again a message below an offset its
		// group committed, well after the commit and with no broker crash
		// that could have lost it.
		for i := range ops {
			c := &ops[i]
			if c.Kind != workloads.OpCommit || c.Group == "bc" || c.Offset < 2 || hasFault(c.Broker) {
				continue
			}
			for j := range i {
				r := ops[j]
				if r.Kind == workloads.OpRecv && r.Group == c.Group && opQueue(&r) == opQueue(c) && r.QueueOffset < c.Offset {
					r.Invoke, r.Complete = c.Complete+genTick, c.Complete+2*genTick
					r.Process = c.Process
					ops = append(ops, r)
					return renumber(), true
				}
			}
		}
		return ops, false
	case "skip":
		// g2 has one member: drop every delivery of one offset to it.
		r := pick(func(op *workloads.Op) bool { return op.Kind == workloads.OpRecv && op.Group == "g2" })
		if r == nil {
			return ops, false
		}
		k, off := opQueue(r), r.QueueOffset
		ops = slices.DeleteFunc(ops, func(op workloads.Op) bool {
			return op.Kind == workloads.OpRecv && op.Group == "g2" && opQueue(&op) == k && op.QueueOffset == off
		})
		return renumber(), true
	case "lag":
		// Drop every commit of g2's last committed offset of one queue.
		c := pick(func(op *workloads.Op) bool { return op.Kind == workloads.OpCommit && op.Group == "g2" && op.Offset > 0 })
		if c == nil {
			return ops, false
		}
		k, last := opQueue(c), c.Offset
		for _, op := range ops {
			if op.Kind == workloads.OpCommit && op.Group == "g2" && opQueue(&op) == k {
				last = op.Offset
			}
		}
		ops = slices.DeleteFunc(ops, func(op workloads.Op) bool {
			return op.Kind == workloads.OpCommit && op.Group == "g2" && opQueue(&op) == k && op.Offset == last
		})
		return renumber(), true
	}
	panic("unknown bug " + bug)
}
