package broker

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
	"github.com/thrustmq/thrust/broker/store"
)

// Transactional messages, RocketMQ's two-phase send:
//
//  1. A producer sends a half message (TRAN_MSG=true). It is stored in
//     RMQ_SYS_TRANS_HALF_TOPIC queue 0 with its destination in REAL_TOPIC
//     and REAL_QID, where no consumer sees it.
//  2. The producer runs its local transaction and sends END_TRANSACTION:
//     commit stores the message in its real queue; rollback does not.
//     Either way an op record in RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0 (its
//     body the half's queue offset) marks the half resolved.
//  3. A half left unresolved past transactionTimeOut is checked: the
//     broker asks a producer of its group (CHECK_TRANSACTION_STATE), whose
//     answer is another END_TRANSACTION; after transactionCheckMax checks
//     it is discarded.
//
// Where Thrust is stricter than RocketMQ: a half is committed at most once.
// A late END_TRANSACTION for a resolved half (a check answered after the
// producer's own commit arrived, a retried check) is acknowledged and
// ignored, never stored again. The committed record and its op record are
// appended back to back, and the committed record names its half
// (PreparedTransactionOffset), so a crash that keeps the first and loses
// the second leaves a committed record in the tail recovery re-reads
// (store.RecoveryStats.CommittedTransactions): the half is known resolved
// at restart, and its op record is written then.

// transactionSysGroup is the group whose offsets in the half and op topics
// say how far every half is resolved: RocketMQ's CID_RMQ_SYS_TRANS.
const transactionSysGroup = "CID_RMQ_SYS_TRANS"

// Values of END_TRANSACTION's commitOrRollback.
const (
	transactionUnknown  = 0
	transactionCommit   = message.SysFlagTransactionCommit
	transactionRollback = message.SysFlagTransactionRollback
)

// halfState is one unresolved half message.
type halfState struct {
	offset  int64 // in the half queue
	phys    int64 // commit-log offset
	storeTs int64 // ms
	group   string
	checks  int
}

// transactionService keeps the unresolved halves in memory, rebuilt at
// start from the half and op queues, and checks them.
type transactionService struct {
	b *Broker
	// pending are the unresolved halves by half-queue offset; resolved
	// the halves at or above halfBase known resolved (ops read or
	// written), so that a late op or a rescan does not revive them.
	pending  map[int64]*halfState
	resolved map[int64]bool
	// halfBase: every half below it is resolved. opBase: every op below
	// it refers to a half below halfBase. ops lists, from opBase, the half
	// offset each op resolved. Both bases are committed as the offsets of
	// transactionSysGroup, so that a restart reads only what may matter.
	halfBase, opBase int64
	ops              []int64
}

func newTransactionService(b *Broker) *transactionService {
	return &transactionService{b: b, pending: map[int64]*halfState{}, resolved: map[int64]bool{}}
}

// recover rebuilds the pending halves: the ops from opBase, the committed
// records recovery found (whose ops a crash may have lost: written now),
// then the halves from halfBase that none of them resolves.
func (ts *transactionService) recover(rec store.RecoveryStats) error {
	st := ts.b.store
	ts.halfBase = ts.base(message.TransHalfTopic)
	ts.opBase = ts.base(message.TransOpHalfTopic)
	err := ts.scan(message.TransOpHalfTopic, ts.opBase, func(_ int64, r *message.Record) {
		if off, err := strconv.ParseInt(string(r.Body), 10, 64); err == nil {
			ts.ops = append(ts.ops, off)
			ts.resolved[off] = true
		} else {
			ts.ops = append(ts.ops, -1)
		}
	})
	if err != nil {
		return err
	}
	var repair []int64
	for _, phys := range rec.CommittedTransactions {
		raw, err := st.LookMessageByOffset(phys)
		if err != nil {
			ts.b.log.Warn("broker: a committed transactional message names a half that cannot be read", "halfOffset", phys, "err", err)
			continue
		}
		half, _, err := message.DecodeHeader(raw)
		if err != nil || half.Topic != message.TransHalfTopic {
			continue
		}
		if !ts.resolved[half.QueueOffset] {
			ts.resolved[half.QueueOffset] = true
			repair = append(repair, half.QueueOffset)
		}
	}
	err = ts.scan(message.TransHalfTopic, ts.halfBase, func(off int64, r *message.Record) {
		if ts.resolved[off] {
			return
		}
		group, _ := message.LookupProperty(r.Properties, message.PropertyProducerGroup)
		ts.pending[off] = &halfState{offset: off, phys: r.PhysicalOffset, storeTs: r.StoreTimestamp, group: string(group)}
	})
	if err != nil {
		return err
	}
	for _, off := range repair {
		ts.b.log.Info("broker: writing the op record a crash separated from its committed transactional message", "halfQueueOffset", off)
		ts.writeOp(off, "c", nil)
	}
	ts.advance()
	if len(ts.pending) > 0 {
		ts.b.log.Info("broker: unresolved transactional half messages", "count", len(ts.pending), "from", ts.halfBase)
	}
	return nil
}

