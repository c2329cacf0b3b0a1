package benchmarks

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250, stime 150.
	line := "4242 (my (odd) broker) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 150 0 0 20 0 9 0 123456 1000000 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	cpu, err := ParseStatCPU([]byte(line))
	if err != nil || cpu != 4*time.Second {
		t.Errorf("cpu %v err %v, want 4s (400 ticks at %d Hz)", cpu, err, ClockTicks)
	}
	for _, bad := range []string{"", "4242 (x S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 1 1 0 -1 0 0 0 0 0 u s 0 0"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tmqbroker\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t9\n"
	rss, hwm, err := ParseStatusMemory([]byte(status))
	if err != nil || rss != 10<<20 || hwm != 20<<20 {
		t.Errorf("rss %d hwm %d err %v", rss, hwm, err)
	}
	if _, _, err := ParseStatusMemory([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("a kernel thread's status parsed")
	}
	if _, _, err := ParseStatusMemory([]byte("VmHWM:\t12 MB\nVmRSS:\t1 kB\n")); err == nil || !strings.Contains(err.Error(), "kB") {
		t.Errorf("bad unit: %v", err)
	}
}

func TestProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before, err := ProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := ProcCPU(os.Getpid())
	if err != nil || after < before {
		t.Errorf("cpu %v then %v (%v)", before, after, err)
	}
	rss, hwm, err := ProcMemory(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Errorf("rss %d hwm %d err %v", rss, hwm, err)
	}
	if err := ResetPeakRSS(os.Getpid()); err != nil {
		t.Logf("clear_refs not writable here: %v", err)
	}
}

func TestEnvironment(t *testing.T) {
	e := CaptureEnvironment(t.TempDir())
	if e.Cores <= 0 || e.GoVersion == "" || e.CPU == "" || e.Kernel == "" || e.Disk == "" || e.Commit == "" {
		t.Errorf("environment: %+v", e)
	}
	t.Logf("%+v", e)
}
