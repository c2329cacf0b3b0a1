// Package store is Thrust's message store, laid out as RocketMQ's
// DefaultMessageStore so that every message in a pull response is a byte
// range of the commit log, sent untouched.
//
// # Layout (under storePathRootDir)
//
//	commitlog/00000000000000000000     segments of mappedFileSizeCommitLog bytes,
//	commitlog/00000000001073741824     named by their first byte's offset
//	commitlog/<offset>.warm            the next segment, made ahead of need
//	                                   (warmMapedFileEnable); renamed into place
//	                                   when the log rolls, removed at open
//	consumequeue/<topic>/<queueId>/<20-digit byte offset>
//	                                   consume-queue segments of 20-byte units
//	checkpoint                         two CRC'd slots (see checkpoint.go)
//	abort                              exists while the store runs
//	lock                               flock'd while the store runs
//
// A commit-log segment is a run of records (broker/message draws the
// record) ending, when the next record does not fit, with an 8-byte blank
// (TOTALSIZE = bytes left, MAGICCODE = 0xCBD43194). A record is written only
// if a blank still fits after it. Records carry their own PHYSICALOFFSET,
// which recovery checks, and (enabledAppendPropCRC) a last property holding
// a CRC of the whole record, since BODYCRC covers the body alone:
//
//	+-----------+-------+---------+--- ... ---+--------------------------------+
//	| TOTALSIZE | MAGIC | BODYCRC |  fields   | PROPERTIES ... __CRC32#\x01NNNNNNNNNN\x02 |
//	+-----------+-------+---------+--- ... ---+--------------------------------+
//
// A consume-queue unit (logical offset n lives at byte 20n):
//
//	+----------------------+-------------+---------------------+
//	| commit-log offset i64| size    i32 | tags code       i64 |
//	+----------------------+-------------+---------------------+
//
// Size 0 with offset 0 is leading fill (a queue that began above offset 0);
// size -1 is a hole left by a record recovery found corrupt.
//
// # Invariants
//
//   - Everything runs on the node's loop; the store takes no locks.
//   - Under SYNC_FLUSH a put is acknowledged only after a sync that began
//     after its record was written has completed, and records become
//     visible to consumers (dispatched into consume queues) only then: a
//     consumer never sees a message a power loss could take back. One sync
//     covers every put pending when it starts (group commit).
//   - Under ASYNC_FLUSH a put is acknowledged and dispatched once its record
//     is in the page cache; a background sync follows.
//   - Consume queues are derived data. Recovery truncates each to its
//     durable, valid prefix and rebuilds the rest from the commit log.
//   - A record that fails verification is never served: a torn tail is
//     truncated (and the bytes after it zeroed, so that no stale record
//     reappears after later appends), corruption inside synced data is
//     quarantined and stepped over.
//   - A failed sync fences the store: after fsync fails the page cache
//     cannot be trusted, so writes are refused until a restart recovers.
//   - Writes are refused with a clear status, before anything is written,
//     when the disk is above diskSpaceWarningLevelRatio, a message is over
//     maxMessageSize, or properties are over 32767 bytes.
//
// # Imports
//
// broker/host and broker/message, and the standard library's pure
// packages. Time, files and randomness come through host.Env.
package store
