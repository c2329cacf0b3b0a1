package broker

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
	"github.com/thrustmq/thrust/broker/store"
)

// sendHeader is SendMessageRequestHeader. SEND_MESSAGE (10) and
// SEND_REPLY_MESSAGE (324) use the long field names; SEND_MESSAGE_V2 (310)
// and SEND_BATCH_MESSAGE (320) the one-letter V2 names.
type sendHeader struct {
	producerGroup     string
	topic             string
	defaultTopic      string
	defaultQueueNums  int32
	queueID           int32
	sysFlag           int32
	bornTimestamp     int64
	flag              int32
	properties        string
	reconsumeTimes    int32
	maxReconsumeTimes int32
	hasMaxReconsume   bool
	batch             bool
}

// sendHeaderNames maps long names to V2 names.
var sendHeaderNames = [...][2]string{
	{"producerGroup", "a"}, {"topic", "b"}, {"defaultTopic", "c"}, {"defaultTopicQueueNums", "d"},
	{"queueId", "e"}, {"sysFlag", "f"}, {"bornTimestamp", "g"}, {"flag", "h"}, {"properties", "i"},
	{"reconsumeTimes", "j"}, {"unitMode", "k"}, {"maxReconsumeTimes", "l"}, {"batch", "m"},
}

func parseSendHeader(req *remoting.Command) (sendHeader, error) {
	v2 := req.Code == int32(remoting.SendMessageV2) || req.Code == int32(remoting.SendBatchMessage)
	name := func(i int) string {
		if v2 {
			return sendHeaderNames[i][1]
		}
		return sendHeaderNames[i][0]
	}
	r := fieldReader{f: req.ExtFields}
	var h sendHeader
	h.producerGroup = r.str(name(0))
	h.topic = r.str(name(1))
	h.defaultTopic = r.str(name(2))
	h.defaultQueueNums = r.i32(name(3))
	h.queueID = r.i32(name(4))
	h.sysFlag = r.i32(name(5))
	h.bornTimestamp = r.i64(name(6))
	h.flag = r.i32(name(7))
	h.properties = r.optStr(name(8))
	h.reconsumeTimes = r.optI32(name(9))
	if _, ok := req.ExtFields.Get(name(11)); ok {
		h.maxReconsumeTimes, h.hasMaxReconsume = r.optI32(name(11)), true
	}
	h.batch = r.optBool(name(12))
	return h, r.err
}

// Java's MQVersion ordinal of V3_4_9, from which brokers honour the
// header's maxReconsumeTimes.
const versionV3_4_9 = 117

func (b *Broker) handleSend(ch *remoting.Channel, req *remoting.Command) {
	b.stats.sendRequests++
	h, err := parseSendHeader(req)
	if err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	if req.Code == int32(remoting.SendBatchMessage) {
		h.batch = true
	}
	version := b.topics.version.Counter
	tc, code, remark := b.checkSend(ch, &h)
	if code != remoting.Success {
		respondError(ch, req, code, remark)
		return
	}
	if b.topics.version.Counter != version {
		// The send created a topic (or a retry or DLQ topic): store the
		// message only once the topic's configuration is durable, so that
		// an acknowledged message never outlives its topic.
		b.topics.file.persistThen(func(err error) {
			if err != nil {
				respondError(ch, req, remoting.SystemError, fmt.Sprintf("topic configuration not persisted: %v", err))
				return
			}
			b.sendChecked(ch, req, &h, tc)
		})
		return
	}
	b.sendChecked(ch, req, &h, tc)
}

