package client

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

func TestSendPullRoundTrip(t *testing.T) {
	b := startBroker(t, "broker-a", nil, nil)
	tc := newTestClient(t, "c1", Config{})
	tc.do(func() { tc.c.SetRoute("T", StaticRoute("broker-a", b.addr, 4)) })

	m := &Message{
		Topic:      "T",
		Body:       []byte("hello"),
		Tags:       "tagA",
		Keys:       []string{"k1", "k2"},
		Flag:       7,
		Properties: message.Properties{{Key: "color", Value: "blue"}},
	}
	q1 := &MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}
	r := tc.send(m, q1)
	if r.Err != nil || r.Outcome() != OutcomeOK || r.Status != SendOK {
		t.Fatalf("send: %s", describe(r))
	}
	if len(r.MsgID) != 32 || len(r.OffsetMsgID) != 32 || r.QueueOffset != 0 || r.MessageQueue != *q1 || r.Attempts != 1 || r.BrokerAddr != b.addr {
		t.Fatalf("send result %+v", r)
	}
	// A big body travels compressed and comes back inflated.
	big := bytes.Repeat([]byte("0123456789"), 1000)
	rb := tc.send(&Message{Topic: "T", Body: big}, q1)
	if rb.Err != nil || rb.QueueOffset != 1 {
		t.Fatalf("big send: %s", describe(rb))
	}

	pr := tc.pull(PullRequest{Group: "g", Queue: *q1, Offset: 0, SysFlag: PullFlagSubscription, Expression: "*"})
	if pr.Err != nil || pr.Status != PullFound || len(pr.Messages) != 2 || pr.NextBeginOffset != 2 || pr.MaxOffset != 2 {
		t.Fatalf("pull: %+v", pr)
	}
	got := pr.Messages[0]
	if string(got.Body) != "hello" || got.Topic != "T" || got.QueueID != 1 || got.BrokerName != "broker-a" ||
		got.QueueOffset != 0 || got.Flag != 7 || got.Tags() != "tagA" || !slices.Equal(got.Keys(), []string{"k1", "k2"}) ||
		got.MsgID != r.MsgID || got.OffsetMsgID != r.OffsetMsgID {
		t.Fatalf("pulled %+v", got)
	}
	if v, _ := got.Property("color"); v != "blue" {
		t.Fatalf("user property lost: %v", got.Properties)
	}
	if v, _ := got.Property(message.PropertyCluster); v != "DefaultCluster" {
		t.Fatalf("broker did not stamp CLUSTER: %v", got.Properties)
	}
	if got.StoreHost != netip.MustParseAddrPort(b.addr) || got.StoreTimestamp == 0 || got.BornTimestamp == 0 {
		t.Fatalf("hosts and times: %+v", got)
	}
	if !bytes.Equal(pr.Messages[1].Body, big) || pr.Messages[1].SysFlag&message.SysFlagCompressed == 0 {
		t.Fatalf("big body: %d bytes, sysFlag %#x", len(pr.Messages[1].Body), pr.Messages[1].SysFlag)
	}

	// The broker filters by tag hash and the client by the exact tag.
	none := tc.pull(PullRequest{Group: "g", Queue: *q1, Offset: 0, SysFlag: PullFlagSubscription, Expression: "tagB"})
	if none.Err != nil || len(none.Messages) != 0 || none.Status == PullOffsetIllegal {
		t.Fatalf("pull of another tag: %+v", none)
	}
	// At the end of the queue, without suspension, nothing new.
	end := tc.pull(PullRequest{Group: "g", Queue: *q1, Offset: 2, SysFlag: PullFlagSubscription})
	if end.Err != nil || end.Status != PullNoNewMsg || end.NextBeginOffset != 2 {
		t.Fatalf("pull at the end: %+v", end)
	}
	// Past the end: the broker says the offset moved.
	past := tc.pull(PullRequest{Group: "g", Queue: *q1, Offset: 9, SysFlag: PullFlagSubscription})
	if past.Err != nil || past.Status != PullOffsetIllegal || past.NextBeginOffset != 2 {
		t.Fatalf("pull past the end: %+v", past)
	}
}

