package namesrv

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// TopicConfig is a broker's configuration of one topic (TopicConfig.java),
// as REGISTER_BROKER carries it.
type TopicConfig struct {
	TopicName      string `json:"topicName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	// TopicFilterType is SINGLE_TAG or MULTI_TAG; the name server ignores it.
	TopicFilterType string `json:"topicFilterType"`
	TopicSysFlag    int32  `json:"topicSysFlag"`
	Order           bool   `json:"order"`
	// Attributes are 5.x topic attributes; the name server ignores them.
	Attributes map[string]string `json:"attributes"`
}

// Java's TopicConfig defaults, which a field missing from a broker's JSON
// keeps.
const (
	defaultTopicQueueNums  = 16
	defaultTopicPerm       = PermRead | PermWrite
	defaultTopicFilterType = "SINGLE_TAG"
)

// UnmarshalJSON starts from Java's defaults, as fastjson would for a field
// the sender left out.
func (c *TopicConfig) UnmarshalJSON(b []byte) error {
	type plain TopicConfig
	p := plain{
		ReadQueueNums:   defaultTopicQueueNums,
		WriteQueueNums:  defaultTopicQueueNums,
		Perm:            defaultTopicPerm,
		TopicFilterType: defaultTopicFilterType,
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = TopicConfig(p)
	return nil
}

func (c *TopicConfig) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"attributes":`...)
	dst = appendStringMap(dst, c.Attributes)
	dst = append(dst, `,"order":`...)
	dst = appendBool(dst, c.Order)
	dst = append(dst, `,"perm":`...)
	dst = appendJSONInt(dst, int64(c.Perm))
	dst = append(dst, `,"readQueueNums":`...)
	dst = appendJSONInt(dst, int64(c.ReadQueueNums))
	dst = append(dst, `,"topicFilterType":`...)
	dst = appendJSONString(dst, c.filterType())
	dst = append(dst, `,"topicName":`...)
	dst = appendJSONString(dst, c.TopicName)
	dst = append(dst, `,"topicSysFlag":`...)
	dst = appendJSONInt(dst, int64(c.TopicSysFlag))
	dst = append(dst, `,"writeQueueNums":`...)
	dst = appendJSONInt(dst, int64(c.WriteQueueNums))
	return append(dst, '}')
}

func (c *TopicConfig) filterType() string {
	if c.TopicFilterType == "" {
		return defaultTopicFilterType
	}
	return c.TopicFilterType
}

// appendCompact writes TopicConfig.encode()'s text, the form the compressed
// registration carries: "name read write perm filterType", then the
// attributes as JSON after one more blank only when there are any. NB: a
// 4.x name server accepts exactly five fields, so the sixth is left out
// when it would be {}.
func (c *TopicConfig) appendCompact(dst []byte) []byte {
	dst = append(dst, c.TopicName...)
	dst = append(dst, ' ')
	dst = appendJSONInt(dst, int64(c.ReadQueueNums))
	dst = append(dst, ' ')
	dst = appendJSONInt(dst, int64(c.WriteQueueNums))
	dst = append(dst, ' ')
	dst = appendJSONInt(dst, int64(c.Perm))
	dst = append(dst, ' ')
	dst = append(dst, c.filterType()...)
	if len(c.Attributes) > 0 {
		dst = append(dst, ' ')
		dst = appendStringMap(dst, c.Attributes)
	}
	return dst
}

// parseCompactTopicConfig reads TopicConfig.decode()'s text. The format has
// no room for topicSysFlag or order: a compressed registration loses them,
// in Java too. A JSON object is accepted as well, in case a sender took the
// format's Java variable name ("topicConfigJson") at its word.
func parseCompactTopicConfig(s string) (TopicConfig, error) {
	if strings.HasPrefix(s, "{") {
		var c TopicConfig
		err := json.Unmarshal(standardJSON([]byte(s)), &c)
		return c, err
	}
	// Five blank-separated fields; a sixth, the attributes, may itself hold
	// blanks and is ignored.
	f := strings.SplitN(s, " ", 6)
	if len(f) < 5 {
		return TopicConfig{}, fmt.Errorf("topic config %q: want 5 fields", truncate(s))
	}
	c := TopicConfig{TopicName: f[0], TopicFilterType: f[4]}
	for i, dst := range []*int32{&c.ReadQueueNums, &c.WriteQueueNums, &c.Perm} {
		n, err := strconv.ParseInt(f[1+i], 10, 32)
		if err != nil {
			return TopicConfig{}, fmt.Errorf("topic config %q: field %d: %w", truncate(s), 2+i, err)
		}
		*dst = int32(n)
	}
	return c, nil
}

