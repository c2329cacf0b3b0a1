package message

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestOffsetMsgID(t *testing.T) {
	cases := []struct {
		host netip.AddrPort
		off  int64
		want string
	}{
		// A SendResult printed by a Java producer against a Java broker.
		{netip.MustParseAddrPort("10.0.192.122:10911"), 0, "0A00C07A00002A9F0000000000000000"},
		{netip.MustParseAddrPort("192.168.1.2:10911"), 1<<40 + 0xABC, "C0A8010200002A9F0000010000000ABC"},
		{netip.MustParseAddrPort("[2001:db8::1]:10911"), 255,
			"20010DB8000000000000000000000001" + "00002A9F" + "00000000000000FF"},
		{netip.MustParseAddrPort("[::ffff:1.2.3.4]:1"), 1,
			"00000000000000000000FFFF01020304" + "00000001" + "0000000000000001"},
		{netip.AddrPort{}, 2, "00000000000000000000000000000002"},
	}
	for _, tc := range cases {
		got := OffsetMsgID(tc.host, tc.off)
		if got != tc.want {
			t.Errorf("OffsetMsgID(%v, %d) = %s, want %s", tc.host, tc.off, got, tc.want)
		}
		if tc.host.IsValid() {
			h, off, err := ParseOffsetMsgID(got)
			if err != nil || h != tc.host || off != tc.off {
				t.Errorf("ParseOffsetMsgID(%s) = %v %d %v", got, h, off, err)
			}
		}
		if string(AppendOffsetMsgID([]byte("x,"), tc.host, tc.off)) != "x,"+tc.want {
			t.Error("AppendOffsetMsgID")
		}
	}
	if h, off, err := ParseOffsetMsgID(strings.ToLower(cases[1].want)); err != nil || h != cases[1].host || off != cases[1].off {
		t.Errorf("lowercase id: %v %d %v", h, off, err)
	}
}

func TestParseOffsetMsgIDErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"0A00C07A00002A9F000000000000000",   // 31
		"0A00C07A00002A9F00000000000000000", // 33: the Go client panics on these
		strings.Repeat("0", 55),
		strings.Repeat("0", 57),
		"0A00C07A00002A9F000000000000000G",
		"0A00C07A00010000" + "0000000000000000", // port 65536
		"0A00C07AFFFFFFFF" + "0000000000000000", // port -1
	} {
		if _, _, err := ParseOffsetMsgID(s); !errors.Is(err, ErrBadMsgID) {
			t.Errorf("ParseOffsetMsgID(%q) = %v, want ErrBadMsgID", s, err)
		}
	}
}

type fixedRand uint64

func (f fixedRand) Uint64() uint64 { return uint64(f) }

func TestUniqIDGenerator(t *testing.T) {
	// A Java UNIQ_KEY: ip 0A00C07A, pid C3B7, class-loader hash 18B4AAC2,
	// 0x30B97752 ms into the month, counter 0.
	g := NewUniqIDGenerator(netip.MustParseAddr("10.0.192.122"), -0x3C49, fixedRand(0x18B4AAC2))
	if got := g.Next(0x30B97752); got != "0A00C07AC3B718B4AAC230B977520000" {
		t.Fatalf("got %s", got)
	}
	if got := g.Next(0x30B97752); got != "0A00C07AC3B718B4AAC230B977520001" {
		t.Fatalf("counter: got %s", got)
	}
	if got := string(g.AppendNext([]byte("p"), -5)); got != "p0A00C07AC3B718B4AAC2000000000002" {
		t.Fatalf("slightly negative time: got %s", got)
	}
	g.counter = 0xFFFF
	if got := g.Next(1); !strings.HasSuffix(got, "00000001FFFF") || !strings.HasSuffix(g.Next(1), "000000010000") {
		t.Fatalf("wrap: %s", got)
	}

	g6 := NewUniqIDGenerator(netip.MustParseAddr("2001:db8::1"), 1, rand.New(rand.NewPCG(1, 2)))
	if id := g6.Next(1); len(id) != 56 || !strings.HasPrefix(id, "20010DB8000000000000000000000001"+"0001") {
		t.Fatalf("IPv6 id %s", id)
	}
	g4in6 := NewUniqIDGenerator(netip.MustParseAddr("::ffff:10.0.192.122"), 1, fixedRand(0))
	if id := g4in6.Next(1); len(id) != 32 || !strings.HasPrefix(id, "0A00C07A") {
		t.Fatalf("mapped IPv4 id %s", id)
	}
	// Same seed, same ids.
	a := NewUniqIDGenerator(netip.MustParseAddr("1.2.3.4"), 9, rand.New(rand.NewPCG(7, 7)))
	b := NewUniqIDGenerator(netip.MustParseAddr("1.2.3.4"), 9, rand.New(rand.NewPCG(7, 7)))
	if a.Next(5) != b.Next(5) {
		t.Fatal("not reproducible from the seed")
	}
}

func TestUniqIDAllocs(t *testing.T) {
	g := NewUniqIDGenerator(netip.MustParseAddr("1.2.3.4"), 9, fixedRand(3))
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = g.AppendNext(buf[:0], 12345) }); n != 0 {
		t.Fatalf("AppendNext allocates %v", n)
	}
}

func TestMillisSinceMonthStart(t *testing.T) {
	utc := time.Date(2025, time.March, 3, 1, 2, 3, 4_000_000, time.UTC)
	if got, want := MillisSinceMonthStart(utc), int64((2*24*3600+3600+2*60+3)*1000+4); got != want {
		t.Fatalf("got %d want %d", got, want)
	}
	// The month starts at local midnight of the given location.
	east := time.FixedZone("UTC+8", 8*3600)
	t0 := time.Date(2025, time.April, 1, 0, 0, 0, 0, east) // 2025-03-31T16:00Z
	if got := MillisSinceMonthStart(t0); got != 0 {
		t.Fatalf("local month start: %d", got)
	}
	if got := MillisSinceMonthStart(t0.UTC()); got != int64(30*24*3600+16*3600)*1000 {
		t.Fatalf("same instant in UTC: %d", got)
	}
}