// base is transactionSysGroup's committed offset in topic's queue 0, or
// the queue's minimum.
func (ts *transactionService) base(topic string) int64 {
	lo := ts.b.store.MinOffsetInQueue(topic, 0)
	if off, ok := ts.b.offsets.query(transactionSysGroup, topic, 0); ok && off > lo {
		return off
	}
	return lo
}

// scan calls f for every record of topic's queue 0 from offset on.
func (ts *transactionService) scan(topic string, from int64, f func(offset int64, r *message.Record)) error {
	st := ts.b.store
	for off := from; off < st.MaxOffsetInQueue(topic, 0); {
		res := st.GetMessage(topic, 0, off, 32, store.MatchAll{})
		if res.Status != store.Found {
			if res.NextBeginOffset <= off {
				return nil
			}
			off = res.NextBeginOffset
			continue
		}
		for _, rg := range res.Ranges {
			buf := rg.View
			if buf == nil {
				buf = make([]byte, rg.N)
				if _, err := rg.File.ReadAt(buf, rg.Off); err != nil {
					return fmt.Errorf("broker: read %s: %w", topic, err)
				}
			}
			for len(buf) > 0 {
				r, n, err := message.DecodeHeader(buf)
				if err != nil {
					return fmt.Errorf("broker: decode %s at %d: %w", topic, off, err)
				}
				f(r.QueueOffset, &r)
				buf = buf[n:]
			}
		}
		off = res.NextBeginOffset
	}
	return nil
}

// halfStored records a half message the store accepted.
func (ts *transactionService) halfStored(offset, phys, storeTs int64, group string) {
	if !ts.resolved[offset] && offset >= ts.halfBase {
		ts.pending[offset] = &halfState{offset: offset, phys: phys, storeTs: storeTs, group: group}
	}
}

// resolve marks a half resolved. It reports false if it already was.
func (ts *transactionService) resolve(offset int64) bool {
	if offset < ts.halfBase || ts.resolved[offset] {
		return false
	}
	ts.resolved[offset] = true
	delete(ts.pending, offset)
	return true
}

// writeOp stores the op record that marks the half at offset resolved
// (decision "c" commit, "r" rollback, "x" discarded).
func (ts *transactionService) writeOp(offset int64, decision string, done func(store.PutResult)) {
	props, _ := message.AppendProperty(nil, message.PropertyTags, "d")
	props, _ = message.AppendProperty(props, "THRUST_TRAN_DECISION", decision)
	m := store.Message{
		Topic:         message.TransOpHalfTopic,
		QueueID:       0,
		Body:          []byte(strconv.FormatInt(offset, 10)),
		Properties:    props,
		BornTimestamp: ts.b.env.Clock.Now().UnixMilli(),
		BornHost:      ts.b.cfg.Store.StoreHost,
		NoWait:        done == nil,
	}
	ts.b.store.Put([]store.Message{m}, func(res store.PutResult) {
		if res.Status == store.PutOK || res.Status == store.FlushDiskTimeout {
			ts.ops = append(ts.ops, offset)
			ts.advance()
		} else {
			ts.b.log.Warn("broker: op record not stored; the half will be checked again after a restart", "halfQueueOffset", offset, "status", res.Status, "err", res.Err)
		}
		if done != nil {
			done(res)
		}
	})
}

// advance moves halfBase past resolved halves and opBase past ops that
// only refer to halves below it, and commits both.
func (ts *transactionService) advance() {
	top := ts.b.store.MaxOffsetInQueue(message.TransHalfTopic, 0)
	base := top
	for off := range ts.pending {
		base = min(base, off)
	}
	if base <= ts.halfBase {
		return
	}
	for off := range ts.resolved {
		if off < base {
			delete(ts.resolved, off)
		}
	}
	ts.halfBase = base
	n := 0
	for n < len(ts.ops) && ts.ops[n] < base {
		n++
	}
	ts.ops = ts.ops[n:]
	ts.opBase += int64(n)
	ts.b.offsets.commit(transactionSysGroup, message.TransHalfTopic, 0, ts.halfBase)
	ts.b.offsets.commit(transactionSysGroup, message.TransOpHalfTopic, 0, ts.opBase)
}

// endTransactionHeader is EndTransactionRequestHeader.
type endTransactionHeader struct {
	producerGroup        string
	tranStateTableOffset int64
	commitLogOffset      int64
	commitOrRollback     int32
	fromTransactionCheck bool
	msgID                string
}

