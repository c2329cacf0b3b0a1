package message

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"
)

// Record is one stored message record (§5.1), field for field.
//
// Encode reads it and never retains it. Decode fills it; its Body and
// Properties then alias the decoded buffer (copy them to keep them past the
// buffer's life, which for a mapped segment ends when the segment is
// unmapped), while Topic is a copy.
type Record struct {
	// TotalSize and Magic are outputs: Decode reports what it read, Encode
	// ignores them and derives both (the magic is V1 exactly when the topic
	// fits MaxTopicBytesV1).
	TotalSize int32
	Magic     int32
	// BodyCRC is BodyCRC(Body). Encode computes it and ignores this field;
	// EncodeWithCRC trusts it, for callers that computed it off the loop.
	BodyCRC int32

	QueueID int32
	// Flag is the producer's user flag.
	Flag int32
	// QueueOffset is the record's index in its (topic, queue); 0 for
	// PREPARED and ROLLBACK records, which get no consume-queue unit.
	QueueOffset int64
	// PhysicalOffset is the commit-log offset of the record's first byte.
	PhysicalOffset int64
	// SysFlag holds the SysFlag* bits. Its host bits must agree with the
	// families of BornHost and StoreHost (see HostFlags).
	SysFlag int32
	// BornTimestamp is the producer's clock, in Unix milliseconds.
	BornTimestamp int64
	// BornHost is the producer's address as the broker saw it.
	BornHost netip.AddrPort
	// StoreTimestamp is the broker's clock at append, in Unix milliseconds.
	StoreTimestamp int64
	// StoreHost is the broker's address and listen port.
	StoreHost      netip.AddrPort
	ReconsumeTimes int32
	// PreparedTransactionOffset is, for a committed transactional message,
	// the physical offset of its half message; otherwise 0.
	PreparedTransactionOffset int64

	// Body is stored as given (still compressed if SysFlagCompressed).
	Body []byte
	// Topic is 1..MaxTopicBytesV2 bytes of UTF-8 (ValidateTopic restricts
	// real topics further).
	Topic string
	// Properties is the encoded properties field (§5.4), kept raw: the
	// store never needs to parse it to write a record. Build it with
	// AppendProperties; read it with ParsedProperties or Property.
	Properties []byte
}

// ParsedProperties parses r.Properties. The result shares no memory with
// the record.
func (r *Record) ParsedProperties() Properties { return ParseProperties(string(r.Properties)) }

// Property returns the value of key in r.Properties without parsing the
// others, with the readers' semantics (the last occurrence wins).
func (r *Record) Property(key string) (string, bool) {
	v, ok := LookupProperty(r.Properties, key)
	return string(v), ok
}

// VerifyCRC reports ErrBadCRC unless r.BodyCRC matches r.Body.
func (r *Record) VerifyCRC() error {
	if got := BodyCRC(r.Body); got != r.BodyCRC {
		return fmt.Errorf("%w: record says %#08x, body hashes to %#08x", ErrBadCRC, uint32(r.BodyCRC), uint32(got))
	}
	return nil
}

// BodyCRC is the BODYCRC of body: CRC-32 (IEEE) masked to 31 bits, as Java's
// UtilAll.crc32 computes it. It is pure, so a caller may compute it off the
// loop and pass it to EncodeWithCRC.
func BodyCRC(body []byte) int32 { return int32(crc32.ChecksumIEEE(body) & 0x7fffffff) }

// Encode writes r as a stored record into the start of dst and returns the
// number of bytes written, which is EncodedSize(len(r.Body), len(r.Topic),
// len(r.Properties), r.SysFlag). It computes BODYCRC from r.Body.
//
// dst must be at least that long; the caller sizes it (typically a slice of
// a mapped segment). On error nothing has been written. Encode does not
// allocate.
//
// Encode validates only what decides the layout or cannot be represented:
// the topic length (1..MaxTopicBytesV2), the properties length
// (MaxPropertiesBytes), the host addresses and their SYSFLAG bits, and the
// total size. It does not parse the properties nor check names; callers do
// that where the data enters the broker.
func Encode(dst []byte, r *Record) (int, error) { return encode(dst, r, true) }