// truncate bounds how much of a peer's text an error repeats.
func truncate(s string) string {
	const maxQuoted = 64
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}

// RegisterBrokerBody is the body of REGISTER_BROKER (RegisterBrokerBody.java):
// the broker's topics and the version of that table.
type RegisterBrokerBody struct {
	DataVersion DataVersion
	// TopicConfigTable maps a topic name to its configuration.
	TopicConfigTable map[string]TopicConfig
	// FilterServerList is legacy and normally empty.
	FilterServerList []string
}

// registerBrokerJSON is the uncompressed body's shape.
type registerBrokerJSON struct {
	TopicConfigSerializeWrapper struct {
		TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
		DataVersion      DataVersion            `json:"dataVersion"`
	} `json:"topicConfigSerializeWrapper"`
	FilterServerList []string `json:"filterServerList"`
}

// Encode returns the uncompressed body as a Java 5.x broker writes it, keys
// and topics sorted:
//
//	{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{...},
//	"topicConfigTable":{"TopicTest":{"attributes":{},"order":false,"perm":6,...}},
//	"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}
//
// The two empty mapping tables (5.x static topics) are what a Java broker
// without static topics sends; both name server generations accept them.
func (b *RegisterBrokerBody) Encode() []byte {
	dst := make([]byte, 0, 256+200*len(b.TopicConfigTable))
	dst = append(dst, `{"filterServerList":`...)
	dst = appendStringArray(dst, b.FilterServerList)
	dst = append(dst, `,"topicConfigSerializeWrapper":{"dataVersion":`...)
	dst = b.DataVersion.appendJSON(dst)
	dst = append(dst, `,"topicConfigTable":{`...)
	for i, name := range sortedKeys(b.TopicConfigTable) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		tc := b.TopicConfigTable[name]
		dst = tc.appendJSON(dst)
	}
	return append(dst, `},"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}`...)
}

// EncodeCompressed returns the body in the compressed form a broker sends
// with compressed=true: a zlib stream (Java's DeflaterOutputStream, best
// compression) of big-endian length-prefixed parts,
//
//	int32 n | n bytes DataVersion JSON
//	int32 topic count | per topic, sorted: int32 n | n bytes "name r w perm filterType"
//	int32 n | n bytes filter server list JSON
//	int32 0   (static-topic mappings, read by name servers >= 5.0)
func (b *RegisterBrokerBody) EncodeCompressed() []byte {
	var raw []byte
	part := func(p []byte) {
		raw = binary.BigEndian.AppendUint32(raw, uint32(len(p)))
		raw = append(raw, p...)
	}
	part(b.DataVersion.Encode())
	raw = binary.BigEndian.AppendUint32(raw, uint32(len(b.TopicConfigTable)))
	for _, name := range sortedKeys(b.TopicConfigTable) {
		tc := b.TopicConfigTable[name]
		if tc.TopicName == "" {
			tc.TopicName = name
		}
		part(tc.appendCompact(nil))
	}
	part(appendStringArray(nil, b.FilterServerList))
	raw = binary.BigEndian.AppendUint32(raw, 0)

	var out bytes.Buffer
	w, _ := zlib.NewWriterLevel(&out, zlib.BestCompression) // the level is valid
	w.Write(raw)                                            // a bytes.Buffer does not fail
	w.Close()
	return out.Bytes()
}

// MaxInflatedBodyBytes bounds a compressed registration once inflated. A
// frame is at most 16 MiB, and topic configurations compress about tenfold;
// the bound stops a small frame from inflating into gigabytes.
const MaxInflatedBodyBytes = 128 << 20

// ErrBodyTooLarge: a compressed body inflates past MaxInflatedBodyBytes.
var ErrBodyTooLarge = errors.New("namesrv: register body inflates past the limit")

