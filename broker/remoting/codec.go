package remoting

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Limits of the frame format.
const (
	// DefaultMaxFrameBytes is the largest frame, length field included,
	// that a Framer accepts unless told otherwise: Java's default
	// com.rocketmq.remoting.frameMaxLength.
	DefaultMaxFrameBytes = 16 << 20
	// MaxHeaderBytes is the largest header the 24-bit header length can
	// describe.
	MaxHeaderBytes = 1<<24 - 1
	// MaxExtFields bounds the extFields of one decoded header. Real headers
	// carry a dozen or two; without a bound, 16 MiB of tiny JSON fields
	// would cost several times that in Field structs.
	MaxExtFields = 1024

	// frameLengthBytes is the size of the leading length field, which
	// counts every byte after itself.
	frameLengthBytes = 4
	// framePrefixBytes is the length field plus the serialize-type and
	// header-length word: the part of a frame before the header.
	framePrefixBytes = 8
)

// Sentinel errors. Errors from this package wrap one of them, so callers can
// tell the cases apart with errors.Is while the message says exactly what was
// wrong.
var (
	// ErrFrameTooLarge: a frame's declared length is over the limit.
	ErrFrameTooLarge = errors.New("remoting: frame too large")
	// ErrMalformedFrame: the frame's length fields or serialize type are
	// inconsistent.
	ErrMalformedFrame = errors.New("remoting: malformed frame")
	// ErrMalformedHeader: the header is not valid JSON of the header's
	// shape, or not a valid binary header.
	ErrMalformedHeader = errors.New("remoting: malformed header")
	// ErrCannotEncode: a command does not fit the wire format (a header over
	// MaxHeaderBytes, an extFields key over 32767 bytes in binary, an
	// unknown serialize type).
	ErrCannotEncode = errors.New("remoting: command cannot be encoded")
)

// codecError carries a precise message and a sentinel to match.
type codecError struct {
	kind error
	msg  string
}

