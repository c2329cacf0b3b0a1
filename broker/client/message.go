package client

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/thrustmq/thrust/broker/message"
)

// MessageQueue names one queue: a topic's queue QueueID on the broker group
// BrokerName. It is a comparable value; lists of queues are kept sorted by
// (Topic, BrokerName, QueueID), the order RocketMQ's rebalance uses.
type MessageQueue struct {
	Topic      string
	BrokerName string
	QueueID    int
}

// String formats q as "topic@broker#id" for logs.
func (q MessageQueue) String() string {
	return q.Topic + "@" + q.BrokerName + "#" + strconv.Itoa(q.QueueID)
}

// CompareQueues orders queues by (Topic, BrokerName, QueueID).
func CompareQueues(a, b MessageQueue) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	if c := strings.Compare(a.BrokerName, b.BrokerName); c != 0 {
		return c
	}
	return cmp.Compare(a.QueueID, b.QueueID)
}

// Message is a message to send.
type Message struct {
	Topic string
	// Body is sent as is (zlib-compressed on the wire above
	// Config.CompressBodyOverBytes for single sends). It must not be empty.
	Body []byte
	// Tags, when not empty, is the TAGS property: the one string consumers
	// filter on.
	Tags string
	// Keys, when not empty, are the KEYS property, joined with spaces
	// (business keys, indexed by the broker).
	Keys []string
	// DelayLevel, when positive, is the DELAY property: the broker holds
	// the message for the level's delay (1 s, 5 s, 10 s, 30 s, 1 m, ...).
	DelayLevel int
	// Flag is the user flag, stored in the record's FLAG field.
	Flag int32
	// Properties are user properties, sent in this order after TAGS and
	// KEYS. A UNIQ_KEY here is kept as the message id; otherwise the client
	// generates one. Tags, Keys and DelayLevel override keys of the same
	// name here.
	Properties message.Properties
}

// encodeProperties builds a message's properties field: TAGS, KEYS, the
// user's properties in order, DELAY, then UNIQ_KEY (the given one, or
// newID()). It returns the field and the UNIQ_KEY.
func (m *Message) encodeProperties(newID func() string) ([]byte, string, error) {
	p := make(message.Properties, 0, len(m.Properties)+4)
	if m.Tags != "" {
		p = append(p, message.Property{Key: message.PropertyTags, Value: m.Tags})
	}
	if len(m.Keys) > 0 {
		p = append(p, message.Property{Key: message.PropertyKeys, Value: strings.Join(m.Keys, message.KeySeparator)})
	}
	for _, kv := range m.Properties {
		switch {
		case kv.Key == message.PropertyTags && m.Tags != "",
			kv.Key == message.PropertyKeys && len(m.Keys) > 0,
			kv.Key == message.PropertyDelayLevel && m.DelayLevel > 0:
			continue
		}
		p = append(p, kv)
	}
	if m.DelayLevel > 0 {
		p = append(p, message.Property{Key: message.PropertyDelayLevel, Value: strconv.Itoa(m.DelayLevel)})
	}
	id, ok := p.Get(message.PropertyUniqKey)
	if !ok {
		id = newID()
		p = append(p, message.Property{Key: message.PropertyUniqKey, Value: id})
	}
	raw, err := message.AppendProperties(nil, p)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return raw, id, nil
}

// MessageExt is a message as consumed: the decoded stored record (§5.1 of
// the protocol notes) with its position.
//
// Body is a copy (inflated if the producer compressed it), so a MessageExt
// never pins the response it came in. Fields are exactly what the record
// says; nothing is renamed (in particular a message pulled from a
// %RETRY%<group> topic keeps that topic; OriginTopic gives the original).
type MessageExt struct {
	Topic string
	// BrokerName is the broker group the message was pulled from.
	BrokerName string
	QueueID    int
	// QueueOffset is the message's index in its queue.
	QueueOffset int64
	// CommitLogOffset is the record's physical offset in the broker's commit
	// log (PHYSICALOFFSET).
	CommitLogOffset int64
	// BornTimestamp and StoreTimestamp are the producer's and the broker's
	// wall clocks, in Unix milliseconds.
	BornTimestamp  int64
	StoreTimestamp int64
	BornHost       netip.AddrPort
	StoreHost      netip.AddrPort
	SysFlag        int32
	Flag           int32
	BodyCRC        int32
	ReconsumeTimes int32
	// PreparedTransactionOffset is, for a committed transactional message,
	// the physical offset of its half message.
	PreparedTransactionOffset int64
	Body                      []byte
	Properties                message.Properties
	// MsgID is the UNIQ_KEY property when present (the id the producer
	// generated), else OffsetMsgID.
	MsgID string
	// OffsetMsgID is the broker's id of the stored record: the store host
	// and physical offset in hex.
	OffsetMsgID string
}

