package store

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/thrustmq/thrust/broker/message"
)

// FlushDiskType is RocketMQ's flushDiskType.
type FlushDiskType int

const (
	// AsyncFlush acknowledges a put once its record is in the page cache
	// and syncs in the background (RocketMQ's default).
	AsyncFlush FlushDiskType = iota
	// SyncFlush acknowledges a put only after an fdatasync that began after
	// its record was written has completed. One sync covers every put
	// pending when it starts (group commit).
	SyncFlush
)

func (t FlushDiskType) String() string {
	if t == SyncFlush {
		return "SYNC_FLUSH"
	}
	return "ASYNC_FLUSH"
}

// ParseFlushDiskType accepts RocketMQ's spellings.
func ParseFlushDiskType(s string) (FlushDiskType, error) {
	switch s {
	case "SYNC_FLUSH":
		return SyncFlush, nil
	case "ASYNC_FLUSH":
		return AsyncFlush, nil
	}
	return 0, fmt.Errorf("store: flushDiskType %q is neither SYNC_FLUSH nor ASYNC_FLUSH", s)
}

// WritePath is how records reach the page cache.
type WritePath int

const (
	// WriteMmap encodes records straight into the mapped segment.
	WriteMmap WritePath = iota
	// WritePwrite encodes into a buffer and writes it with pwrite(2).
	WritePwrite
)

func (w WritePath) String() string {
	if w == WritePwrite {
		return "pwrite"
	}
	return "mmap"
}

// Config is the store's part of broker.conf. Field comments name the key.
type Config struct {
	StorePathRootDir   string // storePathRootDir; default $HOME/store
	StorePathCommitLog string // storePathCommitLog; default <root>/commitlog

	MappedFileSizeCommitLog    int64 // mappedFileSizeCommitLog; 1 GiB
	MappedFileSizeConsumeQueue int64 // mappedFileSizeConsumeQueue; 300000 units of 20 B

	FlushDiskType                  FlushDiskType // flushDiskType
	FlushIntervalCommitLog         time.Duration // flushIntervalCommitLog; 500 ms (ASYNC_FLUSH)
	FlushCommitLogLeastPages       int           // flushCommitLogLeastPages; 4
	FlushCommitLogThoroughInterval time.Duration // flushCommitLogThoroughInterval; 10 s
	FlushIntervalConsumeQueue      time.Duration // flushIntervalConsumeQueue; 1 s
	SyncFlushTimeout               time.Duration // syncFlushTimeout; 5 s
	// GroupCommitInterval is Thrust's groupCommitIntervalMicros: the least
	// time between the starts of two commit-log syncs. Zero (the default)
	// starts a sync as soon as the previous one ends, which adapts the
	// group to the load by itself; a positive interval makes each sync
	// cover more puts, trading latency for fewer syncs (a disk with an
	// IOPS cap, a CPU-bound broker), as MySQL's
	// binlog_group_commit_sync_delay does.
	GroupCommitInterval time.Duration

	MaxMessageSize int // maxMessageSize; 4 MiB, the largest body

	// WarmMappedFile is RocketMQ's warmMapedFileEnable (sic): once the last
	// commit-log segment is half written, the next one is made ahead of
	// need (created, preallocated off the loop where the host can, mapped)
	// under a temporary name, so that the put that rolls the log onto it
	// pays for a rename and a directory sync rather than for fallocate.
	// Unlike RocketMQ it does not pre-fault the pages: writing zeros
	// through every page would double the disk writes.
	WarmMappedFile bool

	// WritePath is Thrust's commitLogWritePath (mmap or pwrite); mmap needs
	// a host whose files map, and falls back to pwrite otherwise.
	WritePath WritePath

	// EnabledAppendPropCRC (enabledAppendPropCRC) appends a __CRC32#
	// property holding a CRC of the whole record, so that recovery detects
	// a torn record whose body survived but whose header or properties did
	// not (BODYCRC covers the body only). RocketMQ's default is off;
	// Thrust's is on.
	EnabledAppendPropCRC bool

	FileReservedTime            time.Duration // fileReservedTime (hours in broker.conf); 72 h
	DeleteWhen                  int           // deleteWhen; hour of day, 4
	CleanResourceInterval       time.Duration // cleanResourceInterval; 10 s
	DiskMaxUsedSpaceRatio       float64       // diskMaxUsedSpaceRatio; 0.75: clean up early
	DiskSpaceCleanForciblyRatio float64       // diskSpaceCleanForciblyRatio; 0.85: delete even unexpired
	DiskSpaceWarningLevelRatio  float64       // diskSpaceWarningLevelRatio; 0.90: refuse writes

	// RecoverVerifySegments is how many commit-log segments, ending with the
	// one that holds the last checkpointed offset, recovery reads in full
	// and verifies (RocketMQ's normal recovery checks the last 3 files).
	RecoverVerifySegments int

	// MaxTransferBytesOnMessageInMemory and MaxTransferCountOnMessageInMemory
	// cap one pull (RocketMQ's keys; 256 KiB and 32).
	MaxTransferBytesOnMessageInMemory int
	MaxTransferCountOnMessageInMemory int

	// StoreHost is the broker's address and listen port, written into every
	// record and its offset message id.
	StoreHost netip.AddrPort

	// TagsCode computes a record's consume-queue tags code from its topic,
	// encoded properties and store time, both when the record is appended
	// and when recovery rebuilds its unit. nil means DefaultTagsCode; the
	// broker sets it to put delivery times in SCHEDULE_TOPIC_XXXX units.
	TagsCode func(topic string, props []byte, storeTimestamp int64) int64
}

