package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
)

// Store is RocketMQ's DefaultMessageStore: a commit log, the consume queues
// derived from it, the checkpoint, flushing, recovery and retention. All of
// its methods run on the node's loop.
type Store struct {
	env  host.Env
	log  *slog.Logger
	cfg  Config
	lock io.Closer

	cl *commitLog
	cp *checkpointFile

	cqs    map[topicQueue]*consumeQueue
	cqList []*consumeQueue // creation order: iteration never depends on a map
	// cqDirty lists queues written since their last flush began.
	cqDirty []*consumeQueue
	// topicQueueTable is the next queue offset of each queue: ahead of the
	// consume queue while records wait for dispatch (SYNC_FLUSH).
	topicQueueTable map[topicQueue]int64

	// recordCRCSince: records at or after it carry the record CRC property.
	recordCRCSince int64
	// quarantine holds commit-log ranges found corrupt inside data that had
	// been synced; reads step over any unit that points into one.
	quarantine []physRange

	// Dispatch ("reput"): records appended and not yet indexed, in log
	// order. Under SYNC_FLUSH they wait for the sync that covers them, so a
	// consumer never sees a message a power loss could take back.
	pending        []dispatchRequest
	dispatchedPhys int64
	onArrive       func(topic string, queueID int32, queueOffset, tagsCode int64)

	// Flushing.
	waiters        []flushWaiter // SYNC_FLUSH puts awaiting their sync, in log order
	syncing        bool
	lastSyncStart  time.Duration // groupCommitIntervalMicros counts from it
	groupTimer     host.Timer    // a sync held back by groupCommitIntervalMicros
	watchdog       host.Timer
	lastThoroughAt time.Duration
	lastStoreTs    int64 // store time of the last record appended
	flushedStoreTs int64 // store time of the last record known durable
	logicsFlushing bool
	logicsPhys     int64 // consume-queue units of records before it are durable
	dispatchedTs   int64
	logicsStoreTs  int64
	fenced         error // a sync failed: durability unknown, writes refused
	diskUsage      host.DiskUsage
	diskUsageKnown bool
	timers         []host.Timer
	closed         bool
	recordsScratch []message.Record
	sizesScratch   []int
	stats          Stats
	recovery       RecoveryStats
	res            *reservations
	dirs           *dirs
	skipCRC        bool // BugRecoverySkipsCRC, during recovery only
}

type topicQueue struct {
	topic   string
	queueID int32
}

type physRange struct{ from, to int64 }

type dispatchRequest struct {
	topic       string
	queueID     int32
	queueOffset int64
	phys        int64
	size        int32
	tagsCode    int64
	storeTs     int64
	noUnit      bool // PREPARED and ROLLBACK records get no consume-queue unit
}

type flushWaiter struct {
	end      int64
	deadline time.Duration
	result   PutResult
	done     func(PutResult)
}

// Stats counts the store's work since Open.
type Stats struct {
	PutMessages     uint64
	PutBytes        uint64
	PutRefused      uint64 // refused before writing: bad input, full disk, fenced
	CommitLogSyncs  uint64
	GroupCommitted  uint64 // SYNC_FLUSH puts acknowledged by those syncs
	FlushTimeouts   uint64
	GetMessages     uint64 // messages returned by GetMessage
	GetBytes        uint64
	SegmentsCreated uint64
	SegmentsDeleted uint64
	// SegmentsPrepared counts commit-log segments made ahead of need
	// (warmMapedFileEnable) that the log rolled onto.
	SegmentsPrepared uint64
}

// SiteCrashAfterAppend is a fault site: the process dies right after a
// put's records reach the page cache, before any sync or acknowledgement.
const SiteCrashAfterAppend = "store/crash-after-append"

