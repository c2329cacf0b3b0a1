package message

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCQUnit(t *testing.T) {
	buf := make([]byte, 2*CQUnitSize)
	PutCQUnit(buf[CQUnitSize:], 1<<42+3, 1234, -5)
	off, size, code := ReadCQUnit(buf[CQUnitSize:])
	if off != 1<<42+3 || size != 1234 || code != -5 {
		t.Fatalf("got %d %d %d", off, size, code)
	}
	want := []byte{0, 0, 4, 0, 0, 0, 0, 3, 0, 0, 4, 0xD2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFB}
	if string(buf[CQUnitSize:]) != string(want) {
		t.Fatalf("layout %x", buf[CQUnitSize:])
	}
	for _, b := range buf[:CQUnitSize] {
		if b != 0 {
			t.Fatal("PutCQUnit wrote outside its unit")
		}
	}
}

func TestParseDelayLevels(t *testing.T) {
	levels, err := ParseDelayLevels(DefaultDelayLevels)
	if err != nil || len(levels) != 18 {
		t.Fatalf("%v %v", levels, err)
	}
	if levels[0] != time.Second || levels[2] != 10*time.Second || levels[4] != time.Minute || levels[17] != 2*time.Hour {
		t.Fatalf("levels %v", levels)
	}
	if l, err := ParseDelayLevels("  2d\t1s  "); err != nil || l[0] != 48*time.Hour || l[1] != time.Second {
		t.Fatalf("%v %v", l, err)
	}
	for _, bad := range []string{"", "   ", "1s 5x", "s", "0s", "-1s", "1.5s", "1S", "1s 2", "9999999999999999h", "1 s"} {
		if _, err := ParseDelayLevels(bad); !errors.Is(err, ErrBadDelayLevels) {
			t.Errorf("ParseDelayLevels(%q) = %v, want ErrBadDelayLevels", bad, err)
		}
	}
	if _, err := ParseDelayLevels(strings.Repeat("1s ", MaxDelayLevels+1)); !errors.Is(err, ErrBadDelayLevels) {
		t.Error("too many levels accepted")
	}
}

func TestValidateTopic(t *testing.T) {
	good := []string{"TopicTest", "a", "%RETRY%group-1", "%DLQ%g_2", "x|y", strings.Repeat("t", 127), "TBW102"}
	for _, s := range good {
		if err := ValidateTopic(s); err != nil {
			t.Errorf("ValidateTopic(%q) = %v", s, err)
		}
	}
	bad := []string{"", " ", "a b", "topic.name", "tópico", strings.Repeat("t", 128), "%RETRY%" + strings.Repeat("g", 121), "a\x00"}
	for _, s := range bad {
		if err := ValidateTopic(s); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidateTopic(%q) = %v, want ErrBadName", s, err)
		}
	}
	// Every valid group has valid retry and DLQ topics.
	g := strings.Repeat("g", MaxGroupBytes)
	if ValidateGroup(g) != nil || ValidateTopic(RetryTopic(g)) != nil || ValidateTopic(DLQTopic(g)) != nil {
		t.Fatal("a maximal group's retry/DLQ topic is invalid")
	}
	if !errors.Is(ValidateGroup(g+"g"), ErrBadName) || !errors.Is(ValidateGroup("a/b"), ErrBadName) || !errors.Is(ValidateGroup(""), ErrBadName) {
		t.Fatal("ValidateGroup accepts a bad group")
	}
}

func TestSystemTopics(t *testing.T) {
	for _, s := range []string{ScheduleTopic, TransHalfTopic, TransOpHalfTopic, TransCheckMaxTimeTopic, SelfTestTopic, OffsetMovedEventTopic} {
		if !IsSendForbiddenTopic(s) || !IsSystemTopic(s) {
			t.Errorf("%s: forbidden=%v system=%v", s, IsSendForbiddenTopic(s), IsSystemTopic(s))
		}
	}
	for _, s := range []string{AutoCreateTopicKey, TraceTopic, BenchmarkTopic, "rmq_sys_wheel_timer"} {
		if !IsSystemTopic(s) || IsSendForbiddenTopic(s) {
			t.Errorf("%s: want system, sendable", s)
		}
	}
	if IsSystemTopic("TopicTest") || IsSendForbiddenTopic("TopicTest") {
		t.Error("user topic flagged")
	}
	if !IsRetryTopic(RetryTopic("g")) || IsRetryTopic(DLQTopic("g")) || !IsDLQTopic(DLQTopic("g")) {
		t.Error("retry/DLQ prefixes")
	}
}
