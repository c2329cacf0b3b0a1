package interop

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// TestProducerSends sends with SendSync, SendAsync, SendOneWay and batches
// to a topic created with the admin API and to one auto-created through
// TBW102, checks every send result, then reads every queue back with a
// pull consumer: each message is at the queue and offset its result
// named, under the ids it reported, and nothing else is there.
func TestProducerSends(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, c := range []struct {
		name   string
		topic  string
		queues int // 0: auto-created
	}{
		{"admin-created", "ProduceAdmin", 8},
		{"auto-created", "ProduceAuto", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.queues > 0 {
				createTopic(t, b, c.topic, c.queues)
			}
			p := newProducer(t, b)
			msgs := produce(t, b, p, c.topic, plan{sync: 10, async: 10, oneway: 5, batches: 2, batchSize: 4})
			mqs := waitRoute(t, b, c.topic)
			if c.queues == 0 && len(mqs) != 4 {
				// The Go producer asks for 4 queues (defaultTopicQueueNums),
				// capped by TBW102's 8.
				t.Errorf("auto-created %s has %d queues, want 4", c.topic, len(mqs))
			}

			// Every reported position is distinct, and so is every offset id.
			positions := map[[2]int64]string{}
			offsetIDs := map[string]string{}
			for _, s := range msgs {
				if s.queueID < 0 {
					continue
				}
				if s.queueID >= len(mqs) {
					t.Fatalf("%s: queue id %d, topic has %d queues", s.body, s.queueID, len(mqs))
				}
				pos := [2]int64{int64(s.queueID), s.queueOffset}
				if other := positions[pos]; other != "" {
					t.Fatalf("%s and %s both reported at queue %d offset %d", other, s.body, s.queueID, s.queueOffset)
				}
				positions[pos] = s.body
				if other := offsetIDs[s.offsetMsgID]; other != "" {
					t.Fatalf("%s and %s both reported offset id %s", other, s.body, s.offsetMsgID)
				}
				offsetIDs[s.offsetMsgID] = s.body
			}

			want := bySentBody(t, msgs)
			pc := newPullConsumer(t, b, instance("g-produce-check"), c.topic, "*")
			var stored []*primitive.MessageExt
			eventually(t, deliverTimeout, fmt.Sprintf("%d messages stored in %s", len(want), c.topic), func() (bool, string) {
				stored = nil
				for _, mq := range mqs {
					got := pulledMessages(pullUntilEnd(t, pc, mq, 0))
					for i, m := range got {
						if m.QueueOffset != int64(i) {
							t.Fatalf("queue %d: message %d has queue offset %d; offsets must be contiguous from 0", mq.QueueId, i, m.QueueOffset)
						}
					}
					stored = append(stored, got...)
				}
				// Oneway sends are acknowledged by nobody: wait for them.
				return len(stored) >= len(want), fmt.Sprintf("%d stored", len(stored))
			})
			if len(stored) != len(want) {
				t.Fatalf("%d messages stored in %s, %d sent", len(stored), c.topic, len(want))
			}
			seen := map[string]bool{}
			for _, m := range stored {
				s := want[string(m.Body)]
				if s == nil || seen[s.body] {
					t.Fatalf("queue %d offset %d holds %q: not sent, or stored twice", m.Queue.QueueId, m.QueueOffset, m.Body)
				}
				seen[s.body] = true
				checkMessage(t, "pull", s, m)
			}
		})
	}
}

