package gocheck

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/thrustmq/thrust/broker/message"
)

// goHost is how the client prints a host: net.IP.String() + ":" + port,
// with no brackets around an IPv6 address.
func goHost(h netip.AddrPort) string {
	return fmt.Sprintf("%s:%d", h.Addr().String(), h.Port())
}

// props builds a list from key, value, key, value...
func props(kv ...string) message.Properties {
	var p message.Properties
	for i := 0; i+1 < len(kv); i += 2 {
		p = append(p, message.Property{Key: kv[i], Value: kv[i+1]})
	}
	return p
}

func propsMap(p message.Properties) map[string]string {
	m := map[string]string{}
	for _, kv := range p {
		m[kv.Key] = kv.Value
	}
	return m
}

func zlibBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type recCase struct {
	name        string
	born, store netip.AddrPort
	topic       string
	body        []byte // as the user sees it
	compress    bool
	props       message.Properties
	sysFlag     int32
}

func (c recCase) record(t *testing.T, physOffset int64) message.Record {
	props, err := message.AppendProperties(nil, c.props)
	if err != nil {
		t.Fatal(err)
	}
	body := c.body
	sysFlag := c.sysFlag | message.HostFlags(c.born, c.store)
	if c.compress {
		body = zlibBytes(t, body)
		sysFlag |= message.SysFlagCompressed
	}
	return message.Record{
		QueueID:                   5,
		Flag:                      0x1234,
		QueueOffset:               physOffset/7 + 3,
		PhysicalOffset:            physOffset,
		SysFlag:                   sysFlag,
		BornTimestamp:             1735689600123,
		BornHost:                  c.born,
		StoreTimestamp:            1735689600999,
		StoreHost:                 c.store,
		ReconsumeTimes:            4,
		PreparedTransactionOffset: 77,
		Body:                      body,
		Topic:                     c.topic,
		Properties:                props,
	}
}

