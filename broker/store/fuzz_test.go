package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"
)

// FuzzRecoverSegment damages a commit-log segment written by a cleanly
// closed store at an arbitrary place with arbitrary bytes, reopens it, and
// reads every queue. Recovery must never fail or panic, every record served
// must verify (the harness checks body and record CRCs), and every record
// the damage did not touch must still be served: synced data around a
// corrupt record is not lost.
func FuzzRecoverSegment(f *testing.F) {
	f.Add(uint16(0), []byte{0xff})
	f.Add(uint16(200), []byte("garbage in the middle of a record"))
	f.Add(uint16(1500), make([]byte, 64))
	f.Add(uint16(3000), []byte{0, 0, 0, 8, 0xcb, 0xd4, 0x31, 0x94})
	f.Add(uint16(60000), []byte("past the end of the data"))
	f.Fuzz(func(t *testing.T, at uint16, damage []byte) {
		if len(damage) == 0 || len(damage) > 4096 {
			t.Skip()
		}
		h := newHarness(t, nil)
		type rec struct {
			queue      int32
			body       string
			start, end int64
		}
		var recs []rec
		for i := range 24 {
			q := int32(i % 2)
			body := fmt.Sprintf("record-%02d-%s", i, string(make([]byte, i*7)))
			r := h.put(msg("T", q, body, "TAGS", "t", "KEYS", fmt.Sprint(i)))
			recs = append(recs, rec{q, body, r.PhysOffset, r.PhysOffset + int64(r.WroteBytes)})
		}
		h.close()

		pos := int64(at) % h.cfg.MappedFileSizeCommitLog
		fd, err := os.OpenFile(segmentPath(h, 0), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		old := make([]byte, len(damage))
		fd.ReadAt(old, pos)
		fd.WriteAt(damage, pos)
		fd.Close()
		end := pos + int64(len(damage))

		h.open()
		served := map[string]bool{}
		for q := range int32(2) {
			for off := int64(0); ; {
				res, got := h.get("T", q, off, 32, nil)
				for _, r := range got {
					served[string(r.Body)] = true
				}
				if res.NextBeginOffset <= off {
					break
				}
				off = res.NextBeginOffset
			}
		}
		for _, r := range recs {
			touched := r.start < end && pos < r.end
			changed := false
			for i := range damage {
				changed = changed || damage[i] != old[i]
			}
			if !touched || !changed {
				if !served[r.body] {
					t.Fatalf("record [%d, %d) lost; damage was [%d, %d)", r.start, r.end, pos, end)
				}
			}
		}
		_ = binary.BigEndian
	})
}