func TestSendRoundRobinAndBatch(t *testing.T) {
	b := startBroker(t, "broker-a", nil, nil)
	tc := newTestClient(t, "c1", Config{})
	tc.do(func() { tc.c.SetRoute("T", StaticRoute("broker-a", b.addr, 4)) })
	var queues []int
	for i := range 8 {
		r := tc.send(msg("T", fmt.Sprint("m", i)), nil)
		if r.Err != nil {
			t.Fatalf("send %d: %s", i, describe(r))
		}
		queues = append(queues, r.MessageQueue.QueueID)
	}
	for i := 4; i < 8; i++ {
		if queues[i] != queues[i-4] {
			t.Fatalf("round robin over 4 queues chose %v", queues)
		}
	}
	if slices.Sort(queues[:4]); !slices.Equal(queues[:4], []int{0, 1, 2, 3}) {
		t.Fatalf("round robin skipped a queue: %v", queues)
	}

	q := &MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 3}
	batch := []*Message{msg("T", "b0"), {Topic: "T", Body: []byte("b1"), Tags: "x"}, msg("T", "b2")}
	r := await(tc.node, func(done func(SendResult)) { tc.c.SendBatch(batch, q, done) })
	if r.Err != nil || len(r.MsgIDs) != 3 || len(r.OffsetMsgIDs) != 3 || r.QueueOffset != 2 {
		t.Fatalf("batch: %s ids=%v offsetIDs=%v", describe(r), r.MsgIDs, r.OffsetMsgIDs)
	}
	pr := tc.pull(PullRequest{Group: "g", Queue: *q, Offset: 2, SysFlag: PullFlagSubscription})
	if pr.Err != nil || len(pr.Messages) != 3 {
		t.Fatalf("pull batch: %+v", pr)
	}
	for i, m := range pr.Messages {
		if string(m.Body) != fmt.Sprint("b", i) || m.MsgID != r.MsgIDs[i] || m.OffsetMsgID != r.OffsetMsgIDs[i] || m.QueueOffset != int64(2+i) {
			t.Fatalf("batch member %d came back as %+v", i, m)
		}
	}
	if pr.Messages[1].Tags() != "x" {
		t.Fatalf("member tags: %v", pr.Messages[1].Properties)
	}

	// Oneway: the broker stores it, nothing answers.
	type onewayResult struct {
		id  string
		err error
	}
	ow := await(tc.node, func(done func(onewayResult)) {
		tc.c.SendOneway(msg("T", "oneway"), q, func(id string, err error) { done(onewayResult{id, err}) })
	})
	if ow.err != nil || len(ow.id) != 32 {
		t.Fatalf("oneway: %+v", ow)
	}
	tc.eventually("the oneway message is stored", func() bool {
		var n int64
		b.do(func() { n = b.b.Store().MaxOffsetInQueue("T", 3) })
		return n == 6
	})
}

func TestSendRetriesAnotherBrokerWhenOneRefuses(t *testing.T) {
	b := startBroker(t, "broker-a", nil, nil)
	dead := refusedAddr(t)
	tc := newTestClient(t, "c1", Config{})
	route := StaticRoute("broker-a", b.addr, 2).Merge(StaticRoute("broker-dead", dead, 2))
	tc.do(func() { tc.c.SetRoute("T", route) })

	retried := 0
	for i := range 8 {
		r := tc.send(msg("T", fmt.Sprint("m", i)), nil)
		if r.Err != nil || r.MessageQueue.BrokerName != "broker-a" || r.Indefinite || r.Ambiguous != 0 {
			t.Fatalf("send %d: %s", i, describe(r))
		}
		if r.Attempts > 1 {
			retried++
			if r.Attempts != 2 {
				t.Fatalf("send %d took %d attempts; the second should avoid the dead broker", i, r.Attempts)
			}
		}
	}
	if retried == 0 {
		t.Fatal("no send met the dead broker: the test proves nothing")
	}

	// Pinned to the dead broker: every attempt refused, nothing written,
	// so the send failed for certain.
	q := &MessageQueue{Topic: "T", BrokerName: "broker-dead", QueueID: 0}
	r := tc.send(msg("T", "doomed"), q)
	if r.Err == nil || !errors.Is(r.Err, ErrConnect) || r.Indefinite || r.Outcome() != OutcomeFailed || r.Attempts != 3 || r.Ambiguous != 0 {
		t.Fatalf("send to a refusing broker: %s", describe(r))
	}
	if len(r.MsgID) != 32 {
		t.Fatalf("a failed send still names its message: %q", r.MsgID)
	}
}

