package broker

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
	"github.com/thrustmq/thrust/broker/store"
)

// The admin requests behind mqadmin's verbs (topicStatus, consumerProgress,
// updateSubGroup, deleteSubGroup, getBrokerConfig). Their bodies follow
// the Java broker's fastjson output, maps keyed by a MessageQueue object
// included, so that RocketMQ's own admin tools can read them.

// appendMQKey appends a MessageQueue as fastjson writes it as a map key:
// an object, its fields in alphabetical order.
func appendMQKey(dst []byte, topic, brokerName string, queueID int32) []byte {
	dst = append(dst, `{"brokerName":`...)
	dst = strconv.AppendQuote(dst, brokerName)
	dst = append(dst, `,"queueId":`...)
	dst = strconv.AppendInt(dst, int64(queueID), 10)
	dst = append(dst, `,"topic":`...)
	dst = strconv.AppendQuote(dst, topic)
	return append(dst, '}')
}

// storeTimeAt is the store timestamp of the message at offset in a queue,
// or 0 if there is none to read.
func (b *Broker) storeTimeAt(topic string, queueID int32, offset int64) int64 {
	if offset < 0 {
		return 0
	}
	res := b.store.GetMessage(topic, queueID, offset, 1, store.MatchAll{})
	if res.Status != store.Found || len(res.Ranges) == 0 {
		return 0
	}
	rg := res.Ranges[0]
	rec := rg.View
	if rec == nil {
		rec = make([]byte, rg.N)
		if _, err := rg.File.ReadAt(rec, rg.Off); err != nil {
			return 0
		}
	}
	r, _, err := message.DecodeHeader(rec)
	if err != nil {
		return 0
	}
	return r.StoreTimestamp
}

// handleTopicStats is GET_TOPIC_STATS_INFO: every queue's min and max
// offsets and the store time of its last message.
func (b *Broker) handleTopicStats(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	topic := r.str("topic")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	tc := b.topics.get(topic)
	if tc == nil {
		respondError(ch, req, remoting.TopicNotExist, fmt.Sprintf("topic[%s] not exist", topic))
		return
	}
	body := []byte(`{"offsetTable":{`)
	for qid := range int32(tc.WriteQueueNums) {
		if qid > 0 {
			body = append(body, ',')
		}
		lo, hi := b.store.MinOffsetInQueue(topic, qid), b.store.MaxOffsetInQueue(topic, qid)
		body = appendMQKey(body, topic, b.cfg.BrokerName, qid)
		body = fmt.Appendf(body, `:{"lastUpdateTimestamp":%d,"maxOffset":%d,"minOffset":%d}`,
			b.storeTimeAt(topic, qid, hi-1), hi, lo)
	}
	body = append(body, "}}"...)
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	ch.Respond(req, resp)
}

// handleConsumeStats is GET_CONSUME_STATS: for each queue of the topic
// (every topic the group has offsets for, if none is named), the broker's
// max offset beside the group's committed offset: the lag.
func (b *Broker) handleConsumeStats(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	group := r.str("consumerGroup")
	topic := r.optStr("topic")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	topics := []string{topic}
	if topic == "" {
		topics = b.offsets.topicsOf(group)
	}
	body := []byte(`{"consumeTps":0.0,"offsetTable":{`)
	first := true
	for _, t := range topics {
		tc := b.topics.get(t)
		if tc == nil {
			continue
		}
		for qid := range int32(tc.ReadQueueNums) {
			committed, ok := b.offsets.query(group, t, qid)
			if !ok || committed < 0 {
				committed = 0
			}
			if !first {
				body = append(body, ',')
			}
			first = false
			body = appendMQKey(body, t, b.cfg.BrokerName, qid)
			body = fmt.Appendf(body, `:{"brokerOffset":%d,"consumerOffset":%d,"lastTimestamp":%d,"pullOffset":%d}`,
				b.store.MaxOffsetInQueue(t, qid), committed, b.storeTimeAt(t, qid, committed-1), committed)
		}
	}
	body = append(body, "}}"...)
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	ch.Respond(req, resp)
}

// handleUpdateGroup is UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: the body is the
// group's SubscriptionGroupConfig. Answered once durable.
func (b *Broker) handleUpdateGroup(ch *remoting.Channel, req *remoting.Command) {
	g := defaultGroupConfig("")
	if err := json.Unmarshal(req.Body, g); err != nil {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("subscription group config is not valid: %v", err))
		return
	}
	if err := message.ValidateGroup(g.GroupName); err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	if g.RetryQueueNums < 0 || g.RetryMaxTimes < 0 {
		respondError(ch, req, remoting.SystemError, "retryQueueNums and retryMaxTimes must not be negative")
		return
	}
	b.groups.put(g)
	b.groups.file.persistThen(func(err error) {
		if err != nil {
			respondError(ch, req, remoting.SystemError, fmt.Sprintf("subscription groups not persisted: %v", err))
			return
		}
		ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
	})
}

// handleDeleteGroup is DELETE_SUBSCRIPTIONGROUP; with cleanOffset=true the
// group's committed offsets go too. Answered once durable.
func (b *Broker) handleDeleteGroup(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	group := r.str("groupName")
	clean := r.optBool("cleanOffset")
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	b.groups.remove(group)
	if clean {
		b.offsets.removeGroup(group)
	}
	b.groups.file.persistThen(func(err error) {
		if err != nil {
			respondError(ch, req, remoting.SystemError, fmt.Sprintf("subscription groups not persisted: %v", err))
			return
		}
		ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
	})
}

// handleGetBrokerConfig is GET_BROKER_CONFIG: the effective configuration
// as broker.conf lines, and the topic table's data version.
func (b *Broker) handleGetBrokerConfig(ch *remoting.Channel, req *remoting.Command) {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = []byte(b.cfg.PropertiesText())
	version, _ := json.Marshal(b.topics.version)
	resp.ExtFields = remoting.Fields{remoting.StrField("version", string(version))}
	ch.Respond(req, resp)
}

// topicsOf lists, sorted, the topics group has committed offsets for.
func (om *offsetManager) topicsOf(group string) []string {
	var out []string
	for k := range om.table {
		if t, g, ok := strings.Cut(k, "@"); ok && g == group && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}
