package client

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker"
	"github.com/thrustmq/thrust/broker/message"
)

// recorder keeps what a consumer's hooks saw. It is touched only on its
// consumer's loop; tests read it through node.do.
type recorder struct {
	deliveries []*MessageExt
	byID       map[string]int // deliveries per MsgID
	commits    []Commit
	owned      map[string][]MessageQueue
	failOnce   map[string]bool // MsgIDs the handler rejects the first time
}

func newRecorder() *recorder {
	return &recorder{byID: map[string]int{}, owned: map[string][]MessageQueue{}, failOnce: map[string]bool{}}
}

func (r *recorder) config(group string, model MessageModel, topics ...string) ConsumerConfig {
	cfg := ConsumerConfig{
		Group:             group,
		Model:             model,
		ConsumeFrom:       ConsumeFromFirstOffset,
		PersistInterval:   200 * time.Millisecond,
		RebalanceInterval: time.Minute, // only brokers' notifications rebalance in time
		Handler: func(msgs []*MessageExt) ConsumeResult {
			for _, m := range msgs {
				if r.failOnce[m.MsgID] {
					r.failOnce[m.MsgID] = false
					return ConsumeRetryLater
				}
			}
			return ConsumeSuccess
		},
		Hooks: ConsumerHooks{
			OnDeliver: func(d Delivery) {
				for _, m := range d.Messages {
					r.deliveries = append(r.deliveries, m)
					r.byID[m.MsgID]++
				}
			},
			OnCommit:    func(c Commit) { r.commits = append(r.commits, c) },
			OnRebalance: func(topic string, owned []MessageQueue) { r.owned[topic] = owned },
		},
	}
	for _, t := range topics {
		cfg.Subscriptions = append(cfg.Subscriptions, Subscription{Topic: t, Expression: "*"})
	}
	return cfg
}

// ackedCommit returns the highest acknowledged commit of q.
func (r *recorder) ackedCommit(q MessageQueue) int64 {
	best := int64(-1)
	for _, c := range r.commits {
		if c.Queue == q && c.Acked {
			best = max(best, c.Offset)
		}
	}
	return best
}

// checkOrder fails unless, per queue, deliveries came in strictly
// increasing offset order (a first delivery; redeliveries come through the
// retry topic).
func (r *recorder) checkOrder(t *testing.T, who string) {
	t.Helper()
	last := map[MessageQueue]int64{}
	for _, m := range r.deliveries {
		q := m.Queue()
		if prev, ok := last[q]; ok && m.QueueOffset <= prev {
			t.Fatalf("%s: %s delivered offset %d after %d", who, q, m.QueueOffset, prev)
		}
		last[q] = m.QueueOffset
	}
}

type consumerNode struct {
	*testClient
	rec *recorder
	cs  *Consumer
}

