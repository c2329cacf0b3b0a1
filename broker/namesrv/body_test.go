package namesrv

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleBody() RegisterBrokerBody {
	tbw := topic("TBW102", 8, PermRead|PermWrite|PermInherit)
	tt := topic("TopicTest", 4, PermRead|PermWrite)
	return RegisterBrokerBody{
		DataVersion:      DataVersion{Timestamp: 1700000000000, Counter: 3},
		TopicConfigTable: map[string]TopicConfig{"TBW102": tbw, "TopicTest": tt},
	}
}

func TestRegisterBodyEncodeGolden(t *testing.T) {
	b := sampleBody()
	const want = `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{` +
		`"TBW102":{"attributes":{},"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102","topicSysFlag":0,"writeQueueNums":8},` +
		`"TopicTest":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}},` +
		`"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}`
	if got := string(b.Encode()); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestRegisterBodyRoundTrips(t *testing.T) {
	b := sampleBody()
	b.FilterServerList = []string{"10.0.0.1:30000"}
	for _, compressed := range []bool{false, true} {
		raw := b.Encode()
		if compressed {
			raw = b.EncodeCompressed()
		}
		got, err := DecodeRegisterBrokerBody(raw, compressed)
		if err != nil {
			t.Fatalf("compressed=%v: %v", compressed, err)
		}
		// The compressed form carries no attributes when empty; the JSON
		// form decodes {} as an empty map.
		for name, tc := range got.TopicConfigTable {
			tc.Attributes = nil
			got.TopicConfigTable[name] = tc
		}
		if !reflect.DeepEqual(got, b) {
			t.Fatalf("compressed=%v:\n got %+v\nwant %+v", compressed, got, b)
		}
	}
}

// javaCompressed builds a compressed body the way Java's
// RegisterBrokerBody.encode(true) does, field by field, so that the decoder is
// tested against the format rather than against our own encoder.
func javaCompressed(t *testing.T, dv string, topics []string, filters string, tail []byte) []byte {
	t.Helper()
	var raw []byte
	part := func(s string) {
		raw = binary.BigEndian.AppendUint32(raw, uint32(len(s)))
		raw = append(raw, s...)
	}
	part(dv)
	raw = binary.BigEndian.AppendUint32(raw, uint32(len(topics)))
	for _, tc := range topics {
		part(tc)
	}
	part(filters)
	raw = append(raw, tail...)
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	w.Write(raw)
	w.Close()
	return buf.Bytes()
}

func TestDecodeJavaCompressedBody(t *testing.T) {
	raw := javaCompressed(t,
		`{"counter":7,"stateVersion":0,"timestamp":1700000000123}`,
		[]string{
			"TopicTest 4 4 6 SINGLE_TAG",
			`TBW102 8 8 7 SINGLE_TAG {"+message.type":"NORMAL"}`, // 5.x: attributes as a sixth field
			`{"topicName":"AsJSON","readQueueNums":2,"writeQueueNums":2,"perm":6}`,
		},
		`[]`,
		[]byte{0, 0, 0, 0}, // no static-topic mappings
	)
	b, err := DecodeRegisterBrokerBody(raw, true)
	if err != nil {
		t.Fatal(err)
	}
	if b.DataVersion != (DataVersion{Timestamp: 1700000000123, Counter: 7}) {
		t.Fatalf("data version %+v", b.DataVersion)
	}
	want := map[string][3]int32{"TopicTest": {4, 4, 6}, "TBW102": {8, 8, 7}, "AsJSON": {2, 2, 6}}
	if len(b.TopicConfigTable) != len(want) {
		t.Fatalf("topics %+v", b.TopicConfigTable)
	}
	for name, w := range want {
		tc := b.TopicConfigTable[name]
		if got := [3]int32{tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm}; got != w || tc.TopicName != name {
			t.Errorf("%s: %+v", name, tc)
		}
	}
}

func TestDecodeRegisterBodyErrors(t *testing.T) {
	valid := javaCompressed(t, `{"counter":1}`, []string{"T 4 4 6 SINGLE_TAG"}, `[]`, nil)
	// A topic count that claims more entries than there are bytes.
	lying := func() []byte {
		var raw []byte
		raw = binary.BigEndian.AppendUint32(raw, 2)
		raw = append(raw, "{}"...)
		raw = binary.BigEndian.AppendUint32(raw, 1<<30)
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		w.Write(raw)
		w.Close()
		return buf.Bytes()
	}()
	for _, tc := range []struct {
		name       string
		body       []byte
		compressed bool
		want       string
	}{
		{"json truncated", []byte(`{"topicConfigSerializeWrapper":{`), false, "register body"},
		{"json wrong type", []byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":"x"}}}}`), false, "register body"},
		{"not zlib", []byte("plain text"), true, "compressed register body"},
		{"zlib cut short", valid[:len(valid)-6], true, "compressed register body"},
		{"topic count lies", lying, true, "does not fit"},
		{"bad topic text", javaCompressed(t, `{}`, []string{"T four 4 6 SINGLE_TAG"}, `[]`, nil), true, "field 2"},
		{"too few fields", javaCompressed(t, `{}`, []string{"T 4 4"}, `[]`, nil), true, "want 5 fields"},
	} {
		_, err := DecodeRegisterBrokerBody(tc.body, tc.compressed)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := DecodeRegisterBrokerBody(valid, true); err != nil {
		t.Fatalf("the valid body the cases cut from: %v", err)
	}
}

func TestCompressedBodyInflationLimit(t *testing.T) {
	// Zeros compress about a thousandfold: a small frame, a huge body.
	const limit = 1 << 20
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	w.Write(make([]byte, limit+1))
	w.Close()
	if _, err := inflate(buf.Bytes(), limit); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("error %v, want ErrBodyTooLarge", err)
	}
	if raw, err := inflate(buf.Bytes(), limit+1); err != nil || len(raw) != limit+1 {
		t.Fatalf("at the limit: %d bytes, %v", len(raw), err)
	}
}

func TestTopicConfigDefaultsLikeJava(t *testing.T) {
	b, err := DecodeRegisterBrokerBody([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T"}}}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	tc := b.TopicConfigTable["T"]
	if tc.ReadQueueNums != 16 || tc.WriteQueueNums != 16 || tc.Perm != 6 || tc.TopicFilterType != "SINGLE_TAG" {
		t.Fatalf("defaults %+v", tc)
	}
}

func TestStandardJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}`, `{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}`},
		{`{"brokerAddrs":{0:"a:1"},"x":[{1:"b"},{}]}`, `{"brokerAddrs":{"0":"a:1"},"x":[{"1":"b"},{}]}`},
		{`{ 0 : "a" , -1:"b"}`, `{ "0" : "a" , "-1":"b"}`},
		{`{"s":"{0:\"not a key\"}"}`, `{"s":"{0:\"not a key\"}"}`},
		{`[0,1,{"k":[2]}]`, `[0,1,{"k":[2]}]`},
		{``, ``},
		{`{`, `{`},
		{`{0`, `{"0"`},
	} {
		if got := string(standardJSON([]byte(tc.in))); got != tc.want {
			t.Errorf("standardJSON(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// A Java name server's answer to a Go client (fastjson, bare integer keys,
// the old topicSynFlag spelling) decodes.
func TestDecodeJavaRoute(t *testing.T) {
	const java = `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":1,"writeQueueNums":4}]}`
	r, err := DecodeTopicRouteData([]byte(java))
	if err != nil {
		t.Fatal(err)
	}
	want := TopicRouteData{
		QueueDatas: []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicSysFlag: 1}},
		BrokerDatas: []BrokerData{{Cluster: "DefaultCluster", BrokerName: "broker-a",
			BrokerAddrs: map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}}},
		FilterServerTable: map[string][]string{},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("\n got %+v\nwant %+v", r, want)
	}
	// And ours decodes back to itself, through encoding/json too.
	if again, err := DecodeTopicRouteData(r.Encode()); err != nil || !reflect.DeepEqual(again, r) {
		t.Fatalf("round trip: %+v %v", again, err)
	}
	var generic map[string]any
	if err := json.Unmarshal(r.Encode(), &generic); err != nil {
		t.Fatalf("our route is not standard JSON: %v", err)
	}
}

func TestJSONStringEscaping(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"nl\n\t\x01", `"nl\n\t\u0001"`},
		{"<&>", `"<&>"`}, // fastjson does not HTML-escape
		{"ü€", `"ü€"`},   // UTF-8 as is
		{"bad\xff", `"bad\ufffd"`},
	} {
		got := string(appendJSONString(nil, tc.in))
		if got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("%q: %s is not JSON: %v", tc.in, got, err)
		}
	}
}

