package broker

import (
	"strconv"
	"strings"
	"time"

	"github.com/thrustmq/thrust/broker/store"
)

// Properties renders the configuration as broker.conf keys and values, in
// the units the file uses: what `mqbroker -p` prints and GET_BROKER_CONFIG
// answers. Reading the rendering back with ConfigFromFile gives the same
// configuration (a test holds the two lists of keys together).
func (c *Config) Properties() [][2]string {
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	str := func(k, v string) { add(k, v) }
	num := func(k string, v int64) { add(k, strconv.FormatInt(v, 10)) }
	flag := func(k string, v bool) { add(k, strconv.FormatBool(v)) }
	dur := func(k string, unit, v time.Duration) { num(k, int64(v/unit)) }
	// Ratios as fractions (ConfigFromFile reads both a fraction and
	// RocketMQ's percentage): v*100 does not always divide back exactly.
	ratio := func(k string, v float64) { add(k, strconv.FormatFloat(v, 'f', -1, 64)) }

	str("brokerClusterName", c.BrokerClusterName)
	str("brokerName", c.BrokerName)
	num("brokerId", c.BrokerID)
	num("listenPort", int64(c.ListenPort))
	str("brokerIP1", c.BrokerIP1)
	str("bindAddress", c.BindAddr)
	str("namesrvAddr", strings.Join(c.NamesrvAddr, ";"))
	flag("autoCreateTopicEnable", c.AutoCreateTopicEnable)
	flag("autoCreateSubscriptionGroup", c.AutoCreateSubscriptionGroup)
	num("defaultTopicQueueNums", int64(c.DefaultTopicQueueNums))
	num("brokerPermission", int64(c.BrokerPermission))
	flag("clusterTopicEnable", c.ClusterTopicEnable)
	flag("brokerTopicEnable", c.BrokerTopicEnable)
	str("regionId", c.RegionID)
	flag("traceOn", c.TraceOn)
	flag("transferMsgByHeap", c.TransferMsgByHeap)
	dur("registerNameServerPeriod", time.Millisecond, c.RegisterNameServerPeriod)
	dur("channelExpiredTimeout", time.Millisecond, c.ChannelExpiredTimeout)
	dur("flushConsumerOffsetInterval", time.Millisecond, c.FlushConsumerOffsetInterval)
	flag("longPollingEnable", c.LongPollingEnable)
	dur("shortPollingTimeMills", time.Millisecond, c.ShortPollingTime)
	dur("longPollingMaxHoldTimeMills", time.Millisecond, c.MaxHoldTime)
	dur("rebalanceLockMaxLiveTime", time.Millisecond, c.RebalanceLockMaxLiveTime)
	dur("transactionTimeOut", time.Millisecond, c.TransactionTimeout)
	dur("transactionCheckInterval", time.Millisecond, c.TransactionCheckInterval)
	num("transactionCheckMax", int64(c.TransactionCheckMax))
	str("messageDelayLevel", c.MessageDelayLevel)

	s := &c.Store
	str("storePathRootDir", s.StorePathRootDir)
	str("storePathCommitLog", s.StorePathCommitLog)
	str("flushDiskType", s.FlushDiskType.String())
	writePath := "mmap"
	if s.WritePath == store.WritePwrite {
		writePath = "pwrite"
	}
	str("commitLogWritePath", writePath)
	num("mappedFileSizeCommitLog", s.MappedFileSizeCommitLog)
	num("mappedFileSizeConsumeQueue", s.MappedFileSizeConsumeQueue)
	dur("flushIntervalCommitLog", time.Millisecond, s.FlushIntervalCommitLog)
	num("flushCommitLogLeastPages", int64(s.FlushCommitLogLeastPages))
	dur("flushCommitLogThoroughInterval", time.Millisecond, s.FlushCommitLogThoroughInterval)
	dur("flushIntervalConsumeQueue", time.Millisecond, s.FlushIntervalConsumeQueue)
	dur("syncFlushTimeout", time.Millisecond, s.SyncFlushTimeout)
	dur("groupCommitIntervalMicros", time.Microsecond, s.GroupCommitInterval)
	flag("warmMapedFileEnable", s.WarmMappedFile)
	num("maxMessageSize", int64(s.MaxMessageSize))
	flag("enabledAppendPropCRC", s.EnabledAppendPropCRC)
	dur("fileReservedTime", time.Hour, s.FileReservedTime)
	num("deleteWhen", int64(s.DeleteWhen))
	dur("cleanResourceInterval", time.Millisecond, s.CleanResourceInterval)
	ratio("diskMaxUsedSpaceRatio", s.DiskMaxUsedSpaceRatio)
	ratio("diskSpaceCleanForciblyRatio", s.DiskSpaceCleanForciblyRatio)
	ratio("diskSpaceWarningLevelRatio", s.DiskSpaceWarningLevelRatio)
	num("maxTransferBytesOnMessageInMemory", int64(s.MaxTransferBytesOnMessageInMemory))
	num("maxTransferCountOnMessageInMemory", int64(s.MaxTransferCountOnMessageInMemory))
	return out
}

// PropertiesText is Properties as broker.conf lines.
func (c *Config) PropertiesText() string {
	var b strings.Builder
	for _, kv := range c.Properties() {
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(kv[1])
		b.WriteByte('\n')
	}
	return b.String()
}
