// Package benchmarks measures Thrust's tuning options, and peer brokers,
// side by side on the machine it runs on: the library behind mqbench.
//
//	workload file (YAML)  ->  configurations x repetitions, interleaved
//	                            |
//	      one fresh server process per run (mqbroker -standalone, or
//	      nats-server with JetStream), store in a temporary directory
//	                            |
//	      open-loop generator: producers on Thrust's own client (one
//	      oshost loop per connection) or a minimal NATS client;
//	      consumers consuming concurrently
//	                            |
//	      Recorder: HdrHistograms, per-second series, errors by code;
//	      broker CPU and peak RSS from /proc; broker counters
//	                            |
//	      reports.Suite (results.json) -> reports renders md and HTML
//
// # Latency, corrected for coordinated omission
//
// Every message has an intended send time, fixed by the schedule before
// the run (Schedule: a constant rate, or k6-style ramping stages). A
// producer keeps at most InFlight requests outstanding; when its window is
// full the next send waits, and its latency, acknowledgement time minus
// intended time, includes the wait. So a broker that stalls for 300 ms is
// charged 300 ms for every message that should have gone during the
// stall, not only for the few that were in flight (which is all a tool
// that measures from the actual send, as the OpenMessaging Benchmark does,
// sees). The uncorrected latency (from the actual send) and the sender's
// lag (actual minus intended) are recorded beside it, so that a report
// shows how much of the latency the generator's own lateness explains.
// End-to-end latency is consume time minus the time the producer sent the
// message, read from the first 16 bytes of the body (intended and actual
// send times), on the same monotonic clock.
//
// Producers pace themselves on OS threads of their own with nanosleep(2):
// the runtime rounds sub-millisecond sleeps up to about a millisecond,
// which at thousands of messages per second would be all the latency
// there is. What lateness remains (tens of microseconds) is sender lag.
//
// # The maximum sustainable rate
//
// producerRate 0 asks for it. A closed-loop probe (every producer keeps
// its window full) measures what the system absorbs; then open-loop passes
// run at a fraction of it (0.9), and while a pass does not keep up (it
// acknowledged less than 95 % of the intended rate during the measured
// period, or its sender lag p99 passed 50 ms, or over 1 % of sends
// failed), the next runs at the fraction of what the failed pass did
// sustain, a bounded number of times. The reported throughput is that of
// the last pass, and its latency is measured at that rate, so the figures
// a report compares are rates a system sustained with honest latency, not
// a closed loop's.
//
// # Interleaving and repetitions
//
// Repetition r runs every configuration before repetition r+1 runs any,
// starting r-1 places further along the list (rep 1: A B C, rep 2: B C A,
// ...), so that drift in the machine spreads over all configurations and
// no configuration always follows the same one: on a small machine a run
// at full load leaves the next seconds slower (measured on a 2-core VM:
// SYNC_FLUSH p99 at 4,000 msg/s of 2 ms alone, 10 ms right after a
// maximum-rate run). Before the first repetition an unrecorded closed-loop
// run warms the machine up (suiteWarmupSeconds); cooldownSeconds idles
// before each run; each server's store is removed and the machine's dirty
// pages written back (sync(2)) before the next run starts its clock.
// Reports show medians with [min..max].
//
// # Backlogs
//
// consumerBacklogSizeGB (OMB's name) measures the pull path alone: a
// backlog is filled with the consumers stopped, then drained with the
// producers stopped; throughput and broker CPU per GB are the drain's.
// With small messages arriving at the rate they are consumed, pulls carry
// a few messages each and the send path dominates the broker's CPU, so
// sendfile and copy differ little per GB there; draining a backlog in
// 256 KiB pulls is where they differ.
//
// # Bounds
//
// Every load is bounded: the schedule holds a finite number of messages
// (at most 2e9), answers are awaited at most 5 s after the schedule ends
// (then the unsent and the unanswered count as errors), consumers get 5 s
// to catch up, servers 60 s to boot and 10 s to stop. Servers listen on
// 127.0.0.1 and free ports only.
//
// # What it may import
//
// This package runs in real mode, outside the simulated world: goroutines,
// the real clock, os/exec and /proc are its business. It imports the
// broker's client, remoting and oshost packages and reports; nothing in
// broker/ imports it.
package benchmarks
