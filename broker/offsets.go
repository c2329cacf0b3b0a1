package broker

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
)

// offsetManager is RocketMQ's ConsumerOffsetManager: the next offset to
// consume of each (group, topic, queue), kept in memory and persisted to
// config/consumerOffset.json.
//
// An UPDATE_CONSUMER_OFFSET is answered only once the offset is durable
// (writes coalesce, so this costs one sync per burst of commits), so that
// a commit the broker acknowledged survives any crash: no consumer is ever
// given again what its group committed past. RocketMQ instead persists
// every flushConsumerOffsetInterval and may lose that much on a crash; the
// Go client ignores the answer, so it waits for nothing. Commits carried
// by pulls (COMMIT_OFFSET) are unacknowledged and ride along with the next
// write, or the periodic one.
type offsetManager struct {
	b     *Broker
	table map[string]map[int32]int64 // "topic@group" -> queue -> offset
	dirty bool
	file  *configFile
}

type offsetsFile struct {
	OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
}

func newOffsetManager(b *Broker) *offsetManager {
	om := &offsetManager{b: b, table: map[string]map[int32]int64{}}
	path := filepath.Join(b.cfg.Store.StorePathRootDir, "config", "consumerOffset.json")
	om.file = newConfigFile(b.env.FS, b.log, path, om.encode)
	return om
}

func offsetKey(topic, group string) string { return topic + "@" + group }

func (om *offsetManager) encode() ([]byte, error) {
	return json.MarshalIndent(offsetsFile{OffsetTable: om.table}, "", "\t")
}

func (om *offsetManager) load() error {
	var f offsetsFile
	found, err := om.file.load(&f)
	if err != nil || !found {
		return err
	}
	for k, v := range f.OffsetTable {
		if v != nil && strings.Contains(k, "@") {
			om.table[k] = v
		}
	}
	return nil
}

func (om *offsetManager) commit(group, topic string, queueID int32, offset int64) {
	k := offsetKey(topic, group)
	m := om.table[k]
	if m == nil {
		m = map[int32]int64{}
		om.table[k] = m
	}
	if old, ok := m[queueID]; ok && old == offset {
		return
	}
	m[queueID] = offset
	om.dirty = true
}

// forward returns offset, or the group's current commit when that is higher
// and still a position in the queue. For a clustering group of push
// consumers, a lower commit can only come from a member that held the
// queue stale (through a rebalance it had not seen yet) and is dropping
// it: taking it would send the group back over what it consumed. A
// commit beyond the queue's end (its data was lost or deleted) may be
// lowered: the clients must be allowed to find the queue again.
func (b *Broker) forward(group, topic string, queueID int32, offset int64) int64 {
	info := b.clients.consumers[group]
	if info == nil || info.messageModel != messageModelClustering || info.consumeType != consumePassively {
		return offset
	}
	cur, ok := b.offsets.query(group, topic, queueID)
	if ok && cur > offset && cur <= b.store.MaxOffsetInQueue(topic, queueID) {
		return cur
	}
	return offset
}

// query returns the committed offset, or false.
func (om *offsetManager) query(group, topic string, queueID int32) (int64, bool) {
	v, ok := om.table[offsetKey(topic, group)][queueID]
	return v, ok
}

// commitDurably commits and calls done once the offset is durable.
func (om *offsetManager) commitDurably(group, topic string, queueID int32, offset int64, done func(error)) {
	om.commit(group, topic, queueID, offset)
	om.dirty = false
	om.file.persistThen(done)
}

func (om *offsetManager) persistIfDirty() {
	if om.dirty {
		om.dirty = false
		om.file.persist()
	}
}

// removeTopic drops every group's offsets of a deleted topic.
func (om *offsetManager) removeTopic(topic string) {
	var keys []string
	for k := range om.table {
		if strings.HasPrefix(k, topic+"@") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		delete(om.table, k)
		om.dirty = true
	}
}

// removeGroup forgets every offset group committed.
func (om *offsetManager) removeGroup(group string) {
	for _, t := range om.topicsOf(group) {
		delete(om.table, offsetKey(t, group))
		om.dirty = true
	}
}
