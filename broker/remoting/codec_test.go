package remoting

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/thrustmq/thrust/broker/host"
)

// goPullHeader is a PULL_MESSAGE header in the exact form the Go client's
// encoder (jsoniter over its RemotingCommand struct) produces: struct
// fields in declaration order, language as "GO", an empty remark present,
// every extFields value a string. Its 311 bytes match the worked example of
// the protocol notes (§1.1).
const goPullHeader = `{"code":11,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"",` +
	`"extFields":{"consumerGroup":"cg","topic":"t","queueId":"0","queueOffset":"0",` +
	`"maxMsgNums":"32","sysFlag":"2","commitOffset":"0","suspendTimeoutMillis":"20000",` +
	`"subscription":"*","subVersion":"0","expressionType":"TAG","bname":"broker1"}}`

// frameOf wraps a header and body the way the Go client does.
func frameOf(typ SerializeType, header, body []byte) []byte {
	f := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	f = binary.BigEndian.AppendUint32(f, uint32(typ)<<24|uint32(len(header)))
	f = append(f, header...)
	return append(f, body...)
}

func TestGoClientPullFrame(t *testing.T) {
	frame := frameOf(SerializeJSON, []byte(goPullHeader), nil)
	wantPrefix := []byte{0x00, 0x00, 0x01, 0x3b, 0x00, 0x00, 0x01, 0x37}
	if !bytes.Equal(frame[:8], wantPrefix) {
		t.Fatalf("prefix % x, want % x", frame[:8], wantPrefix)
	}
	n, err := Framer{}.FrameLen(frame[:8])
	if err != nil || n != 315+4 {
		t.Fatalf("FrameLen = %d, %v; want 319", n, err)
	}
	got, err := DecodeFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	want := &Command{
		Code: int32(PullMessage), Language: LanguageGo, Version: 317, Opaque: 1,
		ExtFields: Fields{
			{"consumerGroup", "cg"}, {"topic", "t"}, {"queueId", "0"}, {"queueOffset", "0"},
			{"maxMsgNums", "32"}, {"sysFlag", "2"}, {"commitOffset", "0"},
			{"suspendTimeoutMillis", "20000"}, {"subscription", "*"}, {"subVersion", "0"},
			{"expressionType", "TAG"}, {"bname", "broker1"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
	}
}

func TestEncodeJSONGolden(t *testing.T) {
	req := &Command{Code: int32(SendMessage), Opaque: 42, Serialize: SerializeJSON}
	resp := NewResponse(req, Success, "")
	resp.ExtFields.Add("msgId", "0A000001000029BB0000000000000000")
	resp.ExtFields.Add("queueId", "1")
	resp.ExtFields.Add("queueOffset", "7")
	frame, err := AppendFrame(nil, resp)
	if err != nil {
		t.Fatal(err)
	}
	const wantHeader = `{"code":0,"extFields":{"msgId":"0A000001000029BB0000000000000000","queueId":"1","queueOffset":"7"},` +
		`"flag":1,"language":"JAVA","opaque":42,"serializeTypeCurrentRPC":"JSON","version":479}`
	if want := frameOf(SerializeJSON, []byte(wantHeader), nil); !bytes.Equal(frame, want) {
		t.Fatalf("frame\n%q\nwant\n%q", frame, want)
	}

	resp = NewResponse(req, SystemError, "disk \"full\"\\ \x01\x02\x1f\x7f é \xff")
	frame, err = AppendFrame(nil, resp)
	if err != nil {
		t.Fatal(err)
	}
	const wantHeader2 = `{"code":1,"flag":1,"language":"JAVA","opaque":42,` +
		`"remark":"disk \"full\"\\ \u0001\u0002\u001f` + "\x7f é " + `\ufffd",` +
		`"serializeTypeCurrentRPC":"JSON","version":479}`
	if want := frameOf(SerializeJSON, []byte(wantHeader2), nil); !bytes.Equal(frame, want) {
		t.Fatalf("frame\n%q\nwant\n%q", frame, want)
	}
}

// roundTripCommands are commands that must survive encoding and decoding in
// both serializations unchanged.
func roundTripCommands() []*Command {
	return []*Command{
		{Code: int32(HeartBeat), Language: LanguageGo, Version: 317, Opaque: 1},
		{Code: int32(SendMessage), Language: LanguageJava, Version: 479, Opaque: 1<<31 - 1, Flag: FlagOneway,
			ExtFields: Fields{{"producerGroup", "pg"}, {"topic", "TopicTest"}, {"properties", "KEYS\x01k1\x02TAGS\x01tag\x02"}},
			Body:      []byte("hello")},
		{Code: int32(PullNotFound), Language: LanguageNodeJS, Version: -1, Opaque: -5, Flag: FlagResponse,
			Remark: "no new message \u2603 \U0001F600", ExtFields: Fields{{"", ""}, {"dup", "1"}, {"dup", "2"}}},
		{Code: -32768, Language: 200, Version: 32767, Opaque: -1 << 31, Flag: -1,
			Remark: `quote " backslash \ slash / nul ` + "\x00 tab \t"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, typ := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		for i, c := range roundTripCommands() {
			c.Serialize = typ
			frame, err := AppendFrame(nil, c)
			if err != nil {
				t.Fatalf("%v #%d: encode: %v", typ, i, err)
			}
			got, err := DecodeFrame(frame)
			if err != nil {
				t.Fatalf("%v #%d: decode: %v", typ, i, err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("%v #%d: round trip\n got %+v\nwant %+v", typ, i, got, c)
			}
		}
	}
}

func TestAppendFrameHeaderThenBody(t *testing.T) {
	for _, typ := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		c := roundTripCommands()[1]
		c.Serialize = typ
		whole, err := AppendFrame([]byte("prefix"), c)
		if err != nil {
			t.Fatal(err)
		}
		split, err := AppendFrameHeader([]byte("prefix"), c, len(c.Body))
		if err != nil {
			t.Fatal(err)
		}
		split = append(split, c.Body...)
		if !bytes.Equal(whole, split) {
			t.Fatalf("%v: header+body\n%q\nwhole frame\n%q", typ, split, whole)
		}
	}
}

func TestDeframerByteByByte(t *testing.T) {
	var stream []byte
	cmds := roundTripCommands()
	for i, c := range cmds {
		c.Serialize = SerializeType(i % 2)
		var err error
		if stream, err = AppendFrame(stream, c); err != nil {
			t.Fatal(err)
		}
	}
	d := host.NewDeframer(Framer{})
	var got []*Command
	for i := range stream {
		err := d.Push(stream[i:i+1], func(frame []byte) {
			msg := Framer{}.Decode(frame)
			c, ok := msg.(*Command)
			if !ok {
				t.Fatalf("frame decoded to %v", msg)
			}
			got = append(got, c)
		})
		if err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if !reflect.DeepEqual(got, cmds) {
		t.Fatalf("got %v\nwant %v", got, cmds)
	}
	if d.Buffered() != 0 {
		t.Fatalf("%d bytes left over", d.Buffered())
	}
}

func TestFrameLen(t *testing.T) {
	be := func(words ...uint32) []byte {
		var b []byte
		for _, w := range words {
			b = binary.BigEndian.AppendUint32(b, w)
		}
		return b
	}
	tests := []struct {
		name    string
		max     int
		p       []byte
		want    int
		wantErr error
		msg     string
	}{
		{name: "empty", p: nil},
		{name: "3 bytes", p: []byte{0, 0, 1}},
		{name: "length only", p: be(4 + 10)},
		{name: "prefix", p: be(4+10, 10), want: 18},
		{name: "empty header", p: be(4, 0), want: 8},
		{name: "under minimum", p: be(3), wantErr: ErrMalformedFrame, msg: "remoting: frame length 7 under minimum 8"},
		{name: "zero", p: be(0), wantErr: ErrMalformedFrame},
		{name: "over default limit", p: be(32<<20 - 4), wantErr: ErrFrameTooLarge,
			msg: "remoting: frame length 33554432 over limit 16777216"},
		{name: "at default limit", p: be(16<<20-4, 0), want: 16 << 20},
		{name: "one over default limit", p: be(16<<20 - 3), wantErr: ErrFrameTooLarge},
		{name: "huge", p: be(0xffffffff), wantErr: ErrFrameTooLarge,
			msg: "remoting: frame length 4294967299 over limit 16777216"},
		{name: "custom limit", max: 100, p: be(97), wantErr: ErrFrameTooLarge},
		{name: "header beyond frame", p: be(4+10, 11), wantErr: ErrMalformedFrame,
			msg: "remoting: header length 11 beyond frame length 18"},
		{name: "type byte not part of header length", p: be(4+10, 1<<24|10), want: 18},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Framer{MaxFrameBytes: tt.max}.FrameLen(tt.p)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Fatalf("err = %q, want %q", err, tt.msg)
			}
			if n != tt.want {
				t.Fatalf("n = %d, want %d", n, tt.want)
			}
		})
	}
}

// A peer that announces a huge frame is refused as soon as the length field
// arrives: the Deframer buffers nothing.
func TestOversizedFrameRejectedBeforeBuffering(t *testing.T) {
	d := host.NewDeframer(Framer{})
	err := d.Push([]byte{0x7f, 0xff, 0xff, 0xff}, func([]byte) { t.Fatal("emitted a frame") })
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if d.Buffered() != 0 {
		t.Fatalf("buffered %d bytes", d.Buffered())
	}
	// And byte by byte: refused at the fourth byte.
	d = host.NewDeframer(Framer{MaxFrameBytes: 1024})
	for i, b := range []byte{0x00, 0x01, 0x00, 0x00} {
		err := d.Push([]byte{b}, func([]byte) { t.Fatal("emitted a frame") })
		if (i == 3) != (err != nil) {
			t.Fatalf("byte %d: err = %v", i, err)
		}
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	jsonFrame := func(h string) []byte { return frameOf(SerializeJSON, []byte(h), nil) }
	tests := []struct {
		name        string
		frame       []byte
		kind        error
		opaqueKnown bool
		flagKnown   bool
		opaque      int32
		msg         string
	}{
		{name: "shorter than prefix", frame: []byte{0, 0, 0, 4, 0, 0}, kind: ErrMalformedFrame},
		{name: "length field disagrees", frame: append(jsonFrame(`{}`), 'x'), kind: ErrMalformedFrame},
		{name: "header beyond frame", frame: []byte{0, 0, 0, 5, 0, 0, 0, 2, '{'}, kind: ErrMalformedFrame},
		{name: "unknown serialize type", frame: frameOf(2, []byte(`{}`), nil), kind: ErrMalformedFrame,
			msg: "remoting: unknown serialize type 2"},
		{name: "empty json header", frame: jsonFrame(``), kind: ErrMalformedHeader},
		{name: "json array", frame: jsonFrame(`[]`), kind: ErrMalformedHeader},
		{name: "bad json before opaque", frame: jsonFrame(`{"code":11,"language":"GO","version":x}`), kind: ErrMalformedHeader},
		{name: "bad extFields after opaque and flag",
			frame: jsonFrame(`{"code":11,"opaque":77,"flag":0,"extFields":{"a":[1]}}`), kind: ErrMalformedHeader,
			opaqueKnown: true, flagKnown: true, opaque: 77,
			msg: `remoting: json header at byte 49: unexpected '[', want a string, number, boolean or null extFields value`},
		{name: "truncated json", frame: jsonFrame(`{"code":11,"opaque":3,"flag":0`), kind: ErrMalformedHeader,
			opaqueKnown: true, flagKnown: true, opaque: 3},
		{name: "trailing garbage", frame: jsonFrame(`{"opaque":3,"flag":0} x`), kind: ErrMalformedHeader,
			opaqueKnown: true, flagKnown: true, opaque: 3, msg: "remoting: json header at byte 22: data after the header object"},
		{name: "short binary header", frame: frameOf(SerializeRocketMQ, make([]byte, 8), nil), kind: ErrMalformedHeader},
		{name: "binary remark overruns", frame: frameOf(SerializeRocketMQ,
			[]byte{0, 10, 9, 1, 61, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0}, nil), kind: ErrMalformedHeader,
			opaqueKnown: true, flagKnown: true, opaque: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := Framer{}.Decode(tt.frame)
			derr, ok := msg.(*DecodeError)
			if !ok {
				t.Fatalf("decoded to %+v", msg)
			}
			if !errors.Is(derr, tt.kind) {
				t.Fatalf("err = %v, want %v", derr, tt.kind)
			}
			if derr.OpaqueKnown != tt.opaqueKnown || derr.FlagKnown != tt.flagKnown || derr.Opaque != tt.opaque {
				t.Fatalf("known opaque=%v(%d) flag=%v; want %v(%d) %v", derr.OpaqueKnown, derr.Opaque, derr.FlagKnown,
					tt.opaqueKnown, tt.opaque, tt.flagKnown)
			}
			if tt.msg != "" && derr.Error() != tt.msg {
				t.Fatalf("err = %q, want %q", derr, tt.msg)
			}
		})
	}
}

func TestDecodeJSONHeader(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   *Command // nil: must fail
		errSub string
	}{
		{name: "java response", header: `{"code":0,"extFields":{"queueId":"1"},"flag":1,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}`,
			want: &Command{Flag: 1, Opaque: 1, Version: 479, ExtFields: Fields{{"queueId", "1"}}}},
		{name: "whitespace everywhere", header: " \t\r\n{ \"code\" : 34 ,\n\"extFields\" : { \"a\" : \"b\" } } \n",
			want: &Command{Code: 34, ExtFields: Fields{{"a", "b"}}}},
		{name: "empty object", header: `{}`, want: &Command{}},
		{name: "numbers and booleans in extFields are kept as text",
			header: `{"extFields":{"queueId":1,"offset":-12.5e3,"unitMode":true,"batch":false,"gone":null,"s":"x"}}`,
			want:   &Command{ExtFields: Fields{{"queueId", "1"}, {"offset", "-12.5e3"}, {"unitMode", "true"}, {"batch", "false"}, {"s", "x"}}}},
		{name: "null drops earlier duplicates", header: `{"extFields":{"a":"1","b":"2","a":"3","a":null}}`,
			want: &Command{ExtFields: Fields{{"b", "2"}}}},
		{name: "duplicate ext keys kept, last wins on Get", header: `{"extFields":{"a":"1","a":"2"}}`,
			want: &Command{ExtFields: Fields{{"a", "1"}, {"a", "2"}}}},
		{name: "extFields null", header: `{"extFields":null}`, want: &Command{}},
		{name: "second extFields replaces the first", header: `{"extFields":{"a":"1"},"extFields":{"b":"2"}}`,
			want: &Command{ExtFields: Fields{{"b", "2"}}}},
		{name: "language by number", header: `{"language":9}`, want: &Command{Language: LanguageGo}},
		{name: "unknown language name", header: `{"language":"COBOL"}`, want: &Command{Language: LanguageOther}},
		{name: "language escaped", header: `{"language":"\u0047O"}`, want: &Command{Language: LanguageGo}},
		{name: "language null", header: `{"language":null}`, want: &Command{}},
		{name: "language out of range", header: `{"language":256}`, errSub: "not a language code"},
		{name: "remark null", header: `{"remark":null}`, want: &Command{}},
		{name: "remark number", header: `{"remark":1}`, errSub: "want a string or null remark"},
		{name: "code null", header: `{"code":null,"opaque":null}`, want: &Command{}},
		{name: "int32 bounds", header: `{"code":-2147483648,"opaque":2147483647}`, want: &Command{Code: -1 << 31, Opaque: 1<<31 - 1}},
		{name: "int32 overflow", header: `{"opaque":2147483648}`, errSub: "opaque 2147483648 is not an int32"},
		{name: "fraction", header: `{"code":1.0}`, errSub: "code 1.0 is not an int32"},
		{name: "exponent", header: `{"code":1e2}`, errSub: "is not an int32"},
		{name: "leading zero", header: `{"code":01}`, errSub: "want ',' or '}'"},
		{name: "code as string", header: `{"code":"11"}`, errSub: "want a digit"},
		{name: "unknown keys skipped", header: `{"x":{"a":[1,2,{"b":null}],"c":"\"}"},"y":[],"z":{},"w":-0.5E+2,"code":10}`,
			want: &Command{Code: 10}},
		{name: "keys are case-sensitive", header: `{"Code":10}`, want: &Command{}},
		{name: "escaped key", header: `{"c\u006fde":10}`, want: &Command{Code: 10}},
		{name: "escapes", header: `{"remark":"\"\\\/\b\f\n\r\t\u0001\u00e9\u2603"}`,
			want: &Command{Remark: "\"\\/\b\f\n\r\t\x01é☃"}},
		{name: "surrogate pair", header: `{"remark":"\ud83d\ude00"}`, want: &Command{Remark: "😀"}},
		{name: "lone high surrogate", header: `{"remark":"\ud83dx"}`, want: &Command{Remark: "\uFFFDx"}},
		{name: "high surrogate then non-surrogate escape", header: `{"remark":"\ud83d\u0041"}`, want: &Command{Remark: "\uFFFDA"}},
		{name: "lone low surrogate", header: `{"remark":"\ude00"}`, want: &Command{Remark: "\uFFFD"}},
		{name: "invalid utf-8 replaced", header: "{\"remark\":\"a\xffb\xed\xa0\x80\"}", want: &Command{Remark: "a\uFFFDb\uFFFD\uFFFD\uFFFD"}},
		{name: "raw control character", header: "{\"remark\":\"a\x01\"}", errSub: "control character 0x01"},
		{name: "bad escape", header: `{"remark":"\x"}`, errSub: "invalid escape"},
		{name: "short unicode escape", header: `{"remark":"\u12"}`, errSub: `invalid \u escape`},
		{name: "unterminated string", header: `{"remark":"abc`, errSub: "unterminated string"},
		{name: "trailing comma", header: `{"code":1,}`, errSub: "want a quoted key"},
		{name: "nested value in extFields", header: `{"extFields":{"a":{}}}`, errSub: "extFields value"},
		{name: "bad literal", header: `{"x":tru}`, errSub: "want true"},
		{name: "unclosed skipped array", header: `{"x":[1,2}`, errSub: "want ',' or ']' in an array"},
		{name: "two objects", header: `{}{}`, errSub: "data after the header object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, derr := decodeJSONHeader([]byte(tt.header))
			if tt.want == nil {
				if derr == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				if !strings.Contains(derr.Error(), tt.errSub) {
					t.Fatalf("err = %q, want it to contain %q", derr, tt.errSub)
				}
				return
			}
			if derr != nil {
				t.Fatal(derr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The nesting limit is encoding/json's, with the header object as level 1.
func TestJSONNestingLimit(t *testing.T) {
	nested := func(levels int) []byte {
		return []byte(`{"x":` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `}`)
	}
	if _, derr := decodeJSONHeader(nested(maxJSONNestingDepth - 1)); derr != nil {
		t.Fatalf("depth %d: %v", maxJSONNestingDepth, derr)
	}
	if _, derr := decodeJSONHeader(nested(maxJSONNestingDepth)); derr == nil || !strings.Contains(derr.Error(), "nesting deeper") {
		t.Fatalf("depth %d: err = %v", maxJSONNestingDepth+1, derr)
	}
}

func TestMaxExtFields(t *testing.T) {
	fields := make(Fields, MaxExtFields+1)
	for i := range fields {
		fields[i] = Field{"k", "v"}
	}
	for _, typ := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		c := &Command{ExtFields: fields[:MaxExtFields], Serialize: typ}
		frame, err := AppendFrame(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeFrame(frame); err != nil {
			t.Fatalf("%v: %d fields: %v", typ, MaxExtFields, err)
		}
		c.ExtFields = fields
		frame, _ = AppendFrame(nil, c)
		if _, err := DecodeFrame(frame); err == nil || !strings.Contains(err.Error(), "more than 1024 extFields") {
			t.Fatalf("%v: %d fields: err = %v", typ, MaxExtFields+1, err)
		}
	}
}

func TestControlCharactersRoundTrip(t *testing.T) {
	props := "KEYS\x01order-1\x02TAGS\x01tagA\x02UNIQ_KEY\x01AC1100\x02"
	c := NewRequest(SendMessage, StrField("properties", props))
	frame, err := AppendFrame(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(frame, []byte(`KEYS\u0001order-1\u0002TAGS`)) {
		t.Fatalf("control characters not escaped as \\u00XX: %q", frame)
	}
	got, err := DecodeFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.ExtFields.Str("properties"); v != props {
		t.Fatalf("properties = %q, want %q", v, props)
	}
}

func TestDecodeBinaryHeaderErrors(t *testing.T) {
	valid := func() []byte {
		c := &Command{Code: 10, Opaque: 5, Remark: "r", ExtFields: Fields{{"k", "v"}}, Serialize: SerializeRocketMQ}
		frame, err := AppendFrame(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		return frame[8:]
	}
	// Layout of valid(): fixed 13 | remark len 4 @13 | "r" @17 | ext len 4 @18 |
	// key len 2 @22 | "k" @24 | value len 4 @25 | "v" @29.
	tests := []struct {
		name   string
		mutate func(h []byte) []byte
		errSub string
	}{
		{"negative remark length", func(h []byte) []byte { binary.BigEndian.PutUint32(h[13:], 0xffffffff); return h }, "remark length -1"},
		{"remark past end", func(h []byte) []byte { binary.BigEndian.PutUint32(h[13:], 100); return h }, "remark length 100"},
		{"ext length short", func(h []byte) []byte { binary.BigEndian.PutUint32(h[18:], 3); return h }, "extFields length 3, but 8 bytes remain"},
		{"ext length negative", func(h []byte) []byte { binary.BigEndian.PutUint32(h[18:], 0x80000000); return h }, "extFields length -2147483648"},
		{"negative key length", func(h []byte) []byte { binary.BigEndian.PutUint16(h[22:], 0x8000); return h }, "key length -32768"},
		{"key past end", func(h []byte) []byte { binary.BigEndian.PutUint16(h[22:], 6); return h }, "key length 6"},
		{"negative value length", func(h []byte) []byte { binary.BigEndian.PutUint32(h[25:], 0xfffffffe); return h }, "value length -2"},
		{"value past end", func(h []byte) []byte { binary.BigEndian.PutUint32(h[25:], 2); return h }, "value length 2"},
		{"entry cut short", func(h []byte) []byte {
			h = append(h, 0)
			binary.BigEndian.PutUint32(h[18:], 9)
			return h
		}, "key length cut short"},
		{"trailing byte after entries", func(h []byte) []byte { return append(h, 0) }, "extFields length 8, but 9 bytes remain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, derr := decodeBinaryHeader(tt.mutate(valid()))
			if derr == nil || !strings.Contains(derr.Error(), tt.errSub) {
				t.Fatalf("err = %v, want it to contain %q", derr, tt.errSub)
			}
			if !derr.OpaqueKnown || derr.Opaque != 5 || !derr.FlagKnown {
				t.Fatalf("opaque and flag should be known: %+v", derr)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		c    *Command
		body int
		msg  string
	}{
		{"binary code over 16 bits", &Command{Code: 70000, Serialize: SerializeRocketMQ}, 0,
			"remoting: code 70000 does not fit the binary header's 16 bits"},
		{"binary key over 32767 bytes", &Command{ExtFields: Fields{{strings.Repeat("k", 32768), ""}}, Serialize: SerializeRocketMQ}, 0,
			"remoting: extFields key of 32768 bytes over binary limit 32767"},
		{"header over 24 bits", &Command{Remark: strings.Repeat("r", MaxHeaderBytes)}, 0,
			"over limit 16777215"},
		{"unknown serialize type", &Command{Serialize: 7}, 0, "remoting: unknown serialize type 7"},
		{"negative body", &Command{}, -1, "remoting: negative body length -1"},
		{"frame over int32", &Command{}, 1<<31 - 1, "over int32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendFrameHeader(dst, tt.c, tt.body)
			if !errors.Is(err, ErrCannotEncode) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %q", err, tt.msg)
			}
			if string(out) != "keep" {
				t.Fatalf("dst changed to %q", out)
			}
		})
	}
}