// sendChecked stores a send that passed checkSend.
func (b *Broker) sendChecked(ch *remoting.Channel, req *remoting.Command, hp *sendHeader, tc *TopicConfig) {
	h := *hp
	var err error
	topic, queueID := h.topic, h.queueID
	if queueID < 0 {
		queueID = int32(b.env.Rand.IntN(max(tc.WriteQueueNums, 1)))
	}

	props := []byte(h.properties)
	if message.IsRetryTopic(topic) {
		dlq, code, remark := b.retryTopicTarget(&h, req.Version)
		if code != remoting.Success {
			respondError(ch, req, code, remark)
			return
		}
		if dlq != "" {
			topic, queueID = dlq, 0
		}
	}

	if h.batch {
		b.sendBatch(ch, req, &h, topic, queueID, props)
		return
	}
	props, err = b.stampProperties(props)
	if err != nil {
		respondError(ch, req, remoting.MessageIllegal, err.Error())
		return
	}
	if isHalfMessage(props, &h) {
		b.sendHalf(ch, req, &h, topic, queueID, props)
		return
	}
	storeTopic, storeQueue, props := b.scheduled(topic, queueID, props)
	m := store.Message{
		Topic:          storeTopic,
		QueueID:        storeQueue,
		Flag:           h.flag,
		Body:           req.Body,
		Properties:     props,
		SysFlag:        h.sysFlag,
		BornTimestamp:  h.bornTimestamp,
		BornHost:       bornHost(ch),
		ReconsumeTimes: h.reconsumeTimes,
		NoWait:         waitFalse(props),
	}
	uniq, _ := message.LookupProperty(props, message.PropertyUniqKey)
	transactionID := string(uniq)
	b.store.Put([]store.Message{m}, func(res store.PutResult) {
		b.respondPut(ch, req, res, queueID, transactionID)
	})
}

// isHalfMessage reports whether a send is the first phase of a
// transaction: TRAN_MSG=true, unless it is a delayed redelivery (as in
// RocketMQ, a retry of a consumed transactional message is an ordinary
// message).
func isHalfMessage(props []byte, h *sendHeader) bool {
	v, ok := message.LookupProperty(props, message.PropertyTransactionPrepared)
	if !ok || string(v) != "true" {
		return false
	}
	level, delayed := delayLevel(props)
	return !(h.reconsumeTimes > 0 && delayed && level > 0)
}

// sendHalf stores a half message in the half queue, with its destination
// in properties and the transaction type reset, so that it gets a unit of
// the half queue and none of its real queue. The answer carries what
// END_TRANSACTION will name: the half's offset id and queue offset, and the
// transaction id (its UNIQ_KEY).
func (b *Broker) sendHalf(ch *remoting.Channel, req *remoting.Command, h *sendHeader, topic string, queueID int32, props []byte) {
	uniq, _ := message.LookupProperty(props, message.PropertyUniqKey)
	transactionID := string(uniq)
	group, _ := message.LookupProperty(props, message.PropertyProducerGroup)
	producerGroup := string(group)
	if producerGroup == "" {
		producerGroup = h.producerGroup
		props = setProperty(props, message.PropertyProducerGroup, producerGroup)
	}
	props = setProperty(props, message.PropertyRealTopic, topic)
	props = setProperty(props, message.PropertyRealQueueID, strconv.Itoa(int(queueID)))
	if transactionID != "" {
		props = setProperty(props, message.PropertyTransactionID, transactionID)
	}
	m := store.Message{
		Topic:          message.TransHalfTopic,
		QueueID:        0,
		Flag:           h.flag,
		Body:           req.Body,
		Properties:     props,
		SysFlag:        message.WithTransactionType(h.sysFlag, message.SysFlagTransactionNot),
		BornTimestamp:  h.bornTimestamp,
		BornHost:       bornHost(ch),
		ReconsumeTimes: h.reconsumeTimes,
	}
	b.store.Put([]store.Message{m}, func(res store.PutResult) {
		if res.Status == store.PutOK || res.Status == store.FlushDiskTimeout {
			b.tx.halfStored(res.QueueOffset, res.PhysOffset, res.StoreTimestamp, producerGroup)
		}
		b.respondPut(ch, req, res, queueID, transactionID)
	})
}

// scheduled routes a message with a DELAY level (and not for a DLQ) to the
// schedule queue of its level, with its real destination in properties;
// others stay where they are.
func (b *Broker) scheduled(topic string, queueID int32, props []byte) (string, int32, []byte) {
	level, ok := delayLevel(props)
	if !ok || level <= 0 || message.IsDLQTopic(topic) {
		return topic, queueID, props
	}
	level = min(level, len(b.sched.levels))
	props = setProperty(props, message.PropertyRealTopic, topic)
	props = setProperty(props, message.PropertyRealQueueID, strconv.Itoa(int(queueID)))
	props = setProperty(props, message.PropertyDelayLevel, strconv.Itoa(level))
	return message.ScheduleTopic, int32(level - 1), props
}

