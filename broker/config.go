package broker

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/conf"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/store"
)

// Config is broker.conf: RocketMQ's BrokerConfig and MessageStoreConfig
// keys, with RocketMQ's defaults unless a comment says why not.
type Config struct {
	BrokerClusterName string // brokerClusterName
	BrokerName        string // brokerName
	BrokerID          int64  // brokerId; 0 is the master
	ListenPort        int    // listenPort; 10911
	BrokerIP1         string // brokerIP1: the address clients dial
	// BindAddr is where the broker listens (Thrust's bindAddress); empty
	// means BrokerIP1.
	BindAddr    string
	NamesrvAddr []string // namesrvAddr, ';'-separated in the file

	AutoCreateTopicEnable       bool // autoCreateTopicEnable
	AutoCreateSubscriptionGroup bool // autoCreateSubscriptionGroup
	DefaultTopicQueueNums       int  // defaultTopicQueueNums; 8
	BrokerPermission            int  // brokerPermission; 6 (read and write)
	ClusterTopicEnable          bool // clusterTopicEnable
	BrokerTopicEnable           bool // brokerTopicEnable
	RegionID                    string
	TraceOn                     bool

	// TransferMsgByHeap copies pull bodies through the broker instead of
	// sending them with sendfile(2). RocketMQ's default is true; Thrust's is
	// false, since zero-copy pulls are the point. Reports compare the two.
	TransferMsgByHeap bool

	RegisterNameServerPeriod    time.Duration // registerNameServerPeriod; 30 s
	ChannelExpiredTimeout       time.Duration // channelExpiredTimeout; 120 s
	FlushConsumerOffsetInterval time.Duration // flushConsumerOffsetInterval; 5 s
	LongPollingEnable           bool          // longPollingEnable
	ShortPollingTime            time.Duration // shortPollingTimeMills; 1 s
	// MaxHoldTime caps a long poll below the Go client's 30 s pull timeout,
	// whatever the client asks for (Thrust's longPollingMaxHoldTimeMills).
	MaxHoldTime time.Duration
	// RebalanceLockMaxLiveTime is how long an orderly consumer's queue lock
	// lasts unrenewed (Thrust's rebalanceLockMaxLiveTime, in ms; RocketMQ
	// reads it from the JVM property rocketmq.broker.rebalance.lockMaxLiveTime).
	// The Go client never unlocks a queue a rebalance took from it, so this
	// is also how long such a queue waits for its new owner: 60 s.
	RebalanceLockMaxLiveTime time.Duration

	// Transactional messages: a half message unresolved for
	// TransactionTimeout (transactionTimeOut, ms; 6 s) is checked with its
	// producer every TransactionCheckInterval (transactionCheckInterval,
	// ms; 30 s), at most TransactionCheckMax times (transactionCheckMax;
	// 15), then discarded.
	TransactionTimeout       time.Duration
	TransactionCheckInterval time.Duration
	TransactionCheckMax      int

	MessageDelayLevel string // messageDelayLevel

	Store store.Config
}

// DefaultConfig returns the defaults with the store under root.
func DefaultConfig(root string) Config {
	return Config{
		BrokerClusterName:           "DefaultCluster",
		BrokerName:                  "broker-a",
		ListenPort:                  10911,
		BrokerIP1:                   "127.0.0.1",
		AutoCreateTopicEnable:       true,
		AutoCreateSubscriptionGroup: true,
		DefaultTopicQueueNums:       8,
		BrokerPermission:            permRead | permWrite,
		ClusterTopicEnable:          true,
		BrokerTopicEnable:           true,
		RegionID:                    "DefaultRegion",
		TraceOn:                     true,
		RegisterNameServerPeriod:    30 * time.Second,
		ChannelExpiredTimeout:       120 * time.Second,
		FlushConsumerOffsetInterval: 5 * time.Second,
		LongPollingEnable:           true,
		ShortPollingTime:            time.Second,
		MaxHoldTime:                 25 * time.Second,
		RebalanceLockMaxLiveTime:    60 * time.Second,
		TransactionTimeout:          6 * time.Second,
		TransactionCheckInterval:    30 * time.Second,
		TransactionCheckMax:         15,
		MessageDelayLevel:           message.DefaultDelayLevels,
		Store:                       store.DefaultConfig(root),
	}
}

