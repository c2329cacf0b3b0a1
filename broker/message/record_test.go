package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var (
	v4Born  = netip.MustParseAddrPort("192.168.1.20:53124")
	v4Store = netip.MustParseAddrPort("10.0.0.7:10911")
	v6Born  = netip.MustParseAddrPort("[2001:db8::1:2]:40000")
	v6Store = netip.MustParseAddrPort("[fe80::aa:bb]:10911")
)

func sampleRecord(born, store netip.AddrPort, topic string, body []byte) Record {
	props, err := AppendProperties(nil, Properties{
		{PropertyTags, "TagA"},
		{PropertyKeys, "k1 k2"},
		{PropertyUniqKey, "C0A8011400002A9F0000000000001234"},
	})
	if err != nil {
		panic(err)
	}
	return Record{
		QueueID:                   3,
		Flag:                      -7,
		QueueOffset:               1<<40 + 5,
		PhysicalOffset:            1<<33 + 123,
		SysFlag:                   SysFlagCompressed | SysFlagTransactionCommit | HostFlags(born, store),
		BornTimestamp:             1735689600123,
		BornHost:                  born,
		StoreTimestamp:            1735689600456,
		StoreHost:                 store,
		ReconsumeTimes:            2,
		PreparedTransactionOffset: 4096,
		Body:                      body,
		Topic:                     topic,
		Properties:                props,
	}
}

// refEncode writes a record field by field straight from the table in §5.1
// of the protocol notes, with none of Encode's position arithmetic, to
// cross-check it.
func refEncode(r Record) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.BigEndian, v) }
	host := func(h netip.AddrPort) {
		if h.Addr().Is4() {
			a := h.Addr().As4()
			b.Write(a[:])
		} else {
			a := h.Addr().As16()
			b.Write(a[:])
		}
		w(int32(h.Port()))
	}
	w(int32(0)) // TOTALSIZE, patched below
	if len(r.Topic) > 127 {
		w(uint32(0xDAA320AB))
	} else {
		w(uint32(0xDAA320A7))
	}
	w(int32(crc32.ChecksumIEEE(r.Body) & 0x7fffffff))
	w(r.QueueID)
	w(r.Flag)
	w(r.QueueOffset)
	w(r.PhysicalOffset)
	w(r.SysFlag)
	w(r.BornTimestamp)
	host(r.BornHost)
	w(r.StoreTimestamp)
	host(r.StoreHost)
	w(r.ReconsumeTimes)
	w(r.PreparedTransactionOffset)
	w(int32(len(r.Body)))
	b.Write(r.Body)
	if len(r.Topic) > 127 {
		w(int16(len(r.Topic)))
	} else {
		w(uint8(len(r.Topic)))
	}
	b.WriteString(r.Topic)
	w(int16(len(r.Properties)))
	b.Write(r.Properties)
	out := b.Bytes()
	binary.BigEndian.PutUint32(out, uint32(len(out)))
	return out
}

func u32(v int32) uint32 { return uint32(v) }

func encodeRecord(t testing.TB, r Record) []byte {
	t.Helper()
	size := EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag)
	dst := make([]byte, size)
	n, err := Encode(dst, &r)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if n != size {
		t.Fatalf("Encode wrote %d bytes, EncodedSize says %d", n, size)
	}
	return dst
}

