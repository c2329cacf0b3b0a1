package broker

import (
	"fmt"
	"slices"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/remoting"
	"github.com/thrustmq/thrust/broker/store"
)

// BugPullSkipsOffset is a planted bug, inert outside the simulator: a pull
// from offset n > 0 is served from n+1.
const BugPullSkipsOffset = "bug/pull-skips-offset"

// PullSysFlag bits.
const (
	pullCommitOffset = 1 << 0
	pullSuspend      = 1 << 1
	pullSubscription = 1 << 2
)

// pullHeader is PullMessageRequestHeader.
type pullHeader struct {
	group          string
	topic          string
	queueID        int32
	queueOffset    int64
	maxMsgNums     int32
	sysFlag        int32
	commitOffset   int64
	suspendMillis  int64
	subscription   string
	subVersion     int64
	expressionType string
}

func parsePullHeader(f remoting.Fields) (h pullHeader, err error) {
	r := fieldReader{f: f}
	h.group = r.str("consumerGroup")
	h.topic = r.str("topic")
	h.queueID = r.i32("queueId")
	h.queueOffset = r.i64("queueOffset")
	h.maxMsgNums = r.i32("maxMsgNums")
	h.sysFlag = r.i32("sysFlag")
	h.commitOffset = r.i64("commitOffset")
	h.suspendMillis = r.i64("suspendTimeoutMillis")
	h.subVersion = r.i64("subVersion")
	h.subscription = r.optStr("subscription")
	h.expressionType = r.optStr("expressionType")
	return h, r.err
}

func (b *Broker) handlePull(ch *remoting.Channel, req *remoting.Command) {
	b.stats.pullRequests++
	h, err := parsePullHeader(req.ExtFields)
	if err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	b.processPull(ch, req, &h, true)
}

