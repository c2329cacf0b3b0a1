package message

import (
	"bytes"
	"fmt"
	"strings"
)

// Well-known property keys (Java's MessageConst; §5.4 of the protocol notes).
const (
	// PropertyTags is the message's tag: one string, hashed whole into the
	// consume-queue unit (TagsHashCode).
	PropertyTags = "TAGS"
	// PropertyKeys holds business keys, separated by KeySeparator; indexed.
	PropertyKeys = "KEYS"
	// PropertyUniqKey is the client message id (UNIQ_KEY, UniqIDGenerator).
	PropertyUniqKey = "UNIQ_KEY"
	// PropertyWaitStoreMsgOK ("wait store ok"): absent means true.
	PropertyWaitStoreMsgOK = "WAIT"
	// PropertyDelayLevel is the delay level, 1..len(levels); -1 means
	// straight to the DLQ.
	PropertyDelayLevel = "DELAY"
	// PropertyRealTopic and PropertyRealQueueID keep the original topic and
	// queue of a scheduled, timer or half message.
	PropertyRealTopic   = "REAL_TOPIC"
	PropertyRealQueueID = "REAL_QID"
	// PropertyTransactionPrepared = "true" marks a transactional half
	// message (the property, not SYSFLAG, is what the broker looks at).
	PropertyTransactionPrepared = "TRAN_MSG"
	// PropertyProducerGroup is the producer group of a transactional message.
	PropertyProducerGroup = "PGROUP"
	// PropertyTransactionID is the transaction id (= UNIQ_KEY).
	PropertyTransactionID                  = "__transactionId__"
	PropertyTransactionPreparedQueueOffset = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyTransactionCheckTimes          = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunityTimeInSeconds     = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyRetryTopic                     = "RETRY_TOPIC"
	PropertyOriginMessageID                = "ORIGIN_MESSAGE_ID"
	PropertyReconsumeTime                  = "RECONSUME_TIME"
	PropertyMaxReconsumeTimes              = "MAX_RECONSUME_TIMES"
	PropertyConsumeStartTime               = "CONSUME_START_TIME"
	PropertyMinOffset                      = "MIN_OFFSET"
	PropertyMaxOffset                      = "MAX_OFFSET"
	PropertyCluster                        = "CLUSTER"
	PropertyMsgRegion                      = "MSG_REGION"
	PropertyTraceSwitch                    = "TRACE_ON"
	PropertyCorrelationID                  = "CORRELATION_ID"
	PropertyReplyToClient                  = "REPLY_TO_CLIENT"
	PropertyMessageTTL                     = "TTL"
	PropertyReplyMessageArriveTime         = "ARRIVE_TIME"
	PropertyPushReplyTime                  = "PUSH_REPLY_TIME"
	PropertyMessageType                    = "MSG_TYPE"
	PropertyTimerDeliverMS                 = "TIMER_DELIVER_MS"
	PropertyTimerDelaySec                  = "TIMER_DELAY_SEC"
	PropertyTimerDelayMS                   = "TIMER_DELAY_MS"
	PropertyShardingKeyJava                = "__SHARDINGKEY" // NB: Java's spelling
	PropertyShardingKeyGo                  = "SHARDING_KEY"  // NB: Go's spelling
)

// KeySeparator separates the business keys in PropertyKeys.
const KeySeparator = " "

// The two separators of the properties encoding.
const (
	nameValueSeparator = 0x01
	propertySeparator  = 0x02
)

// Property is one key/value pair.
type Property struct {
	Key, Value string
}

// Properties is an ordered list of properties. Order is kept so that the
// encoding is a function of the list, never of map iteration. Keys are
// unique in a list that Validate accepts.
type Properties []Property

// Get returns the value of key.
func (p Properties) Get(key string) (string, bool) {
	for i := range p {
		if p[i].Key == key {
			return p[i].Value, true
		}
	}
	return "", false
}

// Set sets key to value, in place if key is present, else at the end.
func (p *Properties) Set(key, value string) {
	for i := range *p {
		if (*p)[i].Key == key {
			(*p)[i].Value = value
			return
		}
	}
	*p = append(*p, Property{Key: key, Value: value})
}

// Delete removes key and reports whether it was present. The order of the
// others is kept.
func (p *Properties) Delete(key string) bool {
	for i := range *p {
		if (*p)[i].Key == key {
			*p = append((*p)[:i], (*p)[i+1:]...)
			return true
		}
	}
	return false
}

// EncodedLen is the number of bytes AppendProperties writes for p.
func (p Properties) EncodedLen() int {
	n := 0
	for i := range p {
		n += len(p[i].Key) + len(p[i].Value) + 2
	}
	return n
}

