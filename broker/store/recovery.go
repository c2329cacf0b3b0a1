package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/thrustmq/thrust/broker/message"
)

// recover brings the store back to a consistent state after any stop, clean
// or not:
//
//  1. Open the checkpoint: how far the commit log (flushedPhysOffset) and
//     the consume queues (logicsPhysOffset) were known durable.
//  2. Verify commit-log records from the start of the segment that holds
//     the checkpointed offset, or RecoverVerifySegments-1 segments earlier:
//     magic, sizes, body CRC, record CRC, and that each record's
//     PHYSICALOFFSET is where it sits. A bad record in data the checkpoint
//     says was synced is corruption, not a torn write: recovery steps over
//     it to the next good record and quarantines the bad range, losing
//     nothing else. A bad record in unsynced data is a torn tail: the log is
//     truncated there and the rest (never acknowledged under SYNC_FLUSH) is
//     dropped, with a log line saying how much.
//  3. Truncate every consume queue to its durable, valid prefix and rebuild
//     the rest from the commit log, from logicsPhysOffset on.
func (s *Store) recover() error {
	cfg := &s.cfg
	cl, err := openCommitLog(s.env.FS, s.dirs, s.log, cfg)
	if err != nil {
		return err
	}
	s.cl = cl
	cpf, cp, found, err := openCheckpoint(s.env.FS, filepath.Join(cfg.StorePathRootDir, "checkpoint"))
	if err != nil {
		return err
	}
	s.cp = cpf
	if _, err := s.env.FS.Stat(s.abortPath()); err == nil {
		s.recovery.Unclean = true
		s.log.Warn("store: the last run did not shut down cleanly; recovering")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: stat abort marker: %w", err)
	}
	if !found {
		cp = checkpoint{recordCRCSince: -1}
		if len(cl.segs.segs) > 0 {
			s.log.Warn("store: no valid checkpoint; verifying the whole commit log and rebuilding every consume queue")
		}
	}

	s.skipCRC = s.env.Faults.Fire(BugRecoverySkipsCRC)
	end, err := s.recoverCommitLog(cp)
	if err != nil {
		return err
	}
	// What recovery found after a process crash may be only in the page
	// cache: sync it before calling it flushed, dispatching it, or letting
	// a checkpoint say so. (Found by the simulator: a recovery that took
	// page-cache records as durable, then a power loss, and the next
	// recovery met zeros where the checkpoint promised synced records.)
	for off := min(cp.flushedPhysOffset, end); off < end; {
		seg := cl.segs.find(off)
		if seg == nil {
			break
		}
		if err := seg.file.Sync(); err != nil {
			return fmt.Errorf("store: sync recovered segment %s: %w", seg.file.Name(), err)
		}
		off = seg.end()
	}
	cl.flushed = end
	s.dispatchedPhys = end
	if cfg.EnabledAppendPropCRC {
		s.recordCRCSince = end
		if cp.recordCRCSince >= 0 && cp.recordCRCSince <= end {
			s.recordCRCSince = cp.recordCRCSince
		}
	} else {
		s.recordCRCSince = -1
	}

	logicsPhys := min(cp.logicsPhysOffset, end)
	if !found {
		logicsPhys = 0
	}
	if err := s.recoverConsumeQueues(logicsPhys, end); err != nil {
		return err
	}
	if err := s.redispatch(max(logicsPhys, cl.minOffset()), end); err != nil {
		return err
	}
	if err := s.loadReservations(); err != nil {
		return err
	}
	if s.recovery.Unclean {
		if err := s.skipToReservations(); err != nil {
			return err
		}
	}
	for _, cq := range s.cqList {
		s.topicQueueTable[topicQueue{cq.topic, cq.queueID}] = cq.maxOffset()
	}
	if s.reserving() {
		// Reserve a window ahead of every queue before the first put.
		for _, cq := range s.cqList {
			k := topicQueue{cq.topic, cq.queueID}
			s.res.wanted[k] = max(s.res.durable[k], cq.maxOffset()+reserveWindow)
		}
		if err := s.writeReservationsSync(); err != nil {
			return err
		}
	}

	// Make the recovered state the checkpoint before accepting writes, so
	// that a crash soon after cannot pair the new records with an older
	// checkpoint's idea of which records carry a CRC property.
	for _, cq := range s.cqList {
		cq.dirty = false
		for _, seg := range cq.segs.segs {
			if seg.synced < seg.wrote {
				if err := seg.file.Sync(); err != nil {
					return fmt.Errorf("store: sync consume queue: %w", err)
				}
				seg.synced = seg.wrote
			}
		}
	}
	s.logicsPhys = end
	s.flushedStoreTs = s.lastStoreTs
	s.logicsStoreTs = s.lastStoreTs
	if err := s.cp.writeSync(s.currentCheckpoint()); err != nil {
		return err
	}
	s.log.Info("store: recovered", "commitLogMin", cl.minOffset(), "commitLogMax", end,
		"consumeQueues", len(s.cqList), "quarantinedRanges", len(s.quarantine))
	return nil
}

