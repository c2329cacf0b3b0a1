package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/message"
)

// harness runs a store on a real loop over a temporary directory.
type harness struct {
	t    *testing.T
	loop *oshost.Loop
	env  host.Env
	cfg  Config
	s    *Store
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	loop := oshost.NewLoop()
	go loop.Run()
	t.Cleanup(func() { loop.Stop(); <-loop.Done() })
	cfg := DefaultConfig(t.TempDir())
	cfg.MappedFileSizeCommitLog = 128 << 10
	cfg.MappedFileSizeConsumeQueue = 20 * 64
	cfg.MaxMessageSize = 8 << 10
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &harness{t: t, loop: loop, env: oshost.NewEnv(loop, oshost.Options{Seed: 1, Log: log}), cfg: cfg}
	h.open()
	t.Cleanup(func() {
		if h.s != nil {
			h.do(func() { h.s.Close() })
		}
	})
	return h
}

func (h *harness) do(f func()) {
	h.t.Helper()
	if !h.loop.Do(f) {
		h.t.Fatal("loop stopped")
	}
}

func (h *harness) open() {
	h.t.Helper()
	var err error
	h.do(func() { h.s, err = Open(h.env, h.cfg) })
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) close() {
	h.t.Helper()
	var err error
	h.do(func() { err = h.s.Close() })
	h.s = nil
	if err != nil {
		h.t.Fatal(err)
	}
}

// crash drops the store as a killed process would: nothing is synced, no
// checkpoint is written, the abort marker stays; the page cache (the files)
// keeps what was written.
func (h *harness) crash() {
	h.do(func() {
		h.s.closed = true
		for _, t := range h.s.timers {
			if t != nil {
				t.Stop()
			}
		}
		h.s.closeFiles()
	})
	h.s = nil
}

var born = netip.MustParseAddrPort("10.1.2.3:4567")

func msg(topic string, queueID int32, body string, props ...string) Message {
	var p message.Properties
	for i := 0; i+1 < len(props); i += 2 {
		p.Set(props[i], props[i+1])
	}
	enc, err := message.AppendProperties(nil, p)
	if err != nil {
		panic(err)
	}
	return Message{Topic: topic, QueueID: queueID, Body: []byte(body), Properties: enc, BornHost: born, BornTimestamp: 1700000000000}
}

// put stores msgs and waits for the acknowledgement.
func (h *harness) put(msgs ...Message) PutResult {
	h.t.Helper()
	ch := make(chan PutResult, 1)
	h.do(func() { h.s.Put(msgs, func(r PutResult) { ch <- r }) })
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("put not acknowledged")
		return PutResult{}
	}
}

// get pulls and decodes records.
func (h *harness) get(topic string, queueID int32, offset int64, max int, f MessageFilter) (GetResult, []message.Record) {
	h.t.Helper()
	var res GetResult
	var recs []message.Record
	h.do(func() {
		res = h.s.GetMessage(topic, queueID, offset, max, f)
		for _, r := range res.Ranges {
			b := make([]byte, r.N)
			if _, err := r.File.ReadAt(b, r.Off); err != nil {
				h.t.Error(err)
				return
			}
			if r.View != nil && !bytes.Equal(r.View, b) {
				h.t.Error("mapped view and file disagree")
			}
			for len(b) > 0 {
				rec, n, err := message.Decode(b)
				if err != nil {
					h.t.Errorf("served a record that does not decode: %v", err)
					return
				}
				if err := verifyRecordCRC(b[:n]); err != nil {
					h.t.Errorf("served a record whose CRC fails: %v", err)
				}
				rec.Body = append([]byte(nil), rec.Body...)
				rec.Properties = append([]byte(nil), rec.Properties...)
				recs = append(recs, rec)
				b = b[n:]
			}
		}
	})
	return res, recs
}

func bodies(recs []message.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Body))
	}
	return out
}

