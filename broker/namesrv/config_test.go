package namesrv

import (
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/conf"
)

func TestConfigFromFile(t *testing.T) {
	f, err := conf.Parse(`
# namesrv.conf as a RocketMQ user writes it
listenPort=19876
scanNotActiveBrokerInterval=2000
orderMessageEnable=true
enableAllTopicList=false
kvConfigPath=/var/lib/namesrv/kvConfig.json
rocketmqHome=/opt/rocketmq
`)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ConfigFromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.ListenPort = 19876
	want.ScanNotActiveBrokerInterval = 2 * time.Second
	want.OrderMessageEnable = true
	want.EnableAllTopicList = false
	want.KVConfigPath = "/var/lib/namesrv/kvConfig.json"
	if c != want {
		t.Fatalf("\n got %+v\nwant %+v", c, want)
	}
	if unused := f.Unused(); len(unused) != 1 || unused[0] != "rocketmqHome" {
		t.Fatalf("unused %v", unused)
	}
}

func TestConfigDefaults(t *testing.T) {
	f, _ := conf.Parse("")
	c, err := ConfigFromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if c != DefaultConfig() {
		t.Fatalf("empty file gives %+v", c)
	}
	if c.ListenPort != 9876 || c.ScanNotActiveBrokerInterval != 5*time.Second || !c.EnableAllTopicList || c.OrderMessageEnable {
		t.Fatalf("defaults %+v", c)
	}
	const want = `deleteTopicWithBrokerRegistration=false
enableAllTopicList=true
enableTopicList=true
kvConfigPath=
listenPort=9876
orderMessageEnable=false
returnOrderTopicConfigToBroker=true
scanNotActiveBrokerInterval=5000
`
	if got := c.Properties(); got != want {
		t.Fatalf("properties\n%s\nwant\n%s", got, want)
	}
	// What Properties prints reads back as the same configuration.
	back, _ := conf.Parse(c.Properties())
	if again, err := ConfigFromFile(back); err != nil || again != c {
		t.Fatalf("round trip: %+v %v", again, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, text := range []string{
		"listenPort=abc",
		"listenPort=70000",
		"scanNotActiveBrokerInterval=0",
		"scanNotActiveBrokerInterval=-5",
		"orderMessageEnable=yes",
	} {
		f, err := conf.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ConfigFromFile(f); err == nil {
			t.Errorf("%q accepted", text)
		} else if key := strings.SplitN(text, "=", 2)[0]; !strings.Contains(err.Error(), key) {
			t.Errorf("%q: error %q does not name the key", text, err)
		}
	}
}
