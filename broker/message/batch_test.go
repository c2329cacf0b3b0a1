package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func buildBatch(t *testing.T, members ...BatchMember) []byte {
	t.Helper()
	var b []byte
	for _, m := range members {
		var err error
		b, err = AppendBatchMember(b, m.Flag, m.Body, m.Properties)
		if err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestDecodeBatch(t *testing.T) {
	in := []BatchMember{
		{Flag: 1, Body: []byte("first"), Properties: []byte("TAGS\x01a\x02")},
		{Flag: 0, Body: nil, Properties: nil},
		{Flag: -1, Body: bytes.Repeat([]byte{7}, 300), Properties: []byte("KEYS\x01x y\x02")},
	}
	body := buildBatch(t, in...)
	if len(body) != 3*BatchMemberHeaderSize+5+7+300+9 {
		t.Fatalf("batch size %d", len(body))
	}
	n, err := ValidateBatch(body)
	if err != nil || n != 3 {
		t.Fatalf("ValidateBatch = %d %v", n, err)
	}
	var got []BatchMember
	err = DecodeBatch(body, func(m BatchMember) error { got = append(got, m); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if got[i].Index != i || got[i].Flag != in[i].Flag || !bytes.Equal(got[i].Body, in[i].Body) ||
			!bytes.Equal(got[i].Properties, in[i].Properties) {
			t.Errorf("member %d: got %+v, want %+v", i, got[i], in[i])
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := DecodeBatch(body, func(BatchMember) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("visit error: %v after %d calls", err, calls)
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	good := buildBatch(t,
		BatchMember{Body: []byte("abc"), Properties: []byte("K\x01v\x02")},
		BatchMember{Body: []byte("defg")})
	second := BatchMemberHeaderSize + 3 + 4
	be := binary.BigEndian
	cases := []struct {
		name, in, msg string
	}{
		{"empty", "", "empty batch"},
		{"short header", string(good[:10]), "member 0"},
		{"truncated second", string(good[:len(good)-1]), "member 1"},
		{"trailing garbage", string(good) + "xx", "member 2"},
		{"total below header", string(mutate(good, func(b []byte) { be.PutUint32(b, 21) })), "TOTALSIZE 21"},
		{"negative total", string(mutate(good, func(b []byte) { be.PutUint32(b, 0xFFFFFFF0) })), "TOTALSIZE -16"},
		{"total past end", string(mutate(good, func(b []byte) { be.PutUint32(b[second:], 1000) })), "member 1"},
		{"negative body length", string(mutate(good, func(b []byte) { be.PutUint32(b[16:], 0xFFFFFFFF) })), "BODYLENGTH -1"},
		{"body length too long", string(mutate(good, func(b []byte) { be.PutUint32(b[16:], 100) })), "BODYLENGTH 100"},
		{"props length mismatch", string(mutate(good, func(b []byte) { be.PutUint16(b[20+3:], 3) })), "PROPERTIESLENGTH 3"},
		{"negative props length", string(mutate(good, func(b []byte) { be.PutUint16(b[20+3:], 0xFFFF) })), "PROPERTIESLENGTH -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			err := DecodeBatch([]byte(tc.in), func(BatchMember) error { called = true; return nil })
			if !errors.Is(err, ErrBadBatch) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want ErrBadBatch mentioning %q", err, tc.msg)
			}
			if called {
				t.Fatal("visit called for a malformed batch")
			}
		})
	}
}

func TestBatchIgnoresMagicAndCRC(t *testing.T) {
	// Java's broker ignores both fields; so do we.
	b := buildBatch(t, BatchMember{Body: []byte("x")})
	binary.BigEndian.PutUint32(b[4:], 0xDEADBEEF)
	binary.BigEndian.PutUint32(b[8:], 12345)
	if n, err := ValidateBatch(b); err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
}
