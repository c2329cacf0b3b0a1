package client

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// MessageModel is how a group's members share its topics' queues.
type MessageModel int

const (
	// Clustering: the group's members split the queues (AllocateByAveragely)
	// and commit offsets to the brokers.
	Clustering MessageModel = iota
	// Broadcasting: every member reads every queue; offsets stay in the
	// consumer's memory and nothing is sent back on failure.
	Broadcasting
)

func (m MessageModel) String() string {
	if m == Broadcasting {
		return "BROADCASTING"
	}
	return "CLUSTERING"
}

// ConsumeFrom is where a queue with no committed offset starts.
type ConsumeFrom int

const (
	// ConsumeFromLastOffset starts at the queue's max offset (new messages
	// only), except that brokers answer a committed offset of 0 while the
	// queue still holds its first message, so a young topic is read from
	// the start. Retry topics start at 0.
	ConsumeFromLastOffset ConsumeFrom = iota
	// ConsumeFromFirstOffset starts at 0.
	ConsumeFromFirstOffset
	// ConsumeFromTimestamp starts at the first message stored at or after
	// ConsumerConfig.ConsumeTimestamp.
	ConsumeFromTimestamp
)

func (w ConsumeFrom) String() string {
	switch w {
	case ConsumeFromFirstOffset:
		return "CONSUME_FROM_FIRST_OFFSET"
	case ConsumeFromTimestamp:
		return "CONSUME_FROM_TIMESTAMP"
	}
	return "CONSUME_FROM_LAST_OFFSET"
}

// BugCommitPastUnprocessed is a planted bug, inert outside the simulator:
// the consumer commits one past where it consumed.
const BugCommitPastUnprocessed = "bug/commit-past-unprocessed"

// ConsumeResult is a handler's verdict on the messages it was given.
type ConsumeResult int

const (
	// ConsumeSuccess: the messages are consumed; their offsets may be
	// committed.
	ConsumeSuccess ConsumeResult = iota
	// ConsumeRetryLater: in clustering, the messages are sent back to the
	// broker (CONSUMER_SEND_MSG_BACK, or a send to the group's retry topic
	// when that fails), to be redelivered after a delay through
	// %RETRY%<group>; only once every one is sent back does the offset move
	// past them. Messages that cannot be sent back are redelivered locally
	// after ConsumeRetryDelay. In broadcasting they are dropped, as the Go
	// client does.
	ConsumeRetryLater
)

// Subscription is a topic and a TAG expression ("*" or "a || b").
type Subscription struct {
	Topic      string
	Expression string
}

// Delivery is one call of the handler: messages of one queue, in queue
// order.
type Delivery struct {
	Queue    MessageQueue
	Messages []*MessageExt
}

// CommitReason says why an offset was committed.
type CommitReason int

const (
	CommitPeriodic CommitReason = iota // every PersistInterval
	CommitDropped                      // a rebalance took the queue away
	CommitShutdown                     // Consumer.Shutdown
	CommitReset                        // the broker said the offset moved (PULL_OFFSET_MOVED)
	CommitByPull                       // carried by a pull (COMMIT_OFFSET flag)
)

func (r CommitReason) String() string {
	switch r {
	case CommitPeriodic:
		return "periodic"
	case CommitDropped:
		return "dropped"
	case CommitShutdown:
		return "shutdown"
	case CommitReset:
		return "reset"
	case CommitByPull:
		return "pull"
	}
	return "CommitReason(" + strconv.Itoa(int(r)) + ")"
}

// Commit is one offset commit and its fate. Offset is the next offset to
// consume: one past the last message consumed, never past a message not yet
// consumed. Acked means the broker answered that it stored the offset (or,
// broadcasting, that the consumer stored it in memory: Local); otherwise Err
// says why not, and the broker may or may not hold it. Sent and Done are the
// client's monotonic clock at the request and the answer.
type Commit struct {
	Queue  MessageQueue
	Offset int64
	// Effective is where the broker says the group is after an
	// acknowledged commit: Offset, or higher if the broker kept the
	// group's later position (see updateConsumerOffset).
	Effective int64
	Reason    CommitReason
	Acked     bool
	Local     bool
	Err       error
	Sent      time.Duration
	Done      time.Duration
}

// ConsumerHooks let a workload observe a consumer. Each runs on the loop.
type ConsumerHooks struct {
	// OnDeliver runs just before the handler, with what it is given.
	OnDeliver func(Delivery)
	// OnCommit runs when a commit's answer (or failure) comes back.
	OnCommit func(Commit)
	// OnRebalance runs when the queues the consumer owns for a topic
	// change, with the new set, sorted.
	OnRebalance func(topic string, owned []MessageQueue)
	// OnPullError runs when a pull fails; the queue is pulled again after
	// PullRetryDelay.
	OnPullError func(MessageQueue, error)
}

