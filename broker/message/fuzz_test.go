package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Seeds for the record fuzzer: one record of each layout, a segment tail
// (record + blank + zeros), and a few broken ones.
func recordSeeds(t testing.TB) [][]byte {
	long := strings.Repeat("R", 140)
	var seeds [][]byte
	for _, s := range []struct {
		born, store netip.AddrPort
		topic       string
	}{
		{v4Born, v4Store, "TopicTest"},
		{v6Born, v4Store, "T"},
		{v4Born, v6Store, "%RETRY%g"},
		{v6Born, v6Store, long},
	} {
		seeds = append(seeds, encodeRecord(t, sampleRecord(s.born, s.store, s.topic, []byte("body bytes"))))
	}
	seg := append(bytes.Clone(seeds[0]), AppendBlank(nil, 16)...)
	seeds = append(seeds, append(seg, make([]byte, 8)...), make([]byte, 16), seeds[0][:50])
	return seeds
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range recordSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, n, err := Decode(p)
		hr, hn, herr := DecodeHeader(p)
		switch {
		case err == nil:
			if herr != nil || hn != n || !reflect.DeepEqual(hr, r) {
				t.Fatalf("Decode accepts, DecodeHeader says %v", herr)
			}
		case errors.Is(err, ErrBadCRC):
			if herr != nil {
				t.Fatalf("CRC failure, but DecodeHeader says %v", herr)
			}
		default:
			// Only the CRC check is Decode's own.
			if herr == nil || herr.Error() != err.Error() || hn != n {
				t.Fatalf("Decode says %v, DecodeHeader %v", err, herr)
			}
		}
		if herr == nil {
			// The header path: whatever BODYCRC says, the record re-encodes
			// to its own bytes when that CRC is passed through. This reaches
			// far deeper than the full decode, which random bytes rarely
			// pass because of the CRC.
			dst := make([]byte, hn)
			if m, err := EncodeWithCRC(dst, &hr); err != nil || m != hn || !bytes.Equal(dst, p[:hn]) {
				t.Fatalf("header re-encode: n=%d err=%v\n got %x\nwant %x", m, err, dst, p[:hn])
			}
		}
		if err != nil {
			return
		}
		if n < MinRecordSize || n > len(p) || int32(n) != r.TotalSize {
			t.Fatalf("n = %d, TotalSize %d, len %d", n, r.TotalSize, len(p))
		}
		// An accepted record re-encodes to exactly the bytes it came from.
		if got := EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag); got != n {
			t.Fatalf("EncodedSize %d, record is %d bytes", got, n)
		}
		dst := make([]byte, n)
		m, err := Encode(dst, &r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if m != n || !bytes.Equal(dst, p[:n]) {
			t.Fatalf("re-encode differs\n got %x\nwant %x", dst, p[:n])
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	b, _ := AppendBatchMember(nil, 1, []byte("first"), []byte("TAGS\x01a\x02"))
	b, _ = AppendBatchMember(b, -1, nil, nil)
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte{})
	f.Add(make([]byte, 22))
	f.Fuzz(func(t *testing.T, body []byte) {
		count, verr := ValidateBatch(body)
		var out []byte
		visits := 0
		err := DecodeBatch(body, func(m BatchMember) error {
			if m.Index != visits {
				t.Fatalf("index %d at visit %d", m.Index, visits)
			}
			visits++
			var e error
			out, e = AppendBatchMember(out, m.Flag, m.Body, m.Properties)
			return e
		})
		if (err == nil) != (verr == nil) {
			t.Fatalf("DecodeBatch %v, ValidateBatch %v", err, verr)
		}
		if err != nil {
			if !errors.Is(err, ErrBadBatch) || visits != 0 {
				t.Fatalf("err %v after %d visits", err, visits)
			}
			return
		}
		if visits != count {
			t.Fatalf("%d visits, %d members", visits, count)
		}
		// Re-encoding the members gives the body back, MAGICCODE and
		// BODYCRC aside (ignored on input, written as 0).
		want := bytes.Clone(body)
		for off := 0; off < len(want); off += int(binary.BigEndian.Uint32(want[off:])) {
			clear(want[off+4 : off+12])
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("re-encode differs\n got %x\nwant %x", out, want)
		}
	})
}

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{
		"", "TAGS\x01tagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C0A8\x02",
		"k\x01v\x01w\x02", "a\x01\x02\x01b\x02k\x01a\x02k\x01b", "\x02\x02\x01\x01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := ParseProperties(s)
		if !reflect.DeepEqual(asMap(p), javaParse(s)) {
			t.Fatalf("ParseProperties(%q) = %q, Java reads %q", s, p, javaParse(s))
		}
		for _, kv := range p {
			if kv.Key == "" || kv.Value == "" || strings.ContainsAny(kv.Key, "\x01\x02") || strings.Contains(kv.Value, "\x02") {
				t.Fatalf("parsed an impossible pair %q", kv)
			}
			if v, ok := LookupProperty([]byte(s), kv.Key); !ok || string(v) != kv.Value {
				t.Fatalf("LookupProperty(%q) = %q, ParseProperties %q", kv.Key, v, kv.Value)
			}
		}
		enc, err := AppendProperties(nil, p)
		if err != nil {
			// Only a value with 0x01 (Java keeps it, we do not write it)
			// can make a parsed list unencodable; s is too short to exceed
			// the size limit unless the fuzzer grows it that far.
			hasSOH := false
			for _, kv := range p {
				hasSOH = hasSOH || strings.Contains(kv.Value, "\x01")
			}
			if !(errors.Is(err, ErrBadProperty) && hasSOH) && !errors.Is(err, ErrPropertiesTooLong) {
				t.Fatalf("a parsed list does not encode: %v", err)
			}
			return
		}
		if again := ParseProperties(string(enc)); !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip: %q -> %q -> %q", p, enc, again)
		}
		if len(enc) != p.EncodedLen() {
			t.Fatal("EncodedLen")
		}
	})
}

