package store

import (
	"fmt"
	"log/slog"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
)

// consumeQueue is the index of one (topic, queueId): unit n, at byte n*20 of
// its segmented log, holds the commit-log offset, size and tags code of the
// queue's n-th message. It is derived data: recovery rebuilds whatever the
// commit log has and the queue lost.
type consumeQueue struct {
	topic   string
	queueID int32
	segs    *segmentQueue
	// minLogicOffset is the first unit that still names a stored record;
	// units below it are blank fill or point at deleted commit log.
	minLogicOffset int64
	dirty          bool // written since the last flush began
}

func openConsumeQueue(fsys host.FS, ds *dirs, log *slog.Logger, dir, topic string, queueID int32, segSize int64, mmap bool) (*consumeQueue, error) {
	segs, err := openSegmentQueue(fsys, ds, log, dir, segSize, mmap)
	if err != nil {
		return nil, err
	}
	cq := &consumeQueue{topic: topic, queueID: queueID, segs: segs}
	if first := segs.first(); first != nil {
		cq.minLogicOffset = first.start / message.CQUnitSize
	}
	return cq, nil
}

// maxOffset is the number of units ever written: the next logical offset.
func (cq *consumeQueue) maxOffset() int64 {
	return cq.segs.writeOffset() / message.CQUnitSize
}

// unit reads logical offset n.
func (cq *consumeQueue) unit(n int64) (physOffset int64, size int32, tagsCode int64, ok bool) {
	if n < cq.minLogicOffset || n >= cq.maxOffset() {
		return 0, 0, 0, false
	}
	off := n * message.CQUnitSize
	seg := cq.segs.find(off)
	if seg == nil {
		return 0, 0, 0, false
	}
	b, err := seg.read(off-seg.start, message.CQUnitSize)
	if err != nil {
		return 0, 0, 0, false
	}
	physOffset, size, tagsCode = message.ReadCQUnit(b)
	return physOffset, size, tagsCode, true
}

// units returns up to max consecutive raw units from logical offset n, all
// from one segment (a read never crosses a file, as in RocketMQ).
func (cq *consumeQueue) units(n int64, max int) ([]byte, error) {
	end := min(cq.maxOffset(), n+int64(max))
	if n < cq.minLogicOffset || n >= end {
		return nil, nil
	}
	off := n * message.CQUnitSize
	seg := cq.segs.find(off)
	if seg == nil {
		return nil, nil
	}
	stop := min(end*message.CQUnitSize, seg.start+seg.wrote)
	return seg.read(off-seg.start, int(stop-off))
}

// holeUnitSize marks a unit whose record was lost (found corrupt by
// recovery): the offset stays a position, readers step over it, and its
// physical offset (that of the next record) keeps units ordered.
const holeUnitSize = -1

// put writes the unit for logical offset n. Units arrive in order; one
// already present is left alone (recovery replays records the queue may
// have kept). A queue whose first unit is above zero starts with blank fill,
// as in RocketMQ; a gap inside a queue, which only lost records leave, is
// filled with holes. The caller logs gaps.
func (cq *consumeQueue) put(n, physOffset int64, size int32, tagsCode int64) error {
	max := cq.maxOffset()
	if n < max {
		return nil
	}
	var unit [message.CQUnitSize]byte
	if n > max && cq.segs.last() == nil {
		start := n * message.CQUnitSize / cq.segs.segSize * cq.segs.segSize
		if _, err := cq.segs.create(start); err != nil {
			return err
		}
		cq.minLogicOffset = n
		for max = start / message.CQUnitSize; max < n; max++ {
			if err := cq.write(unit[:]); err != nil {
				return err
			}
		}
	}
	if max < n {
		message.PutCQUnit(unit[:], physOffset, holeUnitSize, 0)
		for ; max < n; max++ {
			if err := cq.write(unit[:]); err != nil {
				return err
			}
		}
	}
	message.PutCQUnit(unit[:], physOffset, size, tagsCode)
	return cq.write(unit[:])
}

func (cq *consumeQueue) write(unit []byte) error {
	seg := cq.segs.last()
	if seg == nil || seg.wrote == seg.size {
		var err error
		if seg, err = cq.segs.create(cq.segs.writeOffset()); err != nil {
			return err
		}
	}
	if err := seg.write(seg.wrote, unit); err != nil {
		return fmt.Errorf("store: write consume queue %s-%d: %w", cq.topic, cq.queueID, err)
	}
	seg.wrote += int64(len(unit))
	cq.dirty = true
	return nil
}