// EncodeWithCRC is Encode with BODYCRC taken from r.BodyCRC instead of being
// computed, for callers that computed BodyCRC(r.Body) earlier, off the
// loop. A wrong value is written as given and will fail VerifyCRC.
func EncodeWithCRC(dst []byte, r *Record) (int, error) { return encode(dst, r, false) }

func encode(dst []byte, r *Record, computeCRC bool) (int, error) {
	size, err := checkEncodable(r)
	if err != nil {
		return 0, err
	}
	if len(dst) < size {
		return 0, fmt.Errorf("%w: record needs %d bytes, have %d", ErrShortDst, size, len(dst))
	}
	crc := r.BodyCRC
	if computeCRC {
		crc = BodyCRC(r.Body)
	}
	magic := MagicV1
	if len(r.Topic) > MaxTopicBytesV1 {
		magic = MagicV2
	}

	b := dst[:size]
	be := binary.BigEndian
	be.PutUint32(b[TotalSizePosition:], uint32(size))
	be.PutUint32(b[MagicPosition:], uint32(magic))
	be.PutUint32(b[BodyCRCPosition:], uint32(crc))
	be.PutUint32(b[QueueIDPosition:], uint32(r.QueueID))
	be.PutUint32(b[FlagPosition:], uint32(r.Flag))
	be.PutUint64(b[QueueOffsetPosition:], uint64(r.QueueOffset))
	be.PutUint64(b[PhysicalOffsetPosition:], uint64(r.PhysicalOffset))
	be.PutUint32(b[SysFlagPosition:], uint32(r.SysFlag))
	be.PutUint64(b[BornTimestampPosition:], uint64(r.BornTimestamp))
	p := putHost(b, BornHostPosition, r.BornHost)
	be.PutUint64(b[p:], uint64(r.StoreTimestamp))
	p = putHost(b, p+8, r.StoreHost)
	be.PutUint32(b[p:], uint32(r.ReconsumeTimes))
	be.PutUint64(b[p+4:], uint64(r.PreparedTransactionOffset))
	p += 12
	be.PutUint32(b[p:], uint32(len(r.Body)))
	p += 4
	p += copy(b[p:], r.Body)
	if magic == MagicV1 {
		b[p] = byte(len(r.Topic))
		p++
	} else {
		be.PutUint16(b[p:], uint16(len(r.Topic)))
		p += 2
	}
	p += copy(b[p:], r.Topic)
	be.PutUint16(b[p:], uint16(len(r.Properties)))
	p += 2
	p += copy(b[p:], r.Properties)
	if p != size {
		// EncodedSize and this function disagree about the layout: a bug
		// here, never bad input. Stop before a wrong record reaches disk.
		panic(fmt.Sprintf("message: encoded %d bytes, EncodedSize said %d", p, size))
	}
	return size, nil
}

// checkEncodable validates r and returns its encoded size.
func checkEncodable(r *Record) (int, error) {
	if len(r.Topic) == 0 || len(r.Topic) > MaxTopicBytesV2 {
		return 0, fmt.Errorf("%w: %d bytes, want 1..%d", ErrTopicLength, len(r.Topic), MaxTopicBytesV2)
	}
	if len(r.Properties) > MaxPropertiesBytes {
		return 0, fmt.Errorf("%w: %d bytes", ErrPropertiesTooLong, len(r.Properties))
	}
	if err := checkHost("born", r.BornHost, r.SysFlag&SysFlagBornHostV6 != 0); err != nil {
		return 0, err
	}
	if err := checkHost("store", r.StoreHost, r.SysFlag&SysFlagStoreHostV6 != 0); err != nil {
		return 0, err
	}
	// Sum in int64 so that a huge body cannot wrap int on 32-bit platforms.
	size := int64(BodyLengthPos(r.SysFlag)) + 4 + int64(len(r.Body)) +
		int64(topicLengthSize(len(r.Topic))) + int64(len(r.Topic)) + 2 + int64(len(r.Properties))
	if size > MaxRecordBytes {
		return 0, fmt.Errorf("%w: %d bytes", ErrRecordTooLarge, size)
	}
	return int(size), nil
}

