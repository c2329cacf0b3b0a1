package store

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
)

// GetStatus is RocketMQ's GetMessageStatus.
type GetStatus int

const (
	Found GetStatus = iota
	NoMatchedMessage
	MessageWasRemoving
	OffsetFoundNull
	OffsetOverflowBadly
	OffsetOverflowOne
	OffsetTooSmall
	NoMatchedLogicQueue
	NoMessageInQueue
)

var getStatusNames = [...]string{
	Found:               "FOUND",
	NoMatchedMessage:    "NO_MATCHED_MESSAGE",
	MessageWasRemoving:  "MESSAGE_WAS_REMOVING",
	OffsetFoundNull:     "OFFSET_FOUND_NULL",
	OffsetOverflowBadly: "OFFSET_OVERFLOW_BADLY",
	OffsetOverflowOne:   "OFFSET_OVERFLOW_ONE",
	OffsetTooSmall:      "OFFSET_TOO_SMALL",
	NoMatchedLogicQueue: "NO_MATCHED_LOGIC_QUEUE",
	NoMessageInQueue:    "NO_MESSAGE_IN_QUEUE",
}

func (s GetStatus) String() string {
	if int(s) < len(getStatusNames) {
		return getStatusNames[s]
	}
	return fmt.Sprintf("GetStatus(%d)", int(s))
}

// Range is a run of whole records in one commit-log segment: what a pull
// response sends, untouched, with sendfile or by copying View.
type Range struct {
	File host.File
	Off  int64  // offset in File
	N    int    // bytes
	View []byte // the same bytes through the mapping, or nil
}

// GetResult is what GetMessage found.
type GetResult struct {
	Status          GetStatus
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	Ranges          []Range
	MsgCount        int
	BodyBytes       int
}

// MessageFilter chooses the records a pull returns.
type MessageFilter interface {
	// MatchTagsCode judges a record by its consume-queue unit.
	MatchTagsCode(tagsCode int64) bool
	// MatchRecord judges a record whose unit matched, by its bytes. It is
	// called only when NeedsRecord is true (SQL92 property filters).
	NeedsRecord() bool
	MatchRecord(rec []byte) bool
}

// MatchAll is the filter of a "*" subscription.
type MatchAll struct{}

func (MatchAll) MatchTagsCode(int64) bool { return true }
func (MatchAll) NeedsRecord() bool        { return false }
func (MatchAll) MatchRecord([]byte) bool  { return true }

// GetMessage reads up to maxMsgNums records of (topic, queueID) from logical
// offset offset that filter accepts, within the transfer limits, and says
// where the next pull should start. The ranges stay valid until the loop
// callback returns; send them before then.
func (s *Store) GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, filter MessageFilter) GetResult {
	if filter == nil {
		filter = MatchAll{}
	}
	cq := s.cqs[topicQueue{topic, queueID}]
	if cq == nil {
		return GetResult{Status: NoMatchedLogicQueue}
	}
	res := GetResult{MinOffset: cq.minLogicOffset, MaxOffset: cq.maxOffset()}
	switch {
	case res.MaxOffset == 0:
		res.Status = NoMessageInQueue
		return res
	case offset < res.MinOffset:
		res.Status, res.NextBeginOffset = OffsetTooSmall, res.MinOffset
		return res
	case offset == res.MaxOffset:
		res.Status, res.NextBeginOffset = OffsetOverflowOne, offset
		return res
	case offset > res.MaxOffset:
		res.Status, res.NextBeginOffset = OffsetOverflowBadly, res.MaxOffset
		return res
	}

	maxMsgNums = max(1, maxMsgNums)
	// How many units one pull may scan looking for matches (RocketMQ's
	// maxFilterMessageCount: 16000 bytes of consume queue, or more for big
	// batches). It bounds the work a selective filter costs per pull.
	scanLimit := max(16000/message.CQUnitSize, maxMsgNums)
	units, err := cq.units(offset, scanLimit)
	if err != nil || len(units) == 0 {
		if err != nil {
			s.log.Error("store: read consume queue", "topic", topic, "queue", queueID, "offset", offset, "err", err)
		}
		res.Status, res.NextBeginOffset = OffsetFoundNull, offset+1
		return res
	}
	status := NoMatchedMessage
	clMin := s.cl.minOffset()
	next := offset
	for i := 0; i+message.CQUnitSize <= len(units); i += message.CQUnitSize {
		phys, size, tagsCode := message.ReadCQUnit(units[i:])
		if size <= 0 || s.quarantined(phys) {
			next++ // a hole or a corrupt record: never served
			continue
		}
		if phys < clMin {
			status = MessageWasRemoving
			next++
			continue
		}
		if res.MsgCount >= maxMsgNums || res.MsgCount >= s.cfg.MaxTransferCountOnMessageInMemory ||
			res.MsgCount > 0 && res.BodyBytes+int(size) > s.cfg.MaxTransferBytesOnMessageInMemory {
			break
		}
		if !filter.MatchTagsCode(tagsCode) {
			next++
			continue
		}
		rec, seg, err := s.cl.read(phys, int(size))
		if err != nil || !plausibleRecord(rec, size) {
			s.log.Error("store: consume-queue unit names no record; skipping it",
				"topic", topic, "queue", queueID, "offset", next, "phys", phys, "size", size, "err", err)
			next++
			continue
		}
		if filter.NeedsRecord() && !filter.MatchRecord(rec) {
			next++
			continue
		}
		pos := phys - seg.start
		if n := len(res.Ranges); n > 0 && res.Ranges[n-1].File == seg.file && res.Ranges[n-1].Off+int64(res.Ranges[n-1].N) == pos {
			last := &res.Ranges[n-1]
			last.N += int(size)
			if last.View != nil {
				last.View = seg.view[last.Off : pos+int64(size)]
			}
		} else {
			r := Range{File: seg.file, Off: pos, N: int(size)}
			if seg.view != nil {
				r.View = seg.view[pos : pos+int64(size)]
			}
			res.Ranges = append(res.Ranges, r)
		}
		res.MsgCount++
		res.BodyBytes += int(size)
		next++
	}
	if res.MsgCount > 0 {
		status = Found
	}
	res.Status, res.NextBeginOffset = status, next
	s.stats.GetMessages += uint64(res.MsgCount)
	s.stats.GetBytes += uint64(res.BodyBytes)
	return res
}

