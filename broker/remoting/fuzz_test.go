package remoting

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/thrustmq/thrust/broker/host"
)

// fuzzSeedFrames are whole frames: every round-trip command in both
// serializations, the Go client's pull, and a few malformed ones.
func fuzzSeedFrames(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, typ := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		for _, c := range roundTripCommands() {
			c.Serialize = typ
			frame, err := AppendFrame(nil, c)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, frame)
		}
	}
	seeds = append(seeds,
		frameOf(SerializeJSON, []byte(goPullHeader), nil),
		frameOf(SerializeJSON, []byte(`{"code":10,"opaque":3,"flag":0,"extFields":{"n":1,"b":true,"z":null}}`), []byte("body")),
		frameOf(SerializeJSON, []byte(`{"opaque":3,"x":[{"y":"\ud83d\ude00"}]}`), nil),
		frameOf(2, []byte(`{}`), nil),
		[]byte{0, 0, 0, 4, 0, 0, 0, 0},
		[]byte{0xff, 0xff, 0xff, 0xff},
	)
	return seeds
}

// FuzzFrame feeds arbitrary bytes through the Deframer and Decode, whole and
// byte by byte. Nothing may panic; both feeds must agree; every command that
// decodes must re-encode and decode to itself.
func FuzzFrame(f *testing.F) {
	for _, s := range fuzzSeedFrames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		framer := Framer{MaxFrameBytes: 1 << 20}
		var whole, split []any
		errWhole := host.NewDeframer(framer).Push(data, func(frame []byte) {
			whole = append(whole, framer.Decode(frame))
		})
		d := host.NewDeframer(framer)
		var errSplit error
		for i := 0; i < len(data) && errSplit == nil; i++ {
			errSplit = d.Push(data[i:i+1], func(frame []byte) {
				split = append(split, framer.Decode(frame))
			})
		}
		if (errWhole == nil) != (errSplit == nil) || !reflect.DeepEqual(whole, split) {
			t.Fatalf("whole feed: %v %v\nbyte feed: %v %v", whole, errWhole, split, errSplit)
		}
		for _, msg := range whole {
			switch m := msg.(type) {
			case *DecodeError:
				if !errors.Is(m, ErrMalformedFrame) && !errors.Is(m, ErrMalformedHeader) {
					t.Fatalf("decode error of no known kind: %v", m)
				}
			case *Command:
				frame, err := AppendFrame(nil, m)
				if err != nil {
					t.Fatalf("re-encode %v: %v", m, err)
				}
				again, err := DecodeFrame(frame)
				if err != nil {
					t.Fatalf("decode of re-encoded %v: %v\nframe %q", m, err, frame)
				}
				if !reflect.DeepEqual(again, m) {
					t.Fatalf("round trip\n got %+v\nwant %+v", again, m)
				}
			default:
				t.Fatalf("Decode returned %T", msg)
			}
		}
	})
}

// stdHeader is what encoding/json makes of a header, when the header is a
// JSON object with no repeated key whose known fields each decode into the
// types they have in the Go client (or, for language, a name or a byte).
type stdHeader struct {
	code, version, opaque, flag int32
	language                    LanguageCode
	remark                      string
	ext                         map[string]*string
}

func decodeStdHeader(data []byte) (h stdHeader, ok bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || top == nil {
		return h, false
	}
	// encoding/json lets a repeated key override silently, and so does our
	// decoder, but only ours looks at the overridden value: exclude them.
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return h, false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		if err != nil || !isKey || seen[key] {
			return h, false
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return h, false
		}
	}
	ints := map[string]*int32{"code": &h.code, "version": &h.version, "opaque": &h.opaque, "flag": &h.flag}
	for key, dst := range ints {
		if raw, ok := top[key]; ok && json.Unmarshal(raw, dst) != nil {
			return h, false
		}
	}
	if raw, ok := top["language"]; ok {
		var name string
		var code uint8
		switch {
		case string(raw) == "null":
		case json.Unmarshal(raw, &name) == nil:
			var known bool
			if h.language, known = ParseLanguage(name); !known {
				h.language = LanguageOther
			}
		case json.Unmarshal(raw, &code) == nil && bytes.IndexAny(raw, ".eE") < 0:
			h.language = LanguageCode(code)
		default:
			return h, false
		}
	}
	if raw, ok := top["remark"]; ok {
		var remark *string
		if json.Unmarshal(raw, &remark) != nil {
			return h, false
		}
		if remark != nil {
			h.remark = *remark
		}
	}
	if raw, ok := top["extFields"]; ok && json.Unmarshal(raw, &h.ext) != nil {
		return h, false
	}
	return h, true
}

