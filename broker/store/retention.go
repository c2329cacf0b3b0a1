package store

import (
	"encoding/binary"
	"fmt"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
)

// refreshDiskUsage reads the usage of the device holding the commit log.
func (s *Store) refreshDiskUsage() {
	du, ok := s.env.FS.(host.DiskUsager)
	if !ok {
		return
	}
	u, err := du.DiskUsage(s.cfg.commitLogDir())
	if err != nil {
		s.log.Warn("store: cannot read disk usage", "err", err)
		return
	}
	s.diskUsage, s.diskUsageKnown = u, true
}

// DiskUsage is the last reading of the commit log's device.
func (s *Store) DiskUsage() (host.DiskUsage, bool) { return s.diskUsage, s.diskUsageKnown }

// diskFullReason explains why writes are refused for lack of space, or is
// empty. Refusing at diskSpaceWarningLevelRatio, before the device is full,
// is what keeps a put from failing half-way through a segment.
func (s *Store) diskFullReason() string {
	if !s.diskUsageKnown {
		return ""
	}
	ratio := s.diskUsage.UsedRatio()
	if ratio < s.cfg.DiskSpaceWarningLevelRatio {
		return ""
	}
	return fmt.Sprintf("store: disk full: %.1f%% of %s used, writes refused above diskSpaceWarningLevelRatio %.0f%%",
		100*ratio, s.cfg.commitLogDir(), 100*s.cfg.DiskSpaceWarningLevelRatio)
}

// cleanResources is the retention pass (RocketMQ's CleanCommitLogService
// and CleanConsumeQueueService): at the deleteWhen hour, or whenever the
// disk is fuller than diskMaxUsedSpaceRatio, delete commit-log segments
// whose newest record is older than fileReservedTime; above
// diskSpaceCleanForciblyRatio, delete the oldest segments even if younger.
// Then drop consume-queue units and files that point at deleted data.
func (s *Store) cleanResources() {
	s.refreshDiskUsage()
	ratio := 0.0
	if s.diskUsageKnown {
		ratio = s.diskUsage.UsedRatio()
	}
	now := s.env.Clock.Now()
	due := now.Hour() == s.cfg.DeleteWhen
	spaceTight := ratio >= s.cfg.DiskMaxUsedSpaceRatio
	forcibly := ratio >= s.cfg.DiskSpaceCleanForciblyRatio
	if !due && !spaceTight {
		return
	}
	const maxDeletesPerPass = 10
	segs := s.cl.segs.segs
	deletable := 0
	// Never the last segment (it is being written), never data not yet
	// flushed or indexed.
	for i := 0; i+1 < len(segs) && deletable < maxDeletesPerPass; i++ {
		seg := segs[i]
		if seg.end() > s.cl.flushed || seg.end() > s.dispatchedPhys {
			break
		}
		// The next segment's first record was stored after every record of
		// this one, so its store time bounds this segment's newest record.
		newest, ok := s.firstStoreTimestamp(segs[i+1])
		if !ok {
			newest = s.lastStoreTs
		}
		age := now.UnixMilli() - newest
		if age < s.cfg.FileReservedTime.Milliseconds() && !forcibly {
			break
		}
		deletable++
	}
	if deletable == 0 {
		return
	}
	s.log.Info("store: deleting expired commit-log segments", "count", deletable,
		"from", segs[0].start, "to", segs[deletable-1].end(), "diskUsed", ratio, "forcibly", forcibly)
	if err := s.cl.segs.removeFirst(deletable); err != nil {
		s.log.Error("store: delete commit-log segments", "err", err)
		return
	}
	s.stats.SegmentsDeleted += uint64(deletable)
	s.dropQuarantineBelow(s.cl.minOffset())
	s.cleanConsumeQueues(s.cl.minOffset())
	s.refreshDiskUsage()
}

func (s *Store) firstStoreTimestamp(seg *segment) (int64, bool) {
	head, err := seg.read(0, message.StoreTimestampPositionV6+8)
	if err != nil {
		return 0, false
	}
	if int32(binary.BigEndian.Uint32(head[message.MagicPosition:])) != message.MagicV1 &&
		int32(binary.BigEndian.Uint32(head[message.MagicPosition:])) != message.MagicV2 {
		return 0, false
	}
	pos := message.StoreTimestampPosition
	if int32(binary.BigEndian.Uint32(head[message.SysFlagPosition:]))&message.SysFlagBornHostV6 != 0 {
		pos = message.StoreTimestampPositionV6
	}
	return int64(binary.BigEndian.Uint64(head[pos:])), true
}

func (s *Store) dropQuarantineBelow(min int64) {
	i := 0
	for i < len(s.quarantine) && s.quarantine[i].to <= min {
		i++
	}
	s.quarantine = s.quarantine[i:]
}

// cleanConsumeQueues moves every queue's minimum past units that name
// deleted commit log, and deletes consume-queue segments wholly below it.
func (s *Store) cleanConsumeQueues(commitLogMin int64) {
	for _, cq := range s.cqList {
		if err := cq.advanceMin(commitLogMin); err != nil {
			s.log.Error("store: advance consume-queue minimum", "topic", cq.topic, "queue", cq.queueID, "err", err)
			continue
		}
		n := 0
		minByte := cq.minLogicOffset * message.CQUnitSize
		for i, seg := range cq.segs.segs {
			// Keep the last segment even when empty of live units: it is
			// where the queue's next unit goes.
			if i == len(cq.segs.segs)-1 || seg.end() > minByte {
				break
			}
			n++
		}
		if n > 0 {
			if err := cq.segs.removeFirst(n); err != nil {
				s.log.Error("store: delete consume-queue segments", "topic", cq.topic, "queue", cq.queueID, "err", err)
			}
		}
	}
}
