package interop

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

var instanceSeq atomic.Int64

// instance names a client uniquely in this process: the client keeps one
// connection set per client id (IP@instance), process-wide.
func instance(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, instanceSeq.Add(1))
}

func nameServer(b *brokerProc) primitive.NamesrvAddr { return primitive.NamesrvAddr{b.nameServer()} }

// createTopic creates a topic with the admin API on the broker and waits
// until the name server routes it.
func createTopic(t *testing.T, b *brokerProc, topic string, queues int) {
	t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{b.nameServer()})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = adm.CreateTopic(ctx,
		admin.WithTopicCreate(topic),
		admin.WithBrokerAddrCreate(b.addr()),
		admin.WithReadQueueNums(queues),
		admin.WithWriteQueueNums(queues))
	cancel()
	adm.Close()
	if err != nil {
		t.Fatalf("CreateTopic %s: %v", topic, err)
	}
	if got := waitRoute(t, b, topic); len(got) != queues {
		t.Fatalf("topic %s: the route has %d queues, want %d", topic, len(got), queues)
	}
}

// waitRoute waits until the name server has a route for topic and returns
// its queues sorted by id.
func waitRoute(t *testing.T, b *brokerProc, topic string) []*primitive.MessageQueue {
	t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{b.nameServer()})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	var mqs []*primitive.MessageQueue
	eventually(t, 10*time.Second, "a route for "+topic, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		mqs, err = adm.FetchPublishMessageQueues(ctx, topic)
		return err == nil && len(mqs) > 0, fmt.Sprint(err)
	})
	sort.Slice(mqs, func(i, j int) bool { return mqs[i].QueueId < mqs[j].QueueId })
	return mqs
}

// sender is the producer API the tests use.
type sender interface {
	SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error)
	SendAsync(ctx context.Context, f func(context.Context, *primitive.SendResult, error), msgs ...*primitive.Message) error
	SendOneWay(ctx context.Context, msgs ...*primitive.Message) error
	Shutdown() error
}

// prod is a started producer; stop shuts it down once (also at cleanup).
type prod struct {
	sender
	once sync.Once
}

func (p *prod) stop() { p.once.Do(func() { p.Shutdown() }) }

func newProducer(t *testing.T, b *brokerProc, opts ...producer.Option) *prod {
	t.Helper()
	opts = append([]producer.Option{
		producer.WithNameServer(nameServer(b)),
		producer.WithGroupName(instance("pg")),
		producer.WithInstanceName(instance("producer")),
		// A retried send could store a message twice; every send here must
		// succeed at the first attempt.
		producer.WithRetry(0),
		producer.WithSendMsgTimeout(10 * time.Second),
	}, opts...)
	p, err := producer.NewDefaultProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	pr := &prod{sender: p}
	t.Cleanup(pr.stop)
	return pr
}

// sent is what a test knows about one message it sent.
type sent struct {
	topic       string
	kind        string // sync, async, oneway, batch
	body        string
	tag         string
	keys        []string
	props       map[string]string
	msgID       string // what consumers must see as MsgId
	offsetMsgID string // "" for oneway
	queueID     int    // -1 for oneway
	queueOffset int64  // -1 for oneway
}

// userProps are the user properties every test message carries, with the
// message's own values mixed in.
func userProps(kind string, i int) map[string]string {
	return map[string]string{
		"seq":     strconv.Itoa(i),
		"kind":    kind,
		"unicode": "héllo wörld ✓ " + strconv.Itoa(i),
		"spaced":  "a b  c",
		"json":    fmt.Sprintf(`{"k":[%d,2],"s":"x=y"}`, i),
	}
}

// msgSeq numbers message bodies, unique in the process.
var msgSeq atomic.Int64

func newMessage(topic, kind string, i int, tag string) (*primitive.Message, *sent) {
	s := &sent{
		topic: topic, kind: kind,
		body:    fmt.Sprintf("%s/%s/%04d", topic, kind, msgSeq.Add(1)),
		tag:     tag,
		keys:    []string{fmt.Sprintf("key-%s-%d", kind, i), "shared-key"},
		props:   userProps(kind, i),
		queueID: -1, queueOffset: -1,
	}
	m := primitive.NewMessage(topic, []byte(s.body))
	m.WithTag(tag)
	m.WithKeys(s.keys)
	for _, k := range slices.Sorted(maps.Keys(s.props)) {
		m.WithProperty(k, s.props[k])
	}
	return m, s
}

