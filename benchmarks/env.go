package benchmarks

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/thrustmq/thrust/reports"
)

// CaptureEnvironment describes this machine and build: CPU model and
// cores, memory, kernel, the disk under storeDir (device, file system,
// rotational or not), the Go version and the commit.
func CaptureEnvironment(storeDir string) reports.Environment {
	e := reports.Environment{
		CPU:       cpuModel(),
		Cores:     runtime.NumCPU(),
		MemoryGiB: memoryGiB(),
		Kernel:    kernel(),
		Disk:      DescribeDisk(storeDir),
		GoVersion: runtime.Version(),
		Commit:    commit(),
	}
	return e
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memoryGiB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%d", &kb)
		}
	}
	return int((kb + (1 << 19)) >> 20)
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return runtime.GOOS
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
}

// DescribeDisk names the mount under dir: device, file-system type, and
// whether the device rotates; "tmpfs (memory, not a disk)" says that
// fsync there measures nothing.
func DescribeDisk(dir string) string {
	if dir == "" {
		dir = os.TempDir()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown"
	}
	var dev, mnt, fstype string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		m := unescapeMount(f[1])
		if (abs == m || strings.HasPrefix(abs, strings.TrimSuffix(m, "/")+"/")) && len(m) >= len(mnt) {
			dev, mnt, fstype = f[0], m, f[2]
		}
	}
	if mnt == "" {
		return "unknown"
	}
	desc := fmt.Sprintf("%s on %s (%s)", dev, mnt, fstype)
	switch fstype {
	case "tmpfs", "ramfs":
		return desc + ": memory, not a disk; fsync measures nothing"
	case "overlay":
		desc += ", overlay"
	}
	if rot, ok := rotational(dev); ok {
		if rot {
			desc += ", rotational"
		} else {
			desc += ", non-rotational"
		}
	}
	var st unix.Statfs_t
	if unix.Statfs(abs, &st) == nil {
		desc += fmt.Sprintf(", %d GiB free", st.Bavail*uint64(st.Bsize)>>30)
	}
	return desc
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// rotational reads /sys/block/<disk>/queue/rotational for a /dev/ path,
// walking from a partition to its disk.
func rotational(dev string) (bool, bool) {
	if !strings.HasPrefix(dev, "/dev/") {
		return false, false
	}
	name := filepath.Base(dev)
	if real, err := filepath.EvalSymlinks(dev); err == nil {
		name = filepath.Base(real)
	}
	for _, cand := range []string{name, strings.TrimRight(name, "0123456789"), strings.TrimSuffix(strings.TrimRight(name, "0123456789"), "p")} {
		b, err := os.ReadFile(filepath.Join("/sys/block", cand, "queue/rotational"))
		if err == nil {
			return strings.TrimSpace(string(b)) == "1", true
		}
	}
	return false, false
}

// commit is the build's VCS revision, or git's idea of HEAD in the
// working directory (go run and go test builds carry no revision).
func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			if modified == "true" {
				rev += "+dirty"
			}
			return rev
		}
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += "+dirty"
	}
	return rev
}
