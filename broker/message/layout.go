package message

import (
	"math"
	"net/netip"
)

// Magic codes (MAGICCODE, bytes 4..8 of a record).
const (
	// MagicV1 marks a record with a one-byte TOPICLENGTH. Java's constant is
	// -626843481.
	MagicV1 int32 = 0xDAA320A7 - 1<<32
	// MagicV2 marks a record with a two-byte TOPICLENGTH (-626843477).
	MagicV2 int32 = 0xDAA320AB - 1<<32
	// BlankMagic marks the 8-byte end-of-segment blank (-875286124).
	BlankMagic int32 = 0xCBD43194 - 1<<32

	blankMagicBits uint32 = 0xCBD43194
)

// Positions of the fixed fields, in bytes from the start of a record. The
// first nine do not depend on the host address families.
const (
	TotalSizePosition      = 0
	MagicPosition          = 4
	BodyCRCPosition        = 8
	QueueIDPosition        = 12
	FlagPosition           = 16
	QueueOffsetPosition    = 20
	PhysicalOffsetPosition = 28
	SysFlagPosition        = 36
	BornTimestampPosition  = 40
	BornHostPosition       = 48
	// StoreTimestampPosition holds only when the born host is IPv4 (Java's
	// MESSAGE_STORE_TIMESTAMP_POSITION); with an IPv6 born host the store
	// timestamp sits at StoreTimestampPositionV6. Use PutStoreTimestamp,
	// which reads SYSFLAG, rather than either constant.
	StoreTimestampPosition   = 56
	StoreTimestampPositionV6 = 68
)

// SYSFLAG bits (Java's MessageSysFlag).
const (
	// SysFlagCompressed: the body is compressed (zlib unless a compression
	// type says otherwise).
	SysFlagCompressed = 0x1
	// SysFlagMultiTags: the topic's filter type is MULTI_TAG.
	SysFlagMultiTags = 0x2

	// The transaction type occupies bits 2-3: SysFlag & SysFlagTransactionMask.
	SysFlagTransactionNot      = 0x0
	SysFlagTransactionPrepared = 0x4
	SysFlagTransactionCommit   = 0x8
	SysFlagTransactionRollback = 0xC
	SysFlagTransactionMask     = 0xC

	// SysFlagBornHostV6 and SysFlagStoreHostV6 say that BORNHOST or
	// STOREHOST is an IPv6 address (20 bytes instead of 8). They decide the
	// record layout; see HostFlags.
	SysFlagBornHostV6  = 0x10
	SysFlagStoreHostV6 = 0x20

	// SysFlagNeedUnwrap and SysFlagInnerBatch belong to Java 5.x's inner
	// batch feature, which Go clients never use.
	SysFlagNeedUnwrap = 0x40
	SysFlagInnerBatch = 0x80

	// The compression type occupies bits 8-10; 0 also means zlib, for old
	// producers. The Go consumer ignores these bits and always inflates zlib.
	SysFlagCompressionLZ4  = 0x100
	SysFlagCompressionZSTD = 0x200
	SysFlagCompressionZLIB = 0x300
	SysFlagCompressionMask = 0x700
)

// TransactionType returns the transaction type bits of sysFlag, one of the
// SysFlagTransaction* values.
func TransactionType(sysFlag int32) int32 { return sysFlag & SysFlagTransactionMask }

// WithTransactionType replaces the transaction type bits of sysFlag with t
// (a SysFlagTransaction* value).
func WithTransactionType(sysFlag, t int32) int32 {
	return sysFlag&^SysFlagTransactionMask | t&SysFlagTransactionMask
}

// HostFlags returns the SYSFLAG host bits that match the address families of
// born and store: SysFlagBornHostV6 if born is an IPv6 address (an
// IPv4-mapped IPv6 address included, since it is written as 16 bytes),
// likewise SysFlagStoreHostV6. Callers set
//
//	r.SysFlag = r.SysFlag&^(SysFlagBornHostV6|SysFlagStoreHostV6) | HostFlags(r.BornHost, r.StoreHost)
//
// before EncodedSize and Encode, which refuse a mismatch.
func HostFlags(born, store netip.AddrPort) int32 {
	var f int32
	if born.Addr().Is6() {
		f |= SysFlagBornHostV6
	}
	if store.Addr().Is6() {
		f |= SysFlagStoreHostV6
	}
	return f
}

