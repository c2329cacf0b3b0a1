package sim

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/bits"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

const (
	// PageSize is the page cache's unit: what Sync writes and what a power
	// loss keeps or drops.
	PageSize = 4096
	// SectorSize is the unit the device writes atomically: a page caught
	// by a power loss mid-write is torn at sector boundaries.
	SectorSize = 512
)

// DiskOptions configure a host's disk. Start from DefaultDiskOptions: every
// field is taken as given (a zero latency is zero) except Capacity.
type DiskOptions struct {
	// Capacity is the device size in bytes; 0 means the default.
	Capacity int64
	// ReadLatency and WriteLatency are charged to every ReadAt and WriteAt
	// (page-cache hits, so normally zero). SyncLatency is the time of a
	// Sync, SyncAsync or SyncDir.
	ReadLatency, WriteLatency, SyncLatency Dist
	// KeepProb and TearProb split the fate of each unsynced page at a power
	// loss: kept whole, torn (each 512-byte sector old or new), or, with
	// the remaining probability, dropped.
	KeepProb, TearProb float64
	// Faults are the disk's injected failures.
	Faults DiskFaults
}

// DiskFaults are per-operation probabilities of injected disk failures. All
// zero by default; World.SetFaults(false) silences them.
type DiskFaults struct {
	// ReadEIO, WriteEIO, SyncEIO: the operation fails with an error
	// matching host.ErrIO and has no effect.
	ReadEIO, WriteEIO, SyncEIO float64
	// NoSpace: a WriteAt, Truncate or Preallocate that would allocate
	// fails with host.ErrNoSpace although the device has room.
	NoSpace float64
	// BitFlip: at a power loss, each surviving file that holds synced data
	// has one bit of it flipped with this probability (media corruption
	// found on reboot). Only for runs where a replica can repair it.
	BitFlip float64
}

// DefaultDiskOptions is a fast SSD that is never full and never fails: sync
// latency 0.2-2 ms with a 1% tail to 20 ms, unsynced pages a third each
// kept, torn and dropped at power loss.
func DefaultDiskOptions() DiskOptions {
	return DiskOptions{
		Capacity: 64 << 30,
		SyncLatency: Dist{
			Min: 200 * time.Microsecond, Max: 2 * time.Millisecond,
			TailProb: 0.01, TailMax: 20 * time.Millisecond,
		},
		KeepProb: 1.0 / 3,
		TearProb: 1.0 / 3,
	}
}

// Errors of the simulated file system beyond those of io/fs and host.
var (
	ErrNotDir   = errors.New("sim: not a directory")
	ErrIsDir    = errors.New("sim: is a directory")
	ErrNotEmpty = errors.New("sim: directory not empty")
	ErrLocked   = errors.New("sim: file locked by another holder")
)

// Disk is a host's disk. It outlives the host's incarnations; each one sees
// it through its Env.FS.
//
// Every file has a volatile image (the page cache, what reads see and
// mapped views alias) and a durable image (what the platter holds).
// Every directory has volatile entries, durable entries, and the log of
// entry changes between them. Sync and SyncDir move the volatile onto the
// durable; a power loss resolves the difference by the seed. See doc.go.
type Disk struct {
	h       *Host
	opts    DiskOptions
	root    *inode
	used    int64
	nextIno uint64
	r       *rand.Rand // latencies and injected errors
	cr      *rand.Rand // power-loss outcomes
	locks   map[*inode]*incarnation
	scratch []int32
}

func newDisk(h *Host, opts DiskOptions) *Disk {
	d := &Disk{
		h:     h,
		opts:  opts,
		r:     h.w.Stream(h.name + "/disk"),
		cr:    h.w.Stream(h.name + "/disk/crash"),
		locks: map[*inode]*incarnation{},
	}
	d.root = d.newDir()
	return d
}

// inode is a file or a directory.
type inode struct {
	ino   uint64
	isDir bool

	// Directories.
	entries map[string]*inode // volatile: what lookups see
	durable map[string]*inode // what survives a power loss
	log     []dirOp           // entries = durable + log, in order

	// Files. data is the page cache: its length is the file's size, and
	// mapped views alias it, so it is never reallocated while a view lives.
	// dur is the durable image, its length the durable size.
	data, dur []byte
	// dirty has a bit per page written with WriteAt since it was last made
	// durable. Stores through a mapped view set no bit: pages below
	// mappedHi are compared with the durable image instead.
	dirty    []uint64
	dirtyLo  int      // no dirty bit below this page...
	dirtyHi  int      // ...nor at or above this one
	cow      []uint64 // pages pending snapshots have not copied yet
	mappedHi int64
	views    int
	mapGen   uint64
	prealloc int64
	alloc    int64 // bytes charged against the disk's capacity
	nlink    int   // volatile directory entries naming it
	opens    int
	syncDone int64     // completion time of the last SyncAsync
	pending  []*syncOp // SyncAsyncs issued, not yet completed, in order
}

