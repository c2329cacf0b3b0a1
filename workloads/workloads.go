package workloads

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/client"
	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
)

// PropertyWorkloadID carries a message's workload id, so that every
// consumer and checker can name it without trusting anything else.
const PropertyWorkloadID = "WID"

// Recorder appends ops to a history, stamping them with a clock common to
// every process of the run (in the simulator: the world's virtual time).
type Recorder struct {
	H   *History
	Now func() time.Duration
}

func (r *Recorder) add(op Op) { r.H.Add(op) }

// Body returns the body of the message whose workload id is id: derived
// from the id alone, so a consumer can tell an intact body from a torn one.
func Body(id string, size int) []byte {
	b := make([]byte, size)
	h := fnv.New64a()
	h.Write([]byte(id))
	x := h.Sum64() | 1
	n := copy(b, id)
	for i := n; i < size; i++ {
		// xorshift: cheap, and every byte depends on the id.
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// ProducerSpec describes one open-loop producer.
type ProducerSpec struct {
	Name  string
	Topic string
	// Rate is messages per second: message k is due at k/Rate after the
	// producer starts, whether or not earlier sends have completed (open
	// loop), and its Invoke is that intended time, so latency includes any
	// time the producer fell behind (coordinated omission).
	Rate float64
	// Size is the body size in bytes (at least the id's length).
	Size int
	// Tags are cycled through, one per message.
	Tags []string
	// MaxInFlight bounds sends awaiting their result; beyond it, due
	// sends wait (and their latency shows it).
	MaxInFlight int
}

// Producer sends a workload's messages and records each send.
type Producer struct {
	env      host.Env
	c        *client.Client
	rec      *Recorder
	spec     ProducerSpec
	start    time.Duration
	next     int
	inFlight int
	stopped  bool
	timer    host.Timer
	// Sent counts sends by outcome.
	Sent map[client.Outcome]int
}

// StartProducer begins sending on env's loop.
func StartProducer(env host.Env, c *client.Client, rec *Recorder, spec ProducerSpec) *Producer {
	if spec.MaxInFlight <= 0 {
		spec.MaxInFlight = 64
	}
	p := &Producer{env: env, c: c, rec: rec, spec: spec, start: env.Clock.Mono(), Sent: map[client.Outcome]int{}}
	p.schedule()
	return p
}

// InFlight is the number of sends awaiting their result.
func (p *Producer) InFlight() int { return p.inFlight }

// Stop ends sending; sends in flight still complete and are recorded.
func (p *Producer) Stop() {
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

func (p *Producer) due(k int) time.Duration {
	return p.start + time.Duration(float64(k)/p.spec.Rate*float64(time.Second))
}

func (p *Producer) schedule() {
	if p.stopped || p.inFlight >= p.spec.MaxInFlight || p.timer != nil {
		return // one timer at a time: a completion must not add another
	}
	wait := p.due(p.next) - p.env.Clock.Mono()
	p.timer = p.env.Clock.AfterFunc(wait, func() {
		p.timer = nil
		p.fire()
	})
}

func (p *Producer) fire() {
	if p.stopped {
		return
	}
	for p.inFlight < p.spec.MaxInFlight && p.due(p.next) <= p.env.Clock.Mono() {
		p.send(p.next)
		p.next++
	}
	p.schedule()
}

func (p *Producer) send(k int) {
	id := p.spec.Name + "-" + strconv.Itoa(k)
	// Invoke is the intended time, in the recorder's clock.
	invoke := p.rec.Now() - (p.env.Clock.Mono() - p.due(k))
	msg := &client.Message{Topic: p.spec.Topic, Body: Body(id, max(p.spec.Size, len(id))), Keys: []string{id}}
	if len(p.spec.Tags) > 0 {
		msg.Tags = p.spec.Tags[k%len(p.spec.Tags)]
	}
	msg.Properties.Set(PropertyWorkloadID, id)
	p.inFlight++
	p.c.Send(msg, nil, func(r client.SendResult) {
		p.inFlight--
		p.Sent[r.Outcome()]++
		op := Op{
			Kind: OpSend, Process: p.spec.Name, Invoke: invoke, Complete: p.rec.Now(),
			Result: r.Outcome().String(), MsgID: id, Topic: p.spec.Topic,
			Broker: r.MessageQueue.BrokerName, Queue: r.MessageQueue.QueueID, QueueOffset: r.QueueOffset,
		}
		if r.Err != nil {
			op.Err = r.Err.Error()
		} else if len(r.OffsetMsgIDs) > 0 {
			if _, phys, err := message.ParseOffsetMsgID(r.OffsetMsgIDs[0]); err == nil {
				op.PhysOffset = phys
			}
		}
		for _, q := range r.AmbiguousQueues {
			op.Maybe = append(op.Maybe, QueueRef{Broker: q.BrokerName, Queue: q.QueueID})
		}
		if r.Err == nil && r.Status != client.SendOK {
			// FLUSH_DISK_TIMEOUT (or a slave status): stored, durability
			// not confirmed. A power loss may take it: record it as an
			// append that may or may not stand.
			op.Result = ResultIndefinite
			op.Err = "acknowledged with " + r.Status.String()
			op.Maybe = append(op.Maybe, QueueRef{Broker: r.MessageQueue.BrokerName, Queue: r.MessageQueue.QueueID})
		}
		p.rec.add(op)
		p.schedule()
	})
}

// ConsumerSpec describes one member of a consumer group.
type ConsumerSpec struct {
	Name      string
	Group     string
	Topic     string
	Broadcast bool
	// PersistInterval and RebalanceInterval shorten the consumer's timers
	// so that short runs see commits and rebalances.
	PersistInterval   time.Duration
	RebalanceInterval time.Duration
	PullHoldTime      time.Duration
	Size              int
}

// Consumer is one member of a group, recording what it is given and what
// it commits.
type Consumer struct {
	rec  *Recorder
	spec ConsumerSpec
	cs   *client.Consumer
	// Received counts messages handed to the member.
	Received int
}

// StartConsumer starts a member on c's loop.
func StartConsumer(c *client.Client, rec *Recorder, spec ConsumerSpec) (*Consumer, error) {
	m := &Consumer{rec: rec, spec: spec}
	model := client.Clustering
	if spec.Broadcast {
		model = client.Broadcasting
	}
	var pullInvoked = map[client.MessageQueue]time.Duration{}
	_ = pullInvoked
	cs, err := c.NewConsumer(client.ConsumerConfig{
		Group:             spec.Group,
		Subscriptions:     []client.Subscription{{Topic: spec.Topic, Expression: "*"}},
		Model:             model,
		ConsumeFrom:       client.ConsumeFromFirstOffset,
		PersistInterval:   spec.PersistInterval,
		RebalanceInterval: spec.RebalanceInterval,
		PullHoldTime:      spec.PullHoldTime,
		ConsumeBatchSize:  32,
		Handler:           func([]*client.MessageExt) client.ConsumeResult { return client.ConsumeSuccess },
		Hooks: client.ConsumerHooks{
			OnDeliver: m.delivered,
			OnCommit:  m.committed,
			OnRebalance: func(topic string, owned []client.MessageQueue) {
				// A queue taken away and given back restarts from the
				// group's committed offset: the checkers need to know.
				now := rec.Now()
				rec.add(Op{Kind: OpFault, Fault: "rebalance", Process: spec.Name, Node: spec.Name, Group: spec.Group,
					Topic: topic, Invoke: now, Complete: now})
			},
			OnPullError: func(q client.MessageQueue, err error) {
				// A record that fails verification reaches a consumer only
				// as a pull error: record it, since serving one is a bug.
				if client.IsCorruptRecord(err) {
					now := rec.Now()
					rec.add(Op{Kind: OpRecv, Process: spec.Name, Group: spec.Group, Invoke: now, Complete: now,
						Topic: q.Topic, Broker: q.BrokerName, Queue: q.QueueID, Result: ResultFailed, Err: err.Error()})
				}
			},
		},
	})
	if err != nil {
		return nil, err
	}
	m.cs = cs
	if err := cs.Start(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Consumer) delivered(d client.Delivery) {
	now := m.rec.Now()
	for _, msg := range d.Messages {
		if msg.Topic != m.spec.Topic {
			continue // the retry topic; retries are not part of this workload
		}
		id, _ := msg.Property(PropertyWorkloadID)
		m.Received++
		m.rec.add(Op{
			Kind: OpRecv, Process: m.spec.Name, Group: m.spec.Group, Invoke: now, Complete: now,
			Result: ResultOK, MsgID: id, Topic: msg.Topic, Broker: msg.BrokerName, Queue: msg.QueueID,
			QueueOffset: msg.QueueOffset, PhysOffset: msg.CommitLogOffset,
			BodyOK: id != "" && string(msg.Body) == string(Body(id, len(msg.Body))) && len(msg.Body) >= len(id),
		})
	}
}

func (m *Consumer) committed(c client.Commit) {
	if c.Queue.Topic != m.spec.Topic || c.Local {
		return
	}
	res := ResultOK
	errText := ""
	if c.Reason == client.CommitByPull {
		// A pull's COMMIT_OFFSET flag is answered by the pull, not by a
		// durable write: the broker holds the offset in memory until its
		// next write, so a crash may lose it. Only UPDATE_CONSUMER_OFFSET
		// answers are promises.
		res = ResultIndefinite
		errText = "carried by a pull: not acknowledged durably"
	} else if !c.Acked {
		res = ResultIndefinite
		if c.Err != nil {
			errText = c.Err.Error()
		}
	}
	// The broker may keep the group at a later position than a stale
	// member's commit: record where the group is.
	offset := c.Offset
	if c.Acked && c.Effective > offset {
		offset = c.Effective
	}
	// Commit times are the client's; shift them onto the recorder's clock.
	now := m.rec.Now()
	m.rec.add(Op{Kind: OpCommit, Process: m.spec.Name, Group: m.spec.Group, Invoke: now - (c.Done - c.Sent), Complete: now,
		Result: res, Err: errText, Topic: c.Queue.Topic, Broker: c.Queue.BrokerName, Queue: c.Queue.QueueID, Offset: offset})
}

// Shutdown stops the member, committing what it consumed; done runs when it
// has.
func (m *Consumer) Shutdown(done func()) { m.cs.Shutdown(done) }

func (m *Consumer) String() string { return fmt.Sprintf("%s(%s)", m.spec.Name, m.spec.Group) }