// plausibleRecord is the read path's cheap check that a unit points at the
// start of the record it names: the record's own size and magic. It touches
// only the first bytes, so sendfile still moves the rest without the CPU.
func plausibleRecord(rec []byte, size int32) bool {
	if len(rec) < 8 || int32(binary.BigEndian.Uint32(rec)) != size {
		return false
	}
	magic := int32(binary.BigEndian.Uint32(rec[4:]))
	return magic == message.MagicV1 || magic == message.MagicV2
}

func (s *Store) quarantined(phys int64) bool {
	if len(s.quarantine) == 0 {
		return false
	}
	i := sort.Search(len(s.quarantine), func(i int) bool { return s.quarantine[i].to > phys })
	return i < len(s.quarantine) && s.quarantine[i].from <= phys
}

// MaxOffsetInQueue is the queue's next logical offset (its unit count); 0
// for an unknown queue.
func (s *Store) MaxOffsetInQueue(topic string, queueID int32) int64 {
	if cq := s.cqs[topicQueue{topic, queueID}]; cq != nil {
		return cq.maxOffset()
	}
	return 0
}

// MinOffsetInQueue is the queue's first logical offset still stored.
func (s *Store) MinOffsetInQueue(topic string, queueID int32) int64 {
	if cq := s.cqs[topicQueue{topic, queueID}]; cq != nil {
		return cq.minLogicOffset
	}
	return 0
}

// CommitLogMinOffset and CommitLogMaxOffset bound the stored commit log.
func (s *Store) CommitLogMinOffset() int64 { return s.cl.minOffset() }
func (s *Store) CommitLogMaxOffset() int64 { return s.cl.writeOffset() }

// storeTimestampAt reads the store time of the record at phys.
func (s *Store) storeTimestampAt(phys int64, size int32) (int64, error) {
	rec, _, err := s.cl.read(phys, int(size))
	if err != nil {
		return 0, err
	}
	if !plausibleRecord(rec, size) || len(rec) < message.StoreTimestampPositionV6+8 {
		return 0, fmt.Errorf("store: no record at %d", phys)
	}
	pos := message.StoreTimestampPosition
	if int32(binary.BigEndian.Uint32(rec[message.SysFlagPosition:]))&message.SysFlagBornHostV6 != 0 {
		pos = message.StoreTimestampPositionV6
	}
	return int64(binary.BigEndian.Uint64(rec[pos:])), nil
}

// BoundaryType picks among records stored at the same millisecond.
type BoundaryType int