// plan is how many messages of each kind produce sends.
type plan struct {
	sync, async, oneway int
	batches, batchSize  int
	// tag returns the tag of the i-th message overall; nil means "tagA".
	tag func(i int) string
	// queue, if set, picks the queue of each send (the producer must use a
	// manual queue selector).
	queue func(i int) *primitive.MessageQueue
}

// produce sends the plan's messages and checks every send result: status
// OK, the message id, the offset id (naming this broker) and the queue.
// Oneway sends have no result; consumers identify them by their UNIQ_KEY.
func produce(t *testing.T, b *brokerProc, p sender, topic string, pl plan) []*sent {
	t.Helper()
	ctx := context.Background()
	n := 0
	next := func(kind string) (*primitive.Message, *sent) {
		tag := "tagA"
		if pl.tag != nil {
			tag = pl.tag(n)
		}
		m, s := newMessage(topic, kind, n, tag)
		if pl.queue != nil {
			m.Queue = pl.queue(n)
		}
		n++
		return m, s
	}
	var out []*sent
	record := func(s *sent, m *primitive.Message, res *primitive.SendResult) {
		t.Helper()
		uniq := m.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex)
		if len(uniq) != 32 {
			t.Fatalf("%s: the client stamped UNIQ_KEY %q", s.body, uniq)
		}
		checkSingleResult(t, b, topic, s.body, res, uniq)
		s.msgID, s.offsetMsgID = uniq, res.OffsetMsgID
		s.queueID, s.queueOffset = res.MessageQueue.QueueId, res.QueueOffset
		out = append(out, s)
	}

	for range pl.sync {
		m, s := next("sync")
		res, err := p.SendSync(ctx, m)
		if err != nil {
			t.Fatalf("SendSync %s: %v", s.body, err)
		}
		record(s, m, res)
	}

	type asyncDone struct {
		s   *sent
		m   *primitive.Message
		res *primitive.SendResult
		err error
	}
	done := make(chan asyncDone, pl.async)
	for range pl.async {
		m, s := next("async")
		err := p.SendAsync(ctx, func(_ context.Context, res *primitive.SendResult, err error) {
			done <- asyncDone{s, m, res, err}
		}, m)
		if err != nil {
			t.Fatalf("SendAsync %s: %v", s.body, err)
		}
	}
	for range pl.async {
		select {
		case d := <-done:
			if d.err != nil {
				t.Fatalf("SendAsync %s completed with %v", d.s.body, d.err)
			}
			record(d.s, d.m, d.res)
		case <-time.After(deliverTimeout):
			t.Fatalf("SendAsync: no completion within %v", deliverTimeout)
		}
	}

	for range pl.oneway {
		m, s := next("oneway")
		if err := p.SendOneWay(ctx, m); err != nil {
			t.Fatalf("SendOneWay %s: %v", s.body, err)
		}
		s.msgID = m.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex)
		if len(s.msgID) != 32 {
			t.Fatalf("%s: the client stamped UNIQ_KEY %q", s.body, s.msgID)
		}
		out = append(out, s)
	}

	for range pl.batches {
		var msgs []*primitive.Message
		var ss []*sent
		for range pl.batchSize {
			m, s := next("batch")
			msgs = append(msgs, m)
			ss = append(ss, s)
		}
		res, err := p.SendSync(ctx, msgs...)
		if err != nil {
			t.Fatalf("batch SendSync %s..: %v", ss[0].body, err)
		}
		ids := checkBatchResult(t, b, topic, ss[0].body, res, len(msgs))
		for i, s := range ss {
			// Batch members carry no UNIQ_KEY: consumers see the offset id.
			if u := msgs[i].GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex); u != "" {
				t.Fatalf("batch member %s got UNIQ_KEY %q", s.body, u)
			}
			s.msgID, s.offsetMsgID = ids[i], ids[i]
			s.queueID, s.queueOffset = res.MessageQueue.QueueId, res.QueueOffset+int64(i)
			out = append(out, s)
		}
	}
	return out
}

