// Package linearizability judges a recorded history (workloads.Op, in the
// order things happened) after a run, outside the simulated world: it
// reads virtual times and Seq numbers only, and the same history gives the
// same Report (violations, stats, losses and latency are built in sorted
// order; only porcupine's HTML and its wall-clock timeout can vary).
//
// Check runs every checker; CheckQueueLog, CheckDurability, CheckReads,
// CheckOrder, CheckCompleteness and CheckLatency run one each. A
// Violation names its checker, its Kind (Correctness, Liveness, Latency:
// the caller maps them to exit codes), the queue, group and message, and
// the Seq of every op involved.
//
// # What the history must say
//
//   - Every send carries a unique MsgID; an ok send names Broker, Topic,
//     Queue and QueueOffset; Maybe lists every queue an attempt with an
//     unknown outcome went to, and is taken as the whole truth: a send
//     whose Maybe is empty stored nothing except where it was acked.
//   - A recv names the message's Broker/Topic/Queue/QueueOffset and Group.
//   - OpRecovered ops of one broker at one instant are one recovery, and
//     list every queue the store holds: a queue of that broker the
//     recovery leaves out was empty. Likewise for the OpFinal ops of a
//     broker. IDs must be given (Hash is not used): an observation whose
//     IDs start above offset 0 checks only the offsets it covers, and an
//     empty id is a hole (an entry pointing at no readable record), which
//     is a durability violation of its own and matches anything in the
//     queue model.
//   - A recv with Result failed is a pull that failed on a record the
//     client could not verify: a reads violation (a corrupt record was
//     served), and no delivery.
//   - Fault ops name their target in Broker or Node; power losses and
//     crashes use sim's names (FaultPowerLoss, FaultProcessCrash), and
//     carry FlushDiskType. Phase markers: FaultFaultPhaseStart,
//     FaultLivenessStart, FaultLivenessEnd, "phase:<name>".
//
// # The queue model (queue-log)
//
// Each queue (broker, topic, queue id) is checked on its own with
// porcupine, as an append-only log whose state is its tail and a chained
// 64-bit FNV-1a hash of every id appended: constant size, O(1) to compare.
// States also link to their predecessor (a persistent list shared by all
// states), so that a rollback can find a prefix and an observation that
// starts above offset 0 can be checked, each walking back only as far as
// it needs. Operations:
//
//   - append X at o (an ok send, in [Invoke, Complete]): tail must be o;
//   - append X, maybe (an attempt with an unknown outcome): applies at the
//     tail, or not at all (a nondeterministic step);
//   - observe (OpRecovered, OpFinal, instantaneous): the state must be
//     exactly (Tail, hash(IDs));
//   - rollback-observe (the first recovery of an ASYNC_FLUSH broker after a
//     power loss): the state first shrinks to the prefix of length Tail,
//     which must be exactly IDs.
//
// Sightings remove nondeterminism before porcupine runs: a message seen at
// offset o (delivered by a recv, or in an observation) was appended there
// before the sighting completed, so the append's completion is clamped to
// the sighting, and an unknown-outcome attempt seen at o becomes a definite
// append at o. An attempt nobody saw either never applied, or applied and
// was lost to a power loss before any read (else a read would have seen
// it), or applied after the queue's last observation. Porcupine gets, in
// its place, one "maybe" per offset of a lost suffix that no message
// claims (a filler, timed between its neighbours), and the unseen attempts
// themselves only after the last observation. This keeps porcupine fast;
// a queue it cannot decide within Options.PorcupineTimeout is reported as
// ResultUnknown, never as a pass. An illegal queue comes with porcupine's
// HTML visualization in Report.Artifacts (Report.WriteDir saves it).
//
// It proves: every acknowledged offset is where real-time order allows
// (an append that completed before another began has the lower offset), no
// offset holds two messages, every observation is explained by the appends
// before it, and a rollback keeps a prefix. It cannot see syncs, attempts'
// individual times (all of a send's attempts share its Invoke), or
// messages nobody acknowledged, delivered or observed.
//
// # Epochs: the ASYNC_FLUSH power-loss rule
//
// Under ASYNC_FLUSH a power loss may take what was acknowledged but not
// yet synced. Each such power loss ends an epoch; the next epoch starts
// from the content of the broker's first recovery after it, which must be
// a prefix of the log as it stood at the power loss. Nothing is appended
// between the power loss and that recovery (the broker is down), so the
// model applies the rollback at the recovery's instant, and porcupine
// decides on which side of it each op that straddles the loss falls (an
// ack can be in flight across a power loss). Losses are therefore always
// a suffix: a message missing below a survivor is a hole, a violation.
// Process crashes never end an epoch (the page cache survives), and under
// SYNC_FLUSH nothing ends one: there, even content a recovery served
// without an ack must survive later power losses, since the store makes
// content visible to consumers only once it is durable. A power loss after
// which the broker never reports a recovery leaves the rest of the queue
// unknown: porcupine checks up to it (ResultPartial) and the evidence from
// before it may be lost.
//
// # Durability and read consistency (the timeline)
//
// The timeline replays, per queue in time order, every fact that pins a
// message to an offset (an ack, a delivery, an observation's content)
// against every observation. A plain observation must show every fact; a
// rollback observation must show every fact below its tail and takes the
// rest (reported in Report.Losses, with the offsets and ids of the
// acknowledged messages, and counted in Stats, never as violations). A
// fact from an op that straddles a power loss may be from before it, and
// may be lost there. Options.AsyncFlushWindow, if set, bounds how old an
// acknowledged message a power loss may take.
//
// CheckDurability reports acknowledged or observed messages that went
// missing or were overwritten where no power loss allows it (SYNC_FLUSH:
// never; ASYNC_FLUSH: only in a rollback's suffix). CheckReads reports
// deliveries of messages no send carried (phantoms), of messages never
// sent to that queue, with a body other than the one sent (a torn or
// corrupt record served), before their send began, or at an offset the
// log contradicts, unless a power loss later took that offset (then the
// delivery came before it).
//
// # Consumers (order, redelivery)
//
// Within one consumer session, one process's deliveries of one queue for
// one group have strictly increasing offsets. A session ends at a fault
// naming the process or its host (Options.ProcessHosts), a membership
// change of the group (a new member, a
// fault naming a member, FaultRebalance naming the group), another member
// being handed the queue, or a rollback of the queue. Across sessions, a
// message handed to a group again must sit at or above the group's last
// acknowledged commit for the queue at the pull's invoke (the lowest, when
// concurrent commits, say from a queue's old and new owner, leave the last
// one ambiguous), not counting commits a broker crash may have lost
// (Options.OffsetPersistWindow) or commits sent before the group was first
// handed the message. Allowed
// duplicates are counted (redelivery.after_commit, before_any_commit).
// Broadcasting groups (Options.BroadcastGroups) are judged per member.
//
// # Completeness (liveness)
//
// With a FaultLivenessStart marker and final reads, every group owes
// every message of each final content of the topics it consumes, from
// where it started in that queue (its lowest delivery or commit); a
// broadcasting group owes it to each member. A clustering group's last
// surviving commit must equal the tail. These violations are Liveness.
// NB: after an ASYNC_FLUSH power loss rolls a queue back below a group's
// position, what is appended again at the freed offsets sits below that
// position; unless the broker or client moves the group back, it is never
// delivered, and this checker says so. The
// checker assumes groups subscribe to whole topics ("*"); a tag filter
// would show up as missed messages. A broker whose queues had sends but no
// final read did not come back.
//
// # Latency
//
// HdrHistograms (1µs to 1h, 3 significant digits) of send-ack latency
// (ok sends) and end-to-end latency (a group's first delivery), both from
// the send's Invoke: the open-loop generator's intended time, so waits
// behind a stall are charged (coordinated omission). A sample belongs to
// the phase in force at that Invoke: PhaseNoFault until
// FaultFaultPhaseStart, PhaseFault until FaultLivenessStart, then
// PhaseRecovery; "phase:<name>" markers start named phases. Options.SLOs
// bound percentiles per metric and phase; a breach is a Latency violation.
//
// # Imports
//
// workloads (the history format), porcupine, hdrhistogram and the
// standard library. It is never imported by broker/ or sim/.
package linearizability
