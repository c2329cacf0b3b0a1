package broker

import (
	"encoding/json"
	"strings"
	"testing"

	thrust "github.com/thrustmq/thrust/broker/client"
	"github.com/thrustmq/thrust/broker/remoting"
)

func TestAdminRequests(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.dial()
	for i := range 3 {
		if r := c.call(sendReq("T", 0, "m", ""), c.timeout); r.Code != 0 {
			t.Fatalf("send %d: %d %s", i, r.Code, r.Remark)
		}
	}
	upd := remoting.NewRequest(remoting.UpdateConsumerOffset, remoting.StrField("consumerGroup", "cg"),
		remoting.StrField("topic", "T"), remoting.StrField("queueId", "0"), remoting.StrField("commitOffset", "2"))
	if r := c.call(upd, c.timeout); r.Code != 0 {
		t.Fatalf("update offset: %d %s", r.Code, r.Remark)
	}
	q0 := thrust.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}

	// topicStatus
	r := c.call(remoting.NewRequest(remoting.GetTopicStatsInfo, remoting.StrField("topic", "T")), c.timeout)
	table, err := thrust.ParseMQTable(r.Body, "offsetTable")
	if r.Code != 0 || err != nil || len(table) != 4 {
		t.Fatalf("topic stats: %d %s, %v, %d queues\n%s", r.Code, r.Remark, err, len(table), r.Body)
	}
	var to struct{ MinOffset, MaxOffset, LastUpdateTimestamp int64 }
	if err := json.Unmarshal(table[q0], &to); err != nil || to.MinOffset != 0 || to.MaxOffset != 3 || to.LastUpdateTimestamp == 0 {
		t.Fatalf("queue 0 stats %s: %+v %v", table[q0], to, err)
	}
	if r := c.call(remoting.NewRequest(remoting.GetTopicStatsInfo, remoting.StrField("topic", "Nope")), c.timeout); r.Code != int32(remoting.TopicNotExist) {
		t.Fatalf("stats of a missing topic: %d %s", r.Code, r.Remark)
	}

	// consumerProgress, with and without the topic named
	for _, fields := range [][]remoting.Field{
		{remoting.StrField("consumerGroup", "cg"), remoting.StrField("topic", "T")},
		{remoting.StrField("consumerGroup", "cg")},
	} {
		r := c.call(remoting.NewRequest(remoting.GetConsumeStats, fields...), c.timeout)
		table, err := thrust.ParseMQTable(r.Body, "offsetTable")
		if r.Code != 0 || err != nil {
			t.Fatalf("consume stats: %d %s %v", r.Code, r.Remark, err)
		}
		var cs struct{ BrokerOffset, ConsumerOffset, LastTimestamp int64 }
		if err := json.Unmarshal(table[q0], &cs); err != nil || cs.BrokerOffset != 3 || cs.ConsumerOffset != 2 || cs.LastTimestamp == 0 {
			t.Fatalf("queue 0 progress %s: %+v %v", table[q0], cs, err)
		}
	}

	// updateSubGroup, deleteSubGroup
	body, _ := json.Marshal(map[string]any{"groupName": "admin-g", "retryMaxTimes": 3, "retryQueueNums": 1, "consumeEnable": true})
	ug := remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup)
	ug.Body = body
	if r := c.call(ug, c.timeout); r.Code != 0 {
		t.Fatalf("update group: %d %s", r.Code, r.Remark)
	}
	groups := func() map[string]*SubscriptionGroupConfig {
		var f groupsFile
		r := c.call(remoting.NewRequest(remoting.GetAllSubscriptionGroupConfig), c.timeout)
		if err := json.Unmarshal(r.Body, &f); err != nil {
			t.Fatal(err)
		}
		return f.SubscriptionGroupTable
	}
	if g := groups()["admin-g"]; g == nil || g.RetryMaxTimes != 3 {
		t.Fatalf("group after update: %+v", g)
	}
	bad := remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup)
	bad.Body = []byte(`{"groupName":"bad name!"}`)
	if r := c.call(bad, c.timeout); r.Code == 0 {
		t.Fatal("a group with an invalid name was created")
	}
	del := remoting.NewRequest(remoting.DeleteSubscriptionGroup, remoting.StrField("groupName", "admin-g"))
	if r := c.call(del, c.timeout); r.Code != 0 {
		t.Fatalf("delete group: %d %s", r.Code, r.Remark)
	}
	if g := groups()["admin-g"]; g != nil {
		t.Fatalf("group still there after delete: %+v", g)
	}

	// getBrokerConfig
	r = c.call(remoting.NewRequest(remoting.GetBrokerConfig), c.timeout)
	if r.Code != 0 || !strings.Contains(string(r.Body), "brokerName=broker-a\n") || r.ExtFields.Str("version") == "" {
		t.Fatalf("broker config: %d %q %v", r.Code, r.Body, r.ExtFields)
	}
}