func TestPutGetRoundTrip(t *testing.T) {
	for _, mode := range []FlushDiskType{AsyncFlush, SyncFlush} {
		for _, path := range []WritePath{WriteMmap, WritePwrite} {
			t.Run(mode.String()+"/"+path.String(), func(t *testing.T) {
				h := newHarness(t, func(c *Config) { c.FlushDiskType = mode; c.WritePath = path })
				var want [2][]string
				for i := range 300 {
					q := int32(i % 2)
					body := fmt.Sprintf("message %d %s", i, bytes.Repeat([]byte{'x'}, i*7%1500))
					r := h.put(msg("TopicA", q, body, "TAGS", "t", "KEYS", fmt.Sprint(i)))
					if r.Status != PutOK {
						t.Fatalf("put %d: %v %v", i, r.Status, r.Err)
					}
					if r.QueueOffset != int64(len(want[q])) {
						t.Fatalf("put %d: queue offset %d, want %d", i, r.QueueOffset, len(want[q]))
					}
					want[q] = append(want[q], body)
				}
				for q := range int32(2) {
					var got []string
					for off := int64(0); ; {
						res, recs := h.get("TopicA", q, off, 32, nil)
						if res.Status != Found {
							if res.Status != OffsetOverflowOne {
								t.Fatalf("queue %d offset %d: %v", q, off, res.Status)
							}
							break
						}
						for i, r := range recs {
							if r.QueueOffset != off+int64(i) || r.QueueID != q || r.Topic != "TopicA" {
								t.Fatalf("record %+v at queue offset %d", r, off+int64(i))
							}
							if r.StoreHost != h.cfg.StoreHost || r.BornHost != born {
								t.Fatalf("hosts %v %v", r.StoreHost, r.BornHost)
							}
						}
						got = append(got, bodies(recs)...)
						off = res.NextBeginOffset
					}
					if fmt.Sprint(got) != fmt.Sprint(want[q]) {
						t.Fatalf("queue %d: got %d messages, want %d", q, len(got), len(want[q]))
					}
				}
				var segs int
				h.do(func() { segs = len(h.s.cl.segs.segs) })
				if segs < 2 {
					t.Fatalf("the test wrote %d segments; it must cross a segment boundary", segs)
				}
			})
		}
	}
}

func TestReopenKeepsEverythingAndContinuesOffsets(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 100 {
		h.put(msg("T", 0, fmt.Sprint(i)))
	}
	h.close()
	h.open()
	if r := h.put(msg("T", 0, "after")); r.QueueOffset != 100 {
		t.Fatalf("queue offset after reopen %d, want 100", r.QueueOffset)
	}
	_, recs := h.get("T", 0, 95, 32, nil)
	if got := fmt.Sprint(bodies(recs)); got != "[95 96 97 98 99 after]" {
		t.Fatal(got)
	}
}

func TestProcessCrashKeepsWrittenRecords(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 500 {
		h.put(msg("T", int32(i%3), fmt.Sprint(i)))
	}
	h.crash()
	h.open()
	total := 0
	for q := range int32(3) {
		total += len(h.readAll("T", q))
	}
	if total != 500 {
		t.Fatalf("%d messages after a process crash, want 500", total)
	}
}

// readAll reads a queue from its start, stepping over holes.
func (h *harness) readAll(topic string, q int32) []message.Record {
	h.t.Helper()
	var all []message.Record
	for off := int64(0); ; {
		res, recs := h.get(topic, q, off, 32, nil)
		all = append(all, recs...)
		if res.NextBeginOffset <= off {
			return all
		}
		off = res.NextBeginOffset
	}
}

func segmentPath(h *harness, start int64) string {
	return filepath.Join(h.cfg.commitLogDir(), segmentName(start))
}

