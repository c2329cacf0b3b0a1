package broker

import (
	"encoding/json"
	"path/filepath"
	"slices"

	"github.com/thrustmq/thrust/broker/message"
)

// Permission bits of topics and brokers (RocketMQ's PermName).
const (
	permPriority = 8
	permRead     = 4
	permWrite    = 2
	permInherit  = 1
)

func isReadable(perm int) bool  { return perm&permRead != 0 }
func isWriteable(perm int) bool { return perm&permWrite != 0 }
func isInherited(perm int) bool { return perm&permInherit != 0 }

// TopicConfig is RocketMQ's TopicConfig, with its JSON names (topics.json and
// REGISTER_BROKER bodies use them).
type TopicConfig struct {
	TopicName       string            `json:"topicName"`
	ReadQueueNums   int               `json:"readQueueNums"`
	WriteQueueNums  int               `json:"writeQueueNums"`
	Perm            int               `json:"perm"`
	TopicFilterType string            `json:"topicFilterType"`
	TopicSysFlag    int               `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes"`
}

func newTopicConfig(name string, queues, perm int) *TopicConfig {
	return &TopicConfig{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: perm,
		TopicFilterType: "SINGLE_TAG", Attributes: map[string]string{}}
}

// DataVersion tells name servers and slaves whether configuration changed.
type DataVersion struct {
	StateVersion int64 `json:"stateVersion"`
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
}

// topicsFile is topics.json.
type topicsFile struct {
	DataVersion      DataVersion             `json:"dataVersion"`
	TopicConfigTable map[string]*TopicConfig `json:"topicConfigTable"`
}

// topicManager is RocketMQ's TopicConfigManager: the broker's topics, kept
// in config/topics.json and published to name servers.
type topicManager struct {
	b       *Broker
	table   map[string]*TopicConfig
	version DataVersion
	file    *configFile
}

func newTopicManager(b *Broker) *topicManager {
	tm := &topicManager{b: b, table: map[string]*TopicConfig{}}
	path := filepath.Join(b.cfg.Store.StorePathRootDir, "config", "topics.json")
	tm.file = newConfigFile(b.env.FS, b.log, path, tm.encode)
	return tm
}

func (tm *topicManager) encode() ([]byte, error) {
	// encoding/json sorts map keys, so the file is a function of the state.
	return json.MarshalIndent(topicsFile{DataVersion: tm.version, TopicConfigTable: tm.table}, "", "\t")
}

func (tm *topicManager) load() error {
	var f topicsFile
	found, err := tm.file.load(&f)
	if err != nil || !found {
		return err
	}
	for name, tc := range f.TopicConfigTable {
		if tc == nil || message.ValidateTopic(name) != nil {
			tm.b.log.Warn("broker: ignoring an invalid topic in topics.json", "topic", name)
			continue
		}
		tc.TopicName = name
		if tc.Attributes == nil {
			tc.Attributes = map[string]string{}
		}
		tm.table[name] = tc
	}
	tm.version = f.DataVersion
	return nil
}

// ensureSystemTopics creates the topics every RocketMQ broker has.
func (tm *topicManager) ensureSystemTopics() {
	cfg := &tm.b.cfg
	add := func(tc *TopicConfig) {
		if _, ok := tm.table[tc.TopicName]; !ok {
			tm.table[tc.TopicName] = tc
		}
	}
	if cfg.AutoCreateTopicEnable {
		add(newTopicConfig(message.AutoCreateTopicKey, cfg.DefaultTopicQueueNums, permRead|permWrite|permInherit))
	} else if tc := tm.table[message.AutoCreateTopicKey]; tc != nil {
		// Without auto-creation, TBW102 must not carry INHERIT: the Go
		// producer's fallback then gets TOPIC_NOT_EXIST, as from Java.
		tc.Perm = permRead | permWrite
	}
	add(newTopicConfig(message.SelfTestTopic, 1, permRead|permWrite))
	clusterPerm := permInherit
	if cfg.ClusterTopicEnable {
		clusterPerm |= permRead | permWrite
	}
	add(newTopicConfig(cfg.BrokerClusterName, 16, clusterPerm))
	brokerPerm := permInherit
	if cfg.BrokerTopicEnable {
		brokerPerm |= permRead | permWrite
	}
	add(newTopicConfig(cfg.BrokerName, 1, brokerPerm))
	add(newTopicConfig(message.OffsetMovedEventTopic, 1, permRead|permWrite))
	add(newTopicConfig(message.ScheduleTopic, tm.b.delayLevelCount(), permRead|permWrite))
	add(newTopicConfig(message.TransHalfTopic, 1, permRead|permWrite))
	add(newTopicConfig(message.TransOpHalfTopic, 1, permRead|permWrite))
	add(newTopicConfig(cfg.BrokerClusterName+"_REPLY_TOPIC", 1, permRead|permWrite))
}

