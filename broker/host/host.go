package host

import (
	"errors"
	"io"
	"log/slog"
	"time"
)

// Env is what one node may reach of the world. Constructors take an Env;
// nothing in broker/ reaches for a global.
type Env struct {
	Clock Clock
	FS    FS
	Net   Network
	Rand  Rand
	Log   *slog.Logger
	// Faults names the fault sites production code may consult. In real
	// mode it is NoFaults; the simulator draws from its seeded stream.
	Faults Faults
}

// Errors every implementation returns (possibly wrapped) so that broker code
// can tell the cases apart with errors.Is, without importing os or syscall.
var (
	// ErrClosed: the file, connection, listener or loop is closed.
	ErrClosed = errors.New("host: closed")
	// ErrBackpressure: a connection's write queue is over its byte limit.
	// Nothing of the rejected write was queued.
	ErrBackpressure = errors.New("host: connection write queue full")
	// ErrNoSpace: the device is full (ENOSPC).
	ErrNoSpace = errors.New("host: no space left on device")
	// ErrIO: the device failed (EIO).
	ErrIO = errors.New("host: input/output error")
)

// Clock is a node's view of time.
type Clock interface {
	// Now is the wall clock. It may jump backwards or forwards (NTP steps, or
	// the simulator's skew); use it for timestamps that leave the node
	// (store timestamps, file names), never to measure intervals.
	Now() time.Time
	// Mono is the time elapsed on a monotonic clock since an arbitrary
	// origin fixed for the node's life. It never decreases. Use it for
	// deadlines, intervals and timeouts.
	Mono() time.Duration
	// AfterFunc runs f on the node's loop once at least d has passed on
	// the monotonic clock. d <= 0 means "as soon as possible, after the
	// current callback returns": the way to defer work without recursion.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the timer. Called on the loop, it guarantees that f has
	// not run and will not run when it returns true, and that f already ran
	// when it returns false.
	Stop() bool
}

// Rand is a seeded source of randomness. *math/rand/v2.Rand satisfies it.
type Rand interface {
	Uint64() uint64
	// IntN returns a value in [0, n); it panics if n <= 0.
	IntN(n int) int
	// Int64N returns a value in [0, n); it panics if n <= 0.
	Int64N(n int64) int64
	// Float64 returns a value in [0.0, 1.0).
	Float64() float64
}

// FS is a node's file system. Names are slash-separated paths as the host's
// path/filepath understands them; the broker joins them with path/filepath.
//
// Missing files are reported with errors that match io/fs.ErrNotExist, and
// existing ones, where that matters, with io/fs.ErrExist.
type FS interface {
	// Create creates name, truncating it if it exists, and opens it for
	// reading and writing. The new directory entry is durable only after
	// SyncDir on its parent.
	Create(name string) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	// Remove deletes a file or an empty directory. Durable after SyncDir.
	Remove(name string) error
	// Rename atomically replaces newname by oldname. Durable after SyncDir
	// on both parents.
	Rename(oldname, newname string) error
	// MkdirAll creates dir and any missing parents. The new entries are
	// durable after SyncDir on each parent; callers that need them across
	// a power loss sync the parents they created.
	MkdirAll(dir string) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// Stat describes name.
	Stat(name string) (FileInfo, error)
	// SyncDir makes the entries of dir (creations, renames, removals)
	// durable.
	SyncDir(dir string) error
}

// FileInfo is the part of a file's metadata the broker uses. It has no
// modification time on purpose: the broker keeps its own clocks in its
// records, and a file system's timestamps would differ run to run.
type FileInfo struct {
	Size  int64
	IsDir bool
}

// File is an open file. Methods other than Close may be called only until
// Close. The slices passed to ReadAt and WriteAt stay the caller's.
type File interface {
	io.ReaderAt
	// WriteAt stores p at off into the page cache. It is volatile until a
	// Sync that begins after it returns.
	io.WriterAt
	// Sync makes durable every byte written with WriteAt or stored into a
	// mapped view before the call began (fdatasync). It blocks the loop:
	// use it only where waiting is the point (recovery, shutdown, small
	// metadata files).
	Sync() error
	// SyncAsync does what Sync does off the loop and calls done on the loop
	// when the sync has completed. Bytes written or stored after the call
	// began may or may not be covered. The file must stay open until done
	// has run.
	SyncAsync(done func(error))
	// Truncate changes the file's size. Durable after Sync.
	Truncate(size int64) error
	// Size is the file's current size.
	Size() (int64, error)
	// Name is the path the file was opened with.
	Name() string
	// Close releases the file and any mapped view of it. Pending sends of
	// its bytes (FileSender) keep the underlying file alive until they end.
	Close() error
}

// Mapper is implemented by files that offer a shared, writable memory map.
// Broker code checks for it with a type assertion and falls back to
// ReadAt/WriteAt without it.
type Mapper interface {
	// Map maps bytes [0, size) of the file and returns the view. size must
	// not exceed the file's size (Preallocate or Truncate first). The view
	// is valid until Close. Stores into it are exactly like WriteAt: in the
	// page cache, volatile until Sync.
	Map(size int64) ([]byte, error)
}

// Preallocator is implemented by files that can reserve disk blocks, so that
// later writes and mapped stores within the reserved range cannot fail for
// lack of space (a store into a mapped hole on a full disk would otherwise
// kill the process with SIGBUS).
type Preallocator interface {
	// Preallocate reserves [0, size) and extends the file to at least size.
	// It returns an error matching ErrNoSpace when the device is full.
	Preallocate(size int64) error
}

