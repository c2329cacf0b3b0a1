package message

import "encoding/binary"

// CQUnitSize is the size of one consume-queue unit (§7.3): the entry for
// logical offset n lives at byte n*CQUnitSize of its queue.
const CQUnitSize = 20

// PutCQUnit writes a consume-queue unit into dst[:CQUnitSize]: the record's
// physical offset, its TOTALSIZE, and its tags code (TagsHashCode of TAGS,
// 0 without tags; the delivery time in Unix ms for SCHEDULE_TOPIC_XXXX).
// It panics if dst is shorter than CQUnitSize.
func PutCQUnit(dst []byte, physOffset int64, size int32, tagsCode int64) {
	_ = dst[CQUnitSize-1] // one bounds check for the three stores
	binary.BigEndian.PutUint64(dst[0:], uint64(physOffset))
	binary.BigEndian.PutUint32(dst[8:], uint32(size))
	binary.BigEndian.PutUint64(dst[12:], uint64(tagsCode))
}

// ReadCQUnit reads the consume-queue unit in p[:CQUnitSize]. It panics if p
// is shorter. It does not judge the values: a zero unit (size 0) is the
// blank fill Java writes before a queue's first real unit, and the store
// decides what an out-of-range offset means.
func ReadCQUnit(p []byte) (physOffset int64, size int32, tagsCode int64) {
	_ = p[CQUnitSize-1]
	return int64(binary.BigEndian.Uint64(p[0:])),
		int32(binary.BigEndian.Uint32(p[8:])),
		int64(binary.BigEndian.Uint64(p[12:]))
}
