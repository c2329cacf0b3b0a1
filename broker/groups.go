package broker

import (
	"encoding/json"
	"path/filepath"
	"slices"

	"github.com/thrustmq/thrust/broker/message"
)

// SubscriptionGroupConfig is RocketMQ's per-consumer-group configuration,
// with its JSON names.
type SubscriptionGroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

func defaultGroupConfig(name string) *SubscriptionGroupConfig {
	return &SubscriptionGroupConfig{
		GroupName:                      name,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 1,
		RetryMaxTimes:                  16,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIdsChangedEnable: true,
	}
}

type groupsFile struct {
	SubscriptionGroupTable map[string]*SubscriptionGroupConfig `json:"subscriptionGroupTable"`
	ForbiddenTable         map[string]map[string]int           `json:"forbiddenTable"`
	DataVersion            DataVersion                         `json:"dataVersion"`
}

// groupManager is RocketMQ's SubscriptionGroupManager, kept in
// config/subscriptionGroup.json.
type groupManager struct {
	b       *Broker
	table   map[string]*SubscriptionGroupConfig
	version DataVersion
	file    *configFile
}

func newGroupManager(b *Broker) *groupManager {
	gm := &groupManager{b: b, table: map[string]*SubscriptionGroupConfig{}}
	path := filepath.Join(b.cfg.Store.StorePathRootDir, "config", "subscriptionGroup.json")
	gm.file = newConfigFile(b.env.FS, b.log, path, gm.encode)
	return gm
}

func (gm *groupManager) encode() ([]byte, error) {
	return json.MarshalIndent(gm.snapshot(), "", "\t")
}

func (gm *groupManager) snapshot() groupsFile {
	return groupsFile{SubscriptionGroupTable: gm.table, ForbiddenTable: map[string]map[string]int{}, DataVersion: gm.version}
}

func (gm *groupManager) load() error {
	var f groupsFile
	found, err := gm.file.load(&f)
	if err != nil || !found {
		return err
	}
	for name, g := range f.SubscriptionGroupTable {
		if g == nil || message.ValidateGroup(name) != nil {
			gm.b.log.Warn("broker: ignoring an invalid group in subscriptionGroup.json", "group", name)
			continue
		}
		g.GroupName = name
		gm.table[name] = g
	}
	gm.version = f.DataVersion
	return nil
}

// find returns the group's configuration, creating it when
// autoCreateSubscriptionGroup allows; nil otherwise.
func (gm *groupManager) find(group string) *SubscriptionGroupConfig {
	if g := gm.table[group]; g != nil {
		return g
	}
	if !gm.b.cfg.AutoCreateSubscriptionGroup || message.ValidateGroup(group) != nil {
		return nil
	}
	g := defaultGroupConfig(group)
	gm.table[group] = g
	gm.version.Counter++
	gm.version.Timestamp = gm.b.env.Clock.Now().UnixMilli()
	gm.b.log.Info("broker: auto-created subscription group", "group", group)
	gm.file.persist()
	return g
}

func (gm *groupManager) names() []string {
	names := make([]string, 0, len(gm.table))
	for n := range gm.table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// put adds or replaces a group's configuration.
func (gm *groupManager) put(g *SubscriptionGroupConfig) {
	gm.table[g.GroupName] = g
	gm.version.Counter++
	gm.version.Timestamp = gm.b.env.Clock.Now().UnixMilli()
}

// remove drops a group's configuration; a group that does not exist is no
// error, as in RocketMQ.
func (gm *groupManager) remove(group string) {
	if _, ok := gm.table[group]; !ok {
		return
	}
	delete(gm.table, group)
	gm.version.Counter++
	gm.version.Timestamp = gm.b.env.Clock.Now().UnixMilli()
}