func startConsumer(t *testing.T, name string, pin func(c *Client), ccfg func(r *recorder) ConsumerConfig) *consumerNode {
	t.Helper()
	tc := newTestClient(t, name, Config{})
	cn := &consumerNode{testClient: tc, rec: newRecorder()}
	var err error
	tc.do(func() {
		if pin != nil {
			pin(tc.c)
		}
		cn.cs, err = tc.c.NewConsumer(ccfg(cn.rec))
		if err == nil {
			err = cn.cs.Start()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return cn
}

func (cn *consumerNode) ownedTopic(topic string) []MessageQueue {
	var out []MessageQueue
	cn.do(func() {
		for _, q := range cn.cs.Owned() {
			if q.Topic == topic {
				out = append(out, q)
			}
		}
	})
	return out
}

func sendN(t *testing.T, p *testClient, topic string, n int, prefix string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		r := p.send(msg(topic, fmt.Sprint(prefix, i)), nil)
		if r.Err != nil {
			t.Fatalf("send %d: %s", i, describe(r))
		}
		ids = append(ids, r.MsgID)
	}
	return ids
}

func TestClusteringConsumersSplitQueuesAndRebalance(t *testing.T) {
	b := startBroker(t, "broker-a", nil, nil)
	p := newTestClient(t, "producer", Config{})
	if err := await(p.node, func(done func(error)) { p.c.CreateTopic(b.addr, "T", 4, PermRead|PermWrite, done) }); err != nil {
		t.Fatal(err)
	}
	pin := func(c *Client) {
		c.SetRoute("T", StaticRoute("broker-a", b.addr, 4))
		c.SetRoute(message.RetryTopic("cg"), StaticRoute("broker-a", b.addr, 1))
	}
	p.do(func() { pin(p.c) })
	cfg := func(r *recorder) ConsumerConfig { return r.config("cg", Clustering, "T") }

	a := startConsumer(t, "ca", pin, cfg)
	a.eventually("a alone owns every queue", func() bool { return len(a.cs.Owned()) == 5 })

	bb := startConsumer(t, "cb", pin, cfg)
	waitFor(t, "a and b split the queues", func() bool {
		qa, qb := a.ownedTopic("T"), bb.ownedTopic("T")
		return len(qa) == 2 && len(qb) == 2 && !slices.ContainsFunc(qa, func(q MessageQueue) bool { return slices.Contains(qb, q) })
	})

	ids := sendN(t, p, "T", 40, "m")
	seen := func() map[string]int {
		all := map[string]int{}
		for _, cn := range []*consumerNode{a, bb} {
			cn.do(func() {
				for id, n := range cn.rec.byID {
					all[id] += n
				}
			})
		}
		return all
	}
	waitFor(t, "every message delivered", func() bool {
		s := seen()
		return !slices.ContainsFunc(ids, func(id string) bool { return s[id] == 0 })
	})
	for id, n := range seen() {
		if n != 1 {
			t.Fatalf("message %s delivered %d times with no failure", id, n)
		}
	}
	for _, cn := range []*consumerNode{a, bb} {
		cn.do(func() { cn.rec.checkOrder(t, cn.c.ClientID()) })
	}
	// Each queue's consumed offset is committed and acknowledged.
	for qid := range 4 {
		q := MessageQueue{"T", "broker-a", qid}
		owner := a
		if slices.Contains(bb.ownedTopic("T"), q) {
			owner = bb
		}
		owner.eventually(fmt.Sprint("commit of ", q), func() bool { return owner.rec.ackedCommit(q) == 10 })
	}

	// b leaves cleanly: it commits, unregisters, and a takes every queue
	// at once (the broker's notification, not the 1-minute timer).
	bOwned := bb.ownedTopic("T")
	await(bb.node, func(done func(struct{})) { bb.cs.Shutdown(func() { done(struct{}{}) }) })
	bb.do(func() {
		for _, q := range bOwned {
			found := false
			for _, c := range bb.rec.commits {
				found = found || c.Queue == q && c.Reason == CommitShutdown && c.Acked && c.Offset == 10
			}
			if !found {
				t.Errorf("no acknowledged shutdown commit of %s at 10: %+v", q, bb.rec.commits)
			}
		}
	})
	start := time.Now()
	waitFor(t, "a owns every queue again", func() bool { return len(a.ownedTopic("T")) == 4 })
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("takeover took %v", d)
	}
	more := sendN(t, p, "T", 8, "n")
	a.eventually("a gets the new messages", func() bool {
		return !slices.ContainsFunc(more, func(id string) bool { return a.rec.byID[id] == 0 })
	})
	// b committed before leaving, so a resumed exactly where b stopped.
	a.do(func() {
		for id, n := range a.rec.byID {
			if n != 1 {
				t.Errorf("a got %s %d times", id, n)
			}
		}
		a.rec.checkOrder(t, "a")
	})

	// c joins, then dies without a word: its connection closing is enough
	// for the broker to tell a.
	c := startConsumer(t, "cc", pin, cfg)
	waitFor(t, "a and c split the queues", func() bool { return len(a.ownedTopic("T")) == 2 && len(c.ownedTopic("T")) == 2 })
	c.do(c.c.Close)
	waitFor(t, "a owns every queue after c died", func() bool { return len(a.ownedTopic("T")) == 4 })
}

func TestBroadcastingConsumersEachGetEverything(t *testing.T) {
	b := startBroker(t, "broker-a", nil, nil)
	p := newTestClient(t, "producer", Config{})
	pin := func(c *Client) { c.SetRoute("T", StaticRoute("broker-a", b.addr, 2)) }
	p.do(func() { pin(p.c) })
	ids := sendN(t, p, "T", 10, "m")
	cfg := func(r *recorder) ConsumerConfig { return r.config("bg", Broadcasting, "T") }
	x := startConsumer(t, "cx", pin, cfg)
	y := startConsumer(t, "cy", pin, cfg)
	for _, cn := range []*consumerNode{x, y} {
		cn.eventually(cn.c.ClientID()+" gets every message", func() bool {
			return !slices.ContainsFunc(ids, func(id string) bool { return cn.rec.byID[id] == 0 })
		})
		cn.eventually("local commits", func() bool {
			return cn.rec.ackedCommit(MessageQueue{"T", "broker-a", 0}) == 5 && cn.rec.ackedCommit(MessageQueue{"T", "broker-a", 1}) == 5
		})
		cn.do(func() {
			for _, c := range cn.rec.commits {
				if !c.Local {
					t.Errorf("broadcasting commit sent to the broker: %+v", c)
				}
			}
		})
	}
}

func TestConsumerSendsBackAndGetsTheRetry(t *testing.T) {
	b := startBroker(t, "broker-a", nil, func(c *broker.Config) { c.MessageDelayLevel = "1s 1s 1s 1s" })
	p := newTestClient(t, "producer", Config{})
	pin := func(c *Client) {
		c.SetRoute("T", StaticRoute("broker-a", b.addr, 1))
		c.SetRoute(message.RetryTopic("cg"), StaticRoute("broker-a", b.addr, 1))
	}
	p.do(func() { pin(p.c) })
	ids := sendN(t, p, "T", 3, "m")
	cn := startConsumer(t, "c1", pin, func(r *recorder) ConsumerConfig {
		r.failOnce[ids[1]] = true
		return r.config("cg", Clustering, "T")
	})
	cn.eventually("the rejected message comes back", func() bool { return cn.rec.byID[ids[1]] == 2 })
	cn.do(func() {
		var retried *MessageExt
		for _, m := range cn.rec.deliveries {
			if m.MsgID == ids[1] && m.Topic == message.RetryTopic("cg") {
				retried = m
			}
		}
		if retried == nil || retried.ReconsumeTimes != 1 || retried.OriginTopic() != "T" || string(retried.Body) != "m1" {
			t.Fatalf("redelivery %+v", retried)
		}
		if cn.rec.byID[ids[0]] != 1 || cn.rec.byID[ids[2]] != 1 {
			t.Fatalf("deliveries %v", cn.rec.byID)
		}
	})
	// Once sent back, the original queue's offset moved past it.
	cn.eventually("the queue is committed past the rejected message", func() bool {
		return cn.rec.ackedCommit(MessageQueue{"T", "broker-a", 0}) == 3
	})
}

func TestNameServerRoutesAndAutoCreation(t *testing.T) {
	_, ns := startNamesrv(t)
	b := startBroker(t, "broker-a", []string{ns}, nil)
	// The first name server refuses: lookups fail over to the second.
	nsList := []string{refusedAddr(t), ns}
	p := newTestClient(t, "producer", Config{NamesrvAddrs: nsList})
	// Wait until the broker has registered TBW102.
	for deadline := time.Now().Add(testTimeout); ; {
		err := await(p.node, func(done func(error)) {
			p.c.Route(message.AutoCreateTopicKey, func(_ Route, err error) { done(err) })
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TBW102 route: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A topic nobody created: sent by TBW102's route, created by the broker.
	r := p.send(msg("Fresh", "first"), nil)
	if r.Err != nil || r.MessageQueue.BrokerName != "broker-a" || r.MessageQueue.QueueID >= DefaultTopicQueueNums {
		t.Fatalf("send to a new topic: %s", describe(r))
	}
	var route Route
	for deadline := time.Now().Add(testTimeout); ; {
		type res struct {
			r   Route
			err error
		}
		got := await(p.node, func(done func(res)) {
			p.c.Route("Fresh", func(r Route, err error) { done(res{r, err}) })
		})
		if got.err == nil {
			route = got.r
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the created topic never got a route: %v", got.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(route.QueueDatas) != 1 || route.QueueDatas[0].WriteQueueNums != DefaultTopicQueueNums || route.BrokerDatas[0].MasterAddr() != b.addr {
		t.Fatalf("route of the created topic: %+v", route)
	}
	ids := append([]string{r.MsgID}, sendN(t, p, "Fresh", 7, "m")...)

	// A consumer that knows only the name servers finds and reads it all,
	// its retry topic's route included.
	tc := newTestClient(t, "consumer", Config{NamesrvAddrs: nsList})
	rec := newRecorder()
	tc.do(func() {
		cs, err := tc.c.NewConsumer(rec.config("ng", Clustering, "Fresh"))
		if err == nil {
			err = cs.Start()
		}
		if err != nil {
			t.Error(err)
		}
	})
	tc.eventually("the consumer reads the new topic", func() bool {
		return !slices.ContainsFunc(ids, func(id string) bool { return rec.byID[id] == 0 })
	})
	tc.eventually("the consumer owns the retry topic through the name server's route", func() bool {
		return len(rec.owned[message.RetryTopic("ng")]) == 1
	})
	var st Stats
	tc.do(func() { st = tc.c.Stats() })
	if st.Heartbeats == 0 || st.Pulls == 0 {
		t.Fatalf("stats %+v", st)
	}
}
