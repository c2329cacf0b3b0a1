package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"

	"github.com/thrustmq/thrust/broker/host"
)

// The checkpoint file records how far the commit log and the consume queues
// were known durable, so that recovery knows where to start verifying and
// from where to rebuild the consume queues.
//
// It holds two copies ("slots") in separate 512-byte sectors, written
// alternately: a torn write can damage only the slot being written, and the
// other still holds the previous checkpoint.
//
//	slot (64 bytes, at offset 0 or 512; big-endian)
//	+-------+---------+----------+---------------------+---------------------+
//	| magic | version | sequence | physicMsgTimestamp  | logicsMsgTimestamp  |
//	|  4    |    4    |    8     |         8           |         8           |
//	+-------+---------+----------+---------------------+---------------------+
//	| flushedPhysOffset | logicsPhysOffset | recordCRCSince |  crc32c  | zero |
//	|        8          |        8         |       8        |    4     |  4   |
//	+-------------------+------------------+----------+----------+-----------+
//
// flushedPhysOffset: every commit-log byte before it was synced.
// logicsPhysOffset: every consume-queue unit of a record before it was
// synced. recordCRCSince: every record at or after it carries the record CRC
// property (-1: none need to). The timestamps are the store times of the
// last flushed records.
// The crc covers the slot's first 56 bytes.
const (
	checkpointFileBytes = 4096
	checkpointSlotBytes = 64
	checkpointSlotGap   = 512
	checkpointMagic     = 0x54484350 // "THCP"
	checkpointVersion   = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpoint is the decoded content of one slot.
type checkpoint struct {
	sequence           uint64
	physicMsgTimestamp int64
	logicsMsgTimestamp int64
	flushedPhysOffset  int64
	logicsPhysOffset   int64
	recordCRCSince     int64
}

func (c checkpoint) encode() []byte {
	b := make([]byte, checkpointSlotBytes)
	binary.BigEndian.PutUint32(b[0:], checkpointMagic)
	binary.BigEndian.PutUint32(b[4:], checkpointVersion)
	binary.BigEndian.PutUint64(b[8:], c.sequence)
	binary.BigEndian.PutUint64(b[16:], uint64(c.physicMsgTimestamp))
	binary.BigEndian.PutUint64(b[24:], uint64(c.logicsMsgTimestamp))
	binary.BigEndian.PutUint64(b[32:], uint64(c.flushedPhysOffset))
	binary.BigEndian.PutUint64(b[40:], uint64(c.logicsPhysOffset))
	binary.BigEndian.PutUint64(b[48:], uint64(c.recordCRCSince))
	binary.BigEndian.PutUint32(b[56:], crc32.Checksum(b[:56], castagnoli))
	return b
}

func decodeCheckpointSlot(b []byte) (checkpoint, bool) {
	if len(b) < checkpointSlotBytes ||
		binary.BigEndian.Uint32(b[0:]) != checkpointMagic ||
		binary.BigEndian.Uint32(b[4:]) != checkpointVersion ||
		binary.BigEndian.Uint32(b[56:]) != crc32.Checksum(b[:56], castagnoli) {
		return checkpoint{}, false
	}
	c := checkpoint{
		sequence:           binary.BigEndian.Uint64(b[8:]),
		physicMsgTimestamp: int64(binary.BigEndian.Uint64(b[16:])),
		logicsMsgTimestamp: int64(binary.BigEndian.Uint64(b[24:])),
		flushedPhysOffset:  int64(binary.BigEndian.Uint64(b[32:])),
		logicsPhysOffset:   int64(binary.BigEndian.Uint64(b[40:])),
		recordCRCSince:     int64(binary.BigEndian.Uint64(b[48:])),
	}
	if c.flushedPhysOffset < 0 || c.logicsPhysOffset < 0 {
		return checkpoint{}, false
	}
	return c, true
}

// checkpointFile owns the file and the one write that may be in flight.
type checkpointFile struct {
	file    host.File
	last    checkpoint // the newest slot written (or read at open)
	writing bool
}

// openCheckpoint opens or creates the checkpoint at path and returns the
// newest valid slot. found is false for a new store, and also when neither
// slot is valid, in which case recovery verifies everything.
func openCheckpoint(fsys host.FS, path string) (cf *checkpointFile, cp checkpoint, found bool, err error) {
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = fsys.Create(path)
		if err != nil {
			return nil, checkpoint{}, false, fmt.Errorf("store: create checkpoint: %w", err)
		}
		if err := f.Truncate(checkpointFileBytes); err != nil {
			f.Close()
			return nil, checkpoint{}, false, fmt.Errorf("store: size checkpoint: %w", err)
		}
		return &checkpointFile{file: f}, checkpoint{}, false, nil
	}
	if err != nil {
		return nil, checkpoint{}, false, fmt.Errorf("store: open checkpoint: %w", err)
	}
	buf := make([]byte, checkpointSlotGap+checkpointSlotBytes)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, checkpoint{}, false, fmt.Errorf("store: read checkpoint: %w", err)
	}
	buf = buf[:n]
	a, okA := decodeCheckpointSlot(buf)
	var b checkpoint
	okB := false
	if len(buf) >= checkpointSlotGap {
		b, okB = decodeCheckpointSlot(buf[checkpointSlotGap:])
	}
	switch {
	case okA && okB:
		cp = a
		if b.sequence > a.sequence {
			cp = b
		}
	case okA:
		cp = a
	case okB:
		cp = b
	}
	return &checkpointFile{file: f, last: cp}, cp, okA || okB, nil
}

// write stores c in the slot not holding the newest checkpoint, then syncs
// it off the loop and calls done. If a write is in flight it does nothing
// and reports false: checkpoints are hints that only need to move forward
// eventually, so the next round simply writes a newer one.
func (cf *checkpointFile) write(c checkpoint, done func(error)) bool {
	if cf.writing {
		return false
	}
	c.sequence = cf.last.sequence + 1
	off := int64(0)
	if c.sequence%2 == 1 {
		off = checkpointSlotGap
	}
	if _, err := cf.file.WriteAt(c.encode(), off); err != nil {
		done(fmt.Errorf("store: write checkpoint: %w", err))
		return true
	}
	cf.writing = true
	cf.file.SyncAsync(func(err error) {
		cf.writing = false
		if err == nil {
			cf.last = c
		}
		done(err)
	})
	return true
}

// writeSync stores c and waits for it: for shutdown.
func (cf *checkpointFile) writeSync(c checkpoint) error {
	c.sequence = cf.last.sequence + 1
	off := int64(0)
	if c.sequence%2 == 1 {
		off = checkpointSlotGap
	}
	if _, err := cf.file.WriteAt(c.encode(), off); err != nil {
		return fmt.Errorf("store: write checkpoint: %w", err)
	}
	if err := cf.file.Sync(); err != nil {
		return fmt.Errorf("store: sync checkpoint: %w", err)
	}
	cf.last = c
	return nil
}
