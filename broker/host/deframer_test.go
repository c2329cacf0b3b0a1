package host

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// lenFramer frames as a 4-byte big-endian payload length, then the payload.
type lenFramer struct{ max int }

func (f lenFramer) FrameLen(p []byte) (int, error) {
	if len(p) < 4 {
		return 0, nil
	}
	n := int(binary.BigEndian.Uint32(p))
	if n > f.max {
		return 0, errors.New("frame too long")
	}
	return 4 + n, nil
}

func (lenFramer) Decode(frame []byte) any { return frame }

func TestDeframerReassemblesAnySplit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var stream []byte
	var want []string
	for i := range 200 {
		payload := make([]byte, r.IntN(300))
		for j := range payload {
			payload[j] = byte(i + j)
		}
		stream = binary.BigEndian.AppendUint32(stream, uint32(len(payload)))
		stream = append(stream, payload...)
		want = append(want, string(payload))
	}
	for trial := range 50 {
		d := NewDeframer(lenFramer{max: 1 << 10})
		var got []string
		rest := stream
		for len(rest) > 0 {
			n := min(len(rest), 1+r.IntN(1+trial*20))
			chunk := append([]byte(nil), rest[:n]...)
			rest = rest[n:]
			err := d.Push(chunk, func(frame []byte) { got = append(got, string(frame[4:])) })
			if err != nil {
				t.Fatal(err)
			}
			clear(chunk) // Push must not keep the caller's bytes
		}
		if len(got) != len(want) {
			t.Fatalf("trial %d: %d frames, want %d", trial, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("trial %d: frame %d differs", trial, i)
			}
		}
		if d.Buffered() != 0 {
			t.Fatalf("trial %d: %d bytes left over", trial, d.Buffered())
		}
	}
}

func TestDeframerRejectsBeforeBuffering(t *testing.T) {
	d := NewDeframer(lenFramer{max: 16})
	err := d.Push([]byte{0, 0, 1, 0, 'x'}, func([]byte) { t.Fatal("emitted a frame over the limit") })
	if err == nil {
		t.Fatal("a length over the limit was accepted")
	}
}

func TestDeframerFrameIsolation(t *testing.T) {
	// Two frames arriving in one push after a split length prefix: the
	// first frame's owner writing into it must not corrupt the second.
	d := NewDeframer(lenFramer{max: 16})
	var frames [][]byte
	emit := func(f []byte) { frames = append(frames, f) }
	if err := d.Push([]byte{0, 0}, emit); err != nil {
		t.Fatal(err)
	}
	if err := d.Push([]byte{0, 1, 'a', 0, 0, 0, 1, 'b'}, emit); err != nil {
		t.Fatal(err)
	}
	if len(frames) != 2 {
		t.Fatalf("%d frames", len(frames))
	}
	frames[0] = append(frames[0], 'z', 'z', 'z', 'z')
	if string(frames[1][4:]) != "b" {
		t.Fatalf("second frame corrupted: %q", frames[1])
	}
}
