package linearizability

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/workloads"
)

const (
	syncF  = SyncFlush
	asyncF = AsyncFlush
	indef  = workloads.ResultIndefinite
)

// TestCheckers proves each checker trips on the violation it exists for,
// and stays quiet on the legitimate history next to it. want lists every
// checker expected to report, so a case also shows which checkers see a
// given bug (a lost message is both a durability and a log violation).
func TestCheckers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(h *hist)
		opts  Options
		want  []string
		check func(t *testing.T, r Report)
	}{
		{
			name: "valid: sends, deliveries, commits, liveness",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.ok("p2", "m2", qb, 0, 5, 15)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "m1", qa, 1, 20, 25)
				h.recv("c1", "g", "m2", qb, 0, 20, 25)
				h.commit("c1", "g", qa, 2, 26, 27)
				h.commit("c1", "g", qb, 1, 26, 27)
				h.fault(FaultLivenessStart, "", "", 30)
				h.fault(FaultLivenessEnd, "", "", 90)
				h.final(qa, 2, 100, "m0", "m1")
				h.final(qb, 1, 100, "m2")
			},
			check: func(t *testing.T, r Report) {
				if r.Stats["completeness.lag_zero"] != 2 || r.Stats["durability.acked_verified"] != 3 {
					t.Errorf("stats: %v", r.Stats)
				}
				if len(r.Queues) != 2 || r.Queues[0].Result != ResultOK || r.Queues[1].Result != ResultOK {
					t.Errorf("queues: %+v", r.Queues)
				}
			},
		},
		{
			name: "SYNC_FLUSH: a power loss takes an acknowledged message",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.fault(FaultPowerLoss, "broker-a", syncF, 30)
				h.recovered(qa, 1, syncF, 40, "m0")
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerDurability, CheckerQueueLog},
		},
		{
			name: "ASYNC_FLUSH: a process crash takes an acknowledged message",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.fault(FaultProcessCrash, "broker-a", asyncF, 30)
				h.recovered(qa, 1, asyncF, 40, "m0")
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerDurability, CheckerQueueLog},
		},
		{
			name: "two acknowledged sends at one offset",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p2", "m1", qa, 0, 5, 15)
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerQueueLog},
		},
		{
			name: "phantom delivery",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "ghost", qa, 1, 20, 25)
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerReads},
		},
		{
			name: "phantom in the final content",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.final(qa, 2, 100, "m0", "ghost")
			},
			want: []string{CheckerQueueLog},
		},
		{
			name: "corrupt body served",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				s := h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.ops[s].BodyOK = false
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerReads},
		},
		{
			name: "a pull failed on a record that does not verify",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.add(workloads.Op{Kind: workloads.OpRecv, Process: "c1", Group: "g", Result: workloads.ResultFailed,
					Err: "message: body CRC mismatch", Broker: qa.broker, Topic: qa.topic, Queue: qa.queue,
					Invoke: 20 * ms, Complete: 20 * ms})
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerReads},
		},
		{
			name: "a hole in the recovered content",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.fault(FaultProcessCrash, "broker-a", syncF, 30)
				h.recovered(qa, 2, syncF, 40, "", "m1")
				h.final(qa, 2, 100, "", "m1")
			},
			want: []string{CheckerDurability},
			check: func(t *testing.T, r Report) {
				if r.Queues[0].Result != ResultOK {
					t.Errorf("porcupine should see past holes: %+v", r.Queues)
				}
			},
		},
		{
			name: "delivery at an offset the log contradicts",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m1", qa, 0, 20, 25)
				h.final(qa, 2, 100, "m0", "m1")
			},
			want: []string{CheckerReads},
		},
		{
			name: "delivered before it was sent",
			build: func(h *hist) {
				h.recv("c1", "g", "m0", qa, 0, 5, 8)
				h.ok("p1", "m0", qa, 0, 10, 20)
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerReads},
		},
		{
			name: "out-of-order delivery within a session",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.ok("p1", "m2", qa, 2, 20, 30)
				h.recv("c1", "g", "m0", qa, 0, 31, 35)
				h.recv("c1", "g", "m2", qa, 2, 36, 40)
				h.recv("c1", "g", "m1", qa, 1, 41, 45)
				h.final(qa, 3, 100, "m0", "m1", "m2")
			},
			want: []string{CheckerOrder},
		},
		{
			name: "reassignment lets another member, and then the first, go back",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 31, 35)
				h.recv("c1", "g", "m1", qa, 1, 31, 35)
				h.recv("c2", "g", "m1", qa, 1, 40, 45)
				h.recv("c1", "g", "m1", qa, 1, 50, 55)
				h.final(qa, 2, 100, "m0", "m1")
			},
			check: func(t *testing.T, r Report) {
				if r.Stats["redelivery.before_any_commit"] != 2 {
					t.Errorf("stats: %v", r.Stats)
				}
			},
		},
		{
			name: "a crash of the consumer's host restarts its session",
			opts: Options{ProcessHosts: map[string]string{"c1": "client-0"}},
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "m1", qa, 1, 20, 25)
				h.fault(FaultProcessCrash, "client-0", "", 30)
				h.recv("c1", "g", "m0", qa, 0, 40, 45)
				h.final(qa, 2, 100, "m0", "m1")
			},
		},
		{
			name: "without the host, going back is out of order",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "m1", qa, 1, 20, 25)
				h.fault(FaultProcessCrash, "client-0", "", 30)
				h.recv("c1", "g", "m0", qa, 0, 40, 45)
				h.final(qa, 2, 100, "m0", "m1")
			},
			want: []string{CheckerOrder},
		},
		{
			name: "redelivery below a committed offset",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "m1", qa, 1, 20, 25)
				h.commit("c1", "g", qa, 2, 26, 27)
				h.fault(FaultProcessCrash, "c1", "", 30)
				h.recv("c1", "g", "m1", qa, 1, 40, 45)
				h.final(qa, 2, 100, "m0", "m1")
			},
			want: []string{CheckerRedelivery},
		},
		{
			name: "redelivery at the committed offset is a counted duplicate",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "m1", qa, 1, 20, 25)
				h.commit("c1", "g", qa, 1, 26, 27)
				h.fault(FaultProcessCrash, "c1", "", 30)
				h.recv("c1", "g", "m1", qa, 1, 40, 45)
				h.final(qa, 2, 100, "m0", "m1")
			},
			check: func(t *testing.T, r Report) {
				if r.Stats["redelivery.after_commit"] != 1 {
					t.Errorf("stats: %v", r.Stats)
				}
			},
		},
		{
			name: "concurrent commits leave the committed offset ambiguous",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "m1", qa, 1, 20, 25)
				h.commit("c2", "g", qa, 0, 26, 30) // the old owner, late
				h.commit("c1", "g", qa, 2, 27, 31)
				h.recv("c2", "g", "m0", qa, 0, 40, 45)
				h.final(qa, 2, 100, "m0", "m1")
			},
			check: func(t *testing.T, r Report) {
				if r.Stats["redelivery.after_commit"] != 1 {
					t.Errorf("stats: %v", r.Stats)
				}
			},
		},
		{
			name: "a broker crash may forget a fresh commit",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 20, 25)
				h.recv("c1", "g", "m1", qa, 1, 20, 25)
				h.commit("c1", "g", qa, 2, 26, 27)
				h.fault(FaultProcessCrash, "broker-a", syncF, 28)
				h.recovered(qa, 2, syncF, 29, "m0", "m1")
				h.fault(FaultProcessCrash, "c1", "", 30)
				h.recv("c1", "g", "m1", qa, 1, 40, 45)
				h.final(qa, 2, 100, "m0", "m1")
			},
		},
		{
			name: "liveness: a group never got an offset",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.ok("p1", "m2", qa, 2, 20, 30)
				h.recv("c1", "g", "m0", qa, 0, 31, 35)
				h.recv("c1", "g", "m2", qa, 2, 36, 40)
				h.commit("c1", "g", qa, 3, 41, 42)
				h.fault(FaultLivenessStart, "", "", 50)
				h.fault(FaultLivenessEnd, "", "", 90)
				h.final(qa, 3, 100, "m0", "m1", "m2")
			},
			want: []string{CheckerCompleteness},
			check: func(t *testing.T, r Report) {
				if r.Outcome() != Liveness || !strings.Contains(r.Violations[0].Detail, "offsets 1 ") {
					t.Errorf("outcome %v: %v", r.Outcome(), r.Violations)
				}
			},
		},
		{
			name: "liveness: a group past the tail a power loss rolled back to",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 21, 25)
				h.recv("c1", "g", "m1", qa, 1, 21, 25)
				h.commit("c1", "g", qa, 2, 26, 27)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 30)
				h.recovered(qa, 1, asyncF, 40, "m0")
				h.ok("p1", "m2", qa, 1, 50, 60)
				h.commit("c1", "g", qa, 2, 70, 71)
				h.fault(FaultLivenessStart, "", "", 80)
				h.final(qa, 2, 100, "m0", "m2")
			},
			want: []string{CheckerCompleteness},
			check: func(t *testing.T, r Report) {
				if !strings.Contains(r.Violations[0].Detail, "rolled the queue back to") {
					t.Errorf("no hint: %s", r.Violations[0].Detail)
				}
			},
		},
		{
			name: "liveness: committed offset short of the tail",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.recv("c1", "g", "m0", qa, 0, 31, 35)
				h.recv("c1", "g", "m1", qa, 1, 31, 35)
				h.commit("c1", "g", qa, 1, 41, 42)
				h.fault(FaultLivenessStart, "", "", 50)
				h.final(qa, 2, 100, "m0", "m1")
			},
			want: []string{CheckerCompleteness},
		},
		{
			name: "liveness: a broadcasting member missed a message",
			opts: Options{BroadcastGroups: []string{"b"}},
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.recv("c1", "b", "m0", qa, 0, 31, 35)
				h.commit("c2", "b", qa, 0, 36, 37) // c2 joined at offset 0 and saw nothing
				h.fault(FaultLivenessStart, "", "", 50)
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerCompleteness},
		},
		{
			name: "ASYNC_FLUSH: a power loss takes a suffix (allowed, reported)",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.ok("p1", "m2", qa, 2, 20, 30)
				h.recv("c1", "g", "m2", qa, 2, 31, 35)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 40)
				h.recovered(qa, 1, asyncF, 50, "m0")
				h.ok("p1", "m3", qa, 1, 60, 70)
				h.final(qa, 2, 100, "m0", "m3")
			},
			check: func(t *testing.T, r Report) {
				if len(r.Losses) != 1 || !slices.Equal(r.Losses[0].Offsets, []int64{1, 2}) || r.Losses[0].Delivered != 1 {
					t.Errorf("losses: %+v", r.Losses)
				}
				if r.Stats["durability.async_lost_acked"] != 2 {
					t.Errorf("stats: %v", r.Stats)
				}
			},
		},
		{
			name: "ASYNC_FLUSH: a power loss leaves a hole below a survivor",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.ok("p1", "m2", qa, 2, 20, 30)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 40)
				h.recovered(qa, 2, asyncF, 50, "m0", "m2")
				h.final(qa, 2, 100, "m0", "m2")
			},
			want: []string{CheckerDurability, CheckerQueueLog},
		},
		{
			name: "ASYNC_FLUSH: an ack in flight across a power loss, its message lost",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.ok("p2", "m2", qa, 2, 35, 70)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 40)
				h.recovered(qa, 2, asyncF, 50, "m0", "m1")
				h.ok("p1", "m3", qa, 2, 60, 65)
				h.final(qa, 3, 100, "m0", "m1", "m3")
			},
			check: func(t *testing.T, r Report) {
				if len(r.Losses) != 1 || !slices.Equal(r.Losses[0].MsgIDs, []string{"m2"}) {
					t.Errorf("losses: %+v", r.Losses)
				}
			},
		},
		{
			name: "ASYNC_FLUSH: a flush window bounds the loss",
			opts: Options{AsyncFlushWindow: 5 * time.Millisecond},
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 40)
				h.recovered(qa, 0, asyncF, 50)
				h.final(qa, 0, 100)
			},
			want: []string{CheckerDurability},
		},
		{
			name: "porcupine: real-time order inversion",
			build: func(h *hist) {
				h.ok("p1", "A", qa, 1, 0, 10)
				h.ok("p2", "B", qa, 0, 20, 30)
				h.final(qa, 2, 100, "B", "A")
			},
			want: []string{CheckerQueueLog},
			check: func(t *testing.T, r Report) {
				if len(r.Artifacts) != 1 || !bytes.Contains(r.Artifacts[0].Data, []byte("<html")) {
					t.Errorf("no visualization: %d artifacts", len(r.Artifacts))
				}
				dir := t.TempDir()
				if err := r.WriteDir(dir); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"report.json", "report.txt", r.Artifacts[0].Name} {
					if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
						t.Error(err)
					}
				}
				if r.Queues[0].Result != ResultIllegal {
					t.Errorf("queues: %+v", r.Queues)
				}
			},
		},
		{
			name: "concurrent sends may take offsets in either order",
			build: func(h *hist) {
				h.ok("p1", "A", qa, 1, 0, 30)
				h.ok("p2", "B", qa, 0, 10, 20)
				h.final(qa, 2, 100, "B", "A")
			},
		},
		{
			name: "indefinite sends: one applied, one not",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.send("p1", "m1", indef, qa, 0, 10, 40, qa)
				h.send("p2", "m2", indef, qa, 0, 15, 45, qa)
				h.ok("p1", "m3", qa, 2, 50, 60)
				h.final(qa, 3, 100, "m0", "m1", "m3")
			},
			check: func(t *testing.T, r Report) {
				// m1 is pinned where the final read saw it; m2, seen nowhere
				// with no power loss to take it, cannot have applied.
				if r.Stats["queue-log.appends.pinned"] != 1 || r.Stats["queue-log.appends.unseen"] != 1 || r.Stats["queue-log.appends.maybe"] != 0 {
					t.Errorf("stats: %v", r.Stats)
				}
			},
		},
		{
			name: "indefinite send applied after the client gave up",
			build: func(h *hist) {
				h.send("p1", "m0", indef, qa, 0, 0, 10, qa)
				h.ok("p1", "m1", qa, 1, 50, 60)
				h.final(qa, 2, 100, "m0", "m1")
			},
		},
		{
			name: "indefinite send applied, never seen, then lost to a power loss",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.send("p1", "m1", indef, qa, 0, 10, 40, qa)
				h.ok("p2", "m2", qa, 2, 20, 30)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 50)
				h.recovered(qa, 1, asyncF, 60, "m0")
				h.final(qa, 1, 100, "m0")
			},
		},
		{
			name: "an ok send retried: a duplicate in another queue",
			build: func(h *hist) {
				h.send("p1", "m0", workloads.ResultOK, qa, 0, 0, 10, qb)
				h.final(qa, 1, 100, "m0")
				h.final(qb, 1, 100, "m0")
			},
		},
		{
			name: "the same message twice in a queue with one attempt",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.final(qa, 2, 100, "m0", "m0")
			},
			want: []string{CheckerQueueLog},
		},
		{
			name: "recovery content that skips an acknowledged message under SYNC_FLUSH",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.fault(FaultProcessCrash, "broker-a", syncF, 30)
				h.recovered(qa, 0, syncF, 40)
				h.ok("p1", "m1", qa, 0, 50, 60)
				h.final(qa, 1, 100, "m1")
			},
			want: []string{CheckerDurability, CheckerQueueLog},
		},
		{
			name: "a recovery that omits a queue says it is empty",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qb, 0, 0, 10)
				h.fault(FaultProcessCrash, "broker-a", syncF, 30)
				h.recovered(qb, 1, syncF, 40, "m1")
				h.final(qa, 1, 100, "m0")
				h.final(qb, 1, 100, "m1")
			},
			want: []string{CheckerDurability, CheckerQueueLog},
		},
		{
			name: "no final read: an unseen attempt may fill a gap",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.send("p1", "m1", indef, qa, 0, 10, 40, qa)
				h.ok("p2", "m2", qa, 2, 20, 30)
			},
			check: func(t *testing.T, r Report) {
				if r.Stats["queue-log.appends.maybe"] != 1 {
					t.Errorf("stats: %v", r.Stats)
				}
			},
		},
		{
			name: "no final read: a gap nothing can fill",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p2", "m2", qa, 2, 20, 30)
			},
			want: []string{CheckerQueueLog},
		},
		{
			name: "ASYNC_FLUSH: a lost suffix with a gap no attempt explains",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p2", "m2", qa, 2, 20, 30)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 40)
				h.recovered(qa, 1, asyncF, 50, "m0")
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerQueueLog},
		},
		{
			name: "ASYNC_FLUSH: a power loss with no recovery after it",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.ok("p1", "m1", qa, 1, 10, 20)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 40)
			},
			check: func(t *testing.T, r Report) {
				if len(r.Queues) != 1 || r.Queues[0].Result != ResultPartial || r.Stats["faults.power_loss_unrecovered"] != 1 {
					t.Errorf("queues %+v stats %v", r.Queues, r.Stats)
				}
			},
		},
		{
			name: "SYNC_FLUSH: content a recovery served must survive a later power loss",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.send("p1", "m1", indef, qa, 0, 10, 40, qa)
				h.fault(FaultProcessCrash, "broker-a", syncF, 30)
				h.recovered(qa, 2, syncF, 35, "m0", "m1")
				h.fault(FaultPowerLoss, "broker-a", syncF, 50)
				h.recovered(qa, 1, syncF, 60, "m0")
				h.final(qa, 1, 100, "m0")
			},
			want: []string{CheckerDurability, CheckerQueueLog},
		},
		{
			name: "ASYNC_FLUSH: a power loss at the instant recovery finished",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.fault(FaultProcessCrash, "broker-a", asyncF, 20)
				h.recovered(qa, 1, asyncF, 30, "m0")
				h.ok("p1", "m1", qa, 1, 30, 35)
				h.fault(FaultPowerLoss, "broker-a", asyncF, 30)
				h.recovered(qa, 1, asyncF, 50, "m0")
				h.final(qa, 1, 100, "m0")
			},
			check: func(t *testing.T, r Report) {
				if r.Stats["durability.async_lost_acked"] != 1 {
					t.Errorf("stats: %v", r.Stats)
				}
			},
		},
		{
			name: "SLO breach",
			opts: Options{SLOs: []SLO{{Metric: MetricSend, Percentile: 99, Max: 50 * time.Millisecond}}},
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.fault(FaultFaultPhaseStart, "", "", 15)
				h.ok("p1", "m1", qa, 1, 20, 120)
				h.final(qa, 2, 200, "m0", "m1")
			},
			want: []string{CheckerLatency},
			check: func(t *testing.T, r Report) {
				if r.Outcome() != Latency {
					t.Errorf("outcome %v", r.Outcome())
				}
				var phases []string
				for _, l := range r.Latency {
					phases = append(phases, l.Metric+"/"+l.Phase)
				}
				if !slices.Equal(phases, []string{"send/no-fault", "send/fault", "send/all"}) {
					t.Errorf("latency summaries: %v", phases)
				}
			},
		},
		{
			name: "SLO met",
			opts: Options{SLOs: []SLO{{Metric: MetricEndToEnd, Phase: PhaseNoFault, Percentile: 99.9, Max: 50 * time.Millisecond}}},
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 0, 10)
				h.recv("c1", "g", "m0", qa, 0, 10, 30)
				h.final(qa, 1, 200, "m0")
			},
			check: func(t *testing.T, r Report) {
				if r.Stats["latency.slo_met"] != 1 || r.Latency[0].Metric != MetricEndToEnd || r.Latency[0].Max < 30*time.Millisecond || r.Latency[0].Max > 30100*time.Microsecond {
					t.Errorf("stats %v latency %+v", r.Stats, r.Latency)
				}
			},
		},
		{
			name: "malformed history",
			build: func(h *hist) {
				h.ok("p1", "m0", qa, 0, 20, 10)
			},
			want: []string{CheckerHistory},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h hist
			tc.build(&h)
			r := Check(h.ops, tc.opts)
			if got := checkers(r); !slices.Equal(got, tc.want) {
				t.Errorf("checkers with violations: got %v, want %v", got, tc.want)
				dump(t, r)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			if t.Failed() || testing.Verbose() {
				dump(t, r)
			}
		})
	}
}