const (
	BoundaryLower BoundaryType = iota // the first record stored at or after ts
	BoundaryUpper                     // the last record stored at or before ts
)

// OffsetByTimestamp finds a logical offset by store time with a binary
// search over the queue (store times never decrease along the log). LOWER
// returns the first offset stored at or after ts, or the max offset if all
// are older; UPPER the last at or before ts. A queue whose messages are all
// newer answers its min offset.
func (s *Store) OffsetByTimestamp(topic string, queueID int32, ts int64, boundary BoundaryType) int64 {
	cq := s.cqs[topicQueue{topic, queueID}]
	if cq == nil {
		return 0
	}
	lo, hi := cq.minLogicOffset, cq.maxOffset()
	if lo >= hi {
		return hi
	}
	timeAt := func(n int64) (int64, bool) {
		phys, size, _, ok := cq.unit(n)
		if !ok || size <= 0 || s.quarantined(phys) || phys < s.cl.minOffset() {
			return 0, false
		}
		t, err := s.storeTimestampAt(phys, size)
		return t, err == nil
	}
	// Unreadable units (holes, quarantined) are treated as older than ts
	// for LOWER and newer for UPPER, which keeps the predicate monotonic
	// enough: the answer may land next to a hole, never on a wrong record.
	if boundary == BoundaryUpper {
		n := sort.Search(int(hi-lo), func(i int) bool {
			t, ok := timeAt(lo + int64(i))
			return !ok || t > ts
		})
		if n == 0 {
			return lo
		}
		return lo + int64(n) - 1
	}
	n := sort.Search(int(hi-lo), func(i int) bool {
		t, ok := timeAt(lo + int64(i))
		return ok && t >= ts
	})
	return lo + int64(n)
}

// LookMessageByOffset returns a verified copy of the record at phys.
func (s *Store) LookMessageByOffset(phys int64) ([]byte, error) {
	if s.quarantined(phys) {
		return nil, fmt.Errorf("store: record at %d is corrupt", phys)
	}
	head, _, err := s.cl.read(phys, 4)
	if err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(head))
	if size < message.MinRecordSize {
		return nil, fmt.Errorf("store: no record at %d", phys)
	}
	rec, _, err := s.cl.read(phys, int(size))
	if err != nil {
		return nil, err
	}
	if _, _, err := message.Decode(rec); err != nil {
		return nil, fmt.Errorf("store: record at %d: %w", phys, err)
	}
	if err := verifyRecordCRC(rec); err != nil {
		return nil, err
	}
	return append([]byte(nil), rec...), nil
}

// DeleteTopic drops the consume queues of topic and their files. The
// commit-log records stay until retention removes their segments; without
// units nothing serves them.
func (s *Store) DeleteTopic(topic string) error {
	var first error
	keep := s.cqList[:0]
	for _, cq := range s.cqList {
		if cq.topic != topic {
			keep = append(keep, cq)
			continue
		}
		key := topicQueue{cq.topic, cq.queueID}
		delete(s.cqs, key)
		delete(s.topicQueueTable, key)
		s.cqDirty = slices.DeleteFunc(s.cqDirty, func(x *consumeQueue) bool { return x == cq })
		if err := cq.segs.removeFirst(len(cq.segs.segs)); err != nil && first == nil {
			first = err
		}
		if err := s.env.FS.Remove(cq.segs.dir); err != nil && first == nil {
			first = err
		}
	}
	clear(s.cqList[len(keep):])
	s.cqList = keep
	topicDir := filepath.Join(s.cfg.consumeQueueDir(), topic)
	if _, err := s.env.FS.Stat(topicDir); err == nil {
		if err := s.env.FS.Remove(topicDir); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// IsHole reports whether logical offset n of the queue is a hole: an offset
// that names no message by design (skipped after an unclean shutdown, or
// left by a record recovery found corrupt), as opposed to one whose record
// cannot be read. For tools and the simulator's oracle.
func (s *Store) IsHole(topic string, queueID int32, n int64) bool {
	cq := s.cqs[topicQueue{topic, queueID}]
	if cq == nil {
		return false
	}
	_, size, _, ok := cq.unit(n)
	return ok && size == holeUnitSize
}

// QueueIDs lists the queue ids of topic that have consume queues, sorted.
func (s *Store) QueueIDs(topic string) []int32 {
	var ids []int32
	for _, cq := range s.cqList {
		if cq.topic == topic {
			ids = append(ids, cq.queueID)
		}
	}
	slices.Sort(ids)
	return ids
}
