package linearizability

import (
	"fmt"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/thrustmq/thrust/workloads"
)

// The queue model: a queue is an append-only log whose state is its tail
// offset and a chained 64-bit FNV-1a hash of every message id appended so
// far, so that states are small and compared in O(1) however long the log
// grows. Each state also points at its predecessor (the state one append
// earlier): a persistent list shared by every state porcupine explores,
// which lets a recovery after an ASYNC_FLUSH power loss roll the log back
// to a prefix and lets an observation that starts above offset 0 be
// checked, both by walking back only as far as they need. Equality and
// hashing use (tail, hash) alone.
type logState struct {
	tail int64
	hash uint64
	last string // the message at tail-1, for descriptions
	prev *logState
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// chain extends h by one id and a separator byte that no id contains, so
// that ["ab","c"] and ["a","bc"] differ.
func chain(h uint64, id string) uint64 {
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= fnvPrime
	}
	h ^= 0xff
	h *= fnvPrime
	return h
}

func chainAll(h uint64, ids []string) uint64 {
	for _, id := range ids {
		h = chain(h, id)
	}
	return h
}

var emptyLog = &logState{hash: fnvOffset}

func (s *logState) append(id string) *logState {
	return &logState{tail: s.tail + 1, hash: chain(s.hash, id), last: id, prev: s}
}

// ancestor returns the state the log had when its tail was tail, or nil
// if tail is beyond this state.
func (s *logState) ancestor(tail int64) *logState {
	if tail > s.tail || tail < 0 {
		return nil
	}
	for s.tail > tail {
		s = s.prev
	}
	return s
}

// holds reports whether the log's content at [tail-len(ids), tail) is
// ids, for the state s whose tail is tail. An empty id is a hole (a record
// the read could not decode): any message matches it, since the hole
// itself is reported on its own and the log's order is what is checked
// here.
func (s *logState) holds(tail int64, ids []string, full uint64, holes bool) bool {
	if s.tail != tail {
		return false
	}
	base := tail - int64(len(ids))
	if base < 0 {
		return false
	}
	if holes {
		for n := s; n.tail > base; n = n.prev {
			if id := ids[n.tail-1-base]; id != "" && id != n.last {
				return false
			}
		}
		return true
	}
	if base == 0 {
		return s.hash == full
	}
	b := s.ancestor(base)
	return b != nil && chainAll(b.hash, ids) == s.hash
}

// Model inputs. Outputs are always nil: an append's result is its offset,
// already in the input, and an observation's result is the content.
type appendInput struct {
	id string
	// offset is where the append happened, or -1 when not known whether it
	// happened at all.
	offset int64
	seq    int64
	pinned bool // an unacknowledged attempt made definite by a sighting
}

type observeInput struct {
	kind string
	tail int64
	ids  []string
	// full is chainAll(fnvOffset, ids), precomputed for the common case
	// of an observation that starts at offset 0.
	full uint64
	// holes: some id is "" (see logState.holds).
	holes bool
	// rollback: the state may first shrink to any prefix of itself (a
	// recovery after an ASYNC_FLUSH power loss).
	rollback bool
	// skip: after matching, the store added this many holes (offsets that
	// name no message) at the tail.
	skip int
	seq  int64
}

// skipped appends n holes to s.
func skipped(s *logState, n int) *logState {
	for range n {
		s = s.append(workloads.HoleID)
	}
	return s
}

// queueModel is the sequential specification of one queue, as a
// nondeterministic model: an append with an unknown outcome either did not
// happen or happened at the then tail; a rollback observation may shrink
// the log to any prefix, and the observed content picks which one.
var queueModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{emptyLog} },
	Step: func(state, input, _ any) []any {
		s := state.(*logState)
		switch in := input.(type) {
		case appendInput:
			if in.offset < 0 {
				return []any{s, s.append(in.id)}
			}
			if s.tail != in.offset {
				return nil
			}
			return []any{s.append(in.id)}
		case observeInput:
			if in.rollback {
				if p := s.ancestor(in.tail); p != nil && p.holds(in.tail, in.ids, in.full, in.holes) {
					return []any{skipped(p, in.skip)}
				}
				return nil
			}
			if in.skip == 0 {
				if s.holds(in.tail, in.ids, in.full, in.holes) {
					return []any{s}
				}
				return nil
			}
			// The log may already end with some of the skipped holes (an
			// earlier recovery skipped and nothing was appended since):
			// the content must match up to in.tail, holes follow, and the
			// skip only adds what is missing.
			if s.tail < in.tail || s.tail > in.tail+int64(in.skip) {
				return nil
			}
			p := s
			for p.tail > in.tail {
				if p.last != workloads.HoleID {
					return nil
				}
				p = p.prev
			}
			if !p.holds(in.tail, in.ids, in.full, in.holes) {
				return nil
			}
			return []any{skipped(s, int(in.tail+int64(in.skip)-s.tail))}
		}
		panic(fmt.Sprintf("linearizability: unknown model input %T", input))
	},
	Equal: func(a, b any) bool {
		x, y := a.(*logState), b.(*logState)
		return x.tail == y.tail && x.hash == y.hash
	},
	Hash: func(state any) uint64 {
		s := state.(*logState)
		return s.hash ^ uint64(s.tail)*0x9e3779b97f4a7c15
	},
	DescribeOperation: func(input, _ any) string {
		switch in := input.(type) {
		case appendInput:
			switch {
			case in.seq < 0:
				return fmt.Sprintf("append? %s (an attempt nobody saw, lost to the power loss)", in.id)
			case in.offset < 0:
				return fmt.Sprintf("append? %s (op %d)", in.id, in.seq)
			case in.pinned:
				return fmt.Sprintf("append %s @%d (op %d, pinned by a sighting)", in.id, in.offset, in.seq)
			}
			return fmt.Sprintf("append %s @%d (op %d)", in.id, in.offset, in.seq)
		case observeInput:
			verb := in.kind
			if in.rollback {
				verb += " after power loss: roll back to"
			}
			if in.skip > 0 {
				return fmt.Sprintf("%s tail=%d %s, then skip %d offsets", verb, in.tail, abbreviate(in.ids), in.skip)
			}
			return fmt.Sprintf("%s tail=%d %s", verb, in.tail, abbreviate(in.ids))
		}
		return fmt.Sprint(input)
	},
	DescribeOperationMetadata: func(m any) string {
		if meta, ok := m.(opMeta); ok && meta.seq >= 0 {
			return fmt.Sprintf("history op %d", meta.seq)
		}
		return "synthesized by the checker"
	},
	DescribeState: func(state any) string {
		s := state.(*logState)
		if s.tail == 0 {
			return "empty"
		}
		return fmt.Sprintf("tail=%d last=%s hash=%016x", s.tail, s.last, s.hash)
	},
}

func abbreviate(ids []string) string {
	const show = 4
	if len(ids) <= 2*show {
		return "[" + strings.Join(ids, " ") + "]"
	}
	return fmt.Sprintf("[%s ... %s] (%d ids)", strings.Join(ids[:show], " "), strings.Join(ids[len(ids)-show:], " "), len(ids))
}