func TestTopicListEncode(t *testing.T) {
	for _, tc := range []struct {
		l    TopicList
		want string
	}{
		{TopicList{}, `{"topicList":[]}`},
		{TopicList{TopicList: []string{"b", "a", "b"}}, `{"topicList":["a","b"]}`},
		{TopicList{TopicList: []string{"x"}, BrokerAddr: "10.0.0.1:10911"}, `{"brokerAddr":"10.0.0.1:10911","topicList":["x"]}`},
	} {
		if got := string(tc.l.Encode()); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

func FuzzDecodeRegisterBrokerBody(f *testing.F) {
	b := sampleBody()
	f.Add(b.Encode(), false)
	f.Add(b.EncodeCompressed(), true)
	f.Add([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{}}}}`), false)
	f.Fuzz(func(t *testing.T, body []byte, compressed bool) {
		got, err := DecodeRegisterBrokerBody(body, compressed)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same topics.
		again, err := DecodeRegisterBrokerBody(got.Encode(), false)
		if err != nil {
			t.Fatalf("re-encoded body does not decode: %v\n%s", err, got.Encode())
		}
		if len(again.TopicConfigTable) != len(got.TopicConfigTable) || again.DataVersion != got.DataVersion {
			t.Fatalf("round trip changed the body:\n%+v\n%+v", got, again)
		}
	})
}

func FuzzStandardJSON(f *testing.F) {
	f.Add([]byte(`{"brokerDatas":[{"brokerAddrs":{0:"a:1",1:"b:2"}}]}`))
	f.Add([]byte(`{"a":"\"{0:1}","b":[{}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := standardJSON(in)
		// Standard JSON passes unchanged.
		if json.Valid(in) && !bytes.Equal(out, in) {
			t.Fatalf("valid JSON changed: %q -> %q", in, out)
		}
		// Idempotent.
		if again := standardJSON(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

func FuzzDecodeTopicRouteData(f *testing.F) {
	r, _ := DecodeTopicRouteData([]byte(`{"brokerDatas":[{"brokerAddrs":{0:"a:1"},"brokerName":"b","cluster":"c"}],"queueDatas":[{"brokerName":"b","perm":6}]}`))
	f.Add(r.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeTopicRouteData(in)
		if err != nil {
			return
		}
		out := r.Encode()
		if !json.Valid(out) {
			t.Fatalf("encoded route is not JSON: %s", out)
		}
		// Encoding is a fixed point after one round.
		again, err := DecodeTopicRouteData(out)
		if err != nil {
			t.Fatalf("encoded route does not decode: %v\n%s", err, out)
		}
		if out2 := again.Encode(); !bytes.Equal(out2, out) {
			t.Fatalf("route changed in a round trip:\n%s\n%s", out, out2)
		}
	})
}