// checkSingleResult checks a single send's result.
func checkSingleResult(t *testing.T, b *brokerProc, topic, body string, res *primitive.SendResult, uniq string) {
	t.Helper()
	if res == nil || res.Status != primitive.SendOK {
		t.Fatalf("send %s: result %v, want SEND_OK", body, res)
	}
	if res.MsgID != uniq {
		t.Fatalf("send %s: MsgID %q, want the message's UNIQ_KEY %q", body, res.MsgID, uniq)
	}
	checkOffsetMsgID(t, b, body, res.OffsetMsgID)
	if res.MessageQueue == nil || res.MessageQueue.Topic != topic || res.MessageQueue.BrokerName != "broker-a" {
		t.Fatalf("send %s: queue %v", body, res.MessageQueue)
	}
	if res.MessageQueue.QueueId < 0 || res.QueueOffset < 0 {
		t.Fatalf("send %s: queue id %d, queue offset %d", body, res.MessageQueue.QueueId, res.QueueOffset)
	}
}

// checkBatchResult checks a batch send's result and returns the members'
// offset ids.
func checkBatchResult(t *testing.T, b *brokerProc, topic, first string, res *primitive.SendResult, n int) []string {
	t.Helper()
	if res == nil || res.Status != primitive.SendOK {
		t.Fatalf("batch from %s: result %v, want SEND_OK", first, res)
	}
	ids := strings.Split(res.OffsetMsgID, ",")
	if len(ids) != n {
		t.Fatalf("batch from %s: OffsetMsgID %q lists %d ids for %d messages", first, res.OffsetMsgID, len(ids), n)
	}
	prev := int64(-1)
	for _, id := range ids {
		off := checkOffsetMsgID(t, b, first, id)
		if off <= prev {
			t.Fatalf("batch from %s: offset ids %q are not in commit-log order", first, res.OffsetMsgID)
		}
		prev = off
	}
	if res.MessageQueue == nil || res.MessageQueue.Topic != topic || res.MessageQueue.QueueId < 0 || res.QueueOffset < 0 {
		t.Fatalf("batch from %s: queue %v offset %d", first, res.MessageQueue, res.QueueOffset)
	}
	return ids
}

// checkOffsetMsgID decodes an offset message id, which must name this
// broker's store host, and returns its commit-log offset.
func checkOffsetMsgID(t *testing.T, b *brokerProc, what, id string) int64 {
	t.Helper()
	if len(id) != 32 {
		t.Fatalf("%s: offset message id %q is not 32 hex characters", what, id)
	}
	mid, err := primitive.UnmarshalMsgID([]byte(id))
	if err != nil {
		t.Fatalf("%s: offset message id %q: %v", what, id, err)
	}
	if mid.Addr != "127.0.0.1" || mid.Port != b.port || mid.Offset < 0 {
		t.Fatalf("%s: offset message id %q decodes to %s:%d@%d, want 127.0.0.1:%d", what, id, mid.Addr, mid.Port, mid.Offset, b.port)
	}
	return mid.Offset
}

// checkMessage compares a consumed message with what was sent.
func checkMessage(t *testing.T, who string, s *sent, m *primitive.MessageExt) {
	t.Helper()
	var bad []string
	diff := func(field string, got, want any) {
		if got != want {
			bad = append(bad, fmt.Sprintf("%s %q, want %q", field, fmt.Sprint(got), fmt.Sprint(want)))
		}
	}
	diff("topic", m.Topic, s.topic)
	diff("body", string(m.Body), s.body)
	diff("tags", m.GetTags(), s.tag)
	diff("keys", m.GetKeys(), strings.Join(s.keys, primitive.PropertyKeySeparator))
	for _, k := range slices.Sorted(maps.Keys(s.props)) {
		diff("property "+k, m.GetProperty(k), s.props[k])
	}
	diff("MsgId", m.MsgId, s.msgID)
	if s.offsetMsgID != "" {
		diff("OffsetMsgId", m.OffsetMsgId, s.offsetMsgID)
	}
	if s.queueID >= 0 {
		qid := -1
		if m.Queue != nil {
			qid = m.Queue.QueueId
		}
		diff("queue id", qid, s.queueID)
		diff("queue offset", m.QueueOffset, s.queueOffset)
	}
	if len(bad) > 0 {
		t.Errorf("%s: message %s (%s) arrived altered: %s", who, s.body, s.kind, strings.Join(bad, "; "))
	}
}

// bySentBody indexes sent messages by body.
func bySentBody(t *testing.T, lists ...[]*sent) map[string]*sent {
	t.Helper()
	m := map[string]*sent{}
	for _, l := range lists {
		for _, s := range l {
			if m[s.body] != nil {
				t.Fatalf("two sends with body %s", s.body)
			}
			m[s.body] = s
		}
	}
	return m
}

