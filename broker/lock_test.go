package broker

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/remoting"
)

func TestRebalanceLocks(t *testing.T) {
	q := func(id int32) mqJSON { return mqJSON{Topic: "T", BrokerName: "b", QueueID: id} }
	l := rebalanceLocks{maxLiveTime: 60 * time.Second}
	got, refused := l.lock(0, "g", "c1", []mqJSON{q(0), q(1)})
	if !slices.Equal(got, []mqJSON{q(0), q(1)}) || len(refused) != 0 {
		t.Fatalf("c1 on free queues: got %v, refused %v", got, refused)
	}
	// c2 gets only the free queue; another group is independent.
	if got, _ := l.lock(time.Second, "g", "c2", []mqJSON{q(1), q(2)}); !slices.Equal(got, []mqJSON{q(2)}) {
		t.Fatalf("c2 while c1 holds queue 1: got %v", got)
	}
	if got, _ := l.lock(time.Second, "other", "c2", []mqJSON{q(1)}); !slices.Equal(got, []mqJSON{q(1)}) {
		t.Fatalf("another group: got %v", got)
	}
	// c1 renews queue 0 late in its life; queue 1 it lets lapse.
	if got, _ := l.lock(50*time.Second, "g", "c1", []mqJSON{q(0)}); !slices.Equal(got, []mqJSON{q(0)}) {
		t.Fatalf("c1 renewing: got %v", got)
	}
	at := 60*time.Second + time.Millisecond
	if got, _ := l.lock(at, "g", "c2", []mqJSON{q(0), q(1)}); !slices.Equal(got, []mqJSON{q(1)}) {
		t.Fatalf("c2 after queue 1's lock expired (queue 0 renewed): got %v", got)
	}
	// Unlock frees only the caller's own locks.
	l.unlock("g", "c1", []mqJSON{q(0), q(1)})
	if got, _ := l.lock(at, "g", "c3", []mqJSON{q(0), q(1)}); !slices.Equal(got, []mqJSON{q(0)}) {
		t.Fatalf("c3 after c1 unlocked 0 and 1 (c2 holds 1): got %v", got)
	}
}

func TestLockBatchMQRequests(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.dial()
	mqs := []mqJSON{{Topic: "T", BrokerName: "broker-a", QueueID: 0}, {Topic: "T", BrokerName: "broker-a", QueueID: 1}}
	req := func(code remoting.RequestCode, client string, mqs []mqJSON) *remoting.Command {
		r := remoting.NewRequest(code)
		r.Body, _ = json.Marshal(lockBatchBody{ConsumerGroup: "og", ClientID: client, MQSet: mqs})
		return r
	}
	locked := func(resp *remoting.Command) []mqJSON {
		t.Helper()
		var body struct {
			LockOKMQSet []mqJSON `json:"lockOKMQSet"`
		}
		if resp.Code != 0 || json.Unmarshal(resp.Body, &body) != nil {
			t.Fatalf("LOCK_BATCH_MQ answered %d %q, body %q", resp.Code, resp.Remark, resp.Body)
		}
		return body.LockOKMQSet
	}
	if got := locked(c.call(req(remoting.LockBatchMQ, "c1", mqs), c.timeout)); !slices.Equal(got, mqs) {
		t.Fatalf("c1 locked %v, want %v", got, mqs)
	}
	if got := locked(c.call(req(remoting.LockBatchMQ, "c2", mqs), c.timeout)); len(got) != 0 {
		t.Fatalf("c2 locked %v while c1 holds them", got)
	}
	if r := c.call(req(remoting.UnlockBatchMQ, "c1", mqs[:1]), c.timeout); r.Code != 0 {
		t.Fatalf("UNLOCK_BATCH_MQ: %d %s", r.Code, r.Remark)
	}
	if got := locked(c.call(req(remoting.LockBatchMQ, "c2", mqs), c.timeout)); !slices.Equal(got, mqs[:1]) {
		t.Fatalf("c2 locked %v after c1 unlocked queue 0", got)
	}
	bad := remoting.NewRequest(remoting.LockBatchMQ)
	bad.Body = []byte("{not json")
	if r := c.call(bad, c.timeout); r.Code != int32(remoting.SystemError) {
		t.Fatalf("a bad body: %d %s", r.Code, r.Remark)
	}
}
