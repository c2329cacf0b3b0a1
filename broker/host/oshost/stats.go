package oshost

import "sync/atomic"

// Stats counts, process-wide, what real I/O took which path. Reports and
// tests read it to show that mmap and sendfile were used, not assumed.
type Stats struct {
	MappedFiles    atomic.Uint64 // files mapped with mmap(2)
	MappedBytes    atomic.Uint64 // bytes of those mappings
	Preallocations atomic.Uint64 // successful fallocate(2) calls
	Syncs          atomic.Uint64 // fdatasync(2) calls, sync and async
	SendFileCalls  atomic.Uint64 // file ranges sent with sendfile(2)
	SendFileBytes  atomic.Uint64 // bytes sendfile(2) moved
	// MappedSendCalls and MappedSendBytes count file ranges too short for
	// a sendfile(2) of their own, written with writev straight from the
	// file's mapping (never through the heap).
	MappedSendCalls atomic.Uint64 // writev calls that carried mapped ranges
	MappedSendBytes atomic.Uint64 // bytes of mapped ranges among them
	WrittenBytes    atomic.Uint64 // bytes written with writev, mapped ranges included
}

var stats Stats

// Counters returns the process-wide counters.
func Counters() *Stats { return &stats }
