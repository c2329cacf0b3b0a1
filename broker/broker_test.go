package broker

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// testBroker runs a broker on a real loop on 127.0.0.1 with a small store.
type testBroker struct {
	t    *testing.T
	loop *oshost.Loop
	env  host.Env
	b    *Broker
	cfg  Config
}

func startBroker(t *testing.T, mutate func(*Config)) *testBroker {
	t.Helper()
	loop := oshost.NewLoop()
	go loop.Run()
	t.Cleanup(func() { loop.Stop(); <-loop.Done() })
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := oshost.NewEnv(loop, oshost.Options{Seed: 1, Log: log})
	cfg := DefaultConfig(t.TempDir())
	cfg.ListenPort = 0
	cfg.Store.MappedFileSizeCommitLog = 1 << 20
	cfg.Store.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.Store.MaxMessageSize = 64 << 10
	if mutate != nil {
		mutate(&cfg)
	}
	tb := &testBroker{t: t, loop: loop, env: env, cfg: cfg}
	tb.start()
	t.Cleanup(func() {
		if tb.b != nil {
			loop.Do(func() { tb.b.Shutdown() })
		}
	})
	return tb
}

func (tb *testBroker) start() {
	tb.t.Helper()
	var err error
	tb.loop.Do(func() { tb.b, err = Start(tb.env, tb.cfg, Options{}) })
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.cfg.ListenPort = tb.b.cfg.ListenPort
}

// client is a raw remoting connection to the broker.
type client struct {
	tb      *testBroker
	ch      *remoting.Channel
	pushed  chan *remoting.Command
	timeout time.Duration
}

func (tb *testBroker) dial() *client {
	c := &client{tb: tb, pushed: make(chan *remoting.Command, 64), timeout: 5 * time.Second}
	d := remoting.NewDispatcher()
	d.Handle(remoting.NotifyConsumerIdsChanged, func(ch *remoting.Channel, req *remoting.Command) { c.pushed <- req })
	tb.loop.Do(func() {
		c.ch = remoting.Dial(tb.env.Net, tb.env.Clock, nil, tb.b.Addr(), d, remoting.Options{})
	})
	tb.t.Cleanup(func() { tb.loop.Do(c.ch.Close) })
	return c
}

// call sends req and waits for the response.
func (c *client) call(req *remoting.Command, timeout time.Duration) *remoting.Command {
	c.tb.t.Helper()
	type result struct {
		resp *remoting.Command
		err  error
	}
	ch := make(chan result, 1)
	c.tb.loop.Do(func() {
		c.ch.Invoke(req, timeout, func(resp *remoting.Command, err error) { ch <- result{resp, err} })
	})
	r := <-ch
	if r.err != nil {
		c.tb.t.Fatalf("%v: %v", remoting.RequestCode(req.Code), r.err)
	}
	return r.resp
}

func sendReq(topic string, queueID int, body, props string) *remoting.Command {
	req := remoting.NewRequest(remoting.SendMessage,
		remoting.StrField("producerGroup", "pg"),
		remoting.StrField("topic", topic),
		remoting.StrField("defaultTopic", "TBW102"),
		remoting.StrField("defaultTopicQueueNums", "4"),
		remoting.IntField("queueId", int64(queueID)),
		remoting.StrField("sysFlag", "0"),
		remoting.IntField("bornTimestamp", 1700000000000),
		remoting.StrField("flag", "0"),
		remoting.StrField("properties", props),
		remoting.StrField("reconsumeTimes", "0"),
		remoting.StrField("unitMode", "false"),
		remoting.StrField("batch", "false"),
	)
	req.Body = []byte(body)
	return req
}

func pullReq(group, topic string, queueID int, offset int64, sysFlag int, suspend time.Duration) *remoting.Command {
	return remoting.NewRequest(remoting.PullMessage,
		remoting.StrField("consumerGroup", group),
		remoting.StrField("topic", topic),
		remoting.IntField("queueId", int64(queueID)),
		remoting.IntField("queueOffset", offset),
		remoting.StrField("maxMsgNums", "32"),
		remoting.IntField("sysFlag", int64(sysFlag)),
		remoting.StrField("commitOffset", "0"),
		remoting.IntField("suspendTimeoutMillis", suspend.Milliseconds()),
		remoting.StrField("subscription", "*"),
		remoting.StrField("subVersion", "0"),
		remoting.StrField("expressionType", "TAG"),
	)
}

func decodeBody(t *testing.T, body []byte) []message.Record {
	t.Helper()
	var out []message.Record
	for len(body) > 0 {
		r, n, err := message.Decode(body)
		if err != nil {
			t.Fatalf("pull body does not decode: %v", err)
		}
		out = append(out, r)
		body = body[n:]
	}
	return out
}

