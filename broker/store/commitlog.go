package store

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
)

// commitLog is the append-only log of every record of every topic, in
// fixed-size segments. It knows records' bytes, not their meaning: queue
// offsets, dispatch and acknowledgement are the Store's.
type commitLog struct {
	segs      *segmentQueue
	log       *slog.Logger
	writePath WritePath
	// flushed: every byte before it is durable (a Sync that began after it
	// was written has completed).
	flushed int64
	// scratch holds records encoded for pwrite, and the properties of
	// records that get the CRC property appended.
	scratch []byte
	props   []byte
}

func openCommitLog(fsys host.FS, ds *dirs, log *slog.Logger, cfg *Config) (*commitLog, error) {
	segs, err := openSegmentQueue(fsys, ds, log, cfg.commitLogDir(), cfg.MappedFileSizeCommitLog, true)
	if err != nil {
		return nil, err
	}
	return &commitLog{segs: segs, log: log, writePath: cfg.WritePath}, nil
}

func (cl *commitLog) writeOffset() int64 { return cl.segs.writeOffset() }
func (cl *commitLog) minOffset() int64   { return cl.segs.minOffset() }

// errNoRoom: a record plus the end-of-segment blank does not fit in an
// empty segment. Config.Validate rules this out for single messages; only
// an enormous batch can hit it.
var errNoRoom = errors.New("store: records larger than a commit-log segment")

// errCreateSegment wraps a failure to add a segment (RocketMQ's
// CREATE_MAPPED_FILE_FAILED); host.ErrNoSpace may be wrapped inside.
var errCreateSegment = errors.New("store: cannot create a commit-log segment")

// writableSegment returns a segment with room for n more bytes plus the
// blank that may have to follow them, ending the last segment with a blank
// and starting a new one when it is too full.
func (cl *commitLog) writableSegment(n int) (*segment, error) {
	need := int64(n) + message.BlankSize
	seg := cl.segs.last()
	if seg != nil && seg.size-seg.wrote >= need {
		return seg, nil
	}
	if need > cl.segs.segSize {
		return nil, errNoRoom
	}
	start := int64(0)
	if seg != nil {
		if seg.wrote < seg.size {
			// The invariant "a blank always fits" holds because every
			// append left at least BlankSize bytes free.
			blank := message.AppendBlank(cl.scratch[:0], int32(seg.size-seg.wrote))
			if err := seg.write(seg.wrote, blank); err != nil {
				return nil, fmt.Errorf("store: write end-of-segment blank: %w", err)
			}
			seg.wrote = seg.size
		}
		start = seg.end()
	}
	seg, err := cl.segs.create(start)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCreateSegment, err)
	}
	return seg, nil
}

// appendRecords writes recs back to back in one segment, sets each one's
// PhysicalOffset, and returns the offset of the first, each record's size
// (appended to sizes[:0]) and the total. The records must have passed the
// store's validation (topic and properties lengths, hosts): on an encoding
// failure here nothing is kept, but it means a bug upstream.
//
// Each record's BodyCRC must already be set. With withCRC, each record's
// properties get the record CRC property; the Properties slices are replaced
// by copies in cl.props, valid until the next call.
func (cl *commitLog) appendRecords(recs []message.Record, sizes []int, withCRC bool) (phys int64, _ []int, total int, err error) {
	if withCRC {
		// Build every record's properties in one buffer, then slice it, so
		// that growing the buffer cannot leave earlier slices behind.
		cl.props = cl.props[:0]
		ends := sizes[:0]
		for i := range recs {
			cl.props = appendRecordCRCPlaceholder(cl.props, recs[i].Properties)
			ends = append(ends, len(cl.props))
		}
		start := 0
		for i := range recs {
			recs[i].Properties = cl.props[start:ends[i]:ends[i]]
			start = ends[i]
		}
	}
	sizes = sizes[:0]
	for i := range recs {
		r := &recs[i]
		n := message.EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag)
		sizes = append(sizes, n)
		total += n
	}
	seg, err := cl.writableSegment(total)
	if err != nil {
		return 0, sizes, 0, err
	}
	pos := seg.wrote
	phys = seg.start + pos
	dst := seg.slot(pos, total)
	viaScratch := dst == nil || cl.writePath == WritePwrite
	if viaScratch {
		if cap(cl.scratch) < total {
			cl.scratch = make([]byte, total)
		}
		dst = cl.scratch[:total]
	}
	off := 0
	for i := range recs {
		r := &recs[i]
		r.PhysicalOffset = phys + int64(off)
		n, err := message.EncodeWithCRC(dst[off:], r)
		if err == nil && n != sizes[i] {
			err = fmt.Errorf("store: record encoded to %d bytes, expected %d", n, sizes[i])
		}
		if err != nil {
			// Leave no half-batch in the page cache for a recovery to find.
			clear(dst[:off])
			return 0, sizes, 0, fmt.Errorf("store: encode record %d of %d: %w", i, len(recs), err)
		}
		if withCRC {
			sealRecordCRC(dst[off : off+n])
		}
		off += n
	}
	if viaScratch {
		if err := seg.write(pos, dst); err != nil {
			return 0, sizes, 0, fmt.Errorf("store: write records: %w", err)
		}
	}
	seg.wrote += int64(total)
	return phys, sizes, total, nil
}

// syncRange makes [from, to) durable: it syncs, off the loop, every segment
// the range touches (two at most around a roll) and calls done once all
// have completed, with the first error.
func (cl *commitLog) syncRange(from, to int64, done func(error)) {
	var segs []*segment
	for off := from; off < to; {
		seg := cl.segs.find(off)
		if seg == nil {
			break
		}
		segs = append(segs, seg)
		off = seg.end()
	}
	if len(segs) == 0 {
		done(nil)
		return
	}
	pending := len(segs)
	var first error
	for _, seg := range segs {
		seg.file.SyncAsync(func(err error) {
			if err != nil && first == nil {
				first = fmt.Errorf("store: sync %s: %w", seg.file.Name(), err)
			}
			if pending--; pending == 0 {
				done(first)
			}
		})
	}
}

// syncAll syncs every segment from the flushed offset on, waiting: for
// shutdown.
func (cl *commitLog) syncAll() error {
	for off := cl.flushed; off < cl.writeOffset(); {
		seg := cl.segs.find(off)
		if seg == nil {
			break
		}
		if err := seg.file.Sync(); err != nil {
			return fmt.Errorf("store: sync %s: %w", seg.file.Name(), err)
		}
		off = seg.end()
	}
	cl.flushed = cl.writeOffset()
	return nil
}

// read returns n bytes at phys, from one segment. From a mapped segment the
// bytes alias the mapping.
func (cl *commitLog) read(phys int64, n int) ([]byte, *segment, error) {
	seg := cl.segs.find(phys)
	if seg == nil {
		return nil, nil, fmt.Errorf("store: commit-log offset %d not stored (log holds [%d, %d))", phys, cl.minOffset(), cl.writeOffset())
	}
	pos := phys - seg.start
	if pos+int64(n) > seg.wrote {
		return nil, nil, fmt.Errorf("store: commit-log range [%d, %d) beyond the written end %d", phys, phys+int64(n), seg.start+seg.wrote)
	}
	b, err := seg.read(pos, n)
	return b, seg, err
}