// TestClusteringGroup runs a clustering group of two push consumers: every
// message arrives exactly once across the group, intact and where its send
// result said. Then one member shuts down; the other takes over all queues
// from the committed offsets and consumes the next messages, exactly once.
func TestClusteringGroup(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic, queues, group = "ClusterTopic", 8, "cluster-group"
	createTopic(t, b, topic, queues)
	col := newCollector()
	m1 := startMember(t, b, group, "c1", topic, "*", consumer.Clustering, col)
	m2 := startMember(t, b, group, "c2", topic, "*", consumer.Clustering, col)
	// Send only once the group has settled: a queue moving between members
	// mid-consumption is legitimately redelivered (at least once), and this
	// test allows no duplicates.
	waitBalanced(t, topic, queues, m1, m2)

	p := newProducer(t, b)
	first := produce(t, b, p, topic, plan{sync: 16, async: 16, oneway: 8, batches: 2, batchSize: 5})
	want1 := bySentBody(t, first)
	col.waitAll(t, "", want1)
	for body, s := range want1 {
		ds := col.deliveries("", body)
		if len(ds) != 1 {
			t.Errorf("%s delivered %d times across the group", body, len(ds))
		}
		for _, d := range ds {
			checkMessage(t, "clustering", s, d)
		}
	}
	if col.total("c1") == 0 || col.total("c2") == 0 {
		t.Errorf("one member consumed everything (c1 %d, c2 %d): the group did not split the queues", col.total("c1"), col.total("c2"))
	}
	if t.Failed() {
		t.FailNow()
	}

	// c2 leaves once every offset it would commit covers what it consumed.
	waitCommitted(t, topic, nextOffsets(col.all("")), m1, m2)
	before1, before2 := col.total("c1"), col.total("c2")
	m2.shutdown(t)
	eventually(t, deliverTimeout, "c1 to take over all queues", func() (bool, string) {
		qs := m1.queues(topic)
		return len(qs) == queues, fmt.Sprintf("c1 holds %v", slices.Sorted(maps.Keys(qs)))
	})

	second := produce(t, b, p, topic, plan{sync: 16, batches: 1, batchSize: 5})
	want2 := bySentBody(t, second)
	col.waitAll(t, "c1", want2)
	for body, s := range want2 {
		ds := col.deliveries("", body)
		if len(ds) != 1 {
			t.Errorf("%s delivered %d times after the rebalance", body, len(ds))
		}
		for _, d := range ds {
			checkMessage(t, "after rebalance", s, d)
		}
	}
	if got := col.total("c2"); got != before2 {
		t.Errorf("c2 consumed %d messages after its shutdown", got-before2)
	}
	if got, want := col.total("c1")-before1, len(want2); got != want {
		t.Errorf("c1 had %d deliveries after the rebalance, want exactly the %d new messages", got, want)
	}
	// A first-round message delivered twice was consumed by c2 and then
	// again by c1, from below the offset c2 committed when it shut down.
	var again []string
	for body := range want1 {
		if ds := col.deliveries("", body); len(ds) > 1 {
			again = append(again, fmt.Sprintf("%s (queue %d offset %d)", body, ds[0].Queue.QueueId, ds[0].QueueOffset))
		}
	}
	if len(again) > 0 {
		slices.Sort(again)
		t.Errorf("c1 took over c2's queues below the offsets c2 committed at shutdown; redelivered: %v", again)
	}
}

// TestBroadcastingGroup runs a broadcasting group of two push consumers:
// every message arrives exactly once at each member, and the members keep
// their offsets in the client's local store.
func TestBroadcastingGroup(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic, queues = "BroadcastTopic", 4
	group := instance("broadcast-group")
	createTopic(t, b, topic, queues)
	col := newCollector()
	m1 := startMember(t, b, group, "b1", topic, "*", consumer.BroadCasting, col)
	m2 := startMember(t, b, group, "b2", topic, "*", consumer.BroadCasting, col)

	p := newProducer(t, b)
	msgs := produce(t, b, p, topic, plan{sync: 8, async: 8, oneway: 4, batches: 1, batchSize: 4})
	want := bySentBody(t, msgs)
	for _, m := range []*member{m1, m2} {
		col.waitAll(t, m.name, want)
	}
	// Each member must be ready to record exactly what it consumed; then
	// no late redelivery is possible.
	for _, m := range []*member{m1, m2} {
		waitCommitted(t, topic, nextOffsets(col.all(m.name)), m)
	}
	for _, m := range []*member{m1, m2} {
		if got := col.total(m.name); got != len(want) {
			t.Errorf("%s had %d deliveries for %d messages", m.name, got, len(want))
		}
		for body, s := range want {
			ds := col.deliveries(m.name, body)
			if len(ds) != 1 {
				t.Errorf("%s: %s delivered %d times", m.name, body, len(ds))
			}
			for _, d := range ds {
				checkMessage(t, m.name, s, d)
			}
		}
	}

	// Offsets of a broadcasting group live in the client's local store,
	// which TestMain pointed at a temporary directory.
	for _, m := range []*member{m1, m2} {
		m.shutdown(t)
	}
	dir := os.Getenv(offsetDirEnv)
	// <dir>/<clientID>/<group>/offset.json is the intent; this client
	// version passes the two the other way round. Accept either.
	files, _ := filepath.Glob(filepath.Join(dir, "*", group, "offset.json"))
	swapped, _ := filepath.Glob(filepath.Join(dir, group, "*", "offset.json"))
	files = append(files, swapped...)
	if len(files) != 2 {
		t.Errorf("found local offset files %v under %s, want one per member", files, dir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(data), topic) {
			t.Errorf("local offsets %s: %q %v", f, data, err)
		}
	}
}