func TestSendResponseCodes(t *testing.T) {
	b := startBroker(t, "broker-a", nil, nil)
	tc := newTestClient(t, "c1", Config{})
	tc.do(func() {
		tc.c.SetRoute(message.ScheduleTopic, StaticRoute("broker-a", b.addr, 1))
		tc.c.SetRoute("T", StaticRoute("broker-a", b.addr, 4))
	})
	// NO_PERMISSION is retried, then reported; nothing was stored.
	r := tc.send(msg(message.ScheduleTopic, "x"), nil)
	var re *ResponseError
	if !errors.As(r.Err, &re) || re.Code != remoting.NoPermission || r.Attempts != 3 || r.Indefinite {
		t.Fatalf("send to a forbidden topic: %s", describe(r))
	}
	// A 70 KiB body is over the broker's 64 KiB, but compressible: it
	// travels compressed and is accepted.
	r = tc.send(&Message{Topic: "T", Body: bytes.Repeat([]byte{'x'}, 70<<10)}, nil)
	if r.Err != nil {
		t.Fatalf("compressible 70 KiB body: %s", describe(r))
	}
	// Uncompressed, the broker answers MESSAGE_ILLEGAL, which is not
	// retried.
	noise := make([]byte, 70<<10)
	for i := range noise {
		noise[i] = byte(i*7919 + i/13)
	}
	tcNoZip := newTestClient(t, "c2", Config{CompressBodyOverBytes: -1})
	tcNoZip.do(func() { tcNoZip.c.SetRoute("T", StaticRoute("broker-a", b.addr, 4)) })
	r = tcNoZip.send(&Message{Topic: "T", Body: noise}, nil)
	if !errors.As(r.Err, &re) || re.Code != remoting.MessageIllegal || r.Attempts != 1 || r.Outcome() != OutcomeFailed {
		t.Fatalf("oversized send: %s", describe(r))
	}
	// Refused before anything is written, and never synchronously.
	for _, bad := range []*Message{nil, msg("T", ""), msg("bad topic", "x"), {Topic: "T", Body: []byte("x"), Properties: message.Properties{{Key: "k\x01", Value: "v"}}}} {
		var r SendResult
		returned := false
		ch := make(chan struct{})
		tc.loop.Post(func() {
			tc.c.Send(bad, nil, func(res SendResult) {
				if !returned {
					t.Error("callback ran inside Send")
				}
				r = res
				close(ch)
			})
			returned = true
		})
		<-ch
		if !errors.Is(r.Err, ErrBadMessage) || r.Attempts != 0 || r.Outcome() != OutcomeFailed {
			t.Fatalf("bad message %v: %s", bad, describe(r))
		}
	}
}

// holdSends answers nothing to SEND_MESSAGE: the broker that took the
// request and went silent.
func holdSends(d *remoting.Dispatcher) {
	d.Handle(remoting.SendMessage, func(*remoting.Channel, *remoting.Command) {})
}