// TestPullBodyDecodesInGoClient encodes records with message.Encode, back to
// back as in a PULL_MESSAGE body, and decodes them with the client's
// primitive.DecodeMessage, checking every field and both message ids.
func TestPullBodyDecodesInGoClient(t *testing.T) {
	v4b := netip.MustParseAddrPort("192.168.7.9:53124")
	v4s := netip.MustParseAddrPort("10.0.0.7:10911")
	v6b := netip.MustParseAddrPort("[2001:db8::7:9]:40001")
	v6s := netip.MustParseAddrPort("[2001:db8:1::10]:10911")
	uniq := "0A00C07AC3B718B4AAC230B977520000"
	cases := []recCase{
		{name: "plain", born: v4b, store: v4s, topic: "TopicTest", body: []byte("hello"),
			props: props(message.PropertyTags, "TagA", message.PropertyKeys, "k1 k2", message.PropertyUniqKey, uniq)},
		{name: "no properties", born: v4b, store: v4s, topic: "T", body: []byte("x")},
		{name: "empty body", born: v4b, store: v4s, topic: "%RETRY%group", body: []byte{},
			props: props(message.PropertyRetryTopic, "TopicTest", message.PropertyCluster, "DefaultCluster")},
		{name: "compressed", born: v4b, store: v4s, topic: "Big", body: bytes.Repeat([]byte("compress me "), 500), compress: true,
			props: props(message.PropertyTags, "z")},
		{name: "transaction commit", born: v4b, store: v4s, topic: "Tx", body: []byte("tx"), sysFlag: message.SysFlagTransactionCommit,
			props: props(message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, "pg")},
		{name: "v6 born", born: v6b, store: v4s, topic: "TopicTest", body: []byte("six"),
			props: props(message.PropertyUniqKey, uniq)},
		{name: "v6 store", born: v4b, store: v6s, topic: "TopicTest", body: []byte("six")},
		{name: "v6 both", born: v6b, store: v6s, topic: strings.Repeat("t", 127), body: []byte("six"),
			props: props(message.PropertyTags, "中文")},
	}

	var pull []byte
	var recs []message.Record
	for _, c := range cases {
		r := c.record(t, int64(len(pull))+1<<32)
		dst := make([]byte, message.EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag))
		if _, err := message.Encode(dst, &r); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		recs = append(recs, r)
		pull = append(pull, dst...)
	}

	got := primitive.DecodeMessage(pull)
	if len(got) != len(cases) {
		t.Fatalf("client decoded %d messages, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		m, r := got[i], recs[i]
		t.Run(c.name, func(t *testing.T) {
			size := message.EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag)
			check := func(field string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: client read %v, want %v", field, got, want)
				}
			}
			check("StoreSize", m.StoreSize, int32(size))
			check("BodyCRC", m.BodyCRC, message.BodyCRC(r.Body))
			check("QueueId", m.Queue.QueueId, int(r.QueueID))
			check("Flag", m.Flag, r.Flag)
			check("QueueOffset", m.QueueOffset, r.QueueOffset)
			check("CommitLogOffset", m.CommitLogOffset, r.PhysicalOffset)
			check("SysFlag", m.SysFlag, r.SysFlag)
			check("BornTimestamp", m.BornTimestamp, r.BornTimestamp)
			check("BornHost", m.BornHost, goHost(r.BornHost))
			check("StoreTimestamp", m.StoreTimestamp, r.StoreTimestamp)
			check("StoreHost", m.StoreHost, goHost(r.StoreHost))
			check("ReconsumeTimes", m.ReconsumeTimes, r.ReconsumeTimes)
			check("PreparedTransactionOffset", m.PreparedTransactionOffset, r.PreparedTransactionOffset)
			check("Body", m.Body, c.body) // inflated by the client when compressed
			check("Topic", m.Topic, r.Topic)
			check("properties", m.GetProperties(), propsMap(c.props))
			offID := message.OffsetMsgID(r.StoreHost, r.PhysicalOffset)
			check("OffsetMsgId", m.OffsetMsgId, offID)
			wantMsgID := offID
			if v, ok := c.props.Get(message.PropertyUniqKey); ok {
				wantMsgID = v
			}
			check("MsgId", m.MsgId, wantMsgID)

			// And our decoder reads what we wrote, at the same offset.
			d, n, err := message.Decode(pull[r.PhysicalOffset-1<<32:])
			if err != nil || n != size || d.Topic != r.Topic {
				t.Errorf("message.Decode: n=%d err=%v", n, err)
			}
		})
	}
}

// TestV2DesynchronisesGoClient documents why ValidateTopic keeps every topic
// V1-encodable: the client cannot read a V2 record, and everything after one
// is garbage.
func TestV2DesynchronisesGoClient(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.7:10911")
	long := recCase{born: v4, store: v4, topic: strings.Repeat("L", 130), body: []byte("a")}.record(t, 0)
	short := recCase{born: v4, store: v4, topic: "After", body: []byte("b")}.record(t, 0)
	var pull []byte
	for _, r := range []message.Record{long, short} {
		dst := make([]byte, message.EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag))
		if _, err := message.Encode(dst, &r); err != nil {
			t.Fatal(err)
		}
		pull = append(pull, dst...)
	}
	func() {
		defer func() { _ = recover() }() // the client may also just panic
		got := primitive.DecodeMessage(pull)
		if len(got) == 2 && got[0].Topic == long.Topic && got[1].Topic == "After" {
			t.Fatal("the Go client read a V2 record; the doc comments are out of date")
		}
	}()
}