// TestPullConsumer reads one queue from offset 0 with PullFrom, and reads
// from the offset the broker finds for a timestamp taken between two
// batches.
func TestPullConsumer(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic, queues = "PullTopic", 4
	createTopic(t, b, topic, queues)
	mqs := waitRoute(t, b, topic)
	p := newProducer(t, b, producer.WithQueueSelector(producer.NewManualQueueSelector()))
	pc := newPullConsumer(t, b, "pull-group", topic, "*")

	// 24 single sends spread over the queues by hand: queue 1 gets six.
	singles := produce(t, b, p, topic, plan{sync: 24, queue: func(i int) *primitive.MessageQueue { return mqs[i%queues] }})
	var inQueue1 []*sent
	for _, s := range singles {
		if s.queueID == 1 {
			inQueue1 = append(inQueue1, s)
		}
	}
	if len(inQueue1) != 6 {
		t.Fatalf("queue 1 got %d of the sends, want 6", len(inQueue1))
	}
	got := pulledMessages(pullUntilEnd(t, pc, mqs[1], 0))
	if len(got) != len(inQueue1) {
		t.Fatalf("queue 1 from offset 0: pulled %d messages, want %d", len(got), len(inQueue1))
	}
	for i, m := range got {
		if m.QueueOffset != int64(i) {
			t.Errorf("queue 1: message %d has queue offset %d, want %d", i, m.QueueOffset, i)
		}
		checkMessage(t, "pull from 0", inQueue1[i], m)
	}

	// By timestamp: batch A, a pause, the time, a pause, batch B, all in
	// queue 2 (store timestamps have millisecond resolution).
	toQueue2 := func(int) *primitive.MessageQueue { return mqs[2] }
	batchA := produce(t, b, p, topic, plan{batches: 1, batchSize: 5, queue: toQueue2})
	time.Sleep(100 * time.Millisecond)
	ts := time.Now().UnixMilli()
	time.Sleep(100 * time.Millisecond)
	batchB := produce(t, b, p, topic, plan{batches: 1, batchSize: 5, queue: toQueue2})
	if batchB[0].queueOffset != batchA[0].queueOffset+5 {
		t.Fatalf("batch B starts at queue offset %d, batch A at %d", batchB[0].queueOffset, batchA[0].queueOffset)
	}
	off, err := pc.OffsetForTimestamp(mqs[2], ts)
	if err != nil {
		t.Fatalf("OffsetForTimestamp: %v", err)
	}
	if off != batchB[0].queueOffset {
		t.Errorf("OffsetForTimestamp(queue 2, %d) = %d, want %d (batch A at %d..%d)", ts, off, batchB[0].queueOffset,
			batchA[0].queueOffset, batchA[len(batchA)-1].queueOffset)
	}
	got = pulledMessages(pullUntilEnd(t, pc, mqs[2], off))
	if len(got) != len(batchB) {
		t.Fatalf("from the timestamp's offset: pulled %d messages, want batch B's %d", len(got), len(batchB))
	}
	for i, m := range got {
		checkMessage(t, "pull from timestamp", batchB[i], m)
	}
	if off0, err := pc.OffsetForTimestamp(mqs[2], ts-time.Hour.Milliseconds()); err != nil || off0 != 0 {
		t.Errorf("OffsetForTimestamp an hour before anything = %d, %v; want 0", off0, err)
	}
}