func checkHost(which string, h netip.AddrPort, v6Flag bool) error {
	a := h.Addr()
	switch {
	case !a.IsValid():
		return fmt.Errorf("%w: %s host is the zero address", ErrBadHost, which)
	case a.Is6() != v6Flag:
		return fmt.Errorf("%w: %s host %v disagrees with its SYSFLAG IPv6 bit (%v); see HostFlags", ErrBadHost, which, a, v6Flag)
	}
	return nil
}

// putHost writes h at b[p:] (4 or 16 address bytes, then the port as an
// int32) and returns the position after it. A zone is not representable
// and is dropped.
func putHost(b []byte, p int, h netip.AddrPort) int {
	a := h.Addr()
	if a.Is4() {
		a4 := a.As4()
		copy(b[p:], a4[:])
		p += 4
	} else {
		a16 := a.As16()
		copy(b[p:], a16[:])
		p += 16
	}
	binary.BigEndian.PutUint32(b[p:], uint32(h.Port()))
	return p + 4
}

// Decode decodes the record at the start of p and verifies its body CRC. It
// returns the record and its size n, the offset of whatever follows it in p.
// p may hold more than one record, or be the rest of a segment.
//
// Errors (wrapped, with detail; test with errors.Is):
//
//   - ErrShortBuffer: p ends before the record does (fewer than BlankSize
//     bytes, or fewer than TOTALSIZE). Given the rest of a segment's
//     written data, this is a torn tail.
//   - ErrNoRecord: TOTALSIZE and MAGICCODE are both zero, the clean end of
//     the data in a zero-filled, preallocated segment.
//   - ErrBlank: the end-of-segment blank; n is its TOTALSIZE, the bytes
//     from here to the end of the segment. Only TOTALSIZE >= BlankSize is
//     checked: the caller knows where its segment ends.
//   - ErrBadMagic, ErrBadSize, ErrBadHost: the header or a length is wrong.
//     Lengths are checked before any slicing, and the fixed part plus the
//     body, topic and properties lengths must add up to TOTALSIZE exactly.
//   - ErrBadCRC: the framing is sound but the body does not match BODYCRC.
//     The record and n are returned as well, so that a scanner can say
//     which message is damaged or step over it.
//
// On the other errors the record is zero and n is 0.
//
// The returned Body and Properties alias p; Topic is a copy.
func Decode(p []byte) (Record, int, error) {
	r, n, err := DecodeHeader(p)
	if err != nil {
		return r, n, err
	}
	if err := r.VerifyCRC(); err != nil {
		return r, n, err
	}
	return r, n, nil
}

