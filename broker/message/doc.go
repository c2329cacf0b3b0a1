// Package message is the pure codec for Apache RocketMQ's stored message
// record and everything that travels with it: the record itself (commit log,
// PULL_MESSAGE bodies, HA stream), the end-of-segment blank, SEND_BATCH_MESSAGE
// member records, message properties, offset message ids and UNIQ_KEYs, tag
// hash codes, the 20-byte consume-queue unit, delay levels and topic/group
// name rules.
//
// The store calls this package on its hot path and encodes straight into a
// memory-mapped segment, so encoding writes into a caller-sized buffer and
// allocates nothing. Decoding checks every length before it slices and reports
// what is wrong with a distinct sentinel error, so that recovery can tell the
// clean end of a segment, a blank, a torn tail and corruption apart.
//
// # What this package may import
//
// The standard library's pure packages only: bytes, encoding/binary, errors,
// fmt, hash/crc32, math, net/netip (addresses as values), strconv, strings,
// time (durations, and calendar arithmetic on a time the caller passes in,
// never the clock) and unicode/utf16. No os, net, syscall, clock reads,
// global or crypto randomness, goroutines or select. Properties are an
// ordered slice, never a map, so nothing this package writes depends on map
// iteration order; the maps used to find duplicate keys in long lists are
// only looked up.
//
// The nested module gocheck/ cross-checks this codec against the official
// Go client's decoder; it keeps the client out of the broker's go.mod.
//
// # The stored record (§5.1 of the protocol notes)
//
// Big-endian everywhere. Offsets for V1 magic and IPv4 hosts:
//
//	  0      4      8      12     16     20            28            36
//	  +------+------+------+------+------+-------------+-------------+------+
//	  |TOTAL | MAGIC| BODY |QUEUE | FLAG | QUEUEOFFSET | PHYSICAL-   |SYS-  |
//	  | SIZE |      | CRC  | ID   |      |    i64      | OFFSET i64  |FLAG  |
//	  +------+------+------+------+------+-------------+-------------+------+
//	  40            48            56            64            72     76
//	  +-------------+------+------+-------------+------+------+------+--------------+
//	  | BORN        | BORN | BORN | STORE       |STORE |STORE |RECON-| PREPARED     |
//	  | TIMESTAMP   | IPv4 | PORT | TIMESTAMP   | IPv4 | PORT |SUME  | TRANSACTION  |
//	  | i64 ms      |  4   | i32  | i64 ms      |  4   | i32  |TIMES | OFFSET i64   |
//	  +-------------+------+------+-------------+------+------+------+--------------+
//	  84     88           88+B  89+B        89+B+T   91+B+T
//	  +------+-----------+-----+-----------+--------+------------+
//	  | BODY | BODY      |TOPIC| TOPIC     | PROPS  | PROPERTIES |
//	  | LEN B| B bytes   |LEN T| T bytes   | LEN P  | P bytes    |
//	  | i32  |           | u8  | UTF-8     | i16    | see below  |
//	  +------+-----------+-----+-----------+--------+------------+
//
//	TOTALSIZE = 91 + B + T + P                               (V1, IPv4 hosts)
//
// An IPv6 host (SYSFLAG bit 4 for the born host, bit 5 for the store host)
// is 16 address bytes plus the i32 port, 20 bytes instead of 8, and shifts
// everything after it by 12:
//
//	BORNHOST  @48: | IPv6 address (16) | port i32 |    STORETIMESTAMP moves to 68
//	STOREHOST    : | IPv6 address (16) | port i32 |
//
// V2 magic widens TOPICLENGTH to an i16 (one more byte). Java writes V2 only
// for topics longer than 127 bytes, and so does Encode. The official Go
// client cannot read V2 at all: it ignores the magic and always reads a
// one-byte topic length, so one V2 record in a PULL body desynchronises every
// record after it. ValidateTopic therefore keeps every topic, retry and DLQ
// topics included, at 127 bytes or fewer (see MaxTopicBytes).
//
// BODYCRC is crc32.ChecksumIEEE(BODY) & 0x7FFFFFFF over the body as stored
// (compressed if SYSFLAG bit 0 is set). Nothing else in the record is covered
// by a checksum, which is why Decode also checks every length, the magic and
// the ports: a flipped bit in a length is caught by the exact-sum rule below.
//
// # The end-of-segment blank (§5.2)
//
//	+-------------------+-------------------+
//	| TOTALSIZE i32     | MAGIC 0xCBD43194  |   8 bytes; TOTALSIZE = bytes left
//	+-------------------+-------------------+   in the segment, blank included
//
// A record never spans two segments: when a record plus BlankSize bytes does
// not fit in what is left, the store writes a blank and moves on.
//
// # A SEND_BATCH_MESSAGE member record (§5.6)
//
//	0        4        8        12       16       20        20+N     22+N
//	+--------+--------+--------+--------+--------+---------+--------+----------+
//	|TOTAL-  | MAGIC  | BODY-  | FLAG   | BODY-  | BODY    | PROPS- | PROPS    |
//	|SIZE    | (0)    | CRC (0)|        | LEN N  | N bytes | LEN M  | M bytes  |
//	+--------+--------+--------+--------+--------+---------+--------+----------+
//
//	TOTALSIZE = 22 + N + M; the batch body is members back to back.
//
// # Properties (§5.4)
//
//	key 0x01 value 0x02 key 0x01 value 0x02 ...      (a trailing 0x02 always)
//
// Both reference encoders write the trailing separator. Readers split on
// 0x02, split each piece at its first 0x01, and drop a pair whose key or
// value is empty; the last of duplicate keys wins. At most 32767 bytes.
//
// # The consume-queue unit (§7.3)
//
//	0                   8          12                  20
//	+-------------------+----------+-------------------+
//	| physOffset i64    | size i32 | tagsCode i64      |
//	+-------------------+----------+-------------------+
//
// tagsCode is the Java String.hashCode of the whole TAGS property, sign
// extended (0 without tags); for SCHEDULE_TOPIC_XXXX it is the delivery time.
//
// # The offset message id (§5.5)
//
//	hex(store IP (4 or 16) | store port i32 | physOffset i64), uppercase
//	IPv4: 16 bytes = 32 hex chars        IPv6: 28 bytes = 56 hex chars
//
// # Invariants
//
//   - Encode writes exactly EncodedSize(len(body), len(topic), len(props),
//     sysFlag) bytes, or nothing and an error.
//   - A record Decode accepts re-encodes to the identical bytes: TOTALSIZE
//     equals the sum of the fixed part and the three lengths exactly (no
//     slack), the magic is V1 exactly when the topic fits 127 bytes, ports
//     fit 16 bits and the body CRC matches.
//   - The SYSFLAG host bits always agree with the host address families;
//     Encode refuses a record where they do not, because they decide the
//     layout.
//   - Decoded Body and Properties alias the input buffer; nothing is copied
//     except the topic string. Encode never retains its arguments.
//   - Nothing here reads a clock or a random source of its own: UNIQ_KEY
//     generation takes the time and a seeded source as arguments.
package message