// TestRestartResumesAtCommittedOffsets consumes part of a topic with a
// clustering group, shuts the group down (it commits), stops the broker
// with SIGTERM and starts it again on the same store: the group then gets
// exactly the messages it had not consumed, old and new, and nothing below
// its committed offsets. Before the restart the group also comes and goes
// a few times on the running broker, each session getting exactly what
// was sent since the last one left.
func TestRestartResumesAtCommittedOffsets(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic, queues, group, sessions = "RestartTopic", 8, "restart-group", 3
	createTopic(t, b, topic, queues)

	p := newProducer(t, b)
	col := newCollector()
	wantConsumed := map[string]*sent{}
	for session := 1; session <= sessions; session++ {
		batch := produce(t, b, p, topic, plan{sync: 24, batches: 1, batchSize: 4})
		name := fmt.Sprintf("r%d", session)
		m := startMember(t, b, group, name, topic, "*", consumer.Clustering, col)
		want := bySentBody(t, batch)
		col.waitAll(t, name, want)
		waitCommitted(t, topic, nextOffsets(col.all(name)), m)
		m.shutdown(t)
		b.waitConsumerLeft(t, m)
		var again []string
		for _, body := range col.bodies(name) {
			if want[body] == nil {
				again = append(again, body)
			} else if n := len(col.deliveries(name, body)); n != 1 {
				t.Errorf("session %d: %s delivered %d times", session, body, n)
			}
		}
		if len(again) > 0 {
			t.Errorf("session %d got %d messages again, from below the offsets session %d committed at shutdown: %v",
				session, len(again), session-1, again)
		}
		if t.Failed() {
			t.FailNow()
		}
		maps.Copy(wantConsumed, want)
	}

	// Sent after the group left: stored, not consumed.
	pending := produce(t, b, p, topic, plan{sync: 16, batches: 1, batchSize: 4})
	p.stop()

	b.stop()
	b.start()
	waitRoute(t, b, topic)

	p2 := newProducer(t, b)
	fresh := produce(t, b, p2, topic, plan{sync: 16, batches: 1, batchSize: 4})
	want := bySentBody(t, pending, fresh)
	after := "r-after-restart"
	m2 := startMember(t, b, group, after, topic, "*", consumer.Clustering, col)
	col.waitAll(t, after, want)
	// Redeliveries from below a committed offset would come first in their
	// queue, so by now they would have arrived.
	waitCommitted(t, topic, nextOffsets(col.all(after)), m2)
	var again []string
	for _, body := range col.bodies(after) {
		if wantConsumed[body] != nil {
			again = append(again, body)
		}
	}
	if len(again) > 0 {
		t.Errorf("after the restart, %d already-consumed messages were delivered again (the offsets the group committed at shutdown were not kept): %v", len(again), again)
	}
	for body, s := range want {
		ds := col.deliveries(after, body)
		if len(ds) != 1 {
			t.Errorf("%s delivered %d times after the restart", body, len(ds))
		}
		for _, d := range ds {
			checkMessage(t, "after restart", s, d)
		}
	}
	if got := col.total(after); got != len(want) {
		t.Errorf("after the restart: %d deliveries, want %d", got, len(want))
	}
}

// TestTagFilter subscribes "tagA || tagB" and sends tagA, tagB and tagC: the
// push consumer gets exactly the tagA and tagB messages, and a pull with
// the same expression shows the broker leaves tagC out of the pull body
// itself (the client filters again, which would hide a broker that did
// not).
func TestTagFilter(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic, queues = "TagTopic", 4
	createTopic(t, b, topic, queues)
	mqs := waitRoute(t, b, topic)
	tags := []string{"tagA", "tagB", "tagC"}
	col := newCollector()
	startMember(t, b, "tag-group", "t1", topic, "tagA || tagB", consumer.Clustering, col)

	// Tags cycle A, B, C over the queues in turn; a last round puts a tagA
	// at the end of every queue, so that once it arrives every tagC before
	// it in its queue has been passed over.
	const cycled, sentinels = 30, queues
	p := newProducer(t, b, producer.WithQueueSelector(producer.NewManualQueueSelector()))
	msgs := produce(t, b, p, topic, plan{
		sync:  cycled + sentinels,
		queue: func(i int) *primitive.MessageQueue { return mqs[i%queues] },
		tag: func(i int) string {
			if i >= cycled {
				return "tagA"
			}
			return tags[i%3]
		},
	})
	want := map[string]*sent{}
	for _, s := range msgs {
		if s.tag != "tagC" {
			want[s.body] = s
		}
	}
	col.waitAll(t, "t1", want)
	for _, body := range col.bodies("t1") {
		s := want[body]
		if s == nil {
			t.Errorf("delivered %s, which the subscription excludes", body)
			continue
		}
		ds := col.deliveries("t1", body)
		if len(ds) != 1 {
			t.Errorf("%s delivered %d times", body, len(ds))
		}
		checkMessage(t, "tag filter", s, ds[0])
	}
	if got := col.total("t1"); got != len(want) {
		t.Errorf("%d deliveries, want the %d tagA/tagB messages", got, len(want))
	}

	pc := newPullConsumer(t, b, "tag-pull-group", topic, "tagA || tagB")
	raw := 0
	for _, mq := range mqs {
		for _, res := range pullUntilEnd(t, pc, mq, 0) {
			for _, rm := range primitive.DecodeMessage(res.GetBody()) {
				raw++
				if tag := rm.GetTags(); tag != "tagA" && tag != "tagB" {
					t.Errorf("the broker returned %s (tag %q) to a \"tagA || tagB\" pull", rm.Body, tag)
				}
			}
		}
	}
	if raw != len(want) {
		t.Errorf("the broker returned %d messages to \"tagA || tagB\" pulls, want %d", raw, len(want))
	}
}