func TestTornTailIsTruncatedAndNeverResurrected(t *testing.T) {
	h := newHarness(t, nil)
	var offs []int64
	for i := range 20 {
		r := h.put(msg("T", 0, fmt.Sprintf("body-%02d", i)))
		offs = append(offs, r.PhysOffset)
	}
	h.crash()
	// Tear the last record: zero its second half, as a power loss that kept
	// only its first sector would.
	f, err := os.OpenFile(segmentPath(h, 0), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := offs[19]
	if _, err := f.WriteAt(make([]byte, 40), last+60); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h.open()
	if recs := h.readAll("T", 0); len(recs) != 19 {
		t.Fatalf("%d records after tearing the 20th, want 19", len(recs))
	}
	// New, shorter records take the torn one's place; after another crash
	// nothing of the old bytes may come back.
	h.put(msg("T", 0, "n"))
	h.crash()
	h.open()
	if got := bodies(h.readAll("T", 0)); len(got) != 20 || got[19] != "n" {
		t.Fatalf("after re-append and crash: %v", got)
	}
}

func TestCorruptRecordInSyncedDataIsQuarantined(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FlushDiskType = SyncFlush })
	var offs []int64
	for i := range 30 {
		offs = append(offs, h.put(msg("T", 0, fmt.Sprintf("body-%02d", i))).PhysOffset)
	}
	h.close()
	// Flip a byte in the body of record 10: its BODYCRC no longer matches.
	f, err := os.OpenFile(segmentPath(h, 0), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	f.ReadAt(b, offs[10]+90)
	b[0] ^= 0xff
	f.WriteAt(b, offs[10]+90)
	f.Close()
	h.open()
	got := bodies(h.readAll("T", 0))
	if len(got) != 29 {
		t.Fatalf("served %d records, want the 29 intact ones", len(got))
	}
	for _, g := range got {
		if g == "body-10" {
			t.Fatal("served the corrupt record")
		}
	}
	// Later records keep their offsets and new ones follow.
	if r := h.put(msg("T", 0, "next")); r.QueueOffset != 30 {
		t.Fatalf("next queue offset %d, want 30", r.QueueOffset)
	}
}

func TestBadPutsWriteNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.put(msg("T", 0, "ok"))
	var before int64
	h.do(func() { before = h.s.CommitLogMaxOffset() })

	big := msg("T", 0, string(make([]byte, h.cfg.MaxMessageSize+1)))
	if r := h.put(big); r.Status != MessageIllegal || r.Err == nil {
		t.Fatalf("oversized body: %v %v", r.Status, r.Err)
	}
	huge := msg("T", 0, "x")
	huge.Properties = append(append([]byte("k\x01"), bytes.Repeat([]byte{'v'}, 40000)...), 2)
	if r := h.put(huge); r.Status != PropertiesSizeExceeded {
		t.Fatalf("oversized properties: %v", r.Status)
	}
	var after int64
	h.do(func() { after = h.s.CommitLogMaxOffset() })
	if after != before {
		t.Fatalf("refused puts wrote %d bytes", after-before)
	}
}

func TestDiskAboveThresholdRefusesWrites(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DiskSpaceWarningLevelRatio = 1e-9 })
	r := h.put(msg("T", 0, "x"))
	if r.Status != ServiceNotAvailable || r.Err == nil {
		t.Fatalf("put on a disk above the threshold: %v %v", r.Status, r.Err)
	}
	var max int64
	h.do(func() { max = h.s.CommitLogMaxOffset() })
	if max != 0 {
		t.Fatalf("refused put wrote %d bytes", max)
	}
}

