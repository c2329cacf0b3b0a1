package benchmarks

import (
	"time"

	"golang.org/x/sys/unix"
)

// preciseSleep sleeps with nanosleep(2), on the caller's OS thread: its
// wake-ups are tens of microseconds late, where the runtime's timers
// round short sleeps up to about a millisecond.
func preciseSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		var rem unix.Timespec
		if err := unix.Nanosleep(&ts, &rem); err != unix.EINTR {
			return
		}
		ts = rem
	}
}

// settle writes back every dirty page and journal entry of the machine
// (sync(2)) and measures nothing: a run's leftovers are flushed before the
// next run starts its clock.
func settle() { unix.Sync() }
