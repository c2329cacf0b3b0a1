package linearizability

import (
	"slices"
	"strings"
	"time"
)

// Flush modes, as broker.conf's flushDiskType spells them.
const (
	SyncFlush  = "SYNC_FLUSH"
	AsyncFlush = "ASYNC_FLUSH"
)

// Fault names this package gives meaning to. A fault op's target is its
// Broker field if set, else its Node.
const (
	// FaultPowerLoss and FaultProcessCrash are sim.CrashKind's names.
	FaultPowerLoss    = "power-loss"
	FaultProcessCrash = "process-crash"
	// FaultLivenessStart marks the end of the safety phase: faults stop,
	// crashed nodes restart, the network heals. Its presence (with OpFinal
	// ops) switches the completeness checker on.
	FaultLivenessStart = "liveness-start"
	// FaultLivenessEnd marks the end of the liveness phase's bounded wait.
	FaultLivenessEnd = "liveness-end"
	// FaultFaultPhaseStart marks the start of fault injection, ending the
	// fault-free warm-up phase.
	FaultFaultPhaseStart = "fault-phase-start"
	// FaultPhasePrefix: a fault named "phase:<name>" starts phase <name>,
	// for workloads with phases of their own.
	FaultPhasePrefix = "phase:"
	// FaultRebalance: the group named in the op's Group field (or every
	// group of the process named by Node/Process) rebalanced; consumer
	// sessions restart. Any other fault op naming a consumer process does
	// the same for that process's groups.
	FaultRebalance = "rebalance"
)

// Phases, for latency: before any marker the run is in PhaseNoFault;
// FaultFaultPhaseStart starts PhaseFault; FaultLivenessStart starts
// PhaseRecovery; "phase:<name>" starts <name>. PhaseAll aggregates them.
const (
	PhaseNoFault  = "no-fault"
	PhaseFault    = "fault"
	PhaseRecovery = "recovery"
	PhaseAll      = "all"
)

// SLO is one latency bound: the Percentile (in percent: 99, 99.9) of
// Metric in Phase must not exceed Max. Phase "" or PhaseAll means the
// whole run. A phase without samples passes (and is counted in Stats as
// latency.slo_no_data).
type SLO struct {
	Metric     string        `json:"metric"`
	Phase      string        `json:"phase,omitempty"`
	Percentile float64       `json:"percentile"`
	Max        time.Duration `json:"max"`
}

// Options configure the checkers. The zero value is usable: flush modes
// and faults come from the history, limits take the defaults below.
type Options struct {
	// FlushDiskType overrides, per broker, the flush mode the history
	// reports (OpRecovered and OpFault ops carry it). A broker whose mode
	// is known from neither is taken to be SYNC_FLUSH: the strict rules.
	FlushDiskType map[string]string
	// PowerLossFaults and CrashFaults name the fault ops that power off a
	// broker's host or kill its process. Defaults: FaultPowerLoss; and
	// FaultProcessCrash plus the power-loss names.
	PowerLossFaults []string
	CrashFaults     []string
	// AsyncFlushWindow, if positive, bounds how old an acknowledged
	// message an ASYNC_FLUSH power loss may take: one acknowledged more
	// than this before the power loss should have been synced by the
	// background flush. Zero: any age (the checker cannot see syncs, and a
	// failed sync fences the store with unsynced data in it).
	AsyncFlushWindow time.Duration
	// OffsetPersistWindow is how long a broker may hold an acknowledged
	// consumer-offset commit in memory only (flushConsumerOffsetInterval
	// plus the write): a broker crash within it may lose the commit, and
	// members may then legitimately be handed those messages again.
	// Default 6s.
	OffsetPersistWindow time.Duration
	// ProcessHosts maps a client process (Op.Process) to the host it runs
	// on, so that a fault naming the host (a crash, a partition) restarts
	// the process's consumer sessions too. Unlisted processes are taken to
	// be named like their host.
	ProcessHosts map[string]string
	// BroadcastGroups consume in broadcasting mode: every member must see
	// every message, and offsets are the member's own.
	BroadcastGroups []string
	// IgnoreTopics are left out of the log, durability and completeness
	// checks, in addition to RocketMQ's system topics (%RETRY%..., %DLQ%...,
	// SCHEDULE_TOPIC_XXXX, RMQ_SYS_...). Deliveries from them are still
	// checked for phantoms and integrity.
	IgnoreTopics []string
	// SLOs are latency bounds; a breach is a Latency violation.
	SLOs []SLO
	// PorcupineTimeout bounds porcupine per queue. Zero means 10s;
	// negative means no bound. A queue that runs out is reported as
	// ResultUnknown, never as a pass.
	PorcupineTimeout time.Duration
	// NoVisualization skips porcupine's HTML for illegal queues.
	NoVisualization bool
	// MaxViolationsPerChecker caps the violations kept per checker; the
	// rest are counted in Stats as "<checker>.suppressed". Default 50.
	MaxViolationsPerChecker int
	// Parallelism is how many queues porcupine checks at once. Default:
	// runtime.GOMAXPROCS. Results do not depend on it.
	Parallelism int
}

func (o *Options) powerLossFaults() []string {
	if len(o.PowerLossFaults) > 0 {
		return o.PowerLossFaults
	}
	return []string{FaultPowerLoss}
}

func (o *Options) crashFaults() []string {
	if len(o.CrashFaults) > 0 {
		return o.CrashFaults
	}
	return append([]string{FaultProcessCrash}, o.powerLossFaults()...)
}

func (o *Options) offsetPersistWindow() time.Duration {
	if o.OffsetPersistWindow > 0 {
		return o.OffsetPersistWindow
	}
	return 6 * time.Second
}

func (o *Options) porcupineTimeout() time.Duration {
	switch {
	case o.PorcupineTimeout < 0:
		return 0 // porcupine: no timeout
	case o.PorcupineTimeout == 0:
		return 10 * time.Second
	}
	return o.PorcupineTimeout
}

func (o *Options) maxViolations() int {
	if o.MaxViolationsPerChecker > 0 {
		return o.MaxViolationsPerChecker
	}
	return 50
}

func (o *Options) broadcast(group string) bool {
	return slices.Contains(o.BroadcastGroups, group)
}

// systemTopic reports whether topic is one of RocketMQ's internal topics
// (or one the caller asked to ignore): sends do not target them directly,
// so the log checks have nothing to explain their content with.
func (o *Options) systemTopic(topic string) bool {
	switch {
	case strings.HasPrefix(topic, "%RETRY%"), strings.HasPrefix(topic, "%DLQ%"),
		strings.HasPrefix(topic, "RMQ_SYS_"), topic == "SCHEDULE_TOPIC_XXXX", topic == "TBW102":
		return true
	}
	return slices.Contains(o.IgnoreTopics, topic)
}
