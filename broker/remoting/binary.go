package remoting

import (
	"encoding/binary"
	"math"
)

// The ROCKETMQ binary header (RocketMQSerializable), big-endian:
//
//	code int16 | language byte | version int16 | opaque int32 | flag int32 |
//	remark length int32 | remark | extFields length int32 |
//	{ key length int16 | key | value length int32 | value }*
//
// Zero lengths mean empty (Java reads them as null). Every length is checked
// against the bytes that remain before anything is sliced or allocated, so a
// header can never make the decoder allocate more than its own size.

const (
	binaryFixedBytes = 2 + 1 + 2 + 4 + 4 // code, language, version, opaque, flag
	// binaryMinBytes adds the two section lengths.
	binaryMinBytes = binaryFixedBytes + 4 + 4
)

// decodeBinaryHeader decodes a binary header. It is strict: negative
// lengths, lengths past the end, and bytes after the extFields section are
// errors (Java would ignore trailing bytes; none of its encoders write any,
// so finding some means the stream is not what we think).
func decodeBinaryHeader(h []byte) (*Command, *DecodeError) {
	// What a failure can still report; allocated only on failure.
	var known DecodeError
	if len(h) >= 2 {
		known.Code, known.CodeKnown = int32(int16(binary.BigEndian.Uint16(h))), true
	}
	if len(h) >= 9 {
		known.Opaque, known.OpaqueKnown = int32(binary.BigEndian.Uint32(h[5:])), true
	}
	if len(h) >= 13 {
		known.Flag, known.FlagKnown = int32(binary.BigEndian.Uint32(h[9:])), true
	}
	fail := func(format string, args ...any) (*Command, *DecodeError) {
		derr := known
		derr.Err = errorf(ErrMalformedHeader, "remoting: binary header: "+format, args...)
		return nil, &derr
	}
	if len(h) < binaryMinBytes {
		return fail("%d bytes under minimum %d", len(h), binaryMinBytes)
	}

	pos := binaryFixedBytes
	remarkLen := int64(int32(binary.BigEndian.Uint32(h[pos:])))
	pos += 4
	// The extFields length word must still follow the remark.
	if remarkLen < 0 || remarkLen > int64(len(h)-pos-4) {
		return fail("remark length %d out of range [0, %d]", remarkLen, len(h)-pos-4)
	}
	remarkStart := pos
	pos += int(remarkLen)
	extLen := int64(int32(binary.BigEndian.Uint32(h[pos:])))
	pos += 4
	if extLen != int64(len(h)-pos) {
		return fail("extFields length %d, but %d bytes remain", extLen, len(h)-pos)
	}

	// First pass: check every entry and count them, so that the second
	// pass can allocate Fields once and slice without checks.
	count := 0
	for p := pos; p < len(h); {
		if len(h)-p < 2 {
			return fail("extFields entry %d: key length cut short", count)
		}
		keyLen := int(int16(binary.BigEndian.Uint16(h[p:])))
		p += 2
		if keyLen < 0 || keyLen > len(h)-p-4 {
			return fail("extFields entry %d: key length %d out of range", count, keyLen)
		}
		p += keyLen
		valueLen := int64(int32(binary.BigEndian.Uint32(h[p:])))
		p += 4
		if valueLen < 0 || valueLen > int64(len(h)-p) {
			return fail("extFields entry %d: value length %d out of range", count, valueLen)
		}
		p += int(valueLen)
		count++
		if count > MaxExtFields {
			return fail("more than %d extFields", MaxExtFields)
		}
	}

	cmd := &Command{
		Code:     known.Code,
		Language: LanguageCode(h[2]),
		Version:  int32(int16(binary.BigEndian.Uint16(h[3:]))),
		Opaque:   known.Opaque,
		Flag:     known.Flag,
	}
	// One string holds the remark and every key and value; they are its
	// substrings (the length words in between are a few wasted bytes).
	text := string(h[remarkStart:])
	at := func(p int) int { return p - remarkStart }
	cmd.Remark = text[:remarkLen]
	if count > 0 {
		fields := make(Fields, 0, count)
		for p := pos; p < len(h); {
			keyLen := int(binary.BigEndian.Uint16(h[p:]))
			p += 2
			key := text[at(p):at(p+keyLen)]
			p += keyLen
			valueLen := int(binary.BigEndian.Uint32(h[p:]))
			p += 4
			fields = append(fields, Field{key, text[at(p):at(p+valueLen)]})
			p += valueLen
		}
		cmd.ExtFields = fields
	}
	return cmd, nil
}

// appendBinaryHeader appends c's header in the binary layout. Code and
// version must fit 16 bits: Java would silently truncate them, which would
// turn one request into another.
func appendBinaryHeader(dst []byte, c *Command) ([]byte, error) {
	if c.Code < math.MinInt16 || c.Code > math.MaxInt16 {
		return dst, errorf(ErrCannotEncode, "remoting: code %d does not fit the binary header's 16 bits", c.Code)
	}
	if c.Version < math.MinInt16 || c.Version > math.MaxInt16 {
		return dst, errorf(ErrCannotEncode, "remoting: version %d does not fit the binary header's 16 bits", c.Version)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.Code))
	dst = append(dst, byte(c.Language))
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.Version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Flag))
	if len(c.Remark) > MaxHeaderBytes {
		return dst, errorf(ErrCannotEncode, "remoting: remark of %d bytes over header limit %d", len(c.Remark), MaxHeaderBytes)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	extStart := len(dst)
	dst = append(dst, 0, 0, 0, 0) // extFields length, patched below
	for _, f := range c.ExtFields {
		if len(f.Key) > math.MaxInt16 {
			return dst, errorf(ErrCannotEncode, "remoting: extFields key of %d bytes over binary limit %d", len(f.Key), math.MaxInt16)
		}
		if len(f.Value) > MaxHeaderBytes {
			return dst, errorf(ErrCannotEncode, "remoting: extFields value of %d bytes over header limit %d", len(f.Value), MaxHeaderBytes)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(f.Key)))
		dst = append(dst, f.Key...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Value)))
		dst = append(dst, f.Value...)
		// Stop early rather than append gigabytes that can never be sent.
		if len(dst)-extStart > MaxHeaderBytes {
			return dst, errorf(ErrCannotEncode, "remoting: extFields over header limit %d", MaxHeaderBytes)
		}
	}
	binary.BigEndian.PutUint32(dst[extStart:], uint32(len(dst)-extStart-4))
	return dst, nil
}