// Planted bugs: fault sites that break the store on purpose, inert outside
// the simulator, so that its checkers are shown to catch each mistake.
const (
	// BugAckBeforeSync acknowledges SYNC_FLUSH puts before their sync.
	BugAckBeforeSync = "bug/ack-before-sync"
	// BugDispatchBeforeSync makes SYNC_FLUSH records visible to consumers
	// before their sync, so a power loss can take back what was read.
	BugDispatchBeforeSync = "bug/dispatch-before-sync"
	// BugRecoverySkipsCRC makes recovery trust record bodies and the record
	// CRC property, so a torn record can be served.
	BugRecoverySkipsCRC = "bug/recovery-skips-crc"
	// BugTruncateKeepsTail skips zeroing after a torn tail is cut, so stale
	// records beyond it can be found again by a later recovery.
	BugTruncateKeepsTail = "bug/truncate-keeps-tail"
)

// Message is what a put stores: RocketMQ's MessageExtBrokerInner. The store
// assigns the queue offset, physical offset and store time.
type Message struct {
	Topic   string
	QueueID int32
	Flag    int32
	Body    []byte
	// BodyCRC is message.BodyCRC(Body) when BodyCRCKnown, computed off the
	// loop by the caller; otherwise the store computes it.
	BodyCRC      int32
	BodyCRCKnown bool
	// Properties is the encoded properties field.
	Properties                []byte
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	// NoWait acknowledges a SYNC_FLUSH put without waiting for its sync
	// (the WAIT=false property).
	NoWait bool
}

// PutStatus is RocketMQ's PutMessageStatus.
type PutStatus int

const (
	PutOK PutStatus = iota
	FlushDiskTimeout
	ServiceNotAvailable
	CreateMappedFileFailed
	MessageIllegal
	PropertiesSizeExceeded
	UnknownError
)

var putStatusNames = [...]string{
	PutOK:                  "PUT_OK",
	FlushDiskTimeout:       "FLUSH_DISK_TIMEOUT",
	ServiceNotAvailable:    "SERVICE_NOT_AVAILABLE",
	CreateMappedFileFailed: "CREATE_MAPPED_FILE_FAILED",
	MessageIllegal:         "MESSAGE_ILLEGAL",
	PropertiesSizeExceeded: "PROPERTIES_SIZE_EXCEEDED",
	UnknownError:           "UNKNOWN_ERROR",
}

func (s PutStatus) String() string {
	if int(s) < len(putStatusNames) {
		return putStatusNames[s]
	}
	return fmt.Sprintf("PutStatus(%d)", int(s))
}

// PutResult reports a put. For a batch, offsets are those of the first
// record; RecordOffsets has every record's physical offset.
type PutResult struct {
	Status PutStatus
	// Err explains a status other than PutOK, for the response's remark.
	Err            error
	PhysOffset     int64
	WroteBytes     int
	QueueOffset    int64
	MsgNum         int
	StoreTimestamp int64
	RecordOffsets  []int64
}

