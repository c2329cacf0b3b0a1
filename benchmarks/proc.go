package benchmarks

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is the unit of /proc/<pid>/stat's CPU times: sysconf
// (_SC_CLK_TCK), which is 100 on every Linux architecture Go supports
// (USER_HZ; the kernel's HZ does not change it).
const ClockTicks = 100

// ProcCPU is a process's CPU time so far: user plus system, read from
// /proc/<pid>/stat.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStatCPU(b)
}

// ParseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and
// may itself hold spaces and parentheses, so fields are counted from the
// last ')'.
func ParseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no ')' in %q", truncate(b, 80))
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: utime %q, stime %q", f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / ClockTicks, nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// ProcMemory reads a process's resident set: now (VmRSS) and its peak
// (VmHWM), in bytes.
func ProcMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	return ParseStatusMemory(b)
}

// ParseStatusMemory reads VmRSS and VmHWM ("VmHWM:   123456 kB") from
// /proc/<pid>/status.
func ParseStatusMemory(b []byte) (rss, hwm int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := 0
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			return 0, 0, fmt.Errorf("proc status: %q is not \"<key>: <n> kB\"", line)
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("proc status: %q: %w", line, err)
		}
		*dst = v << 10
		found++
	}
	if found < 2 {
		return 0, 0, fmt.Errorf("proc status: VmRSS or VmHWM missing (kernel threads have neither)")
	}
	return rss, hwm, nil
}

// ResetPeakRSS makes VmHWM start again from the current resident set
// (writing 5 to /proc/<pid>/clear_refs), so that the peak read at the end
// of a window is the window's. It needs to own the process, which the
// runner does for the brokers it starts.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// resourceWindow measures a process over a window: CPU between Start and
// End, and the peak resident set.
type resourceWindow struct {
	pid        int
	cpu0, cpu1 time.Duration
	hwm        int64
	err        error
}

func (w *resourceWindow) Start() {
	if w.pid <= 0 {
		return
	}
	ResetPeakRSS(w.pid) // best effort: the peak may then cover the warm-up too
	w.cpu0, w.err = ProcCPU(w.pid)
}

func (w *resourceWindow) End() {
	if w.pid <= 0 || w.err != nil {
		return
	}
	if w.cpu1, w.err = ProcCPU(w.pid); w.err != nil {
		return
	}
	_, w.hwm, w.err = ProcMemory(w.pid)
}

func (w *resourceWindow) CPU() time.Duration { return w.cpu1 - w.cpu0 }