// DecodeRegisterBrokerBody parses a REGISTER_BROKER body, compressed or not.
// An empty body is a registration without topics (Java treats a missing body
// the same way), at data version zero.
func DecodeRegisterBrokerBody(body []byte, compressed bool) (RegisterBrokerBody, error) {
	if len(body) == 0 {
		return RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{}}, nil
	}
	if compressed {
		return decodeCompressedBody(body)
	}
	var raw registerBrokerJSON
	if err := json.Unmarshal(standardJSON(body), &raw); err != nil {
		return RegisterBrokerBody{}, fmt.Errorf("namesrv: register body: %w", err)
	}
	b := RegisterBrokerBody{
		DataVersion:      raw.TopicConfigSerializeWrapper.DataVersion,
		TopicConfigTable: raw.TopicConfigSerializeWrapper.TopicConfigTable,
		FilterServerList: raw.FilterServerList,
	}
	if b.TopicConfigTable == nil {
		b.TopicConfigTable = map[string]TopicConfig{}
	}
	return b, nil
}

// inflate decompresses a zlib stream of at most limit bytes.
func inflate(body []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("namesrv: compressed register body: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("namesrv: compressed register body: %w", err)
	}
	if len(raw) > limit {
		return nil, ErrBodyTooLarge
	}
	return raw, nil
}

func decodeCompressedBody(body []byte) (RegisterBrokerBody, error) {
	raw, err := inflate(body, MaxInflatedBodyBytes)
	if err != nil {
		return RegisterBrokerBody{}, err
	}
	p := parts{buf: raw}
	b := RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{}}
	dv, err := p.part("data version")
	if err != nil {
		return RegisterBrokerBody{}, err
	}
	if b.DataVersion, err = DecodeDataVersion(dv); err != nil {
		return RegisterBrokerBody{}, err
	}
	n, err := p.count("topic count")
	if err != nil {
		return RegisterBrokerBody{}, err
	}
	for i := 0; i < n; i++ {
		text, err := p.part("topic config")
		if err != nil {
			return RegisterBrokerBody{}, err
		}
		tc, err := parseCompactTopicConfig(string(text))
		if err != nil {
			return RegisterBrokerBody{}, fmt.Errorf("namesrv: compressed register body: %w", err)
		}
		b.TopicConfigTable[tc.TopicName] = tc
	}
	filters, err := p.part("filter server list")
	if err != nil {
		return RegisterBrokerBody{}, err
	}
	if err := json.Unmarshal(filters, &b.FilterServerList); err != nil {
		// Java logs this and goes on with an empty list; so does Thrust,
		// since filter servers are legacy and nothing here uses them.
		b.FilterServerList = nil
	}
	// Static-topic mappings may follow; Thrust does not serve static
	// topics, so the rest is ignored.
	return b, nil
}

// parts reads big-endian length-prefixed parts, checking every length
// against what is left before using it.
type parts struct {
	buf []byte
	off int
}

func (p *parts) count(what string) (int, error) {
	if len(p.buf)-p.off < 4 {
		return 0, fmt.Errorf("namesrv: compressed register body: %s: truncated at byte %d", what, p.off)
	}
	n := int32(binary.BigEndian.Uint32(p.buf[p.off:]))
	p.off += 4
	// Every counted item takes at least its 4-byte length.
	if n < 0 || int(n) > (len(p.buf)-p.off)/4 {
		return 0, fmt.Errorf("namesrv: compressed register body: %s %d does not fit in the %d bytes left", what, n, len(p.buf)-p.off)
	}
	return int(n), nil
}

func (p *parts) part(what string) ([]byte, error) {
	if len(p.buf)-p.off < 4 {
		return nil, fmt.Errorf("namesrv: compressed register body: %s: truncated at byte %d", what, p.off)
	}
	n := int32(binary.BigEndian.Uint32(p.buf[p.off:]))
	p.off += 4
	if n < 0 || int(n) > len(p.buf)-p.off {
		return nil, fmt.Errorf("namesrv: compressed register body: %s of %d bytes does not fit in the %d bytes left", what, n, len(p.buf)-p.off)
	}
	out := p.buf[p.off : p.off+int(n)]
	p.off += int(n)
	return out, nil
}