// dirOp is one change to a directory: remove the entry del, then set the
// entry set to node. A rename within one directory is a single op, so a
// power loss keeps it or rolls it back whole.
type dirOp struct {
	del, set string
	node     *inode
}

func (op dirOp) apply(m map[string]*inode) {
	if op.del != "" {
		delete(m, op.del)
	}
	if op.set != "" {
		m[op.set] = op.node
	}
}

func (dir *inode) do(op dirOp) {
	op.apply(dir.entries)
	dir.log = append(dir.log, op)
}

func (d *Disk) newDir() *inode {
	d.nextIno++
	return &inode{ino: d.nextIno, isDir: true, entries: map[string]*inode{}, durable: map[string]*inode{}}
}

func (d *Disk) newFile() *inode {
	d.nextIno++
	return &inode{ino: d.nextIno}
}

// Capacity is the device size in bytes.
func (d *Disk) Capacity() int64 { return d.opts.Capacity }

// Used is the bytes allocated to files that are linked or open.
func (d *Disk) Used() int64 { return d.used }

// SetFaults replaces the disk's injected failure probabilities.
func (d *Disk) SetFaults(f DiskFaults) { d.opts.Faults = f }

func cleanPath(name string) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", fs.ErrInvalid
	}
	return path.Clean("/" + name), nil
}

// lookup walks p through the volatile entries (durable=false) or the
// durable ones. It returns nil if any component is missing or not a
// directory.
func (d *Disk) lookup(p string, durable bool) *inode {
	n := d.root
	rest := strings.TrimPrefix(p, "/")
	for rest != "" {
		comp := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			comp, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if !n.isDir {
			return nil
		}
		if durable {
			n = n.durable[comp]
		} else {
			n = n.entries[comp]
		}
		if n == nil {
			return nil
		}
	}
	return n
}

// parent resolves the directory that holds p, and p's last element.
func (d *Disk) parent(op, name, p string) (*inode, string, error) {
	dp, base := path.Split(p)
	if base == "" {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	dir := d.lookup(path.Clean(dp), false)
	if dir == nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if !dir.isDir {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: ErrNotDir}
	}
	return dir, base, nil
}

func (d *Disk) fault(p float64) bool {
	return p > 0 && d.h.w.faultsOn && d.r.Float64() < p
}

func (d *Disk) latency(inc *incarnation, dist Dist) {
	if dist.Max > 0 || dist.Min > 0 || dist.TailProb > 0 {
		inc.block(dist.draw(d.r))
	}
}

func (n *inode) live() bool { return n.nlink > 0 || n.opens > 0 }

// reserve charges n's allocation for a size of size bytes (rounded up to
// pages, and at least its preallocation) against the capacity.
func (d *Disk) reserve(n *inode, size int64) error {
	want := roundUp(max(size, n.prealloc))
	delta := want - n.alloc
	if delta > 0 && d.used+delta > d.opts.Capacity {
		return host.ErrNoSpace
	}
	d.used += delta
	n.alloc = want
	return nil
}

// forget gives back the space of a file nothing names or holds open.
func (d *Disk) forget(n *inode) {
	if !n.isDir && !n.live() {
		d.used -= n.alloc
		n.alloc = 0
	}
}

func roundUp(n int64) int64 { return (n + PageSize - 1) &^ (PageSize - 1) }

func pagesFor(n int) int { return (n + PageSize - 1) / PageSize }

// setLen changes the volatile size. Bytes past the old size read as zero:
// shrinking clears what it cuts off, and fresh arrays are zero.
func (n *inode) setLen(size int64, name string) {
	old := int64(len(n.data))
	if size <= old {
		n.beforeChange(size, old)
		clear(n.data[size:old])
		// The cleared pages differ from the durable image if the file
		// grows back over them before the next sync.
		n.markDirty(size, old)
		n.data = n.data[:size]
		return
	}
	if size > int64(cap(n.data)) {
		if n.views > 0 {
			// A mapped view aliases n.data; moving it would silently
			// split the view from the file. Real mappings never move, and
			// the store maps segments at their final size, so this is a
			// broker bug or a case the simulator must learn.
			panic("sim: " + name + ": file grows past its mapped backing; map it at its final size")
		}
		nd := make([]byte, size, max(size, 2*int64(cap(n.data))))
		copy(nd, n.data)
		n.data = nd
		return
	}
	n.data = n.data[:size]
}