// processPull serves a pull. On the first evaluation (allowSuspend) it may
// store the consumer's commit offset and park the request until messages
// arrive; a re-evaluation after parking does neither.
func (b *Broker) processPull(ch *remoting.Channel, req *remoting.Command, h *pullHeader, allowSuspend bool) {
	if !isReadable(b.cfg.BrokerPermission) {
		respondError(ch, req, remoting.NoPermission, fmt.Sprintf("the broker[%s] pulling message is forbidden", b.cfg.BrokerAddr()))
		return
	}
	gc := b.groups.find(h.group)
	if gc == nil {
		respondError(ch, req, remoting.SubscriptionGroupNotExist, fmt.Sprintf("subscription group [%s] does not exist", h.group))
		return
	}
	if !gc.ConsumeEnable {
		respondError(ch, req, remoting.NoPermission, fmt.Sprintf("subscription group no permission, %s", h.group))
		return
	}
	tc := b.topics.get(h.topic)
	if tc == nil {
		respondError(ch, req, remoting.TopicNotExist, fmt.Sprintf("topic[%s] not exist, apply first please!", h.topic))
		return
	}
	if !isReadable(tc.Perm) {
		respondError(ch, req, remoting.NoPermission, fmt.Sprintf("the topic[%s] pulling message is forbidden", h.topic))
		return
	}
	if h.queueID < 0 || int(h.queueID) >= tc.ReadQueueNums {
		respondError(ch, req, remoting.InvalidParameter, fmt.Sprintf("queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[%s]",
			h.queueID, h.topic, tc.ReadQueueNums, ch.RemoteAddr()))
		return
	}

	var sub *subscription
	if h.sysFlag&pullSubscription != 0 {
		if h.expressionType != "" && h.expressionType != expressionTag {
			respondError(ch, req, remoting.SystemError, "The broker does not support consumer to filter message by SQL92")
			return
		}
		sub = newTagSubscription(h.topic, h.subscription, h.subVersion)
	} else {
		info, s := b.clients.subscriptionOf(h.group, h.topic)
		switch {
		case info == nil:
			respondError(ch, req, remoting.SubscriptionNotExist, fmt.Sprintf("the consumer's group info not exist, group: %s", h.group))
			return
		case info.messageModel == messageModelBroadcasting && !gc.ConsumeBroadcastEnable:
			respondError(ch, req, remoting.NoPermission, fmt.Sprintf("the consumer group[%s] can not consume by broadcast way", h.group))
			return
		case s == nil:
			respondError(ch, req, remoting.SubscriptionNotExist, fmt.Sprintf("the consumer's subscription not exist, group: %s topic: %s", h.group, h.topic))
			return
		case s.subVersion < h.subVersion:
			respondError(ch, req, remoting.SubscriptionNotLatest, "the consumer's subscription not latest")
			return
		case s.exprType != expressionTag:
			respondError(ch, req, remoting.SystemError, "The broker does not support consumer to filter message by SQL92")
			return
		}
		sub = s
	}

	if next, stale := b.staleOwner(h); stale {
		// A push consumer of a clustering group asked for messages its
		// group has already consumed and committed: it is a member that
		// kept a queue through a rebalance it missed (a broker restart
		// can make membership flap) while another member moved on.
		// Serving it would hand the group those messages again; moving
		// it to the committed offset does not. User-driven pull
		// consumers (which seek at will) and broadcasting groups (whose
		// offsets are their own) are not held to this.
		resp := remoting.NewResponse(req, remoting.PullOffsetMoved, "OFFSET_BELOW_GROUP_COMMIT")
		resp.ExtFields = remoting.Fields{
			remoting.IntField("maxOffset", b.store.MaxOffsetInQueue(h.topic, h.queueID)),
			remoting.IntField("minOffset", b.store.MinOffsetInQueue(h.topic, h.queueID)),
			remoting.IntField("nextBeginOffset", next),
			remoting.IntField("suggestWhichBrokerId", 0),
		}
		ch.Respond(req, resp)
		return
	}
	from := h.queueOffset
	if from > 0 && b.env.Faults.Fire(BugPullSkipsOffset) {
		from++ // the planted bug: serve from one past the requested offset
	}
	res := b.store.GetMessage(h.topic, h.queueID, from, int(max(h.maxMsgNums, 1)), sub)
	code, remark := pullResponseCode(res.Status, h.queueOffset)
	if allowSuspend && h.sysFlag&pullCommitOffset != 0 && b.cfg.BrokerID == 0 {
		b.offsets.commit(h.group, h.topic, h.queueID, b.forward(h.group, h.topic, h.queueID, h.commitOffset))
	}
	if code == remoting.PullNotFound && allowSuspend && h.sysFlag&pullSuspend != 0 {
		hold := time.Duration(h.suspendMillis) * time.Millisecond
		if !b.cfg.LongPollingEnable {
			hold = b.cfg.ShortPollingTime
		}
		b.holds.suspend(ch, req, h, sub, min(max(hold, 0), b.cfg.MaxHoldTime))
		return
	}
	resp := remoting.NewResponse(req, code, remark)
	resp.ExtFields = remoting.Fields{
		remoting.IntField("maxOffset", res.MaxOffset),
		remoting.IntField("minOffset", res.MinOffset),
		remoting.IntField("nextBeginOffset", res.NextBeginOffset),
		remoting.IntField("suggestWhichBrokerId", 0),
	}
	if code != remoting.Success {
		ch.Respond(req, resp)
		return
	}
	segs := make([]remoting.BodySegment, len(res.Ranges))
	for i, r := range res.Ranges {
		segs[i] = remoting.BodySegment{File: r.File, Off: r.Off, N: r.N, View: r.View}
	}
	if err := ch.RespondWithBody(req, resp, segs); err != nil {
		b.log.Warn("broker: pull response not sent", "remote", ch.RemoteAddr(), "err", err)
	}
}

// pullResponseCode maps a store status to RocketMQ's pull response code
// (PullMessageProcessor on a master).
func pullResponseCode(st store.GetStatus, requested int64) (remoting.ResponseCode, string) {
	switch st {
	case store.Found:
		return remoting.Success, st.String()
	case store.NoMatchedMessage, store.MessageWasRemoving:
		return remoting.PullRetryImmediately, st.String()
	case store.NoMatchedLogicQueue, store.NoMessageInQueue:
		if requested != 0 {
			return remoting.PullOffsetMoved, st.String()
		}
		return remoting.PullNotFound, st.String()
	case store.OffsetFoundNull, store.OffsetOverflowOne:
		return remoting.PullNotFound, st.String()
	case store.OffsetOverflowBadly, store.OffsetTooSmall:
		return remoting.PullOffsetMoved, st.String()
	}
	return remoting.SystemError, st.String()
}

// holdService parks pulls that found nothing (RocketMQ's
// PullRequestHoldService). Each parked pull has its own timer, so it is
// answered exactly when its hold ends (Java's 5 s scan can answer 5 s late,
// near the Go client's 30 s give-up), and it is re-evaluated at once when a
// matching message arrives in its queue.
type holdService struct {
	b    *Broker
	held map[heldKey][]*heldPull
}

type heldKey struct {
	topic   string
	queueID int32
}

type heldPull struct {
	ch    *remoting.Channel
	req   *remoting.Command
	h     *pullHeader
	sub   *subscription
	timer host.Timer
	done  bool
	// shortened: a filtered-out arrival cut the hold short already.
	shortened bool
}

// filteredWake is how soon a held pull is answered after a message it
// filters out arrives, so that the consumer moves past it (RocketMQ's hold
// service rechecks every 5 s).
const filteredWake = time.Second