// ConsumerConfig configures a Consumer. Zero durations and sizes mean the
// defaults (the Go push consumer's).
type ConsumerConfig struct {
	Group         string
	Subscriptions []Subscription
	Model         MessageModel
	ConsumeFrom   ConsumeFrom
	// ConsumeTimestamp is ConsumeFromTimestamp's start; zero means 30
	// minutes before the consumer starts, as in RocketMQ.
	ConsumeTimestamp time.Time
	// Handler consumes messages of one queue, in queue order, on the loop.
	Handler func(msgs []*MessageExt) ConsumeResult
	// ConsumeBatchSize bounds the messages per handler call (1).
	ConsumeBatchSize int
	// PullBatchSize bounds the messages per pull (32).
	PullBatchSize int
	// PullHoldTime is the long-polling hold asked of the broker (20 s).
	PullHoldTime time.Duration
	// PullRetryDelay is the wait before pulling again after a failed pull
	// (3 s), or before retrying a queue whose start offset could not be
	// read.
	PullRetryDelay time.Duration
	// ConsumeRetryDelay is the wait before redelivering messages that could
	// not be sent back (5 s).
	ConsumeRetryDelay time.Duration
	// RebalanceInterval is how often the consumer rebalances besides when
	// brokers say the group changed (20 s).
	RebalanceInterval time.Duration
	// RebalanceRetryDelay is how soon a rebalance that could not settle a
	// topic (no route yet, no consumer list) is tried again (3 s). A
	// group's retry topic, created by the broker at the group's first
	// heartbeat, typically has no route for a moment.
	RebalanceRetryDelay time.Duration
	// PersistInterval is how often consumed offsets are committed (5 s).
	PersistInterval time.Duration
	// MaxReconsumeTimes bounds redeliveries through the retry topic before
	// the broker moves a message to the group's DLQ (16).
	MaxReconsumeTimes int
	// PostSubscriptionWhenPull sets PullFlagSubscription on pulls, so the
	// broker filters by the pull's expression rather than the heartbeat's.
	// Off by default, as in the Go client.
	PostSubscriptionWhenPull bool
	Hooks                    ConsumerHooks
}

func (cfg ConsumerConfig) withDefaults() (ConsumerConfig, error) {
	if err := message.ValidateGroup(cfg.Group); err != nil {
		return cfg, fmt.Errorf("client: consumer group: %w", err)
	}
	if len(cfg.Subscriptions) == 0 {
		return cfg, errors.New("client: a consumer needs at least one subscription")
	}
	if cfg.Handler == nil {
		return cfg, errors.New("client: a consumer needs a handler")
	}
	seen := map[string]bool{}
	for _, s := range cfg.Subscriptions {
		if err := message.ValidateTopic(s.Topic); err != nil {
			return cfg, fmt.Errorf("client: subscription: %w", err)
		}
		if seen[s.Topic] {
			return cfg, fmt.Errorf("client: topic %q subscribed twice", s.Topic)
		}
		seen[s.Topic] = true
	}
	pos := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	dur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	pos(&cfg.ConsumeBatchSize, 1)
	pos(&cfg.PullBatchSize, DefaultPullBatchSize)
	pos(&cfg.MaxReconsumeTimes, 16)
	dur(&cfg.PullHoldTime, DefaultSuspendTimeout)
	dur(&cfg.PullRetryDelay, 3*time.Second)
	dur(&cfg.ConsumeRetryDelay, 5*time.Second)
	dur(&cfg.RebalanceInterval, 20*time.Second)
	dur(&cfg.RebalanceRetryDelay, 3*time.Second)
	dur(&cfg.PersistInterval, 5*time.Second)
	return cfg, nil
}

// Consumer is a push consumer in RocketMQ's sense, built on the client's
// primitives: it heartbeats, rebalances, long-polls each owned queue,
// delivers to the handler in queue order and commits offsets.
//
// # Rebalance
//
// At start (once every broker of its topics has its heartbeat), every
// RebalanceInterval, and whenever a broker pushes NOTIFY_CONSUMER_IDS_CHANGED
// for the group or a topic's readable queues change, the consumer
// recomputes, topic by topic in sorted order, the queues it owns: in
// clustering, AllocateByAveragely over the topic's readable queues (sorted)
// and the group's client ids from GET_CONSUMER_LIST_BY_GROUP (sorted; asked
// of the topic's brokers in name order until one answers); in
// broadcasting, all of them. Rebalances never overlap: one asked for during
// another runs after it. Clustering consumers also consume their group's
// retry topic, %RETRY%<group>, like RocketMQ's.
//
// A topic whose route or consumer list cannot be had keeps its current
// queues until a later round, which comes after RebalanceRetryDelay. (The Go client reads a failed consumer list
// as empty and drops every queue of the topic until the next round; keeping
// them is as safe, since every member sees the same failure, and does not
// stall.) A consumer whose own id is missing from the list owns nothing
// for the topic, as in RocketMQ, and heartbeats again.
//
// A newly owned queue starts at the group's committed offset
// (QUERY_CONSUMER_OFFSET), or, with none, where ConsumeFrom says. A queue
// no longer owned stops at once (a pull in flight is ignored when it
// answers) and its consumed offset is committed.
//
// # Offsets
//
// Per queue, the consumer tracks the next offset to consume: one past the
// last message the handler accepted (or sent back), never past a message
// not yet consumed, and advanced past filtered entries only when nothing is
// outstanding. It commits it every PersistInterval when it changed since the
// last acknowledged commit, when the queue is dropped, at Shutdown, and
// when the broker says the offset moved; pulls also carry it (the
// COMMIT_OFFSET flag). OnCommit reports each commit with its fate.
type Consumer struct {
	c          *Client
	cfg        ConsumerConfig
	subs       []*subscription // sorted by topic
	queues     map[MessageQueue]*processQueue
	local      map[MessageQueue]int64 // broadcasting offsets
	subVersion int64
	timers     []host.Timer

	started, ready, stopped bool
	rebalancing, again      bool
	rebalanceQueued         bool
	// unsettled: the rebalance in progress could not settle a topic;
	// retryTimer will rebalance again after RebalanceRetryDelay.
	unsettled  bool
	retryTimer host.Timer
}

