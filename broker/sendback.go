package broker

import (
	"fmt"
	"strconv"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
	"github.com/thrustmq/thrust/broker/store"
)

// handleSendMsgBack is CONSUMER_SEND_MSG_BACK: a consumer could not
// process a message and hands it back for redelivery. The broker reads the
// original from the commit log and stores a copy for the group's retry
// topic, delayed by a level that grows with each retry (3 + reconsume
// times, unless the consumer asks for one); once the message has been
// retried the maximum number of times, or the consumer asks with a
// negative level, the copy goes to the group's dead-letter topic instead.
func (b *Broker) handleSendMsgBack(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	phys := r.i64("offset")
	group := r.str("group")
	delay := r.i32("delayLevel")
	originMsgID := r.optStr("originMsgId")
	originTopic := r.optStr("originTopic")
	maxTimes, hasMax := int32(0), req.ExtFields.Has("maxReconsumeTimes")
	if hasMax {
		maxTimes = r.i32("maxReconsumeTimes")
	}
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	gc := b.groups.find(group)
	if gc == nil {
		respondError(ch, req, remoting.SubscriptionGroupNotExist, fmt.Sprintf("subscription group not exist, %s", group))
		return
	}
	if !isWriteable(b.cfg.BrokerPermission) {
		respondError(ch, req, remoting.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden", b.cfg.BrokerAddr()))
		return
	}
	if gc.RetryQueueNums <= 0 {
		ch.Respond(req, remoting.NewResponse(req, remoting.Success, "")) // retries disabled: drop it
		return
	}
	raw, err := b.store.LookMessageByOffset(phys)
	if err != nil {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("look message by offset failed, %d: %v", phys, err))
		return
	}
	orig, _, err := message.Decode(raw)
	if err != nil {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("message at %d does not decode: %v", phys, err))
		return
	}
	if !hasMax || req.Version < versionV3_4_9 {
		maxTimes = int32(gc.RetryMaxTimes)
	}

	props := message.ParseProperties(string(orig.Properties))
	props.Delete(store.RecordCRCProperty)
	if _, ok := props.Get(message.PropertyRetryTopic); !ok {
		t := orig.Topic
		if originTopic != "" {
			t = originTopic
		}
		props.Set(message.PropertyRetryTopic, t)
	}
	if _, ok := props.Get(message.PropertyOriginMessageID); !ok {
		id := originMsgID
		if id == "" {
			id = message.OffsetMsgID(orig.StoreHost, orig.PhysicalOffset)
		}
		props.Set(message.PropertyOriginMessageID, id)
	}

	topic := message.RetryTopic(group)
	var queueID int32
	if orig.ReconsumeTimes >= maxTimes || delay < 0 {
		topic = message.DLQTopic(group)
		b.topics.ensureTopic(topic, 1, permRead|permWrite)
		props.Delete(message.PropertyDelayLevel)
		b.log.Info("broker: message exhausted its retries; moving it to the dead-letter queue",
			"group", group, "reconsumeTimes", orig.ReconsumeTimes, "max", maxTimes)
	} else {
		tc := b.topics.ensureTopic(topic, gc.RetryQueueNums, permRead|permWrite)
		queueID = int32(b.env.Rand.IntN(max(tc.WriteQueueNums, 1)))
		level := int(delay)
		if level == 0 {
			level = 3 + int(orig.ReconsumeTimes)
		}
		props.Set(message.PropertyDelayLevel, strconv.Itoa(min(level, len(b.sched.levels))))
	}
	enc, err := message.AppendProperties(nil, props)
	if err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	storeTopic, storeQueue, enc := b.scheduled(topic, queueID, enc)
	m := store.Message{
		Topic:          storeTopic,
		QueueID:        storeQueue,
		Flag:           orig.Flag,
		Body:           orig.Body,
		BodyCRC:        orig.BodyCRC,
		BodyCRCKnown:   true,
		Properties:     enc,
		SysFlag:        orig.SysFlag &^ (message.SysFlagBornHostV6 | message.SysFlagStoreHostV6),
		BornTimestamp:  orig.BornTimestamp,
		BornHost:       orig.BornHost,
		ReconsumeTimes: orig.ReconsumeTimes + 1,
	}
	b.store.Put([]store.Message{m}, func(res store.PutResult) {
		if res.Status != store.PutOK && res.Status != store.FlushDiskTimeout {
			code, remark := putResponseCode(res)
			if code == remoting.Success {
				code = remoting.SystemError
			}
			respondError(ch, req, code, remark)
			return
		}
		ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
	})
}
