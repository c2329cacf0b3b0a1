package message

import (
	"fmt"
	"strings"
)

// System topic names (Java's TopicValidator) and the retry/DLQ prefixes.
const (
	// AutoCreateTopicKey is the template topic for auto-creation; Go
	// producers always name it as defaultTopic.
	AutoCreateTopicKey     = "TBW102"
	ScheduleTopic          = "SCHEDULE_TOPIC_XXXX"
	ScheduleTopicV2        = "SCHEDULE_TOPIC_XXXX_V2"
	BenchmarkTopic         = "BenchmarkTest"
	TransHalfTopic         = "RMQ_SYS_TRANS_HALF_TOPIC"
	TransOpHalfTopic       = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TransCheckMaxTimeTopic = "TRANS_CHECK_MAX_TIME_TOPIC"
	TraceTopic             = "RMQ_SYS_TRACE_TOPIC"
	SelfTestTopic          = "SELF_TEST_TOPIC"
	OffsetMovedEventTopic  = "OFFSET_MOVED_EVENT"
	// SystemTopicPrefix marks further system topics.
	SystemTopicPrefix = "rmq_sys_"

	// RetryGroupTopicPrefix + group is a consumer group's retry topic.
	RetryGroupTopicPrefix = "%RETRY%"
	// DLQGroupTopicPrefix + group is a consumer group's dead-letter topic.
	DLQGroupTopicPrefix = "%DLQ%"
)

// Name limits.
//
// Java allows 127 bytes for a topic but 255 for a %RETRY% or %DLQ% topic,
// and 255 for a group (the Go client checks the same). A topic above 127
// bytes is stored as a V2 record, which no Go consumer can decode: one
// such record in a PULL body desynchronises the rest of it. Thrust
// therefore keeps every topic it stores V1-encodable, retry and DLQ topics
// included, and limits group names so that a valid group's retry and DLQ
// topics are valid too. A group name of 121..255 bytes, which Java accepts,
// is refused here with an error that says why, rather than accepted and
// broken on its first retry.
const (
	MaxTopicBytes = MaxTopicBytesV1                            // 127
	MaxGroupBytes = MaxTopicBytes - len(RetryGroupTopicPrefix) // 120
)

// ValidateTopic checks a topic name: not empty, only [%|a-zA-Z0-9_-], at
// most MaxTopicBytes bytes for every topic (see the name limits). Errors
// wrap ErrBadName; the broker answers them with INVALID_PARAMETER. It does
// not refuse system topics: see IsSendForbiddenTopic.
func ValidateTopic(name string) error {
	return validateName("topic", name, MaxTopicBytes)
}

// ValidateGroup checks a consumer or producer group name: the charset of
// topics and at most MaxGroupBytes bytes, so that RetryTopic(name) and
// DLQTopic(name) pass ValidateTopic.
func ValidateGroup(name string) error {
	return validateName("group", name, MaxGroupBytes)
}

func validateName(what, name string, limit int) error {
	if name == "" {
		return fmt.Errorf("%w: %s name is empty", ErrBadName, what)
	}
	for i := 0; i < len(name); i++ {
		if !validNameByte(name[i]) {
			return fmt.Errorf("%w: %s %q has %q at byte %d; allowed are [%%|a-zA-Z0-9_-]", ErrBadName, what, name, name[i], i)
		}
	}
	if len(name) > limit {
		return fmt.Errorf("%w: %s name is %d bytes, at most %d", ErrBadName, what, len(name), limit)
	}
	return nil
}

func validNameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '%', c == '|', c == '_', c == '-':
		return true
	}
	return false
}

// IsSystemTopic reports whether name is one of Java's system topics (the
// fixed set, or a name starting with SystemTopicPrefix). Users may not
// create or delete them.
func IsSystemTopic(name string) bool {
	switch name {
	case AutoCreateTopicKey, ScheduleTopic, ScheduleTopicV2, BenchmarkTopic, TransHalfTopic,
		TransOpHalfTopic, TransCheckMaxTimeTopic, TraceTopic, SelfTestTopic, OffsetMovedEventTopic:
		return true
	}
	return strings.HasPrefix(name, SystemTopicPrefix)
}

// IsSendForbiddenTopic reports whether producers may not send to name
// (Java's isNotAllowedSendTopic): the broker answers NO_PERMISSION.
func IsSendForbiddenTopic(name string) bool {
	switch name {
	case ScheduleTopic, ScheduleTopicV2, TransHalfTopic, TransOpHalfTopic,
		TransCheckMaxTimeTopic, SelfTestTopic, OffsetMovedEventTopic:
		return true
	}
	return false
}

// RetryTopic returns the retry topic of group.
func RetryTopic(group string) string { return RetryGroupTopicPrefix + group }

// DLQTopic returns the dead-letter topic of group.
func DLQTopic(group string) string { return DLQGroupTopicPrefix + group }

// IsRetryTopic reports whether name is a retry topic.
func IsRetryTopic(name string) bool { return strings.HasPrefix(name, RetryGroupTopicPrefix) }

// IsDLQTopic reports whether name is a dead-letter topic.
func IsDLQTopic(name string) bool { return strings.HasPrefix(name, DLQGroupTopicPrefix) }
