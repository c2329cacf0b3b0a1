package broker

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/store"
)

// scheduleService delivers delayed messages (RocketMQ's
// ScheduleMessageService). A message sent with DELAY=n is stored in
// SCHEDULE_TOPIC_XXXX queue n-1 with its real topic and queue in
// properties, and its consume-queue unit's tags code set to its delivery
// time. Each level has a fixed delay, so its queue is in delivery order: one
// timer per level walks it, and when the head is due, writes the message
// back to its real topic and moves on.
//
// Progress per level is kept in config/delayOffset.json, written every
// flushDelayOffsetInterval: after a crash, messages delivered since the last
// write are delivered again (at least once, as in RocketMQ).
type scheduleService struct {
	b       *Broker
	levels  []time.Duration
	offsets map[int]int64 // level -> next schedule-queue offset
	busy    []bool        // a delivery put is in flight for the level
	timers  []host.Timer
	file    *configFile
	dirty   bool
	stopped bool
}

// deliverRetryDelay is how long a level waits after a failed delivery put
// (RocketMQ's DELAY_FOR_A_PERIOD).
const deliverRetryDelay = 10 * time.Second

// idlePoll is how often an empty level looks for new messages. Arrivals
// are few per level and a tenth of a second is well inside the precision
// users expect of delay levels.
const idlePoll = 100 * time.Millisecond

func newScheduleService(b *Broker) (*scheduleService, error) {
	levels, err := message.ParseDelayLevels(b.cfg.MessageDelayLevel)
	if err != nil {
		return nil, err
	}
	s := &scheduleService{b: b, levels: levels, offsets: map[int]int64{}, busy: make([]bool, len(levels)+1), timers: make([]host.Timer, len(levels)+1)}
	path := filepath.Join(b.cfg.Store.StorePathRootDir, "config", "delayOffset.json")
	s.file = newConfigFile(b.env.FS, b.log, path, s.encode)
	return s, nil
}

type delayOffsetsFile struct {
	OffsetTable map[string]int64 `json:"offsetTable"`
}

func (s *scheduleService) encode() ([]byte, error) {
	t := map[string]int64{}
	for l, o := range s.offsets {
		t[strconv.Itoa(l)] = o
	}
	return json.MarshalIndent(delayOffsetsFile{OffsetTable: t}, "", "\t")
}

func (s *scheduleService) load() error {
	var f delayOffsetsFile
	found, err := s.file.load(&f)
	if err != nil || !found {
		return err
	}
	for k, v := range f.OffsetTable {
		if l, err := strconv.Atoi(k); err == nil && l >= 1 && l <= len(s.levels) {
			s.offsets[l] = v
		}
	}
	return nil
}

// tagsCode is the store's tags-code function: delivery time for schedule
// queues, the TAGS hash elsewhere.
func (s *scheduleService) tagsCode(topic string, props []byte, storeTs int64) int64 {
	if topic != message.ScheduleTopic {
		return store.DefaultTagsCode(props)
	}
	v, _ := message.LookupProperty(props, message.PropertyDelayLevel)
	level, err := strconv.Atoi(string(v))
	if err != nil || level < 1 {
		return storeTs
	}
	level = min(level, len(s.levels))
	return storeTs + s.levels[level-1].Milliseconds()
}

func (s *scheduleService) start() {
	for level := 1; level <= len(s.levels); level++ {
		s.arm(level, idlePoll)
	}
	s.b.every(10*time.Second, func() {
		if s.dirty {
			s.dirty = false
			s.file.persist()
		}
	})
}

func (s *scheduleService) stop() {
	s.stopped = true
	for _, t := range s.timers {
		if t != nil {
			t.Stop()
		}
	}
}

func (s *scheduleService) arm(level int, d time.Duration) {
	if s.stopped {
		return
	}
	if t := s.timers[level]; t != nil {
		t.Stop()
	}
	s.timers[level] = s.b.env.Clock.AfterFunc(d, func() {
		s.timers[level] = nil
		s.deliver(level)
	})
}

