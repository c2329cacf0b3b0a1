package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// SendStatus is how the broker stored an acknowledged message, as the Go
// client's SendStatus reports it.
type SendStatus int

const (
	// SendOK: stored (and, under SYNC_FLUSH or SYNC_MASTER, flushed and
	// replicated as configured).
	SendOK SendStatus = iota
	// SendFlushDiskTimeout: stored, but the SYNC_FLUSH sync did not complete
	// in time; a power loss may lose it.
	SendFlushDiskTimeout
	// SendFlushSlaveTimeout: stored, but the slave did not confirm in time.
	SendFlushSlaveTimeout
	// SendSlaveNotAvailable: stored, with no slave to replicate to.
	SendSlaveNotAvailable
)

func (s SendStatus) String() string {
	switch s {
	case SendOK:
		return "SEND_OK"
	case SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	}
	return "SendStatus(" + strconv.Itoa(int(s)) + ")"
}

// Outcome is what a history records of an operation.
type Outcome int

const (
	// OutcomeOK: acknowledged; the broker applied it.
	OutcomeOK Outcome = iota
	// OutcomeFailed: not applied, for certain.
	OutcomeFailed
	// OutcomeIndefinite: may or may not have been applied.
	OutcomeIndefinite
)

func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeFailed:
		return "failed"
	case OutcomeIndefinite:
		return "indefinite"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// SendResult is a send's outcome.
//
// A send makes up to 1+RetryTimesWhenSendFailed attempts, each a request to
// one broker, and each attempt ends in one of three ways:
//
//   - answered: the broker's response code says whether it stored the
//     message (SUCCESS, FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT and
//     SLAVE_NOT_AVAILABLE mean stored; any other code means not stored);
//   - not written: the request never reached the connection (it never
//     opened, refused the write, or the client was closed first), so the
//     broker cannot have it;
//   - ambiguous: the request was written and no response came (timeout, or
//     the connection was lost): the broker may or may not have stored it.
//
// Then:
//
//   - Err == nil: an attempt was answered "stored" (acknowledged). Status
//     says how. Ambiguous > 0 means earlier attempts may have stored the
//     message too: the queue may hold it more than once, under the same
//     UNIQ_KEY (MsgID).
//   - Err != nil, Indefinite == false: no attempt stored the message, for
//     certain: every attempt was answered "not stored" or never written.
//   - Err != nil, Indefinite == true: at least one attempt was ambiguous and
//     none was acknowledged: the message may be stored (once or more) or
//     not at all. Histories record this as indefinite.
//
// Oneway sends have no SendResult: see SendOneway.
type SendResult struct {
	Status SendStatus
	// MsgID is the UNIQ_KEY the client stamped (or the one the message
	// carried); for a batch, every member's, joined with ",". It is set
	// whatever the outcome, so that histories can name failed sends.
	MsgID string
	// MsgIDs are the members' UNIQ_KEYs, one per message.
	MsgIDs []string
	// OffsetMsgID is the broker's id of the stored record (for a batch,
	// every member's, joined with ","); OffsetMsgIDs splits it.
	OffsetMsgID  string
	OffsetMsgIDs []string
	// MessageQueue is the queue of the last attempt: where the message was
	// stored when acknowledged.
	MessageQueue MessageQueue
	// QueueOffset is the (first) message's offset in MessageQueue.
	QueueOffset   int64
	TransactionID string
	RegionID      string
	TraceOn       bool
	// BrokerAddr is the address of the last attempt.
	BrokerAddr string
	// Attempts is the number of attempts made; Ambiguous how many of them
	// were written without an answer, and AmbiguousQueues the queues those
	// went to: where the message may be stored besides MessageQueue.
	Attempts        int
	Ambiguous       int
	AmbiguousQueues []MessageQueue
	// Indefinite: see the type's documentation.
	Indefinite bool
	// Err is the final error: the last attempt's, or why none was made.
	Err error
}

// Outcome classifies the result for a history.
func (r SendResult) Outcome() Outcome {
	switch {
	case r.Err == nil:
		return OutcomeOK
	case r.Indefinite:
		return OutcomeIndefinite
	}
	return OutcomeFailed
}

