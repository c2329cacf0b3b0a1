// Package sim is Thrust's deterministic simulator: virtual time, an event
// scheduler, and simulated hosts (disk, clock, network address) that
// implement the broker/host seam, so that unmodified broker code runs
// inside one seeded, replayable world.
//
// It knows nothing about brokers. A harness (sim/cluster or a test) makes a
// World, adds Hosts, Starts them to get each node's host.Env, hands the Env
// to its node constructors, drives a workload, injects faults (crashes,
// partitions, clock steps, fault probabilities) and runs the world.
//
// # What this package may import
//
// The standard library's pure packages and broker/host. Not os, net,
// syscall, runtime, sync, crypto/rand, hash/maphash, global math/rand, or
// any real clock: time.Time and time.Duration appear only as values. No
// goroutines, no select. internal/lint enforces it.
//
// # Determinism
//
// One seed is one run. Everything runs on the caller's goroutine; the only
// sources of choice are named random streams derived from the seed
// (Streams: "sched", "<host>/disk", "<host>/disk/crash", "<host>/net",
// "<host>/clock", "<host>/fault/<site>", "<host>/rand/<incarnation>",
// and whatever a harness asks for), so one component drawing more does not
// shift another. No map iteration reaches an outcome: names are sorted
// first. Every notable event (timer fired, segment delivered, sync done,
// file created, crash, partition, injected fault, node log line) is a
// trace line
//
//	<virtual seconds> <host#incarnation|host|world> <what> key=value ...
//
// and World.Digest is the SHA-256 of the lines' canonical binary encoding
// (see tracer); the text is rendered only for an attached writer, so
// watching a run does not change its digest. Env.Log is a slog text logger
// stamped with virtual time, and its lines are part of the digest. Same
// seed, same digest, on any machine and any GOMAXPROCS.
//
// # Scheduler
//
// A binary min-heap of events ordered by (virtual time, tiebreak key,
// sequence). The key is drawn from the "sched" stream when the event is
// scheduled, so events due at the same instant run in a seeded shuffle, not
// in program order: code that depends on that order fails on some seed.
// Where order is a contract (a connection's bytes, one file's SyncAsync
// completions, OnOpen before OnMessage before OnClose), the simulator
// enforces it itself rather than relying on the heap.
//
// An event may belong to an incarnation. Events of a dead incarnation are
// dropped when popped, so nothing of a crashed process ever runs: not its
// timers, disk completions or connection callbacks.
//
// Blocking calls (Sync, SyncDir, and ReadAt/WriteAt when given a latency)
// cost virtual time: the node's clocks advance within the callback, and
// its other events wait, in due order, until the call would have returned.
// A node that fsyncs on its loop is slow here as it is in life.
//
// # Hosts, incarnations and clocks
//
// A Host is a machine: a Disk that survives everything but the harness, a
// wall clock, an address 10.0.0.N (creation order). Start begins an
// incarnation of the node process and returns its host.Env; Crash ends it.
// Wall clock = Epoch (2026-01-01T00:00:00Z) + virtual time + skew (fixed
// and/or seeded per host) + steps (Host.StepClock, which may go
// backwards). Mono = virtual time since the incarnation started, never
// decreasing. AfterFunc timers fire on the node's loop; Stop returns true
// exactly when the function has not run and never will.
//
// # Storage fault model
//
// Each file has a volatile image (the page cache: what ReadAt sees, what
// WriteAt and mapped views change) and a durable image. Each directory has
// volatile entries, durable entries, and the ordered log of changes
// (create, remove, rename, mkdir) between them.
//
//   - Sync makes the file's whole volatile image durable: its size and
//     every page that changed (pages written with WriteAt are tracked;
//     pages of a mapped range are found by comparing with the durable
//     image, which costs O(mapped bytes) per sync).
//   - SyncAsync snapshots the changed pages when called and makes exactly
//     that snapshot durable when it completes, after a latency drawn from
//     SyncLatency. Bytes written after the call are not covered, ever.
//     Completions on one file land in call order; a blocking Sync first
//     applies the snapshots still in flight, so nothing durable goes back
//     in time.
//   - SyncDir makes a directory's entry changes durable. Nothing else does:
//     a file created and synced but whose directory was not synced can
//     vanish at a power loss. A rename within one directory is one change;
//     across directories it is two (a removal and an addition), durable
//     only when both parents are synced, and a power loss in between may
//     keep either, both or neither.
//   - ProcessCrash loses nothing: the page cache survives. Pending
//     SyncAsync completions are dropped (the process is not there to hear
//     them), which only matters at a later power loss.
//   - PowerLoss resolves every difference by the "<host>/disk/crash"
//     stream. For each directory, a prefix of its unsynced change log
//     survives (uniform length), so the surviving namespace is one the
//     directory really passed through; what no surviving entry names is
//     gone. For each surviving file, its size is the synced or the latest
//     size (coin flip, when they differ), and each page whose volatile
//     bytes differ from its durable bytes is kept (KeepProb), torn
//     (TearProb: each 512-byte sector independently old or new), or
//     dropped. Synced bytes are never altered, except by BitFlip. The page
//     cache then restarts from the result.
//   - Injected, per operation, from "<host>/disk", when World faults are on:
//     EIO on ReadAt, WriteAt, Sync/SyncAsync/SyncDir (host.ErrIO; the
//     operation has no effect, and a failed sync leaves its pages dirty, so
//     a retry may succeed: the kernel's page-dropping "fsyncgate"
//     behaviour is not modelled), ENOSPC (host.ErrNoSpace) on WriteAt,
//     Truncate or Preallocate that allocate; BitFlip (off by default, for
//     runs with replicas): at a power loss, one bit of a surviving file's
//     synced bytes flips. Disk.Corrupt flips a chosen bit.
//   - Capacity: the sum of linked or open files' sizes (and preallocations)
//     rounded up to pages. There are no holes: Truncate and Preallocate
//     allocate, and fail with host.ErrNoSpace at the limit, so a store
//     into a mapped range that was allocated cannot fail later.
//   - Mapped views alias the page cache and stay valid until the handle's
//     Close. A file with a live view cannot grow past its backing array
//     (it panics, loudly): map segments at their final size.
//   - Locks (host.Locker) are per file, exclusive, released by Close or
//     by the holder's death.
//
// # Network fault model
//
// Connections are TCP-like: reliable, ordered, no duplicates. Write queues
// bytes (host.ErrBackpressure beyond QueueLimit, except one write into an
// empty queue, as in oshost); when the writing callback returns, a pump
// moves them into flight (so the writes of one callback coalesce, as the
// kernel batches them) as segments of at most MaxSegment bytes, a SplitProb share cut at a random length, so
// receivers see partial frames and frames spanning segments. At most Window
// bytes are in flight per direction; a segment leaves after the host's
// egress Bandwidth allows and arrives after a Delay drawn per segment, never
// before the previous segment of its direction. The receiver decodes with
// host.Deframer and the Framer inline, delivering OnMessage on its loop.
//
//   - Dial sends a SYN. The target host's kernel answers: SYN-ACK when a
//     listener is bound (OnOpen at the acceptor on arrival, at the dialer on
//     the SYN-ACK), RST when none is (OnClose(ErrConnRefused)), nothing
//     when the host is powered off (OnClose(ErrTimeout) after Timeout).
//   - Close drains the queue, sends FIN and then owes OnClose(nil); the
//     peer gets OnClose(io.EOF) when the FIN arrives, after all the data.
//     A Framer error closes the stream with that error and resets the peer.
//   - ProcessCrash: the kernel resets the process's connections; the RST
//     follows the data already in flight, and peers get
//     OnClose(ErrConnReset). PowerLoss: nothing is sent; peers get
//     OnClose(ErrTimeout) after Timeout.
//   - Partitions (Partition, PartitionOneWay, Isolate; Heal) cut directed
//     host pairs. A cut stalls a stream, as TCP retransmission would:
//     queued bytes stay queued (and backpressure builds), segments in
//     flight are held and, on Heal, delivered in order after a fresh delay.
//     A connection whose path stays cut for Timeout is reset on both ends
//     with ErrTimeout, whether or not it had data in flight (as keepalive
//     would); a one-way cut stalls one direction and, after Timeout, resets
//     both. SYNs are held too: a dial across a cut times out.
//   - Injected, per segment, from "<host>/net", when World faults are on:
//     loss (the segment, and so the stream, is delayed by RetransmitDelay)
//     and reset (the segment resets the connection on both ends,
//     ErrConnReset).
//
// Acknowledgements are not modelled: a segment frees its window space when
// it arrives. Addresses: Listen binds the host's address whatever local
// form is given (":port", "0.0.0.0:port", "127.0.0.1:port"); port 0 and
// dialers' local ports come from a per-host counter from 32768.
//
// # Fault sites
//
// host.Faults.Fire(site) draws from "<host>/fault/<site>" with the site's
// probability (HostOptions.Faults, else Options.Faults, else 0). A site
// with probability 0 draws nothing.
//
// # Performance
//
// One event costs a few hundred nanoseconds (heap, tiebreak draw, trace
// line); nothing is allocated per event beyond what the event is (a Timer,
// a SyncAsync). Bytes cost memmove: a written message is copied when
// segments coalesce writes, by the Deframer, and by the page cache. A Sync
// of a mapped file compares its whole mapped range with the durable image
// (a memcmp at memory speed): keep simulated segments small (a few MiB).
// See the benchmarks: a one-broker workload of 100 msg/s runs above 1000x
// real time, 1000 msg/s of 1 KiB messages about 200x.
package sim