func TestPullStatuses(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 5 {
		h.put(msg("T", 0, fmt.Sprint(i), "TAGS", []string{"a", "b"}[i%2]))
	}
	cases := []struct {
		topic  string
		offset int64
		status GetStatus
		next   int64
	}{
		{"Nope", 0, NoMatchedLogicQueue, 0},
		{"T", 5, OffsetOverflowOne, 5},
		{"T", 9, OffsetOverflowBadly, 5},
		{"T", 0, Found, 5},
	}
	for _, c := range cases {
		res, _ := h.get(c.topic, 0, c.offset, 32, nil)
		if res.Status != c.status || res.NextBeginOffset != c.next {
			t.Errorf("%s@%d: %v next %d, want %v next %d", c.topic, c.offset, res.Status, res.NextBeginOffset, c.status, c.next)
		}
	}
	res, recs := h.get("T", 0, 0, 32, tagFilter{message.TagsHashCode("b")})
	if got := fmt.Sprint(bodies(recs)); got != "[1 3]" || res.NextBeginOffset != 5 {
		t.Fatalf("tag filter: %s next %d", got, res.NextBeginOffset)
	}
	res, _ = h.get("T", 0, 0, 32, tagFilter{message.TagsHashCode("c")})
	if res.Status != NoMatchedMessage || res.NextBeginOffset != 5 {
		t.Fatalf("no match: %v next %d", res.Status, res.NextBeginOffset)
	}
}

type tagFilter struct{ code int64 }

func (f tagFilter) MatchTagsCode(c int64) bool { return c == f.code }
func (tagFilter) NeedsRecord() bool            { return false }
func (tagFilter) MatchRecord([]byte) bool      { return true }

func TestOffsetByTimestamp(t *testing.T) {
	h := newHarness(t, nil)
	var ts []int64
	for i := range 10 {
		ts = append(ts, h.put(msg("T", 0, fmt.Sprint(i))).StoreTimestamp)
		time.Sleep(2 * time.Millisecond)
	}
	h.do(func() {
		if got := h.s.OffsetByTimestamp("T", 0, ts[4], BoundaryLower); got != 4 {
			t.Errorf("lower at message 4's time: %d", got)
		}
		if got := h.s.OffsetByTimestamp("T", 0, ts[9]+1000, BoundaryLower); got != 10 {
			t.Errorf("after every message: %d, want the max offset", got)
		}
		if got := h.s.OffsetByTimestamp("T", 0, ts[0]-1000, BoundaryLower); got != 0 {
			t.Errorf("before every message: %d", got)
		}
	})
}

func TestFencedAfterSyncFailure(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FlushDiskType = SyncFlush })
	h.put(msg("T", 0, "a"))
	h.do(func() { h.s.fence(errors.New("injected: fsync failed")) })
	if r := h.put(msg("T", 0, "b")); r.Status != ServiceNotAvailable {
		t.Fatalf("put on a fenced store: %v", r.Status)
	}
}

// After an unclean shutdown under ASYNC_FLUSH, no queue offset that may
// have been visible before it is given to a new message: a consumer that
// had read up to there must not skip what is written next.
func TestUncleanAsyncRecoveryNeverReusesOffsets(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FlushDiskType = AsyncFlush })
	var last int64
	for i := range 30 {
		last = h.put(msg("T", 0, fmt.Sprint(i))).QueueOffset
	}
	h.crash()
	h.open()
	r := h.put(msg("T", 0, "after"))
	if r.QueueOffset <= last {
		t.Fatalf("new message at offset %d, at or below %d which was visible before the crash", r.QueueOffset, last)
	}
	// A consumer that had read up to last+1 still finds the new message.
	var got []string
	for off := last + 1; ; {
		res, recs := h.get("T", 0, off, 32, nil)
		got = append(got, bodies(recs)...)
		if res.NextBeginOffset <= off {
			break
		}
		off = res.NextBeginOffset
	}
	if fmt.Sprint(got) != "[after]" {
		t.Fatalf("a consumer resuming after offset %d got %v", last, got)
	}
	// A clean restart skips nothing.
	h.close()
	h.open()
	if r2 := h.put(msg("T", 0, "clean")); r2.QueueOffset != r.QueueOffset+1 {
		t.Fatalf("after a clean restart the next offset is %d, want %d", r2.QueueOffset, r.QueueOffset+1)
	}
}