// handleEndTransaction is END_TRANSACTION: commit or roll back a half.
func (b *Broker) handleEndTransaction(ch *remoting.Channel, req *remoting.Command) {
	r := fieldReader{f: req.ExtFields}
	h := endTransactionHeader{
		producerGroup:        r.str("producerGroup"),
		tranStateTableOffset: r.i64("tranStateTableOffset"),
		commitLogOffset:      r.i64("commitLogOffset"),
		commitOrRollback:     r.i32("commitOrRollback"),
		fromTransactionCheck: r.optBool("fromTransactionCheck"),
		msgID:                r.optStr("msgId"),
	}
	if r.err != nil {
		respondError(ch, req, remoting.SystemError, r.err.Error())
		return
	}
	if !isWriteable(b.cfg.BrokerPermission) {
		respondError(ch, req, remoting.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden", b.cfg.BrokerAddr()))
		return
	}
	switch h.commitOrRollback {
	case transactionCommit, transactionRollback:
	default:
		// Unknown (0) or nonsense: as RocketMQ, no answer; the half
		// stays pending and is checked again.
		b.log.Info("broker: END_TRANSACTION left the transaction open", "producerGroup", h.producerGroup,
			"msgId", h.msgID, "commitOrRollback", h.commitOrRollback, "fromCheck", h.fromTransactionCheck)
		return
	}
	raw, err := b.store.LookMessageByOffset(h.commitLogOffset)
	if err != nil {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("find prepared transaction message failed: %v", err))
		return
	}
	half, _, err := message.Decode(raw)
	if err != nil {
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("prepared transaction message does not decode: %v", err))
		return
	}
	group, _ := message.LookupProperty(half.Properties, message.PropertyProducerGroup)
	switch {
	case half.Topic != message.TransHalfTopic:
		respondError(ch, req, remoting.SystemError, fmt.Sprintf("the message at commitLogOffset %d is not a prepared transaction message", h.commitLogOffset))
		return
	case string(group) != h.producerGroup:
		respondError(ch, req, remoting.SystemError, "the producer group wrong")
		return
	case half.QueueOffset != h.tranStateTableOffset:
		respondError(ch, req, remoting.SystemError, "the transaction state table offset wrong")
		return
	}
	tx := b.tx
	if !tx.resolve(half.QueueOffset) {
		// Already committed or rolled back: the first decision stands.
		ch.Respond(req, remoting.NewResponse(req, remoting.Success, ""))
		return
	}
	if h.commitOrRollback == transactionRollback {
		tx.writeOp(half.QueueOffset, "r", func(res store.PutResult) { b.respondEnd(ch, req, res) })
		return
	}
	m, err := committedMessage(&half)
	if err != nil {
		respondError(ch, req, remoting.SystemError, err.Error())
		return
	}
	// A refusal comes back inside Put, before anything is appended; any
	// other verdict may come later (after the sync, under SYNC_FLUSH).
	var (
		ran, later bool
		result     store.PutResult
	)
	b.store.Put([]store.Message{m}, func(res store.PutResult) {
		ran, result = true, res
		if later {
			b.respondEnd(ch, req, res)
		}
	})
	if ran && result.Status != store.PutOK && result.Status != store.FlushDiskTimeout {
		// Nothing stored: the half is pending again, for a retry or a check.
		delete(tx.resolved, half.QueueOffset)
		tx.pending[half.QueueOffset] = &halfState{offset: half.QueueOffset, phys: half.PhysicalOffset, storeTs: half.StoreTimestamp, group: h.producerGroup}
		b.respondEnd(ch, req, result)
		return
	}
	// The op record goes right behind the committed record, in the same
	// loop event, so that no sync or checkpoint can fall between them.
	tx.writeOp(half.QueueOffset, "c", nil)
	if ran {
		b.respondEnd(ch, req, result)
		return
	}
	later = true
}

func (b *Broker) respondEnd(ch *remoting.Channel, req *remoting.Command, res store.PutResult) {
	code, remark := putResponseCode(res)
	ch.Respond(req, remoting.NewResponse(req, code, remark))
}

