package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// tracer keeps the run's digest and, when asked, its text.
//
// Each notable event is one trace line. Its canonical encoding, which the
// digest hashes (SHA-256, fed in bulk), is
//
//	time (8 bytes, little endian, virtual ns) who what field... 0xFF
//
// with strings as uvarint length + bytes and integers as varints. Its text,
// rendered only when a trace or log writer is attached, is
//
//	<virtual seconds, 9 decimals> <who> <what> [key=value ...]\n
//
// who is "host#incarnation" for a node, "host" for its machine (kernel,
// disk, clock), or "world". Lines carry no pointers, pids, real ports or
// real time, so one seed gives one digest on any machine, with or without
// writers.
type tracer struct {
	sum   hash.Hash
	bin   []byte    // encoded lines not yet hashed
	txt   []byte    // the current line as text, when out is set
	out   io.Writer // optional copy of the trace
	log   io.Writer // optional copy of the log lines alone
	lines uint64
}

const traceHashChunk = 8 << 10

func newTracer(out, log io.Writer) tracer {
	return tracer{
		sum: sha256.New(),
		bin: make([]byte, 0, traceHashChunk+512),
		txt: make([]byte, 0, 256),
		out: out,
		log: log,
	}
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (t *tracer) endLine() {
	t.bin = append(t.bin, 0xFF)
	if len(t.bin) >= traceHashChunk {
		t.sum.Write(t.bin)
		t.bin = t.bin[:0]
	}
	t.lines++
}

func (t *tracer) flush() {
	if len(t.bin) > 0 {
		t.sum.Write(t.bin)
		t.bin = t.bin[:0]
	}
}

// appendVT formats virtual nanoseconds as seconds with nine decimals.
func appendVT(b []byte, t int64) []byte {
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1e9, 10)
	var frac [10]byte
	frac[0] = '.'
	f := t % 1e9
	for i := 9; i > 0; i-- {
		frac[i] = byte('0' + f%10)
		f /= 10
	}
	return append(b, frac[:]...)
}

// tbegin starts a trace line; tint and tstr add fields; tend ends it. The
// buffers are reused, so tracing allocates nothing.
func (w *World) tbegin(who, what string) {
	t := &w.tr
	t.bin = binary.LittleEndian.AppendUint64(t.bin, uint64(w.now))
	t.bin = appendStr(t.bin, who)
	t.bin = appendStr(t.bin, what)
	if t.out != nil {
		b := appendVT(t.txt[:0], w.now)
		b = append(b, ' ')
		b = append(b, who...)
		b = append(b, ' ')
		t.txt = append(b, what...)
	}
}

func (w *World) tint(key string, v int64) {
	t := &w.tr
	t.bin = binary.AppendVarint(t.bin, v)
	if t.out != nil {
		b := append(t.txt, ' ')
		b = append(b, key...)
		b = append(b, '=')
		t.txt = strconv.AppendInt(b, v, 10)
	}
}

func (w *World) tstr(key, v string) {
	t := &w.tr
	t.bin = appendStr(t.bin, v)
	if t.out != nil {
		b := append(t.txt, ' ')
		b = append(b, key...)
		b = append(b, '=')
		t.txt = append(b, v...)
	}
}

func (w *World) terr(err error) {
	if err != nil {
		w.tstr("err", strconv.Quote(err.Error()))
	}
}

func (w *World) tend() {
	t := &w.tr
	t.endLine()
	if t.out != nil {
		t.txt = append(t.txt, '\n')
		t.out.Write(t.txt)
	}
}

// Trace appends a line of the caller's to the trace and the digest, under
// who (a host name, say, or "workload"). Harnesses use it to record the
// operations they inject, so that the digest covers them too. what must not
// hold anything that differs from run to run; newlines become spaces, so
// that one call is one line.
func (w *World) Trace(who, what string) {
	w.tbegin(strings.ReplaceAll(who, "\n", " "), strings.ReplaceAll(what, "\n", " "))
	w.tend()
}

// Digest is the hex SHA-256 of the trace so far.
func (w *World) Digest() string {
	w.tr.flush()
	return hex.EncodeToString(w.tr.sum.Sum(nil))
}

// TraceLines is the number of lines traced so far.
func (w *World) TraceLines() uint64 { return w.tr.lines }

// logSink receives one formatted slog record at a time from a TextHandler
// and turns it into a trace line stamped with the node's virtual time.
type logSink struct{ inc *incarnation }

func (s logSink) Write(p []byte) (int, error) {
	inc := s.inc
	t := &inc.h.w.tr
	now := inc.now()
	body := p
	if len(body) > 0 && body[len(body)-1] == '\n' {
		body = body[:len(body)-1]
	}
	t.bin = binary.LittleEndian.AppendUint64(t.bin, uint64(now))
	t.bin = appendStr(t.bin, inc.tag)
	t.bin = appendStr(t.bin, "log")
	t.bin = binary.AppendUvarint(t.bin, uint64(len(body)))
	t.bin = append(t.bin, body...)
	t.endLine()
	if t.out != nil || t.log != nil {
		// NB: a line of its own, not t.txt: a node may log while a trace
		// line is being built around its callback.
		b := appendVT(make([]byte, 0, len(body)+64), now)
		b = append(b, ' ')
		b = append(b, inc.tag...)
		b = append(b, " log "...)
		b = append(b, body...)
		b = append(b, '\n')
		if t.out != nil {
			t.out.Write(b)
		}
		if t.log != nil {
			t.log.Write(b)
		}
	}
	return len(p), nil
}

// newLogger returns the incarnation's logger: slog's text format without
// the record's time (which slog takes from the real clock), prefixed by the
// virtual time and the node. Log lines are part of the digest: a node that
// logs a map in random order, or a pointer, breaks determinism visibly.
func newLogger(inc *incarnation, level slog.Leveler) *slog.Logger {
	h := slog.NewTextHandler(logSink{inc}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(deadFilter{h, inc})
}

// deadFilter silences a dead incarnation: a crashed process prints nothing.
type deadFilter struct {
	slog.Handler
	inc *incarnation
}

func (d deadFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return !d.inc.dead && d.Handler.Enabled(ctx, l)
}

func (d deadFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return deadFilter{d.Handler.WithAttrs(as), d.inc}
}

func (d deadFilter) WithGroup(name string) slog.Handler {
	return deadFilter{d.Handler.WithGroup(name), d.inc}
}