// recoverCommitLog verifies the tail of the commit log and returns where it
// ends.
func (s *Store) recoverCommitLog(cp checkpoint) (int64, error) {
	segs := s.cl.segs.segs
	if len(segs) == 0 {
		return 0, nil
	}
	first := 0
	if cp.flushedPhysOffset > 0 {
		idx := (cp.flushedPhysOffset - segs[0].start) / s.cl.segs.segSize
		idx = min(max(idx, 0), int64(len(segs)-1))
		first = max(0, int(idx)-(s.cfg.RecoverVerifySegments-1))
	}
	// Segments before the first verified one are taken as full.
	for _, seg := range segs[:first] {
		seg.wrote, seg.synced = seg.size, seg.size
	}

	var dropped int64
	end := segs[first].start
	for i := first; i < len(segs); i++ {
		seg := segs[i]
		segEnd, stop, err := s.scanSegment(seg, cp)
		if err != nil {
			return 0, err
		}
		end = segEnd
		if stop {
			for _, later := range segs[i+1:] {
				dropped += later.size
			}
			if end < seg.end() {
				// Count what recovery throws away, for the log line.
				dropped += seg.end() - end
			}
			break
		}
	}
	if dropped > 0 {
		s.recovery.TruncatedBytes = dropped
	}
	s.cl.segs.keepTail = s.env.Faults.Fire(BugTruncateKeepsTail)
	defer func() { s.cl.segs.keepTail = false }()
	if end < s.cl.segs.last().end() || s.cl.segs.last().wrote < s.cl.segs.last().size {
		if err := s.cl.segs.truncate(end); err != nil {
			return 0, err
		}
	}
	if seg := s.cl.segs.last(); seg != nil {
		seg.synced = seg.wrote
	}
	return end, nil
}