func TestMagicValues(t *testing.T) {
	// The Java constants, as signed ints.
	if MagicV1 != -626843481 || MagicV2 != -626843477 || BlankMagic != -875286124 {
		t.Fatalf("magic codes: %d %d %d", MagicV1, MagicV2, BlankMagic)
	}
	if u32(BlankMagic) != blankMagicBits {
		t.Fatal("blankMagicBits disagrees with BlankMagic")
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	long := strings.Repeat("L", 200)
	cases := []struct {
		name        string
		born, store netip.AddrPort
		topic       string
		body        []byte
		size        int
	}{
		{"v4/v4", v4Born, v4Store, "TopicTest", []byte("hello"), 91 + 5 + 9},
		{"v6 born", v6Born, v4Store, "TopicTest", []byte("hello"), 91 + 12 + 5 + 9},
		{"v6 store", v4Born, v6Store, "TopicTest", []byte("hello"), 91 + 12 + 5 + 9},
		{"v6/v6", v6Born, v6Store, "TopicTest", []byte("hello"), 91 + 24 + 5 + 9},
		{"4in6 born", netip.MustParseAddrPort("[::ffff:1.2.3.4]:1"), v4Store, "T", nil, 91 + 12 + 1},
		{"empty body", v4Born, v4Store, "T", nil, 91 + 1},
		{"topic 127 is V1", v4Born, v4Store, long[:127], []byte("x"), 91 + 1 + 127},
		{"topic 128 is V2", v4Born, v4Store, long[:128], []byte("x"), 92 + 1 + 128},
		{"topic 200 v6 V2", v6Born, v6Store, long, []byte("x"), 92 + 24 + 1 + 200},
		{"1 KiB body", v4Born, v4Store, "TopicTest", bytes.Repeat([]byte{0xAB}, 1024), 91 + 1024 + 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRecord(tc.born, tc.store, tc.topic, tc.body)
			b := encodeRecord(t, r)
			if want := tc.size + len(r.Properties); len(b) != want {
				t.Fatalf("size %d, want %d", len(b), want)
			}
			if ref := refEncode(r); !bytes.Equal(b, ref) {
				t.Fatalf("Encode differs from the reference layout\n got %x\nwant %x", b, ref)
			}
			got, n, err := Decode(b)
			if err != nil || n != len(b) {
				t.Fatalf("Decode: n=%d err=%v", n, err)
			}
			want := r
			want.TotalSize = int32(len(b))
			want.Magic = MagicV1
			if len(r.Topic) > 127 {
				want.Magic = MagicV2
			}
			want.BodyCRC = BodyCRC(r.Body)
			checkRecordEqual(t, got, want)
			// Decode, then encode again: identical bytes.
			if again := encodeRecord(t, got); !bytes.Equal(again, b) {
				t.Fatal("re-encoding a decoded record changed its bytes")
			}
		})
	}
}

func checkRecordEqual(t *testing.T, got, want Record) {
	t.Helper()
	if !bytes.Equal(got.Body, want.Body) || !bytes.Equal(got.Properties, want.Properties) {
		t.Errorf("body or properties differ: %q %q vs %q %q", got.Body, got.Properties, want.Body, want.Properties)
	}
	got.Body, want.Body, got.Properties, want.Properties = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("record differs\n got %+v\nwant %+v", got, want)
	}
}

func TestFieldPositions(t *testing.T) {
	r := sampleRecord(v4Born, v4Store, "T", []byte("b"))
	b := encodeRecord(t, r)
	be := binary.BigEndian
	if int64(be.Uint64(b[QueueOffsetPosition:])) != r.QueueOffset ||
		int64(be.Uint64(b[PhysicalOffsetPosition:])) != r.PhysicalOffset ||
		int32(be.Uint32(b[SysFlagPosition:])) != r.SysFlag ||
		int32(be.Uint32(b[FlagPosition:])) != r.Flag ||
		int64(be.Uint64(b[StoreTimestampPosition:])) != r.StoreTimestamp ||
		int32(be.Uint32(b[BodyLengthPos(r.SysFlag):])) != 1 {
		t.Fatal("a fixed field is not at its documented position")
	}
	r6 := sampleRecord(v6Born, v6Store, "T", []byte("b"))
	b6 := encodeRecord(t, r6)
	if int64(be.Uint64(b6[StoreTimestampPositionV6:])) != r6.StoreTimestamp ||
		int32(be.Uint32(b6[BodyLengthPos(r6.SysFlag):])) != 1 || BodyLengthPos(r6.SysFlag) != 84+24 {
		t.Fatal("IPv6 positions wrong")
	}
}

func TestPatchers(t *testing.T) {
	for _, hosts := range [][2]netip.AddrPort{{v4Born, v4Store}, {v6Born, v4Store}, {v4Born, v6Store}, {v6Born, v6Store}} {
		r := sampleRecord(hosts[0], hosts[1], "TopicTest", []byte("body"))
		b := encodeRecord(t, r)
		PutQueueOffset(b, 77)
		PutPhysicalOffset(b, 1<<50)
		PutStoreTimestamp(b, -5)
		got, _, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.QueueOffset != 77 || got.PhysicalOffset != 1<<50 || got.StoreTimestamp != -5 {
			t.Fatalf("%v: patched fields read back as %d %d %d", hosts, got.QueueOffset, got.PhysicalOffset, got.StoreTimestamp)
		}
		if got.BornHost != r.BornHost || got.StoreHost != r.StoreHost || got.BornTimestamp != r.BornTimestamp {
			t.Fatalf("%v: a patcher clobbered a neighbour", hosts)
		}
	}
}

