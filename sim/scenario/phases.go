package scenario

import (
	"strconv"
	"time"

	"github.com/thrustmq/thrust/faults"
	"github.com/thrustmq/thrust/sim"
	"github.com/thrustmq/thrust/sim/cluster"
	"github.com/thrustmq/thrust/workloads"
)

// safety runs the workload with the drawn faults.
func (r *run) safety() {
	for _, ev := range r.cfg.Faults {
		r.w.At(ev.At, func() { r.apply(ev) })
	}
	for _, cr := range r.cfg.ConsumerRestarts {
		m := r.members[cr.Group][cr.Member]
		r.w.At(cr.At, func() { r.restartMember(m, cr.Down) })
	}
	// A supervisor restarts a broker whose store fenced itself after a
	// failed sync, as an operator (or systemd) would.
	var supervise func()
	supervise = func() {
		for _, b := range r.cl.Brokers {
			if b.Broker == nil && b.StartErr != nil && b.Host.Running() {
				// The broker refused to start (its store could not be
				// opened): end the process and try again, as systemd would.
				r.probes[ProbeStartFailedRetried]++
				b.StartErr = nil
				r.cl.CrashBroker(b, sim.ProcessCrash)
				r.w.Schedule(time.Second, func() { r.restartBroker(b) })
				continue
			}
			if b.Broker != nil && b.Broker.Store().Fenced() != nil {
				r.probes[ProbeFencedStore]++
				r.fault(string(faults.ProcessCrash), b.Name)
				r.cl.CrashBroker(b, sim.ProcessCrash)
				r.w.Schedule(time.Second, func() { r.restartBroker(b) })
			}
		}
		r.w.Schedule(time.Second, supervise)
	}
	r.w.Schedule(time.Second, supervise)
	r.fault(faultPhaseStart, "")
	r.w.Run(r.cfg.Safety)
}

// Phase markers the checkers know.
const (
	faultPhaseStart = "fault-phase-start"
	livenessStart   = "liveness-start"
	livenessEnd     = "liveness-end"
)

func (r *run) brokerNode(name string) *cluster.BrokerNode { return r.cl.Broker(name) }

// apply injects one scheduled fault and counts the dangerous states it
// catches the system in.
func (r *run) apply(ev faults.Event) {
	switch ev.Kind {
	case faults.ProcessCrash, faults.PowerLoss:
		b := r.brokerNode(ev.Node)
		if b == nil || b.Broker == nil {
			return
		}
		st := b.Broker.Store()
		if st.PendingAcks() > 0 || r.sendsInFlight() > 0 {
			r.probes[ProbeCrashBetweenAppendAndAck]++
		}
		kind := sim.ProcessCrash
		if ev.Kind == faults.PowerLoss {
			kind = sim.PowerLoss
			if st.UnsyncedBytes() > 0 {
				r.probes[ProbePowerLossLostUnsynced]++
			}
		}
		r.fault(string(ev.Kind), b.Name)
		r.cl.CrashBroker(b, kind)
		r.w.Schedule(ev.Down, func() { r.restartBroker(b) })
	case faults.Partition, faults.PartitionOneWay, faults.Isolate:
		a := r.w.Host(ev.Node)
		if a == nil {
			return
		}
		if r.heldPulls(ev.Node, ev.Peer) {
			r.probes[ProbePartitionedLongPoll]++
		}
		r.fault(string(ev.Kind), ev.Node+"|"+ev.Peer)
		switch ev.Kind {
		case faults.Partition:
			r.w.Partition(a, r.w.Host(ev.Peer))
		case faults.PartitionOneWay:
			r.w.PartitionOneWay(a, r.w.Host(ev.Peer))
		case faults.Isolate:
			r.w.Isolate(a)
		}
	case faults.Heal:
		r.fault(string(ev.Kind), "")
		r.w.Heal()
	case faults.ClockStep:
		h := r.w.Host(ev.Node)
		if h == nil {
			return
		}
		if ev.Delta < 0 {
			r.probes[ProbeClockSteppedBack]++
		}
		r.fault(string(ev.Kind), ev.Node)
		h.StepClock(ev.Delta)
	}
}

