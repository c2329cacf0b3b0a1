package broker

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
	"github.com/thrustmq/thrust/broker/store"
)

// registerProcessors maps request codes to handlers.
func (b *Broker) registerProcessors(d *remoting.Dispatcher) {
	d.Handle(remoting.SendMessage, b.handleSend)
	d.Handle(remoting.SendMessageV2, b.handleSend)
	d.Handle(remoting.SendBatchMessage, b.handleSend)
	d.Handle(remoting.PullMessage, b.handlePull)
	d.Handle(remoting.HeartBeat, b.handleHeartbeat)
	d.Handle(remoting.UnregisterClient, b.handleUnregisterClient)
	d.Handle(remoting.GetConsumerListByGroup, b.handleConsumerList)
	d.Handle(remoting.QueryConsumerOffset, b.handleQueryConsumerOffset)
	d.Handle(remoting.UpdateConsumerOffset, b.handleUpdateConsumerOffset)
	d.Handle(remoting.GetMaxOffset, b.handleGetMaxOffset)
	d.Handle(remoting.GetMinOffset, b.handleGetMinOffset)
	d.Handle(remoting.SearchOffsetByTimestamp, b.handleSearchOffset)
	d.Handle(remoting.CheckClientConfig, b.handleCheckClientConfig)
	d.Handle(remoting.UpdateAndCreateTopic, b.handleCreateTopic)
	d.Handle(remoting.DeleteTopicInBroker, b.handleDeleteTopic)
	d.Handle(remoting.GetAllTopicConfig, b.handleAllTopicConfig)
	d.Handle(remoting.GetAllSubscriptionGroupConfig, b.handleAllGroups)
	d.Handle(remoting.GetAllConsumerOffset, b.handleAllConsumerOffsets)
	d.Handle(remoting.GetBrokerRuntimeInfo, b.handleRuntimeInfo)
	d.Handle(remoting.ViewMessageByID, b.handleViewMessage)
	d.Handle(remoting.ConsumerSendMsgBack, b.handleSendMsgBack)
	d.Handle(remoting.LockBatchMQ, b.handleLockBatchMQ)
	d.Handle(remoting.UnlockBatchMQ, b.handleUnlockBatchMQ)
	d.Handle(remoting.EndTransaction, b.handleEndTransaction)
	d.Handle(remoting.GetTopicStatsInfo, b.handleTopicStats)
	d.Handle(remoting.GetConsumeStats, b.handleConsumeStats)
	d.Handle(remoting.UpdateAndCreateSubscriptionGroup, b.handleUpdateGroup)
	d.Handle(remoting.DeleteSubscriptionGroup, b.handleDeleteGroup)
	d.Handle(remoting.GetBrokerConfig, b.handleGetBrokerConfig)
}

func (b *Broker) handleHeartbeat(ch *remoting.Channel, req *remoting.Command) {
	var hb heartbeatData
	if err := json.Unmarshal(req.Body, &hb); err != nil {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("heartbeat body is not valid: %v", err))
		return
	}
	st := stateOf(ch)
	if st == nil {
		st = &clientState{}
		ch.Attachment = st
	}
	st.clientID = hb.ClientID
	st.language = req.Language
	st.version = req.Version
	st.lastHeartbeat = b.env.Clock.Mono()

	for _, cd := range hb.ConsumerDataSet {
		gc := b.groups.find(cd.GroupName)
		if gc == nil {
			b.log.Warn("broker: heartbeat from a consumer of an unknown group", "group", cd.GroupName, "client", hb.ClientID)
			continue
		}
		// Every group gets its retry topic, with a route, at its first
		// heartbeat: the Go client rebalances %RETRY%<group> only once the
		// name server knows it.
		b.topics.ensureTopic(message.RetryTopic(cd.GroupName), max(gc.RetryQueueNums, 1), permRead|permWrite)
		subs := make([]*subscription, 0, len(cd.SubscriptionDataSet))
		for _, sd := range cd.SubscriptionDataSet {
			s := newTagSubscription(sd.Topic, sd.SubString, sd.SubVersion)
			if sd.ExpressionType != "" && sd.ExpressionType != expressionTag {
				s = &subscription{topic: sd.Topic, expr: sd.SubString, exprType: sd.ExpressionType, subVersion: sd.SubVersion}
			}
			subs = append(subs, s)
		}
		if b.clients.registerConsumer(ch, hb.ClientID, cd, subs) {
			b.clients.notifyIDsChanged(b.clients.consumers[cd.GroupName])
		}
	}
	for _, pd := range hb.ProducerDataSet {
		b.clients.registerProducer(ch, hb.ClientID, pd.GroupName)
	}
	ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
}

