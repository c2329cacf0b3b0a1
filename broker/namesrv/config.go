package namesrv

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/conf"
)

// DefaultListenPort is the name server's port, as in RocketMQ.
const DefaultListenPort = 9876

// Config is the name server's configuration. Field comments give the
// namesrv.conf key each one is read from.
type Config struct {
	// ListenPort (listenPort) is the port to listen on. Start takes the
	// whole address; the command builds it from this and its bind flag.
	ListenPort int
	// ScanNotActiveBrokerInterval (scanNotActiveBrokerInterval, in ms) is
	// how often brokers that stopped registering are dropped.
	ScanNotActiveBrokerInterval time.Duration
	// OrderMessageEnable (orderMessageEnable): routes carry orderTopicConf
	// from the ORDER_TOPIC_CONFIG KV namespace.
	OrderMessageEnable bool
	// ReturnOrderTopicConfigToBroker (returnOrderTopicConfigToBroker):
	// REGISTER_BROKER answers with the ORDER_TOPIC_CONFIG KV table.
	ReturnOrderTopicConfigToBroker bool
	// EnableAllTopicList (enableAllTopicList) allows
	// GET_ALL_TOPIC_LIST_FROM_NAMESERVER; otherwise it answers "disable".
	EnableAllTopicList bool
	// EnableTopicList (enableTopicList) allows the other topic lists (by
	// cluster, system, unit).
	EnableTopicList bool
	// DeleteTopicWithBrokerRegistration
	// (deleteTopicWithBrokerRegistration): a master's registration removes
	// its queue data from topics it no longer lists.
	DeleteTopicWithBrokerRegistration bool
	// KVConfigPath (kvConfigPath) is the JSON file the KV configuration is
	// kept in, through the node's host.FS. Empty keeps it in memory only;
	// cmd/mqnamesrv defaults it to ~/namesrv/kvConfig.json, as Java does.
	KVConfigPath string
}

// DefaultConfig returns RocketMQ's defaults.
func DefaultConfig() Config {
	return Config{
		ListenPort:                     DefaultListenPort,
		ScanNotActiveBrokerInterval:    5 * time.Second,
		ReturnOrderTopicConfigToBroker: true,
		EnableAllTopicList:             true,
		EnableTopicList:                true,
	}
}

// ConfigFromFile reads the keys above from a parsed namesrv.conf, keeping
// the default for each key that is absent. Keys it does not know are left
// for f.Unused to report.
func ConfigFromFile(f *conf.File) (Config, error) {
	c := DefaultConfig()
	var err error
	if c.ListenPort, err = f.Int("listenPort", c.ListenPort); err != nil {
		return Config{}, err
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return Config{}, fmt.Errorf("namesrv: listenPort=%d is not a port", c.ListenPort)
	}
	if c.ScanNotActiveBrokerInterval, err = f.Millis("scanNotActiveBrokerInterval", time.Millisecond, c.ScanNotActiveBrokerInterval); err != nil {
		return Config{}, err
	}
	if c.ScanNotActiveBrokerInterval <= 0 {
		return Config{}, fmt.Errorf("namesrv: scanNotActiveBrokerInterval must be positive")
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{
		{"orderMessageEnable", &c.OrderMessageEnable},
		{"returnOrderTopicConfigToBroker", &c.ReturnOrderTopicConfigToBroker},
		{"enableAllTopicList", &c.EnableAllTopicList},
		{"enableTopicList", &c.EnableTopicList},
		{"deleteTopicWithBrokerRegistration", &c.DeleteTopicWithBrokerRegistration},
	} {
		if *b.dst, err = f.Bool(b.key, *b.dst); err != nil {
			return Config{}, err
		}
	}
	c.KVConfigPath = f.String("kvConfigPath", c.KVConfigPath)
	return c, nil
}

// Properties returns the configuration as namesrv.conf lines, sorted by
// key, durations in milliseconds: what `mqnamesrv -p` prints and
// GET_NAMESRV_CONFIG answers.
func (c Config) Properties() string {
	lines := []string{
		"deleteTopicWithBrokerRegistration=" + strconv.FormatBool(c.DeleteTopicWithBrokerRegistration),
		"enableAllTopicList=" + strconv.FormatBool(c.EnableAllTopicList),
		"enableTopicList=" + strconv.FormatBool(c.EnableTopicList),
		"kvConfigPath=" + c.KVConfigPath,
		"listenPort=" + strconv.Itoa(c.ListenPort),
		"orderMessageEnable=" + strconv.FormatBool(c.OrderMessageEnable),
		"returnOrderTopicConfigToBroker=" + strconv.FormatBool(c.ReturnOrderTopicConfigToBroker),
		"scanNotActiveBrokerInterval=" + strconv.FormatInt(c.ScanNotActiveBrokerInterval.Milliseconds(), 10),
	}
	return strings.Join(lines, "\n") + "\n"
}