// checkSend is RocketMQ's msgCheck: broker and topic permissions, the topic
// name, auto-creation, and the queue id.
func (b *Broker) checkSend(ch *remoting.Channel, h *sendHeader) (*TopicConfig, remoting.ResponseCode, string) {
	if !isWriteable(b.cfg.BrokerPermission) {
		return nil, remoting.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden", b.cfg.BrokerAddr())
	}
	if err := message.ValidateTopic(h.topic); err != nil {
		return nil, remoting.InvalidParameter, err.Error()
	}
	if message.IsSendForbiddenTopic(h.topic) {
		return nil, remoting.NoPermission, fmt.Sprintf("Sending message to topic[%s] is forbidden.", h.topic)
	}
	tc := b.topics.get(h.topic)
	if tc == nil {
		if message.IsRetryTopic(h.topic) {
			group := strings.TrimPrefix(h.topic, message.RetryGroupTopicPrefix)
			if gc := b.groups.find(group); gc != nil {
				tc = b.topics.ensureTopic(h.topic, max(gc.RetryQueueNums, 1), permRead|permWrite)
			}
		} else {
			tc = b.topics.createInSendMessage(h.topic, h.defaultTopic, int(h.defaultQueueNums), 0)
		}
	}
	if tc == nil {
		return nil, remoting.TopicNotExist, fmt.Sprintf("topic[%s] not exist, apply first please!", h.topic)
	}
	if !isWriteable(tc.Perm) {
		return nil, remoting.NoPermission, fmt.Sprintf("the topic[%s] sending message is forbidden", h.topic)
	}
	if int(h.queueID) >= max(tc.ReadQueueNums, tc.WriteQueueNums) {
		return nil, remoting.InvalidParameter, fmt.Sprintf("request queueId[%d] is illegal, %s Producer: %s", h.queueID, h.topic, ch.RemoteAddr())
	}
	return tc, remoting.Success, ""
}

// retryTopicTarget applies the retry limit to a send to a retry topic: past
// it, the message goes to the group's dead-letter topic (returned), with no
// delay.
func (b *Broker) retryTopicTarget(h *sendHeader, version int32) (dlq string, code remoting.ResponseCode, remark string) {
	group := strings.TrimPrefix(h.topic, message.RetryGroupTopicPrefix)
	gc := b.groups.find(group)
	if gc == nil {
		return "", remoting.SubscriptionGroupNotExist, fmt.Sprintf("subscription group not exist, %s", group)
	}
	maxTimes := int32(gc.RetryMaxTimes)
	if h.hasMaxReconsume && version >= versionV3_4_9 {
		maxTimes = h.maxReconsumeTimes
	}
	if h.reconsumeTimes <= maxTimes {
		return "", remoting.Success, ""
	}
	dlq = message.DLQTopic(group)
	b.topics.ensureTopic(dlq, 1, permRead|permWrite)
	b.log.Info("broker: message exhausted its retries; moving it to the dead-letter queue", "group", group, "reconsumeTimes", h.reconsumeTimes)
	return dlq, remoting.Success, ""
}

func (b *Broker) sendBatch(ch *remoting.Channel, req *remoting.Command, h *sendHeader, topic string, queueID int32, batchProps []byte) {
	if message.IsRetryTopic(h.topic) {
		respondError(ch, req, remoting.MessageIllegal, fmt.Sprintf("batch request does not support retry group %s", h.topic))
		return
	}
	if message.TransactionType(h.sysFlag) != 0 {
		respondError(ch, req, remoting.MessageIllegal, "batch messages cannot be transactional")
		return
	}
	if level, ok := delayLevel(batchProps); ok && level > 0 {
		respondError(ch, req, remoting.MessageIllegal, "batch messages cannot be delayed")
		return
	}
	if len(req.Body) > b.cfg.Store.MaxMessageSize {
		respondError(ch, req, remoting.MessageIllegal, fmt.Sprintf("batch body of %d bytes is over maxMessageSize %d", len(req.Body), b.cfg.Store.MaxMessageSize))
		return
	}
	born := bornHost(ch)
	var msgs []store.Message
	err := message.DecodeBatch(req.Body, func(m message.BatchMember) error {
		props, err := b.stampProperties(m.Properties)
		if err != nil {
			return err
		}
		msgs = append(msgs, store.Message{
			Topic:         topic,
			QueueID:       queueID,
			Flag:          m.Flag,
			Body:          m.Body,
			Properties:    props,
			SysFlag:       h.sysFlag,
			BornTimestamp: h.bornTimestamp,
			BornHost:      born,
		})
		return nil
	})
	if err != nil {
		respondError(ch, req, remoting.MessageIllegal, err.Error())
		return
	}
	b.store.Put(msgs, func(res store.PutResult) {
		b.respondPut(ch, req, res, queueID, "")
	})
}

