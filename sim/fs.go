package sim

import (
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/thrustmq/thrust/broker/host"
)

// fileSystem is an incarnation's view of its host's disk: host.FS,
// host.DiskUsager and host.Locker.
type fileSystem struct {
	inc *incarnation
	d   *Disk
}

var (
	_ host.FS           = (*fileSystem)(nil)
	_ host.DiskUsager   = (*fileSystem)(nil)
	_ host.Locker       = (*fileSystem)(nil)
	_ host.File         = (*file)(nil)
	_ host.Mapper       = (*file)(nil)
	_ host.Preallocator = (*file)(nil)
)

func (s *fileSystem) trace(what, p string) {
	w := s.d.h.w
	w.tbegin(s.inc.tag, what)
	w.tstr("path", p)
	w.tend()
}

func (s *fileSystem) Create(name string) (host.File, error) {
	return s.open("create", name, true, true)
}

func (s *fileSystem) Open(name string) (host.File, error) {
	return s.open("open", name, false, false)
}

func (s *fileSystem) open(op, name string, create, trunc bool) (*file, error) {
	if s.inc.dead {
		return nil, host.ErrClosed
	}
	p, err := cleanPath(name)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	d := s.d
	n := d.lookup(p, false)
	switch {
	case n == nil && !create:
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	case n == nil:
		dir, base, err := d.parent(op, name, p)
		if err != nil {
			return nil, err
		}
		n = d.newFile()
		n.nlink = 1
		dir.do(dirOp{set: base, node: n})
		s.trace("create", p)
	case n.isDir:
		return nil, &fs.PathError{Op: op, Path: name, Err: ErrIsDir}
	case trunc && len(n.data) > 0:
		// O_TRUNC: a size change, volatile until the file is synced.
		n.setLen(0, p)
		n.prealloc = 0
		d.reserve(n, 0)
		s.trace("truncate", p)
	}
	f := &file{inc: s.inc, d: d, n: n, name: name}
	n.opens++
	s.inc.files = append(s.inc.files, f)
	s.inc.openFiles++
	if len(s.inc.files) > 64 && len(s.inc.files) > 2*s.inc.openFiles {
		s.inc.files = slices.DeleteFunc(s.inc.files, func(f *file) bool { return f.closed })
	}
	return f, nil
}

func (s *fileSystem) Remove(name string) error {
	if s.inc.dead {
		return host.ErrClosed
	}
	p, err := cleanPath(name)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	dir, base, err := s.d.parent("remove", name, p)
	if err != nil {
		return err
	}
	n := dir.entries[base]
	if n == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.isDir && len(n.entries) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: ErrNotEmpty}
	}
	dir.do(dirOp{del: base})
	n.nlink--
	s.d.forget(n)
	s.trace("remove", p)
	return nil
}

func (s *fileSystem) Rename(oldname, newname string) error {
	if s.inc.dead {
		return host.ErrClosed
	}
	op := func(err error) error {
		return &fs.PathError{Op: "rename", Path: oldname + " " + newname, Err: err}
	}
	po, err := cleanPath(oldname)
	if err != nil {
		return op(err)
	}
	pn, err := cleanPath(newname)
	if err != nil {
		return op(err)
	}
	d := s.d
	odir, obase, err := d.parent("rename", oldname, po)
	if err != nil {
		return err
	}
	ndir, nbase, err := d.parent("rename", newname, pn)
	if err != nil {
		return err
	}
	n := odir.entries[obase]
	if n == nil {
		return op(fs.ErrNotExist)
	}
	if po == pn {
		return nil
	}
	if n.isDir && strings.HasPrefix(pn, po+"/") {
		return op(fs.ErrInvalid)
	}
	target := ndir.entries[nbase]
	if target != nil && (target.isDir || n.isDir) {
		// Replacing directories is legal (if empty) in POSIX but nothing
		// here needs it; refusing keeps the crash model simple.
		return op(fs.ErrExist)
	}
	if odir == ndir {
		odir.do(dirOp{del: obase, set: nbase, node: n})
	} else {
		// Two independent changes until both parents are synced: a
		// power loss may keep either, both or neither (see doc.go).
		odir.do(dirOp{del: obase})
		ndir.do(dirOp{set: nbase, node: n})
	}
	if target != nil {
		target.nlink--
		d.forget(target)
	}
	w := d.h.w
	w.tbegin(s.inc.tag, "rename")
	w.tstr("from", po)
	w.tstr("to", pn)
	w.tend()
	return nil
}

func (s *fileSystem) MkdirAll(dir string) error {
	if s.inc.dead {
		return host.ErrClosed
	}
	p, err := cleanPath(dir)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	n := s.d.root
	at := ""
	for _, comp := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if comp == "" {
			continue
		}
		at += "/" + comp
		c := n.entries[comp]
		if c == nil {
			c = s.d.newDir()
			n.do(dirOp{set: comp, node: c})
			s.trace("mkdir", at)
		} else if !c.isDir {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: ErrNotDir}
		}
		n = c
	}
	return nil
}