// TestBatchFromGoClient marshals messages with the client's Message.Marshal,
// as its SEND_BATCH_MESSAGE body, and decodes them with message.DecodeBatch.
func TestBatchFromGoClient(t *testing.T) {
	msgs := []*primitive.Message{
		primitive.NewMessage("T", []byte("first body")),
		primitive.NewMessage("T", []byte{}),
		primitive.NewMessage("T", bytes.Repeat([]byte{0xFE}, 5000)),
	}
	msgs[0].WithTag("TagA")
	msgs[0].WithKeys([]string{"k1", "k2"})
	msgs[0].WithProperty("custom", "v|w")
	msgs[0].Flag = 9
	msgs[2].WithDelayTimeLevel(3)
	msgs[2].Flag = -1

	var body []byte
	for _, m := range msgs {
		body = append(body, m.Marshal()...)
	}
	i := 0
	err := message.DecodeBatch(body, func(bm message.BatchMember) error {
		m := msgs[i]
		if bm.Index != i || bm.Flag != m.Flag || !bytes.Equal(bm.Body, m.Body) {
			t.Errorf("member %d: flag %d body %d bytes; want flag %d body %d bytes", i, bm.Flag, len(bm.Body), m.Flag, len(m.Body))
		}
		if got, want := propsMap(message.ParseProperties(string(bm.Properties))), m.GetProperties(); !reflect.DeepEqual(got, want) {
			t.Errorf("member %d properties: %v, want %v", i, got, want)
		}
		i++
		return nil
	})
	if err != nil || i != len(msgs) {
		t.Fatalf("DecodeBatch: %v after %d members", err, i)
	}
}

// TestOffsetMsgIDInGoClient checks our ids against the client's parser
// (which the transactional producer uses without checking its error) and
// its own id builder.
func TestOffsetMsgIDInGoClient(t *testing.T) {
	cases := []struct {
		host     netip.AddrPort
		off      int64
		wantAddr string
	}{
		{netip.MustParseAddrPort("10.0.0.7:10911"), 0, "10.0.0.7"},
		{netip.MustParseAddrPort("192.168.255.1:65535"), 1<<62 + 5, "192.168.255.1"},
		{netip.MustParseAddrPort("[2001:db8::1]:10911"), 123456789, "[2001:db8::1]"},
	}
	for _, c := range cases {
		id := message.OffsetMsgID(c.host, c.off)
		got, err := primitive.UnmarshalMsgID([]byte(id))
		if err != nil {
			t.Fatalf("UnmarshalMsgID(%s): %v", id, err)
		}
		if got.Addr != c.wantAddr || got.Port != int(c.host.Port()) || got.Offset != c.off {
			t.Errorf("UnmarshalMsgID(%s) = %+v", id, got)
		}
		var ip []byte
		if c.host.Addr().Is4() {
			a := c.host.Addr().As4()
			ip = a[:]
		} else {
			a := c.host.Addr().As16()
			ip = a[:]
		}
		if want := primitive.CreateMessageId(ip, int32(c.host.Port()), c.off); id != want {
			t.Errorf("OffsetMsgID = %s, client builds %s", id, want)
		}
		h, off, err := message.ParseOffsetMsgID(id)
		if err != nil || h != c.host || off != c.off {
			t.Errorf("ParseOffsetMsgID(%s) = %v %d %v", id, h, off, err)
		}
	}
}

// TestPropertiesWithGoClient checks the properties encoding both ways.
func TestPropertiesWithGoClient(t *testing.T) {
	p := props("TAGS", "a", "KEYS", "x y", "UNIQ_KEY", "ABC", "DELAY", "3", "中", "文")
	enc, err := message.AppendProperties(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	var m primitive.Message
	m.UnmarshalProperties(enc)
	if got := m.GetProperties(); !reflect.DeepEqual(got, propsMap(p)) {
		t.Fatalf("client reads %v, want %v", got, propsMap(p))
	}
	g := primitive.NewMessage("T", nil)
	for _, kv := range p {
		g.WithProperty(kv.Key, kv.Value)
	}
	if got := propsMap(message.ParseProperties(g.MarshallProperties())); !reflect.DeepEqual(got, propsMap(p)) {
		t.Fatalf("we read the client's %q as %v", g.MarshallProperties(), got)
	}
}
