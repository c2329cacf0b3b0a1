package broker

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/remoting"
)

// mqJSON is a message queue as LOCK_BATCH_MQ and UNLOCK_BATCH_MQ bodies
// carry it.
type mqJSON struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

func (q mqJSON) String() string { return fmt.Sprintf("%s@%s#%d", q.Topic, q.BrokerName, q.QueueID) }

// lockBatchBody is the body of LOCK_BATCH_MQ and UNLOCK_BATCH_MQ.
type lockBatchBody struct {
	ConsumerGroup  string   `json:"consumerGroup"`
	ClientID       string   `json:"clientId"`
	OnlyThisBroker bool     `json:"onlyThisBroker"`
	MQSet          []mqJSON `json:"mqSet"`
}

type lockEntry struct {
	clientID   string
	lastUpdate time.Duration // the loop's monotonic clock
}

// rebalanceLocks is RocketMQ's RebalanceLockManager: which client of a
// group may consume each queue in order. An orderly consumer only pulls a
// queue it holds the lock of, so that two members never process one
// queue at once, even while a rebalance moves it. Locks live in memory, as
// in RocketMQ: after a broker restart every holder locks again, within a
// renewal period.
//
// A lock lasts maxLiveTime unrenewed (Config.RebalanceLockMaxLiveTime);
// an orderly consumer renews its locks every 20 s, so a lock outlives a
// holder that died without unlocking by at most that long.
type rebalanceLocks struct {
	maxLiveTime time.Duration
	byGroup     map[string]map[mqJSON]lockEntry
}

// lock grants client every queue of mqs that is free, already its own, or
// held by a lock that has expired, and returns those, in the order asked.
func (l *rebalanceLocks) lock(now time.Duration, group, client string, mqs []mqJSON) (granted []mqJSON, refused []string) {
	if l.byGroup == nil {
		l.byGroup = map[string]map[mqJSON]lockEntry{}
	}
	locks := l.byGroup[group]
	if locks == nil {
		locks = map[mqJSON]lockEntry{}
		l.byGroup[group] = locks
	}
	for _, mq := range mqs {
		e, held := locks[mq]
		if held && e.clientID != client && now-e.lastUpdate <= l.maxLiveTime {
			refused = append(refused, fmt.Sprintf("%s (held by %s)", mq, e.clientID))
			continue
		}
		locks[mq] = lockEntry{clientID: client, lastUpdate: now}
		granted = append(granted, mq)
	}
	return granted, refused
}

// unlock releases the queues of mqs that client holds; another client's
// locks are left alone.
func (l *rebalanceLocks) unlock(group, client string, mqs []mqJSON) {
	locks := l.byGroup[group]
	for _, mq := range mqs {
		if e, held := locks[mq]; held && e.clientID == client {
			delete(locks, mq)
		}
	}
	if len(locks) == 0 {
		delete(l.byGroup, group)
	}
}

func parseLockBatch(req *remoting.Command) (lockBatchBody, error) {
	var body lockBatchBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return body, fmt.Errorf("%s body is not valid: %w", remoting.RequestCode(req.Code), err)
	}
	if body.ConsumerGroup == "" || body.ClientID == "" {
		return body, fmt.Errorf("%s body lacks consumerGroup or clientId", remoting.RequestCode(req.Code))
	}
	return body, nil
}

// handleLockBatchMQ is LOCK_BATCH_MQ: an orderly consumer asks for the
// queues it was assigned; the answer lists those it got.
func (b *Broker) handleLockBatchMQ(ch *remoting.Channel, req *remoting.Command) {
	body, err := parseLockBatch(req)
	if err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	granted, refused := b.locks.lock(b.env.Clock.Mono(), body.ConsumerGroup, body.ClientID, body.MQSet)
	if len(refused) > 0 {
		slices.Sort(refused)
		b.log.Info("broker: queue locks refused: held by another member of the group",
			"group", body.ConsumerGroup, "client", body.ClientID, "queues", strings.Join(refused, ", "))
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	if granted == nil {
		granted = []mqJSON{}
	}
	resp.Body, _ = json.Marshal(struct {
		LockOKMQSet []mqJSON `json:"lockOKMQSet"`
	}{granted})
	ch.Respond(req, resp)
}

// handleUnlockBatchMQ is UNLOCK_BATCH_MQ: a consumer gives queues back
// (a rebalance took them, or it is shutting down).
func (b *Broker) handleUnlockBatchMQ(ch *remoting.Channel, req *remoting.Command) {
	body, err := parseLockBatch(req)
	if err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	b.locks.unlock(body.ConsumerGroup, body.ClientID, body.MQSet)
	ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
}
