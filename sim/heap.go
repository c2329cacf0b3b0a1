package sim

// action is what an event does when it fires. Concrete actions are the
// simulator's own objects (a timer, a pipe, an endpoint, a pending sync), so
// scheduling one allocates nothing beyond the object itself; arg carries the
// small per-event payload (an epoch, a sub-kind) that would otherwise need a
// closure.
type action interface {
	fire(w *World, arg uint64)
}

// funcAction adapts a plain func. A func value is pointer-shaped, so boxing
// it in the interface does not allocate.
type funcAction func()

func (f funcAction) fire(*World, uint64) { f() }

// event is one entry of the scheduler's heap. Events are ordered by virtual
// time, then by a tiebreak key drawn from the "sched" stream when the event
// was scheduled (so that simultaneous events run in a seeded, not a
// program-order, sequence), then by the schedule sequence number, which makes
// the order total even if two keys collide.
type event struct {
	at  int64 // virtual nanoseconds since the world began
	tie uint64
	seq uint64
	arg uint64
	act action
	// inc is the incarnation the event belongs to, or nil for world-level
	// events (a packet arriving at a host's kernel, a driver callback). An
	// event of a dead incarnation is dropped when popped.
	inc *incarnation
}

func (a *event) before(b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.tie != b.tie {
		return a.tie < b.tie
	}
	return a.seq < b.seq
}

// eventHeap is a 4-ary min-heap of events held by value. It is typed, not
// container/heap, so that pushes and pops neither box events in interfaces
// nor call through them; four children per node halve the depth of a
// binary heap, and sifting moves a hole instead of swapping, so each level
// costs one 56-byte copy rather than two.
type eventHeap []event

func (h *eventHeap) push(e event) {
	*h = append(*h, event{})
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !e.before(&s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s[n] = event{} // drop references so the collector can reclaim them
	s = s[:n]
	*h = s
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if s[k].before(&s[m]) {
				m = k
			}
		}
		if !s[m].before(&last) {
			break
		}
		s[i] = s[m]
		i = m
	}
	s[i] = last
	return top
}

// live reports whether an event would do anything when popped: not a
// stopped timer's, not a dead incarnation's.
func (e *event) live() bool {
	if e.inc != nil && e.inc.dead {
		return false
	}
	if t, ok := e.act.(*timer); ok && t.state != timerPending {
		return false
	}
	return true
}

// compact drops events that would do nothing and restores the heap order.
// The order of the rest is a total order on (at, tie, seq), so compaction
// never changes what runs when: it only keeps the heap from filling with
// the stopped timeouts of requests long answered.
func (h *eventHeap) compact() {
	s := *h
	n := 0
	for i := range s {
		if s[i].live() {
			s[n] = s[i]
			n++
		}
	}
	clear(s[n:])
	s = s[:n]
	*h = s
	for i := (n - 2) / 4; i >= 0; i-- {
		h.siftDown(i)
	}
}

func (h *eventHeap) siftDown(i int) {
	s := *h
	n := len(s)
	e := s[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if s[k].before(&s[m]) {
				m = k
			}
		}
		if !s[m].before(&e) {
			break
		}
		s[i] = s[m]
		i = m
	}
	s[i] = e
}