// TestRetryThenDeadLetter has a push consumer fail messages. A message
// that fails once comes back through the group's retry topic after the
// delay the consumer asked for, with its reconsume count raised and
// everything the producer set intact; a message that always fails comes
// back until the consumer's maxReconsumeTimes is spent and then lands in
// the group's dead-letter topic, where a pull finds it with its origin
// recorded.
func TestRetryThenDeadLetter(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic, queues, group, maxTimes = "RetryTopic", 2, "retry-group", 2
	createTopic(t, b, topic, queues)

	var mu sync.Mutex
	got := map[string][]*primitive.MessageExt{}
	gotAt := map[string][]time.Time{}
	poison := ""
	c, err := consumer.NewPushConsumer(
		consumer.WithNameServer(nameServer(b)),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance("retry")),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithMaxReconsumeTimes(maxTimes),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			fail := false
			for _, m := range msgs {
				body := string(m.Body)
				got[body] = append(got[body], m)
				gotAt[body] = append(gotAt[body], time.Now())
				fail = fail || body == poison || len(got[body]) == 1
			}
			if !fail {
				return consumer.ConsumeSuccess, nil
			}
			// Level 1 is one second: ask for it so the test does not
			// wait out the default 3+reconsumeTimes levels (10 s and up).
			if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
				cc.DelayLevelWhenNextConsume = 1
			}
			return consumer.ConsumeRetryLater, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })

	p := newProducer(t, b)
	sent := produce(t, b, p, topic, plan{sync: 5})
	mu.Lock()
	poison = sent[len(sent)-1].body
	mu.Unlock()
	retried := bySentBody(t, sent[:len(sent)-1])

	deliveries := func(body string) []*primitive.MessageExt {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got[body])
	}
	eventually(t, deliverTimeout, "every failed message to come back once", func() (bool, string) {
		n := 0
		for body := range retried {
			if len(deliveries(body)) >= 2 {
				n++
			}
		}
		return n == len(retried), fmt.Sprintf("%d of %d redelivered", n, len(retried))
	})
	eventually(t, deliverTimeout, "the poison message to be delivered 1+maxReconsumeTimes times", func() (bool, string) {
		n := len(deliveries(poison))
		return n >= 1+maxTimes, fmt.Sprintf("delivered %d times", n)
	})

	for body, s := range retried {
		ds := deliveries(body)
		if len(ds) != 2 {
			t.Errorf("%s delivered %d times, want twice (fail, then succeed)", body, len(ds))
			continue
		}
		checkMessage(t, "first delivery", s, ds[0])
		again := *s
		again.queueID, again.offsetMsgID = -1, "" // the retry is a new record in the retry topic
		checkMessage(t, "redelivery", &again, ds[1])
		if ds[0].ReconsumeTimes != 0 || ds[1].ReconsumeTimes != 1 {
			t.Errorf("%s reconsume times %d then %d, want 0 then 1", body, ds[0].ReconsumeTimes, ds[1].ReconsumeTimes)
		}
		mu.Lock()
		wait := gotAt[body][1].Sub(gotAt[body][0])
		mu.Unlock()
		if wait < 900*time.Millisecond {
			t.Errorf("%s came back after %v, before the one-second delay level it asked for", body, wait)
		}
	}

	// The poison message goes to the dead-letter topic once the consumer
	// fails its last allowed reconsume; the client never sees it again.
	dlq := "%DLQ%" + group
	mqs := waitRoute(t, b, dlq)
	pc := newPullConsumer(t, b, "dlq-reader", dlq, "*")
	var dead []*primitive.MessageExt
	eventually(t, deliverTimeout, "the poison message in "+dlq, func() (bool, string) {
		dead = nil
		for _, mq := range mqs {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := pc.PullFrom(ctx, mq, 0, 32)
			cancel()
			if err != nil {
				return false, err.Error()
			}
			dead = append(dead, res.GetMessageExts()...)
		}
		return len(dead) > 0, fmt.Sprintf("%d messages", len(dead))
	})
	if len(dead) != 1 || string(dead[0].Body) != poison {
		var bodies []string
		for _, m := range dead {
			bodies = append(bodies, string(m.Body))
		}
		t.Fatalf("%s holds %v, want exactly the poison message %s", dlq, bodies, poison)
	}
	d := dead[0]
	if d.ReconsumeTimes != maxTimes+1 {
		t.Errorf("dead letter reconsume times %d, want %d", d.ReconsumeTimes, maxTimes+1)
	}
	if got := d.GetProperty(primitive.PropertyRetryTopic); got != topic {
		t.Errorf("dead letter RETRY_TOPIC %q, want %q", got, topic)
	}
	if d.GetProperty(primitive.PropertyOriginMessageId) == "" {
		t.Errorf("dead letter has no ORIGIN_MESSAGE_ID")
	}
	if got := len(deliveries(poison)); got != 1+maxTimes {
		t.Errorf("poison message delivered %d times, want %d", got, 1+maxTimes)
	}
}