func TestEncodeWithCRC(t *testing.T) {
	r := sampleRecord(v4Born, v4Store, "T", []byte("payload"))
	r.BodyCRC = BodyCRC(r.Body)
	dst := make([]byte, 512)
	n, err := EncodeWithCRC(dst, &r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst[:n], encodeRecord(t, r)) {
		t.Fatal("EncodeWithCRC with the right CRC differs from Encode")
	}
	r.BodyCRC++
	n, _ = EncodeWithCRC(dst, &r)
	if _, _, err := Decode(dst[:n]); !errors.Is(err, ErrBadCRC) {
		t.Fatalf("wrong precomputed CRC: got %v, want ErrBadCRC", err)
	}
	if _, _, err := DecodeHeader(dst[:n]); err != nil {
		t.Fatalf("DecodeHeader checks no CRC, got %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := sampleRecord(v4Born, v4Store, "T", []byte("x"))
	cases := []struct {
		name string
		mut  func(r *Record)
		dst  int
		want error
	}{
		{"empty topic", func(r *Record) { r.Topic = "" }, 1024, ErrTopicLength},
		{"topic too long", func(r *Record) { r.Topic = strings.Repeat("a", MaxTopicBytesV2+1) }, 1 << 16, ErrTopicLength},
		{"properties too long", func(r *Record) { r.Properties = make([]byte, MaxPropertiesBytes+1) }, 1 << 16, ErrPropertiesTooLong},
		{"zero born host", func(r *Record) { r.BornHost = netip.AddrPort{} }, 1024, ErrBadHost},
		{"v6 host, v4 flag", func(r *Record) { r.StoreHost = v6Store }, 1024, ErrBadHost},
		{"v4 host, v6 flag", func(r *Record) { r.SysFlag |= SysFlagBornHostV6 }, 1024, ErrBadHost},
		{"dst too small", func(r *Record) {}, 50, ErrShortDst},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.mut(&r)
			dst := bytes.Repeat([]byte{0xEE}, tc.dst)
			n, err := Encode(dst, &r)
			if !errors.Is(err, tc.want) || n != 0 {
				t.Fatalf("got n=%d err=%v, want %v", n, err, tc.want)
			}
			for _, c := range dst {
				if c != 0xEE {
					t.Fatal("Encode wrote into dst despite failing")
				}
			}
		})
	}
}

// mutate returns a copy of b with fn applied.
func mutate(b []byte, fn func(b []byte)) []byte {
	c := bytes.Clone(b)
	fn(c)
	return c
}

