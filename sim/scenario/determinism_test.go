package scenario

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestSameSeedSameDigest: one seed is one run. The same seed twice, and
// under GOMAXPROCS 1 and 2 (in child processes, so that the setting is
// real from the start), gives the same digest; another seed another.
func TestSameSeedSameDigest(t *testing.T) {
	if d := os.Getenv("THRUST_DIGEST_CHILD"); d != "" {
		res := Run(Options{Seed: 42})
		os.Stdout.WriteString("digest=" + res.Digest + "\n")
		return
	}
	a := Run(Options{Seed: 42})
	b := Run(Options{Seed: 42})
	if a.Digest != b.Digest {
		t.Fatalf("seed 42 twice: %s vs %s", a.Digest, b.Digest)
	}
	if len(a.History.Ops()) != len(b.History.Ops()) {
		t.Fatalf("seed 42 twice: %d vs %d ops", len(a.History.Ops()), len(b.History.Ops()))
	}
	for _, procs := range []string{"1", "2"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSameSeedSameDigest$")
		cmd.Env = append(os.Environ(), "THRUST_DIGEST_CHILD=1", "GOMAXPROCS="+procs)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOMAXPROCS=%s: %v\n%s", procs, err, out)
		}
		i := strings.Index(string(out), "digest=")
		if i < 0 || !strings.HasPrefix(string(out[i+7:]), a.Digest) {
			t.Fatalf("GOMAXPROCS=%s gave another digest:\n%s\nwant %s (this process: GOMAXPROCS=%d)", procs, out, a.Digest, runtime.GOMAXPROCS(0))
		}
	}
	if c := Run(Options{Seed: 43}); c.Digest == a.Digest {
		t.Fatal("seed 43 gave seed 42's digest")
	}
}