// DefaultConfig returns RocketMQ's defaults, rooted at root.
func DefaultConfig(root string) Config {
	return Config{
		StorePathRootDir:                  root,
		MappedFileSizeCommitLog:           1 << 30,
		MappedFileSizeConsumeQueue:        300000 * message.CQUnitSize,
		FlushDiskType:                     AsyncFlush,
		FlushIntervalCommitLog:            500 * time.Millisecond,
		FlushCommitLogLeastPages:          4,
		FlushCommitLogThoroughInterval:    10 * time.Second,
		FlushIntervalConsumeQueue:         time.Second,
		SyncFlushTimeout:                  5 * time.Second,
		MaxMessageSize:                    4 << 20,
		WritePath:                         WriteMmap,
		EnabledAppendPropCRC:              true,
		FileReservedTime:                  72 * time.Hour,
		DeleteWhen:                        4,
		CleanResourceInterval:             10 * time.Second,
		DiskMaxUsedSpaceRatio:             0.75,
		DiskSpaceCleanForciblyRatio:       0.85,
		DiskSpaceWarningLevelRatio:        0.90,
		RecoverVerifySegments:             3,
		MaxTransferBytesOnMessageInMemory: 256 << 10,
		MaxTransferCountOnMessageInMemory: 32,
		StoreHost:                         netip.MustParseAddrPort("127.0.0.1:10911"),
	}
}

// maxRecordOverhead bounds what a record adds to its body: the fixed part
// with IPv6 hosts, a V2 topic, and the largest properties.
const maxRecordOverhead = 128 + 2 + message.MaxTopicBytesV2 + 2 + message.MaxPropertiesBytes

func (c *Config) commitLogDir() string {
	if c.StorePathCommitLog != "" {
		return c.StorePathCommitLog
	}
	return filepath.Join(c.StorePathRootDir, "commitlog")
}

func (c *Config) consumeQueueDir() string {
	return filepath.Join(c.StorePathRootDir, "consumequeue")
}

// Validate reports settings the store cannot run with.
func (c *Config) Validate() error {
	switch {
	case c.StorePathRootDir == "":
		return fmt.Errorf("store: storePathRootDir is empty")
	case c.MaxMessageSize <= 0:
		return fmt.Errorf("store: maxMessageSize %d must be positive", c.MaxMessageSize)
	case c.MappedFileSizeCommitLog < int64(c.MaxMessageSize)+maxRecordOverhead+message.BlankSize:
		return fmt.Errorf("store: mappedFileSizeCommitLog %d cannot hold a message of maxMessageSize %d (needs at least %d)",
			c.MappedFileSizeCommitLog, c.MaxMessageSize, int64(c.MaxMessageSize)+maxRecordOverhead+message.BlankSize)
	case c.MappedFileSizeCommitLog > 1<<40:
		return fmt.Errorf("store: mappedFileSizeCommitLog %d is over 1 TiB", c.MappedFileSizeCommitLog)
	case c.MappedFileSizeConsumeQueue < message.CQUnitSize || c.MappedFileSizeConsumeQueue%message.CQUnitSize != 0:
		return fmt.Errorf("store: mappedFileSizeConsumeQueue %d must be a positive multiple of %d", c.MappedFileSizeConsumeQueue, message.CQUnitSize)
	case c.FlushIntervalCommitLog <= 0 || c.FlushIntervalConsumeQueue <= 0 || c.SyncFlushTimeout <= 0 || c.CleanResourceInterval <= 0:
		return fmt.Errorf("store: flush, timeout and clean-up intervals must be positive")
	case c.GroupCommitInterval < 0 || c.GroupCommitInterval >= c.SyncFlushTimeout:
		return fmt.Errorf("store: groupCommitIntervalMicros %v must be at least 0 and below syncFlushTimeout %v", c.GroupCommitInterval, c.SyncFlushTimeout)
	case c.DiskSpaceWarningLevelRatio <= 0 || c.DiskSpaceWarningLevelRatio > 1:
		return fmt.Errorf("store: diskSpaceWarningLevelRatio %v must be in (0, 1]", c.DiskSpaceWarningLevelRatio)
	case c.MaxTransferBytesOnMessageInMemory <= 0 || c.MaxTransferCountOnMessageInMemory <= 0:
		return fmt.Errorf("store: pull transfer limits must be positive")
	case !c.StoreHost.IsValid():
		return fmt.Errorf("store: store host %v is not an address and port", c.StoreHost)
	}
	return nil
}