func TestDecodeErrors(t *testing.T) {
	good := encodeRecord(t, sampleRecord(v4Born, v4Store, "TopicTest", []byte("hello")))
	be := binary.BigEndian
	bodyPos := BodyLengthPos(0) + 4
	topicLenPos := bodyPos + 5
	propsLenPos := topicLenPos + 1 + len("TopicTest")
	v2 := encodeRecord(t, sampleRecord(v4Born, v4Store, strings.Repeat("t", 130), nil))

	cases := []struct {
		name  string
		in    []byte
		want  error
		wantN int
	}{
		{"empty", nil, ErrShortBuffer, 0},
		{"7 bytes", good[:7], ErrShortBuffer, 0},
		{"torn: half a record", good[:len(good)/2], ErrShortBuffer, 0},
		{"torn: one byte short", good[:len(good)-1], ErrShortBuffer, 0},
		{"zeros", make([]byte, 100), ErrNoRecord, 0},
		{"blank", AppendBlank(nil, 4096), ErrBlank, 4096},
		{"blank too small", mutate(AppendBlank(nil, 8), func(b []byte) { be.PutUint32(b, 7) }), ErrBadSize, 0},
		{"bad magic", mutate(good, func(b []byte) { b[MagicPosition] ^= 1 }), ErrBadMagic, 0},
		{"zero magic, nonzero size", mutate(good, func(b []byte) { be.PutUint32(b[MagicPosition:], 0) }), ErrBadMagic, 0},
		{"negative size", mutate(good, func(b []byte) { be.PutUint32(b, 0x80000000) }), ErrBadSize, 0},
		{"size below minimum", mutate(good, func(b []byte) { be.PutUint32(b, 90) }), ErrBadSize, 0},
		{"size one short (slack)", mutate(good, func(b []byte) { be.PutUint32(b, uint32(len(good)-1)) }), ErrBadSize, 0},
		{"size beyond buffer", mutate(good, func(b []byte) { be.PutUint32(b, uint32(len(good)+1)) }), ErrShortBuffer, 0},
		{"negative body length", mutate(good, func(b []byte) { be.PutUint32(b[bodyPos-4:], 0xFFFFFFFF) }), ErrBadSize, 0},
		{"body length too long", mutate(good, func(b []byte) { be.PutUint32(b[bodyPos-4:], 1000) }), ErrBadSize, 0},
		{"body length one short", mutate(good, func(b []byte) { be.PutUint32(b[bodyPos-4:], 4) }), ErrBadSize, 0},
		{"empty topic", mutate(good, func(b []byte) { b[topicLenPos] = 0 }), ErrBadSize, 0},
		{"V1 topic length above 127", mutate(good, func(b []byte) { b[topicLenPos] = 200 }), ErrBadSize, 0},
		{"topic length too long", mutate(good, func(b []byte) { b[topicLenPos] = 100 }), ErrBadSize, 0},
		{"negative properties length", mutate(good, func(b []byte) { be.PutUint16(b[propsLenPos:], 0x8000) }), ErrBadSize, 0},
		{"properties length short", mutate(good, func(b []byte) { be.PutUint16(b[propsLenPos:], be.Uint16(b[propsLenPos:])-1) }), ErrBadSize, 0},
		{"v6 flag on v4 record", mutate(good, func(b []byte) { b[SysFlagPosition+3] |= SysFlagStoreHostV6 }), ErrBadSize, 0},
		{"born port > 65535", mutate(good, func(b []byte) { be.PutUint32(b[BornHostPosition+4:], 70000) }), ErrBadHost, 0},
		{"store port negative", mutate(good, func(b []byte) { be.PutUint32(b[64+4:], 0xFFFFFFFF) }), ErrBadHost, 0},
		{"V2 magic on a short topic", mutate(good, func(b []byte) { be.PutUint32(b[MagicPosition:], u32(MagicV2)) }), ErrBadSize, 0},
		{"V1 magic on a V2 record", mutate(v2, func(b []byte) { be.PutUint32(b[MagicPosition:], u32(MagicV1)) }), ErrBadSize, 0},
		{"body CRC", mutate(good, func(b []byte) { b[bodyPos] ^= 0x20 }), ErrBadCRC, len(good)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if n != tc.wantN {
				t.Fatalf("n = %d, want %d", n, tc.wantN)
			}
			if !strings.HasPrefix(err.Error(), "message: ") {
				t.Fatalf("error %q does not name the package", err)
			}
		})
	}
}

func TestDecodeV2ShortTopicRejected(t *testing.T) {
	// A hand-made V2 record with a 3-byte topic: well framed, but Encode
	// would write V1, so Decode refuses it to keep decode/encode identity.
	r := sampleRecord(v4Born, v4Store, "abc", []byte("x"))
	v1 := encodeRecord(t, r)
	tl := BodyLengthPos(r.SysFlag) + 4 + 1
	var b []byte
	b = append(b, v1[:tl]...)
	b = append(b, 0, 3)
	b = append(b, v1[tl+1:]...)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	binary.BigEndian.PutUint32(b[MagicPosition:], u32(MagicV2))
	if _, _, err := Decode(b); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("got %v, want ErrBadMagic", err)
	}
}

func TestDecodeSequence(t *testing.T) {
	// A segment: records back to back, a blank, then zero fill.
	var seg []byte
	var want []Record
	for i, topic := range []string{"A", "BB", strings.Repeat("C", 150)} {
		r := sampleRecord(v4Born, v6Store, topic, bytes.Repeat([]byte{byte(i)}, i*10))
		r.PhysicalOffset = int64(len(seg))
		want = append(want, r)
		seg = append(seg, encodeRecord(t, r)...)
	}
	blankAt := len(seg)
	seg = AppendBlank(seg, 64)
	seg = append(seg, make([]byte, 56)...)
	seg = append(seg, make([]byte, 64)...) // next segment: zero filled

	pos, i := 0, 0
	for {
		r, n, err := Decode(seg[pos:])
		if errors.Is(err, ErrBlank) {
			if pos != blankAt || n != 64 {
				t.Fatalf("blank at %d size %d", pos, n)
			}
			pos += n
			continue
		}
		if errors.Is(err, ErrNoRecord) {
			break
		}
		if err != nil {
			t.Fatalf("record %d at %d: %v", i, pos, err)
		}
		if r.PhysicalOffset != int64(pos) || r.Topic != want[i].Topic || !bytes.Equal(r.Body, want[i].Body) {
			t.Fatalf("record %d mismatch", i)
		}
		pos += n
		i++
	}
	if i != 3 || pos != blankAt+64 {
		t.Fatalf("read %d records, stopped at %d", i, pos)
	}
}