// DecodeHeader is Decode without the body CRC check, for scans that trust
// the bytes already (dispatch right behind the writer) or check the CRC
// later with VerifyCRC. Every other check of Decode is made.
func DecodeHeader(p []byte) (Record, int, error) {
	be := binary.BigEndian
	if len(p) < BlankSize {
		return Record{}, 0, fmt.Errorf("%w: %d bytes left, a record or blank needs at least %d", ErrShortBuffer, len(p), BlankSize)
	}
	size := int32(be.Uint32(p[TotalSizePosition:]))
	magic := int32(be.Uint32(p[MagicPosition:]))
	switch magic {
	case MagicV1, MagicV2:
	case BlankMagic:
		if size < BlankSize {
			return Record{}, 0, fmt.Errorf("%w: blank TOTALSIZE %d below %d", ErrBadSize, size, BlankSize)
		}
		return Record{}, int(size), ErrBlank
	default:
		if magic == 0 && size == 0 {
			return Record{}, 0, ErrNoRecord
		}
		return Record{}, 0, fmt.Errorf("%w: %#08x", ErrBadMagic, uint32(magic))
	}
	if size < MinRecordSize {
		return Record{}, 0, fmt.Errorf("%w: TOTALSIZE %d below the minimum %d", ErrBadSize, size, MinRecordSize)
	}
	if int64(size) > int64(len(p)) {
		return Record{}, 0, fmt.Errorf("%w: TOTALSIZE %d, %d bytes available", ErrShortBuffer, size, len(p))
	}
	rec := p[:size]

	// The fixed part's length depends on the host families (SYSFLAG) and on
	// the version (width of TOPICLENGTH). size >= MinRecordSize covers the
	// first 40 bytes, SYSFLAG included.
	sysFlag := int32(be.Uint32(rec[SysFlagPosition:]))
	bornV6 := sysFlag&SysFlagBornHostV6 != 0
	storeV6 := sysFlag&SysFlagStoreHostV6 != 0
	tlSize := 1
	if magic == MagicV2 {
		tlSize = 2
	}
	bodyLenPos := BodyLengthPos(sysFlag)
	fixed := bodyLenPos + 4 + tlSize + 2
	if len(rec) < fixed {
		return Record{}, 0, fmt.Errorf("%w: TOTALSIZE %d below the %d-byte fixed part for SYSFLAG %#x", ErrBadSize, size, fixed, sysFlag)
	}
	// varLen is what TOTALSIZE leaves for body + topic + properties.
	varLen := len(rec) - fixed

	bodyLen := int32(be.Uint32(rec[bodyLenPos:]))
	if bodyLen < 0 || int64(bodyLen) > int64(varLen) {
		return Record{}, 0, fmt.Errorf("%w: BODYLENGTH %d, TOTALSIZE leaves %d", ErrBadSize, bodyLen, varLen)
	}
	pos := bodyLenPos + 4
	body := rec[pos : pos+int(bodyLen) : pos+int(bodyLen)]
	pos += int(bodyLen)

	var topicLen int
	if magic == MagicV1 {
		topicLen = int(rec[pos])
		if topicLen > MaxTopicBytesV1 {
			// Go would read it; Java would read a negative length.
			return Record{}, 0, fmt.Errorf("%w: V1 TOPICLENGTH %d above %d", ErrBadSize, topicLen, MaxTopicBytesV1)
		}
	} else {
		tl := int16(be.Uint16(rec[pos:]))
		if tl < 0 {
			return Record{}, 0, fmt.Errorf("%w: V2 TOPICLENGTH %d", ErrBadSize, tl)
		}
		topicLen = int(tl)
		if topicLen <= MaxTopicBytesV1 {
			// Encode never writes this (it would be V1), so accepting it
			// would break decode/encode identity. Nobody writes it: Java
			// picks V2 only for long topics too.
			return Record{}, 0, fmt.Errorf("%w: V2 record with a %d-byte topic, V1 expected", ErrBadMagic, topicLen)
		}
	}
	if topicLen == 0 {
		return Record{}, 0, fmt.Errorf("%w: empty topic", ErrBadSize)
	}
	pos += tlSize
	if topicLen > varLen-int(bodyLen) {
		return Record{}, 0, fmt.Errorf("%w: TOPICLENGTH %d, TOTALSIZE leaves %d", ErrBadSize, topicLen, varLen-int(bodyLen))
	}
	topic := rec[pos : pos+topicLen]
	pos += topicLen

	propsLen := int16(be.Uint16(rec[pos:]))
	pos += 2
	if propsLen < 0 || int(propsLen) != len(rec)-pos {
		return Record{}, 0, fmt.Errorf("%w: PROPERTIESLENGTH %d, TOTALSIZE leaves exactly %d", ErrBadSize, propsLen, len(rec)-pos)
	}
	props := rec[pos:len(rec):len(rec)]

	bornHost, err := readHost("born", rec, BornHostPosition, bornV6)
	if err != nil {
		return Record{}, 0, err
	}
	hp := BornHostPosition + hostSize(bornV6)
	storeTimestamp := int64(be.Uint64(rec[hp:]))
	hp += 8
	storeHost, err := readHost("store", rec, hp, storeV6)
	if err != nil {
		return Record{}, 0, err
	}
	hp += hostSize(storeV6)

	return Record{
		TotalSize:                 size,
		Magic:                     magic,
		BodyCRC:                   int32(be.Uint32(rec[BodyCRCPosition:])),
		QueueID:                   int32(be.Uint32(rec[QueueIDPosition:])),
		Flag:                      int32(be.Uint32(rec[FlagPosition:])),
		QueueOffset:               int64(be.Uint64(rec[QueueOffsetPosition:])),
		PhysicalOffset:            int64(be.Uint64(rec[PhysicalOffsetPosition:])),
		SysFlag:                   sysFlag,
		BornTimestamp:             int64(be.Uint64(rec[BornTimestampPosition:])),
		BornHost:                  bornHost,
		StoreTimestamp:            storeTimestamp,
		StoreHost:                 storeHost,
		ReconsumeTimes:            int32(be.Uint32(rec[hp:])),
		PreparedTransactionOffset: int64(be.Uint64(rec[hp+4:])),
		Body:                      body,
		Topic:                     string(topic),
		Properties:                props,
	}, int(size), nil
}