// scanSegment verifies seg's records from its start. It returns the offset
// just past the last good record and whether the log ends in this segment
// (stop: a clean end of data or a torn tail; later segments are dropped).
func (s *Store) scanSegment(seg *segment, cp checkpoint) (end int64, stop bool, err error) {
	data, err := seg.read(0, int(seg.size))
	if err != nil {
		return 0, false, err
	}
	crcSince := s.recordCRCSinceFor(cp)
	pos := int64(0)
	for pos < seg.size {
		rest := data[pos:]
		phys := seg.start + pos
		n, verr := verifyRecordAt(rest, phys, phys >= crcSince, s.skipCRC)
		switch {
		case verr == nil:
			s.lastStoreTs = max(s.lastStoreTs, storeTimestampOf(rest))
			pos += int64(n)
			continue
		case errors.Is(verr, message.ErrBlank):
			seg.wrote, seg.synced = seg.size, seg.size
			return seg.end(), false, nil
		case errors.Is(verr, message.ErrNoRecord) && phys >= cp.flushedPhysOffset:
			// Zeros where the next record would start, past the synced
			// data: the clean end of what was written (or of what a power
			// loss kept; the checks below tell the two apart in the log).
			if parsable := countParsableAfterZeros(rest); parsable > 0 {
				s.log.Warn("store: dropping records after a lost page of unsynced data",
					"file", seg.file.Name(), "offset", phys, "droppedRecordsThatStillParse", parsable)
			}
			seg.wrote, seg.synced = pos, pos
			return phys, true, nil
		}
		// A bad record. Inside synced data it is corruption; skip to the
		// next good record if one follows within this segment.
		if phys < cp.flushedPhysOffset {
			if next, ok := findNextRecord(rest, phys, cp.flushedPhysOffset, crcSince); ok {
				s.log.Error("store: corrupt record inside synced data; quarantined, later records kept",
					"file", seg.file.Name(), "from", phys, "to", phys+next, "err", verr)
				s.quarantine = append(s.quarantine, physRange{phys, phys + next})
				s.recovery.Quarantined++
				pos += next
				continue
			}
		}
		s.recovery.TornTail = true
		s.log.Warn("store: truncating the commit log at a torn or corrupt record",
			"file", seg.file.Name(), "offset", phys, "checkpointFlushed", cp.flushedPhysOffset,
			"droppedRecordsThatStillParse", countParsableAfterZeros(rest), "err", verr)
		seg.wrote, seg.synced = pos, pos
		return phys, true, nil
	}
	seg.wrote, seg.synced = seg.size, seg.size
	return seg.end(), false, nil
}

func (s *Store) recordCRCSinceFor(cp checkpoint) int64 {
	if cp.recordCRCSince < 0 {
		return 1<<63 - 1
	}
	return cp.recordCRCSince
}

// verifyRecordAt checks the record at the start of p, which sits at
// physical offset phys, and returns its size. needCRC says whether the
// record must carry the record CRC property.
func verifyRecordAt(p []byte, phys int64, needCRC bool, skipCRC bool) (int, error) {
	decode := message.Decode
	if skipCRC {
		decode = message.DecodeHeader
	}
	r, n, err := decode(p)
	if err != nil {
		return n, err
	}
	if r.PhysicalOffset != phys {
		return 0, fmt.Errorf("store: record at %d says it is at %d", phys, r.PhysicalOffset)
	}
	rec := p[:n]
	if skipCRC {
		return n, nil
	}
	if needCRC && !hasRecordCRC(rec) {
		return 0, fmt.Errorf("%w: record at %d lacks its CRC property", errRecordCRC, phys)
	}
	if err := verifyRecordCRC(rec); err != nil {
		return 0, err
	}
	return n, nil
}

func storeTimestampOf(rec []byte) int64 {
	r, _, err := message.DecodeHeader(rec)
	if err != nil {
		return 0
	}
	return r.StoreTimestamp
}

// findNextRecord looks for the first position after p's start, below limit,
// where a whole, valid record (or the end-of-segment blank) begins, and
// returns its distance from p's start. A record's PHYSICALOFFSET names its
// own position, which makes a false match in arbitrary bytes practically
// impossible.
func findNextRecord(p []byte, phys, limit, crcSince int64) (int64, bool) {
	// Records first: a blank is accepted only when no record follows, so
	// that damage which happens to look like a blank cannot hide the
	// records after it.
	for i := 1; i+message.MinRecordSize <= len(p) && phys+int64(i) < limit; i++ {
		at := phys + int64(i)
		if int64(binary.BigEndian.Uint64(p[i+message.PhysicalOffsetPosition:])) == at {
			if _, err := verifyRecordAt(p[i:], at, at >= crcSince, false); err == nil {
				return int64(i), true
			}
		}
	}
	for i := 1; i+message.BlankSize <= len(p) && phys+int64(i) < limit; i++ {
		if int32(binary.BigEndian.Uint32(p[i+message.MagicPosition:])) == message.BlankMagic &&
			int64(binary.BigEndian.Uint32(p[i:])) == int64(len(p)-i) {
			return int64(i), true
		}
	}
	return 0, false
}