// Validate reports ErrBadProperty, naming the key, unless every pair
// survives an encode/parse round trip with both reference readers: keys and
// values non-empty (readers drop pairs with an empty side), free of 0x02,
// and free of 0x01 (Java splits at the first 0x01, so it would tolerate one
// in a value, but Go drops such a pair), and keys unique. It also reports
// ErrPropertiesTooLong above MaxPropertiesBytes.
func (p Properties) Validate() error {
	var seen map[string]struct{} // only for long lists; looked up, never iterated
	if len(p) > parseIndexThreshold {
		seen = make(map[string]struct{}, len(p))
	}
	for i := range p {
		if err := validatePair(p[i].Key, p[i].Value); err != nil {
			return err
		}
		dup := false
		if seen != nil {
			_, dup = seen[p[i].Key]
			seen[p[i].Key] = struct{}{}
		} else {
			for j := range i {
				dup = dup || p[j].Key == p[i].Key
			}
		}
		if dup {
			return fmt.Errorf("%w: key %q appears twice", ErrBadProperty, p[i].Key)
		}
	}
	if n := p.EncodedLen(); n > MaxPropertiesBytes {
		return fmt.Errorf("%w: %d bytes", ErrPropertiesTooLong, n)
	}
	return nil
}

func validatePair(key, value string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrBadProperty)
	case value == "":
		return fmt.Errorf("%w: key %q has an empty value, which readers drop", ErrBadProperty, key)
	case strings.ContainsAny(key, "\x01\x02"):
		return fmt.Errorf("%w: key %q contains a separator byte (0x01 or 0x02)", ErrBadProperty, key)
	case strings.ContainsAny(value, "\x01\x02"):
		return fmt.Errorf("%w: value of key %q contains a separator byte (0x01 or 0x02)", ErrBadProperty, key)
	}
	return nil
}

// AppendProperties appends the encoding of p to dst: key 0x01 value 0x02
// for each pair in order, the trailing 0x02 included, as both reference
// encoders write it. An empty list encodes to nothing. If p does not pass
// Validate, dst is returned unchanged with the error.
func AppendProperties(dst []byte, p Properties) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	for i := range p {
		dst = appendPair(dst, p[i].Key, p[i].Value)
	}
	return dst, nil
}

// AppendProperty appends one pair to an encoding in dst, the way the broker
// stamps CLUSTER, MSG_REGION and TRACE_ON onto a producer's properties
// without parsing them. If dst is non-empty and lacks its trailing 0x02, one
// is added first. A key already in dst is not removed; readers keep the last
// occurrence, so the appended value wins. The pair must pass the rules of
// Validate; the caller checks the total against MaxPropertiesBytes (Encode
// does too).
func AppendProperty(dst []byte, key, value string) ([]byte, error) {
	if err := validatePair(key, value); err != nil {
		return dst, err
	}
	if len(dst) > 0 && dst[len(dst)-1] != propertySeparator {
		dst = append(dst, propertySeparator)
	}
	return appendPair(dst, key, value), nil
}

func appendPair(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, nameValueSeparator)
	dst = append(dst, value...)
	return append(dst, propertySeparator)
}

// ParseProperties parses an encoded properties field with Java's semantics
// (MessageDecoder.string2messageProperties), which are the more tolerant of
// the two reference readers:
//
//   - split on 0x02; a missing trailing 0x02 is fine;
//   - split each piece at its first 0x01 (so a value may contain 0x01,
//     which Go's reader would drop);
//   - drop a piece without 0x01, or with an empty key or value;
//   - when a key repeats, the last value wins, in the position of the first.
//
// Bytes are kept as they are: Java decodes UTF-8 first (an invalid sequence
// becomes U+FFFD), this parser does not. Keys and values are substrings of
// s. The result is nil if s holds no pair.
func ParseProperties(s string) Properties {
	var (
		p Properties
		// index finds duplicates once the list is long, so that a
		// hostile 32 KiB field costs linear time, not quadratic. It is
		// only looked up, never iterated.
		index map[string]int
	)
	for len(s) > 0 {
		piece := s
		if i := strings.IndexByte(s, propertySeparator); i >= 0 {
			piece, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		k, v, ok := strings.Cut(piece, "\x01")
		if !ok || k == "" || v == "" {
			continue
		}
		if index == nil && len(p) >= parseIndexThreshold {
			index = make(map[string]int, 2*len(p))
			for i := range p {
				index[p[i].Key] = i
			}
		}
		if index != nil {
			if i, dup := index[k]; dup {
				p[i].Value = v
			} else {
				index[k] = len(p)
				p = append(p, Property{Key: k, Value: v})
			}
			continue
		}
		p.Set(k, v)
	}
	return p
}

// parseIndexThreshold is the list length from which ParseProperties finds
// duplicates with a map rather than a scan. Real messages carry a handful.
const parseIndexThreshold = 16

// LookupProperty returns the value of key in the encoded properties raw,
// with ParseProperties' semantics (the last occurrence wins), without
// building the list. The value aliases raw.
func LookupProperty(raw []byte, key string) ([]byte, bool) {
	var (
		val   []byte
		found bool
	)
	for len(raw) > 0 {
		piece := raw
		if i := bytes.IndexByte(raw, propertySeparator); i >= 0 {
			piece, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		k, v, ok := bytes.Cut(piece, []byte{nameValueSeparator})
		if ok && len(k) > 0 && len(v) > 0 && string(k) == key {
			val, found = v, true
		}
	}
	return val, found
}
