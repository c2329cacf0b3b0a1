package message

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// javaParse is Java's MessageDecoder.string2messageProperties transcribed
// index by index (indexOf from the piece start, the ">= 3" and
// "kvSep < newIndex - 1" tests), to check ParseProperties against. Its map
// result is compared as a set, so its iteration order does not matter.
func javaParse(s string) map[string]string {
	m := map[string]string{}
	index := 0
	for index < len(s) {
		newIndex := strings.IndexByte(s[index:], 2)
		if newIndex < 0 {
			newIndex = len(s)
		} else {
			newIndex += index
		}
		if newIndex-index >= 3 {
			kv := strings.IndexByte(s[index:], 1)
			if kv >= 0 {
				kv += index
			}
			if kv > index && kv < newIndex-1 {
				m[s[index:kv]] = s[kv+1 : newIndex]
			}
		}
		index = newIndex + 1
	}
	return m
}

func asMap(p Properties) map[string]string {
	m := map[string]string{}
	for _, kv := range p {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestParseProperties(t *testing.T) {
	cases := []struct {
		in   string
		want Properties
	}{
		{"", nil},
		{"\x02\x02", nil},
		{"TAGS\x01tagA\x02", Properties{{"TAGS", "tagA"}}},
		{"TAGS\x01tagA", Properties{{"TAGS", "tagA"}}}, // no trailing separator
		{"TAGS\x01tagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C00002024B11000000008dc96ca00001\x02",
			Properties{{"TAGS", "tagA"}, {"KEYS", "k1 k2"}, {"UNIQ_KEY", "C00002024B11000000008dc96ca00001"}}},
		{"a\x01\x02b\x01x\x02", Properties{{"b", "x"}}},                        // empty value dropped
		{"\x01v\x02b\x01x\x02", Properties{{"b", "x"}}},                        // empty key dropped
		{"nosep\x02b\x01x\x02", Properties{{"b", "x"}}},                        // no 0x01 dropped
		{"k\x01v\x01w\x02", Properties{{"k", "v\x01w"}}},                       // split at the first 0x01 (Java)
		{"k\x01a\x02j\x01b\x02k\x01c\x02", Properties{{"k", "c"}, {"j", "b"}}}, // last wins, first position
		{"ab\x02k\x01v", Properties{{"k", "v"}}},
	}
	for _, tc := range cases {
		got := ParseProperties(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseProperties(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if jm := javaParse(tc.in); !reflect.DeepEqual(asMap(got), jm) {
			t.Errorf("ParseProperties(%q) = %q, Java reads %q", tc.in, got, jm)
		}
	}
}

func TestParsePropertiesManyDuplicates(t *testing.T) {
	// Past parseIndexThreshold the parser switches to a map; same result.
	var b strings.Builder
	for i := range 100 {
		b.WriteString(string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\x01v\x02")
		b.WriteString("aa\x01" + string(rune('A'+i%26)) + "\x02")
	}
	got := ParseProperties(b.String())
	if !reflect.DeepEqual(asMap(got), javaParse(b.String())) || got[0].Key != "aa" || len(got) != 100 {
		t.Fatalf("got %d pairs, first %v", len(got), got[0])
	}
}

func TestAppendProperties(t *testing.T) {
	p := Properties{{"TAGS", "tagA"}, {"KEYS", "k1 k2"}}
	b, err := AppendProperties([]byte("prefix"), p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "prefixTAGS\x01tagA\x02KEYS\x01k1 k2\x02" {
		t.Fatalf("got %q", b)
	}
	if p.EncodedLen() != len(b)-len("prefix") {
		t.Fatal("EncodedLen")
	}
	if b, err := AppendProperties(nil, nil); err != nil || len(b) != 0 {
		t.Fatalf("empty list: %q %v", b, err)
	}
	bad := []struct {
		p   Properties
		key string
	}{
		{Properties{{"", "v"}}, ""},
		{Properties{{"K", ""}}, `"K"`},
		{Properties{{"K\x01", "v"}}, `"K\x01"`},
		{Properties{{"K\x02", "v"}}, `"K\x02"`},
		{Properties{{"K", "v\x01"}}, `"K"`},
		{Properties{{"K", "v\x02"}}, `"K"`},
		{Properties{{"K", "a"}, {"J", "b"}, {"K", "c"}}, `"K"`},
	}
	for _, tc := range bad {
		out, err := AppendProperties([]byte("x"), tc.p)
		if !errors.Is(err, ErrBadProperty) || !strings.Contains(err.Error(), tc.key) || string(out) != "x" {
			t.Errorf("AppendProperties(%q) = %q, %v; want ErrBadProperty naming %s", tc.p, out, err, tc.key)
		}
	}
	big := Properties{{"K", strings.Repeat("v", MaxPropertiesBytes)}}
	if _, err := AppendProperties(nil, big); !errors.Is(err, ErrPropertiesTooLong) {
		t.Fatalf("oversized: %v", err)
	}
	var many Properties
	for i := range 40 {
		many = append(many, Property{strings.Repeat("k", i+1), "v"})
	}
	many = append(many, Property{"kkk", "dup"})
	if err := many.Validate(); !errors.Is(err, ErrBadProperty) || !strings.Contains(err.Error(), `"kkk"`) {
		t.Fatalf("duplicate in a long list: %v", err)
	}
}

func TestAppendProperty(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "CLUSTER\x01c1\x02"},
		{"A\x01b\x02", "A\x01b\x02CLUSTER\x01c1\x02"},
		{"A\x01b", "A\x01b\x02CLUSTER\x01c1\x02"}, // missing trailing separator restored
	}
	for _, tc := range cases {
		got, err := AppendProperty([]byte(tc.in), PropertyCluster, "c1")
		if err != nil || string(got) != tc.want {
			t.Errorf("AppendProperty(%q) = %q, %v", tc.in, got, err)
		}
	}
	got, _ := AppendProperty([]byte("CLUSTER\x01old\x02"), PropertyCluster, "new")
	if v, _ := LookupProperty(got, PropertyCluster); string(v) != "new" {
		t.Fatalf("appended value should win, got %q", v)
	}
	if _, err := AppendProperty(nil, "K", ""); !errors.Is(err, ErrBadProperty) {
		t.Fatal("empty value accepted")
	}
}

func TestPropertiesEdit(t *testing.T) {
	var p Properties
	p.Set("a", "1")
	p.Set("b", "2")
	p.Set("a", "3")
	if !reflect.DeepEqual(p, Properties{{"a", "3"}, {"b", "2"}}) {
		t.Fatalf("Set: %v", p)
	}
	if v, ok := p.Get("b"); !ok || v != "2" {
		t.Fatal("Get")
	}
	if !p.Delete("a") || p.Delete("zz") || !reflect.DeepEqual(p, Properties{{"b", "2"}}) {
		t.Fatalf("Delete: %v", p)
	}
}

func TestLookupProperty(t *testing.T) {
	raw := []byte("TAGS\x01a\x02X\x01\x02TAGS\x01b\x02KEYS\x01k\x01z\x02")
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{
		{"TAGS", "b", true},
		{"KEYS", "k\x01z", true},
		{"X", "", false},
		{"NONE", "", false},
	} {
		v, ok := LookupProperty(raw, tc.key)
		if ok != tc.ok || string(v) != tc.want {
			t.Errorf("LookupProperty(%q) = %q %v", tc.key, v, ok)
		}
		if pv, pok := ParseProperties(string(raw)).Get(tc.key); pok != ok || pv != string(v) {
			t.Errorf("LookupProperty and ParseProperties disagree on %q", tc.key)
		}
	}
}
