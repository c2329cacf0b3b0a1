package store

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/thrustmq/thrust/sim"
)

// Retention runs on the store's own clock, so it is tested in the
// simulator, where three days pass in a moment.
func TestRetentionDeletesExpiredSegments(t *testing.T) {
	w := sim.NewWorld(1, sim.Options{})
	h := w.NewHost("broker", sim.HostOptions{})
	env := h.Start()
	cfg := DefaultConfig("/store")
	cfg.MappedFileSizeCommitLog = 128 << 10
	cfg.MappedFileSizeConsumeQueue = 20 * 64
	cfg.MaxMessageSize = 8 << 10
	cfg.FileReservedTime = 72 * time.Hour
	cfg.StoreHost = netip.MustParseAddrPort("10.0.0.1:10911")
	var s *Store
	var err error
	env.Clock.AfterFunc(0, func() { s, err = Open(env, cfg) })
	w.RunFor(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 4000)
	acked := 0
	env.Clock.AfterFunc(0, func() {
		for i := range 200 {
			m := msg("T", 0, fmt.Sprintf("%d-%s", i, body))
			m.BornHost = netip.MustParseAddrPort("10.0.0.2:1234")
			s.Put([]Message{m}, func(r PutResult) {
				if r.Status == PutOK {
					acked++
				}
			})
		}
	})
	w.RunFor(time.Second)
	if acked != 200 {
		t.Fatalf("%d of 200 puts acknowledged", acked)
	}
	segsBefore := len(s.cl.segs.segs)
	if segsBefore < 5 {
		t.Fatalf("only %d segments; the test needs several", segsBefore)
	}
	// Younger than fileReservedTime: nothing goes, even at deleteWhen.
	w.RunFor(48 * time.Hour)
	if n := len(s.cl.segs.segs); n != segsBefore {
		t.Fatalf("%d segments deleted before they expired", segsBefore-n)
	}
	// Past it, a deleteWhen hour comes and every full segment but the
	// last goes; the queue's minimum moves with the commit log.
	w.RunFor(48 * time.Hour)
	after := len(s.cl.segs.segs)
	if after != 1 {
		t.Fatalf("%d segments left after expiry, want 1 (the one being written)", after)
	}
	var res GetResult
	env.Clock.AfterFunc(0, func() { res = s.GetMessage("T", 0, 0, 32, nil) })
	w.RunFor(time.Millisecond)
	if res.Status != OffsetTooSmall || res.NextBeginOffset != s.MinOffsetInQueue("T", 0) || res.NextBeginOffset == 0 {
		t.Fatalf("pull from 0 after retention: %v next %d (queue min %d)", res.Status, res.NextBeginOffset, s.MinOffsetInQueue("T", 0))
	}
	if s.Stats().SegmentsDeleted != uint64(segsBefore-1) {
		t.Fatalf("stats count %d deletions", s.Stats().SegmentsDeleted)
	}
}
