package broker

import (
	"reflect"
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

// TestPropertiesRoundTrip renders configurations as broker.conf and reads
// them back: every rendered key is one ConfigFromFile reads (none left
// unused), and every value it reads comes back as it was, so the two key
// lists cannot drift apart.
func TestPropertiesRoundTrip(t *testing.T) {
	richText := strings.Join([]string{
		"brokerClusterName=C2", "brokerName=broker-z", "brokerId=0", "listenPort=12911",
		"brokerIP1=10.1.2.3", "bindAddress=0.0.0.0", "namesrvAddr=10.0.0.1:9876;10.0.0.2:9876",
		"autoCreateTopicEnable=false", "autoCreateSubscriptionGroup=false", "defaultTopicQueueNums=3",
		"brokerPermission=4", "clusterTopicEnable=false", "brokerTopicEnable=false", "regionId=R",
		"traceOn=false", "transferMsgByHeap=true", "registerNameServerPeriod=7000",
		"channelExpiredTimeout=9000", "flushConsumerOffsetInterval=3000", "longPollingEnable=false",
		"shortPollingTimeMills=700", "longPollingMaxHoldTimeMills=9000", "rebalanceLockMaxLiveTime=5000",
		"transactionTimeOut=2000", "transactionCheckInterval=4000", "transactionCheckMax=3",
		"messageDelayLevel=1s 5s 1m", "storePathRootDir=/tmp/x", "storePathCommitLog=/tmp/x/cl",
		"flushDiskType=SYNC_FLUSH", "commitLogWritePath=pwrite", "mappedFileSizeCommitLog=33554432",
		"mappedFileSizeConsumeQueue=6000", "flushIntervalCommitLog=300", "flushCommitLogLeastPages=2",
		"flushCommitLogThoroughInterval=4000", "flushIntervalConsumeQueue=800", "syncFlushTimeout=3000",
		"groupCommitIntervalMicros=250", "warmMapedFileEnable=true", "maxMessageSize=1048576",
		"enabledAppendPropCRC=false", "fileReservedTime=24", "deleteWhen=2", "cleanResourceInterval=20000",
		"diskMaxUsedSpaceRatio=67", "diskSpaceCleanForciblyRatio=0.07", "diskSpaceWarningLevelRatio=83",
		"maxTransferBytesOnMessageInMemory=131072", "maxTransferCountOnMessageInMemory=16",
	}, "\n")
	rich, err := conf.Parse(richText)
	if err != nil {
		t.Fatal(err)
	}
	richCfg, err := ConfigFromFile(rich, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if u := rich.Unused(); len(u) != 0 {
		t.Fatalf("the test sets keys ConfigFromFile does not read: %v", u)
	}
	def := DefaultConfig(t.TempDir())
	if err := def.Finish(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{"defaults": def, "every key set": richCfg} {
		text := c.PropertiesText()
		f, err := conf.Parse(text)
		if err != nil {
			t.Fatalf("%s: rendering does not parse: %v\n%s", name, err, text)
		}
		back, err := ConfigFromFile(f, "/unused")
		if err != nil {
			t.Fatalf("%s: rendering does not load: %v\n%s", name, err, text)
		}
		if u := f.Unused(); len(u) != 0 {
			t.Errorf("%s: rendered keys ConfigFromFile ignores: %v", name, u)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s: round trip changed the configuration:\n got %+v\nwant %+v", name, back, c)
		}
	}
	// Every key the rich file sets is rendered.
	rendered := map[string]bool{}
	for _, kv := range richCfg.Properties() {
		rendered[kv[0]] = true
	}
	for _, line := range strings.Split(richText, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !rendered[k] {
			t.Errorf("key %s is read but not rendered", k)
		}
	}
}