// TestStandaloneCheckers shows each exported checker reports its own
// violations alone.
func TestStandaloneCheckers(t *testing.T) {
	var h hist
	h.ok("p1", "m0", qa, 0, 0, 10)
	h.ok("p1", "m1", qa, 1, 10, 20)
	s := h.recv("c1", "g", "m1", qa, 1, 20, 25)
	h.ops[s].BodyOK = false
	h.recv("c1", "g", "m0", qa, 0, 26, 30)
	h.fault(FaultPowerLoss, "broker-a", syncF, 30)
	h.recovered(qa, 1, syncF, 40, "m0")
	h.fault(FaultLivenessStart, "", "", 50)
	h.final(qa, 1, 100, "m0")
	for _, tc := range []struct {
		check func([]workloads.Op, Options) Report
		want  []string
	}{
		{CheckQueueLog, []string{CheckerQueueLog}},
		{CheckDurability, []string{CheckerDurability}},
		{CheckReads, []string{CheckerReads}},
		{CheckOrder, []string{CheckerOrder}},
		{CheckCompleteness, []string{CheckerCompleteness}},
		{CheckLatency, nil},
	} {
		r := tc.check(h.ops, Options{})
		if got := checkers(r); !slices.Equal(got, tc.want) {
			t.Errorf("got %v, want %v", got, tc.want)
			dump(t, r)
		}
	}
}