func TestSendThenPull(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.dial()
	props := "TAGS\x01tagA\x02KEYS\x01k1\x02UNIQ_KEY\x01ABC\x02"
	resp := c.call(sendReq("TopicTest", 1, "hello", props), c.timeout)
	if resp.Code != int32(remoting.Success) {
		t.Fatalf("send: %d %s", resp.Code, resp.Remark)
	}
	msgID, _ := resp.ExtFields.Get("msgId")
	if len(msgID) != 32 || resp.ExtFields.Str("queueId") != "1" || resp.ExtFields.Str("queueOffset") != "0" || resp.ExtFields.Str("transactionId") != "ABC" {
		t.Fatalf("send response fields %v", resp.ExtFields)
	}
	pr := c.call(pullReq("cg", "TopicTest", 1, 0, pullSubscription, 0), c.timeout)
	if pr.Code != int32(remoting.Success) || pr.ExtFields.Str("nextBeginOffset") != "1" {
		t.Fatalf("pull: %d %s %v", pr.Code, pr.Remark, pr.ExtFields)
	}
	recs := decodeBody(t, pr.Body)
	if len(recs) != 1 || string(recs[0].Body) != "hello" || recs[0].Topic != "TopicTest" || recs[0].QueueID != 1 {
		t.Fatalf("pulled %+v", recs)
	}
	if got := message.OffsetMsgID(recs[0].StoreHost, recs[0].PhysicalOffset); got != msgID {
		t.Fatalf("pulled record's offset id %s, send said %s", got, msgID)
	}
	p := recs[0].ParsedProperties()
	for k, want := range map[string]string{"TAGS": "tagA", "KEYS": "k1", "UNIQ_KEY": "ABC", "CLUSTER": "DefaultCluster"} {
		if v, _ := p.Get(k); v != want {
			t.Errorf("property %s = %q, want %q", k, v, want)
		}
	}
}

func TestLongPollWakesOnArrivalAndOtherRequestsProceed(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.dial()
	c.call(sendReq("T", 0, "first", ""), c.timeout) // creates the topic
	done := make(chan *remoting.Command, 1)
	start := time.Now()
	tb.loop.Do(func() {
		c.ch.Invoke(pullReq("cg", "T", 0, 1, pullSuspend|pullSubscription, 20*time.Second), 30*time.Second,
			func(resp *remoting.Command, err error) { done <- resp })
	})
	// The held pull must not block a send on the same connection.
	time.Sleep(50 * time.Millisecond)
	if r := c.call(sendReq("T", 0, "second", ""), c.timeout); r.Code != int32(remoting.Success) {
		t.Fatalf("send while a pull is held: %d %s", r.Code, r.Remark)
	}
	select {
	case r := <-done:
		recs := decodeBody(t, r.Body)
		if r.Code != int32(remoting.Success) || len(recs) != 1 || string(recs[0].Body) != "second" {
			t.Fatalf("woken pull: %d %s %d records", r.Code, r.Remark, len(recs))
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the held pull answered after %v, not on arrival", time.Since(start))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held pull not woken by an arriving message")
	}
}

func TestLongPollTimesOutWithPullNotFound(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.MaxHoldTime = 300 * time.Millisecond })
	c := tb.dial()
	c.call(sendReq("T", 0, "x", ""), c.timeout)
	start := time.Now()
	r := c.call(pullReq("cg", "T", 0, 1, pullSuspend|pullSubscription, 20*time.Second), 10*time.Second)
	if r.Code != int32(remoting.PullNotFound) || r.ExtFields.Str("nextBeginOffset") != "1" {
		t.Fatalf("expired hold: %d %v", r.Code, r.ExtFields)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("hold capped at 300ms answered after %v", d)
	}
}

func TestBadSendsGetClearErrors(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.dial()
	cases := []struct {
		name string
		req  *remoting.Command
		code remoting.ResponseCode
		want string
	}{
		{"illegal topic", sendReq("bad topic!", 0, "x", ""), remoting.InvalidParameter, "topic"},
		{"system topic", sendReq(message.ScheduleTopic, 0, "x", ""), remoting.NoPermission, "forbidden"},
		{"too large", sendReq("T", 0, strings.Repeat("x", 64<<10+1), ""), remoting.MessageIllegal, "maxMessageSize"},
		{"bad queue", sendReq("T", 99, "x", ""), remoting.InvalidParameter, "queueId"},
	}
	c.call(sendReq("T", 0, "create", ""), c.timeout)
	for _, tc := range cases {
		r := c.call(tc.req, c.timeout)
		if r.Code != int32(tc.code) || !strings.Contains(r.Remark, tc.want) {
			t.Errorf("%s: code %d remark %q, want %d containing %q", tc.name, r.Code, r.Remark, tc.code, tc.want)
		}
	}
	// Nothing of the refused sends was stored.
	var max int64
	tb.loop.Do(func() { max = tb.b.store.MaxOffsetInQueue("T", 0) })
	if max != 1 {
		t.Fatalf("queue holds %d messages, want 1", max)
	}
	// A request code nobody serves.
	r := c.call(remoting.NewRequest(remoting.RequestCode(9999)), c.timeout)
	if r.Code != int32(remoting.RequestCodeNotSupported) || !strings.Contains(r.Remark, "9999") {
		t.Fatalf("unknown code: %d %q", r.Code, r.Remark)
	}
}

