package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Kind is a fault the harness can inject.
type Kind string

const (
	// ProcessCrash kills a node's process; the machine and its page cache
	// survive. The node restarts after Event.Down.
	ProcessCrash Kind = "process-crash"
	// PowerLoss cuts a node's power: unsynced pages are dropped, kept or
	// torn. The node restarts after Event.Down.
	PowerLoss Kind = "power-loss"
	// Partition cuts Node and Peer apart in both directions until a Heal.
	Partition Kind = "partition"
	// PartitionOneWay cuts the direction Node -> Peer only.
	PartitionOneWay Kind = "partition-one-way"
	// Isolate cuts Node from every other host.
	Isolate Kind = "isolate"
	// Heal ends every partition.
	Heal Kind = "heal"
	// ClockStep moves Node's wall clock by Event.Delta (possibly backwards;
	// monotonic clocks are unaffected).
	ClockStep Kind = "clock-step"
)

// Event is one scheduled fault.
type Event struct {
	At    time.Duration // virtual time since the run began
	Kind  Kind
	Node  string
	Peer  string
	Down  time.Duration // crashes: how long the node stays down
	Delta time.Duration // clock steps
}

func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%8.3fs %s", e.At.Seconds(), e.Kind)
	if e.Node != "" {
		fmt.Fprintf(&b, " %s", e.Node)
	}
	if e.Peer != "" {
		fmt.Fprintf(&b, " <-> %s", e.Peer)
	}
	if e.Down > 0 {
		fmt.Fprintf(&b, " down=%v", e.Down)
	}
	if e.Delta != 0 {
		fmt.Fprintf(&b, " delta=%v", e.Delta)
	}
	return b.String()
}

// Options bound what a schedule may contain.
type Options struct {
	// Duration is the safety phase: faults happen in [0, Duration).
	Duration time.Duration
	// Brokers can crash; Hosts (brokers, name server, clients) can be
	// partitioned and have their clocks stepped.
	Brokers []string
	Hosts   []string
	// Kinds enabled, with a relative weight each; nil means Weights.
	Kinds map[Kind]int
	// MeanGap is the mean time between faults.
	MeanGap time.Duration
	// MaxDown bounds how long a crashed node or a partition lasts.
	MaxDown time.Duration
}

// Weights is the default mix of fault kinds.
var Weights = map[Kind]int{
	ProcessCrash:    3,
	PowerLoss:       3,
	Partition:       2,
	PartitionOneWay: 1,
	Isolate:         1,
	ClockStep:       1,
}

// Schedule is the fault plan of one run, in time order.
type Schedule []Event

// Draw makes a schedule from r, which the caller derives from the run's
// seed. A node is never crashed while it is still down, and every
// partition is followed by a Heal, so the schedule stays meaningful on its
// own.
func Draw(r *rand.Rand, opts Options) Schedule {
	weights := opts.Kinds
	if weights == nil {
		weights = Weights
	}
	// Map iteration must not decide anything: sort the kinds.
	var kinds []Kind
	total := 0
	for k, w := range weights {
		if w > 0 {
			kinds = append(kinds, k)
			total += w
		}
	}
	slices.Sort(kinds)
	if total == 0 || opts.MeanGap <= 0 {
		return nil
	}
	pick := func() Kind {
		n := r.IntN(total)
		for _, k := range kinds {
			if n -= weights[k]; n < 0 {
				return k
			}
		}
		return kinds[len(kinds)-1]
	}
	maxDown := max(opts.MaxDown, time.Second)
	downUntil := map[string]time.Duration{}
	var s Schedule
	healAt := time.Duration(-1)
	for at := expGap(r, opts.MeanGap); at < opts.Duration; at += expGap(r, opts.MeanGap) {
		if healAt >= 0 && at >= healAt {
			s = append(s, Event{At: healAt, Kind: Heal})
			healAt = -1
		}
		kind := pick()
		down := time.Duration(1 + r.Int64N(int64(maxDown)))
		switch kind {
		case ProcessCrash, PowerLoss:
			if len(opts.Brokers) == 0 {
				continue
			}
			node := opts.Brokers[r.IntN(len(opts.Brokers))]
			if at < downUntil[node] {
				continue
			}
			downUntil[node] = at + down
			s = append(s, Event{At: at, Kind: kind, Node: node, Down: down})
		case Partition, PartitionOneWay:
			if len(opts.Hosts) < 2 || healAt >= 0 {
				continue
			}
			i := r.IntN(len(opts.Hosts))
			j := (i + 1 + r.IntN(len(opts.Hosts)-1)) % len(opts.Hosts)
			s = append(s, Event{At: at, Kind: kind, Node: opts.Hosts[i], Peer: opts.Hosts[j]})
			healAt = at + down
		case Isolate:
			if len(opts.Hosts) == 0 || healAt >= 0 {
				continue
			}
			s = append(s, Event{At: at, Kind: kind, Node: opts.Hosts[r.IntN(len(opts.Hosts))]})
			healAt = at + down
		case ClockStep:
			if len(opts.Hosts) == 0 {
				continue
			}
			delta := time.Duration(r.Int64N(int64(20*time.Second))) - 10*time.Second
			s = append(s, Event{At: at, Kind: kind, Node: opts.Hosts[r.IntN(len(opts.Hosts))], Delta: delta})
		}
	}
	if healAt >= 0 {
		s = append(s, Event{At: min(healAt, opts.Duration), Kind: Heal})
	}
	return s
}

// expGap draws an exponential gap with the given mean, at least 1 ms, so
// faults come as a Poisson process: bursts and lulls, as in life.
func expGap(r *rand.Rand, mean time.Duration) time.Duration {
	return max(time.Millisecond, time.Duration(r.ExpFloat64()*float64(mean)))
}

// Count returns how many events of each kind s holds.
func (s Schedule) Count() map[Kind]int {
	m := map[Kind]int{}
	for _, e := range s {
		m[e.Kind]++
	}
	return m
}