// ConfigFromFile reads broker.conf keys over the defaults. defaultRoot is
// the store root when storePathRootDir is absent.
func ConfigFromFile(f *conf.File, defaultRoot string) (Config, error) {
	c := DefaultConfig(defaultRoot)
	var errs []error
	str := func(key string, dst *string) { *dst = f.String(key, *dst) }
	integer := func(key string, dst *int) {
		v, err := f.Int(key, *dst)
		errs = append(errs, err)
		*dst = v
	}
	i64 := func(key string, dst *int64) {
		v, err := f.Int64(key, *dst)
		errs = append(errs, err)
		*dst = v
	}
	boolean := func(key string, dst *bool) {
		v, err := f.Bool(key, *dst)
		errs = append(errs, err)
		*dst = v
	}
	millis := func(key string, unit time.Duration, dst *time.Duration) {
		v, err := f.Millis(key, unit, *dst)
		errs = append(errs, err)
		*dst = v
	}
	ratio := func(key string, dst *float64) {
		// RocketMQ writes diskMaxUsedSpaceRatio as a percentage (75);
		// accept a fraction too.
		v, err := f.Float(key, *dst)
		errs = append(errs, err)
		if v > 1 {
			v /= 100
		}
		*dst = v
	}

	str("brokerClusterName", &c.BrokerClusterName)
	str("brokerName", &c.BrokerName)
	i64("brokerId", &c.BrokerID)
	integer("listenPort", &c.ListenPort)
	str("brokerIP1", &c.BrokerIP1)
	str("bindAddress", &c.BindAddr)
	if ns := f.String("namesrvAddr", ""); ns != "" {
		c.NamesrvAddr = splitAddrs(ns)
	}
	boolean("autoCreateTopicEnable", &c.AutoCreateTopicEnable)
	boolean("autoCreateSubscriptionGroup", &c.AutoCreateSubscriptionGroup)
	integer("defaultTopicQueueNums", &c.DefaultTopicQueueNums)
	integer("brokerPermission", &c.BrokerPermission)
	boolean("clusterTopicEnable", &c.ClusterTopicEnable)
	boolean("brokerTopicEnable", &c.BrokerTopicEnable)
	str("regionId", &c.RegionID)
	boolean("traceOn", &c.TraceOn)
	boolean("transferMsgByHeap", &c.TransferMsgByHeap)
	millis("registerNameServerPeriod", time.Millisecond, &c.RegisterNameServerPeriod)
	millis("channelExpiredTimeout", time.Millisecond, &c.ChannelExpiredTimeout)
	millis("flushConsumerOffsetInterval", time.Millisecond, &c.FlushConsumerOffsetInterval)
	boolean("longPollingEnable", &c.LongPollingEnable)
	millis("shortPollingTimeMills", time.Millisecond, &c.ShortPollingTime)
	millis("longPollingMaxHoldTimeMills", time.Millisecond, &c.MaxHoldTime)
	millis("rebalanceLockMaxLiveTime", time.Millisecond, &c.RebalanceLockMaxLiveTime)
	millis("transactionTimeOut", time.Millisecond, &c.TransactionTimeout)
	millis("transactionCheckInterval", time.Millisecond, &c.TransactionCheckInterval)
	integer("transactionCheckMax", &c.TransactionCheckMax)
	str("messageDelayLevel", &c.MessageDelayLevel)

	s := &c.Store
	str("storePathRootDir", &s.StorePathRootDir)
	str("storePathCommitLog", &s.StorePathCommitLog)
	if v := f.String("flushDiskType", ""); v != "" {
		t, err := store.ParseFlushDiskType(v)
		errs = append(errs, err)
		s.FlushDiskType = t
	}
	switch v := f.String("commitLogWritePath", ""); v {
	case "", "mmap":
	case "pwrite":
		s.WritePath = store.WritePwrite
	default:
		errs = append(errs, fmt.Errorf("conf: commitLogWritePath=%q is neither mmap nor pwrite", v))
	}
	i64("mappedFileSizeCommitLog", &s.MappedFileSizeCommitLog)
	i64("mappedFileSizeConsumeQueue", &s.MappedFileSizeConsumeQueue)
	millis("flushIntervalCommitLog", time.Millisecond, &s.FlushIntervalCommitLog)
	integer("flushCommitLogLeastPages", &s.FlushCommitLogLeastPages)
	millis("flushCommitLogThoroughInterval", time.Millisecond, &s.FlushCommitLogThoroughInterval)
	millis("flushIntervalConsumeQueue", time.Millisecond, &s.FlushIntervalConsumeQueue)
	millis("syncFlushTimeout", time.Millisecond, &s.SyncFlushTimeout)
	millis("groupCommitIntervalMicros", time.Microsecond, &s.GroupCommitInterval)
	boolean("warmMapedFileEnable", &s.WarmMappedFile)
	integer("maxMessageSize", &s.MaxMessageSize)
	boolean("enabledAppendPropCRC", &s.EnabledAppendPropCRC)
	millis("fileReservedTime", time.Hour, &s.FileReservedTime)
	if v := f.String("deleteWhen", ""); v != "" {
		// RocketMQ allows "04;10"; the first hour is the one Thrust uses.
		h, err := conf.Parse("deleteWhen=" + strings.SplitN(v, ";", 2)[0])
		if err == nil {
			s.DeleteWhen, err = h.Int("deleteWhen", s.DeleteWhen)
		}
		errs = append(errs, err)
	}
	millis("cleanResourceInterval", time.Millisecond, &s.CleanResourceInterval)
	ratio("diskMaxUsedSpaceRatio", &s.DiskMaxUsedSpaceRatio)
	ratio("diskSpaceCleanForciblyRatio", &s.DiskSpaceCleanForciblyRatio)
	ratio("diskSpaceWarningLevelRatio", &s.DiskSpaceWarningLevelRatio)
	integer("maxTransferBytesOnMessageInMemory", &s.MaxTransferBytesOnMessageInMemory)
	integer("maxTransferCountOnMessageInMemory", &s.MaxTransferCountOnMessageInMemory)

	for _, err := range errs {
		if err != nil {
			return Config{}, err
		}
	}
	return c, c.finish()
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// finish derives the store host and checks what the store does not.
func (c *Config) finish() error {
	ip, err := netip.ParseAddr(c.BrokerIP1)
	if err != nil {
		return fmt.Errorf("broker: brokerIP1 %q is not an IP address", c.BrokerIP1)
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return fmt.Errorf("broker: listenPort %d out of range", c.ListenPort)
	}
	c.Store.StoreHost = netip.AddrPortFrom(ip.Unmap(), uint16(c.ListenPort))
	if c.Store.StorePathRootDir != "" {
		c.Store.StorePathRootDir = filepath.Clean(c.Store.StorePathRootDir)
	}
	switch {
	case c.BrokerName == "" || c.BrokerClusterName == "":
		return fmt.Errorf("broker: brokerName and brokerClusterName must not be empty")
	case c.DefaultTopicQueueNums <= 0 || c.DefaultTopicQueueNums > 1024:
		return fmt.Errorf("broker: defaultTopicQueueNums %d out of range 1..1024", c.DefaultTopicQueueNums)
	case c.MaxHoldTime <= 0 || c.MaxHoldTime >= 30*time.Second:
		return fmt.Errorf("broker: longPollingMaxHoldTimeMills must be in (0, 30000): clients give up at 30 s")
	case c.RebalanceLockMaxLiveTime <= 0:
		return fmt.Errorf("broker: rebalanceLockMaxLiveTime must be positive")
	case c.TransactionTimeout <= 0 || c.TransactionCheckInterval <= 0 || c.TransactionCheckMax <= 0:
		return fmt.Errorf("broker: transactionTimeOut, transactionCheckInterval and transactionCheckMax must be positive")
	}
	if _, err := message.ParseDelayLevels(c.MessageDelayLevel); err != nil {
		return err
	}
	if err := message.ValidateTopic(c.BrokerClusterName); err != nil {
		return fmt.Errorf("broker: brokerClusterName: %w", err)
	}
	if err := message.ValidateTopic(c.BrokerName); err != nil {
		return fmt.Errorf("broker: brokerName: %w", err)
	}
	return c.Store.Validate()
}

// Finish is ConfigFromFile's last step for a Config built in code: it
// derives the store host from brokerIP1 and listenPort and validates.
func (c *Config) Finish() error { return c.finish() }

// ListenAddr is where the broker listens.
func (c *Config) ListenAddr() string {
	host := c.BindAddr
	if host == "" {
		host = c.BrokerIP1
	}
	return netip.AddrPortFrom(netip.MustParseAddr(host), uint16(c.ListenPort)).String()
}

// BrokerAddr is the address clients dial, as registered with name servers.
func (c *Config) BrokerAddr() string {
	return c.Store.StoreHost.String()
}