func (n *inode) resizeDur(size int) {
	old := len(n.dur)
	if size <= old {
		clear(n.dur[size:old])
		n.dur = n.dur[:size]
		return
	}
	if size > cap(n.dur) {
		nd := make([]byte, size, max(size, 2*cap(n.dur)))
		copy(nd, n.dur)
		n.dur = nd
		return
	}
	n.dur = n.dur[:size]
}

func (n *inode) markDirty(off, end int64) {
	if end <= off {
		return
	}
	first, last := int(off/PageSize), int((end-1)/PageSize)
	if need := last/64 + 1; need > len(n.dirty) {
		n.dirty = append(n.dirty, make([]uint64, need-len(n.dirty))...)
	}
	if n.dirtyHi == 0 {
		n.dirtyLo, n.dirtyHi = first, last+1
	} else {
		n.dirtyLo, n.dirtyHi = min(n.dirtyLo, first), max(n.dirtyHi, last+1)
	}
	for i := first; i <= last; i++ {
		n.dirty[i/64] |= 1 << (i % 64)
	}
}

func (n *inode) clearDirty() {
	if n.dirtyHi > 0 {
		clear(n.dirty[n.dirtyLo/64 : min(len(n.dirty), (n.dirtyHi+63)/64)])
	}
	n.dirtyLo, n.dirtyHi = 0, 0
}

func (n *inode) isDirty(i int) bool {
	return i/64 < len(n.dirty) && n.dirty[i/64]&(1<<(i%64)) != 0
}

// pageClean reports whether page i of the volatile image equals the durable
// one.
func (n *inode) pageClean(i int) bool {
	s := i * PageSize
	e := min(s+PageSize, len(n.data))
	if e > len(n.dur) {
		return false
	}
	return bytes.Equal(n.data[s:e], n.dur[s:e])
}

// changed appends the pages a sync must write: those written with WriteAt,
// and those of the mapped range that differ from the durable image. The
// comparison costs O(mapped bytes) per sync: fine for the small segments a
// simulation uses, and the price of not intercepting stores.
func (n *inode) changed(buf []int32) []int32 {
	np := pagesFor(len(n.data))
	mp := 0
	if n.mappedHi > 0 {
		mp = pagesFor(int(min(n.mappedHi, int64(len(n.data)))))
	}
	for i := 0; i < mp; i++ {
		if n.isDirty(i) || !n.pageClean(i) {
			buf = append(buf, int32(i))
		}
	}
	lo := max(mp, n.dirtyLo)
	for wi := lo / 64; wi < len(n.dirty) && wi*64 < n.dirtyHi; wi++ {
		word := n.dirty[wi]
		if wi == lo/64 {
			word &^= 1<<(lo%64) - 1 // pages below lo were handled above or are clean
		}
		for word != 0 {
			i := wi*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if i >= np {
				break
			}
			buf = append(buf, int32(i))
		}
	}
	return buf
}

// syncNow makes the whole volatile image durable, after any SyncAsync
// snapshots still in flight (so an older snapshot landing later cannot
// overwrite newer bytes), and returns the number of pages written.
func (d *Disk) syncNow(n *inode) int {
	for _, op := range n.pending {
		op.applyEarly()
	}
	d.scratch = n.changed(d.scratch[:0])
	n.resizeDur(len(n.data))
	for _, i := range d.scratch {
		s := int(i) * PageSize
		e := min(s+PageSize, len(n.data))
		copy(n.dur[s:e], n.data[s:e])
	}
	n.clearDirty()
	if n.views == 0 {
		n.mappedHi = 0
	}
	return len(d.scratch)
}

// snapshot is what a SyncAsync will make durable: the size and the changed
// pages as they were when it was called. Pages of the mapped range are
// copied at once, since stores into a view cannot be seen. Other pages are
// copied lazily, only if WriteAt or Truncate changes them before the sync
// completes (the cow bit marks them): an append-only log then copies each
// page once, at completion, instead of twice.
type snapshot struct {
	size     int
	pages    []int32  // ascending
	bufs     [][]byte // bufs[k] is page k as of the call, or nil while unchanged since
	mapGen   uint64
	unmapped bool
}

func (n *inode) snapshot() snapshot {
	s := snapshot{size: len(n.data), mapGen: n.mapGen, unmapped: n.views == 0}
	s.pages = n.changed(nil)
	s.bufs = make([][]byte, len(s.pages))
	mp := 0
	if n.mappedHi > 0 {
		mp = pagesFor(int(min(n.mappedHi, int64(len(n.data)))))
	}
	for k, i := range s.pages {
		if int(i) < mp {
			s.bufs[k] = n.page(int(i))
			continue
		}
		n.cow = setBit(n.cow, int(i))
	}
	return s
}