// Tags is the TAGS property.
func (m *MessageExt) Tags() string { v, _ := m.Properties.Get(message.PropertyTags); return v }

// Keys is the KEYS property, split on spaces.
func (m *MessageExt) Keys() []string {
	v, _ := m.Properties.Get(message.PropertyKeys)
	return strings.Fields(v)
}

// Property returns the value of a property.
func (m *MessageExt) Property(key string) (string, bool) { return m.Properties.Get(key) }

// Queue is the queue the message was pulled from.
func (m *MessageExt) Queue() MessageQueue {
	return MessageQueue{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: m.QueueID}
}

// OriginTopic is the topic the message was first sent to: the RETRY_TOPIC
// property of a retried message, else Topic.
func (m *MessageExt) OriginTopic() string {
	if t, ok := m.Properties.Get(message.PropertyRetryTopic); ok {
		return t
	}
	return m.Topic
}

// maxInflateBytes bounds an inflated body: a compressed body that expands
// past it is reported as bad rather than allowed to exhaust memory. It is
// the broker's default maxMessageSize (4 MiB) with generous headroom.
const maxInflateBytes = 64 << 20

// decodeRecords turns a PULL body into messages. Every record's framing and
// body CRC is checked (message.Decode); the first failure fails the whole
// body, so that a corrupt record is reported, never skipped.
func decodeRecords(body []byte, brokerName string) ([]*MessageExt, error) {
	var out []*MessageExt
	for off := 0; off < len(body); {
		r, n, err := message.Decode(body[off:])
		if err != nil {
			return nil, fmt.Errorf("%w: record %d at byte %d of the pull body: %w", ErrBadResponse, len(out), off, err)
		}
		m, err := messageFromRecord(&r, brokerName)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d at byte %d of the pull body: %w", ErrBadResponse, len(out), off, err)
		}
		out = append(out, m)
		off += n
	}
	return out, nil
}

func messageFromRecord(r *message.Record, brokerName string) (*MessageExt, error) {
	m := &MessageExt{
		Topic:                     r.Topic,
		BrokerName:                brokerName,
		QueueID:                   int(r.QueueID),
		QueueOffset:               r.QueueOffset,
		CommitLogOffset:           r.PhysicalOffset,
		BornTimestamp:             r.BornTimestamp,
		StoreTimestamp:            r.StoreTimestamp,
		BornHost:                  r.BornHost,
		StoreHost:                 r.StoreHost,
		SysFlag:                   r.SysFlag,
		Flag:                      r.Flag,
		BodyCRC:                   r.BodyCRC,
		ReconsumeTimes:            r.ReconsumeTimes,
		PreparedTransactionOffset: r.PreparedTransactionOffset,
		Properties:                r.ParsedProperties(),
		OffsetMsgID:               message.OffsetMsgID(r.StoreHost, r.PhysicalOffset),
	}
	if r.SysFlag&message.SysFlagCompressed != 0 {
		// NB: the Go client silently keeps the raw bytes when inflation
		// fails; a body that does not inflate is reported here instead.
		if t := r.SysFlag & message.SysFlagCompressionMask; t != 0 && t != message.SysFlagCompressionZLIB {
			return nil, fmt.Errorf("compression type %#x is not zlib", t)
		}
		b, err := inflate(r.Body)
		if err != nil {
			return nil, fmt.Errorf("inflate body: %w", err)
		}
		m.Body = b
	} else {
		m.Body = slices.Clone(r.Body)
	}
	if m.Body == nil {
		m.Body = []byte{}
	}
	if id, ok := m.Properties.Get(message.PropertyUniqKey); ok {
		m.MsgID = id
	} else {
		m.MsgID = m.OffsetMsgID
	}
	return m, nil
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxInflateBytes+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxInflateBytes {
		return nil, fmt.Errorf("inflates past %d bytes", maxInflateBytes)
	}
	return out, zr.Close()
}

// deflate compresses a body with zlib, as the Go producer does for large
// single messages. compress/zlib's output is a pure function of its input
// and level, so simulated runs stay reproducible.
func deflate(b []byte, level int) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