type subscription struct {
	topic        string
	expr         string
	tags         []string
	all          bool
	retry        bool
	routeMissing bool // warned that the topic has no route
}

// NewConsumer returns a consumer of c; Start starts it. A client has at most
// one consumer per group.
func (c *Client) NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, dup := c.consumers[cfg.Group]; dup {
		return nil, fmt.Errorf("client: a consumer of group %q already runs on this client", cfg.Group)
	}
	cs := &Consumer{c: c, cfg: cfg, queues: map[MessageQueue]*processQueue{}, local: map[MessageQueue]int64{}}
	for _, s := range cfg.Subscriptions {
		tags, all := tagsOf(s.Expression)
		expr := s.Expression
		if all {
			expr = message.SubscribeAll
		}
		cs.subs = append(cs.subs, &subscription{topic: s.Topic, expr: expr, tags: tags, all: all})
	}
	if cfg.Model == Clustering {
		cs.subs = append(cs.subs, &subscription{topic: message.RetryTopic(cfg.Group), expr: message.SubscribeAll, all: true, retry: true})
	}
	slices.SortFunc(cs.subs, func(a, b *subscription) int { return strings.Compare(a.topic, b.topic) })
	return cs, nil
}

// Group is the consumer's group.
func (cs *Consumer) Group() string { return cs.cfg.Group }

// Start registers the consumer with its client and begins: it looks up its
// topics' routes, heartbeats their brokers, then rebalances and pulls.
// Topics without a route are looked up again every RebalanceRetryDelay
// until they have one. Start fails only if the client is closed or the
// consumer already started, or another consumer of its group runs on the
// client.
func (cs *Consumer) Start() error {
	c := cs.c
	defer c.enter()()
	switch {
	case c.closed:
		return ErrClientClosed
	case cs.started:
		return errors.New("client: consumer already started")
	}
	if other, dup := c.consumers[cs.cfg.Group]; dup && other != cs {
		return fmt.Errorf("client: a consumer of group %q already runs on this client", cs.cfg.Group)
	}
	cs.started = true
	c.consumers[cs.cfg.Group] = cs
	cs.subVersion = c.env.Clock.Now().UnixNano()
	cs.every(cs.cfg.RebalanceInterval, cs.requestRebalance)
	cs.every(cs.cfg.PersistInterval, cs.persistAll)
	left := len(cs.subs)
	for _, s := range cs.subs {
		c.subscribeRoute(s.topic, func(_ *topicRoute, err error) {
			if err != nil {
				cs.logRouteError(s, err)
			}
			left--
			if left > 0 {
				return
			}
			c.heartbeatAll(func() {
				if cs.stopped {
					return
				}
				cs.ready = true
				cs.requestRebalance()
			})
		})
	}
	return nil
}

// Shutdown stops pulling, commits every owned queue's consumed offset,
// unregisters the consumer from the brokers (so the group rebalances at
// once), and then calls done.
func (cs *Consumer) Shutdown(done func()) {
	c := cs.c
	defer c.enter()()
	finishUser := func() {
		if done != nil {
			c.deliver(done)
		}
	}
	if cs.stopped || !cs.started {
		cs.stopped = true
		c.later(finishUser)
		return
	}
	cs.stopped = true
	cs.stopTimers()
	left := 1
	finish := func() {
		left--
		if left > 0 {
			return
		}
		c.unregister(cs.cfg.Group, func() {
			if c.consumers[cs.cfg.Group] == cs {
				delete(c.consumers, cs.cfg.Group)
			}
			finishUser()
		})
	}
	for _, pq := range cs.sortedQueues() {
		left++
		cs.drop(pq, CommitShutdown, finish)
	}
	finish()
}

// stop halts the consumer without committing (the client is closing).
func (cs *Consumer) stop() {
	cs.stopped = true
	cs.stopTimers()
	for _, pq := range cs.sortedQueues() {
		pq.halt()
	}
	clear(cs.queues)
}