// page returns a copy of page i of the volatile image.
func (n *inode) page(i int) []byte {
	st := i * PageSize
	return slices.Clone(n.data[st:min(st+PageSize, len(n.data))])
}

func setBit(b []uint64, i int) []uint64 {
	if need := i/64 + 1; need > len(b) {
		b = append(b, make([]uint64, need-len(b))...)
	}
	b[i/64] |= 1 << (i % 64)
	return b
}

// beforeChange runs before bytes [off, end) of the volatile image change
// other than through a view: pending snapshots that still refer lazily to
// bytes about to change take their copies now. A snapshot needs only the
// bytes below its size, so an append past it (the common case: a log's
// tail page) copies nothing.
func (n *inode) beforeChange(off, end int64) {
	if len(n.pending) == 0 || end <= off {
		return
	}
	for i := int(off / PageSize); i <= int((end-1)/PageSize); i++ {
		if i/64 >= len(n.cow) || n.cow[i/64]&(1<<(i%64)) == 0 {
			continue
		}
		st := int64(i) * PageSize
		lazy := false
		for _, op := range n.pending {
			if op.applied || op.err != nil || op.f.inc.dead {
				continue
			}
			k, ok := slices.BinarySearch(op.snap.pages, int32(i))
			if !ok || op.snap.bufs[k] != nil {
				continue
			}
			need := min(st+PageSize, int64(op.snap.size), int64(len(n.data)))
			if max(off, st) >= min(end, need) {
				lazy = true // this change misses the bytes the snapshot needs
				continue
			}
			op.snap.bufs[k] = slices.Clone(n.data[st:need])
		}
		if !lazy {
			n.cow[i/64] &^= 1 << (i % 64)
		}
	}
}

func (n *inode) apply(s *snapshot) {
	n.resizeDur(s.size)
	for k, i := range s.pages {
		st := int(i) * PageSize
		if st >= len(n.dur) {
			continue
		}
		e := min(st+PageSize, len(n.dur))
		src := s.bufs[k]
		if src == nil {
			src = n.data[st:min(e, len(n.data))] // unchanged since the call
		}
		copy(n.dur[st:e], src)
		// Pages of a mapped range are snapshotted without a dirty bit
		// (stores into a view are invisible), so the bitmap may be shorter.
		// Only a page with its dirty bit set needs the comparison.
		if w := int(i) / 64; w < len(n.dirty) && n.dirty[w]&(1<<(int(i)%64)) != 0 && len(n.data) == len(n.dur) && n.pageClean(int(i)) {
			n.dirty[w] &^= 1 << (int(i) % 64)
		}
	}
	if s.unmapped && n.views == 0 && n.mapGen == s.mapGen {
		n.mappedHi = 0
	}
}

// powerLoss resolves every difference between volatile and durable state by
// the seed, then makes the result both (the page cache starts empty).
func (d *Disk) powerLoss() {
	w := d.h.w
	visited := map[*inode]bool{}
	seen := map[*inode]bool{}
	var files []*inode
	var rolled, kept int
	var walk func(dir *inode)
	walk = func(dir *inode) {
		visited[dir] = true
		// A prefix of the directory's unsynced changes survives: a
		// journal commits them in order, so what survives is a state the
		// directory really passed through.
		k := 0
		if len(dir.log) > 0 {
			k = d.cr.IntN(len(dir.log) + 1)
		}
		for _, op := range dir.log[:k] {
			op.apply(dir.durable)
		}
		kept += k
		rolled += len(dir.log) - k
		dir.log = nil
		names := make([]string, 0, len(dir.durable))
		for name := range dir.durable {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			c := dir.durable[name]
			if c.isDir {
				if visited[c] {
					// A directory renamed across parents can survive in
					// both; a directory has one parent, so keep the first.
					delete(dir.durable, name)
					continue
				}
				walk(c)
				continue
			}
			if !seen[c] {
				seen[c] = true
				c.nlink = 0
				files = append(files, c)
			}
			c.nlink++
		}
		dir.entries = maps.Clone(dir.durable)
	}
	walk(d.root)
	d.used = 0
	var pages [3]int
	for _, f := range files {
		d.powerLossFile(f, &pages)
		f.opens, f.views, f.mappedHi, f.prealloc = 0, 0, 0, 0
		f.dirty, f.cow, f.pending = nil, nil, nil
		f.dirtyLo, f.dirtyHi = 0, 0
		f.alloc = roundUp(int64(len(f.data)))
		d.used += f.alloc
	}
	clear(d.locks)
	w.tbegin(d.h.name, "power-loss")
	w.tint("dirops-kept", int64(kept))
	w.tint("dirops-rolled-back", int64(rolled))
	w.tint("pages-kept", int64(pages[0]))
	w.tint("pages-torn", int64(pages[1]))
	w.tint("pages-dropped", int64(pages[2]))
	w.tend()
}