// Limits and sizes.
const (
	// MaxTopicBytesV1 is the longest topic a V1 record carries. The field is
	// one byte, and Go reads it unsigned (255 would fit), but Java reads it
	// as a signed byte, so 128..255 come out negative and the record is
	// unreadable. Java therefore switches to V2 above 127, and so do we.
	MaxTopicBytesV1 = 127
	// MaxTopicBytesV2 is the longest topic a V2 record carries: Java reads
	// the two-byte length as a signed short.
	MaxTopicBytesV2 = math.MaxInt16
	// MaxPropertiesBytes is the longest encoded properties field: Java reads
	// PROPERTIESLENGTH as a signed short (so does Go, which silently skips
	// longer properties and then desynchronises), and Java's store answers
	// PROPERTIES_SIZE_EXCEEDED above it.
	MaxPropertiesBytes = math.MaxInt16
	// MaxRecordBytes is the largest TOTALSIZE: the field is a signed int32.
	// The store's own maxMessageSize (4 MiB by default) is far smaller and
	// is the store's business, not the codec's.
	MaxRecordBytes = math.MaxInt32

	// BlankSize is the size of the end-of-segment blank marker. A record is
	// written into a segment only if EncodedSize + BlankSize bytes are left,
	// so that a blank always fits after the last record.
	BlankSize = 8

	// MinRecordSize is the fixed part of a V1 record with IPv4 hosts: the
	// TOTALSIZE of a record with an empty body, topic and properties. (Encode
	// refuses an empty topic, so real records are at least one byte longer.)
	MinRecordSize = 91

	// BodyLengthPosition is where BODYLENGTH sits with IPv4 hosts; each IPv6
	// host moves it by hostV6Extra. Use BodyLengthPos(sysFlag).
	BodyLengthPosition = 84

	hostV4Size  = 4 + 4  // address + i32 port
	hostV6Size  = 16 + 4 // address + i32 port
	hostV6Extra = hostV6Size - hostV4Size
)

// hostSize returns the size of a host field given whether it is IPv6.
func hostSize(v6 bool) int {
	if v6 {
		return hostV6Size
	}
	return hostV4Size
}

// storeTimestampPos returns where STORETIMESTAMP sits for sysFlag.
func storeTimestampPos(sysFlag int32) int {
	if sysFlag&SysFlagBornHostV6 != 0 {
		return StoreTimestampPositionV6
	}
	return StoreTimestampPosition
}

// BodyLengthPos returns the position of BODYLENGTH for a record whose SYSFLAG
// is sysFlag; the body starts four bytes later.
func BodyLengthPos(sysFlag int32) int {
	p := BodyLengthPosition
	if sysFlag&SysFlagBornHostV6 != 0 {
		p += hostV6Extra
	}
	if sysFlag&SysFlagStoreHostV6 != 0 {
		p += hostV6Extra
	}
	return p
}

// topicLengthSize is 1 for a V1 record and 2 for V2. The version follows
// from the topic length alone (see MaxTopicBytesV1).
func topicLengthSize(topicLen int) int {
	if topicLen > MaxTopicBytesV1 {
		return 2
	}
	return 1
}

// EncodedSize returns the TOTALSIZE of a record with a body of bodyLen
// bytes, a topic of topicLen bytes and encoded properties of propsLen bytes,
// whose SYSFLAG is sysFlag (only the host bits matter). It is the number of
// bytes Encode writes. It does not validate its arguments; Encode does.
func EncodedSize(bodyLen, topicLen, propsLen int, sysFlag int32) int {
	return BodyLengthPos(sysFlag) + 4 + bodyLen + topicLengthSize(topicLen) + topicLen + 2 + propsLen
}