// TestOrderlyConsumer runs two orderly push consumers (WithConsumerOrder),
// which consume only queues whose LOCK_BATCH_MQ the broker granted them.
// Messages sent with sharding keys through the hash selector arrive once
// each, and every queue's messages, and so every key's, in send order.
//
// The Go client never unlocks a queue a rebalance takes from it (its
// removeUnnecessaryMessageQueue is a TODO for orderly consumers), so the
// queue's new owner gets it only once the old lock expires: 60 s by
// default, 2 s here, and at the new owner's next rebalance (20 s at most).
func TestOrderlyConsumer(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "rebalanceLockMaxLiveTime=2000")
	const topic, queues, group = "OrderTopic", 4, "order-group"
	createTopic(t, b, topic, queues)

	type delivery struct {
		member, key string
		seq         int
		queue       int
		offset      int64
	}
	var mu sync.Mutex
	var got []delivery
	var members []*member
	for _, name := range []string{"o1", "o2"} {
		inst := instance(name)
		c, err := consumer.NewPushConsumer(
			consumer.WithNameServer(nameServer(b)),
			consumer.WithGroupName(group),
			consumer.WithInstance(inst),
			consumer.WithConsumerOrder(true),
			consumer.WithRebalanceLockInterval(500*time.Millisecond),
			consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
			func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					seq, _ := strconv.Atoi(m.GetProperty("seq"))
					got = append(got, delivery{name, m.GetShardingKey(), seq, m.Queue.QueueId, m.QueueOffset})
				}
				return consumer.ConsumeSuccess, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		m := &member{name: name, instance: inst, c: c}
		m.queues = func(topic string) map[int]int64 {
			out := map[int]int64{}
			for mq, pq := range c.GetConsumerRunningInfo(false).MQTable {
				if mq.Topic == topic && !pq.Dropped && pq.Locked {
					out[mq.QueueId] = pq.CommitOffset
				}
			}
			return out
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.shutdown(t) })
		members = append(members, m)
	}
	// Balanced, and each member holds the broker's lock on its queues.
	waitBalanced(t, topic, queues, members...)

	p := newProducer(t, b, producer.WithQueueSelector(producer.NewHashQueueSelector()))
	keys := []string{"order-a", "order-b", "order-c", "order-d", "order-e"}
	const perKey = 20
	for i := range perKey {
		for _, k := range keys {
			m := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s/%d", k, i)))
			m.WithShardingKey(k)
			m.WithProperty("seq", strconv.Itoa(i))
			if res, err := p.SendSync(context.Background(), m); err != nil || res.Status != primitive.SendOK {
				t.Fatalf("send %s/%d: %v %v", k, i, res, err)
			}
		}
	}
	eventually(t, deliverTimeout, "every message", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(keys)*perKey, fmt.Sprintf("%d of %d", len(got), len(keys)*perKey)
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(keys)*perKey {
		t.Fatalf("%d deliveries, want exactly %d", len(got), len(keys)*perKey)
	}
	lastOffset := map[int]int64{}
	lastSeq := map[string]int{}
	keyQueue := map[string]int{}
	byMember := map[string]int{}
	queueOwner := map[int]string{}
	for _, d := range got {
		byMember[d.member]++
		if o, ok := queueOwner[d.queue]; ok && o != d.member {
			t.Errorf("queue %d consumed by %s and %s", d.queue, o, d.member)
		}
		queueOwner[d.queue] = d.member
		if last, ok := lastOffset[d.queue]; ok && d.offset != last+1 {
			t.Errorf("queue %d: offset %d after %d", d.queue, d.offset, last)
		}
		lastOffset[d.queue] = d.offset
		if q, ok := keyQueue[d.key]; ok && q != d.queue {
			t.Errorf("key %s in queues %d and %d", d.key, q, d.queue)
		}
		keyQueue[d.key] = d.queue
		if last, ok := lastSeq[d.key]; ok && d.seq != last+1 || !ok && d.seq != 0 {
			t.Errorf("key %s: seq %d after %d", d.key, d.seq, last)
		}
		lastSeq[d.key] = d.seq
	}
	if len(byMember) != 2 {
		t.Errorf("deliveries by member %v: both should have consumed", byMember)
	}
}