// retryableSendCode reports whether a send answered with code is retried on
// another broker, as the Go client does: the broker stored nothing, and
// another broker may.
func retryableSendCode(code remoting.ResponseCode) bool {
	switch code {
	case remoting.SystemError, remoting.ServiceNotAvailable, remoting.NoPermission, remoting.TopicNotExist:
		return true
	}
	return false
}

// sendOp is one Send, SendBatch or SendOneway in progress.
type sendOp struct {
	c       *Client
	topic   string
	fixed   *MessageQueue // the queue the caller chose, or nil
	code    remoting.RequestCode
	batch   bool
	oneway  bool
	body    []byte
	props   string // single messages: the encoded properties
	sysFlag int32
	flag    int32
	ids     []string

	attempts  int
	ambiguous int
	// ambiguousQueues: where the ambiguous attempts went.
	ambiguousQueues []MessageQueue
	lastBroker      string
	lastQueue       *MessageQueue
	lastAddr        string
	lastErr         error
	cb              func(SendResult)
}

// Send sends one message to mq, or, when mq is nil, to the topic's queues
// in round robin (skipping the broker of a failed attempt when another
// exists). cb runs once, from a later loop event, with the result; see
// SendResult for what it promises.
func (c *Client) Send(msg *Message, mq *MessageQueue, cb func(SendResult)) {
	defer c.enter()()
	op, err := c.newSingleOp(msg, mq)
	if err != nil {
		c.deliver(func() { cb(SendResult{Err: err, MsgIDs: op.ids, MsgID: strings.Join(op.ids, ",")}) })
		return
	}
	op.cb = cb
	op.attempt()
}

// SendBatch sends msgs as one SEND_BATCH_MESSAGE: all to one queue, stored
// contiguously with consecutive offsets, all or none. They must share a
// topic and may not be delayed. Every member gets its own UNIQ_KEY (as the
// Java client does; the Go client stamps none), so that each can be traced.
func (c *Client) SendBatch(msgs []*Message, mq *MessageQueue, cb func(SendResult)) {
	defer c.enter()()
	op, err := c.newBatchOp(msgs, mq)
	if err != nil {
		c.deliver(func() { cb(SendResult{Err: err, MsgIDs: op.ids, MsgID: strings.Join(op.ids, ",")}) })
		return
	}
	op.cb = cb
	op.attempt()
}

// SendOneway sends one message flagged oneway: the broker stores it but
// never answers. cb learns the message's UNIQ_KEY and whether the request
// was written: err == nil means it was handed to an open connection (a
// history must record the outcome as indefinite: nothing confirms the
// store), err != nil means nothing was written, on any broker, so the
// message was certainly not stored. Writes that fail before reaching a
// connection are retried on another broker, as sends are.
func (c *Client) SendOneway(msg *Message, mq *MessageQueue, cb func(msgID string, err error)) {
	defer c.enter()()
	op, err := c.newSingleOp(msg, mq)
	if err != nil {
		c.deliver(func() { cb(strings.Join(op.ids, ","), err) })
		return
	}
	op.oneway = true
	op.cb = func(r SendResult) { cb(r.MsgID, r.Err) }
	op.attempt()
}

func (c *Client) newSingleOp(msg *Message, mq *MessageQueue) (*sendOp, error) {
	op := &sendOp{c: c, code: remoting.SendMessage}
	if msg == nil {
		return op, fmt.Errorf("%w: nil message", ErrBadMessage)
	}
	op.topic, op.flag = msg.Topic, msg.Flag
	if err := c.checkMessage(msg, mq); err != nil {
		return op, err
	}
	props, id, err := msg.encodeProperties(c.newUniqID)
	if err != nil {
		return op, err
	}
	op.ids = []string{id}
	op.props = string(props)
	op.body = msg.Body
	if c.cfg.CompressBodyOverBytes > 0 && len(msg.Body) >= c.cfg.CompressBodyOverBytes {
		z, err := deflate(msg.Body, c.cfg.CompressLevel)
		if err != nil {
			return op, fmt.Errorf("%w: compress body: %w", ErrBadMessage, err)
		}
		op.body, op.sysFlag = z, message.SysFlagCompressed
	}
	op.fixed = cloneQueue(mq)
	return op, nil
}