func (s *fileSystem) dir(op, name string) (*inode, string, error) {
	if s.inc.dead {
		return nil, "", host.ErrClosed
	}
	p, err := cleanPath(name)
	if err != nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	n := s.d.lookup(p, false)
	if n == nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if !n.isDir {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: ErrNotDir}
	}
	return n, p, nil
}

func (s *fileSystem) List(dir string) ([]string, error) {
	n, _, err := s.dir("list", dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(n.entries))
	for name := range n.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

func (s *fileSystem) Stat(name string) (host.FileInfo, error) {
	if s.inc.dead {
		return host.FileInfo{}, host.ErrClosed
	}
	p, err := cleanPath(name)
	if err != nil {
		return host.FileInfo{}, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	n := s.d.lookup(p, false)
	if n == nil {
		return host.FileInfo{}, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	if n.isDir {
		return host.FileInfo{IsDir: true}, nil
	}
	return host.FileInfo{Size: int64(len(n.data))}, nil
}

func (s *fileSystem) SyncDir(dir string) error {
	n, p, err := s.dir("syncdir", dir)
	if err != nil {
		return err
	}
	d := s.d
	d.latency(s.inc, d.opts.SyncLatency)
	if d.fault(d.opts.Faults.SyncEIO) {
		s.trace("syncdir-eio", p)
		return &fs.PathError{Op: "syncdir", Path: dir, Err: host.ErrIO}
	}
	for _, op := range n.log {
		op.apply(n.durable)
	}
	w := d.h.w
	w.tbegin(s.inc.tag, "syncdir")
	w.tstr("path", p)
	w.tint("ops", int64(len(n.log)))
	w.tend()
	n.log = nil
	return nil
}

func (s *fileSystem) DiskUsage(string) (host.DiskUsage, error) {
	if s.inc.dead {
		return host.DiskUsage{}, host.ErrClosed
	}
	return host.DiskUsage{Total: uint64(s.d.opts.Capacity), Free: uint64(s.d.opts.Capacity - s.d.used)}, nil
}

// Lock is an flock: exclusive per file, released by Close or by the death
// of the incarnation that holds it.
func (s *fileSystem) Lock(name string) (io.Closer, error) {
	f, err := s.open("lock", name, true, false)
	if err != nil {
		return nil, err
	}
	if holder := s.d.locks[f.n]; holder != nil && !holder.dead {
		f.Close()
		return nil, &fs.PathError{Op: "lock", Path: name, Err: ErrLocked}
	}
	s.d.locks[f.n] = s.inc
	return &lockHandle{f: f}, nil
}

type lockHandle struct {
	f    *file
	done bool
}

func (l *lockHandle) Close() error {
	if l.done {
		return host.ErrClosed
	}
	l.done = true
	d := l.f.d
	if d.locks[l.f.n] == l.f.inc {
		delete(d.locks, l.f.n)
	}
	if l.f.closed {
		return nil // the incarnation died and closed it
	}
	return l.f.Close()
}

// file is an open file of an incarnation: host.File, host.Mapper and
// host.Preallocator.
type file struct {
	inc    *incarnation
	d      *Disk
	n      *inode
	name   string
	closed bool
	mapped bool
}

func (f *file) check(op string) error {
	if f.closed || f.inc.dead {
		return &fs.PathError{Op: op, Path: f.name, Err: host.ErrClosed}
	}
	return nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	d := f.d
	d.latency(f.inc, d.opts.ReadLatency)
	if d.fault(d.opts.Faults.ReadEIO) {
		f.traceErr("read-eio")
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: host.ErrIO}
	}
	data := f.n.data
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	k := copy(p, data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

func (f *file) traceErr(what string) {
	w := f.d.h.w
	w.tbegin(f.inc.tag, what)
	w.tstr("path", f.name)
	w.tend()
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: fs.ErrInvalid}
	}
	d, n := f.d, f.n
	d.latency(f.inc, d.opts.WriteLatency)
	if d.fault(d.opts.Faults.WriteEIO) {
		f.traceErr("write-eio")
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: host.ErrIO}
	}
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		if err := f.grow(end); err != nil {
			return 0, &fs.PathError{Op: "write", Path: f.name, Err: err}
		}
	}
	n.beforeChange(off, end)
	copy(n.data[off:end], p)
	n.markDirty(off, end)
	return len(p), nil
}

// grow extends the file to size, charging the space.
func (f *file) grow(size int64) error {
	d, n := f.d, f.n
	if roundUp(size) > n.alloc && d.fault(d.opts.Faults.NoSpace) {
		f.traceErr("enospc-injected")
		return host.ErrNoSpace
	}
	if err := d.reserve(n, size); err != nil {
		f.traceErr("enospc")
		return err
	}
	n.setLen(size, f.name)
	return nil
}

