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

// TestDeframerReassemblesAnySplit cuts one stream into random chunks, for
// Push (the caller keeps its bytes, and scribbles over them after each
// call) and PushOwned (frames may be slices of the chunks). Either way the
// frames come out whole and in order, and growing one frame never writes
// into the next.
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
	for _, owned := range []bool{false, true} {
		for trial := range 50 {
			d := NewDeframer(lenFramer{max: 1 << 10})
			var frames [][]byte
			emit := func(frame []byte) { frames = append(frames, frame) }
			rest := stream
			for len(rest) > 0 {
				n := min(len(rest), 1+r.IntN(1+trial*20))
				chunk := append([]byte(nil), rest[:n]...)
				rest = rest[n:]
				var err error
				if owned {
					err = d.PushOwned(chunk, emit)
				} else {
					err = d.Push(chunk, emit)
					clear(chunk) // Push must not keep the caller's bytes
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(frames) != len(want) {
				t.Fatalf("owned=%v trial %d: %d frames, want %d", owned, trial, len(frames), len(want))
			}
			for i := range frames {
				frames[i] = append(frames[i], 0xff, 0xff, 0xff, 0xff, 0xff)
			}
			for i := range want {
				if string(frames[i][4:len(frames[i])-5]) != want[i] {
					t.Fatalf("owned=%v trial %d: frame %d differs", owned, trial, i)
				}
			}
			if d.Buffered() != 0 {
				t.Fatalf("owned=%v trial %d: %d bytes left over", owned, trial, d.Buffered())
			}
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