func (cs *Consumer) stopTimers() {
	for _, t := range cs.timers {
		t.Stop()
	}
	if cs.retryTimer != nil {
		cs.retryTimer.Stop()
		cs.retryTimer = nil
	}
}

// Owned returns the queues the consumer owns now, sorted.
func (cs *Consumer) Owned() []MessageQueue {
	return slices.SortedFunc(maps.Keys(cs.queues), CompareQueues)
}

// Rebalance asks for a rebalance now.
func (cs *Consumer) Rebalance() { cs.requestRebalance() }

func (cs *Consumer) every(d time.Duration, f func()) {
	idx := len(cs.timers)
	cs.timers = append(cs.timers, nil)
	var tick func()
	tick = func() {
		if cs.stopped {
			return
		}
		f()
		cs.timers[idx] = cs.c.env.Clock.AfterFunc(d, tick)
	}
	cs.timers[idx] = cs.c.env.Clock.AfterFunc(d, tick)
}

func (cs *Consumer) subscribes(topic string) bool {
	for _, s := range cs.subs {
		if s.topic == topic {
			return true
		}
	}
	return false
}

func (cs *Consumer) sortedQueues() []*processQueue {
	out := make([]*processQueue, 0, len(cs.queues))
	for _, mq := range cs.Owned() {
		out = append(out, cs.queues[mq])
	}
	return out
}

func (cs *Consumer) logRouteError(s *subscription, err error) {
	if s.retry || s.routeMissing {
		// The retry topic exists once a broker has the group's
		// heartbeat; until the name servers learn it, this is expected.
		// Other topics are warned about once per outage.
		cs.c.log.Debug("client: no route for a subscribed topic yet", "group", cs.cfg.Group, "topic", s.topic, "err", err)
		return
	}
	s.routeMissing = true
	cs.c.log.Warn("client: no route for a subscribed topic; retrying", "group", cs.cfg.Group, "topic", s.topic, "err", err)
}

// heartbeatData is the consumer's entry in HEART_BEAT.
func (cs *Consumer) heartbeatData() consumerDataJSON {
	d := consumerDataJSON{
		GroupName:           cs.cfg.Group,
		ConsumeType:         "CONSUME_PASSIVELY",
		MessageModel:        cs.cfg.Model.String(),
		ConsumeFromWhere:    cs.cfg.ConsumeFrom.String(),
		SubscriptionDataSet: make([]subscriptionDataJSON, 0, len(cs.subs)),
	}
	for _, s := range cs.subs {
		tags := s.tags
		if tags == nil {
			tags = []string{}
		}
		d.SubscriptionDataSet = append(d.SubscriptionDataSet, subscriptionDataJSON{
			Topic:          s.topic,
			SubString:      s.expr,
			TagsSet:        tags,
			CodeSet:        codeSetOf(tags),
			SubVersion:     cs.subVersion,
			ExpressionType: expressionTag,
		})
	}
	return d
}

// requestRebalance runs a rebalance from a fresh loop event, coalescing
// requests that come while one is queued.
func (cs *Consumer) requestRebalance() {
	if cs.stopped || !cs.ready || cs.rebalanceQueued {
		return
	}
	cs.rebalanceQueued = true
	cs.c.later(func() {
		cs.rebalanceQueued = false
		cs.rebalance()
	})
}

func (cs *Consumer) rebalance() {
	if cs.stopped {
		return
	}
	if cs.rebalancing {
		cs.again = true
		return
	}
	cs.rebalancing = true
	cs.unsettled = false
	var step func(i int)
	step = func(i int) {
		if cs.stopped {
			cs.rebalancing = false
			return
		}
		if i == len(cs.subs) {
			cs.rebalancing = false
			switch {
			case cs.again:
				cs.again = false
				cs.requestRebalance()
			case cs.unsettled && cs.retryTimer == nil:
				cs.retryTimer = cs.c.env.Clock.AfterFunc(cs.cfg.RebalanceRetryDelay, func() {
					cs.retryTimer = nil
					cs.requestRebalance()
				})
			}
			return
		}
		cs.rebalanceTopic(cs.subs[i], func() { step(i + 1) })
	}
	step(0)
}

func (cs *Consumer) rebalanceTopic(s *subscription, next func()) {
	c := cs.c
	c.subscribeRoute(s.topic, func(tr *topicRoute, err error) {
		if cs.stopped {
			next()
			return
		}
		if err != nil {
			cs.logRouteError(s, err)
			cs.unsettled = true
			next()
			return
		}
		s.routeMissing = false
		all := tr.subscribe
		if cs.cfg.Model == Broadcasting {
			cs.apply(s, all)
			next()
			return
		}
		cs.findConsumerList(tr, func(ids []string, err error) {
			if cs.stopped {
				next()
				return
			}
			if err != nil {
				c.log.Warn("client: consumer list unavailable; keeping the current queues", "group", cs.cfg.Group, "topic", s.topic, "err", err)
				cs.unsettled = true
				next()
				return
			}
			if !slices.Contains(ids, c.cfg.ClientID) {
				c.log.Warn("client: brokers do not list this consumer in its group; heartbeating again", "group", cs.cfg.Group, "topic", s.topic, "members", len(ids))
				c.heartbeatAll(nil)
				cs.unsettled = true
			}
			cs.apply(s, AllocateByAveragely(c.cfg.ClientID, all, ids))
			next()
		})
	})
}

