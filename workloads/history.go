package workloads

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Op kinds.
const (
	// OpSend: a producer sent one message. Invoke..Complete spans the
	// client's whole send, retries included. Result is ok (acknowledged:
	// Queue/QueueOffset/PhysOffset say where), failed (no attempt can have
	// been stored), or indefinite (some attempt may have been stored).
	OpSend = "send"
	// OpRecv: a consumer was handed a message (Complete is when the pull
	// that carried it returned; Invoke is when that pull was sent).
	OpRecv = "recv"
	// OpCommit: a consumer committed Offset (the next offset to consume)
	// for its group and queue. ok means the broker acknowledged it.
	OpCommit = "commit"
	// OpFault: the harness injected a fault (Fault names it; Node is the
	// target). Invoke = Complete = when.
	OpFault = "fault"
	// OpRecovered: a broker finished recovery. One op per queue: Tail is
	// the queue's max offset and IDs its whole content (offsets
	// Tail-len(IDs)..Tail-1) as the store holds it then: an oracle read by
	// the harness, not a client op.
	OpRecovered = "recovered"
	// OpFinal: the harness's read of a queue's whole content at the end of
	// the run (after the liveness phase): IDs[i] is the message at offset
	// Tail-len(IDs)+i.
	OpFinal = "final"
)

// HoleID stands, in an observation's IDs, for an offset that names no
// message by design: the store skipped it (after an unclean shutdown under
// ASYNC_FLUSH, so that no offset a consumer may have seen is reused) or left
// it for a record found corrupt. "" stands for an offset whose record could
// not be read.
const HoleID = "(hole)"

// Results.
const (
	ResultOK         = "ok"
	ResultFailed     = "failed"
	ResultIndefinite = "indefinite"
)

// Op is one line of a history: something a client did (with invoke and
// completion times in virtual time since the run began) or something the
// harness did or observed. The fields a kind uses are documented with it.
type Op struct {
	Seq      int64         `json:"seq"`
	Kind     string        `json:"kind"`
	Process  string        `json:"process,omitempty"`
	Invoke   time.Duration `json:"invoke"`
	Complete time.Duration `json:"complete"`
	Result   string        `json:"result,omitempty"`
	Err      string        `json:"err,omitempty"`

	// The message: MsgID is the workload's unique id, carried in the
	// message body (and a property), so that every check can name it.
	MsgID       string `json:"msg,omitempty"`
	Topic       string `json:"topic,omitempty"`
	Broker      string `json:"broker,omitempty"`
	Queue       int    `json:"queue"`
	QueueOffset int64  `json:"queueOffset"`
	PhysOffset  int64  `json:"physOffset"`
	// Maybe lists, for a send, every queue an attempt went to whose outcome
	// is unknown (a timeout, a connection lost after the write): the
	// message may be stored there too, as a duplicate if the send is ok.
	Maybe []QueueRef `json:"maybe,omitempty"`
	// Body integrity: a consumer reports whether the body it got is the
	// body the producer sent for MsgID (bodies are derived from the id).
	BodyOK bool `json:"bodyOK,omitempty"`

	Group  string `json:"group,omitempty"`
	Offset int64  `json:"offset"`

	Fault string `json:"fault,omitempty"`
	Node  string `json:"node,omitempty"`
	// FlushDiskType of the broker, on OpRecovered and OpFault ops.
	FlushDiskType string `json:"flush,omitempty"`

	Tail int64    `json:"tail"`
	Hash string   `json:"hash,omitempty"`
	IDs  []string `json:"ids,omitempty"`
}

// QueueRef names one queue of a topic on one broker.
type QueueRef struct {
	Broker string `json:"broker"`
	Queue  int    `json:"queue"`
}

// History records ops in the order they happen in the simulated world.
type History struct {
	ops []Op
}

// NewHistory returns an empty history with room for about capacity ops, so
// that a long run does not copy its history again and again as it grows.
func NewHistory(capacity int) *History {
	return &History{ops: make([]Op, 0, max(capacity, 0))}
}

// Add appends op, numbering it.
func (h *History) Add(op Op) {
	op.Seq = int64(len(h.ops))
	h.ops = append(h.ops, op)
}

// Ops returns the ops recorded so far.
func (h *History) Ops() []Op { return h.ops }

// WriteJSONLines writes one op per line.
func (h *History) WriteJSONLines(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range h.ops {
		if err := enc.Encode(&h.ops[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadJSONLines reads a history written by WriteJSONLines.
func ReadJSONLines(r io.Reader) ([]Op, error) {
	var ops []Op
	dec := json.NewDecoder(r)
	for {
		var op Op
		if err := dec.Decode(&op); err == io.EOF {
			return ops, nil
		} else if err != nil {
			return nil, fmt.Errorf("workloads: history line %d: %w", len(ops)+1, err)
		}
		ops = append(ops, op)
	}
}
