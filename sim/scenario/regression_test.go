package scenario

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestRegressionSeeds replays every seed that once found a bug.
func TestRegressionSeeds(t *testing.T) {
	f, err := os.Open("testdata/regression-seeds.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		field, note, _ := strings.Cut(line, " ")
		seed, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		n++
		t.Run(field, func(t *testing.T) {
			t.Parallel()
			res := Run(Options{Seed: seed})
			if res.Outcome != Pass {
				t.Fatalf("seed %d (%s) fails again: %s: %s\nreproduce: mqsim run -seed %d", seed, strings.TrimSpace(note), res.Outcome, firstLine(res.Failure), seed)
			}
		})
	}
	if n == 0 {
		t.Fatal("no regression seeds")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
