// Package host is the seam between Thrust's broker code and the world.
//
// Everything under broker/ reaches time, files, sockets and randomness only
// through the interfaces declared here, bundled per node in an Env. Two
// packages implement them:
//
//   - broker/host/oshost: this machine (mmap'd files, fdatasync, sendfile,
//     TCP, the real clock, goroutines that post completions to the loop);
//   - sim: a seeded, single-goroutine world with a virtual clock, a disk
//     that distinguishes durable from volatile pages, and a network that
//     delays, splits, resets and partitions.
//
// # One loop per node
//
// A node (a name server or a broker) owns one event loop. Every callback
// this package defines — Timer functions, Handler methods, SyncAsync
// completions — runs on that loop, one at a time, so broker state needs no
// locks. Code on the loop must never block on anything but a local disk
// operation it has chosen to make synchronous (recovery, small metadata
// writes); everything slow has an asynchronous form whose completion comes
// back to the loop.
//
// # What this package may import
//
// Only the standard library's pure packages (time for durations and
// timestamps as values, io/fs for error sentinels, log/slog for the logger
// type). It declares interfaces and small pure helpers, nothing that touches
// the operating system.
//
// # Durability contract (see File)
//
// After Sync (or SyncAsync's completion with a nil error) returns, every
// byte written with WriteAt, and every byte stored into a mapped view,
// before the call began survives a process crash and a power loss. Nothing
// else is promised: bytes written later, or not yet synced, may survive
// whole, vanish, or survive torn at sector granularity after a power loss.
// A process crash (the node dies, the machine does not) loses nothing that
// reached WriteAt or a mapped view, because the page cache survives it.
// Directory entries (create, rename, remove) are durable only after SyncDir
// on the directory that holds them.
package host
