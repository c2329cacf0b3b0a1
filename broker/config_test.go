package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/conf"
	"github.com/thrustmq/thrust/broker/store"
)

// TestTuningKeys reads the keys the benchmark matrix varies.
func TestTuningKeys(t *testing.T) {
	f, err := conf.Parse(strings.Join([]string{
		"flushDiskType=SYNC_FLUSH",
		"commitLogWritePath=pwrite",
		"transferMsgByHeap=true",
		"flushIntervalCommitLog=200",
		"groupCommitIntervalMicros=750",
		"warmMapedFileEnable=true",
		"mappedFileSizeCommitLog=268435456",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ConfigFromFile(f, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := c.Store
	if s.FlushDiskType != store.SyncFlush || s.WritePath != store.WritePwrite || !c.TransferMsgByHeap ||
		s.FlushIntervalCommitLog != 200*time.Millisecond || s.GroupCommitInterval != 750*time.Microsecond ||
		!s.WarmMappedFile || s.MappedFileSizeCommitLog != 256<<20 {
		t.Errorf("config: %+v", c)
	}
	if u := f.Unused(); len(u) != 0 {
		t.Errorf("keys not read: %v", u)
	}
	f, _ = conf.Parse("groupCommitIntervalMicros=6000000")
	if _, err := ConfigFromFile(f, t.TempDir()); err == nil {
		t.Error("a group commit interval beyond syncFlushTimeout was accepted")
	}
}
