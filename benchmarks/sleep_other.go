//go:build !linux

package benchmarks

import "time"

func preciseSleep(d time.Duration) { time.Sleep(d) }

func settle() {}
