package message

import (
	"strings"
	"unicode/utf16"
)

// TagsHashCode is the consume-queue tags code of a message whose TAGS
// property is tags (§6.9): Java's String.hashCode over the UTF-16 code units
// of the whole string, s[0]*31^(n-1) + ... + s[n-1] wrapping in int32, then
// sign-extended to int64. An empty string hashes to 0, the code of an
// untagged message.
//
// NB: the Go client's HashString hashes UTF-8 bytes instead. The two agree
// only for ASCII, so the broker must compute subscription code sets from the
// tag strings with this function and ignore the codeSet Go clients send.
//
// Each byte of an invalid UTF-8 sequence counts as U+FFFD, as Go's range
// loop decodes it. Java's UTF-8 decoder may group a malformed sequence into
// fewer replacement characters; tags are expected to be valid UTF-8.
func TagsHashCode(tags string) int64 {
	var h int32
	for _, r := range tags {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + hi
			h = 31*h + lo
			continue
		}
		h = 31*h + r
	}
	return int64(h)
}

// SubscribeAll is the tag expression that matches every message.
const SubscribeAll = "*"

// SplitTags splits a TAG subscription expression as Java's
// FilterAPI.buildSubscriptionData does. An expression that is empty or
// exactly "*" subscribes to everything: all is true and tags nil. Otherwise
// the expression is split on "||", each piece trimmed of leading and
// trailing bytes <= ' ' (Java's String.trim), empty pieces dropped and
// duplicates removed, keeping first-seen order. An expression of separators
// only yields no tags and all false: it matches nothing.
func SplitTags(expr string) (tags []string, all bool) {
	if expr == "" || expr == SubscribeAll {
		return nil, true
	}
	for piece := range strings.SplitSeq(expr, "||") {
		t := strings.TrimFunc(piece, func(r rune) bool { return r <= ' ' })
		if t == "" {
			continue
		}
		dup := false
		for _, seen := range tags {
			dup = dup || seen == t
		}
		if !dup {
			tags = append(tags, t)
		}
	}
	return tags, false
}