// respondPut answers a send with the store's verdict.
func (b *Broker) respondPut(ch *remoting.Channel, req *remoting.Command, res store.PutResult, queueID int32, transactionID string) {
	code, remark := putResponseCode(res)
	resp := remoting.NewResponse(req, code, remark)
	if code == remoting.Success || code == remoting.FlushDiskTimeout {
		ids := make([]byte, 0, 33*len(res.RecordOffsets))
		for i, off := range res.RecordOffsets {
			if i > 0 {
				ids = append(ids, ',')
			}
			ids = message.AppendOffsetMsgID(ids, b.cfg.Store.StoreHost, off)
		}
		resp.ExtFields = remoting.Fields{
			remoting.StrField("MSG_REGION", b.cfg.RegionID),
			remoting.BoolField("TRACE_ON", b.cfg.TraceOn),
			remoting.StrField("msgId", string(ids)),
			remoting.IntField("queueId", int64(queueID)),
			remoting.IntField("queueOffset", res.QueueOffset),
		}
		if transactionID != "" {
			resp.ExtFields.Add("transactionId", transactionID)
		}
	}
	ch.Respond(req, resp)
}

func putResponseCode(res store.PutResult) (remoting.ResponseCode, string) {
	remark := ""
	if res.Err != nil {
		remark = res.Err.Error()
	}
	switch res.Status {
	case store.PutOK:
		return remoting.Success, ""
	case store.FlushDiskTimeout:
		return remoting.FlushDiskTimeout, remark
	case store.ServiceNotAvailable:
		return remoting.ServiceNotAvailable, "service not available now: " + remark
	case store.CreateMappedFileFailed:
		return remoting.SystemError, "create mapped file failed, server is busy or broken: " + remark
	case store.MessageIllegal, store.PropertiesSizeExceeded:
		return remoting.MessageIllegal, remark
	}
	return remoting.SystemError, remark
}

// stampProperties adds the properties a RocketMQ broker stamps on every
// message: CLUSTER (Go's request/reply needs it), MSG_REGION and TRACE_ON.
func (b *Broker) stampProperties(props []byte) ([]byte, error) {
	if len(props) > message.MaxPropertiesBytes {
		return nil, fmt.Errorf("properties of %d bytes are over the %d-byte limit", len(props), message.MaxPropertiesBytes)
	}
	props = setProperty(props, message.PropertyCluster, b.cfg.BrokerClusterName)
	props = setProperty(props, message.PropertyMsgRegion, b.cfg.RegionID)
	props = setProperty(props, message.PropertyTraceSwitch, strconv.FormatBool(b.cfg.TraceOn))
	return props, nil
}

// appendProperty appends key=value to encoded properties, adding the
// separator a non-empty list may lack.
func appendProperty(props []byte, key, value string) []byte {
	out := make([]byte, 0, len(props)+len(key)+len(value)+3)
	out = append(out, props...)
	if len(out) > 0 && out[len(out)-1] != 0x02 {
		out = append(out, 0x02)
	}
	out = append(out, key...)
	out = append(out, 0x01)
	out = append(out, value...)
	return append(out, 0x02)
}

// setProperty replaces or appends key. The common case, an absent key, is
// one append with no parse.
func setProperty(props []byte, key, value string) []byte {
	if old, ok := message.LookupProperty(props, key); !ok {
		return appendProperty(props, key, value)
	} else if string(old) == value {
		return props
	}
	p := message.ParseProperties(string(props))
	p.Set(key, value)
	out, err := message.AppendProperties(nil, p)
	if err != nil {
		return appendProperty(props, key, value)
	}
	return out
}

func delayLevel(props []byte) (int, bool) {
	v, ok := message.LookupProperty(props, message.PropertyDelayLevel)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, false
	}
	return n, true
}

func waitFalse(props []byte) bool {
	v, ok := message.LookupProperty(props, message.PropertyWaitStoreMsgOK)
	return ok && string(v) == "false"
}
