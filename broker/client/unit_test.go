package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/thrustmq/thrust/broker/message"
)

func queues(topic string, spec ...string) []MessageQueue {
	var out []MessageQueue
	for _, s := range spec {
		var b string
		var id int
		fmt.Sscanf(strings.Replace(s, "#", " ", 1), "%s %d", &b, &id)
		out = append(out, MessageQueue{Topic: topic, BrokerName: b, QueueID: id})
	}
	return out
}

func TestAllocateByAveragely(t *testing.T) {
	mq := queues("T", "a#0", "a#1", "a#2", "a#3", "b#0", "b#1", "b#2")
	cases := []struct {
		cids []string
		me   string
		want []int // indexes into mq
	}{
		{[]string{"c1"}, "c1", []int{0, 1, 2, 3, 4, 5, 6}},
		{[]string{"c1", "c2"}, "c1", []int{0, 1, 2, 3}}, // 7 = 4 + 3
		{[]string{"c1", "c2"}, "c2", []int{4, 5, 6}},
		{[]string{"c1", "c2", "c3"}, "c1", []int{0, 1, 2}}, // 7 = 3 + 2 + 2
		{[]string{"c1", "c2", "c3"}, "c2", []int{3, 4}},
		{[]string{"c1", "c2", "c3"}, "c3", []int{5, 6}},
		{[]string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}, "c7", []int{6}},
		{[]string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}, "c8", nil}, // more clients than queues
		{[]string{"c1", "c2"}, "stranger", nil},
	}
	for _, tc := range cases {
		var want []MessageQueue
		for _, i := range tc.want {
			want = append(want, mq[i])
		}
		if got := AllocateByAveragely(tc.me, mq, tc.cids); !slices.Equal(got, want) {
			t.Errorf("%s of %v: got %v, want %v", tc.me, tc.cids, got, want)
		}
	}
	// Every split covers every queue exactly once.
	for k := 1; k <= 9; k++ {
		var cids []string
		for i := range k {
			cids = append(cids, fmt.Sprint("c", i))
		}
		var all []MessageQueue
		for _, c := range cids {
			all = append(all, AllocateByAveragely(c, mq, cids)...)
		}
		if !slices.Equal(all, mq) {
			t.Errorf("%d clients: union %v", k, all)
		}
	}
}

