package broker

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// heartbeatData is the HEART_BEAT body (HeartbeatData). encoding/json
// matches keys case-insensitively, which is what lets "clientID" through.
type heartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []producerData `json:"producerDataSet"`
	ConsumerDataSet []consumerData `json:"consumerDataSet"`
}

type producerData struct {
	GroupName string `json:"groupName"`
}

type consumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []subscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// subscriptionData is one topic subscription. codeSet is ignored: Go
// clients hash tags over UTF-8 bytes, Java over UTF-16, so the broker
// recomputes the codes from tagsSet with Java's hash (see subscription).
type subscriptionData struct {
	Topic          string          `json:"topic"`
	SubString      string          `json:"subString"`
	TagsSet        []string        `json:"tagsSet"`
	CodeSet        json.RawMessage `json:"codeSet"`
	SubVersion     int64           `json:"subVersion"`
	ExpressionType string          `json:"expressionType"`
}

const (
	consumePassively         = "CONSUME_PASSIVELY" // push consumers
	messageModelClustering   = "CLUSTERING"
	messageModelBroadcasting = "BROADCASTING"
	expressionTag            = "TAG"
	expressionSQL92          = "SQL92"
)

// subscription is a compiled topic subscription.
type subscription struct {
	topic      string
	expr       string
	exprType   string
	all        bool
	codes      []int64 // Java hash codes of the tags, sorted
	subVersion int64
}

// newTagSubscription compiles a TAG expression ("*", "a || b").
func newTagSubscription(topic, expr string, version int64) *subscription {
	s := &subscription{topic: topic, expr: expr, exprType: expressionTag, subVersion: version}
	tags, all := message.SplitTags(expr)
	s.all = all
	for _, t := range tags {
		s.codes = append(s.codes, message.TagsHashCode(t))
	}
	slices.Sort(s.codes)
	s.codes = slices.Compact(s.codes)
	return s
}

// MatchTagsCode implements store.MessageFilter: an entry matches if its tags
// code is one of the subscription's. Untagged messages (code 0) match only
// "*".
func (s *subscription) MatchTagsCode(code int64) bool {
	if s.all {
		return true
	}
	_, found := slices.BinarySearch(s.codes, int64(int32(code)))
	return found
}

func (s *subscription) NeedsRecord() bool       { return false }
func (s *subscription) MatchRecord([]byte) bool { return true }

func (s *subscription) same(o *subscription) bool {
	return s.topic == o.topic && s.expr == o.expr && s.exprType == o.exprType
}

// clientState is what a channel's Attachment holds once it heartbeats.
type clientState struct {
	clientID       string
	language       remoting.LanguageCode
	version        int32
	lastHeartbeat  time.Duration
	consumerGroups []string
	producerGroups []string
}

// consumerGroupInfo is one consumer group's live members and subscriptions
// (RocketMQ's ConsumerGroupInfo).
type consumerGroupInfo struct {
	group            string
	consumeType      string
	messageModel     string
	consumeFromWhere string
	channels         map[*remoting.Channel]string // channel -> client id
	subscriptions    map[string]*subscription     // topic -> subscription
}

// clientManager keeps producers and consumers by group (RocketMQ's
// ProducerManager and ConsumerManager) and tells consumer groups when their
// membership changes.
type clientManager struct {
	b         *Broker
	consumers map[string]*consumerGroupInfo
	producers map[string]map[*remoting.Channel]string
}

func newClientManager(b *Broker) *clientManager {
	return &clientManager{b: b, consumers: map[string]*consumerGroupInfo{}, producers: map[string]map[*remoting.Channel]string{}}
}

func stateOf(ch *remoting.Channel) *clientState {
	st, _ := ch.Attachment.(*clientState)
	return st
}

// registerConsumer records a consumer's heartbeat. It reports whether the
// group's membership or subscriptions changed.
func (cm *clientManager) registerConsumer(ch *remoting.Channel, clientID string, cd consumerData, subs []*subscription) bool {
	g := cm.consumers[cd.GroupName]
	changed := false
	if g == nil {
		g = &consumerGroupInfo{group: cd.GroupName, channels: map[*remoting.Channel]string{}, subscriptions: map[string]*subscription{}}
		cm.consumers[cd.GroupName] = g
	}
	g.consumeType, g.messageModel, g.consumeFromWhere = cd.ConsumeType, cd.MessageModel, cd.ConsumeFromWhere
	if old, ok := g.channels[ch]; !ok || old != clientID {
		g.channels[ch] = clientID
		changed = true
		cm.b.log.Info("broker: consumer joined", "group", cd.GroupName, "client", clientID, "remote", ch.RemoteAddr())
	}
	seen := map[string]bool{}
	for _, s := range subs {
		seen[s.topic] = true
		old := g.subscriptions[s.topic]
		if old == nil || !old.same(s) && old.subVersion <= s.subVersion {
			g.subscriptions[s.topic] = s
			changed = true
		}
	}
	for topic := range g.subscriptions {
		if !seen[topic] {
			delete(g.subscriptions, topic)
			changed = true
		}
	}
	st := stateOf(ch)
	if !slices.Contains(st.consumerGroups, cd.GroupName) {
		st.consumerGroups = append(st.consumerGroups, cd.GroupName)
	}
	return changed
}