func (d *Disk) powerLossFile(n *inode, pages *[3]int) {
	vol, dur := n.data, n.dur
	// NB: compared, not taken from the dirty bits: a power loss is rare,
	// and this is where a bookkeeping slip would lose data silently.
	if bytes.Equal(vol, dur) {
		// Clean: nothing to decide, and only a fresh array for the page
		// cache, so that views of the dead process alias nothing live.
		n.data = slices.Clone(dur)
		d.maybeFlip(n)
		return
	}
	// The size survives as it was synced or as it was last set.
	size := len(dur)
	if len(vol) != len(dur) && d.cr.IntN(2) == 0 {
		size = len(vol)
	}
	res := make([]byte, size)
	copy(res, dur)
	keep, tear := d.opts.KeepProb, d.opts.TearProb
	for s := 0; s < size; s += PageSize {
		e := min(s+PageSize, size, len(vol))
		if e <= s || bytes.Equal(vol[s:e], res[s:e]) {
			continue
		}
		switch u := d.cr.Float64(); {
		case u < keep:
			copy(res[s:e], vol[s:e])
			pages[0]++
		case u < keep+tear:
			for q := s; q < e; q += SectorSize {
				if d.cr.IntN(2) == 0 {
					copy(res[q:min(q+SectorSize, e)], vol[q:min(q+SectorSize, e)])
				}
			}
			pages[1]++
		default:
			pages[2]++
		}
	}
	synced := min(len(dur), size)
	n.dur = res
	n.data = slices.Clone(res)
	if synced > 0 {
		d.maybeFlip(n)
	}
}

// maybeFlip flips one bit of n's synced bytes with the BitFlip probability.
func (d *Disk) maybeFlip(n *inode) {
	if len(n.dur) == 0 || !d.fault(d.opts.Faults.BitFlip) {
		return
	}
	off := d.r.IntN(len(n.dur))
	bit := d.r.IntN(8)
	n.dur[off] ^= 1 << bit
	n.data[off] ^= 1 << bit
	w := d.h.w
	w.tbegin(d.h.name, "bit-flip")
	w.tint("ino", int64(n.ino))
	w.tint("off", int64(off))
	w.tint("bit", int64(bit))
	w.tend()
}

// ReadDurable reads from the durable image of name, resolved through the
// durable directory entries: what a power loss that dropped every unsynced
// byte would leave. Checkers use it to ask "is this acknowledged record
// really on disk?" without crashing anything. It follows io.ReaderAt.
func (d *Disk) ReadDurable(name string, p []byte, off int64) (int, error) {
	pth, err := cleanPath(name)
	if err != nil {
		return 0, err
	}
	n := d.lookup(pth, true)
	if n == nil || n.isDir {
		return 0, &fs.PathError{Op: "read-durable", Path: name, Err: fs.ErrNotExist}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read-durable", Path: name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(n.dur)) {
		return 0, io.EOF
	}
	k := copy(p, n.dur[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// Corrupt flips bit (0-7) of the byte at off in the durable image of name,
// a latent media error. If the page is clean, the page cache is flipped too
// (as if the page had been evicted and read back), so the node sees it at
// once; if it holds unsynced writes, they hide it until a power loss
// decides the page, and a sync overwrites it.
func (d *Disk) Corrupt(name string, off int64, bit uint) error {
	pth, err := cleanPath(name)
	if err != nil {
		return err
	}
	n := d.lookup(pth, false)
	if n == nil || n.isDir {
		return &fs.PathError{Op: "corrupt", Path: name, Err: fs.ErrNotExist}
	}
	if off < 0 || off >= int64(len(n.dur)) || bit > 7 {
		return &fs.PathError{Op: "corrupt", Path: name, Err: fs.ErrInvalid}
	}
	if off < int64(len(n.data)) && n.pageClean(int(off/PageSize)) {
		n.data[off] ^= 1 << bit
	}
	n.dur[off] ^= 1 << bit
	w := d.h.w
	w.tbegin(d.h.name, "corrupt")
	w.tstr("file", pth)
	w.tint("off", off)
	w.tint("bit", int64(bit))
	w.tend()
	return nil
}