// readHost reads a host field at rec[p:]; the caller has checked that the
// fixed part is within rec.
func readHost(which string, rec []byte, p int, v6 bool) (netip.AddrPort, error) {
	var a netip.Addr
	if v6 {
		a = netip.AddrFrom16([16]byte(rec[p : p+16]))
		p += 16
	} else {
		a = netip.AddrFrom4([4]byte(rec[p : p+4]))
		p += 4
	}
	port := int32(binary.BigEndian.Uint32(rec[p:]))
	if port < 0 || port > 0xffff {
		return netip.AddrPort{}, fmt.Errorf("%w: %s host port %d", ErrBadHost, which, port)
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// PutQueueOffset overwrites QUEUEOFFSET of the encoded record at the start
// of rec. rec must hold at least the fixed part; like binary.BigEndian's
// Put methods it panics otherwise. (The store can as well set the field
// before Encode; the patchers serve code that encodes first and assigns
// offsets later, as Java's CommitLog does.)
func PutQueueOffset(rec []byte, v int64) {
	binary.BigEndian.PutUint64(rec[QueueOffsetPosition:], uint64(v))
}

// PutPhysicalOffset overwrites PHYSICALOFFSET; see PutQueueOffset.
func PutPhysicalOffset(rec []byte, v int64) {
	binary.BigEndian.PutUint64(rec[PhysicalOffsetPosition:], uint64(v))
}

// PutStoreTimestamp overwrites STORETIMESTAMP, whose position depends on the
// born host's family: it reads SYSFLAG from rec to find it. See
// PutQueueOffset.
func PutStoreTimestamp(rec []byte, ts int64) {
	sysFlag := int32(binary.BigEndian.Uint32(rec[SysFlagPosition:]))
	binary.BigEndian.PutUint64(rec[storeTimestampPos(sysFlag):], uint64(ts))
}

// AppendBlank appends the 8-byte end-of-segment blank to dst. size is its
// TOTALSIZE: the bytes from the blank's start to the end of the segment,
// BlankSize or more. A smaller size is a bug in the caller's arithmetic
// and panics rather than reach the disk.
func AppendBlank(dst []byte, size int32) []byte {
	if size < BlankSize {
		panic(fmt.Sprintf("message: blank size %d below %d", size, BlankSize))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	return binary.BigEndian.AppendUint32(dst, blankMagicBits)
}

// EncodeBlank writes the blank into the start of dst, which is the rest of
// the segment: its TOTALSIZE is len(dst). It returns BlankSize. Bytes after
// the marker are left as they are; readers never look at them.
func EncodeBlank(dst []byte) (int, error) {
	if len(dst) < BlankSize {
		return 0, fmt.Errorf("%w: blank needs %d bytes, have %d", ErrShortDst, BlankSize, len(dst))
	}
	if int64(len(dst)) > MaxRecordBytes {
		return 0, fmt.Errorf("%w: blank spanning %d bytes", ErrRecordTooLarge, len(dst))
	}
	binary.BigEndian.PutUint32(dst[TotalSizePosition:], uint32(len(dst)))
	binary.BigEndian.PutUint32(dst[MagicPosition:], blankMagicBits)
	return BlankSize, nil
}
