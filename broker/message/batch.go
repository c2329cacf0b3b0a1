package message

import (
	"encoding/binary"
	"fmt"
)

// BatchMember is one message of a SEND_BATCH_MESSAGE body (§5.6). The
// topic, queue, born timestamp, born host and SYSFLAG come from the request
// header and are shared by all members.
type BatchMember struct {
	// Index is the member's position in the batch, from 0.
	Index int
	// Flag is the member's user flag.
	Flag int32
	// Body and Properties alias the batch body.
	Body       []byte
	Properties []byte
}

// BatchMemberHeaderSize is the fixed part of a batch member record:
// TOTALSIZE, MAGICCODE, BODYCRC, FLAG, BODYLENGTH (4 bytes each) and
// PROPERTIESLENGTH (2).
const BatchMemberHeaderSize = 4 + 4 + 4 + 4 + 4 + 2

// ValidateBatch checks the framing of a whole batch body and returns the
// number of members. Every length is checked before it is used: TOTALSIZE
// must equal 22 + BODYLENGTH + PROPERTIESLENGTH exactly and fit in what is
// left of the body, lengths must not be negative, and an empty body is an
// error. Errors wrap ErrBadBatch and name the member and what is wrong.
//
// MAGICCODE and BODYCRC are not checked. Both reference clients write 0,
// and Java's broker ignores the fields (it recomputes the CRC), so a client
// that Java accepts is accepted here too.
func ValidateBatch(body []byte) (int, error) {
	if len(body) == 0 {
		return 0, fmt.Errorf("%w: empty batch", ErrBadBatch)
	}
	n := 0
	for off := 0; off < len(body); n++ {
		_, size, err := batchMemberAt(body, off, n)
		if err != nil {
			return 0, err
		}
		off += size
	}
	return n, nil
}

// DecodeBatch calls visit for each member of a SEND_BATCH_MESSAGE body, in
// order. It validates the whole body first (see ValidateBatch), so visit is
// called only for a well-formed batch and a caller never acts on a prefix of
// a malformed one. An error from visit stops the walk and is returned as is.
func DecodeBatch(body []byte, visit func(m BatchMember) error) error {
	if _, err := ValidateBatch(body); err != nil {
		return err
	}
	for off, i := 0, 0; off < len(body); i++ {
		m, size, err := batchMemberAt(body, off, i)
		if err != nil {
			// ValidateBatch saw the same bytes.
			panic("message: batch changed under DecodeBatch: " + err.Error())
		}
		if err := visit(m); err != nil {
			return err
		}
		off += size
	}
	return nil
}

// batchMemberAt decodes member i at body[off:] and returns it with its size.
func batchMemberAt(body []byte, off, i int) (BatchMember, int, error) {
	be := binary.BigEndian
	left := len(body) - off
	if left < BatchMemberHeaderSize {
		return BatchMember{}, 0, fmt.Errorf("%w: member %d at byte %d: %d bytes left, a member needs at least %d",
			ErrBadBatch, i, off, left, BatchMemberHeaderSize)
	}
	b := body[off:]
	total := int32(be.Uint32(b[0:]))
	if total < BatchMemberHeaderSize || int64(total) > int64(left) {
		return BatchMember{}, 0, fmt.Errorf("%w: member %d at byte %d: TOTALSIZE %d, want %d..%d",
			ErrBadBatch, i, off, total, BatchMemberHeaderSize, left)
	}
	b = b[:total]
	flag := int32(be.Uint32(b[12:]))
	bodyLen := int32(be.Uint32(b[16:]))
	if bodyLen < 0 || int(bodyLen) > len(b)-BatchMemberHeaderSize {
		return BatchMember{}, 0, fmt.Errorf("%w: member %d at byte %d: BODYLENGTH %d, TOTALSIZE %d leaves %d",
			ErrBadBatch, i, off, bodyLen, total, len(b)-BatchMemberHeaderSize)
	}
	p := 20 + int(bodyLen)
	mbody := b[20:p:p]
	propsLen := int16(be.Uint16(b[p:]))
	p += 2
	if propsLen < 0 || int(propsLen) != len(b)-p {
		return BatchMember{}, 0, fmt.Errorf("%w: member %d at byte %d: PROPERTIESLENGTH %d, TOTALSIZE %d leaves exactly %d",
			ErrBadBatch, i, off, propsLen, total, len(b)-p)
	}
	return BatchMember{Index: i, Flag: flag, Body: mbody, Properties: b[p:len(b):len(b)]}, int(total), nil
}

// AppendBatchMember appends one member record to a batch body, as a
// producer would write it (MAGICCODE and BODYCRC 0). props is an encoded
// properties field. It is for tests and tools; the broker only decodes
// batches.
func AppendBatchMember(dst []byte, flag int32, body, props []byte) ([]byte, error) {
	if len(props) > MaxPropertiesBytes {
		return dst, fmt.Errorf("%w: %d bytes", ErrPropertiesTooLong, len(props))
	}
	total := int64(BatchMemberHeaderSize) + int64(len(body)) + int64(len(props))
	if total > MaxRecordBytes {
		return dst, fmt.Errorf("%w: batch member of %d bytes", ErrRecordTooLarge, total)
	}
	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(total))
	dst = be.AppendUint32(dst, 0)
	dst = be.AppendUint32(dst, 0)
	dst = be.AppendUint32(dst, uint32(flag))
	dst = be.AppendUint32(dst, uint32(len(body)))
	dst = append(dst, body...)
	dst = be.AppendUint16(dst, uint16(len(props)))
	return append(dst, props...), nil
}