func (c *Client) newBatchOp(msgs []*Message, mq *MessageQueue) (*sendOp, error) {
	op := &sendOp{c: c, code: remoting.SendBatchMessage, batch: true}
	if len(msgs) == 0 {
		return op, fmt.Errorf("%w: empty batch", ErrBadMessage)
	}
	op.topic = msgs[0].Topic
	var body []byte
	for i, m := range msgs {
		if m == nil {
			return op, fmt.Errorf("%w: batch member %d is nil", ErrBadMessage, i)
		}
		if err := c.checkMessage(m, mq); err != nil {
			return op, fmt.Errorf("batch member %d: %w", i, err)
		}
		switch {
		case m.Topic != op.topic:
			return op, fmt.Errorf("%w: batch member %d is for topic %q, the batch for %q", ErrBadMessage, i, m.Topic, op.topic)
		case m.DelayLevel > 0:
			return op, fmt.Errorf("%w: batch member %d is delayed; batches cannot be", ErrBadMessage, i)
		case message.IsRetryTopic(op.topic):
			return op, fmt.Errorf("%w: batches cannot go to retry topic %q", ErrBadMessage, op.topic)
		}
		props, id, err := m.encodeProperties(c.newUniqID)
		if err != nil {
			return op, fmt.Errorf("batch member %d: %w", i, err)
		}
		op.ids = append(op.ids, id)
		if body, err = message.AppendBatchMember(body, m.Flag, m.Body, props); err != nil {
			return op, fmt.Errorf("%w: batch member %d: %w", ErrBadMessage, i, err)
		}
		if len(body) > c.cfg.MaxMessageBytes {
			return op, fmt.Errorf("%w: batch body over %d bytes at member %d", ErrBadMessage, c.cfg.MaxMessageBytes, i)
		}
	}
	op.body = body
	op.fixed = cloneQueue(mq)
	return op, nil
}

// checkMessage applies the client-side checks of RocketMQ's producers.
func (c *Client) checkMessage(m *Message, mq *MessageQueue) error {
	if err := message.ValidateTopic(m.Topic); err != nil {
		return fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if mq != nil && mq.Topic != m.Topic {
		return fmt.Errorf("%w: message for topic %q sent to queue %s", ErrBadMessage, m.Topic, mq)
	}
	if len(m.Body) == 0 {
		return fmt.Errorf("%w: empty body", ErrBadMessage)
	}
	if len(m.Body) > c.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: body of %d bytes is over %d", ErrBadMessage, len(m.Body), c.cfg.MaxMessageBytes)
	}
	return nil
}

func cloneQueue(mq *MessageQueue) *MessageQueue {
	if mq == nil {
		return nil
	}
	q := *mq
	return &q
}

// maxAttempts is the number of attempts a send may make.
func (op *sendOp) maxAttempts() int { return 1 + op.c.cfg.RetryTimesWhenSendFailed }

// attempt makes the next attempt: find the route, choose a queue, send.
func (op *sendOp) attempt() {
	c := op.c
	if c.closed {
		op.fail(c.wrapClosed(ErrClientClosed))
		return
	}
	c.publishRoute(op.topic, func(tr *topicRoute, err error) {
		if err != nil {
			op.fail(err)
			return
		}
		mq, ok := op.choose(tr)
		if !ok {
			op.fail(fmt.Errorf("%w: topic %s has no writable queue with a master", ErrNoRoute, op.topic))
			return
		}
		addr := c.masterAddr(mq.BrokerName)
		if addr == "" {
			op.fail(fmt.Errorf("%w: %s (queue %s)", ErrNoBroker, mq.BrokerName, mq))
			return
		}
		op.send(mq, addr)
	})
}