// TestDeterministicReport: the same history gives the same report bytes.
func TestDeterministicReport(t *testing.T) {
	ops := generate(t, genConfig{seed: 7, sends: 400, bugs: []string{"lose-acked", "phantom", "reorder", "inversion"}})
	var first []byte
	for i := range 3 {
		r := Check(ops, Options{Parallelism: 1 + i})
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		b = append(b, text.Bytes()...)
		if i == 0 {
			first = b
			if len(r.Violations) == 0 {
				t.Fatal("planted bugs found nothing")
			}
			continue
		}
		if !bytes.Equal(b, first) {
			t.Fatalf("run %d differs:\n%s\n---\n%s", i, b, first)
		}
	}
}

// TestPorcupineTimeout: a queue porcupine cannot decide in time is
// reported as unknown, never as a pass or a violation.
func TestPorcupineTimeout(t *testing.T) {
	ops := generate(t, genConfig{seed: 3, sends: 2000})
	opts := genOptions()
	opts.PorcupineTimeout = time.Nanosecond
	r := Check(ops, opts)
	if r.Unknown() == 0 || slices.Contains(checkers(r), CheckerQueueLog) {
		t.Errorf("unknown %d, checkers %v", r.Unknown(), checkers(r))
	}
	if r.Stats["queue-log.unknown"] != int64(r.Unknown()) {
		t.Errorf("stats %v", r.Stats)
	}
}
