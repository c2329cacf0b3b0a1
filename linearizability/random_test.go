package linearizability

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestRandomValid checks generated correct runs: every checker must pass
// them, and porcupine must decide every queue.
func TestRandomValid(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		ops := generate(t, genConfig{seed: seed, sends: 600})
		start := time.Now()
		r := Check(ops, genOptions())
		if len(r.Violations) > 0 || r.Unknown() > 0 {
			t.Errorf("seed %d: %d ops, %d violations, %d unknown", seed, len(ops), len(r.Violations), r.Unknown())
			dump(t, r)
			continue
		}
		t.Logf("seed %d: %d ops checked in %v; power-loss rollbacks %d, async acked lost %d, pinned %d, maybe %d, redeliveries %d",
			seed, len(ops), time.Since(start), r.Stats["faults.power_loss_rollbacks"], r.Stats["durability.async_lost_acked"],
			r.Stats["queue-log.appends.pinned"], r.Stats["queue-log.appends.maybe"], r.Stats["redelivery.count"])
	}
}

// TestPlantedBugs: each planted bug, in a history that is otherwise
// correct, is found by the checker it names, with the right kind.
func TestPlantedBugs(t *testing.T) {
	for _, bug := range plantedBugs {
		t.Run(bug.name, func(t *testing.T) {
			tried := 0
			for seed := uint64(1); seed <= 40 && tried < 3; seed++ {
				valid := generate(t, genConfig{seed: seed, sends: 400})
				ops, ok := plant(rand.New(rand.NewPCG(seed, 1)), valid, bug.name)
				if !ok {
					continue
				}
				tried++
				r := Check(ops, genOptions())
				found := false
				for _, v := range r.Violations {
					if v.Checker == bug.checker && v.Kind == bug.kind {
						found = true
					}
				}
				if !found {
					t.Errorf("seed %d: %s not found by %s", seed, bug.name, bug.checker)
					dump(t, r)
				} else if testing.Verbose() {
					t.Logf("seed %d: %s", seed, r.Violations[0])
				}
			}
			if tried == 0 {
				t.Fatalf("no seed offers a place to plant %s", bug.name)
			}
		})
	}
}

// TestLargeHistory: a long run stays fast, because porcupine sees one
// queue at a time with constant-size states and almost no
// nondeterminism left.
func TestLargeHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ops := generate(t, genConfig{seed: 99, sends: 12000, producers: 8, queues: 4})
	start := time.Now()
	r := Check(ops, genOptions())
	elapsed := time.Since(start)
	if len(r.Violations) > 0 || r.Unknown() > 0 {
		t.Errorf("%d violations, %d unknown", len(r.Violations), r.Unknown())
		dump(t, r)
	}
	t.Logf("%d ops, %d queues checked in %v", len(ops), len(r.Queues), elapsed)
	if elapsed > 60*time.Second {
		t.Errorf("took %v", elapsed)
	}
}
