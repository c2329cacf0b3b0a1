package conf

import (
	"reflect"
	"testing"
	"time"
)

func TestParseBrokerConf(t *testing.T) {
	f, err := Parse(`# RocketMQ broker
brokerClusterName = DefaultCluster
brokerName=broker-a
brokerId : 0
deleteWhen 04
fileReservedTime=48
flushDiskType=SYNC_FLUSH
namesrvAddr=127.0.0.1:9876;\
  127.0.0.1:9877
autoCreateTopicEnable=TRUE
! another comment
unknownKey=1
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.String("brokerClusterName", ""); got != "DefaultCluster" {
		t.Errorf("brokerClusterName %q", got)
	}
	if got := f.String("brokerName", ""); got != "broker-a" {
		t.Errorf("brokerName %q", got)
	}
	if n, err := f.Int("brokerId", 9); err != nil || n != 0 {
		t.Errorf("brokerId %d %v", n, err)
	}
	if n, err := f.Int("deleteWhen", 0); err != nil || n != 4 {
		t.Errorf("deleteWhen %d %v", n, err)
	}
	if d, err := f.Millis("fileReservedTime", time.Hour, 0); err != nil || d != 48*time.Hour {
		t.Errorf("fileReservedTime %v %v", d, err)
	}
	if got := f.String("namesrvAddr", ""); got != "127.0.0.1:9876;127.0.0.1:9877" {
		t.Errorf("namesrvAddr %q", got)
	}
	if b, err := f.Bool("autoCreateTopicEnable", false); err != nil || !b {
		t.Errorf("autoCreateTopicEnable %v %v", b, err)
	}
	if d, err := f.Millis("flushIntervalCommitLog", time.Millisecond, 500*time.Millisecond); err != nil || d != 500*time.Millisecond {
		t.Errorf("default %v %v", d, err)
	}
	f.String("flushDiskType", "")
	if got := f.Unused(); !reflect.DeepEqual(got, []string{"unknownKey"}) {
		t.Errorf("unused %v", got)
	}
}

func TestBadValuesNameTheLine(t *testing.T) {
	f, err := Parse("a=1\nlistenPort=abc\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Int("listenPort", 0)
	if err == nil || err.Error() != `conf: line 2: listenPort="abc" is not an integer` {
		t.Fatalf("error %v", err)
	}
	if _, err := Parse("=novalue\n"); err == nil {
		t.Fatal("a line without a key parsed")
	}
}