// txListener decides by body prefix: commit/, rollback/, or unknown/ (the
// broker's check then gets the decision after the slash: commit or
// rollback).
type txListener struct {
	mu     sync.Mutex
	checks map[string]int
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch body := string(m.Body); {
	case strings.HasPrefix(body, "commit/"):
		return primitive.CommitMessageState
	case strings.HasPrefix(body, "rollback/"):
		return primitive.RollbackMessageState
	}
	return primitive.UnkonwnState
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checks[string(m.Body)]++
	l.mu.Unlock()
	if strings.HasPrefix(string(m.Body), "unknown/commit/") {
		return primitive.CommitMessageState
	}
	return primitive.RollbackMessageState
}

// TestTransactionalProducer sends half messages with the official
// transaction producer: committed ones are delivered once each, rolled
// back ones never, and those the producer left unknown are resolved by the
// broker's check (CHECK_TRANSACTION_STATE), as the producer answers it.
func TestTransactionalProducer(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "transactionTimeOut=1000", "transactionCheckInterval=300")
	const topic = "TxTopic"
	createTopic(t, b, topic, 4)
	col := newCollector()
	startMember(t, b, "tx-group", "tx1", topic, "*", consumer.Clustering, col)

	l := &txListener{checks: map[string]int{}}
	p, err := producer.NewTransactionProducer(l,
		producer.WithNameServer(nameServer(b)),
		producer.WithGroupName("tx-producer"),
		producer.WithInstanceName(instance("txp")),
		producer.WithRetry(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })

	kinds := []string{"commit", "rollback", "unknown/commit", "unknown/rollback"}
	want := map[string]*sent{}
	var all []string
	for i := range 5 {
		for _, k := range kinds {
			body := fmt.Sprintf("%s/%d", k, i)
			all = append(all, body)
			m := primitive.NewMessage(topic, []byte(body))
			res, err := p.SendMessageInTransaction(context.Background(), m)
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("half %s: %v %v", body, res, err)
			}
			if strings.HasSuffix(k, "commit") {
				want[body] = &sent{body: body}
			}
		}
	}
	col.waitAll(t, "", want)
	// Give the checks time to resolve the rest, and any wrong delivery
	// time to show up.
	eventually(t, deliverTimeout, "every unknown transaction checked", func() (bool, string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for _, body := range all {
			if strings.HasPrefix(body, "unknown/") && l.checks[body] > 0 {
				n++
			}
		}
		return n == 10, fmt.Sprintf("%d of 10 checked", n)
	})
	time.Sleep(1500 * time.Millisecond)
	for _, body := range all {
		n := len(col.deliveries("", body))
		switch _, committed := want[body]; {
		case committed && n != 1:
			t.Errorf("%s delivered %d times, want once", body, n)
		case !committed && n != 0:
			t.Errorf("%s delivered %d times, but its transaction rolled back", body, n)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for body, n := range l.checks {
		if !strings.HasPrefix(body, "unknown/") {
			t.Errorf("%s was checked %d times, but its producer had decided", body, n)
		}
	}
}
