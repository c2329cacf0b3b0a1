package benchmarks

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/thrustmq/thrust/broker/client"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/remoting"
)

// thrustCluster is one run's clients of a Thrust broker: producers and
// consumers over Thrust's own client, each client on its own oshost loop
// (the client is single-loop, so a loop per connection is what lets them
// use more than one core).
type thrustCluster struct {
	namesrv    string
	brokerAddr string
	topics     []string
	queues     int
	log        *slog.Logger
	tag        string

	loops     []*oshost.Loop
	admin     *client.Client
	adminLoop *oshost.Loop
	producers []*thrustProducer
	consumers []*thrustConsumer
}

func newLoop() *oshost.Loop {
	l := oshost.NewLoop()
	go l.Run()
	return l
}

// clientLogger keeps clients quiet unless something is wrong.
func clientLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// do runs f on loop and waits for its callback-driven result: f must call
// done exactly once, from the loop.
func do[T any](loop *oshost.Loop, timeout time.Duration, f func(done func(T, error))) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	loop.Post(func() { f(func(v T, err error) { ch <- result{v, err} }) })
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(timeout):
		var zero T
		return zero, fmt.Errorf("no answer within %v", timeout)
	}
}

// openThrust creates the run's topics (queues each) on the broker, starts
// the consumers (unless consumers is 0: see startConsumers) and waits until
// they own every queue, and connects the producers. brokerAddr may be
// empty: it is then looked up.
func openThrust(namesrv, brokerAddr string, topics []string, queues, producers, consumers, subscriptions, inFlight int, rec *Recorder, tag string) (*thrustCluster, error) {
	tc := &thrustCluster{namesrv: namesrv, brokerAddr: brokerAddr, topics: topics, queues: queues, log: clientLogger(), tag: tag}
	ok := false
	defer func() {
		if !ok {
			tc.Close()
		}
	}()
	tc.adminLoop = newLoop()
	tc.loops = append(tc.loops, tc.adminLoop)
	var err error
	tc.adminLoop.Do(func() {
		tc.admin, err = client.New(oshost.NewEnv(tc.adminLoop, oshost.Options{Log: tc.log}), client.Config{
			NamesrvAddrs: []string{namesrv}, InstanceName: "admin-" + tag,
		})
	})
	if err != nil {
		return nil, err
	}
	if tc.brokerAddr == "" {
		if tc.brokerAddr, err = tc.findBroker(); err != nil {
			return nil, err
		}
	}
	for _, t := range topics {
		if _, err := do(tc.adminLoop, 10*time.Second, func(done func(struct{}, error)) {
			tc.admin.CreateTopic(tc.brokerAddr, t, queues, 6, func(err error) { done(struct{}{}, err) })
		}); err != nil {
			return nil, fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	// The broker registers the new topics with the name server right
	// away; wait until the name server answers with them.
	for _, t := range topics {
		if err := tc.waitRoute(t); err != nil {
			return nil, err
		}
	}

	if err := tc.startConsumers(consumers, subscriptions, rec); err != nil {
		return nil, err
	}
	for i := 0; i < producers; i++ {
		p, err := tc.newProducer(fmt.Sprintf("%s-p%d", tag, i), inFlight)
		if err != nil {
			return nil, err
		}
		tc.producers = append(tc.producers, p)
	}
	ok = true
	return tc, nil
}

// startConsumers starts consumers connections in each of subscriptions
// groups, reading from the start of every queue, and waits until they own
// every queue.
func (tc *thrustCluster) startConsumers(consumers, subscriptions int, rec *Recorder) error {
	if consumers == 0 || subscriptions == 0 {
		return nil
	}
	owned := &ownership{want: tc.queues * len(tc.topics), by: map[string]map[string]int{}}
	for s := 0; s < subscriptions; s++ {
		group := fmt.Sprintf("bench_%s_s%d", tc.tag, s)
		for i := 0; i < consumers; i++ {
			c, err := tc.newConsumer(group, fmt.Sprintf("%s-s%d-c%d", tc.tag, s, i), rec.Shard(), owned)
			if err != nil {
				return err
			}
			tc.consumers = append(tc.consumers, c)
		}
	}
	return owned.wait(subscriptions, 20*time.Second)
}

func (tc *thrustCluster) findBroker() (string, error) {
	var r client.Route
	var err error
	// A broker registers right after it boots; give it a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r, err = do(tc.adminLoop, 10*time.Second, func(done func(client.Route, error)) {
			tc.admin.Route("TBW102", done)
		})
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("find the broker through name server %s (route of TBW102): %w", tc.namesrv, err)
	}
	for _, b := range r.BrokerDatas {
		if a := b.MasterAddr(); a != "" {
			return a, nil
		}
	}
	return "", fmt.Errorf("name server %s knows no master broker", tc.namesrv)
}