// AsyncPreallocator is implemented by files that can preallocate off the
// loop. The store uses it to make the next commit-log segment ahead of need
// (warmMapedFileEnable) without stalling the loop; without it, it
// preallocates on the loop.
type AsyncPreallocator interface {
	// PreallocateAsync does what Preallocate does, off the loop, and calls
	// done on the loop when it has completed. The file must stay open
	// until done has run.
	PreallocateAsync(size int64, done func(error))
}

// DiskUsager is implemented by file systems that can report the usage of the
// device that holds a directory.
type DiskUsager interface {
	DiskUsage(dir string) (DiskUsage, error)
}

// DiskUsage describes a device, in bytes.
type DiskUsage struct {
	Total uint64
	Free  uint64
}

// UsedRatio is the fraction of the device in use, in [0, 1].
func (u DiskUsage) UsedRatio() float64 {
	if u.Total == 0 {
		return 0
	}
	return float64(u.Total-u.Free) / float64(u.Total)
}

// Locker is implemented by file systems that can take an exclusive advisory
// lock on a file, so that two processes never open one store.
type Locker interface {
	// Lock takes the lock on name, creating the file if needed. It fails at
	// once if another holder has it. Closing the returned io.Closer
	// releases it.
	Lock(name string) (io.Closer, error)
}

// Network opens TCP-like streams: reliable, ordered, no duplicates within a
// connection, possibly split into arbitrary segments.
type Network interface {
	// Listen accepts connections on addr ("host:port"; port 0 picks one).
	// Each accepted connection is cut into frames by framer, and its events
	// go to h on the loop.
	Listen(addr string, framer Framer, h Handler) (Listener, error)
	// Dial opens a connection to addr without blocking. Writes may be
	// queued at once; h.OnOpen runs when the connection is established, or
	// h.OnClose with the error when it cannot be.
	Dial(addr string, framer Framer, h Handler) Conn
}

// Listener is a listening socket.
type Listener interface {
	// Addr is the bound address, with the port chosen if 0 was asked for.
	Addr() string
	// Close stops accepting. Established connections are not affected.
	Close() error
}

// Handler receives a connection's events on the loop.
type Handler interface {
	// OnOpen runs once the connection is established.
	OnOpen(c Conn)
	// OnMessage runs for each frame, in stream order, with what the
	// connection's Framer decoded.
	OnMessage(c Conn, msg any)
	// OnClose runs exactly once, last, whoever closed the connection and
	// why: err is nil after a local Close, and describes the cause
	// otherwise (peer closed, reset, malformed frame, dial failure).
	OnClose(c Conn, err error)
}

// Framer cuts a byte stream into frames and decodes each one. Both methods
// must be pure: oshost calls them on a connection's reader goroutine, the
// simulator inline, and the results must not differ.
type Framer interface {
	// FrameLen reports the total length of the frame that starts at p[0],
	// as soon as p holds enough of it to know: 0 means more bytes are
	// needed. An error means the stream is malformed (a length out of
	// bounds, say); the connection is then closed with that error. It must
	// reject a length it will not accept before any byte of the frame body
	// is buffered.
	FrameLen(p []byte) (n int, err error)
	// Decode turns one whole frame into the message OnMessage receives.
	// Decode owns frame afterwards and may keep references into it.
	// Malformed contents are reported inside the returned message, not by
	// closing the stream.
	Decode(frame []byte) any
}

// Conn is one end of an established or establishing stream.
type Conn interface {
	// ID is unique among the node's connections for the node's life, and
	// increases with creation order: sort by it, never by address.
	ID() uint64
	// Write queues p after everything written before. The connection owns
	// p afterwards. It never blocks: over the connection's queue limit it
	// returns ErrBackpressure and queues nothing; after Close, ErrClosed.
	Write(p []byte) error
	// Buffered is the number of bytes queued and not yet handed to the
	// operating system (or, simulated, to the network).
	Buffered() int
	// Close stops reading, lets what is queued drain, then closes. OnClose
	// follows on the loop with a nil error.
	Close()
	LocalAddr() string
	RemoteAddr() string
}

// FileSender is implemented by connections that can send a file's bytes
// without copying them through the broker (sendfile(2) at an explicit
// offset, which does not move the file's position and so is safe for
// concurrent sends of one file).
type FileSender interface {
	// SendFile queues bytes [off, off+n) of f after everything written
	// before, under the same queue limit as Write. f must stay open until
	// the bytes are sent; File.Close defers the real close until then.
	SendFile(f File, off int64, n int) error
}

// Faults is the set of fault sites production code consults. Each site is
// named; in real mode every site is inert.
type Faults interface {
	// Fire reports whether the named fault fires now. The simulator draws
	// the answer from its seeded stream for the site.
	Fire(site string) bool
}

// Crash is what production code panics with at a fault site whose fault
// is a process crash: it models the process dying right there, between two
// steps that a real crash could separate (a record appended, its sync not
// yet begun). The simulator recovers it and crashes the node's incarnation
// (the page cache survives, as it does a killed process); in real mode
// nothing recovers it and the process dies, as under kill -9, which is how
// failpoint-driven chaos runs crash a real broker at a chosen site.
type Crash struct{ Site string }

func (c Crash) Error() string { return "host: crash at fault site " + c.Site }

// NoFaults is the real world's Faults: nothing ever fires.
type NoFaults struct{}

// Fire always reports false.
func (NoFaults) Fire(string) bool { return false }