// collector records what push consumers deliver, per member.
type collector struct {
	mu  sync.Mutex
	got map[string]map[string][]*primitive.MessageExt // member -> body -> deliveries
}

func newCollector() *collector {
	return &collector{got: map[string]map[string][]*primitive.MessageExt{}}
}

func (c *collector) handler(member string) func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	c.mu.Lock()
	if c.got[member] == nil {
		c.got[member] = map[string][]*primitive.MessageExt{}
	}
	c.mu.Unlock()
	return func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, m := range msgs {
			c.got[member][string(m.Body)] = append(c.got[member][string(m.Body)], m)
		}
		return consumer.ConsumeSuccess, nil
	}
}

// deliveries returns member's deliveries of body (every member's if member
// is "").
func (c *collector) deliveries(member, body string) []*primitive.MessageExt {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*primitive.MessageExt
	for mem, byBody := range c.got {
		if member == "" || mem == member {
			out = append(out, byBody[body]...)
		}
	}
	return out
}

// count is the number of distinct bodies among want that member (every
// member if "") has received.
func (c *collector) count(member string, want map[string]*sent) int {
	n := 0
	for body := range want {
		if len(c.deliveries(member, body)) > 0 {
			n++
		}
	}
	return n
}

// total is the number of deliveries member has had of any message.
func (c *collector) total(member string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.got[member] {
		n += len(l)
	}
	return n
}

// bodies lists every body member received, sorted.
func (c *collector) bodies(member string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.got[member]))
}

// waitAll waits until member (every member if "") has received every
// message of want.
func (c *collector) waitAll(t *testing.T, member string, want map[string]*sent) {
	t.Helper()
	who := member
	if who == "" {
		who = "the group"
	}
	eventually(t, deliverTimeout, fmt.Sprintf("%s to receive %d messages", who, len(want)), func() (bool, string) {
		n := c.count(member, want)
		var missing []string
		if n < len(want) {
			for _, body := range slices.Sorted(maps.Keys(want)) {
				if len(c.deliveries(member, body)) == 0 && len(missing) < 5 {
					missing = append(missing, body)
				}
			}
		}
		return n == len(want), fmt.Sprintf("%d of %d received; missing e.g. %v", n, len(want), missing)
	})
}

// member is one push consumer.
type member struct {
	name     string
	instance string // its instance name: the client id is <ip>@<instance>
	c        interface {
		Start() error
		Shutdown() error
	}
	// queues returns the queues of topic the consumer holds, with the
	// offset it would commit for each.
	queues func(topic string) map[int]int64
	once   sync.Once
}

func (m *member) shutdown(t *testing.T) {
	t.Helper()
	m.once.Do(func() {
		if err := m.c.Shutdown(); err != nil {
			t.Errorf("%s: Shutdown: %v", m.name, err)
		}
	})
}

// startMember starts a push consumer of group on topic with the given
// subscription expression and message model, delivering to col.
func startMember(t *testing.T, b *brokerProc, group, name, topic, expr string, model consumer.MessageModel, col *collector) *member {
	t.Helper()
	inst := instance(name)
	c, err := consumer.NewPushConsumer(
		consumer.WithNameServer(nameServer(b)),
		consumer.WithGroupName(group),
		consumer.WithInstance(inst),
		consumer.WithConsumerModel(model),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithConsumeMessageBatchMaxSize(4),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr}, col.handler(name))
	if err != nil {
		t.Fatal(err)
	}
	m := &member{name: name, instance: inst, c: c}
	m.queues = func(topic string) map[int]int64 {
		out := map[int]int64{}
		for mq, pq := range c.GetConsumerRunningInfo(false).MQTable {
			if mq.Topic == topic && !pq.Dropped {
				out[mq.QueueId] = pq.CommitOffset
			}
		}
		return out
	}
	if err := c.Start(); err != nil {
		t.Fatalf("%s: Start: %v", name, err)
	}
	t.Cleanup(func() { m.shutdown(t) })
	return m
}