func (cm *clientManager) registerProducer(ch *remoting.Channel, clientID, group string) {
	m := cm.producers[group]
	if m == nil {
		m = map[*remoting.Channel]string{}
		cm.producers[group] = m
	}
	m[ch] = clientID
	st := stateOf(ch)
	if !slices.Contains(st.producerGroups, group) {
		st.producerGroups = append(st.producerGroups, group)
	}
}

// unregister removes ch from the named groups (all of its groups when both
// are nil) and notifies consumer groups that lost a member.
// producerChannel returns a connection of a producer of group, or nil:
// the one whose client id sorts first, so that the choice does not depend
// on map order.
func (cm *clientManager) producerChannel(group string) *remoting.Channel {
	var best *remoting.Channel
	bestID := ""
	for ch, id := range cm.producers[group] {
		if ch.Closed() {
			continue
		}
		if best == nil || id < bestID || id == bestID && ch.ID() < best.ID() {
			best, bestID = ch, id
		}
	}
	return best
}

func (cm *clientManager) unregister(ch *remoting.Channel, consumerGroup, producerGroup string, all bool) {
	st := stateOf(ch)
	if st == nil {
		return
	}
	for _, g := range slices.Clone(st.consumerGroups) {
		if !all && g != consumerGroup {
			continue
		}
		st.consumerGroups = slices.DeleteFunc(st.consumerGroups, func(x string) bool { return x == g })
		info := cm.consumers[g]
		if info == nil {
			continue
		}
		if _, ok := info.channels[ch]; !ok {
			continue
		}
		delete(info.channels, ch)
		cm.b.log.Info("broker: consumer left", "group", g, "client", st.clientID, "remote", ch.RemoteAddr())
		if len(info.channels) == 0 {
			delete(cm.consumers, g)
			continue
		}
		cm.notifyIDsChanged(info)
	}
	for _, g := range slices.Clone(st.producerGroups) {
		if !all && g != producerGroup {
			continue
		}
		st.producerGroups = slices.DeleteFunc(st.producerGroups, func(x string) bool { return x == g })
		if m := cm.producers[g]; m != nil {
			delete(m, ch)
			if len(m) == 0 {
				delete(cm.producers, g)
			}
		}
	}
}

// sortedChannels lists a group's channels in connection order: never in
// map order, which would make the simulator's runs differ.
func sortedChannels(m map[*remoting.Channel]string) []*remoting.Channel {
	chs := make([]*remoting.Channel, 0, len(m))
	for ch := range m {
		chs = append(chs, ch)
	}
	slices.SortFunc(chs, func(a, b *remoting.Channel) int { return cmp.Compare(a.ID(), b.ID()) })
	return chs
}

// notifyIDsChanged sends NOTIFY_CONSUMER_IDS_CHANGED (oneway, as Java does)
// to every member of a clustering group, so that each rebalances at once
// rather than at its next 20 s round.
func (cm *clientManager) notifyIDsChanged(info *consumerGroupInfo) {
	if info.messageModel == messageModelBroadcasting {
		return
	}
	if gc := cm.b.groups.table[info.group]; gc != nil && !gc.NotifyConsumerIdsChangedEnable {
		return
	}
	for _, ch := range sortedChannels(info.channels) {
		req := remoting.NewRequest(remoting.NotifyConsumerIdsChanged, remoting.StrField("consumerGroup", info.group))
		if err := ch.InvokeOneway(req); err != nil {
			cm.b.log.Debug("broker: notify consumer ids changed", "group", info.group, "remote", ch.RemoteAddr(), "err", err)
		}
	}
}

// consumerIDs lists a group's client ids, sorted.
func (cm *clientManager) consumerIDs(group string) []string {
	info := cm.consumers[group]
	if info == nil {
		return nil
	}
	ids := make([]string, 0, len(info.channels))
	for _, id := range info.channels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// subscriptionOf returns a group's subscription to topic, or nil.
func (cm *clientManager) subscriptionOf(group, topic string) (*consumerGroupInfo, *subscription) {
	info := cm.consumers[group]
	if info == nil {
		return nil, nil
	}
	return info, info.subscriptions[topic]
}

// expire closes channels that have not heartbeat within
// channelExpiredTimeout; closing them unregisters them.
func (cm *clientManager) expire(chs []*remoting.Channel) {
	now := cm.b.env.Clock.Mono()
	for _, ch := range chs {
		st := stateOf(ch)
		if st == nil || now-st.lastHeartbeat < cm.b.cfg.ChannelExpiredTimeout {
			continue
		}
		cm.b.log.Warn("broker: closing a client channel that stopped heartbeating", "client", st.clientID,
			"remote", ch.RemoteAddr(), "silentFor", now-st.lastHeartbeat)
		ch.Close()
	}
}

// isRetryOrDLQ reports whether topic is one the broker creates for groups.
func isRetryOrDLQ(topic string) bool {
	return strings.HasPrefix(topic, message.RetryGroupTopicPrefix) || strings.HasPrefix(topic, message.DLQGroupTopicPrefix)
}