// findConsumerList asks the route's brokers, in name order, for the group's
// members until one answers.
func (cs *Consumer) findConsumerList(tr *topicRoute, cb func([]string, error)) {
	c := cs.c
	var addrs []string
	for _, q := range tr.route.QueueDatas {
		if a := c.masterAddr(q.BrokerName); a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		c.later(func() { cb(nil, fmt.Errorf("%w: no broker of topic %s has a master address", ErrNoBroker, tr.topic)) })
		return
	}
	var try func(i int, lastErr error)
	try = func(i int, lastErr error) {
		if i == len(addrs) {
			cb(nil, lastErr)
			return
		}
		c.consumerList(addrs[i], cs.cfg.Group, func(ids []string, err error) {
			if err != nil {
				try(i+1, err)
				return
			}
			cb(ids, nil)
		})
	}
	try(0, nil)
}

// apply makes the consumer own exactly mine among s's topic's queues.
func (cs *Consumer) apply(s *subscription, mine []MessageQueue) {
	changed := false
	for _, pq := range cs.sortedQueues() {
		if pq.mq.Topic == s.topic && !slices.Contains(mine, pq.mq) {
			cs.c.log.Info("client: queue no longer owned", "group", cs.cfg.Group, "queue", pq.mq.String())
			cs.drop(pq, CommitDropped, nil)
			changed = true
		}
	}
	for _, mq := range mine {
		if _, ok := cs.queues[mq]; ok {
			continue
		}
		cs.c.log.Info("client: queue now owned", "group", cs.cfg.Group, "queue", mq.String())
		pq := &processQueue{cs: cs, mq: mq, sub: s, consumed: -1, acked: -1}
		cs.queues[mq] = pq
		pq.init()
		changed = true
	}
	if changed && cs.cfg.Hooks.OnRebalance != nil {
		var owned []MessageQueue
		for _, mq := range cs.Owned() {
			if mq.Topic == s.topic {
				owned = append(owned, mq)
			}
		}
		cs.cfg.Hooks.OnRebalance(s.topic, owned)
	}
}

// drop stops a queue and commits its consumed offset; done (if not nil)
// runs once the commit is answered or failed.
func (cs *Consumer) drop(pq *processQueue, reason CommitReason, done func()) {
	pq.halt()
	delete(cs.queues, pq.mq)
	cs.commit(pq, reason, true, done)
}

// persistAll commits every owned queue whose consumed offset moved since
// its last acknowledged commit.
func (cs *Consumer) persistAll() {
	for _, pq := range cs.sortedQueues() {
		cs.commit(pq, CommitPeriodic, false, nil)
	}
}

// commit commits pq's consumed offset. A periodic commit is skipped when
// nothing changed or one is still in flight; the others always go (in
// order on the connection, so the last one sent wins).
func (cs *Consumer) commit(pq *processQueue, reason CommitReason, always bool, done func()) {
	c := cs.c
	finish := func() {
		if done != nil {
			done()
		}
	}
	off := pq.consumed
	if off < 0 || (!always && (off == pq.acked || pq.committing > 0)) {
		if done != nil {
			c.later(done)
		}
		return
	}
	sent := c.env.Clock.Mono()
	if cs.cfg.Model == Broadcasting {
		cs.local[pq.mq] = off
		pq.acked = off
		cs.reportCommit(Commit{Queue: pq.mq, Offset: off, Reason: reason, Acked: true, Local: true, Sent: sent, Done: sent})
		if done != nil {
			c.later(done)
		}
		return
	}
	pq.committing++
	c.updateConsumerOffset(cs.cfg.Group, pq.mq, off, func(effective int64, err error) {
		pq.committing--
		if err == nil {
			pq.acked = off
		} else if !c.closed {
			c.log.Warn("client: offset commit failed", "group", cs.cfg.Group, "queue", pq.mq.String(), "offset", off, "err", err)
		}
		cs.reportCommit(Commit{Queue: pq.mq, Offset: off, Effective: effective, Reason: reason, Acked: err == nil, Err: err, Sent: sent, Done: c.env.Clock.Mono()})
		finish()
	})
}

func (cs *Consumer) reportCommit(cm Commit) {
	if h := cs.cfg.Hooks.OnCommit; h != nil {
		// Through deliver: a local (broadcasting) commit made by Shutdown
		// must not reach the hook inside the Shutdown call.
		cs.c.deliver(func() { h(cm) })
	}
}