func newHoldService(b *Broker) *holdService {
	return &holdService{b: b, held: map[heldKey][]*heldPull{}}
}

func (hs *holdService) suspend(ch *remoting.Channel, req *remoting.Command, h *pullHeader, sub *subscription, hold time.Duration) {
	hs.b.stats.pullHeld++
	hp := &heldPull{ch: ch, req: req, h: h, sub: sub}
	key := heldKey{h.topic, h.queueID}
	hs.held[key] = append(hs.held[key], hp)
	hp.timer = hs.b.env.Clock.AfterFunc(hold, func() { hs.wake(key, hp) })
}

// arrived is the store's arrival listener: a message at queueOffset became
// visible in (topic, queueID).
func (hs *holdService) arrived(topic string, queueID int32, queueOffset, tagsCode int64) {
	key := heldKey{topic, queueID}
	list := hs.held[key]
	if len(list) == 0 {
		return
	}
	var wake []*heldPull
	for _, hp := range list {
		if queueOffset < hp.h.queueOffset {
			continue
		}
		if hp.sub.MatchTagsCode(tagsCode) {
			wake = append(wake, hp)
			continue
		}
		// A message the pull filters out: nothing to hand over, but the
		// consumer's position should still move past it soon, or its lag
		// stands until the hold expires. Answer within filteredWake.
		if !hp.shortened {
			hp.shortened = true
			hp.timer.Stop()
			hp.timer = hs.b.env.Clock.AfterFunc(filteredWake, func() { hs.wake(key, hp) })
		}
	}
	for _, hp := range wake {
		hs.wake(key, hp)
	}
}

func (hs *holdService) wake(key heldKey, hp *heldPull) {
	if hp.done {
		return
	}
	hp.done = true
	hp.timer.Stop()
	hs.remove(key, hp)
	if hp.ch.Closed() {
		return
	}
	hs.b.processPull(hp.ch, hp.req, hp.h, false)
}

func (hs *holdService) remove(key heldKey, hp *heldPull) {
	list := slices.DeleteFunc(hs.held[key], func(x *heldPull) bool { return x == hp })
	if len(list) == 0 {
		delete(hs.held, key)
	} else {
		hs.held[key] = list
	}
}

// dropChannel forgets the parked pulls of a closed channel.
func (hs *holdService) dropChannel(ch *remoting.Channel) {
	var drop []heldKey
	var hps []*heldPull
	for key, list := range hs.held {
		for _, hp := range list {
			if hp.ch == ch {
				drop = append(drop, key)
				hps = append(hps, hp)
			}
		}
	}
	for i, hp := range hps {
		hp.done = true
		hp.timer.Stop()
		hs.remove(drop[i], hp)
	}
}

// stop answers every parked pull now, as on shutdown: the client then
// pulls again from the same offset, elsewhere or later.
func (hs *holdService) stop() {
	var all []*heldPull
	for _, list := range hs.held {
		all = append(all, list...)
	}
	slices.SortFunc(all, func(a, b *heldPull) int {
		if a.ch.ID() != b.ch.ID() {
			return int(a.ch.ID() - b.ch.ID())
		}
		return int(a.req.Opaque - b.req.Opaque)
	})
	hs.held = map[heldKey][]*heldPull{}
	for _, hp := range all {
		hp.done = true
		hp.timer.Stop()
		if !hp.ch.Closed() {
			resp := remoting.NewResponse(hp.req, remoting.PullNotFound, "broker shutting down")
			resp.ExtFields = remoting.Fields{
				remoting.IntField("maxOffset", hp.h.queueOffset),
				remoting.IntField("minOffset", 0),
				remoting.IntField("nextBeginOffset", hp.h.queueOffset),
				remoting.IntField("suggestWhichBrokerId", 0),
			}
			hp.ch.Respond(hp.req, resp)
		}
	}
}

// HeldPulls is the number of pulls parked now.
func (b *Broker) HeldPulls() int {
	n := 0
	for _, list := range b.holds.held {
		n += len(list)
	}
	return n
}

// staleOwner reports whether a pull comes from a push consumer of a
// clustering group for an offset below the group's committed one, and if
// so where the group is.
func (b *Broker) staleOwner(h *pullHeader) (int64, bool) {
	info := b.clients.consumers[h.group]
	if info == nil || info.messageModel != messageModelClustering || info.consumeType != consumePassively {
		return 0, false
	}
	committed, ok := b.offsets.query(h.group, h.topic, h.queueID)
	if !ok || h.queueOffset >= committed || committed > b.store.MaxOffsetInQueue(h.topic, h.queueID) {
		return 0, false
	}
	return committed, true
}
