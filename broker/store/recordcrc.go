package store

import (
	"errors"
	"fmt"
	"hash/crc32"
)

// The record CRC property (RocketMQ's enabledAppendPropCRC) is the last
// property of a record:
//
//	... 0x02 | "__CRC32#" | 0x01 | ten decimal digits | 0x02 |  (end of record)
//	         |<------------- recordCRCPropertyLen ------------>|
//
// The digits are CRC-32 (IEEE, masked to 31 bits, as BODYCRC) of every byte
// of the record before the property. BODYCRC alone covers only the body, so
// a torn write that kept the body but lost a sector of the header, topic or
// properties would otherwise pass recovery and be served.
// RecordCRCProperty is the key of the record CRC property. Code that reads a
// record and stores it again (delayed delivery, retries, transactions) drops
// it first: the store appends a fresh one.
const RecordCRCProperty = recordCRCKey

const (
	recordCRCKey         = "__CRC32#"
	recordCRCDigits      = 10
	recordCRCPropertyLen = len(recordCRCKey) + 1 + recordCRCDigits + 1
)

var errRecordCRC = errors.New("store: record CRC mismatch")

// appendRecordCRCPlaceholder returns props with room for the CRC property at
// the end, with a separator added first if props lacks a trailing one.
func appendRecordCRCPlaceholder(dst, props []byte) []byte {
	dst = append(dst, props...)
	if len(props) > 0 && props[len(props)-1] != 0x02 {
		dst = append(dst, 0x02)
	}
	dst = append(dst, recordCRCKey...)
	dst = append(dst, 0x01)
	dst = append(dst, "0000000000"...)
	return append(dst, 0x02)
}

// sealRecordCRC fills in the digits of the CRC property that ends rec.
func sealRecordCRC(rec []byte) {
	n := len(rec) - recordCRCPropertyLen
	crc := crc32.ChecksumIEEE(rec[:n]) & 0x7fffffff
	digits := rec[len(rec)-1-recordCRCDigits : len(rec)-1]
	for i := recordCRCDigits - 1; i >= 0; i-- {
		digits[i] = byte('0' + crc%10)
		crc /= 10
	}
}

// hasRecordCRC reports whether rec ends with a CRC property.
func hasRecordCRC(rec []byte) bool {
	n := len(rec) - recordCRCPropertyLen
	if n < 0 {
		return false
	}
	tail := rec[n:]
	if string(tail[:len(recordCRCKey)]) != recordCRCKey || tail[len(recordCRCKey)] != 0x01 || tail[len(tail)-1] != 0x02 {
		return false
	}
	for _, c := range tail[len(recordCRCKey)+1 : len(tail)-1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// verifyRecordCRC checks the CRC property of rec, if it has one.
func verifyRecordCRC(rec []byte) error {
	if !hasRecordCRC(rec) {
		return nil
	}
	n := len(rec) - recordCRCPropertyLen
	var want uint32
	for _, c := range rec[len(rec)-1-recordCRCDigits : len(rec)-1] {
		want = want*10 + uint32(c-'0')
	}
	if got := crc32.ChecksumIEEE(rec[:n]) & 0x7fffffff; got != want {
		return fmt.Errorf("%w: property says %d, record hashes to %d", errRecordCRC, want, got)
	}
	return nil
}