func FuzzParseOffsetMsgID(f *testing.F) {
	f.Add("0A00C07A00002A9F0000000000000000")
	f.Add(strings.Repeat("f", 56))
	f.Add(strings.Repeat("0", 40))
	f.Fuzz(func(t *testing.T, s string) {
		h, off, err := ParseOffsetMsgID(s)
		if err != nil {
			return
		}
		if got := OffsetMsgID(h, off); !strings.EqualFold(got, s) {
			t.Fatalf("%q parses to %v %d, which prints as %q", s, h, off, got)
		}
	})
}

// FuzzRecordRoundTrip drives Encode from structured input: whatever it
// accepts, Decode must read back field for field.
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add([]byte("body"), "TopicTest", []byte("TAGS\x01a\x02"), int32(SysFlagCompressed), int64(7), []byte{10, 0, 0, 1}, uint16(1), []byte{10, 0, 0, 2}, uint16(10911))
	f.Add([]byte{}, strings.Repeat("t", 128), []byte{}, int32(-1), int64(-1), make([]byte, 16), uint16(0), make([]byte, 16), uint16(65535))
	f.Fuzz(func(t *testing.T, body []byte, topic string, props []byte, sysFlag int32, qoff int64, bornIP []byte, bornPort uint16, storeIP []byte, storePort uint16) {
		host := func(ip []byte, port uint16) netip.AddrPort {
			a, _ := netip.AddrFromSlice(ip)
			return netip.AddrPortFrom(a, port)
		}
		r := Record{
			QueueID: int32(qoff >> 7), Flag: int32(qoff), QueueOffset: qoff, PhysicalOffset: ^qoff,
			SysFlag: sysFlag, BornTimestamp: qoff * 3, BornHost: host(bornIP, bornPort),
			StoreTimestamp: qoff ^ 0x5555, StoreHost: host(storeIP, storePort), ReconsumeTimes: sysFlag >> 3,
			PreparedTransactionOffset: qoff + 1, Body: body, Topic: topic, Properties: props,
		}
		size := EncodedSize(len(body), len(topic), len(props), sysFlag)
		dst := make([]byte, size+3)
		n, err := Encode(dst, &r)
		if err != nil {
			return
		}
		if n != size {
			t.Fatalf("wrote %d, EncodedSize %d", n, size)
		}
		got, m, err := Decode(dst)
		if err != nil || m != n {
			t.Fatalf("Decode of an encoded record: n=%d err=%v", m, err)
		}
		r.TotalSize, r.BodyCRC = int32(n), BodyCRC(body)
		r.Magic = MagicV1
		if len(topic) > MaxTopicBytesV1 {
			r.Magic = MagicV2
		}
		checkRecordEqual(t, got, r)
	})
}