// deliver writes back the due head of a level's queue, one message at a
// time so that a level's messages keep their order.
func (s *scheduleService) deliver(level int) {
	if s.stopped || s.busy[level] {
		return
	}
	st := s.b.store
	qid := int32(level - 1)
	offset := s.offsets[level]
	if min := st.MinOffsetInQueue(message.ScheduleTopic, qid); offset < min {
		offset = min // retention deleted what was never delivered
		s.offsets[level] = offset
	}
	if offset >= st.MaxOffsetInQueue(message.ScheduleTopic, qid) {
		s.arm(level, idlePoll)
		return
	}
	res := st.GetMessage(message.ScheduleTopic, qid, offset, 1, store.MatchAll{})
	if res.Status != store.Found {
		// A hole or a removed record: step over it.
		if res.NextBeginOffset > offset {
			s.advance(level, res.NextBeginOffset)
		}
		s.arm(level, 0)
		return
	}
	r := res.Ranges[0]
	rec := r.View
	if rec == nil {
		rec = make([]byte, r.N)
		if _, err := r.File.ReadAt(rec, r.Off); err != nil {
			s.b.log.Error("broker: read a delayed message", "level", level, "offset", offset, "err", err)
			s.arm(level, deliverRetryDelay)
			return
		}
	}
	rec0, _, err := message.DecodeHeader(rec)
	if err != nil {
		s.b.log.Error("broker: undecodable delayed message; skipping it", "level", level, "offset", offset, "err", err)
		s.advance(level, offset+1)
		s.arm(level, 0)
		return
	}
	due := s.tagsCode(message.ScheduleTopic, rec0.Properties, rec0.StoreTimestamp)
	now := s.b.env.Clock.Now().UnixMilli()
	if due > now {
		s.arm(level, time.Duration(due-now)*time.Millisecond)
		return
	}
	out, ok := s.realMessage(&rec0)
	if !ok {
		s.b.log.Error("broker: delayed message without a valid real topic; skipping it", "level", level, "offset", offset)
		s.advance(level, offset+1)
		s.arm(level, 0)
		return
	}
	s.busy[level] = true
	st.Put([]store.Message{out}, func(pr store.PutResult) {
		s.busy[level] = false
		if s.stopped {
			return
		}
		if pr.Status != store.PutOK && pr.Status != store.FlushDiskTimeout {
			s.b.log.Warn("broker: delivering a delayed message failed; retrying", "level", level, "status", pr.Status, "err", pr.Err)
			s.arm(level, deliverRetryDelay)
			return
		}
		s.advance(level, offset+1)
		s.arm(level, 0)
	})
}

func (s *scheduleService) advance(level int, offset int64) {
	s.offsets[level] = offset
	s.dirty = true
}

// realMessage rebuilds the message for its real topic: DELAY is removed so
// it is not scheduled again, and WAIT=false, as in RocketMQ, since no
// producer waits for this put.
func (s *scheduleService) realMessage(r *message.Record) (store.Message, bool) {
	props := message.ParseProperties(string(r.Properties))
	topic, _ := props.Get(message.PropertyRealTopic)
	qidStr, _ := props.Get(message.PropertyRealQueueID)
	qid, err := strconv.Atoi(qidStr)
	if message.ValidateTopic(topic) != nil || err != nil || qid < 0 {
		return store.Message{}, false
	}
	props.Delete(message.PropertyDelayLevel)
	props.Delete(store.RecordCRCProperty)
	props.Set(message.PropertyWaitStoreMsgOK, "false")
	enc, err := message.AppendProperties(nil, props)
	if err != nil {
		return store.Message{}, false
	}
	return store.Message{
		Topic:          topic,
		QueueID:        int32(qid),
		Flag:           r.Flag,
		Body:           append([]byte(nil), r.Body...),
		BodyCRC:        r.BodyCRC,
		BodyCRCKnown:   true,
		Properties:     enc,
		SysFlag:        r.SysFlag &^ (message.SysFlagBornHostV6 | message.SysFlagStoreHostV6),
		BornTimestamp:  r.BornTimestamp,
		BornHost:       r.BornHost,
		ReconsumeTimes: r.ReconsumeTimes,
		NoWait:         true,
	}, true
}