func (r *run) restartBroker(b *cluster.BrokerNode) {
	if b.Host.Running() {
		return
	}
	r.fault("restart", b.Name)
	r.cl.StartBroker(b)
}

func (r *run) sendsInFlight() int {
	n := 0
	for _, p := range r.prods {
		n += p.InFlight()
	}
	return n
}

// heldPulls reports whether a broker among the named hosts holds a pull.
func (r *run) heldPulls(names ...string) bool {
	for _, b := range r.cl.Brokers {
		for _, n := range names {
			if b.Name == n && b.Broker != nil && b.Broker.HeldPulls() > 0 {
				return true
			}
		}
		if len(names) == 1 || names[1] == "" {
			// Isolating a client host partitions every broker's pulls from it.
			if b.Broker != nil && b.Broker.HeldPulls() > 0 {
				return true
			}
		}
	}
	return false
}

// liveness stops the faults, heals, restarts what is down, stops the
// producers and waits, up to the drawn bound, for every group to consume
// and commit everything. Then the harness reads every queue.
func (r *run) liveness() {
	r.inLive = true
	r.w.SetFaults(false)
	r.w.Heal()
	r.fault(livenessStart, "")
	for _, p := range r.prods {
		p.Stop()
	}
	for _, b := range r.cl.Brokers {
		if b.Broker == nil && b.Host.Running() {
			// Down after a failed start: the supervisor's retry may not
			// have come yet.
			r.cl.CrashBroker(b, sim.ProcessCrash)
		}
		r.restartBroker(b)
	}
	for _, ms := range r.members {
		for _, m := range ms {
			if !m.up && !m.host.Running() {
				r.startMember(m)
			}
		}
	}
	deadline := r.w.Now() + r.cfg.Liveness
	r.w.RunUntil(r.converged, deadline)
	r.fault(livenessEnd, "")
	for _, b := range r.cl.Brokers {
		if b.Broker != nil {
			r.observe(b, workloads.OpFinal)
		}
	}
}

// converged: every producer is quiet, every broker up, and every clustering
// group's acknowledged commits (every broadcasting member's deliveries)
// reach each queue's tail.
func (r *run) converged() bool {
	// RunUntil asks after every event; the answer only needs to be fresh
	// to the 100 ms.
	if r.w.Now() < r.nextConvergeCheck {
		return false
	}
	r.nextConvergeCheck = r.w.Now() + 100*time.Millisecond
	if r.sendsInFlight() > 0 {
		return false
	}
	for _, b := range r.cl.Brokers {
		if b.Broker == nil {
			return false
		}
	}
	for _, ms := range r.members {
		for _, m := range ms {
			if !m.up || m.cons == nil {
				return false
			}
		}
	}
	ops := r.hist.Ops()
	for ; r.scanned < len(ops); r.scanned++ {
		op := &ops[r.scanned]
		switch op.Kind {
		case workloads.OpCommit:
			if op.Result == workloads.ResultOK {
				k := op.Group + "|" + op.Broker + "|" + itoa(op.Queue)
				r.committed[k] = max(r.committed[k], op.Offset)
			}
		case workloads.OpRecv:
			k := op.Group + "|" + op.Process + "|" + op.Broker + "|" + itoa(op.Queue)
			r.delivered[k] = max(r.delivered[k], op.QueueOffset+1)
		}
	}
	for _, b := range r.cl.Brokers {
		st := b.Broker.Store()
		for _, q32 := range st.QueueIDs(r.cfg.Topic) {
			q := int(q32)
			tail := st.MaxOffsetInQueue(r.cfg.Topic, q32)
			for gi, g := range r.cfg.Groups {
				if g.Broadcast {
					for _, m := range r.members[gi] {
						if r.delivered[g.Name+"|"+m.host.Name()+"|"+b.Name+"|"+itoa(q)] < tail {
							return false
						}
					}
				} else if r.committed[g.Name+"|"+b.Name+"|"+itoa(q)] < tail {
					return false
				}
			}
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }
