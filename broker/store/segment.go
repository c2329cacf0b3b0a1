package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/thrustmq/thrust/broker/host"
)

// segmentNameDigits is the width of a segment's name: its start offset,
// zero-padded, so that names sort as offsets do.
const segmentNameDigits = 20

// segment is one fixed-size file of a segmented log: a commit-log or
// consume-queue "MappedFile" in RocketMQ's terms. Offsets given to its
// methods are relative to the segment's first byte.
type segment struct {
	file host.File
	// path is the segment's file name now: a segment made ahead of need is
	// renamed into place, and File.Name keeps the name it was opened with.
	path  string
	view  []byte // the shared mapping, or nil (no Mapper, or mapping off)
	start int64  // log offset of the segment's first byte
	size  int64

	// mmapWrites is false when blocks could not be reserved: a store into a
	// mapped hole on a full disk kills the process with SIGBUS, whereas
	// pwrite fails with ENOSPC, so such a segment is written with WriteAt
	// and only read through its view.
	mmapWrites bool

	wrote  int64 // bytes written, from the segment's start
	synced int64 // bytes known durable, from the segment's start
}

func segmentName(start int64) string {
	return fmt.Sprintf("%0*d", segmentNameDigits, start)
}

func (s *segment) end() int64 { return s.start + s.size }

// write stores p at relative offset pos, through the view when allowed.
func (s *segment) write(pos int64, p []byte) error {
	if s.mmapWrites {
		copy(s.view[pos:], p)
		return nil
	}
	_, err := s.file.WriteAt(p, pos)
	return err
}

// slot returns the writable bytes [pos, pos+n) of the mapping, for encoding
// in place, or nil when the segment is not written through its view.
func (s *segment) slot(pos int64, n int) []byte {
	if !s.mmapWrites {
		return nil
	}
	return s.view[pos : pos+int64(n) : pos+int64(n)]
}

// read returns bytes [pos, pos+n). From a mapped segment the result aliases
// the mapping (valid until the segment is closed, never to be written);
// otherwise it is a fresh buffer.
func (s *segment) read(pos int64, n int) ([]byte, error) {
	if pos < 0 || n < 0 || pos+int64(n) > s.size {
		return nil, fmt.Errorf("store: read [%d, %d) outside segment %s", pos, pos+int64(n), s.file.Name())
	}
	if s.view != nil {
		return s.view[pos : pos+int64(n) : pos+int64(n)], nil
	}
	buf := make([]byte, n)
	if _, err := s.file.ReadAt(buf, pos); err != nil && !(errors.Is(err, io.EOF) && pos+int64(n) <= s.size) {
		return nil, err
	}
	return buf, nil
}

// segmentQueue is an ordered run of equal-sized segments forming one log
// (RocketMQ's MappedFileQueue). Segment i starts at first.start + i*size:
// the run has no gaps, which openSegmentQueue checks.
type segmentQueue struct {
	fs      host.FS
	log     *slog.Logger
	dir     string
	segSize int64
	mmap    bool // map segments when the file system can
	segs    []*segment
	// spare is the segment after the last one, made ahead of need
	// (warmMapedFileEnable) under a name with warmSuffix; warming is true
	// while it is being made; closed keeps a spare still in the making
	// from being kept.
	spare   *segment
	warming bool
	closed  bool
	// prepared counts the spares the log rolled onto.
	prepared uint64
	// keepTail is the planted bug BugTruncateKeepsTail.
	keepTail bool
}

// openSegmentQueue opens every segment in dir, creating dir if missing.
// Files whose names are not 20-digit offsets are left alone with a warning;
// a segment of the wrong size or a gap in the run is an error, since
// guessing there could serve one message in place of another.
func openSegmentQueue(fsys host.FS, ds *dirs, log *slog.Logger, dir string, segSize int64, mmap bool) (*segmentQueue, error) {
	q := &segmentQueue{fs: fsys, log: log, dir: dir, segSize: segSize, mmap: mmap}
	if err := ds.ensure(dir); err != nil {
		return nil, err
	}
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", dir, err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, warmSuffix) {
			// A segment made ahead of need that the log never rolled
			// onto: it holds nothing.
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				log.Warn("store: cannot remove an unused spare segment", "dir", dir, "file", name, "err", err)
			}
			continue
		}
		start, ok := parseSegmentName(name)
		if !ok {
			log.Warn("store: ignoring a file that is not a segment", "dir", dir, "file", name)
			continue
		}
		path := filepath.Join(dir, name)
		if start%segSize != 0 {
			q.closeAll()
			return nil, fmt.Errorf("store: segment %s does not start at a multiple of the segment size %d", path, segSize)
		}
		if n := len(q.segs); n > 0 && q.segs[n-1].end() != start {
			q.closeAll()
			return nil, fmt.Errorf("store: segments are not contiguous: %s follows a segment ending at %d", path, q.segs[n-1].end())
		}
		seg, err := q.openSegment(path, start)
		if err != nil {
			q.closeAll()
			return nil, err
		}
		q.segs = append(q.segs, seg)
	}
	return q, nil
}

func parseSegmentName(name string) (int64, bool) {
	if len(name) != segmentNameDigits {
		return 0, false
	}
	for i := range len(name) {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(name, 10, 64)
	return v, err == nil
}

func (q *segmentQueue) openSegment(path string, start int64) (*segment, error) {
	f, err := q.fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("store: open segment: %w", err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: size of %s: %w", path, err)
	}
	if size > q.segSize {
		f.Close()
		return nil, fmt.Errorf("store: segment %s has %d bytes, more than the configured %d (was the segment size changed?)", path, size, q.segSize)
	}
	if size < q.segSize {
		// A crash between create and preallocate leaves a short file. Its
		// missing part cannot hold data, so growing it loses nothing.
		q.log.Warn("store: extending a short segment", "file", path, "size", size, "want", q.segSize)
	}
	// Reserving again is cheap where blocks are already allocated, and it
	// tells whether this segment may be written through its mapping.
	reserved, err := q.reserveBlocks(f, q.segSize)
	if err != nil {
		f.Close()
		return nil, err
	}
	seg := &segment{file: f, path: path, start: start, size: q.segSize}
	if err := q.mapSegment(seg, reserved); err != nil {
		f.Close()
		return nil, err
	}
	return seg, nil
}

// reserveBlocks preallocates size bytes, or extends the file when the file
// system cannot preallocate, and reports whether blocks are really reserved.
func (q *segmentQueue) reserveBlocks(f host.File, size int64) (reserved bool, err error) {
	if p, ok := f.(host.Preallocator); ok {
		err := p.Preallocate(size)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return false, fmt.Errorf("store: preallocate %s: %w", f.Name(), err)
		}
	}
	if err := f.Truncate(size); err != nil {
		return false, fmt.Errorf("store: extend %s: %w", f.Name(), err)
	}
	return false, nil
}

// mapSegment maps seg when the queue maps and the file can. Only a segment
// whose blocks are reserved is written through the view.
func (q *segmentQueue) mapSegment(seg *segment, reserved bool) error {
	if !q.mmap {
		return nil
	}
	m, ok := seg.file.(host.Mapper)
	if !ok {
		return nil
	}
	view, err := m.Map(seg.size)
	if err != nil {
		return fmt.Errorf("store: map %s: %w", seg.file.Name(), err)
	}
	seg.view = view
	seg.mmapWrites = reserved
	return nil
}

// create adds an empty segment starting at start, which must be the end of
// the last one (or any multiple of the segment size for an empty queue). On
// failure nothing is left behind: a half-made file is removed.
func (q *segmentQueue) create(start int64) (*segment, error) {
	if last := q.last(); last != nil && last.end() != start {
		return nil, fmt.Errorf("store: new segment at %d does not follow the last one ending at %d", start, last.end())
	}
	path := filepath.Join(q.dir, segmentName(start))
	if seg, err := q.takeSpare(start, path); seg != nil || err != nil {
		return seg, err
	}
	f, err := q.fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("store: create segment: %w", err)
	}
	fail := func(err error) (*segment, error) {
		f.Close()
		if rerr := q.fs.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			q.log.Error("store: cannot remove a half-created segment", "file", path, "err", rerr)
		}
		return nil, err
	}
	reserved, err := q.reserveBlocks(f, q.segSize)
	if err != nil {
		return fail(err)
	}
	if !reserved && q.mmap {
		q.log.Warn("store: blocks not reserved; writing this segment with pwrite so a full disk fails a write instead of the process", "file", path)
	}
	seg := &segment{file: f, path: path, start: start, size: q.segSize}
	if err := q.mapSegment(seg, reserved); err != nil {
		return fail(err)
	}
	// The new entry must survive a power loss before anything in it is
	// acknowledged; an fsync of the file does not cover its name.
	if err := q.fs.SyncDir(q.dir); err != nil {
		return fail(fmt.Errorf("store: sync directory %s: %w", q.dir, err))
	}
	q.segs = append(q.segs, seg)
	return seg, nil
}

// warmSuffix marks a segment made ahead of need that the log has not
// rolled onto yet.
const warmSuffix = ".warm"

// prepareSpare makes the segment that will follow the last one, unless it
// is made or being made: created under a temporary name, preallocated (off
// the loop where the file can: host.AsyncPreallocator) and mapped.
func (q *segmentQueue) prepareSpare() {
	last := q.last()
	if last == nil || q.spare != nil || q.warming || q.closed {
		return
	}
	start := last.end()
	path := filepath.Join(q.dir, segmentName(start)+warmSuffix)
	f, err := q.fs.Create(path)
	if err != nil {
		q.log.Warn("store: cannot make the next segment ahead of need", "file", path, "err", err)
		return
	}
	q.warming = true
	finish := func(reserved bool, err error) {
		q.warming = false
		// Keep it only if it still is the next segment: the log may have
		// rolled meanwhile, or the store closed.
		if last := q.last(); err == nil && !q.closed && last != nil && last.end() == start {
			seg := &segment{file: f, path: path, start: start, size: q.segSize}
			if err = q.mapSegment(seg, reserved); err == nil {
				q.spare = seg
				return
			}
		}
		if err != nil {
			q.log.Warn("store: making the next segment ahead of need failed; it will be made when needed", "file", path, "err", err)
		}
		f.Close()
		if rerr := q.fs.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			q.log.Warn("store: cannot remove an unused spare segment", "file", path, "err", rerr)
		}
	}
	if ap, ok := f.(host.AsyncPreallocator); ok {
		ap.PreallocateAsync(q.segSize, func(err error) {
			if errors.Is(err, errors.ErrUnsupported) {
				// As reserveBlocks: the size alone, nothing reserved.
				finish(false, f.Truncate(q.segSize))
				return
			}
			finish(err == nil, err)
		})
		return
	}
	reserved, err := q.reserveBlocks(f, q.segSize)
	finish(reserved, err)
}

// takeSpare rolls onto the spare when it starts at start: renamed into
// place (path) and its new entry made durable, as create does. It returns
// nil, nil when there is no such spare; a spare that does not fit is
// dropped.
func (q *segmentQueue) takeSpare(start int64, path string) (*segment, error) {
	sp := q.spare
	if sp == nil {
		return nil, nil
	}
	q.spare = nil
	drop := func() {
		sp.file.Close()
		if err := q.fs.Remove(sp.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.log.Warn("store: cannot remove an unused spare segment", "file", sp.path, "err", err)
		}
	}
	if sp.start != start {
		drop()
		return nil, nil
	}
	if err := q.fs.Rename(sp.path, path); err != nil {
		q.log.Warn("store: cannot rename the spare segment into place; making a new one", "file", sp.path, "err", err)
		drop()
		return nil, nil
	}
	sp.path = path
	if err := q.fs.SyncDir(q.dir); err != nil {
		drop()
		return nil, fmt.Errorf("store: sync directory %s: %w", q.dir, err)
	}
	q.segs = append(q.segs, sp)
	q.prepared++
	return sp, nil
}

func (q *segmentQueue) first() *segment {
	if len(q.segs) == 0 {
		return nil
	}
	return q.segs[0]
}

func (q *segmentQueue) last() *segment {
	if len(q.segs) == 0 {
		return nil
	}
	return q.segs[len(q.segs)-1]
}

// find returns the segment holding log offset off, or nil.
func (q *segmentQueue) find(off int64) *segment {
	if len(q.segs) == 0 || off < q.segs[0].start {
		return nil
	}
	i := (off - q.segs[0].start) / q.segSize
	if i >= int64(len(q.segs)) {
		return nil
	}
	return q.segs[i]
}

// minOffset is the first offset still stored.
func (q *segmentQueue) minOffset() int64 {
	if s := q.first(); s != nil {
		return s.start
	}
	return 0
}

// writeOffset is the offset the next byte will be written at.
func (q *segmentQueue) writeOffset() int64 {
	if s := q.last(); s != nil {
		return s.start + s.wrote
	}
	return 0
}