func (tm *topicManager) get(name string) *TopicConfig { return tm.table[name] }

// changed bumps the data version, persists, and re-registers with the name
// servers at once, so that a new topic's route appears without waiting for
// the periodic registration.
func (tm *topicManager) changed() {
	tm.version.Counter++
	tm.version.Timestamp = tm.b.env.Clock.Now().UnixMilli()
	tm.file.persist()
	tm.b.registerSoon()
}

// put creates or replaces a topic.
func (tm *topicManager) put(tc *TopicConfig) {
	if tc.Attributes == nil {
		tc.Attributes = map[string]string{}
	}
	tm.table[tc.TopicName] = tc
	tm.b.log.Info("broker: topic config updated", "topic", tc.TopicName, "read", tc.ReadQueueNums, "write", tc.WriteQueueNums, "perm", tc.Perm)
	tm.changed()
}

func (tm *topicManager) delete(name string) bool {
	if _, ok := tm.table[name]; !ok {
		return false
	}
	delete(tm.table, name)
	tm.b.log.Info("broker: topic deleted", "topic", name)
	tm.changed()
	return true
}

// createInSendMessage is auto-creation on SEND (RocketMQ's
// createTopicInSendMessageMethod): a topic the broker does not know is
// created from the template topic the producer names, if that template
// exists here with the INHERIT bit, with min(asked, template's) queues.
func (tm *topicManager) createInSendMessage(topic, template string, queueNums int, sysFlag int) *TopicConfig {
	if tc := tm.table[topic]; tc != nil {
		return tc
	}
	def := tm.table[template]
	if def == nil {
		return nil
	}
	if template == message.AutoCreateTopicKey && !tm.b.cfg.AutoCreateTopicEnable {
		return nil
	}
	if !isInherited(def.Perm) {
		return nil
	}
	queues := min(queueNums, def.WriteQueueNums)
	if queues <= 0 {
		queues = min(tm.b.cfg.DefaultTopicQueueNums, def.WriteQueueNums)
	}
	tc := newTopicConfig(topic, queues, def.Perm&^permInherit)
	tc.TopicFilterType = def.TopicFilterType
	tc.TopicSysFlag = sysFlag
	tm.b.log.Info("broker: auto-created topic", "topic", topic, "from", template, "queues", queues)
	tm.table[topic] = tc
	tm.changed()
	return tc
}

// ensureTopic creates a broker-owned topic (retry, DLQ, transaction half)
// if missing.
func (tm *topicManager) ensureTopic(topic string, queues, perm int) *TopicConfig {
	if tc := tm.table[topic]; tc != nil {
		return tc
	}
	tc := newTopicConfig(topic, queues, perm)
	tm.table[topic] = tc
	tm.b.log.Info("broker: created topic", "topic", topic, "queues", queues)
	tm.changed()
	return tc
}

// names returns the topic names, sorted.
func (tm *topicManager) names() []string {
	names := make([]string, 0, len(tm.table))
	for n := range tm.table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// wrapper is the TopicConfigSerializeWrapper of REGISTER_BROKER bodies and
// GET_ALL_TOPIC_CONFIG responses.
func (tm *topicManager) wrapper() map[string]any {
	return map[string]any{
		"topicConfigTable": tm.table,
		"dataVersion":      tm.version,
	}
}