// choose picks the attempt's queue: the fixed one, or the next in round
// robin whose broker is not the one the previous attempt failed on (the Go
// client's roundRobinQueueSelector).
func (op *sendOp) choose(tr *topicRoute) (MessageQueue, bool) {
	if op.fixed != nil {
		return *op.fixed, true
	}
	qs := tr.publish
	if len(qs) == 0 {
		return MessageQueue{}, false
	}
	c := op.c
	now := c.env.Clock.Mono()
	if op.lastBroker != "" || len(c.isolated) > 0 {
		for range qs {
			c.rr[op.topic]++
			q := qs[c.rr[op.topic]%uint32(len(qs))]
			if q.BrokerName != op.lastBroker && !c.isolatedAt(q.BrokerName, now) {
				return q, true
			}
		}
		// Every queue is on the last broker or an isolated one: better a
		// broker that failed a while ago than no attempt.
		if op.lastBroker != "" {
			for range qs {
				c.rr[op.topic]++
				q := qs[c.rr[op.topic]%uint32(len(qs))]
				if q.BrokerName != op.lastBroker {
					return q, true
				}
			}
		}
	}
	c.rr[op.topic]++
	return qs[c.rr[op.topic]%uint32(len(qs))], true
}

// isolate passes broker over in queue selection for SendFaultIsolation: it
// failed a send attempt without answering (a timeout, a lost or refused
// connection), which is what a crashed or partitioned broker does. Without
// it, every other send of an open-loop producer would wait out a timeout
// on the dead broker before its retry went elsewhere. RocketMQ's clients
// do the same with sendLatencyFaultEnable.
func (c *Client) isolate(broker string) {
	if c.cfg.SendFaultIsolation <= 0 {
		return
	}
	if c.isolated == nil {
		c.isolated = map[string]time.Duration{}
	}
	c.isolated[broker] = c.env.Clock.Mono() + c.cfg.SendFaultIsolation
}

// isolatedAt reports whether broker is isolated at now, forgetting an
// isolation that has run out.
func (c *Client) isolatedAt(broker string, now time.Duration) bool {
	until, ok := c.isolated[broker]
	if ok && now >= until {
		delete(c.isolated, broker)
		ok = false
	}
	return ok
}

// request builds the attempt's request. bornTimestamp is read per attempt,
// as the Go client does.
func (op *sendOp) request(mq MessageQueue) *remoting.Command {
	c := op.c
	born := c.env.Clock.Now().UnixMilli()
	if op.batch {
		// SendMessageRequestV2Header: one-letter names.
		req := remoting.NewRequest(remoting.SendBatchMessage,
			remoting.StrField("a", c.cfg.ProducerGroup),
			remoting.StrField("b", mq.Topic),
			remoting.StrField("c", message.AutoCreateTopicKey),
			remoting.IntField("d", int64(c.cfg.DefaultTopicQueueNums)),
			remoting.IntField("e", int64(mq.QueueID)),
			remoting.IntField("f", int64(op.sysFlag)),
			remoting.IntField("g", born),
			remoting.IntField("h", 0),
			remoting.StrField("i", ""),
			remoting.IntField("j", 0),
			remoting.BoolField("k", false),
			remoting.IntField("l", 0),
			remoting.BoolField("m", true),
			remoting.StrField("n", mq.BrokerName),
		)
		req.Body = op.body
		return req
	}
	req := remoting.NewRequest(remoting.SendMessage,
		remoting.StrField("producerGroup", c.cfg.ProducerGroup),
		remoting.StrField("topic", mq.Topic),
		remoting.StrField("defaultTopic", message.AutoCreateTopicKey),
		remoting.IntField("defaultTopicQueueNums", int64(c.cfg.DefaultTopicQueueNums)),
		remoting.IntField("queueId", int64(mq.QueueID)),
		remoting.IntField("sysFlag", int64(op.sysFlag)),
		remoting.IntField("bornTimestamp", born),
		remoting.IntField("flag", int64(op.flag)),
		remoting.StrField("properties", op.props),
		remoting.IntField("reconsumeTimes", 0),
		remoting.BoolField("unitMode", false),
		remoting.IntField("maxReconsumeTimes", 0),
		remoting.BoolField("batch", false),
		remoting.StrField("bname", mq.BrokerName),
	)
	req.Body = op.body
	return req
}

