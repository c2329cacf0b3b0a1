package store

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func warmFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n.Name(), warmSuffix) {
			out = append(out, n.Name())
		}
	}
	return out
}

// TestWarmMappedFileRollsOntoASpare: with warmMapedFileEnable the log rolls
// onto segments made ahead of need, renamed into place; nothing of a spare
// outlives a close or a crash, and every record reads back after both.
func TestWarmMappedFileRollsOntoASpare(t *testing.T) {
	for _, mode := range []FlushDiskType{AsyncFlush, SyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.WarmMappedFile = true; c.FlushDiskType = mode })
			dir := h.cfg.commitLogDir()
			body := strings.Repeat("w", 1000)
			n := 0
			for ; n < 400; n++ {
				if r := h.put(msg("Warm", int32(n%2), fmt.Sprintf("%04d%s", n, body))); r.Status != PutOK {
					t.Fatalf("put %d: %v %v", n, r.Status, r.Err)
				}
				// Let the preallocation off the loop finish now and then,
				// as time does in a real run.
				if n%40 == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			var st Stats
			h.do(func() { st = h.s.Stats() })
			if st.SegmentsCreated < 3 || st.SegmentsPrepared == 0 {
				t.Fatalf("segments created %d, of them made ahead %d", st.SegmentsCreated, st.SegmentsPrepared)
			}
			if w := warmFiles(t, dir); len(w) > 1 {
				t.Errorf("spares on disk: %v", w)
			}
			check := func(when string) {
				t.Helper()
				got := 0
				for q := int32(0); q < 2; q++ {
					for off := int64(0); ; {
						res, recs := h.get("Warm", q, off, 32, nil)
						if res.Status != Found {
							break
						}
						got += len(recs)
						off = res.NextBeginOffset
					}
				}
				if got != n {
					t.Errorf("%s: read %d records, want %d", when, got, n)
				}
			}
			check("running")
			h.close()
			if w := warmFiles(t, dir); len(w) != 0 {
				t.Errorf("spares left after close: %v", w)
			}
			h.open()
			check("after reopening")
			// A crash with a spare on disk: recovery removes it.
			for i := 0; i < 60; i++ {
				h.put(msg("Warm", 0, fmt.Sprintf("%04d%s", n, body)))
				n++
			}
			time.Sleep(20 * time.Millisecond)
			h.do(func() {})
			spares := warmFiles(t, dir)
			h.crash()
			h.open()
			if w := warmFiles(t, dir); len(w) != 0 {
				t.Errorf("spares %v survived recovery (before the crash: %v)", w, spares)
			}
			check("after a crash")
		})
	}
}

func TestSegmentsWithoutWarmUpLeaveNoSpare(t *testing.T) {
	h := newHarness(t, nil)
	for i := 0; i < 300; i++ {
		h.put(msg("Cold", 0, strings.Repeat("c", 1000)))
	}
	var st Stats
	h.do(func() { st = h.s.Stats() })
	if st.SegmentsPrepared != 0 || len(warmFiles(t, h.cfg.commitLogDir())) != 0 {
		t.Errorf("spares made without warmMapedFileEnable: %+v", st)
	}
}

// TestGroupCommitInterval: with groupCommitIntervalMicros, commit-log syncs
// begin at least the interval apart, each covering every put that came
// meanwhile; puts are still acknowledged only after their sync.
func TestGroupCommitInterval(t *testing.T) {
	const interval = 30 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.FlushDiskType = SyncFlush; c.GroupCommitInterval = interval })
	const rounds, perRound = 4, 25
	start := time.Now()
	for r := 0; r < rounds; r++ {
		acks := make(chan PutResult, perRound)
		h.do(func() {
			for i := 0; i < perRound; i++ {
				h.s.Put([]Message{msg("Group", 0, fmt.Sprintf("r%d-%d", r, i))}, func(res PutResult) { acks <- res })
			}
		})
		for i := 0; i < perRound; i++ {
			if res := <-acks; res.Status != PutOK {
				t.Fatalf("put: %v %v", res.Status, res.Err)
			}
		}
		var unsynced int64
		h.do(func() { unsynced = h.s.UnsyncedBytes() })
		if unsynced != 0 {
			t.Fatalf("acknowledged with %d bytes unsynced", unsynced)
		}
	}
	elapsed := time.Since(start)
	var st Stats
	h.do(func() { st = h.s.Stats() })
	if st.CommitLogSyncs > rounds+1 || st.GroupCommitted != rounds*perRound {
		t.Errorf("%d syncs for %d rounds; %d puts group-committed", st.CommitLogSyncs, rounds, st.GroupCommitted)
	}
	if elapsed < (rounds-1)*interval {
		t.Errorf("%d rounds took %v: syncs were not held %v apart", rounds, elapsed, interval)
	}
	cfg := DefaultConfig(t.TempDir())
	cfg.GroupCommitInterval = cfg.SyncFlushTimeout
	if err := cfg.Validate(); err == nil {
		t.Error("a group commit interval as long as syncFlushTimeout validated")
	}
}
