package message

import "errors"

// Errors Decode and DecodeHeader return, possibly wrapped with detail; test
// with errors.Is. They are chosen so that recovery can tell apart the clean
// end of a segment (ErrNoRecord, ErrBlank), a record cut short by the end of
// the bytes it was given (ErrShortBuffer: a torn tail when those bytes are
// the rest of the written data) and corruption (the others).
var (
	// ErrShortBuffer: fewer bytes than a record header, or than the record's
	// TOTALSIZE, are available.
	ErrShortBuffer = errors.New("message: record truncated")
	// ErrNoRecord: TOTALSIZE and MAGICCODE are both zero. In a preallocated
	// (zero-filled) segment this is where the written data ends.
	ErrNoRecord = errors.New("message: zero bytes where a record should start")
	// ErrBlank: the end-of-segment blank marker. Decode returns its
	// TOTALSIZE (the bytes left in the segment) as n.
	ErrBlank = errors.New("message: end-of-segment blank")
	// ErrBadMagic: MAGICCODE is neither V1, V2 nor the blank, or the version
	// does not fit the topic length.
	ErrBadMagic = errors.New("message: bad magic code")
	// ErrBadSize: TOTALSIZE or a field length is negative, out of range or
	// inconsistent with the others.
	ErrBadSize = errors.New("message: bad record size")
	// ErrBadHost: a host port outside 0..65535 in a record; on encode, an
	// invalid address or one whose family disagrees with SYSFLAG.
	ErrBadHost = errors.New("message: bad host address")
	// ErrBadCRC: BODYCRC does not match the body.
	ErrBadCRC = errors.New("message: body CRC mismatch")
)

// Errors Encode returns.
var (
	// ErrShortDst: the destination is smaller than the encoded size.
	ErrShortDst = errors.New("message: destination buffer too small")
	// ErrTopicLength: the topic is empty or longer than MaxTopicBytesV2.
	ErrTopicLength = errors.New("message: topic length out of range")
	// ErrPropertiesTooLong: encoded properties exceed MaxPropertiesBytes.
	ErrPropertiesTooLong = errors.New("message: properties longer than 32767 bytes")
	// ErrRecordTooLarge: the record would exceed MaxRecordBytes.
	ErrRecordTooLarge = errors.New("message: record larger than 2 GiB")
)

// Errors of the other codecs in this package.
var (
	// ErrBadProperty: a property key or value cannot be encoded.
	ErrBadProperty = errors.New("message: bad property")
	// ErrBadBatch: a SEND_BATCH_MESSAGE body is malformed.
	ErrBadBatch = errors.New("message: malformed batch")
	// ErrBadMsgID: a string is not an offset message id.
	ErrBadMsgID = errors.New("message: bad offset message id")
	// ErrBadName: a topic or group name breaks the naming rules.
	ErrBadName = errors.New("message: bad name")
	// ErrBadDelayLevels: a messageDelayLevel setting does not parse.
	ErrBadDelayLevels = errors.New("message: bad delay levels")
)