// waitBalanced waits until the members hold disjoint sets of topic's
// queues covering all n of them, each member at least one.
func waitBalanced(t *testing.T, topic string, n int, members ...*member) {
	t.Helper()
	eventually(t, deliverTimeout, fmt.Sprintf("%d members to split %d queues of %s", len(members), n, topic), func() (bool, string) {
		held := map[int]int{}
		var state []string
		ok := true
		for _, m := range members {
			qs := m.queues(topic)
			state = append(state, fmt.Sprintf("%s holds %v", m.name, slices.Sorted(maps.Keys(qs))))
			if len(qs) == 0 {
				ok = false
			}
			for q := range qs {
				held[q]++
			}
		}
		for q := range n {
			if held[q] != 1 {
				ok = false
			}
		}
		return ok && len(held) == n, strings.Join(state, "; ")
	})
}

// waitCommitted waits until, for each queue of want, the member holding it
// is ready to commit exactly want[queue]: everything below was consumed.
func waitCommitted(t *testing.T, topic string, want map[int]int64, members ...*member) {
	t.Helper()
	eventually(t, deliverTimeout, fmt.Sprintf("consumers of %s to reach offsets %v", topic, want), func() (bool, string) {
		got := map[int]int64{}
		for _, m := range members {
			maps.Copy(got, m.queues(topic))
		}
		for q, off := range want {
			if got[q] != off {
				return false, fmt.Sprintf("offsets %v", got)
			}
		}
		return true, ""
	})
}

// nextOffsets is, per queue, one past the highest queue offset among msgs.
func nextOffsets(msgs []*primitive.MessageExt) map[int]int64 {
	out := map[int]int64{}
	for _, m := range msgs {
		if m.QueueOffset+1 > out[m.Queue.QueueId] {
			out[m.Queue.QueueId] = m.QueueOffset + 1
		}
	}
	return out
}

// all returns every delivery member has had.
func (c *collector) all(member string) []*primitive.MessageExt {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*primitive.MessageExt
	for mem, byBody := range c.got {
		if member == "" || mem == member {
			for _, l := range byBody {
				out = append(out, l...)
			}
		}
	}
	return out
}

// newPullConsumer starts a pull consumer of group subscribed to topic.
func newPullConsumer(t *testing.T, b *brokerProc, group, topic, expr string) interface {
	PullFrom(ctx context.Context, mq *primitive.MessageQueue, offset int64, numbers int) (*primitive.PullResult, error)
	OffsetForTimestamp(mq *primitive.MessageQueue, timestamp int64) (int64, error)
} {
	t.Helper()
	pc, err := consumer.NewPullConsumer(
		consumer.WithNameServer(nameServer(b)),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance("puller")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatalf("pull consumer Start: %v", err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	return pc
}

// pullUntilEnd pulls mq from offset until the broker's max offset and
// returns the pull results. Every pull must answer at once: the caller
// starts below the queue's end, so none is held for long polling.
func pullUntilEnd(t *testing.T, pc interface {
	PullFrom(ctx context.Context, mq *primitive.MessageQueue, offset int64, numbers int) (*primitive.PullResult, error)
}, mq *primitive.MessageQueue, from int64) []*primitive.PullResult {
	t.Helper()
	var out []*primitive.PullResult
	for off := from; ; {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := pc.PullFrom(ctx, mq, off, 32)
		cancel()
		if err != nil {
			t.Fatalf("PullFrom %s-%d@%d: %v", mq.Topic, mq.QueueId, off, err)
		}
		switch res.Status {
		case primitive.PullFound, primitive.PullNoMsgMatched:
		default:
			t.Fatalf("PullFrom %s-%d@%d: status %v (next %d, max %d), want messages", mq.Topic, mq.QueueId, off, res.Status, res.NextBeginOffset, res.MaxOffset)
		}
		if res.NextBeginOffset <= off {
			t.Fatalf("PullFrom %s-%d@%d: nextBeginOffset %d does not advance", mq.Topic, mq.QueueId, off, res.NextBeginOffset)
		}
		out = append(out, res)
		off = res.NextBeginOffset
		if off >= res.MaxOffset {
			if off > res.MaxOffset {
				t.Fatalf("PullFrom %s-%d: nextBeginOffset %d beyond maxOffset %d", mq.Topic, mq.QueueId, off, res.MaxOffset)
			}
			return out
		}
	}
}

func pulledMessages(results []*primitive.PullResult) []*primitive.MessageExt {
	var out []*primitive.MessageExt
	for _, r := range results {
		out = append(out, r.GetMessageExts()...)
	}
	return out
}