func TestParseRoute(t *testing.T) {
	std := `{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"b","cluster":"C","enableActingMaster":false},` +
		`{"brokerAddrs":{"1":"10.0.0.4:10911"},"brokerName":"a","cluster":"C"}],"filterServerTable":{},` +
		`"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":3},{"brokerName":"a","perm":4,"readQueueNums":1,"writeQueueNums":1}]}`
	r, err := ParseRoute([]byte(std))
	if err != nil {
		t.Fatal(err)
	}
	if r.BrokerDatas[0].BrokerName != "a" || r.BrokerDatas[1].MasterAddr() != "10.0.0.1:10911" || !slices.Equal(r.BrokerDatas[1].IDs(), []int64{0, 1}) {
		t.Fatalf("broker datas %+v", r.BrokerDatas)
	}
	// Publish: writable and mastered only (a is read-only and masterless).
	if got := r.PublishQueues("T"); !slices.Equal(got, queues("T", "b#0", "b#1", "b#2")) {
		t.Fatalf("publish %v", got)
	}
	// Subscribe: readable, master or not.
	if got := r.SubscribeQueues("T"); !slices.Equal(got, queues("T", "a#0", "b#0", "b#1")) {
		t.Fatalf("subscribe %v", got)
	}

	// A Java name server answering an old client: bare integer keys.
	java := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911", 1 :"10.0.0.2:10911"},"brokerName":"b","cluster":"C"}],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"topicSynFlag":0,"writeQueueNums":4}],"x":"{0:\"not a key\"}"}`
	r, err = ParseRoute([]byte(java))
	if err != nil {
		t.Fatal(err)
	}
	if r.BrokerDatas[0].BrokerAddrs[1] != "10.0.0.2:10911" || len(r.PublishQueues("T")) != 4 {
		t.Fatalf("java route %+v", r)
	}

	for name, body := range map[string]string{
		"empty":             ``,
		"no queueDatas":     `{"brokerDatas":[]}`,
		"bad id":            `{"queueDatas":[],"brokerDatas":[{"brokerName":"b","brokerAddrs":{"master":"x"}}]}`,
		"absurd queues":     `{"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":1000000,"writeQueueNums":1}]}`,
		"negative queues":   `{"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":-1,"writeQueueNums":1}]}`,
		"not json":          `hello`,
		"queueDatas object": `{"queueDatas":{}}`,
	} {
		if _, err := ParseRoute([]byte(body)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestQuoteBareKeys(t *testing.T) {
	for in, want := range map[string]string{
		`{0:"a"}`:               `{"0":"a"}`,
		`{ 0 : "a", -1:"b"}`:    `{ "0" : "a", "-1":"b"}`,
		`{"s":"{0:1}"}`:         `{"s":"{0:1}"}`,
		`[0,1]`:                 `[0,1]`,
		`{"k":[{1:2}]}`:         `{"k":[{"1":2}]}`,
		`{"e":"\"{2:3}\\"}`:     `{"e":"\"{2:3}\\"}`,
		`{"a":1,"b":{12:"x"}}`:  `{"a":1,"b":{"12":"x"}}`,
		`{"a":{"n":5},"b":[7]}`: `{"a":{"n":5},"b":[7]}`,
	} {
		got, _ := quoteBareKeys([]byte(in))
		if string(got) != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

func TestMessagePropertiesOrderAndOverrides(t *testing.T) {
	m := &Message{
		Topic: "T", Body: []byte("x"), Tags: "t1", Keys: []string{"k1", "k2"}, DelayLevel: 3,
		Properties: message.Properties{{Key: "TAGS", Value: "ignored"}, {Key: "a", Value: "1"}, {Key: "DELAY", Value: "9"}},
	}
	raw, id, err := m.encodeProperties(func() string { return "ID" })
	if err != nil || id != "ID" {
		t.Fatal(err, id)
	}
	want := "TAGS\x01t1\x02KEYS\x01k1 k2\x02a\x011\x02DELAY\x013\x02UNIQ_KEY\x01ID\x02"
	if string(raw) != want {
		t.Fatalf("properties %q, want %q", raw, want)
	}
	// A caller's UNIQ_KEY is the message's id.
	m = &Message{Topic: "T", Body: []byte("x"), Properties: message.Properties{{Key: "UNIQ_KEY", Value: "MINE"}}}
	if _, id, _ := m.encodeProperties(func() string { return "NEW" }); id != "MINE" {
		t.Fatalf("id %q", id)
	}
}

func TestOutcome(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		r    SendResult
		want Outcome
	}{
		{SendResult{}, OutcomeOK},
		{SendResult{Ambiguous: 2}, OutcomeOK},
		{SendResult{Err: boom}, OutcomeFailed},
		{SendResult{Err: boom, Indefinite: true}, OutcomeIndefinite},
	} {
		if got := tc.r.Outcome(); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.r, got, tc.want)
		}
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := Config{}.withDefaults(func() uint64 { return 0xABCDEF12 })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientID != "127.0.0.1@ABCDEF12" || cfg.RetryTimesWhenSendFailed != 2 || cfg.SendTimeout != DefaultSendTimeout ||
		cfg.ProducerGroup != DefaultProducerGroup || cfg.CompressBodyOverBytes != 4096 {
		t.Fatalf("defaults %+v", cfg)
	}
	cfg, _ = Config{RetryTimesWhenSendFailed: -1, CompressBodyOverBytes: -1}.withDefaults(func() uint64 { return 1 })
	if cfg.RetryTimesWhenSendFailed != 0 || cfg.CompressBodyOverBytes != -1 {
		t.Fatalf("negative settings %+v", cfg)
	}
	for _, bad := range []Config{
		{ClientIP: "localhost"},
		{NamesrvAddrs: []string{"ns:9876"}},
		{ProducerGroup: "bad group"},
		{RetryTimesWhenSendFailed: 100},
		{CompressLevel: 42},
		{MaxMessageBytes: 32 << 20},
	} {
		if _, err := bad.withDefaults(func() uint64 { return 1 }); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if pidOf("0000BEEF") != int16(0xBEEF-0x10000) || pidOf("client-1") == pidOf("client-2") {
		t.Fatal("pidOf")
	}
}

func TestHeartbeatBodyIsTheGoClients(t *testing.T) {
	n := newNode(t, "c")
	var body string
	var version int64
	n.do(func() {
		c, err := New(n.env, Config{ClientIP: "10.0.0.1", InstanceName: "1234", ProducerGroup: "pg"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs, err := c.NewConsumer(ConsumerConfig{
			Group:         "cg",
			Subscriptions: []Subscription{{Topic: "TopicTest", Expression: "tagA || tagB"}},
			Handler:       func([]*MessageExt) ConsumeResult { return ConsumeSuccess },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.Start(); err != nil {
			t.Fatal(err)
		}
		body, version = string(c.heartbeatBody()), cs.subVersion
	})
	want := `{"clientID":"10.0.0.1@1234","producerDataSet":[{"groupName":"pg"}],"consumerDataSet":[{"groupName":"cg",` +
		`"consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET",` +
		`"subscriptionDataSet":[{"classFilterMode":false,"topic":"%RETRY%cg","subString":"*","tagsSet":[],"codeSet":[],"subVersion":@V@,"expressionType":"TAG"},` +
		`{"classFilterMode":false,"topic":"TopicTest","subString":"tagA || tagB","tagsSet":["tagA","tagB"],"codeSet":["3552231","3552232"],"subVersion":@V@,"expressionType":"TAG"}],` +
		`"unitMode":false}]}`
	want = strings.ReplaceAll(want, "@V@", fmt.Sprint(version))
	if body != want {
		t.Fatalf("heartbeat\n got %s\nwant %s", body, want)
	}
	if message.TagsHashCode("tagA") != 3552231 { // the protocol notes' example
		t.Fatal("hash of tagA")
	}
}

func TestConsumerConfigChecks(t *testing.T) {
	n := newNode(t, "c")
	h := func([]*MessageExt) ConsumeResult { return ConsumeSuccess }
	n.do(func() {
		c, err := New(n.env, Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, bad := range []ConsumerConfig{
			{Group: "g", Handler: h},
			{Group: "g", Subscriptions: []Subscription{{Topic: "T"}}},
			{Group: "bad group", Subscriptions: []Subscription{{Topic: "T"}}, Handler: h},
			{Group: "g", Subscriptions: []Subscription{{Topic: "T"}, {Topic: "T"}}, Handler: h},
		} {
			if _, err := c.NewConsumer(bad); err == nil {
				t.Errorf("%+v accepted", bad)
			}
		}
		cs, err := c.NewConsumer(ConsumerConfig{Group: "g", Subscriptions: []Subscription{{Topic: "T"}}, Handler: h})
		if err != nil || cs.Start() != nil {
			t.Fatal(err)
		}
		if _, err := c.NewConsumer(ConsumerConfig{Group: "g", Subscriptions: []Subscription{{Topic: "T"}}, Handler: h}); err == nil {
			t.Error("a second consumer of one group on one client")
		}
	})
}

func TestCallbacksNeverRunInsideTheCall(t *testing.T) {
	n := newNode(t, "c")
	var c *Client
	n.do(func() {
		var err error
		if c, err = New(n.env, Config{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { n.loop.Do(c.Close) })
	q := MessageQueue{Topic: "T", BrokerName: "nowhere", QueueID: 0}
	calls := map[string]func(done func()){
		"Send":                 func(done func()) { c.Send(msg("T", "x"), nil, func(SendResult) { done() }) },
		"SendBatch":            func(done func()) { c.SendBatch(nil, nil, func(SendResult) { done() }) },
		"SendOneway":           func(done func()) { c.SendOneway(msg("T", ""), nil, func(string, error) { done() }) },
		"Pull":                 func(done func()) { c.Pull(PullRequest{Queue: q}, func(PullResult) { done() }) },
		"QueryConsumerOffset":  func(done func()) { c.QueryConsumerOffset("g", q, func(int64, error) { done() }) },
		"UpdateConsumerOffset": func(done func()) { c.UpdateConsumerOffset("g", q, 1, func(error) { done() }) },
		"GetMaxOffset":         func(done func()) { c.GetMaxOffset(q, func(int64, error) { done() }) },
		"Route":                func(done func()) { c.Route("T", func(Route, error) { done() }) },
		"PublishQueues":        func(done func()) { c.PublishQueues("T", func([]MessageQueue, error) { done() }) },
		"CreateTopic":          func(done func()) { c.CreateTopic("127.0.0.1:1", "bad topic", 1, 6, func(error) { done() }) },
		"Heartbeat":            func(done func()) { c.Heartbeat(refusedAddr(t), func(error) { done() }) },
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range calls {
			if !yield(k) {
				return
			}
		}
	}) {
		ch := make(chan bool, 1)
		n.loop.Post(func() {
			returned := false
			calls[name](func() { ch <- returned })
			returned = true
		})
		if !<-ch {
			t.Errorf("%s ran its callback inside the call", name)
		}
	}
}

func TestParseMQTable(t *testing.T) {
	body := []byte(`{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"maxOffset":5},` +
		` {"brokerName":"b","queueId":0,"topic":"T"} : {"maxOffset":{"nested":[1,2]}}}}`)
	got, err := ParseMQTable(body, "offsetTable")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[MessageQueue{"T", "b", 1}]) != `{"maxOffset":5}` || string(got[MessageQueue{"T", "b", 0}]) != `{"maxOffset":{"nested":[1,2]}}` {
		t.Fatalf("parsed %q", got)
	}
	if got, err := ParseMQTable([]byte(`{"offsetTable":{}}`), "offsetTable"); err != nil || len(got) != 0 {
		t.Fatalf("empty table: %v %v", got, err)
	}
	for _, bad := range []string{`{}`, `{"offsetTable":[]}`, `{"offsetTable":{{"queueId":"x"}:1}}`,
		`{"offsetTable":{{"queueId":1} 1}}`, `{"offsetTable":{{"queueId":1}:1`, `{"offsetTable":{{"queueId":1}:1;}`} {
		if _, err := ParseMQTable([]byte(bad), "offsetTable"); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}
