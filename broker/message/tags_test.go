package message

import (
	"math"
	"reflect"
	"testing"
)

func TestTagsHashCode(t *testing.T) {
	cases := []struct {
		s    string
		want int64
	}{
		{"", 0},
		{"a", 97},
		{"hello", 99162322},                   // Java "hello".hashCode()
		{"polygenelubricants", math.MinInt32}, // the famous one: wraps to exactly MIN_VALUE
		{"TagA", 2598919},                     // 84*31^3 + 97*31^2 + 103*31 + 65
		{"中文", 20013*31 + 25991},              // BMP: one UTF-16 unit each
		{"😀", 0xD83D*31 + 0xDE00},             // astral: a surrogate pair
		{"\xff", 0xFFFD},                      // invalid UTF-8 counts as U+FFFD
	}
	for _, tc := range cases {
		if got := TagsHashCode(tc.s); got != tc.want {
			t.Errorf("TagsHashCode(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
	// Sign extension: a negative int32 stays negative in the int64.
	if TagsHashCode("polygenelubricants") >= 0 {
		t.Fatal("not sign-extended")
	}
}

func TestSplitTags(t *testing.T) {
	cases := []struct {
		expr string
		tags []string
		all  bool
	}{
		{"", nil, true},
		{"*", nil, true},
		{"TagA", []string{"TagA"}, false},
		{" TagA || TagB||TagC ", []string{"TagA", "TagB", "TagC"}, false},
		{"a||a||b", []string{"a", "b"}, false},
		{"a || * ", []string{"a", "*"}, false},
		{" * ", []string{"*"}, false}, // Java compares before trimming
		{"||  ||", nil, false},        // matches nothing
		{"a|b", []string{"a|b"}, false},
		{"\ta\x00||\u00a0b", []string{"a", "\u00a0b"}, false}, // trim stops at <= ' '
	}
	for _, tc := range cases {
		tags, all := SplitTags(tc.expr)
		if all != tc.all || !reflect.DeepEqual(tags, tc.tags) {
			t.Errorf("SplitTags(%q) = %q %v, want %q %v", tc.expr, tags, all, tc.tags, tc.all)
		}
	}
}