// Open opens (creating if needed) the store under cfg's root and recovers
// it. It runs on the loop and blocks it for the duration of recovery.
func Open(env host.Env, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		env:             env,
		log:             env.Log.With("component", "store"),
		cfg:             cfg,
		cqs:             make(map[topicQueue]*consumeQueue),
		topicQueueTable: make(map[topicQueue]int64),
	}
	s.dirs = &dirs{fs: env.FS, synced: map[string]bool{}}
	if err := s.dirs.ensure(cfg.StorePathRootDir); err != nil {
		return nil, err
	}
	if locker, ok := env.FS.(host.Locker); ok {
		lock, err := locker.Lock(filepath.Join(cfg.StorePathRootDir, "lock"))
		if err != nil {
			return nil, fmt.Errorf("store: lock %s: %w", cfg.StorePathRootDir, err)
		}
		s.lock = lock
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if err := s.markRunning(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.refreshDiskUsage()
	s.startServices()
	return s, nil
}

// abortPath names the file that exists while the store runs: found at Open,
// it means the last run did not shut down cleanly.
func (s *Store) abortPath() string { return filepath.Join(s.cfg.StorePathRootDir, "abort") }

func (s *Store) markRunning() error {
	f, err := s.env.FS.Create(s.abortPath())
	if err != nil {
		return fmt.Errorf("store: create abort marker: %w", err)
	}
	f.Close()
	return s.env.FS.SyncDir(s.cfg.StorePathRootDir)
}

// tagsCodeOf is the consume-queue tags code of a record: Config.TagsCode's
// answer, or the hash of its TAGS property.
func (s *Store) tagsCodeOf(topic string, props []byte, storeTs int64) int64 {
	if s.cfg.TagsCode != nil {
		return s.cfg.TagsCode(topic, props, storeTs)
	}
	return DefaultTagsCode(props)
}

// DefaultTagsCode is the hash of the TAGS property, 0 without one.
func DefaultTagsCode(props []byte) int64 {
	tags, ok := message.LookupProperty(props, message.PropertyTags)
	if !ok {
		return 0
	}
	return message.TagsHashCode(string(tags))
}

// SetMessageArrivingListener registers f, called on the loop for every
// record as it becomes visible to consumers (the long-poll wake-up).
func (s *Store) SetMessageArrivingListener(f func(topic string, queueID int32, queueOffset, tagsCode int64)) {
	s.onArrive = f
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats { return s.stats }

// Config returns the store's configuration.
func (s *Store) Config() Config { return s.cfg }

// Put stores msgs (one message, or the members of one batch, all for the
// same topic and queue) contiguously, and calls done with the result: at
// once under ASYNC_FLUSH, after the covering sync under SYNC_FLUSH. A put
// that is refused writes nothing.
func (s *Store) Put(msgs []Message, done func(PutResult)) {
	res := s.put(msgs)
	if res.Status != PutOK {
		s.stats.PutRefused++
		done(res)
		return
	}
	if s.env.Faults.Fire(SiteCrashAfterAppend) {
		// A crash with the record in the page cache, unsynced and
		// unacknowledged: the window group commit must get right.
		panic(host.Crash{Site: SiteCrashAfterAppend})
	}
	if s.cfg.FlushDiskType == AsyncFlush {
		w := reservedPut{key: topicQueue{msgs[0].Topic, msgs[0].QueueID}, next: res.QueueOffset + int64(res.MsgNum),
			noUnit: isPreparedOrRollback(msgs[0].SysFlag), end: res.PhysOffset + int64(res.WroteBytes), res: res, done: done}
		if len(s.res.waiting) == 0 && (w.noUnit || s.reserveFor(w.key, w.next)) {
			s.dispatchUpTo(w.end)
			done(res)
			return
		}
		// Visible only once its offsets are durably reserved, and in log
		// order, so everything after it waits too.
		if !w.noUnit {
			s.reserveFor(w.key, w.next)
		}
		s.res.waiting = append(s.res.waiting, w)
		return
	}
	if msgs[0].NoWait || s.env.Faults.Fire(BugAckBeforeSync) {
		done(res)
		s.kickSync()
		return
	}
	if s.env.Faults.Fire(BugDispatchBeforeSync) {
		s.dispatchUpTo(s.cl.writeOffset())
	}
	s.waiters = append(s.waiters, flushWaiter{
		end:      res.PhysOffset + int64(res.WroteBytes),
		deadline: s.env.Clock.Mono() + s.cfg.SyncFlushTimeout,
		result:   res,
		done:     done,
	})
	s.armWatchdog()
	s.kickSync()
}

func refuse(status PutStatus, format string, args ...any) PutResult {
	return PutResult{Status: status, Err: fmt.Errorf(format, args...)}
}

func (s *Store) put(msgs []Message) PutResult {
	switch {
	case s.closed:
		return refuse(ServiceNotAvailable, "store: shut down")
	case s.fenced != nil:
		return refuse(ServiceNotAvailable, "store: refusing writes since a sync failed (%v); restart to recover", s.fenced)
	case len(msgs) == 0:
		return refuse(MessageIllegal, "store: empty put")
	}
	if reason := s.diskFullReason(); reason != "" {
		return refuse(ServiceNotAvailable, "%s", reason)
	}
	first := &msgs[0]
	key := topicQueue{first.Topic, first.QueueID}
	if n := len(first.Topic); n == 0 || n > message.MaxTopicBytesV2 {
		return refuse(MessageIllegal, "store: topic of %d bytes", n)
	}
	if first.QueueID < 0 {
		return refuse(MessageIllegal, "store: negative queue id %d", first.QueueID)
	}
	crcProp := 0
	if s.cfg.EnabledAppendPropCRC {
		crcProp = recordCRCPropertyLen + 1
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Topic != first.Topic || m.QueueID != first.QueueID {
			return refuse(MessageIllegal, "store: batch member %d is for %s-%d, the batch for %s-%d", i, m.Topic, m.QueueID, first.Topic, first.QueueID)
		}
		if len(m.Body) > s.cfg.MaxMessageSize {
			return refuse(MessageIllegal, "store: message body of %d bytes is over maxMessageSize %d", len(m.Body), s.cfg.MaxMessageSize)
		}
		if len(m.Properties)+crcProp > message.MaxPropertiesBytes {
			return refuse(PropertiesSizeExceeded, "store: properties of %d bytes are over the %d-byte limit", len(m.Properties), message.MaxPropertiesBytes-crcProp)
		}
		if !m.BornHost.IsValid() {
			return refuse(MessageIllegal, "store: message without a born host")
		}
	}

	// Store times never go backwards along the log, even if the wall clock
	// does: SEARCH_OFFSET_BY_TIMESTAMP's binary search depends on it.
	storeTs := max(s.env.Clock.Now().UnixMilli(), s.lastStoreTs)
	noUnit := isPreparedOrRollback(first.SysFlag)
	queueOffset := s.nextQueueOffset(key)
	recs := s.recordsScratch[:0]
	for i := range msgs {
		m := &msgs[i]
		crc := m.BodyCRC
		if !m.BodyCRCKnown {
			crc = message.BodyCRC(m.Body)
		}
		qo := queueOffset + int64(i)
		if noUnit {
			qo = 0
		}
		recs = append(recs, message.Record{
			BodyCRC:                   crc,
			QueueID:                   m.QueueID,
			Flag:                      m.Flag,
			QueueOffset:               qo,
			SysFlag:                   m.SysFlag | message.HostFlags(m.BornHost, s.cfg.StoreHost),
			BornTimestamp:             m.BornTimestamp,
			BornHost:                  m.BornHost,
			StoreTimestamp:            storeTs,
			StoreHost:                 s.cfg.StoreHost,
			ReconsumeTimes:            m.ReconsumeTimes,
			PreparedTransactionOffset: m.PreparedTransactionOffset,
			Body:                      m.Body,
			Topic:                     m.Topic,
			Properties:                m.Properties,
		})
	}
	s.recordsScratch = recs[:0]
	segsBefore := len(s.cl.segs.segs)
	phys, sizes, total, err := s.cl.appendRecords(recs, s.sizesScratch, s.cfg.EnabledAppendPropCRC)
	s.sizesScratch = sizes
	defer clear(recs) // drop references to the callers' bodies
	if len(s.cl.segs.segs) != segsBefore {
		s.stats.SegmentsCreated++
		s.stats.SegmentsPrepared = s.cl.segs.prepared
		s.refreshDiskUsage()
	}
	if last := s.cl.segs.last(); s.cfg.WarmMappedFile && last != nil && last.wrote >= last.size/2 {
		s.cl.segs.prepareSpare()
	}
	if err != nil {
		switch {
		case errors.Is(err, host.ErrNoSpace):
			s.log.Error("store: disk full, cannot create a commit-log segment", "err", err)
			return refuse(ServiceNotAvailable, "store: disk full: %v", err)
		case errors.Is(err, errNoRoom):
			return refuse(MessageIllegal, "store: %d messages do not fit in one commit-log segment", len(msgs))
		case errors.Is(err, errCreateSegment):
			s.log.Error("store: cannot create a commit-log segment", "err", err)
			return refuse(CreateMappedFileFailed, "%v", err)
		}
		s.log.Error("store: append failed", "err", err)
		return refuse(UnknownError, "%v", err)
	}

	s.lastStoreTs = storeTs
	res := PutResult{
		Status:         PutOK,
		PhysOffset:     phys,
		WroteBytes:     total,
		QueueOffset:    queueOffset,
		MsgNum:         len(msgs),
		StoreTimestamp: storeTs,
		RecordOffsets:  make([]int64, len(msgs)),
	}
	if noUnit {
		res.QueueOffset = 0
	}
	at := phys
	for i := range msgs {
		res.RecordOffsets[i] = at
		s.pending = append(s.pending, dispatchRequest{
			topic:       first.Topic,
			queueID:     first.QueueID,
			queueOffset: queueOffset + int64(i),
			phys:        at,
			size:        int32(sizes[i]),
			tagsCode:    s.tagsCodeOf(first.Topic, recs[i].Properties, storeTs),
			storeTs:     storeTs,
			noUnit:      noUnit,
		})
		at += int64(sizes[i])
	}
	if !noUnit {
		s.topicQueueTable[key] = queueOffset + int64(len(msgs))
	}
	s.stats.PutMessages += uint64(len(msgs))
	s.stats.PutBytes += uint64(total)
	return res
}

func isPreparedOrRollback(sysFlag int32) bool {
	t := message.TransactionType(sysFlag)
	return t == message.SysFlagTransactionPrepared || t == message.SysFlagTransactionRollback
}

func (s *Store) nextQueueOffset(key topicQueue) int64 {
	if v, ok := s.topicQueueTable[key]; ok {
		return v
	}
	if cq := s.cqs[key]; cq != nil {
		return cq.maxOffset()
	}
	return 0
}

// dispatchUpTo indexes every pending record that ends at or before limit
// and tells the arrival listener.
func (s *Store) dispatchUpTo(limit int64) {
	if s.fenced != nil {
		// Dispatch stopped at the record that could not be indexed; the
		// checkpoint must never claim more (recovery re-indexes from it).
		return
	}
	i := 0
	for ; i < len(s.pending); i++ {
		d := &s.pending[i]
		if d.phys+int64(d.size) > limit {
			break
		}
		if !d.noUnit {
			cq, err := s.consumeQueue(d.topic, d.queueID, true)
			if err == nil {
				err = s.putUnit(cq, d.queueOffset, d.phys, d.size, d.tagsCode)
			}
			if err != nil {
				// The record is in the commit log, unindexed: recovery
				// will index it, a running store cannot. Stop writing,
				// and stop dispatch here, so that no checkpoint says this
				// record was indexed. (Found by the simulator: an EIO on
				// a new consume-queue directory once let a checkpoint
				// skip a record, which recovery then never indexed.)
				s.fence(fmt.Errorf("store: index %s-%d offset %d: %w", d.topic, d.queueID, d.queueOffset, err))
				s.dispatchedPhys = d.phys
				s.pending = s.pending[:0]
				return
			}
		}
		s.dispatchedTs = d.storeTs
	}
	if i == len(s.pending) {
		s.dispatchedPhys = max(s.dispatchedPhys, limit)
	} else {
		s.dispatchedPhys = s.pending[i].phys
	}
	if i > 0 {
		for j := range i {
			d := s.pending[j]
			if !d.noUnit && s.onArrive != nil {
				s.onArrive(d.topic, d.queueID, d.queueOffset, d.tagsCode)
			}
		}
		n := copy(s.pending, s.pending[i:])
		clear(s.pending[n:])
		s.pending = s.pending[:n]
	}
}

func (s *Store) putUnit(cq *consumeQueue, queueOffset, phys int64, size int32, tagsCode int64) error {
	wasDirty := cq.dirty
	if max := cq.maxOffset(); queueOffset > max && cq.segs.last() != nil {
		s.log.Error("store: consume queue gap: records were lost; the offsets between are skipped",
			"topic", cq.topic, "queue", cq.queueID, "from", max, "to", queueOffset)
	}
	if err := cq.put(queueOffset, phys, size, tagsCode); err != nil {
		return err
	}
	if cq.dirty && !wasDirty {
		s.cqDirty = append(s.cqDirty, cq)
	}
	return nil
}

// consumeQueue returns the queue's index, opening or (with create) making it.
func (s *Store) consumeQueue(topic string, queueID int32, create bool) (*consumeQueue, error) {
	key := topicQueue{topic, queueID}
	if cq := s.cqs[key]; cq != nil || !create {
		return cq, nil
	}
	topicDir := filepath.Join(s.cfg.consumeQueueDir(), topic)
	if err := s.dirs.ensure(topicDir); err != nil {
		return nil, err
	}
	dir := filepath.Join(topicDir, fmt.Sprint(queueID))
	cq, err := openConsumeQueue(s.env.FS, s.dirs, s.log, dir, topic, queueID, s.cfg.MappedFileSizeConsumeQueue, true)
	if err != nil {
		return nil, err
	}
	s.cqs[key] = cq
	s.cqList = append(s.cqList, cq)
	return cq, nil
}

// kickSync starts a commit-log sync unless one is running or nothing is
// unsynced. The sync covers everything written when it starts: with
// SYNC_FLUSH that is every put waiting at that moment (group commit), and
// puts that arrive meanwhile wait for the next one, which starts as soon as
// this one ends.
func (s *Store) kickSync() {
	if s.syncing || s.closed || s.fenced != nil {
		return
	}
	from, to := s.cl.flushed, s.cl.writeOffset()
	if from >= to {
		return
	}
	if d := s.cfg.GroupCommitInterval; d > 0 {
		// Hold the sync back until d after the last one began, so that
		// it covers every put that arrives meanwhile.
		now := s.env.Clock.Mono()
		if wait := s.lastSyncStart + d - now; wait > 0 {
			if s.groupTimer == nil {
				s.groupTimer = s.env.Clock.AfterFunc(wait, func() {
					s.groupTimer = nil
					s.kickSync()
				})
			}
			return
		}
		s.lastSyncStart = now
	}
	s.syncing = true
	s.stats.CommitLogSyncs++
	storeTs := s.lastStoreTs
	s.cl.syncRange(from, to, func(err error) {
		s.syncing = false
		if s.closed {
			return
		}
		if err != nil {
			s.fence(err)
			return
		}
		s.cl.flushed = max(s.cl.flushed, to)
		s.flushedStoreTs = storeTs
		if s.cfg.FlushDiskType == SyncFlush {
			s.dispatchUpTo(to)
			s.completeWaiters(to)
			if len(s.waiters) > 0 || s.cl.flushed < s.cl.writeOffset() {
				s.kickSync()
			}
		}
	})
}

// completeWaiters acknowledges the puts whose records end at or before
// flushed. Waiters are in log order, so they form a prefix.
func (s *Store) completeWaiters(flushed int64) {
	i := 0
	for ; i < len(s.waiters) && s.waiters[i].end <= flushed; i++ {
	}
	done := s.waiters[:i:i]
	s.waiters = s.waiters[i:]
	s.stats.GroupCommitted += uint64(len(done))
	for _, w := range done {
		w.done(w.result)
	}
}

// armWatchdog makes sure a timer will answer FLUSH_DISK_TIMEOUT to the
// oldest waiter once its deadline passes.
func (s *Store) armWatchdog() {
	if s.watchdog != nil || len(s.waiters) == 0 {
		return
	}
	wait := s.waiters[0].deadline - s.env.Clock.Mono()
	s.watchdog = s.env.Clock.AfterFunc(wait, func() {
		s.watchdog = nil
		now := s.env.Clock.Mono()
		i := 0
		for ; i < len(s.waiters) && s.waiters[i].deadline <= now; i++ {
		}
		late := s.waiters[:i:i]
		s.waiters = s.waiters[i:]
		for _, w := range late {
			// The record is stored; only its durability is unconfirmed,
			// which is exactly what FLUSH_DISK_TIMEOUT tells the producer.
			s.stats.FlushTimeouts++
			w.result.Status = FlushDiskTimeout
			w.result.Err = fmt.Errorf("store: not flushed within syncFlushTimeout %v", s.cfg.SyncFlushTimeout)
			w.done(w.result)
		}
		s.armWatchdog()
	})
}

// fence stops all writes after a failed sync. After fsync fails, what the
// page cache still holds and what reached the disk are unknown (the kernel
// may have dropped the dirty pages), so the only safe course is to stop,
// answer the waiting puts as stored-but-unflushed, and let a restart's
// recovery establish what survived.
func (s *Store) fence(err error) {
	if s.fenced != nil {
		return
	}
	s.fenced = err
	s.log.Error("store: fenced: refusing writes until restart", "err", err)
	waiters := s.waiters
	s.waiters = nil
	for _, w := range waiters {
		w.result.Status = FlushDiskTimeout
		w.result.Err = fmt.Errorf("store: sync failed: %w", err)
		w.done(w.result)
	}
	if s.res != nil {
		// Stored, not yet visible: recovery will index them.
		rw := s.res.waiting
		s.res.waiting = nil
		for _, w := range rw {
			w.res.Status = FlushDiskTimeout
			w.res.Err = fmt.Errorf("store: %w", err)
			w.done(w.res)
		}
	}
}

// Fenced reports why the store refuses writes, or nil.
func (s *Store) Fenced() error { return s.fenced }

func (s *Store) startServices() {
	every := func(d time.Duration, f func()) {
		var tick func()
		idx := len(s.timers)
		s.timers = append(s.timers, nil)
		tick = func() {
			if s.closed {
				return
			}
			f()
			s.timers[idx] = s.env.Clock.AfterFunc(d, tick)
		}
		s.timers[idx] = s.env.Clock.AfterFunc(d, tick)
	}
	if s.cfg.FlushDiskType == AsyncFlush {
		s.lastThoroughAt = s.env.Clock.Mono()
		every(s.cfg.FlushIntervalCommitLog, s.flushCommitLogAsync)
	}
	every(s.cfg.FlushIntervalConsumeQueue, s.flushConsumeQueues)
	every(s.cfg.CleanResourceInterval, s.cleanResources)
}

// flushCommitLogAsync is ASYNC_FLUSH's background flush: sync once enough
// pages are dirty, or everything once per thorough interval.
func (s *Store) flushCommitLogAsync() {
	dirty := s.cl.writeOffset() - s.cl.flushed
	now := s.env.Clock.Mono()
	thorough := now-s.lastThoroughAt >= s.cfg.FlushCommitLogThoroughInterval
	if dirty <= 0 || (!thorough && dirty < int64(s.cfg.FlushCommitLogLeastPages)*pageSize) {
		return
	}
	if thorough {
		s.lastThoroughAt = now
	}
	s.kickSync()
}

const pageSize = 4096

// flushConsumeQueues syncs every consume queue written since the last round,
// then records in the checkpoint how far consume queues and commit log are
// durable.
func (s *Store) flushConsumeQueues() {
	if s.logicsFlushing {
		return
	}
	target, targetTs := s.dispatchedPhys, s.dispatchedTs
	dirty := s.cqDirty
	s.cqDirty = nil
	var segs []*segment
	for _, cq := range dirty {
		cq.dirty = false
		for i := len(cq.segs.segs) - 1; i >= 0; i-- {
			seg := cq.segs.segs[i]
			if seg.synced >= seg.wrote {
				break
			}
			segs = append(segs, seg)
		}
	}
	s.logicsFlushing = true
	finish := func(err error) {
		s.logicsFlushing = false
		if s.closed {
			return
		}
		if err != nil {
			s.fence(fmt.Errorf("store: sync consume queue: %w", err))
			return
		}
		s.logicsPhys = max(s.logicsPhys, target)
		s.logicsStoreTs = targetTs
		s.writeCheckpoint()
	}
	if len(segs) == 0 {
		finish(nil)
		return
	}
	pending := len(segs)
	var first error
	for _, seg := range segs {
		wrote := seg.wrote
		seg.file.SyncAsync(func(err error) {
			if err == nil {
				seg.synced = max(seg.synced, wrote)
			} else if first == nil {
				first = err
			}
			if pending--; pending == 0 {
				finish(first)
			}
		})
	}
}

func (s *Store) currentCheckpoint() checkpoint {
	return checkpoint{
		physicMsgTimestamp: s.flushedStoreTs,
		logicsMsgTimestamp: s.logicsStoreTs,
		flushedPhysOffset:  s.cl.flushed,
		logicsPhysOffset:   min(s.logicsPhys, s.cl.writeOffset()),
		recordCRCSince:     s.recordCRCSince,
	}
}

func (s *Store) writeCheckpoint() {
	cp := s.currentCheckpoint()
	if cp == s.cp.last {
		return
	}
	s.cp.write(cp, func(err error) {
		if err != nil && !s.closed {
			s.log.Warn("store: checkpoint not written", "err", err)
		}
	})
}

// Close flushes everything, writes the final checkpoint and releases the
// files. Puts still waiting for a sync are acknowledged by the final one.
func (s *Store) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	for _, t := range s.timers {
		if t != nil {
			t.Stop()
		}
	}
	if s.watchdog != nil {
		s.watchdog.Stop()
	}
	if s.groupTimer != nil {
		s.groupTimer.Stop()
	}
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if s.fenced == nil {
		if err := s.cl.syncAll(); err != nil {
			keep(err)
			s.closed = false // let fence answer the waiters
			s.fence(err)
			s.closed = true
		}
	}
	if s.fenced == nil {
		s.dispatchUpTo(s.cl.writeOffset())
		s.completeWaiters(s.cl.flushed)
		// Everything is synced: a clean shutdown loses nothing, so puts
		// waiting for a reservation are safe to acknowledge.
		rw := s.res.waiting
		s.res.waiting = nil
		for _, w := range rw {
			w.done(w.res)
		}
		for _, cq := range s.cqList {
			for _, seg := range cq.segs.segs {
				if seg.synced < seg.wrote {
					if err := seg.file.Sync(); err != nil {
						keep(fmt.Errorf("store: sync consume queue: %w", err))
					}
					seg.synced = seg.wrote
				}
			}
		}
		if firstErr == nil {
			s.logicsPhys = s.dispatchedPhys
			s.logicsStoreTs = s.dispatchedTs
			s.flushedStoreTs = s.lastStoreTs
			keep(s.cp.writeSync(s.currentCheckpoint()))
		}
		if firstErr == nil {
			if err := s.env.FS.Remove(s.abortPath()); err != nil {
				keep(err)
			} else {
				keep(s.env.FS.SyncDir(s.cfg.StorePathRootDir))
			}
		}
	}
	s.closeFiles()
	return firstErr
}

func (s *Store) closeFiles() {
	if s.cl != nil {
		s.cl.segs.closeAll()
	}
	for _, cq := range s.cqList {
		cq.segs.closeAll()
	}
	if s.cp != nil {
		s.cp.file.Close()
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

// RecoveryStats describes what the last Open's recovery found.
type RecoveryStats struct {
	// Unclean: the abort marker was present, so the last run crashed.
	Unclean bool
	// TruncatedBytes is how much of the commit log a torn or corrupt tail
	// cost; TornTail reports that one was cut.
	TruncatedBytes int64
	TornTail       bool
	// Quarantined counts corrupt ranges found inside synced data.
	Quarantined int
	// CommittedTransactions are the PreparedTransactionOffsets (the half
	// messages' commit-log offsets) of the committed transactional records
	// recovery re-dispatched: the records a crash may have separated from
	// the op records that mark their halves resolved.
	CommittedTransactions []int64
}

// Recovery reports what recovery found.
func (s *Store) Recovery() RecoveryStats { return s.recovery }

// UnsyncedBytes is how much of the commit log is written but not known
// durable: what a power loss now could take.
func (s *Store) UnsyncedBytes() int64 { return s.cl.writeOffset() - s.cl.flushed }

// PendingAcks is the number of SYNC_FLUSH puts stored and waiting for their
// sync: a crash now falls between append and acknowledgement.
func (s *Store) PendingAcks() int { return len(s.waiters) }

// Topics lists the topics that have consume queues, sorted.
func (s *Store) Topics() []string {
	var out []string
	for _, cq := range s.cqList {
		if !slices.Contains(out, cq.topic) {
			out = append(out, cq.topic)
		}
	}
	slices.Sort(out)
	return out
}