func (e *codecError) Error() string { return e.msg }
func (e *codecError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &codecError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Framer cuts a connection's byte stream into RemotingCommand frames and
// decodes them. It implements host.Framer. The zero value accepts frames up
// to DefaultMaxFrameBytes.
type Framer struct {
	// MaxFrameBytes is the largest frame accepted, length field included;
	// zero or less means DefaultMaxFrameBytes.
	MaxFrameBytes int
}

func (f Framer) maxFrameBytes() int {
	if f.MaxFrameBytes <= 0 {
		return DefaultMaxFrameBytes
	}
	return f.MaxFrameBytes
}

// FrameLen reports the length of the frame at the start of p, length field
// included, once p holds the 8-byte prefix; 0 means more bytes are needed.
// It rejects a length below the minimum or over the limit as soon as the
// length field has arrived, before any of the frame is buffered, and a
// header length that overruns the frame as soon as the second word has.
func (f Framer) FrameLen(p []byte) (int, error) {
	if len(p) < frameLengthBytes {
		return 0, nil
	}
	// The length field counts what follows it, so the frame is 4 bytes
	// longer. uint64 keeps a length near 2^32 from wrapping.
	following := uint64(binary.BigEndian.Uint32(p))
	n := frameLengthBytes + following
	if n < framePrefixBytes {
		return 0, errorf(ErrMalformedFrame, "remoting: frame length %d under minimum %d", n, framePrefixBytes)
	}
	if limit := f.maxFrameBytes(); n > uint64(limit) {
		return 0, errorf(ErrFrameTooLarge, "remoting: frame length %d over limit %d", n, limit)
	}
	if len(p) < framePrefixBytes {
		return 0, nil
	}
	headerLen := uint64(binary.BigEndian.Uint32(p[frameLengthBytes:]) & MaxHeaderBytes)
	if headerLen > n-framePrefixBytes {
		return 0, errorf(ErrMalformedFrame, "remoting: header length %d beyond frame length %d", headerLen, n)
	}
	return int(n), nil
}

// Decode decodes one whole frame, as cut by FrameLen, into a *Command, or
// into a *DecodeError when the frame is malformed. The command's Body aliases
// frame.
func (f Framer) Decode(frame []byte) any {
	cmd, derr := decodeFrame(frame)
	if derr != nil {
		return derr
	}
	return cmd
}

// DecodeError reports a frame that FrameLen accepted but whose contents are
// malformed. It says how much of the header was understood before the
// failure, so that a Channel can still answer a request (it needs the opaque
// and to know that the frame was a two-way request) or fail the call a bad
// response was meant for.
type DecodeError struct {
	// Opaque is valid when OpaqueKnown.
	Opaque      int32
	OpaqueKnown bool
	// Flag is valid when FlagKnown.
	Flag      int32
	FlagKnown bool
	// Code is the request or response code when CodeKnown.
	Code      int32
	CodeKnown bool
	// Serialize is the frame's serialize type as declared, known or not.
	Serialize SerializeType
	// Err wraps ErrMalformedFrame or ErrMalformedHeader.
	Err error
}

func (e *DecodeError) Error() string { return e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// answerable reports whether the frame was surely a request that expects an
// answer, and says which: only then may a response be sent for it. Answering
// a frame that might have been a response would put a reply with the
// peer's own opaque on the wire, which the peer could match to an unrelated
// call of its own.
func (e *DecodeError) answerable() bool {
	return e.OpaqueKnown && e.FlagKnown && e.Flag&(FlagResponse|FlagOneway) == 0
}

// DecodeFrame decodes one whole frame, length field included. On failure the
// error is a *DecodeError. The command's Body aliases frame.
func DecodeFrame(frame []byte) (*Command, error) {
	cmd, derr := decodeFrame(frame)
	if derr != nil {
		return nil, derr
	}
	return cmd, nil
}

func decodeFrame(frame []byte) (*Command, *DecodeError) {
	if len(frame) < framePrefixBytes {
		return nil, &DecodeError{Err: errorf(ErrMalformedFrame, "remoting: frame of %d bytes under minimum %d", len(frame), framePrefixBytes)}
	}
	if following := binary.BigEndian.Uint32(frame); uint64(following) != uint64(len(frame)-frameLengthBytes) {
		return nil, &DecodeError{Err: errorf(ErrMalformedFrame, "remoting: frame length field %d does not match %d bytes that follow it", following, len(frame)-frameLengthBytes)}
	}
	word := binary.BigEndian.Uint32(frame[frameLengthBytes:])
	typ := SerializeType(word >> 24)
	headerLen := int(word & MaxHeaderBytes)
	if headerLen > len(frame)-framePrefixBytes {
		return nil, &DecodeError{Serialize: typ, Err: errorf(ErrMalformedFrame, "remoting: header length %d beyond frame length %d", headerLen, len(frame))}
	}
	header := frame[framePrefixBytes : framePrefixBytes+headerLen]
	var (
		cmd  *Command
		derr *DecodeError
	)
	switch typ {
	case SerializeJSON:
		cmd, derr = decodeJSONHeader(header)
	case SerializeRocketMQ:
		cmd, derr = decodeBinaryHeader(header)
	default:
		derr = &DecodeError{Err: errorf(ErrMalformedFrame, "remoting: unknown serialize type %d", typ)}
	}
	if derr != nil {
		derr.Serialize = typ
		return nil, derr
	}
	cmd.Serialize = typ
	if body := frame[framePrefixBytes+headerLen:]; len(body) > 0 {
		cmd.Body = body
	}
	return cmd, nil
}

// AppendFrame appends c, encoded in c.Serialize, to dst as one whole frame.
// On error dst is returned unchanged.
func AppendFrame(dst []byte, c *Command) ([]byte, error) {
	dst, err := appendFramePrefixAndHeader(dst, c, len(c.Body), len(c.Body))
	if err != nil {
		return dst, err
	}
	return append(dst, c.Body...), nil
}

// AppendFrameHeader appends everything of c's frame but the body: the length
// fields, computed for a body of bodyLen bytes, and the header. c.Body is
// ignored. The caller sends the body's bytes next, by whatever means (a
// sendfile of a commit-log range, say); until it has, the stream is
// mid-frame. On error dst is returned unchanged.
func AppendFrameHeader(dst []byte, c *Command, bodyLen int) ([]byte, error) {
	return appendFramePrefixAndHeader(dst, c, bodyLen, 0)
}

// appendFramePrefixAndHeader also reserves room for reserveBody more bytes,
// so that AppendFrame's body append does not grow dst a second time.
func appendFramePrefixAndHeader(dst []byte, c *Command, bodyLen, reserveBody int) ([]byte, error) {
	if bodyLen < 0 {
		return dst, errorf(ErrCannotEncode, "remoting: negative body length %d", bodyLen)
	}
	start := len(dst)
	dst = slices.Grow(dst, framePrefixBytes+headerSizeHint(c)+reserveBody)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	switch c.Serialize {
	case SerializeJSON:
		dst = appendJSONHeader(dst, c)
	case SerializeRocketMQ:
		dst, err = appendBinaryHeader(dst, c)
	default:
		err = errorf(ErrCannotEncode, "remoting: unknown serialize type %d", c.Serialize)
	}
	if err != nil {
		return dst[:start], err
	}
	headerLen := len(dst) - start - framePrefixBytes
	if headerLen > MaxHeaderBytes {
		return dst[:start], errorf(ErrCannotEncode, "remoting: header of %d bytes over limit %d", headerLen, MaxHeaderBytes)
	}
	following := uint64(framePrefixBytes-frameLengthBytes) + uint64(headerLen) + uint64(bodyLen)
	if following > math.MaxInt32 {
		return dst[:start], errorf(ErrCannotEncode, "remoting: frame length %d over int32", following+frameLengthBytes)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(following))
	binary.BigEndian.PutUint32(dst[start+frameLengthBytes:], uint32(c.Serialize)<<24|uint32(headerLen))
	return dst, nil
}

// headerSizeHint estimates the encoded header's size closely enough that
// encoding rarely grows the buffer: a little over the binary size, which the
// JSON form exceeds by its punctuation and fixed keys.
func headerSizeHint(c *Command) int {
	n := 160 + len(c.Remark)
	for _, f := range c.ExtFields {
		n += len(f.Key) + len(f.Value) + 8
	}
	return n
}