func (b *Broker) handleUnregisterClient(ch *remoting.Channel, req *remoting.Command) {
	b.clients.unregister(ch, req.ExtFields.Str("consumerGroup"), req.ExtFields.Str("producerGroup"), false)
	ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
}

func (b *Broker) handleConsumerList(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	group := r.str("consumerGroup")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	ids := b.clients.consumerIDs(group)
	if len(ids) == 0 {
		respondError(ch, req, remoting.SystemError, "no consumer for this group, "+group)
		return
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body, _ = json.Marshal(map[string][]string{"consumerIdList": ids})
	ch.Respond(req, resp)
}

func (b *Broker) handleQueryConsumerOffset(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	group, topic, qid := r.str("consumerGroup"), r.str("topic"), r.i32("queueId")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	if off, ok := b.offsets.query(group, topic, qid); ok {
		resp.ExtFields = remoting.Fields{remoting.IntField("offset", off)}
		ch.Respond(req, resp)
		return
	}
	// No committed offset. RocketMQ answers 0, rather than "not found",
	// when the queue still holds its first message: a new group then reads
	// a young topic from the start even with CONSUME_FROM_LAST_OFFSET,
	// which users rely on. Otherwise the client applies its own rule.
	zeroIfNotFound := true
	if v, ok := req.ExtFields.Get("setZeroIfNotFound"); ok && v == "false" {
		zeroIfNotFound = false
	}
	if zeroIfNotFound && b.store.MinOffsetInQueue(topic, qid) == 0 && b.store.MaxOffsetInQueue(topic, qid) > 0 {
		resp.ExtFields = remoting.Fields{remoting.IntField("offset", 0)}
		ch.Respond(req, resp)
		return
	}
	respondError(ch, req, remoting.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
}

func (b *Broker) handleUpdateConsumerOffset(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	group, topic, qid, off := r.str("consumerGroup"), r.str("topic"), r.i32("queueId"), r.i64("commitOffset")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	if b.groups.find(group) == nil {
		respondError(ch, req, remoting.SubscriptionGroupNotExist, fmt.Sprintf("subscription group not exist, %s", group))
		return
	}
	if b.topics.get(topic) == nil {
		respondError(ch, req, remoting.TopicNotExist, fmt.Sprintf("topic[%s] not exist", topic))
		return
	}
	effective := b.forward(group, topic, qid, off)
	b.offsets.commitDurably(group, topic, qid, effective, func(err error) {
		if err != nil {
			respondError(ch, req, remoting.SystemError, fmt.Sprintf("offset not persisted: %v", err))
			return
		}
		// RocketMQ's answer has no fields; Thrust says where the group is,
		// which differs when a stale member's lower commit was not taken.
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.ExtFields = remoting.Fields{remoting.IntField("offset", effective)}
		ch.Respond(req, resp)
	})
}

func (b *Broker) respondOffset(ch *remoting.Channel, req *remoting.Command, f func(topic string, qid int32) int64) {
	r := fieldReader{f: req.ExtFields}
	topic, qid := r.str("topic"), r.i32("queueId")
	if r.err != nil {
		// The Go client reads "offset" without checking the code: always
		// include it, so that an error never reads as offset 0 by accident
		// of a missing field... and never as a real one either.
		resp := remoting.NewResponse(req, remoting.SystemError, r.err.Error())
		resp.ExtFields = remoting.Fields{remoting.IntField("offset", -1)}
		ch.Respond(req, resp)
		return
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields = remoting.Fields{remoting.IntField("offset", f(topic, qid))}
	ch.Respond(req, resp)
}

func (b *Broker) handleGetMaxOffset(ch *remoting.Channel, req *remoting.Command) {
	b.respondOffset(ch, req, b.store.MaxOffsetInQueue)
}

func (b *Broker) handleGetMinOffset(ch *remoting.Channel, req *remoting.Command) {
	b.respondOffset(ch, req, b.store.MinOffsetInQueue)
}

func (b *Broker) handleSearchOffset(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	ts := r.i64("timestamp")
	boundary := store.BoundaryLower
	if req.ExtFields.Str("boundaryType") == "upper" {
		boundary = store.BoundaryUpper
	}
	if r.err != nil {
		resp := remoting.NewResponse(req, remoting.SystemError, r.err.Error())
		resp.ExtFields = remoting.Fields{remoting.IntField("offset", -1)}
		ch.Respond(req, resp)
		return
	}
	b.respondOffset(ch, req, func(topic string, qid int32) int64 {
		return b.store.OffsetByTimestamp(topic, qid, ts, boundary)
	})
}

func (b *Broker) handleCheckClientConfig(ch *remoting.Channel, req *remoting.Command) {
	var body struct {
		Group            string           `json:"group"`
		SubscriptionData subscriptionData `json:"subscriptionData"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	if t := body.SubscriptionData.ExpressionType; t != "" && t != expressionTag {
		respondError(ch, req, remoting.SubscriptionParseFailed, "The broker does not support consumer to filter message by "+t)
		return
	}
	ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
}

func (b *Broker) handleCreateTopic(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	topic := r.str("topic")
	read, write, perm := r.i32("readQueueNums"), r.i32("writeQueueNums"), r.i32("perm")
	sysFlag := r.optI32("topicSysFlag")
	order := r.optBool("order")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	if err := message.ValidateTopic(topic); err != nil {
		respondError(ch, req, remoting.InvalidParameter, err.Error())
		return
	}
	if message.IsSystemTopic(topic) || topic == b.cfg.BrokerClusterName || topic == b.cfg.BrokerName {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("The topic[%s] is conflict with system topic.", topic))
		return
	}
	if read <= 0 || write <= 0 || read > 1024 || write > 1024 {
		respondError(ch, req, remoting.InvalidParameter, fmt.Sprintf("queue numbers read=%d write=%d must be in 1..1024", read, write))
		return
	}
	tc := newTopicConfig(topic, 0, int(perm))
	tc.ReadQueueNums, tc.WriteQueueNums = int(read), int(write)
	tc.TopicSysFlag = int(sysFlag)
	tc.Order = order
	if ft := req.ExtFields.Str("topicFilterType"); ft != "" {
		tc.TopicFilterType = ft
	}
	b.topics.put(tc)
	// Answered once durable: a created topic must survive a crash.
	b.topics.file.persistThen(func(err error) {
		if err != nil {
			respondError(ch, req, remoting.SystemError, fmt.Sprintf("topic configuration not persisted: %v", err))
			return
		}
		ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
	})
}

func (b *Broker) handleDeleteTopic(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	topic := r.str("topic")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	if message.IsSystemTopic(topic) {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("The topic[%s] is conflict with system topic.", topic))
		return
	}
	b.topics.delete(topic)
	b.offsets.removeTopic(topic)
	if err := b.store.DeleteTopic(topic); err != nil {
		b.log.Error("broker: delete topic data", "topic", topic, "err", err)
	}
	ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
}

func (b *Broker) respondJSON(ch *remoting.Channel, req *remoting.Command, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	ch.Respond(req, resp)
}

func (b *Broker) handleAllTopicConfig(ch *remoting.Channel, req *remoting.Command) {
	b.respondJSON(ch, req, b.topics.wrapper())
}

func (b *Broker) handleAllGroups(ch *remoting.Channel, req *remoting.Command) {
	b.respondJSON(ch, req, b.groups.snapshot())
}

func (b *Broker) handleAllConsumerOffsets(ch *remoting.Channel, req *remoting.Command) {
	b.respondJSON(ch, req, offsetsFile{OffsetTable: b.offsets.table})
}

func (b *Broker) handleRuntimeInfo(ch *remoting.Channel, req *remoting.Command) {
	b.respondJSON(ch, req, map[string]any{"table": b.runtimeInfo()})
}

func (b *Broker) handleViewMessage(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	off := r.i64("offset")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	rec, err := b.store.LookMessageByOffset(off)
	if err != nil {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("can not find message by the offset, %d: %v", off, err))
		return
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = rec
	ch.Respond(req, resp)
}

var _ = slices.Sort[[]string]