// committedMessage rebuilds a half for its real queue, transaction type
// COMMIT, naming its half (PreparedTransactionOffset).
func committedMessage(half *message.Record) (store.Message, error) {
	props := message.ParseProperties(string(half.Properties))
	topic, _ := props.Get(message.PropertyRealTopic)
	qidStr, _ := props.Get(message.PropertyRealQueueID)
	qid, err := strconv.Atoi(qidStr)
	if message.ValidateTopic(topic) != nil || err != nil || qid < 0 {
		return store.Message{}, fmt.Errorf("prepared transaction message without a valid real topic and queue (%q, %q)", topic, qidStr)
	}
	props.Delete(message.PropertyRealTopic)
	props.Delete(message.PropertyRealQueueID)
	props.Delete(message.PropertyTransactionCheckTimes)
	props.Delete(store.RecordCRCProperty)
	props.Set(message.PropertyTransactionPreparedQueueOffset, strconv.FormatInt(half.QueueOffset, 10))
	enc, err := message.AppendProperties(nil, props)
	if err != nil {
		return store.Message{}, err
	}
	return store.Message{
		Topic:                     topic,
		QueueID:                   int32(qid),
		Flag:                      half.Flag,
		Body:                      append([]byte(nil), half.Body...),
		Properties:                enc,
		SysFlag:                   message.WithTransactionType(half.SysFlag&^(message.SysFlagBornHostV6|message.SysFlagStoreHostV6), message.SysFlagTransactionCommit),
		BornTimestamp:             half.BornTimestamp,
		BornHost:                  half.BornHost,
		ReconsumeTimes:            half.ReconsumeTimes,
		PreparedTransactionOffset: half.PhysicalOffset,
		// Nobody waits for this put beyond the END_TRANSACTION answer,
		// which follows the store's verdict either way.
	}, nil
}

// check runs one round of transaction checks: every half older than
// transactionTimeOut is checked with a producer of its group, or, past
// transactionCheckMax checks, discarded.
func (ts *transactionService) check() {
	b := ts.b
	now := b.env.Clock.Now().UnixMilli()
	halves := make([]*halfState, 0, len(ts.pending))
	for _, h := range ts.pending {
		halves = append(halves, h)
	}
	slices.SortFunc(halves, func(x, y *halfState) int { return cmp.Compare(x.offset, y.offset) })
	for _, h := range halves {
		if now-h.storeTs < b.cfg.TransactionTimeout.Milliseconds() {
			continue
		}
		if h.checks >= b.cfg.TransactionCheckMax {
			if ts.resolve(h.offset) {
				b.log.Warn("broker: transactional half message checked too often; discarding it",
					"halfQueueOffset", h.offset, "producerGroup", h.group, "checks", h.checks)
				ts.writeOp(h.offset, "x", nil)
			}
			continue
		}
		ch := b.clients.producerChannel(h.group)
		if ch == nil {
			continue // no producer of the group is connected: next round
		}
		req, err := ts.checkRequest(h)
		if err != nil {
			b.log.Warn("broker: cannot build a transaction check", "halfQueueOffset", h.offset, "err", err)
			continue
		}
		h.checks++
		if err := ch.InvokeOneway(req); err != nil {
			b.log.Debug("broker: transaction check not sent", "producerGroup", h.group, "err", err)
		}
	}
}

// checkRequest builds CHECK_TRANSACTION_STATE for a half: its offsets in
// the header, and the half as its real message in the body, as the
// producer's listener expects it.
func (ts *transactionService) checkRequest(h *halfState) (*remoting.Command, error) {
	raw, err := ts.b.store.LookMessageByOffset(h.phys)
	if err != nil {
		return nil, err
	}
	r, _, err := message.Decode(raw)
	if err != nil {
		return nil, err
	}
	props := message.ParseProperties(string(r.Properties))
	topic, _ := props.Get(message.PropertyRealTopic)
	qidStr, _ := props.Get(message.PropertyRealQueueID)
	qid, err := strconv.Atoi(qidStr)
	if message.ValidateTopic(topic) != nil || err != nil {
		return nil, fmt.Errorf("half without a valid real topic and queue (%q, %q)", topic, qidStr)
	}
	props.Delete(store.RecordCRCProperty)
	props.Set(message.PropertyTransactionCheckTimes, strconv.Itoa(h.checks+1))
	uniq, _ := props.Get(message.PropertyUniqKey)
	txID, ok := props.Get(message.PropertyTransactionID)
	if !ok {
		txID = uniq
	}
	enc, err := message.AppendProperties(nil, props)
	if err != nil {
		return nil, err
	}
	r.Topic, r.QueueID, r.Properties = topic, int32(qid), enc
	body := make([]byte, message.EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag))
	if _, err := message.Encode(body, &r); err != nil {
		return nil, err
	}
	req := remoting.NewRequest(remoting.CheckTransactionState,
		remoting.IntField("tranStateTableOffset", h.offset),
		remoting.IntField("commitLogOffset", h.phys),
		remoting.StrField("msgId", uniq),
		remoting.StrField("transactionId", txID),
		remoting.StrField("offsetMsgId", message.OffsetMsgID(r.StoreHost, h.phys)),
		remoting.StrField("topic", topic),
		remoting.StrField("bname", ts.b.cfg.BrokerName),
	)
	req.Body = body
	return req, nil
}
