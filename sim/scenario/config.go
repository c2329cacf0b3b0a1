package scenario

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/store"
	"github.com/thrustmq/thrust/faults"
)

// Config is everything a run drew from its seed. Printed at the start of a
// run, it says what the run was.
type Config struct {
	Brokers       int
	FlushDiskType store.FlushDiskType
	WritePath     store.WritePath
	SegmentBytes  int64
	// WarmMappedFile and GroupCommitInterval are the store options of the
	// same names (warmMapedFileEnable, groupCommitIntervalMicros).
	WarmMappedFile      bool
	GroupCommitInterval time.Duration
	Topic               string
	Queues              int

	Producers int
	Rate      float64 // messages per second per producer
	MsgBytes  int

	Groups []GroupConfig

	SyncLatency  time.Duration // the disk's mean fsync time
	NetDelay     time.Duration // the network's mean one-way delay
	MaxClockSkew time.Duration
	DiskEIO      float64 // per-sync probability of EIO
	// CrashAfterAppend is the per-put probability that a broker crashes
	// at the store's fault site right after the append.
	CrashAfterAppend float64
	NetLoss          float64
	NetReset         float64

	Safety   time.Duration // the phase with faults
	Liveness time.Duration // the bound on the phase without
	Faults   faults.Schedule
	// ConsumerRestarts are when a consumer member is shut down and
	// started again (a new process), so that committed offsets are read
	// back.
	ConsumerRestarts []ConsumerRestart
}

// GroupConfig is one consumer group.
type GroupConfig struct {
	Name      string
	Members   int
	Broadcast bool
}

// ConsumerRestart restarts member Member of group Group at At.
type ConsumerRestart struct {
	At     time.Duration
	Group  int
	Member int
	Down   time.Duration
}

// draw picks a configuration. A planted bug forces what it needs to be
// reachable (faults.Bug.Needs); nothing else depends on the bug, so a
// seed's run with and without it differ only where the bug acts.
func draw(r *rand.Rand, later func(option string) *rand.Rand, bug *faults.Bug) Config {
	c := Config{
		Brokers:      1 + r.IntN(2),
		Topic:        "SimTopic",
		Queues:       2 + r.IntN(3),
		Producers:    1 + r.IntN(2),
		Rate:         float64(20 + r.IntN(80)),
		MsgBytes:     64 << r.IntN(4),
		SyncLatency:  time.Duration(200+r.IntN(4800)) * time.Microsecond,
		NetDelay:     time.Duration(100+r.IntN(1900)) * time.Microsecond,
		MaxClockSkew: time.Duration(r.IntN(2000)) * time.Millisecond,
		Safety:       20 * time.Second,
		Liveness:     60 * time.Second,
	}
	if r.IntN(2) == 0 {
		c.FlushDiskType = store.SyncFlush
	}
	if r.IntN(4) == 0 {
		c.WritePath = store.WritePwrite
	}
	c.SegmentBytes = []int64{256 << 10, 512 << 10}[r.IntN(2)]
	if r.IntN(3) == 0 {
		c.DiskEIO = 0.002
	}
	if r.IntN(3) == 0 {
		c.NetLoss = 0.002
	}
	if r.IntN(3) == 0 {
		c.NetReset = 0.0005
	}
	// Options added later draw from streams of their own, so that adding
	// one does not change what every existing seed means.
	if later("crash-after-append").IntN(3) == 0 {
		c.CrashAfterAppend = 0.001
	}
	c.WarmMappedFile = later("warm-mapped-file").IntN(2) == 0
	if gc := later("group-commit-interval"); gc.IntN(3) == 0 {
		c.GroupCommitInterval = time.Duration(1+gc.IntN(2000)) * time.Microsecond
	}
	c.Groups = append(c.Groups, GroupConfig{Name: "group-a", Members: 1 + r.IntN(2)})
	if r.IntN(2) == 0 {
		c.Groups = append(c.Groups, GroupConfig{Name: "group-b", Members: 2, Broadcast: r.IntN(2) == 0})
	}

	kinds := map[faults.Kind]int{}
	for k, w := range faults.Weights {
		kinds[k] = w
	}
	if bug != nil {
		n := bug.Needs
		switch {
		case n.SyncFlush:
			c.FlushDiskType = store.SyncFlush
		case n.AsyncFlush:
			c.FlushDiskType = store.AsyncFlush
		}
		if n.PowerLoss {
			kinds[faults.PowerLoss] = 6
		}
		if n.Crash {
			kinds[faults.ProcessCrash] = 6
		}
	}
	hosts := []string{"namesrv"}
	var brokers []string
	for i := range c.Brokers {
		brokers = append(brokers, fmt.Sprintf("broker-%d", i))
	}
	hosts = append(hosts, brokers...)
	hosts = append(hosts, "client-0")
	c.Faults = faults.Draw(r, faults.Options{
		Duration: c.Safety,
		Brokers:  brokers,
		Hosts:    hosts,
		Kinds:    kinds,
		MeanGap:  time.Duration(2+r.IntN(6)) * time.Second,
		MaxDown:  4 * time.Second,
	})
	restarts := 1 + r.IntN(2)
	if bug != nil && bug.Needs.Restart {
		restarts = 3
	}
	for range restarts {
		g := r.IntN(len(c.Groups))
		c.ConsumerRestarts = append(c.ConsumerRestarts, ConsumerRestart{
			At:     time.Duration(3+r.IntN(int(c.Safety/time.Second)-4)) * time.Second,
			Group:  g,
			Member: r.IntN(c.Groups[g].Members),
			Down:   time.Duration(1+r.IntN(3)) * time.Second,
		})
	}
	return c
}

// Lines renders the configuration, one option per line.
func (c Config) Lines() []string {
	var b []string
	add := func(format string, args ...any) { b = append(b, fmt.Sprintf(format, args...)) }
	add("brokers=%d flushDiskType=%s writePath=%s segmentBytes=%d warmMappedFile=%v groupCommitInterval=%v",
		c.Brokers, c.FlushDiskType, c.WritePath, c.SegmentBytes, c.WarmMappedFile, c.GroupCommitInterval)
	add("topic=%s queues=%d producers=%d rate=%.0f/s msgBytes=%d", c.Topic, c.Queues, c.Producers, c.Rate, c.MsgBytes)
	for _, g := range c.Groups {
		model := "clustering"
		if g.Broadcast {
			model = "broadcasting"
		}
		add("group=%s members=%d model=%s", g.Name, g.Members, model)
	}
	add("disk syncLatency~%v eio=%g; net delay~%v loss=%g reset=%g; maxClockSkew=%v; crashAfterAppend=%g", c.SyncLatency, c.DiskEIO, c.NetDelay, c.NetLoss, c.NetReset, c.MaxClockSkew, c.CrashAfterAppend)
	add("safety=%v liveness<=%v faults=%d consumerRestarts=%d", c.Safety, c.Liveness, len(c.Faults), len(c.ConsumerRestarts))
	for _, e := range c.Faults {
		add("  fault %s", e)
	}
	for _, r := range c.ConsumerRestarts {
		add("  restart %8.3fs %s member %d down=%v", r.At.Seconds(), c.Groups[r.Group].Name, r.Member, r.Down)
	}
	return b
}

func (c Config) String() string { return strings.Join(c.Lines(), "\n") }