// truncate drops everything at and after off: later segments are removed,
// and the segment holding off is zeroed from off to its end. Zeroing is what
// keeps old bytes beyond a torn tail from being found again, intact-looking,
// by a later recovery once new records have been appended in front of them.
func (q *segmentQueue) truncate(off int64) error {
	removed := false
	for len(q.segs) > 0 && q.last().start > off {
		if err := q.removeSegment(q.last()); err != nil {
			return err
		}
		q.segs[len(q.segs)-1] = nil
		q.segs = q.segs[:len(q.segs)-1]
		removed = true
	}
	if removed {
		if err := q.fs.SyncDir(q.dir); err != nil {
			return fmt.Errorf("store: sync directory %s: %w", q.dir, err)
		}
	}
	seg := q.find(off)
	if seg == nil {
		// off is the end of the last segment (or the queue is empty):
		// nothing after it remains.
		if last := q.last(); last != nil {
			last.wrote = last.size
		}
		return nil
	}
	pos := off - seg.start
	if !q.keepTail {
		if err := zeroFrom(seg, pos); err != nil {
			return err
		}
	}
	seg.wrote, seg.synced = pos, min(seg.synced, pos)
	return nil
}

// zeroFrom writes zeros over [pos, size) where the segment is not already
// zero. Reading first keeps recovery cheap: preallocated space reads as
// zeros without touching the disk, and only real leftovers are rewritten.
func zeroFrom(seg *segment, pos int64) error {
	const chunk = 64 << 10
	zeros := make([]byte, chunk)
	dirty := false
	for off := pos; off < seg.size; off += chunk {
		n := int(min(chunk, seg.size-off))
		b, err := seg.read(off, n)
		if err != nil {
			return err
		}
		if allZero(b) {
			continue
		}
		if err := seg.write(off, zeros[:n]); err != nil {
			return fmt.Errorf("store: zero the tail of %s: %w", seg.file.Name(), err)
		}
		dirty = true
	}
	if dirty {
		if err := seg.file.Sync(); err != nil {
			return fmt.Errorf("store: sync %s: %w", seg.file.Name(), err)
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// removeSegment closes and deletes one segment's file.
func (q *segmentQueue) removeSegment(seg *segment) error {
	name := seg.path
	if err := seg.file.Close(); err != nil {
		q.log.Warn("store: close segment", "file", name, "err", err)
	}
	if err := q.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: remove segment: %w", err)
	}
	return nil
}

// removeFirst deletes the n oldest segments.
func (q *segmentQueue) removeFirst(n int) error {
	for i := 0; i < n && len(q.segs) > 0; i++ {
		if err := q.removeSegment(q.segs[0]); err != nil {
			return err
		}
		q.segs[0] = nil
		q.segs = q.segs[1:]
	}
	if n > 0 {
		return q.fs.SyncDir(q.dir)
	}
	return nil
}

func (q *segmentQueue) closeAll() {
	for _, s := range q.segs {
		if err := s.file.Close(); err != nil {
			q.log.Warn("store: close segment", "file", s.file.Name(), "err", err)
		}
	}
	q.segs = nil
	// A spare holds nothing; one still in the making is dropped when its
	// preallocation completes.
	q.closed = true
	if sp := q.spare; sp != nil {
		q.spare = nil
		sp.file.Close()
		if err := q.fs.Remove(sp.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.log.Warn("store: cannot remove an unused spare segment", "file", sp.path, "err", err)
		}
	}
}

// MkdirDurable creates dir if missing and syncs its parent, so that the
// directory's entry is durable: a directory made with MkdirAll alone can
// vanish, with everything in it, at a power loss. It syncs the parent even
// when dir already exists, since existing in the page cache says nothing
// about being on disk (a crash after the mkdir and before the sync leaves
// exactly that).
func MkdirDurable(fsys host.FS, dir string) error {
	return (&dirs{fs: fsys, synced: map[string]bool{}}).ensure(dir)
}

// dirs makes directories durable, syncing each parent once per process
// unless a new entry appears in it.
type dirs struct {
	fs     host.FS
	synced map[string]bool
}

func (d *dirs) ensure(dir string) error {
	created := false
	if fi, err := d.fs.Stat(dir); err == nil {
		if !fi.IsDir {
			return fmt.Errorf("store: %s is not a directory", dir)
		}
	} else {
		if err := d.fs.MkdirAll(dir); err != nil {
			return fmt.Errorf("store: create directory: %w", err)
		}
		created = true
	}
	parent := filepath.Dir(dir)
	if created || !d.synced[parent] {
		if err := d.fs.SyncDir(parent); err != nil {
			return fmt.Errorf("store: sync directory %s: %w", parent, err)
		}
		d.synced[parent] = true
	}
	return nil
}