func heartbeatReq(t *testing.T, clientID, group string, topics ...string) *remoting.Command {
	cd := consumerData{GroupName: group, ConsumeType: "CONSUME_PASSIVELY", MessageModel: messageModelClustering, ConsumeFromWhere: "CONSUME_FROM_LAST_OFFSET"}
	for _, topic := range topics {
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, subscriptionData{Topic: topic, SubString: "*", ExpressionType: "TAG", SubVersion: 1})
	}
	body, err := json.Marshal(heartbeatData{ClientID: clientID, ConsumerDataSet: []consumerData{cd}})
	if err != nil {
		t.Fatal(err)
	}
	req := remoting.NewRequest(remoting.HeartBeat)
	req.Body = body
	return req
}

func TestMembershipFollowsHeartbeatsAndCloses(t *testing.T) {
	tb := startBroker(t, nil)
	a, b := tb.dial(), tb.dial()
	a.call(heartbeatReq(t, "10.0.0.1@a", "cg", "T"), a.timeout)
	b.call(heartbeatReq(t, "10.0.0.2@b", "cg", "T"), b.timeout)
	list := func() []string {
		r := a.call(remoting.NewRequest(remoting.GetConsumerListByGroup, remoting.StrField("consumerGroup", "cg")), a.timeout)
		var body struct{ ConsumerIdList []string }
		json.Unmarshal(r.Body, &body)
		return body.ConsumerIdList
	}
	if got := fmt.Sprint(list()); got != "[10.0.0.1@a 10.0.0.2@b]" {
		t.Fatalf("members %s", got)
	}
	select {
	case n := <-a.pushed:
		if n.ExtFields.Str("consumerGroup") != "cg" {
			t.Fatalf("notification %v", n.ExtFields)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("member a not told that b joined")
	}
	// The retry topic exists once the group heartbeats.
	var retry *TopicConfig
	tb.loop.Do(func() { retry = tb.b.topics.get("%RETRY%cg") })
	if retry == nil {
		t.Fatal("no retry topic after the group's heartbeat")
	}
	tb.loop.Do(b.ch.Close)
	deadline := time.Now().Add(5 * time.Second)
	for fmt.Sprint(list()) != "[10.0.0.1@a]" {
		if time.Now().After(deadline) {
			t.Fatalf("members after b closed: %v", list())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOffsetsSurviveRestart(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.dial()
	c.call(sendReq("T", 0, "x", ""), c.timeout)
	upd := remoting.NewRequest(remoting.UpdateConsumerOffset, remoting.StrField("consumerGroup", "cg"),
		remoting.StrField("topic", "T"), remoting.StrField("queueId", "0"), remoting.StrField("commitOffset", "1"))
	if r := c.call(upd, c.timeout); r.Code != 0 {
		t.Fatalf("update offset: %d %s", r.Code, r.Remark)
	}
	tb.loop.Do(func() { tb.b.Shutdown() })
	tb.b = nil
	tb.start()
	c = tb.dial()
	q := remoting.NewRequest(remoting.QueryConsumerOffset, remoting.StrField("consumerGroup", "cg"),
		remoting.StrField("topic", "T"), remoting.StrField("queueId", "0"))
	r := c.call(q, c.timeout)
	if r.Code != 0 || r.ExtFields.Str("offset") != "1" {
		t.Fatalf("offset after restart: %d %v", r.Code, r.ExtFields)
	}
}

func TestSendOnAFullDiskIsRefusedClearly(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.Store.DiskSpaceWarningLevelRatio = 1e-9 })
	c := tb.dial()
	r := c.call(sendReq("T", 0, "x", ""), c.timeout)
	if r.Code != int32(remoting.ServiceNotAvailable) || !strings.Contains(r.Remark, "disk full") {
		t.Fatalf("send on a disk above diskSpaceWarningLevelRatio: code %d remark %q", r.Code, r.Remark)
	}
	var max int64
	tb.loop.Do(func() { max = tb.b.store.CommitLogMaxOffset() })
	if max != 0 {
		t.Fatalf("a refused send wrote %d bytes", max)
	}
}

func TestDelayedMessageArrivesAfterItsLevel(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.MessageDelayLevel = "1s 2s" })
	c := tb.dial()
	c.call(sendReq("T", 0, "create", ""), c.timeout) // the topic, offset 0
	start := time.Now()
	r := c.call(sendReq("T", 0, "later", "DELAY\x011\x02"), c.timeout)
	if r.Code != int32(remoting.Success) {
		t.Fatalf("delayed send: %d %s", r.Code, r.Remark)
	}
	if pr := c.call(pullReq("cg", "T", 0, 1, pullSubscription, 0), c.timeout); pr.Code == int32(remoting.Success) {
		t.Fatal("the delayed message was visible at once")
	}
	// Long-poll for it: it must arrive after its second, not before.
	pr := c.call(pullReq("cg", "T", 0, 1, pullSuspend|pullSubscription, 5*time.Second), 10*time.Second)
	elapsed := time.Since(start)
	recs := decodeBody(t, pr.Body)
	if pr.Code != int32(remoting.Success) || len(recs) != 1 || string(recs[0].Body) != "later" {
		t.Fatalf("after the delay: %d %s, %d records", pr.Code, pr.Remark, len(recs))
	}
	if elapsed < time.Second {
		t.Fatalf("delivered after %v, before its 1 s delay", elapsed)
	}
	if v, _ := recs[0].ParsedProperties().Get("DELAY"); v != "" {
		t.Fatalf("the delivered message still carries DELAY=%s", v)
	}
}