func (op *sendOp) send(mq MessageQueue, addr string) {
	c := op.c
	op.attempts++
	c.stats.SendAttempts++
	if op.attempts > 1 {
		c.stats.SendRetries++
		c.log.Debug("client: retrying send", "topic", op.topic, "attempt", op.attempts, "lastBroker", op.lastBroker, "broker", mq.BrokerName, "err", op.lastErr)
	}
	op.lastQueue, op.lastAddr = &mq, addr
	req := op.request(mq)
	if op.oneway {
		c.invokeOneway(addr, req, c.cfg.SendTimeout, func(_ *remoting.Command, err error, written bool) {
			if written {
				op.finish(SendResult{MessageQueue: mq, BrokerAddr: addr})
				return
			}
			op.retry(mq, err)
		})
		return
	}
	c.invoke(addr, req, c.cfg.SendTimeout, func(resp *remoting.Command, err error, written bool) {
		if err != nil {
			if !errors.Is(err, ErrClientClosed) && !errors.Is(err, ErrTooManyPending) {
				c.isolate(mq.BrokerName)
			}
			if written {
				op.ambiguous++
				op.ambiguousQueues = append(op.ambiguousQueues, mq)
			}
			op.retry(mq, err)
			return
		}
		delete(c.isolated, mq.BrokerName) // it answers
		var status SendStatus
		switch code := remoting.ResponseCode(resp.Code); code {
		case remoting.Success:
			status = SendOK
		case remoting.FlushDiskTimeout:
			status = SendFlushDiskTimeout
		case remoting.FlushSlaveTimeout:
			status = SendFlushSlaveTimeout
		case remoting.SlaveNotAvailable:
			status = SendSlaveNotAvailable
		default:
			rerr := responseError(req, resp, addr)
			if retryableSendCode(code) {
				op.retry(mq, rerr)
			} else {
				op.lastBroker = mq.BrokerName
				op.fail(rerr)
			}
			return
		}
		op.finish(op.acknowledged(resp, mq, addr, status))
	})
}

// acknowledged builds the result of an answered "stored".
func (op *sendOp) acknowledged(resp *remoting.Command, mq MessageQueue, addr string, status SendStatus) SendResult {
	f := resp.ExtFields
	r := SendResult{
		Status:        status,
		OffsetMsgID:   f.Str("msgId"),
		MessageQueue:  mq,
		TransactionID: f.Str("transactionId"),
		RegionID:      f.Str(message.PropertyMsgRegion),
		BrokerAddr:    addr,
	}
	if t := f.Str(message.PropertyTraceSwitch); t != "" && t != "false" {
		r.TraceOn = true
	}
	if r.OffsetMsgID != "" {
		r.OffsetMsgIDs = strings.Split(r.OffsetMsgID, ",")
	}
	// The queue the broker used: the same as asked, unless it chose one
	// (Java brokers pick for a negative queueId).
	if v, err := f.Int32("queueId"); err == nil {
		r.MessageQueue.QueueID = int(v)
	}
	off, err := f.Int64("queueOffset")
	if err != nil {
		// Stored, but the answer does not say where: still acknowledged.
		op.c.log.Warn("client: send acknowledged without a queueOffset", "broker", addr, "err", err)
		off = -1
	}
	r.QueueOffset = off
	return r
}

// retry records a failed attempt and makes another, if any is left.
func (op *sendOp) retry(mq MessageQueue, err error) {
	op.lastBroker = mq.BrokerName
	op.lastErr = err
	if op.attempts >= op.maxAttempts() || op.c.closed || errors.Is(err, ErrClientClosed) {
		op.fail(err)
		return
	}
	op.attempt()
}

func (op *sendOp) fail(err error) {
	op.finish(SendResult{Err: err})
}

func (op *sendOp) finish(r SendResult) {
	r.MsgIDs = op.ids
	r.MsgID = strings.Join(op.ids, ",")
	r.Attempts = op.attempts
	r.Ambiguous = op.ambiguous
	r.AmbiguousQueues = op.ambiguousQueues
	if r.Err != nil {
		r.Indefinite = op.ambiguous > 0
		if op.lastQueue != nil {
			r.MessageQueue, r.BrokerAddr = *op.lastQueue, op.lastAddr
		}
	}
	cb := op.cb
	op.cb = nil
	if cb == nil {
		panic("client: a send completed twice")
	}
	op.c.deliver(func() { cb(r) })
}