func TestIndefiniteWhenTheBrokerNeverAnswers(t *testing.T) {
	fake := startFake(t, holdSends)
	// Fault isolation off: every attempt meets the mute broker again.
	tc := newTestClient(t, "c1", Config{SendTimeout: 200 * time.Millisecond, SendFaultIsolation: -1})
	tc.do(func() { tc.c.SetRoute("T", StaticRoute("broker-mute", fake.addr(), 2)) })
	r := tc.send(msg("T", "x"), nil)
	if !errors.Is(r.Err, remoting.ErrTimeout) || !r.Indefinite || r.Outcome() != OutcomeIndefinite || r.Attempts != 3 || r.Ambiguous != 3 {
		t.Fatalf("send to a mute broker: %s", describe(r))
	}

	// One mute broker and one good one: the retry is acknowledged, and the
	// result warns that the first attempt may have stored a copy.
	b := startBroker(t, "broker-a", nil, nil)
	tc.do(func() {
		tc.c.SetRoute("U", StaticRoute("broker-mute", fake.addr(), 1).Merge(StaticRoute("broker-a", b.addr, 1)))
	})
	sawAmbiguous := false
	for i := range 4 {
		r := tc.send(msg("U", fmt.Sprint(i)), nil)
		if r.Err != nil || r.Indefinite || r.Outcome() != OutcomeOK {
			t.Fatalf("send %d: %s", i, describe(r))
		}
		if r.Ambiguous > 0 {
			sawAmbiguous = true
			if r.Attempts != 2 || r.MessageQueue.BrokerName != "broker-a" {
				t.Fatalf("send %d: %s", i, describe(r))
			}
		}
	}
	if !sawAmbiguous {
		t.Fatal("no send met the mute broker")
	}

	// With fault isolation (the default), the first timeout isolates the
	// mute broker: every later send goes straight to broker-a.
	tc2 := newTestClient(t, "c2", Config{SendTimeout: 200 * time.Millisecond})
	tc2.do(func() {
		tc2.c.SetRoute("U", StaticRoute("broker-mute", fake.addr(), 1).Merge(StaticRoute("broker-a", b.addr, 1)))
	})
	met := 0
	for i := range 6 {
		r := tc2.send(msg("U", fmt.Sprint(i)), nil)
		if r.Err != nil || r.MessageQueue.BrokerName != "broker-a" {
			t.Fatalf("isolating send %d: %s", i, describe(r))
		}
		met += r.Ambiguous
	}
	if met != 1 {
		t.Fatalf("%d attempts met the mute broker, want exactly the one that isolated it", met)
	}
}

func TestIndefiniteWhenTheConnectionDropsAfterTheWrite(t *testing.T) {
	fake := startFake(t, func(d *remoting.Dispatcher) {
		d.Handle(remoting.SendMessage, func(ch *remoting.Channel, _ *remoting.Command) { ch.Close() })
	})
	tc := newTestClient(t, "c1", Config{RetryTimesWhenSendFailed: -1})
	tc.do(func() { tc.c.SetRoute("T", StaticRoute("broker-x", fake.addr(), 1)) })
	r := tc.send(msg("T", "x"), nil)
	if !errors.Is(r.Err, remoting.ErrChannelClosed) || !r.Indefinite || r.Attempts != 1 {
		t.Fatalf("send whose connection dropped: %s", describe(r))
	}
}

func TestCloseFailsPendingOperations(t *testing.T) {
	fake := startFake(t, func(d *remoting.Dispatcher) {
		holdSends(d)
		d.Handle(remoting.PullMessage, func(*remoting.Channel, *remoting.Command) {})
	})
	tc := newTestClient(t, "c1", Config{})
	tc.do(func() { tc.c.SetRoute("T", StaticRoute("b", fake.addr(), 1)) })
	sent := make(chan SendResult, 1)
	pulled := make(chan PullResult, 1)
	tc.do(func() {
		tc.c.Send(msg("T", "x"), nil, func(r SendResult) { sent <- r })
		tc.c.Pull(PullRequest{Group: "g", Queue: MessageQueue{"T", "b", 0}, SysFlag: PullFlagSuspend}, func(r PullResult) { pulled <- r })
	})
	// Wait until both requests were written, then close.
	time.Sleep(200 * time.Millisecond)
	tc.do(tc.c.Close)
	r := <-sent
	if !errors.Is(r.Err, ErrClientClosed) || !r.Indefinite {
		t.Fatalf("send pending at Close: %s", describe(r))
	}
	if p := <-pulled; !errors.Is(p.Err, ErrClientClosed) {
		t.Fatalf("pull pending at Close: %v", p.Err)
	}
	after := await(tc.node, func(done func(SendResult)) { tc.c.Send(msg("T", "y"), nil, done) })
	if !errors.Is(after.Err, ErrClientClosed) || after.Indefinite {
		t.Fatalf("send after Close: %s", describe(after))
	}
}