func sendBackReq(group string, phys int64, delayLevel, maxReconsume int) *remoting.Command {
	return remoting.NewRequest(remoting.ConsumerSendMsgBack,
		remoting.IntField("offset", phys), remoting.StrField("group", group),
		remoting.IntField("delayLevel", int64(delayLevel)), remoting.StrField("originMsgId", "ORIG"),
		remoting.StrField("originTopic", "T"), remoting.StrField("unitMode", "false"),
		remoting.IntField("maxReconsumeTimes", int64(maxReconsume)))
}

func TestSendBackRetriesThenDeadLetters(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.MessageDelayLevel = "1s 2s" })
	c := tb.dial()
	c.call(heartbeatReq(t, "10.0.0.1@a", "cg", "T"), c.timeout)
	c.call(sendReq("T", 0, "payload", "TAGS\x01x\x02"), c.timeout)
	first := decodeBody(t, c.call(pullReq("cg", "T", 0, 0, pullSubscription, 0), c.timeout).Body)[0]

	if r := c.call(sendBackReq("cg", first.PhysicalOffset, 1, 16), c.timeout); r.Code != 0 {
		t.Fatalf("send back: %d %s", r.Code, r.Remark)
	}
	pr := c.call(pullReq("cg", "%RETRY%cg", 0, 0, pullSuspend|pullSubscription, 5*time.Second), 10*time.Second)
	recs := decodeBody(t, pr.Body)
	if pr.Code != 0 || len(recs) != 1 {
		t.Fatalf("retry topic after the delay: %d %s, %d records", pr.Code, pr.Remark, len(recs))
	}
	retry := recs[0]
	p := retry.ParsedProperties()
	if string(retry.Body) != "payload" || retry.ReconsumeTimes != 1 || prop(p, "RETRY_TOPIC") != "T" || prop(p, "ORIGIN_MESSAGE_ID") != "ORIG" {
		t.Fatalf("retry copy: body %q reconsume %d props %v", retry.Body, retry.ReconsumeTimes, p)
	}
	// Its retries exhausted (max 1), the next send-back goes to the DLQ.
	if r := c.call(sendBackReq("cg", retry.PhysicalOffset, 0, 1), c.timeout); r.Code != 0 {
		t.Fatalf("second send back: %d %s", r.Code, r.Remark)
	}
	dlq := decodeBody(t, c.call(pullReq("cg", "%DLQ%cg", 0, 0, pullSubscription, 0), c.timeout).Body)
	if len(dlq) != 1 || string(dlq[0].Body) != "payload" || dlq[0].ReconsumeTimes != 2 {
		t.Fatalf("dead-letter queue: %+v", dlq)
	}
	// A send back of an offset that holds nothing is refused.
	if r := c.call(sendBackReq("cg", 1<<40, 0, 16), c.timeout); r.Code != int32(remoting.SystemError) {
		t.Fatalf("send back of nothing: %d %s", r.Code, r.Remark)
	}
}

func prop(p message.Properties, k string) string { v, _ := p.Get(k); return v }
