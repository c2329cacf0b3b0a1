// Package oshost implements broker/host on this machine: the real clock,
// files with mmap, fallocate, fdatasync and flock, TCP with sendfile(2), and
// the event loop that runs one node.
//
// It is the only package under broker/ allowed to import os, net, syscall
// and golang.org/x/sys/unix, to read the real clock, to start goroutines and
// to use select. Everything it does off the loop comes back to the loop as a
// posted function, so broker code still sees a single thread.
//
// # Goroutines
//
//	loop        runs every callback of the node, one at a time (Loop.Run)
//	timers      time.AfterFunc, which only posts to the loop
//	accept      one per Listener
//	reader      one per Conn: read, cut frames, decode them (the Framer's
//	            pure functions), post them to the loop in batches
//	writer      one per Conn: writev the queued bytes, sendfile the queued
//	            file ranges, in queue order
//	sync        one per SyncAsync call: fdatasync, then post the completion
//
// # Counters
//
// Stats counts what took which path (mapped files, sendfile bytes, copied
// bytes), so that tests and reports can prove that real mode used mmap and
// sendfile rather than assume it.
package oshost