// processQueue is one owned queue: its offsets and the messages pulled but
// not yet consumed.
type processQueue struct {
	cs  *Consumer
	mq  MessageQueue
	sub *subscription

	halted     bool
	pullOffset int64 // next offset to pull
	nextBegin  int64 // the last pull's nextBeginOffset
	// consumed is the next offset to consume (the value commits carry), -1
	// until the start offset is known; acked the last value a broker
	// acknowledged, -1 for none.
	consumed   int64
	acked      int64
	committing int // commits in flight
	pending    []*MessageExt
	waiting    bool // messages are being sent back
	// reregistered: the last pull failed for want of our subscription and
	// the retry followed a prompt heartbeat. A second such failure in a
	// row waits PullRetryDelay, so a broker that keeps refusing is not
	// hammered.
	reregistered bool
	timer        host.Timer
}

// halt stops everything the queue does; answers still in flight are ignored
// when they come.
func (pq *processQueue) halt() {
	pq.halted = true
	if pq.timer != nil {
		pq.timer.Stop()
	}
}

func (pq *processQueue) live() bool { return !pq.halted && !pq.cs.stopped }

func (pq *processQueue) after(d time.Duration, f func()) {
	pq.timer = pq.cs.c.env.Clock.AfterFunc(d, func() {
		if pq.live() {
			f()
		}
	})
}

// init finds the queue's start offset, then starts pulling.
func (pq *processQueue) init() {
	cs, c := pq.cs, pq.cs.c
	if cs.cfg.Model == Broadcasting {
		if off, ok := cs.local[pq.mq]; ok {
			pq.begin(off, true)
			return
		}
		pq.startFromWhere()
		return
	}
	c.queryConsumerOffset(cs.cfg.Group, pq.mq, func(off int64, err error) {
		if !pq.live() {
			return
		}
		switch {
		case err == nil:
			pq.begin(off, true)
		case errors.Is(err, ErrOffsetNotFound):
			pq.startFromWhere()
		default:
			c.log.Warn("client: cannot read the committed offset; retrying", "group", cs.cfg.Group, "queue", pq.mq.String(), "err", err)
			pq.after(cs.cfg.PullRetryDelay, pq.init)
		}
	})
}

// startFromWhere applies ConsumeFrom to a queue with no committed offset.
func (pq *processQueue) startFromWhere() {
	cs, c := pq.cs, pq.cs.c
	from := func(off int64, err error) {
		if !pq.live() {
			return
		}
		if err != nil {
			c.log.Warn("client: cannot compute the start offset; retrying", "group", cs.cfg.Group, "queue", pq.mq.String(), "err", err)
			pq.after(cs.cfg.PullRetryDelay, pq.init)
			return
		}
		pq.begin(off, false)
	}
	switch {
	case cs.cfg.ConsumeFrom == ConsumeFromFirstOffset,
		cs.cfg.ConsumeFrom == ConsumeFromLastOffset && pq.sub.retry:
		c.later(func() { from(0, nil) })
	case cs.cfg.ConsumeFrom == ConsumeFromLastOffset,
		cs.cfg.ConsumeFrom == ConsumeFromTimestamp && pq.sub.retry:
		c.getMaxOffset(pq.mq, from)
	default:
		ts := cs.cfg.ConsumeTimestamp
		if ts.IsZero() {
			ts = c.env.Clock.Now().Add(-30 * time.Minute)
		}
		c.searchOffset(pq.mq, ts, from)
	}
}

func (pq *processQueue) begin(off int64, committed bool) {
	pq.pullOffset, pq.nextBegin, pq.consumed = off, off, off
	if committed {
		pq.acked = off
	}
	pq.pull()
}

func (pq *processQueue) pull() {
	if !pq.live() {
		return
	}
	cs := pq.cs
	req := PullRequest{
		Group:          cs.cfg.Group,
		Queue:          pq.mq,
		Offset:         pq.pullOffset,
		MaxNums:        cs.cfg.PullBatchSize,
		SysFlag:        PullFlagSuspend,
		SuspendTimeout: cs.cfg.PullHoldTime,
		SubVersion:     0,
	}
	// Without PullFlagSubscription the broker filters by the subscription
	// the heartbeat registered, as for the Go push consumer; the
	// expression then only drives the client-side tag check.
	req.Expression = pq.sub.expr
	if cs.cfg.PostSubscriptionWhenPull {
		req.SysFlag |= PullFlagSubscription
	}
	commitOffset := int64(-1)
	if cs.cfg.Model == Clustering && pq.consumed > 0 {
		req.SysFlag |= PullFlagCommitOffset
		req.CommitOffset = pq.consumed
		commitOffset = pq.consumed
	}
	sent := cs.c.env.Clock.Mono()
	cs.c.pull(req, func(r PullResult) { pq.pulled(r, commitOffset, sent) })
}

