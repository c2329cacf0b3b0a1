package oshost

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/thrustmq/thrust/broker/host"
)

// FS is the real file system. Its asynchronous completions run on loop.
type FS struct {
	loop *Loop
}

var (
	_ host.FS         = (*FS)(nil)
	_ host.DiskUsager = (*FS)(nil)
	_ host.Locker     = (*FS)(nil)
)

func (fs *FS) Create(name string) (host.File, error) {
	return fs.open(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
}

func (fs *FS) Open(name string) (host.File, error) {
	return fs.open(name, os.O_RDWR)
}

func (fs *FS) open(name string, flag int) (host.File, error) {
	f, err := os.OpenFile(name, flag, 0o644)
	if err != nil {
		return nil, mapErr(err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var fd int
	// Taking the descriptor through the raw conn, unlike os.File.Fd, leaves
	// the file's mode alone.
	if err := rc.Control(func(d uintptr) { fd = int(d) }); err != nil {
		f.Close()
		return nil, err
	}
	file := &File{loop: fs.loop, f: f, fd: fd}
	file.refs.Store(1)
	return file, nil
}

func (fs *FS) Remove(name string) error             { return mapErr(os.Remove(name)) }
func (fs *FS) Rename(oldname, newname string) error { return mapErr(os.Rename(oldname, newname)) }
func (fs *FS) MkdirAll(dir string) error            { return mapErr(os.MkdirAll(dir, 0o755)) }

func (fs *FS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, mapErr(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (fs *FS) Stat(name string) (host.FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return host.FileInfo{}, mapErr(err)
	}
	return host.FileInfo{Size: fi.Size(), IsDir: fi.IsDir()}, nil
}

func (fs *FS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return mapErr(err)
	}
	defer d.Close()
	return mapErr(d.Sync())
}

func (fs *FS) DiskUsage(dir string) (host.DiskUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return host.DiskUsage{}, mapErr(&os.PathError{Op: "statfs", Path: dir, Err: err})
	}
	bs := uint64(st.Bsize)
	// Bavail, not Bfree: the blocks reserved for root are not ours to fill.
	return host.DiskUsage{Total: st.Blocks * bs, Free: st.Bavail * bs}, nil
}

func (fs *FS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("oshost: %s is locked by another process", name)
		}
		return nil, mapErr(&os.PathError{Op: "flock", Path: name, Err: err})
	}
	return f, nil // closing the descriptor releases the lock
}

// File is a real file.
type File struct {
	loop *Loop
	f    *os.File
	fd   int
	view []byte // the mapped view, if Map was called

	// refs counts the owner (1 until Close) plus every pending SendFile, so
	// that Close never pulls the descriptor out from under a sendfile(2) in
	// flight on a connection's writer goroutine.
	refs   atomic.Int32
	closed bool // set by Close, on the loop
}

var (
	_ host.File              = (*File)(nil)
	_ host.Mapper            = (*File)(nil)
	_ host.Preallocator      = (*File)(nil)
	_ host.AsyncPreallocator = (*File)(nil)
)

func (f *File) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = mapErr(err)
	}
	return n, err
}

func (f *File) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.f.WriteAt(p, off)
	return n, mapErr(err)
}

// Sync is fdatasync(2). On Linux it also writes back pages dirtied through a
// shared mapping of the file, which is why no separate msync is needed.
func (f *File) Sync() error {
	stats.Syncs.Add(1)
	return mapErr(fdatasync(f.fd, f.f.Name()))
}

func (f *File) SyncAsync(done func(error)) {
	stats.Syncs.Add(1)
	go func() {
		err := mapErr(fdatasync(f.fd, f.f.Name()))
		f.loop.Post(func() { done(err) })
	}()
}

func fdatasync(fd int, name string) error {
	for {
		err := unix.Fdatasync(fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: name, Err: err}
		}
		return nil
	}
}

func (f *File) Truncate(size int64) error { return mapErr(f.f.Truncate(size)) }

func (f *File) Size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, mapErr(err)
	}
	return fi.Size(), nil
}

func (f *File) Name() string { return f.f.Name() }

// Map maps [0, size) shared and writable. Page faults on the view are the
// kernel's business; Preallocate first so that none of them can hit a hole
// on a full disk.
func (f *File) Map(size int64) ([]byte, error) {
	if f.view != nil {
		return nil, fmt.Errorf("oshost: %s is already mapped", f.Name())
	}
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("oshost: cannot map %d bytes of %s", size, f.Name())
	}
	fsize, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > fsize {
		return nil, fmt.Errorf("oshost: map of %d bytes beyond the %d-byte file %s", size, fsize, f.Name())
	}
	view, err := unix.Mmap(f.fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, mapErr(&os.PathError{Op: "mmap", Path: f.Name(), Err: err})
	}
	f.view = view
	stats.MappedFiles.Add(1)
	stats.MappedBytes.Add(uint64(size))
	return view, nil
}

// Preallocate is fallocate(2) in its default mode: blocks are reserved and
// the size extended. File systems without fallocate fall back to extending
// the size only, which reserves nothing; that is logged by the store, not
// hidden here: the error says so.
func (f *File) Preallocate(size int64) error {
	for {
		err := unix.Fallocate(f.fd, 0, 0, size)
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			stats.Preallocations.Add(1)
			return nil
		}
		if err == unix.EOPNOTSUPP {
			return fmt.Errorf("oshost: fallocate unsupported on %s: %w", f.Name(), errors.ErrUnsupported)
		}
		return mapErr(&os.PathError{Op: "fallocate", Path: f.Name(), Err: err})
	}
}

// PreallocateAsync is Preallocate on a goroutine of its own; done runs on
// the loop. A reference held for the call keeps the descriptor open even
// if the owner closes the file meanwhile.
func (f *File) PreallocateAsync(size int64, done func(error)) {
	if !f.acquire() {
		f.loop.Post(func() { done(host.ErrClosed) })
		return
	}
	go func() {
		err := f.Preallocate(size)
		f.release()
		f.loop.Post(func() { done(err) })
	}()
}

func (f *File) Close() error {
	if f.closed {
		return host.ErrClosed
	}
	f.closed = true
	return f.release()
}

// acquire takes a reference for a pending send. It runs on the loop, where
// the owner's reference is known to be held unless Close ran.
func (f *File) acquire() bool {
	if f.closed {
		return false
	}
	f.refs.Add(1)
	return true
}

// release drops a reference; the last one unmaps and closes.
func (f *File) release() error {
	if f.refs.Add(-1) != 0 {
		return nil
	}
	var err error
	if f.view != nil {
		err = unix.Munmap(f.view)
		f.view = nil
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	return mapErr(err)
}

// mapErr keeps the original error for messages and adds the host sentinels
// for the conditions broker code must tell apart.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOSPC, syscall.EDQUOT:
			return &hostErr{err: err, kind: host.ErrNoSpace}
		case syscall.EIO:
			return &hostErr{err: err, kind: host.ErrIO}
		}
	}
	return err
}

type hostErr struct {
	err  error
	kind error
}

func (e *hostErr) Error() string   { return e.err.Error() }
func (e *hostErr) Unwrap() []error { return []error{e.err, e.kind} }