// truncateAt drops logical offsets n and above.
func (cq *consumeQueue) truncateAt(n int64) error {
	if n >= cq.maxOffset() {
		return nil
	}
	if err := cq.segs.truncate(n * message.CQUnitSize); err != nil {
		return err
	}
	if cq.minLogicOffset > n {
		cq.minLogicOffset = n
	}
	return nil
}

// recoverTail finds the end of the queue's valid prefix after a restart and
// truncates there; the commit log then replays whatever comes after.
//
// A unit is valid when it names a whole record below commitLogEnd, at or
// after the record of the unit before it, and was made durable: its record
// lies before durablePhys, the point up to which consume queues had been
// synced. Blank units (all zero) are valid only as the leading fill of a
// queue that began above offset zero, and only when a valid unit follows;
// anything else all-zero is a page the crash lost.
func (cq *consumeQueue) recoverTail(commitLogMin, commitLogEnd, durablePhys int64) error {
	segs := cq.segs.segs
	for _, s := range segs {
		s.wrote, s.synced = s.size, s.size
	}
	end := int64(-1)
	for i := len(segs) - 1; i >= 0 && end < 0; i-- {
		seg := segs[i]
		validEnd, prevPhys := int64(0), int64(-1)
		for pos := int64(0); pos+message.CQUnitSize <= seg.size; pos += message.CQUnitSize {
			b, err := seg.read(pos, message.CQUnitSize)
			if err != nil {
				return err
			}
			phys, size, _ := message.ReadCQUnit(b)
			if phys == 0 && size == 0 && i == 0 && prevPhys < 0 {
				continue
			}
			if (size <= 0 && size != holeUnitSize) || phys < prevPhys || phys+int64(max(size, 0)) > commitLogEnd || phys >= durablePhys {
				break
			}
			prevPhys = phys
			validEnd = pos + message.CQUnitSize
		}
		if validEnd > 0 || i == 0 {
			end = seg.start + validEnd
		}
	}
	if end >= 0 {
		if err := cq.segs.truncate(end); err != nil {
			return err
		}
	}
	return cq.advanceMin(commitLogMin)
}

// advanceMin moves minLogicOffset past leading blanks and units whose
// records precede commitLogMin (deleted by retention). Units are ordered by
// physical offset, so a binary search finds the first survivor.
func (cq *consumeQueue) advanceMin(commitLogMin int64) error {
	lo, hi := cq.minLogicOffset, cq.maxOffset()
	if first := cq.segs.first(); first != nil {
		lo = max(lo, first.start/message.CQUnitSize)
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		phys, size, _, ok := cq.unit(mid)
		if !ok {
			return fmt.Errorf("store: consume queue %s-%d: unit %d unreadable", cq.topic, cq.queueID, mid)
		}
		if (phys == 0 && size == 0) || phys < commitLogMin {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	cq.minLogicOffset = lo
	return nil
}

// skipTo moves the queue's next offset up to n with holes. A hole takes
// the physical offset of the unit before it, so that units stay ordered and
// recovery, which keeps only units of records before its durable point,
// keeps the holes too. Readers step over them.
func (cq *consumeQueue) skipTo(n int64) error {
	max := cq.maxOffset()
	if n <= max {
		return nil
	}
	holePhys := int64(0)
	if max > cq.minLogicOffset {
		if phys, _, _, ok := cq.unit(max - 1); ok {
			holePhys = phys
		}
	}
	var unit [message.CQUnitSize]byte
	if cq.segs.last() == nil {
		// An empty queue: fill from the segment start, like put does.
		start := max * message.CQUnitSize / cq.segs.segSize * cq.segs.segSize
		if _, err := cq.segs.create(start); err != nil {
			return err
		}
		for max = start / message.CQUnitSize; max < cq.minLogicOffset; max++ {
			if err := cq.write(unit[:]); err != nil {
				return err
			}
		}
	}
	message.PutCQUnit(unit[:], holePhys, holeUnitSize, 0)
	for ; max < n; max++ {
		if err := cq.write(unit[:]); err != nil {
			return err
		}
	}
	return nil
}
