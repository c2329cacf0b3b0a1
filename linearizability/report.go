package linearizability

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Kind says what a violation means for the run, so that the caller can
// map it to an exit code: a correctness failure is a bug that lost,
// invented, reordered or corrupted data; a liveness failure is a system
// that did not converge (every acknowledged message consumed, lag 0) in
// the liveness phase; a latency failure is an SLO bound exceeded.
type Kind int

// Kinds, in decreasing order of severity.
const (
	Correctness Kind = iota + 1
	Liveness
	Latency
)

func (k Kind) String() string {
	switch k {
	case Correctness:
		return "correctness"
	case Liveness:
		return "liveness"
	case Latency:
		return "latency"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// MarshalText writes the kind by name in JSON reports.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Checker names, as they appear in Violation.Checker and as prefixes of
// Report.Stats keys.
const (
	// CheckerHistory: the history itself is malformed (a harness bug, or
	// a format this package does not understand). Correctness, so that it
	// cannot pass silently.
	CheckerHistory = "history"
	// CheckerQueueLog: a queue is not a linearizable append-only log
	// (porcupine), or its content names a message no attempt could have
	// stored there.
	CheckerQueueLog = "queue-log"
	// CheckerDurability: an acknowledged or observed message disappeared or
	// was overwritten where the flush mode does not allow it.
	CheckerDurability = "durability"
	// CheckerReads: a consumer was handed a phantom, a corrupt body, or a
	// message at an offset the log contradicts.
	CheckerReads = "reads"
	// CheckerOrder: one consumer session saw a queue's offsets out of order.
	CheckerOrder = "order"
	// CheckerRedelivery: a group was handed again a message below its
	// committed offset.
	CheckerRedelivery = "redelivery"
	// CheckerCompleteness: after the liveness phase, a group missed an
	// offset or its committed offset did not reach the queue's tail.
	CheckerCompleteness = "completeness"
	// CheckerLatency: a latency SLO bound was exceeded.
	CheckerLatency = "latency"
)

// QueueKey names one queue: a topic's queue on one broker. Offsets are
// per queue, so this is the unit the log checks partition by.
type QueueKey struct {
	Broker string `json:"broker"`
	Topic  string `json:"topic"`
	Queue  int    `json:"queue"`
}

func (q QueueKey) String() string {
	return fmt.Sprintf("%s/%s/%d", q.Broker, q.Topic, q.Queue)
}

func (q QueueKey) isZero() bool { return q == QueueKey{} }

func compareQueues(a, b QueueKey) int {
	return cmp.Or(cmp.Compare(a.Broker, b.Broker), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Queue, b.Queue))
}

// Violation is one failed check. Ops lists the Seq of every history op
// that takes part, the first being the one the Detail is mostly about.
type Violation struct {
	Checker string   `json:"checker"`
	Kind    Kind     `json:"kind"`
	Queue   QueueKey `json:"queue,omitzero"`
	Group   string   `json:"group,omitempty"`
	MsgID   string   `json:"msg,omitempty"`
	Detail  string   `json:"detail"`
	Ops     []int64  `json:"ops,omitempty"`
}

func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", v.Kind, v.Checker)
	if !v.Queue.isZero() {
		fmt.Fprintf(&b, " %s", v.Queue)
	}
	if v.Group != "" {
		fmt.Fprintf(&b, " group=%s", v.Group)
	}
	if v.MsgID != "" {
		fmt.Fprintf(&b, " msg=%s", v.MsgID)
	}
	fmt.Fprintf(&b, ": %s", v.Detail)
	if len(v.Ops) > 0 {
		b.WriteString(" (ops")
		for i, s := range v.Ops {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " %d", s)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Porcupine results per queue, in QueueResult.Result.
const (
	ResultOK      = "ok"
	ResultIllegal = "illegal"
	// ResultUnknown: porcupine ran out of time (Options.PorcupineTimeout).
	// Not a violation, but not a pass either: the caller should surface it.
	ResultUnknown = "unknown"
	// ResultPartial: the queue was checked only up to a power loss after
	// which its broker never reported a recovery (see doc.go).
	ResultPartial = "partial"
)

// QueueResult is the porcupine verdict for one queue.
type QueueResult struct {
	Queue  QueueKey `json:"queue"`
	Result string   `json:"result"`
	// Ops is the number of model operations: appends (definite and
	// indefinite) and observations.
	Ops int `json:"ops"`
	// Elapsed is the wall time porcupine took. It is left out of JSON,
	// since it differs from run to run.
	Elapsed time.Duration `json:"-"`
}

// Loss is what one ASYNC_FLUSH power loss legitimately took from one
// queue: acknowledged messages in the suffix the recovery cut off.
type Loss struct {
	Queue QueueKey `json:"queue"`
	// PowerLoss is the Seq of the fault op; Recovered the Seq of the
	// recovery observation (-1 when synthesized for a queue the recovery
	// did not list, or when no recovery was reported).
	PowerLoss int64 `json:"powerLoss"`
	Recovered int64 `json:"recovered"`
	// RecoveredTail is the queue's tail after recovery: every loss is at
	// or above it.
	RecoveredTail int64    `json:"recoveredTail"`
	Offsets       []int64  `json:"offsets"`
	MsgIDs        []string `json:"msgs"`
	// Delivered counts messages a consumer had been handed and the power
	// loss then took (allowed under ASYNC_FLUSH, worth knowing).
	Delivered int `json:"delivered,omitempty"`
}

// Latency metrics.
const (
	// MetricSend is the send-ack latency of acknowledged sends: Complete
	// minus Invoke. Invoke is the open-loop generator's intended send time,
	// so the value includes any time the send waited to be issued
	// (coordinated-omission correction comes from the workload, not here).
	MetricSend = "send"
	// MetricEndToEnd is, per group, the first delivery's Complete minus
	// the send's Invoke.
	MetricEndToEnd = "e2e"
)

// LatencySummary is one HdrHistogram's percentiles.
type LatencySummary struct {
	Metric string        `json:"metric"`
	Phase  string        `json:"phase"`
	Count  int64         `json:"count"`
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
	P999   time.Duration `json:"p999"`
	Max    time.Duration `json:"max"`
}

// Artifact is a file the caller may write into its report directory,
// such as porcupine's HTML visualization of an illegal queue. NB: the
// visualization's bytes are not guaranteed identical across runs
// (porcupine orders equal-length partial linearizations by map
// iteration); everything else in a Report is.
type Artifact struct {
	Name string `json:"name"`
	Data []byte `json:"-"`
}

// Report is what the checkers found. Every slice is in a deterministic
// order and Stats is a map only for convenience: encoding/json and
// WriteText sort its keys, so the same history gives the same bytes.
type Report struct {
	Violations []Violation      `json:"violations"`
	Stats      map[string]int64 `json:"stats"`
	Queues     []QueueResult    `json:"queues,omitempty"`
	Losses     []Loss           `json:"losses,omitempty"`
	Latency    []LatencySummary `json:"latency,omitempty"`
	Artifacts  []Artifact       `json:"artifacts,omitempty"`
	limit      int              // violations kept per checker
	counts     map[string]int   // checker -> violations kept
	seen       map[string]bool  // violation texts, to drop duplicates
}

// Outcome is the most severe kind among the violations, or 0 when there
// are none. Correctness wins over liveness, liveness over latency.
func (r *Report) Outcome() Kind {
	var k Kind
	for _, v := range r.Violations {
		if k == 0 || v.Kind < k {
			k = v.Kind
		}
	}
	return k
}

// Count returns how many violations of kind k were kept (those over
// Options.MaxViolationsPerChecker are only counted in Stats).
func (r *Report) Count(k Kind) int {
	n := 0
	for _, v := range r.Violations {
		if v.Kind == k {
			n++
		}
	}
	return n
}

// Unknown counts queues porcupine could not decide in time.
func (r *Report) Unknown() int {
	n := 0
	for _, q := range r.Queues {
		if q.Result == ResultUnknown {
			n++
		}
	}
	return n
}

// WriteText writes a human-readable summary: violations, porcupine
// verdicts other than ok, losses, latency, then stats in key order.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "violations: %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "  %s\n", v)
	}
	for _, q := range r.Queues {
		if q.Result != ResultOK {
			fmt.Fprintf(&b, "queue %s: porcupine %s (%d ops)\n", q.Queue, q.Result, q.Ops)
		}
	}
	for _, l := range r.Losses {
		fmt.Fprintf(&b, "loss %s: power loss op %d cut the queue to tail %d, losing %d acknowledged message(s) at offsets %s\n",
			l.Queue, l.PowerLoss, l.RecoveredTail, len(l.Offsets), formatOffsets(l.Offsets))
	}
	for _, l := range r.Latency {
		fmt.Fprintf(&b, "latency %s %s: n=%d p50=%v p99=%v p999=%v max=%v\n",
			l.Metric, l.Phase, l.Count, l.P50, l.P99, l.P999, l.Max)
	}
	for _, k := range sortedKeys(r.Stats) {
		fmt.Fprintf(&b, "%s=%d\n", k, r.Stats[k])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func newReport(opts *Options) *Report {
	return &Report{
		Stats:  map[string]int64{},
		counts: map[string]int{},
		seen:   map[string]bool{},
		limit:  opts.maxViolations(),
	}
}

// add keeps v unless its checker is over the limit (then it is counted in
// Stats as "<checker>.suppressed") or an identical violation is already
// there.
func (r *Report) add(v Violation) {
	key := v.String()
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	if r.counts[v.Checker] >= r.limit {
		r.Stats[v.Checker+".suppressed"]++
		return
	}
	r.counts[v.Checker]++
	r.Violations = append(r.Violations, v)
}

func (r *Report) stat(key string, n int64) { r.Stats[key] += n }

// formatOffsets writes sorted offsets as ranges: "3-7,9,12-13".
func formatOffsets(offs []int64) string {
	offs = slices.Clone(offs)
	slices.Sort(offs)
	offs = slices.Compact(offs)
	var b strings.Builder
	for i := 0; i < len(offs); {
		j := i
		for j+1 < len(offs) && offs[j+1] == offs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", offs[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", offs[i], offs[j])
		}
		i = j + 1
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// WriteDir writes the report into dir (created if missing): report.json,
// report.txt and every artifact (porcupine visualizations) under its name.
// It is for the harness's report directory on a failing run.
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("linearizability: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("linearizability: encode report: %w", err)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return err
	}
	files := []Artifact{{Name: "report.json", Data: append(js, '\n')}, {Name: "report.txt", Data: []byte(text.String())}}
	for _, f := range append(files, r.Artifacts...) {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return fmt.Errorf("linearizability: %w", err)
		}
	}
	return nil
}