// FuzzJSONHeader checks the hand-written JSON decoder against encoding/json:
// it never panics; it accepts only valid JSON; where encoding/json reads the
// input as a header, both agree on every field; and what it decodes
// re-encodes and decodes to itself.
func FuzzJSONHeader(f *testing.F) {
	f.Add([]byte(goPullHeader))
	f.Add([]byte(`{"code":0,"extFields":{"queueId":"1"},"flag":1,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}`))
	f.Add([]byte(`{"extFields":{"a":1,"b":true,"c":null,"a":"x"},"language":9,"remark":null}`))
	f.Add([]byte(`{"extFields":{"a":"1","b":"2","a":null,"b":"3"}}`))
	f.Add([]byte(`{"remark":"\ud83d\ude00\ud83d\u0041\ude00 \u0001\u0002 \"\\\/\b\f\n\r\t","x":[[{}],{"y":[-0.5e+3,true,false,null]}]}`))
	f.Add([]byte("{\"remark\":\"\xff\xed\xa0\x80\xf0\x9f\x98\x80\"}"))
	f.Add([]byte(`{"c\u006fde":1,"Code":2,"opaque":-2147483648}`))
	f.Add([]byte(` {"flag":1} `))
	f.Add([]byte(`{"code":1.0}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, derr := decodeJSONHeader(data)
		if derr == nil && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON: %+v", got)
		}
		if want, ok := decodeStdHeader(data); ok {
			if derr != nil {
				t.Fatalf("encoding/json reads %+v; we fail: %v", want, derr)
			}
			if got.Code != want.code || got.Version != want.version || got.Opaque != want.opaque ||
				got.Flag != want.flag || got.Language != want.language || got.Remark != want.remark {
				t.Fatalf("fields differ\n got %+v\nwant %+v", got, want)
			}
			for key, v := range want.ext {
				value, has := got.ExtFields.Get(key)
				if (v == nil) == has || v != nil && *v != value {
					t.Fatalf("extFields[%q]: got %q (%v), want %v", key, value, has, v)
				}
			}
			for _, field := range got.ExtFields {
				if want.ext[field.Key] == nil {
					t.Fatalf("extFields[%q] = %q not in encoding/json's %v", field.Key, field.Value, want.ext)
				}
			}
		}
		if derr != nil {
			if !errors.Is(derr, ErrMalformedHeader) {
				t.Fatalf("error of the wrong kind: %v", derr)
			}
			return
		}
		enc := appendJSONHeader(nil, got)
		if !json.Valid(enc) {
			t.Fatalf("encoded invalid JSON %q", enc)
		}
		again, derr := decodeJSONHeader(enc)
		if derr != nil {
			t.Fatalf("decode of re-encoded %q: %v", enc, derr)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, got)
		}
	})
}

// FuzzBinaryHeader: the binary decoder never panics, and since the layout
// has exactly one encoding per command, whatever it accepts re-encodes to
// the very same bytes.
func FuzzBinaryHeader(f *testing.F) {
	for _, c := range roundTripCommands() {
		h, err := appendBinaryHeader(nil, c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h)
	}
	f.Add([]byte{0, 10, 9, 1, 61, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 10, 9, 1, 61, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 'k', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, derr := decodeBinaryHeader(data)
		if derr != nil {
			if !errors.Is(derr, ErrMalformedHeader) {
				t.Fatalf("error of the wrong kind: %v", derr)
			}
			return
		}
		enc, err := appendBinaryHeader(nil, got)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", got, err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded\n%q\nfrom\n%q", enc, data)
		}
	})
}
