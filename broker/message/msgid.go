package message

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Lengths of an offset message id in hex characters.
const (
	OffsetMsgIDLenV4 = 2 * (4 + 4 + 8)  // 32
	OffsetMsgIDLenV6 = 2 * (16 + 4 + 8) // 56
)

const upperHex = "0123456789ABCDEF"

// OffsetMsgID returns the offset message id of the record at physOffset on
// the broker storeHost (§5.5): the uppercase hex of the store IP (4 bytes,
// or 16 for an IPv6 address, IPv4-mapped ones included), the port as an
// int32 and physOffset. It is what SEND responses carry as msgId and what
// the Go client derives as OffsetMsgId from STOREHOST and PHYSICALOFFSET, so
// the two must agree byte for byte.
//
// storeHost should be valid; the zero AddrPort is written as 0.0.0.0:0.
func OffsetMsgID(storeHost netip.AddrPort, physOffset int64) string {
	var buf [OffsetMsgIDLenV6]byte
	return string(AppendOffsetMsgID(buf[:0], storeHost, physOffset))
}

// AppendOffsetMsgID appends OffsetMsgID(storeHost, physOffset) to dst.
func AppendOffsetMsgID(dst []byte, storeHost netip.AddrPort, physOffset int64) []byte {
	var raw [16 + 4 + 8]byte
	a := storeHost.Addr()
	n := 0
	if a.Is6() {
		a16 := a.As16()
		n = copy(raw[:], a16[:])
	} else {
		if a.Is4() {
			a4 := a.As4()
			copy(raw[:], a4[:])
		}
		n = 4
	}
	binary.BigEndian.PutUint32(raw[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(raw[n+4:], uint64(physOffset))
	return appendUpperHex(dst, raw[:n+12])
}

func appendUpperHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, upperHex[c>>4], upperHex[c&0xf])
	}
	return dst
}

// ParseOffsetMsgID parses an offset message id: 32 hex characters for an
// IPv4 store host, 56 for IPv6, either case. Unlike the Go client's
// UnmarshalMsgID, which panics on lengths 33..55, every other length is an
// error, as are non-hex characters and a port outside 0..65535. Errors wrap
// ErrBadMsgID.
func ParseOffsetMsgID(s string) (netip.AddrPort, int64, error) {
	var raw [16 + 4 + 8]byte
	var ipLen int
	switch len(s) {
	case OffsetMsgIDLenV4:
		ipLen = 4
	case OffsetMsgIDLenV6:
		ipLen = 16
	default:
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %d characters, want %d or %d", ErrBadMsgID, len(s), OffsetMsgIDLenV4, OffsetMsgIDLenV6)
	}
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return netip.AddrPort{}, 0, fmt.Errorf("%w: %q is not hex at %d", ErrBadMsgID, s, i)
		}
		raw[i/2] = hi<<4 | lo
	}
	var a netip.Addr
	if ipLen == 4 {
		a = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		a = netip.AddrFrom16([16]byte(raw[:16]))
	}
	port := int32(binary.BigEndian.Uint32(raw[ipLen:]))
	if port < 0 || port > 0xffff {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: port %d", ErrBadMsgID, port)
	}
	off := int64(binary.BigEndian.Uint64(raw[ipLen+4:]))
	return netip.AddrPortFrom(a, uint16(port)), off, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// RandSource is the part of a seeded random source this package draws
// from. broker/host.Rand and *math/rand/v2.Rand satisfy it.
type RandSource interface {
	Uint64() uint64
}

// UniqIDGenerator makes UNIQ_KEY client message ids in Java's layout
// (MessageClientIDSetter): the uppercase hex of
//
//	IP (4, or 16 for IPv6) | pid i16 | class-loader hash i32 | ms since month start i32 | counter i16
//
// which is 32 characters for IPv4 and 56 for IPv6. Java fills the fourth
// field with its class loader's identity hash, an arbitrary number fixed
// for the process; here it is drawn once from the RandSource, so ids are
// reproducible from a seed. The time comes from the caller on every call:
// this package never reads a clock. The Go client writes the last two
// fields in lowercase hex; Java, and this generator, in uppercase. Readers
// treat UNIQ_KEY as an opaque string either way.
//
// A generator is not safe for concurrent use; it belongs to one loop.
type UniqIDGenerator struct {
	prefix  [2 * (16 + 2 + 4)]byte
	n       int // bytes of prefix in use
	counter uint16
}

// NewUniqIDGenerator returns a generator for ids stamped with ip and pid. An
// IPv4-mapped IPv6 address is written as IPv4; an invalid ip as 0.0.0.0.
func NewUniqIDGenerator(ip netip.Addr, pid int16, rnd RandSource) *UniqIDGenerator {
	var raw [16 + 2 + 4]byte
	ip = ip.Unmap()
	n := 4
	if ip.Is6() {
		a := ip.As16()
		n = copy(raw[:], a[:])
	} else if ip.Is4() {
		a := ip.As4()
		copy(raw[:], a[:])
	}
	binary.BigEndian.PutUint16(raw[n:], uint16(pid))
	binary.BigEndian.PutUint32(raw[n+2:], uint32(rnd.Uint64()))
	g := &UniqIDGenerator{}
	g.n = len(appendUpperHex(g.prefix[:0], raw[:n+6]))
	return g
}

// Next returns a new id for a message created msSinceMonthStart
// milliseconds after the start of the current month (MillisSinceMonthStart).
// Like Java, a slightly negative value (a clock stepped back by up to 1000
// s across a month boundary) is written as 0, and the 16-bit counter wraps.
func (g *UniqIDGenerator) Next(msSinceMonthStart int64) string {
	var buf [2 * (16 + 2 + 4 + 4 + 2)]byte
	return string(g.AppendNext(buf[:0], msSinceMonthStart))
}

// AppendNext appends Next(msSinceMonthStart) to dst.
func (g *UniqIDGenerator) AppendNext(dst []byte, msSinceMonthStart int64) []byte {
	diff := int32(msSinceMonthStart)
	if diff < 0 && diff > -1_000_000 {
		diff = 0
	}
	var raw [4 + 2]byte
	binary.BigEndian.PutUint32(raw[:], uint32(diff))
	binary.BigEndian.PutUint16(raw[4:], g.counter)
	g.counter++
	dst = append(dst, g.prefix[:g.n]...)
	return appendUpperHex(dst, raw[:])
}

// MillisSinceMonthStart returns the milliseconds from midnight on the first
// day of now's month, in now's location, to now: the time field of a
// UNIQ_KEY. Java uses the JVM's default time zone; pass now in the zone the
// ids should follow. now comes from the caller's clock.
func MillisSinceMonthStart(now time.Time) int64 {
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	return now.Sub(start).Milliseconds()
}
