package host

// Deframer accumulates a stream's bytes and cuts whole frames out of them
// with a Framer. oshost and the simulator both use it, so that partial
// frames are handled by the same code in both worlds.
//
// Memory grows with the bytes actually received, never with a length the
// peer merely declared: a peer that announces a 16 MiB frame and sends four
// bytes costs four bytes.
type Deframer struct {
	framer Framer
	buf    []byte // a partial frame, when one is pending
	need   int    // length of the pending frame once known, else 0
}

// NewDeframer returns a Deframer that cuts with f.
func NewDeframer(f Framer) *Deframer { return &Deframer{framer: f} }

// Push takes the next bytes of the stream (p stays the caller's) and calls
// emit with every frame now complete, in order. Each frame is a slice of its
// own that emit may keep. After an error the Deframer must not be used.
func (d *Deframer) Push(p []byte, emit func(frame []byte)) error {
	return d.push(p, false, emit)
}

// PushOwned is Push for a caller that hands p over: frames lying whole in p
// are emitted as slices of it (capacity clipped to the frame) instead of
// copies. The simulator's network owns the bytes it delivers (host.Conn's
// Write takes ownership), so it saves a copy of every frame.
func (d *Deframer) PushOwned(p []byte, emit func(frame []byte)) error {
	return d.push(p, true, emit)
}

func (d *Deframer) push(p []byte, owned bool, emit func(frame []byte)) error {
	for len(p) > 0 {
		if len(d.buf) == 0 {
			// Fast path: frames that lie whole inside p are copied out once
			// (or, when p is owned, not at all).
			n, err := d.framer.FrameLen(p)
			if err != nil {
				return err
			}
			if n > 0 && len(p) >= n {
				var frame []byte
				if owned {
					frame = p[:n:n]
				} else {
					frame = make([]byte, n)
					copy(frame, p)
				}
				p = p[n:]
				emit(frame)
				continue
			}
			d.buf = append(d.buf, p...)
			d.need = n
			return nil
		}
		if d.need == 0 {
			// The pending prefix was too short to know the length.
			d.buf = append(d.buf, p...)
			p = nil
			n, err := d.framer.FrameLen(d.buf)
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			d.need = n
			if len(d.buf) < n {
				return nil
			}
			// The buffer holds the whole frame and maybe more. The frame's
			// capacity is clipped so that its owner cannot write into the
			// surplus, which is read below and then dropped.
			frame, rest := d.buf[:n:n], d.buf[n:]
			d.buf, d.need = nil, 0
			emit(frame)
			p = rest
			continue
		}
		take := min(d.need-len(d.buf), len(p))
		d.buf = append(d.buf, p[:take]...)
		p = p[take:]
		if len(d.buf) == d.need {
			frame := d.buf
			d.buf, d.need = nil, 0
			emit(frame)
		}
	}
	return nil
}

// Buffered is the number of bytes held toward the next frame.
func (d *Deframer) Buffered() int { return len(d.buf) }