func (tc *thrustCluster) waitRoute(topic string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := do(tc.adminLoop, 10*time.Second, func(done func(client.Route, error)) {
			tc.admin.Route(topic, done)
		})
		if err == nil && len(r.QueueDatas) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s has no route on name server %s: %v", topic, tc.namesrv, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ownership counts the queues each group's consumers own, to know when
// rebalancing has settled.
type ownership struct {
	mu   sync.Mutex
	want int
	by   map[string]map[string]int // group -> consumer/topic -> queues
}

func (o *ownership) set(group, key string, n int) {
	o.mu.Lock()
	if o.by[group] == nil {
		o.by[group] = map[string]int{}
	}
	o.by[group][key] = n
	o.mu.Unlock()
}

func (o *ownership) wait(groups int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		o.mu.Lock()
		settled := len(o.by) == groups
		for _, m := range o.by {
			total := 0
			for _, n := range m {
				total += n
			}
			settled = settled && total == o.want
		}
		o.mu.Unlock()
		if settled {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("consumers did not take all %d queues within %v", o.want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type thrustConsumer struct {
	loop *oshost.Loop
	c    *client.Client
	cs   *client.Consumer
}

func (tc *thrustCluster) newConsumer(group, instance string, sh *Shard, owned *ownership) (*thrustConsumer, error) {
	loop := newLoop()
	tc.loops = append(tc.loops, loop)
	tcs := &thrustConsumer{loop: loop}
	var subs []client.Subscription
	for _, t := range tc.topics {
		subs = append(subs, client.Subscription{Topic: t, Expression: "*"})
	}
	var err error
	loop.Do(func() {
		tcs.c, err = client.New(oshost.NewEnv(loop, oshost.Options{Log: tc.log}), client.Config{
			NamesrvAddrs: []string{tc.namesrv}, InstanceName: instance, ClientID: "127.0.0.1@" + instance,
		})
		if err != nil {
			return
		}
		tcs.cs, err = tcs.c.NewConsumer(client.ConsumerConfig{
			Group:               group,
			Subscriptions:       subs,
			ConsumeFrom:         client.ConsumeFromFirstOffset,
			RebalanceRetryDelay: 200 * time.Millisecond,
			PullRetryDelay:      100 * time.Millisecond,
			Handler: func(msgs []*client.MessageExt) client.ConsumeResult {
				now := sh.r.Now()
				for _, m := range msgs {
					if intended, sent, ok := BodyTimes(m.Body); ok {
						sh.Received(intended, sent, now, len(m.Body))
					}
				}
				return client.ConsumeSuccess
			},
			ConsumeBatchSize: 32,
			Hooks: client.ConsumerHooks{
				OnRebalance: func(topic string, q []client.MessageQueue) {
					if slices.Contains(tc.topics, topic) { // not the group's retry topic
						owned.set(group, instance+"/"+topic, len(q))
					}
				},
			},
		})
		if err != nil {
			return
		}
		err = tcs.cs.Start()
	})
	if err != nil {
		return nil, err
	}
	return tcs, nil
}

// thrustProducer is a Sender over one client.
type thrustProducer struct {
	loop   *oshost.Loop
	c      *client.Client
	topics []string
	queues [][]client.MessageQueue
}

func (tc *thrustCluster) newProducer(instance string, inFlight int) (*thrustProducer, error) {
	loop := newLoop()
	tc.loops = append(tc.loops, loop)
	p := &thrustProducer{loop: loop, topics: tc.topics}
	var err error
	loop.Do(func() {
		p.c, err = client.New(oshost.NewEnv(loop, oshost.Options{Log: tc.log}), client.Config{
			NamesrvAddrs: []string{tc.namesrv}, InstanceName: instance, ProducerGroup: "bench_producer",
			// Every failure counts; a retry would hide it.
			RetryTimesWhenSendFailed: -1,
			// The body is incompressible filler; compressing it would
			// measure zlib.
			CompressBodyOverBytes: -1,
			MaxPendingPerConn:     inFlight + 64,
		})
	})
	if err != nil {
		return nil, err
	}
	// Fetch the routes and open the connection now, not on the first
	// measured send.
	for _, t := range tc.topics {
		qs, err := do(loop, 10*time.Second, func(done func([]client.MessageQueue, error)) { p.c.PublishQueues(t, done) })
		if err != nil {
			return nil, fmt.Errorf("producer %s: route of %s: %w", instance, t, err)
		}
		p.queues = append(p.queues, qs)
	}
	if _, err := do(loop, 10*time.Second, func(done func(struct{}, error)) {
		p.c.Heartbeat(tc.brokerAddr, func(err error) { done(struct{}{}, err) })
	}); err != nil {
		return nil, fmt.Errorf("producer %s: heartbeat: %w", instance, err)
	}
	return p, nil
}

// Send implements Sender: the requests are sent from the client's loop,
// stamped there, just before the client takes them.
func (p *thrustProducer) Send(reqs []*Request) {
	p.loop.Post(func() {
		for _, r := range reqs {
			topic := p.topics[r.Topic]
			var mq *client.MessageQueue
			if r.Key != "" {
				qs := p.queues[r.Topic]
				q := qs[QueueOf(r.Key, len(qs))]
				mq = &q
			}
			cb := func(res client.SendResult) { r.Complete(sendCode(res)) }
			var keys []string
			if r.Key != "" {
				keys = []string{r.Key}
			}
			r.Stamp()
			if len(r.Bodies) == 1 {
				p.c.Send(&client.Message{Topic: topic, Body: r.Bodies[0], Keys: keys}, mq, cb)
				continue
			}
			msgs := make([]*client.Message, len(r.Bodies))
			for i, b := range r.Bodies {
				msgs[i] = &client.Message{Topic: topic, Body: b, Keys: keys}
			}
			p.c.SendBatch(msgs, mq, cb)
		}
	})
}

// sendCode names a send's outcome: "" when acknowledged as stored and
// flushed as configured; FLUSH_DISK_TIMEOUT and the other stored-but
// statuses count as errors here, since the promise the configuration
// makes was not kept.
func sendCode(r client.SendResult) string {
	if r.Err == nil {
		if r.Status == client.SendOK {
			return ""
		}
		return r.Status.String()
	}
	var re *client.ResponseError
	switch {
	case errors.As(r.Err, &re):
		return re.Code.String()
	case errors.Is(r.Err, remoting.ErrTimeout):
		return "timeout"
	case errors.Is(r.Err, remoting.ErrChannelClosed):
		return "connection closed"
	case errors.Is(r.Err, client.ErrTooManyPending):
		return "too many pending"
	case errors.Is(r.Err, client.ErrConnect):
		return "connect failed"
	case errors.Is(r.Err, client.ErrClientClosed):
		return "client closed"
	}
	return "error"
}

// RuntimeInfo asks the broker for GET_BROKER_RUNTIME_INFO's table.
func (tc *thrustCluster) RuntimeInfo() (map[string]string, error) {
	return brokerRuntimeInfo(tc.adminLoop, tc.brokerAddr)
}

func brokerRuntimeInfo(loop *oshost.Loop, addr string) (map[string]string, error) {
	resp, err := do(loop, 10*time.Second, func(done func(*remoting.Command, error)) {
		env := oshost.NewEnv(loop, oshost.Options{Log: clientLogger(), Seed: 1})
		ch := remoting.Dial(env.Net, env.Clock, nil, addr, remoting.NewDispatcher(), remoting.Options{})
		ch.Invoke(remoting.NewRequest(remoting.GetBrokerRuntimeInfo), 5*time.Second, func(r *remoting.Command, err error) {
			ch.Close()
			done(r, err)
		})
	})
	if err != nil {
		return nil, err
	}
	if resp.Code != int32(remoting.Success) {
		return nil, fmt.Errorf("GET_BROKER_RUNTIME_INFO answered %s: %s", remoting.ResponseCode(resp.Code), resp.Remark)
	}
	var body struct {
		Table map[string]string `json:"table"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("GET_BROKER_RUNTIME_INFO body: %w", err)
	}
	return body.Table, nil
}

// Senders are the producers as Senders.
func (tc *thrustCluster) Senders() []Sender {
	out := make([]Sender, len(tc.producers))
	for i, p := range tc.producers {
		out[i] = p
	}
	return out
}

// Close closes every client and stops the loops.
func (tc *thrustCluster) Close() {
	for _, p := range tc.producers {
		p.loop.Do(p.c.Close)
	}
	for _, c := range tc.consumers {
		c.loop.Do(c.c.Close)
	}
	if tc.admin != nil {
		tc.adminLoop.Do(tc.admin.Close)
	}
	for _, l := range tc.loops {
		l.Stop()
		<-l.Done()
	}
	tc.loops = nil
}

// counterDelta is after minus before for the numeric counters both have.
func counterDelta(before, after map[string]string) map[string]string {
	out := map[string]string{}
	for k, a := range after {
		av, err1 := strconv.ParseInt(a, 10, 64)
		bv, err2 := strconv.ParseInt(before[k], 10, 64)
		if err1 == nil && err2 == nil && k != "bootTimestamp" && k != "commitLogMinOffset" {
			out[k] = strconv.FormatInt(av-bv, 10)
		} else {
			out[k] = a
		}
	}
	return out
}
