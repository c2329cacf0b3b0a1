package faults

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDrawIsDeterministicAndWellFormed(t *testing.T) {
	opts := Options{Duration: time.Minute, Brokers: []string{"broker-0", "broker-1"},
		Hosts: []string{"namesrv", "broker-0", "broker-1", "client-0"}, MeanGap: 3 * time.Second, MaxDown: 5 * time.Second}
	a := Draw(rand.New(rand.NewPCG(1, 2)), opts)
	b := Draw(rand.New(rand.NewPCG(1, 2)), opts)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("schedules of %d and %d events", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs: %v vs %v", i, a[i], b[i])
		}
	}
	partitioned := false
	down := map[string]time.Duration{}
	for i, e := range a {
		if i > 0 && e.At < a[i-1].At {
			t.Fatalf("events out of order at %d", i)
		}
		switch e.Kind {
		case Partition, PartitionOneWay, Isolate:
			if partitioned {
				t.Fatalf("a partition at %v before the last one healed", e.At)
			}
			partitioned = true
		case Heal:
			partitioned = false
		case ProcessCrash, PowerLoss:
			if e.At < down[e.Node] {
				t.Fatalf("%s crashed at %v while down until %v", e.Node, e.At, down[e.Node])
			}
			down[e.Node] = e.At + e.Down
		}
	}
	if partitioned {
		t.Fatal("the schedule ends partitioned")
	}
	if c := Draw(rand.New(rand.NewPCG(3, 4)), opts); len(c) == len(a) && c[0] == a[0] {
		t.Fatal("another seed drew the same schedule")
	}
}

// Every planted bug's site must exist in the code that fires it, so the
// catalog cannot drift from the bugs it describes.
func TestEveryBugSiteIsInTheCode(t *testing.T) {
	var src strings.Builder
	for _, dir := range []string{"../broker", "../broker/store", "../broker/client", "../sim"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	for _, b := range Bugs {
		if !strings.Contains(src.String(), `"`+b.Site+`"`) {
			t.Errorf("bug %s: site %q appears nowhere in the code", b.Name, b.Site)
		}
	}
}