// countParsableAfterZeros counts the valid records that follow a
// truncation point, skipping zeros, so that the log says what was lost.
func countParsableAfterZeros(p []byte) int {
	n := 0
	for i := 0; i < len(p) && n < 1<<20; {
		if p[i] == 0 {
			i++
			continue
		}
		_, size, err := message.Decode(p[i:])
		if err != nil || size <= 0 {
			// Not at a record start: try the next byte of this run.
			i++
			continue
		}
		n++
		i += size
	}
	return n
}

// recoverConsumeQueues opens every consume queue and truncates each to the
// prefix that is durable and names records the commit log still has.
func (s *Store) recoverConsumeQueues(logicsPhys, end int64) error {
	root := s.cfg.consumeQueueDir()
	if err := s.dirs.ensure(root); err != nil {
		return err
	}
	topics, err := s.env.FS.List(root)
	if err != nil {
		return fmt.Errorf("store: list %s: %w", root, err)
	}
	for _, topic := range topics {
		if message.ValidateTopic(topic) != nil {
			s.log.Warn("store: ignoring a consume-queue directory that is not a topic", "dir", filepath.Join(root, topic))
			continue
		}
		topicDir := filepath.Join(root, topic)
		queues, err := s.env.FS.List(topicDir)
		if err != nil {
			return fmt.Errorf("store: list %s: %w", topicDir, err)
		}
		for _, q := range queues {
			id, err := strconv.ParseInt(q, 10, 32)
			if err != nil || id < 0 {
				s.log.Warn("store: ignoring a consume-queue directory that is not a queue id", "dir", filepath.Join(topicDir, q))
				continue
			}
			cq, err := s.consumeQueue(topic, int32(id), true)
			if err != nil {
				return err
			}
			if err := cq.recoverTail(s.cl.minOffset(), end, logicsPhys); err != nil {
				return fmt.Errorf("store: recover consume queue %s-%d: %w", topic, id, err)
			}
		}
	}
	return nil
}

// redispatch rebuilds consume-queue units for the records in [from, to).
// Units the queues kept are skipped by consumeQueue.put.
func (s *Store) redispatch(from, to int64) error {
	for off := from; off < to; {
		seg := s.cl.segs.find(off)
		if seg == nil {
			return fmt.Errorf("store: commit-log offset %d missing during re-dispatch", off)
		}
		data, err := seg.read(0, int(seg.wrote))
		if err != nil {
			return err
		}
		for off < seg.start+seg.wrote && off < to {
			if q := s.quarantineAt(off); q != nil {
				off = q.to
				continue
			}
			r, n, err := message.DecodeHeader(data[off-seg.start:])
			if errors.Is(err, message.ErrBlank) {
				break
			}
			if err != nil {
				return fmt.Errorf("store: re-dispatch at %d: %w", off, err)
			}
			if message.TransactionType(r.SysFlag) == message.SysFlagTransactionCommit {
				s.recovery.CommittedTransactions = append(s.recovery.CommittedTransactions, r.PreparedTransactionOffset)
			}
			if !isPreparedOrRollback(r.SysFlag) {
				cq, err := s.consumeQueue(r.Topic, r.QueueID, true)
				if err != nil {
					return err
				}
				if cq.segs.last() != nil && r.QueueOffset > cq.maxOffset() {
					s.log.Error("store: consume queue gap: records were lost; the offsets between are skipped",
						"topic", r.Topic, "queue", r.QueueID, "from", cq.maxOffset(), "to", r.QueueOffset)
				}
				if err := cq.put(r.QueueOffset, off, int32(n), s.tagsCodeOf(r.Topic, r.Properties, r.StoreTimestamp)); err != nil {
					return err
				}
			}
			s.dispatchedTs = r.StoreTimestamp
			off += int64(n)
		}
		if off < to {
			off = seg.end()
		}
	}
	return nil
}

// quarantineAt returns the quarantined range holding phys, or nil.
func (s *Store) quarantineAt(phys int64) *physRange {
	for i := range s.quarantine {
		if q := &s.quarantine[i]; q.from <= phys && phys < q.to {
			return q
		}
	}
	return nil
}