func TestDecodeAliasing(t *testing.T) {
	b := encodeRecord(t, sampleRecord(v4Born, v4Store, "T", []byte("abc")))
	r, _, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	// Appending to a decoded slice must not overwrite the following field.
	before := bytes.Clone(b)
	_ = append(r.Body, 'Z')
	_ = append(r.Properties, 'Z')
	if !bytes.Equal(b, before) {
		t.Fatal("append to a decoded slice wrote into the record")
	}
}

func TestBlank(t *testing.T) {
	seg := bytes.Repeat([]byte{0xFF}, 40)
	n, err := EncodeBlank(seg)
	if err != nil || n != BlankSize {
		t.Fatalf("EncodeBlank: %d %v", n, err)
	}
	if !bytes.Equal(seg[:8], AppendBlank(nil, 40)) {
		t.Fatal("EncodeBlank and AppendBlank disagree")
	}
	if !bytes.Equal(seg[:8], []byte{0, 0, 0, 40, 0xCB, 0xD4, 0x31, 0x94}) {
		t.Fatalf("blank bytes %x", seg[:8])
	}
	if _, n, err := Decode(seg); !errors.Is(err, ErrBlank) || n != 40 {
		t.Fatalf("Decode(blank) = %d %v", n, err)
	}
	if _, err := EncodeBlank(make([]byte, 7)); !errors.Is(err, ErrShortDst) {
		t.Fatalf("short blank: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AppendBlank(7) did not panic")
		}
	}()
	AppendBlank(nil, 7)
}

func TestRecordProperties(t *testing.T) {
	r := sampleRecord(v4Born, v4Store, "T", nil)
	if v, ok := r.Property(PropertyTags); !ok || v != "TagA" {
		t.Fatalf("Property(TAGS) = %q %v", v, ok)
	}
	if _, ok := r.Property("NOPE"); ok {
		t.Fatal("found a missing key")
	}
	p := r.ParsedProperties()
	if len(p) != 3 || p[1] != (Property{PropertyKeys, "k1 k2"}) {
		t.Fatalf("ParsedProperties = %v", p)
	}
}

func TestTransactionType(t *testing.T) {
	f := int32(SysFlagCompressed | SysFlagTransactionPrepared | SysFlagBornHostV6)
	if TransactionType(f) != SysFlagTransactionPrepared {
		t.Fatal("TransactionType")
	}
	g := WithTransactionType(f, SysFlagTransactionNot)
	if g != SysFlagCompressed|SysFlagBornHostV6 {
		t.Fatalf("WithTransactionType = %#x", g)
	}
	if WithTransactionType(g, SysFlagTransactionRollback) != g|0xC {
		t.Fatal("WithTransactionType rollback")
	}
}

func TestEncodeAllocs(t *testing.T) {
	r := sampleRecord(v6Born, v4Store, "TopicTest", make([]byte, 1024))
	dst := make([]byte, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Encode(dst, &r); err != nil {
			t.Fatal(err)
		}
		PutQueueOffset(dst, 1)
		PutPhysicalOffset(dst, 2)
		PutStoreTimestamp(dst, 3)
	})
	if allocs != 0 {
		t.Fatalf("Encode allocates %v times per call", allocs)
	}
}

func BenchmarkEncode(b *testing.B) {
	r := sampleRecord(v4Born, v4Store, "TopicTest", bytes.Repeat([]byte("x"), 1024))
	size := EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag)
	dst := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(dst, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeWithCRC(b *testing.B) {
	r := sampleRecord(v4Born, v4Store, "TopicTest", bytes.Repeat([]byte("x"), 1024))
	r.BodyCRC = BodyCRC(r.Body)
	size := EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag)
	dst := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeWithCRC(dst, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	rec := encodeRecord(b, sampleRecord(v4Born, v4Store, "TopicTest", bytes.Repeat([]byte("x"), 1024)))
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeHeader(b *testing.B) {
	rec := encodeRecord(b, sampleRecord(v4Born, v4Store, "TopicTest", bytes.Repeat([]byte("x"), 1024)))
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeHeader(rec); err != nil {
			b.Fatal(err)
		}
	}
}