func (pq *processQueue) pulled(r PullResult, commitOffset int64, sent time.Duration) {
	if !pq.live() {
		return
	}
	cs, c := pq.cs, pq.cs.c
	if r.Err != nil {
		if cs.cfg.Hooks.OnPullError != nil {
			cs.cfg.Hooks.OnPullError(pq.mq, r.Err)
		}
		var re *ResponseError
		if errors.As(r.Err, &re) && (re.Code == remoting.SubscriptionNotExist || re.Code == remoting.SubscriptionNotLatest) && !pq.reregistered {
			pq.reregistered = true
			// The broker does not know this consumer (yet, or any more):
			// register and pull again at once, rather than idle until the
			// next periodic heartbeat.
			c.log.Info("client: broker lost our subscription; re-registering", "group", cs.cfg.Group, "queue", pq.mq.String(), "broker", re.Addr)
			c.reregister(re.Addr, func(err error) {
				if err != nil {
					pq.after(cs.cfg.PullRetryDelay, pq.pull)
					return
				}
				pq.pull()
			})
			return
		}
		c.log.Info("client: pull failed; retrying", "group", cs.cfg.Group, "queue", pq.mq.String(), "offset", pq.pullOffset, "err", r.Err)
		pq.after(cs.cfg.PullRetryDelay, pq.pull)
		return
	}
	pq.reregistered = false
	if commitOffset > pq.acked {
		// A master stores the carried offset before it reads, and
		// answers 0/19/20/21 only after that: the commit is acknowledged.
		// (Pulls of one queue never overlap, so no later commit of this
		// queue can have been applied before it.)
		pq.acked = commitOffset
		cs.reportCommit(Commit{Queue: pq.mq, Offset: commitOffset, Reason: CommitByPull, Acked: true, Sent: sent, Done: c.env.Clock.Mono()})
	}
	pq.nextBegin = r.NextBeginOffset
	switch r.Status {
	case PullFound:
		if len(r.Messages) > 0 {
			pq.pending = r.Messages
			pq.consume()
			return
		}
		pq.caughtUp()
	case PullNoNewMsg, PullNoMatchedMsg:
		pq.caughtUp()
	case PullOffsetIllegal:
		c.log.Warn("client: the broker says the offset moved; resetting", "group", cs.cfg.Group, "queue", pq.mq.String(),
			"from", pq.pullOffset, "to", r.NextBeginOffset, "min", r.MinOffset, "max", r.MaxOffset)
		pq.pullOffset, pq.consumed = r.NextBeginOffset, r.NextBeginOffset
		cs.commit(pq, CommitReset, true, nil)
	}
	pq.pullOffset = pq.nextBegin
	pq.pull()
}

// caughtUp: everything before nextBegin is consumed or is not for this
// subscription, and nothing is outstanding.
func (pq *processQueue) caughtUp() {
	if len(pq.pending) == 0 && !pq.waiting && pq.nextBegin > pq.consumed {
		pq.consumed = pq.nextBegin
	}
}

// consume hands the pending messages to the handler, ConsumeBatchSize at a
// time, in order, then pulls again.
func (pq *processQueue) consume() {
	cs := pq.cs
	for len(pq.pending) > 0 {
		if !pq.live() || pq.waiting {
			return
		}
		n := min(cs.cfg.ConsumeBatchSize, len(pq.pending))
		chunk := pq.pending[:n:n]
		if cs.cfg.Hooks.OnDeliver != nil {
			cs.cfg.Hooks.OnDeliver(Delivery{Queue: pq.mq, Messages: chunk})
		}
		res := cs.cfg.Handler(chunk)
		if !pq.live() {
			return // the handler shut the consumer or client down
		}
		if res == ConsumeSuccess || cs.cfg.Model == Broadcasting {
			if res != ConsumeSuccess {
				cs.c.log.Info("client: broadcasting consumer failed messages; dropping them, as RocketMQ does", "group", cs.cfg.Group, "queue", pq.mq.String(), "count", len(chunk))
			}
			pq.done(chunk, nil)
			continue
		}
		pq.waiting = true
		cs.sendBack(chunk, func(failed []*MessageExt) {
			pq.waiting = false
			if !pq.live() {
				return
			}
			pq.done(chunk, failed)
			if len(failed) > 0 {
				cs.c.log.Warn("client: messages could not be sent back; redelivering them locally", "group", cs.cfg.Group, "queue", pq.mq.String(), "count", len(failed))
				pq.after(cs.cfg.ConsumeRetryDelay, pq.consume)
				return
			}
			pq.consume()
		})
		return
	}
	if !pq.live() || pq.waiting {
		return
	}
	pq.caughtUp()
	pq.pullOffset = pq.nextBegin
	pq.pull()
}