func (f *file) Sync() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	d := f.d
	d.latency(f.inc, d.opts.SyncLatency)
	if d.fault(d.opts.Faults.SyncEIO) {
		f.traceErr("sync-eio")
		return &fs.PathError{Op: "sync", Path: f.name, Err: host.ErrIO}
	}
	pages := d.syncNow(f.n)
	w := d.h.w
	w.tbegin(f.inc.tag, "sync")
	w.tstr("path", f.name)
	w.tint("pages", int64(pages))
	w.tend()
	return nil
}

// syncOp is a SyncAsync in flight. Its completions on one file are spaced
// so that they land in issue order: a later sync never completes before an
// earlier one (the kernel serializes them on the inode).
type syncOp struct {
	f       *file
	n       *inode
	snap    snapshot
	err     error
	applied bool
	done    func(error)
}

func (op *syncOp) applyEarly() {
	if op.applied || op.f.inc.dead {
		return
	}
	op.applied = true
	if op.err == nil {
		op.n.apply(&op.snap)
	}
}

func (op *syncOp) fire(w *World, _ uint64) {
	n := op.n
	n.pending = slices.DeleteFunc(n.pending, func(p *syncOp) bool { return p == op || p.f.inc.dead })
	pages := len(op.snap.pages)
	op.applyEarly()
	op.snap = snapshot{}
	w.tbegin(op.f.inc.tag, "sync-done")
	w.tstr("path", op.f.name)
	w.tint("pages", int64(pages))
	w.terr(op.err)
	w.tend()
	op.done(op.err)
}

func (f *file) SyncAsync(done func(error)) {
	inc := f.inc
	w := f.d.h.w
	if err := f.check("sync"); err != nil {
		if !inc.dead {
			w.schedule(inc.now(), funcAction(func() { done(err) }), 0, inc)
		}
		return
	}
	d, n := f.d, f.n
	op := &syncOp{f: f, n: n, done: done}
	// The outcome is drawn now, in call order, so that the stream does not
	// depend on how completions interleave.
	if d.fault(d.opts.Faults.SyncEIO) {
		op.err = &fs.PathError{Op: "sync", Path: f.name, Err: host.ErrIO}
	} else {
		op.snap = n.snapshot()
	}
	at := max(inc.now()+d.opts.SyncLatency.draw(d.r), n.syncDone+1)
	n.syncDone = at
	// Ops of a dead incarnation never complete: forget them here.
	n.pending = slices.DeleteFunc(n.pending, func(p *syncOp) bool { return p.f.inc.dead })
	n.pending = append(n.pending, op)
	w.schedule(at, op, 0, inc)
}

func (f *file) Truncate(size int64) error {
	if err := f.check("truncate"); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	d, n := f.d, f.n
	d.latency(f.inc, d.opts.WriteLatency)
	if size > int64(len(n.data)) {
		// NB: the simulated disk has no holes: extending allocates, so a
		// full disk fails here rather than with SIGBUS on a mapped store.
		if err := f.grow(size); err != nil {
			return &fs.PathError{Op: "truncate", Path: f.name, Err: err}
		}
		return nil
	}
	n.setLen(size, f.name)
	n.prealloc = min(n.prealloc, size)
	d.reserve(n, size)
	return nil
}

func (f *file) Size() (int64, error) {
	if err := f.check("stat"); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

func (f *file) Name() string { return f.name }

func (f *file) Close() error {
	if f.closed {
		return host.ErrClosed
	}
	f.release()
	return nil
}

func (f *file) release() {
	f.closed = true
	f.inc.openFiles--
	n := f.n
	n.opens--
	if f.mapped {
		n.views--
	}
	f.d.forget(n)
}

// Map returns a view aliasing the page cache: stores into it are exactly
// WriteAt's volatile writes, found by the next sync by comparison. Like
// oshost, a file handle maps once.
func (f *file) Map(size int64) ([]byte, error) {
	if err := f.check("mmap"); err != nil {
		return nil, err
	}
	n := f.n
	if f.mapped || size <= 0 || size > int64(len(n.data)) {
		return nil, &fs.PathError{Op: "mmap", Path: f.name, Err: fs.ErrInvalid}
	}
	f.mapped = true
	n.views++
	n.mapGen++
	n.mappedHi = max(n.mappedHi, size)
	return n.data[:size:size], nil
}

func (f *file) Preallocate(size int64) error {
	if err := f.check("fallocate"); err != nil {
		return err
	}
	d, n := f.d, f.n
	if size <= n.prealloc && size <= int64(len(n.data)) {
		return nil
	}
	if roundUp(size) > n.alloc && d.fault(d.opts.Faults.NoSpace) {
		f.traceErr("enospc-injected")
		return &fs.PathError{Op: "fallocate", Path: f.name, Err: host.ErrNoSpace}
	}
	old := n.prealloc
	n.prealloc = max(old, size)
	if err := d.reserve(n, int64(len(n.data))); err != nil {
		n.prealloc = old
		f.traceErr("enospc")
		return &fs.PathError{Op: "fallocate", Path: f.name, Err: err}
	}
	if size > int64(len(n.data)) {
		n.setLen(size, f.name)
	}
	return nil
}