func TestPullReportsCorruptBodies(t *testing.T) {
	rec := message.Record{
		QueueID: 0, Topic: "T", Body: []byte("payload"),
		BornHost:  netip.MustParseAddrPort("127.0.0.1:1"),
		StoreHost: netip.MustParseAddrPort("127.0.0.1:2"),
	}
	good := make([]byte, message.EncodedSize(len(rec.Body), len(rec.Topic), 0, 0))
	if _, err := message.Encode(good, &rec); err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	bad[len(bad)-len(rec.Topic)-2-2] ^= 0xff // a body byte: the CRC no longer matches
	fake := startFake(t, func(d *remoting.Dispatcher) {
		d.Handle(remoting.PullMessage, func(ch *remoting.Channel, req *remoting.Command) {
			resp := remoting.NewResponse(req, remoting.Success, "")
			resp.ExtFields = remoting.Fields{
				remoting.IntField("nextBeginOffset", 2), remoting.IntField("minOffset", 0), remoting.IntField("maxOffset", 2),
			}
			resp.Body = append(slices.Clone(good), bad...)
			ch.Respond(req, resp)
		})
	})
	tc := newTestClient(t, "c1", Config{})
	r := tc.pull(PullRequest{Group: "g", Queue: MessageQueue{"T", "b", 0}, BrokerAddr: fake.addr()})
	if !errors.Is(r.Err, message.ErrBadCRC) || !errors.Is(r.Err, ErrBadResponse) || r.Messages != nil {
		t.Fatalf("corrupt pull body: %+v", r)
	}
	if !strings.Contains(r.Err.Error(), "record 1") {
		t.Fatalf("the error should name the bad record: %v", r.Err)
	}
}

func TestOffsetPrimitives(t *testing.T) {
	b := startBroker(t, "broker-a", nil, nil)
	tc := newTestClient(t, "c1", Config{})
	tc.do(func() { tc.c.SetRoute("T", StaticRoute("broker-a", b.addr, 4)) })
	// CreateTopic makes the queues exist before any message does.
	if err := await(tc.node, func(done func(error)) { tc.c.CreateTopic(b.addr, "T", 4, PermRead|PermWrite, done) }); err != nil {
		t.Fatal(err)
	}
	q := MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 2}
	type offErr struct {
		off int64
		err error
	}
	query := func() offErr {
		return await(tc.node, func(done func(offErr)) {
			tc.c.QueryConsumerOffset("cg", q, func(off int64, err error) { done(offErr{off, err}) })
		})
	}
	if r := query(); !errors.Is(r.err, ErrOffsetNotFound) {
		t.Fatalf("query before any commit: %+v", r)
	}
	for i := range 3 {
		if r := tc.send(msg("T", fmt.Sprint(i)), &q); r.Err != nil {
			t.Fatal(describe(r))
		}
	}
	if err := await(tc.node, func(done func(error)) { tc.c.UpdateConsumerOffset("cg", q, 2, done) }); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if r := query(); r.err != nil || r.off != 2 {
		t.Fatalf("query after commit: %+v", r)
	}
	maxOff := await(tc.node, func(done func(offErr)) {
		tc.c.GetMaxOffset(q, func(off int64, err error) { done(offErr{off, err}) })
	})
	minOff := await(tc.node, func(done func(offErr)) {
		tc.c.GetMinOffset(q, func(off int64, err error) { done(offErr{off, err}) })
	})
	if maxOff.err != nil || maxOff.off != 3 || minOff.err != nil || minOff.off != 0 {
		t.Fatalf("max %+v min %+v", maxOff, minOff)
	}
	var now time.Time
	tc.do(func() { now = tc.env.Clock.Now() })
	search := await(tc.node, func(done func(offErr)) {
		tc.c.SearchOffset(q, now.Add(time.Hour), func(off int64, err error) { done(offErr{off, err}) })
	})
	if search.err != nil || search.off != 3 {
		t.Fatalf("search past every message: %+v", search)
	}
	// Unknown broker name: no route names it.
	bad := await(tc.node, func(done func(offErr)) {
		tc.c.GetMaxOffset(MessageQueue{"T", "broker-x", 0}, func(off int64, err error) { done(offErr{off, err}) })
	})
	if !errors.Is(bad.err, ErrNoBroker) {
		t.Fatalf("unknown broker: %+v", bad)
	}
}