// done removes chunk from the head of pending, puts back the messages in
// failed (to be delivered again, first), and moves consumed up to the first
// message still pending, or past the chunk when none is.
func (pq *processQueue) done(chunk, failed []*MessageExt) {
	rest := pq.pending[len(chunk):]
	pq.pending = append(slices.Clone(failed), rest...)
	var next int64
	if len(pq.pending) > 0 {
		next = pq.pending[0].QueueOffset
		for _, m := range pq.pending[1:] {
			next = min(next, m.QueueOffset)
		}
	} else {
		for _, m := range chunk {
			next = max(next, m.QueueOffset+1)
		}
	}
	if pq.cs.c.env.Faults.Fire(BugCommitPastUnprocessed) {
		next++ // the planted bug: skip a message nobody processed
	}
	// Never backwards: a broker that returned messages below what was
	// already consumed does not undo the commit.
	if next > pq.consumed {
		pq.consumed = next
	}
}

// sendBack sends failed messages back for redelivery through the retry
// topic, all at once, and calls done with those that could not be.
func (cs *Consumer) sendBack(msgs []*MessageExt, done func(failed []*MessageExt)) {
	ok := make([]bool, len(msgs))
	left := len(msgs)
	for i, m := range msgs {
		cs.sendBackOne(m, func(sent bool) {
			ok[i] = sent
			left--
			if left > 0 {
				return
			}
			var failed []*MessageExt
			for j, m := range msgs {
				if !ok[j] {
					failed = append(failed, m)
				}
			}
			done(failed)
		})
	}
}

// sendBackOne asks the message's broker to schedule a redelivery
// (CONSUMER_SEND_MSG_BACK), and when that fails sends a copy to the group's
// retry topic with the delay level RocketMQ would use, as the Go client
// does.
func (cs *Consumer) sendBackOne(m *MessageExt, cb func(bool)) {
	c := cs.c
	addr := c.masterAddr(m.BrokerName)
	if addr == "" {
		c.later(func() { cb(false) })
		return
	}
	req := remoting.NewRequest(remoting.ConsumerSendMsgBack,
		remoting.StrField("group", cs.cfg.Group),
		remoting.IntField("offset", m.CommitLogOffset),
		remoting.IntField("delayLevel", 0),
		remoting.StrField("originMsgId", m.MsgID),
		remoting.StrField("originTopic", m.Topic),
		remoting.BoolField("unitMode", false),
		remoting.IntField("maxReconsumeTimes", int64(cs.cfg.MaxReconsumeTimes)),
		remoting.StrField("bname", m.BrokerName),
	)
	c.invoke(addr, req, c.cfg.RequestTimeout, func(resp *remoting.Command, err error, _ bool) {
		if err == nil && resp.Code == int32(remoting.Success) {
			cb(true)
			return
		}
		cs.sendToRetryTopic(m, addr, cb)
	})
}

// retryProducerGroup is the producer group of sends to retry topics
// (RocketMQ's CLIENT_INNER_PRODUCER).
const retryProducerGroup = "CLIENT_INNER_PRODUCER"

func (cs *Consumer) sendToRetryTopic(m *MessageExt, addr string, cb func(bool)) {
	c := cs.c
	props := slices.Clone(m.Properties)
	if _, ok := props.Get(message.PropertyOriginMessageID); !ok {
		props.Set(message.PropertyOriginMessageID, m.MsgID)
	}
	props.Set(message.PropertyRetryTopic, m.OriginTopic())
	props.Delete(message.PropertyTransactionPrepared)
	props.Set(message.PropertyDelayLevel, strconv.Itoa(3+int(m.ReconsumeTimes)))
	raw, err := message.AppendProperties(nil, props)
	if err != nil {
		c.log.Warn("client: cannot send a message back: its properties do not encode", "msgID", m.MsgID, "err", err)
		c.later(func() { cb(false) })
		return
	}
	retry := message.RetryTopic(cs.cfg.Group)
	req := remoting.NewRequest(remoting.SendMessage,
		remoting.StrField("producerGroup", retryProducerGroup),
		remoting.StrField("topic", retry),
		remoting.StrField("defaultTopic", message.AutoCreateTopicKey),
		remoting.IntField("defaultTopicQueueNums", int64(c.cfg.DefaultTopicQueueNums)),
		remoting.IntField("queueId", 0),
		remoting.IntField("sysFlag", 0),
		remoting.IntField("bornTimestamp", m.BornTimestamp),
		remoting.IntField("flag", int64(m.Flag)),
		remoting.StrField("properties", string(raw)),
		remoting.IntField("reconsumeTimes", int64(m.ReconsumeTimes)+1),
		remoting.BoolField("unitMode", false),
		remoting.IntField("maxReconsumeTimes", int64(cs.cfg.MaxReconsumeTimes)),
		remoting.BoolField("batch", false),
		remoting.StrField("bname", m.BrokerName),
	)
	req.Body = m.Body
	c.invoke(addr, req, c.cfg.SendTimeout, func(resp *remoting.Command, err error, _ bool) {
		if err == nil && resp.Code != int32(remoting.Success) {
			err = responseError(req, resp, addr)
		}
		if err != nil {
			c.log.Warn("client: sending a message back to the retry topic failed", "msgID", m.MsgID, "err", err)
		}
		cb(err == nil)
	})
}

// expressionTag is the only expression type this client sends.
const expressionTag = "TAG"
