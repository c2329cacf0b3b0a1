package benchmarks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A minimal NATS client: enough of the core protocol (INFO, CONNECT, PUB,
// SUB, MSG, HMSG, PING, PONG, +OK, -ERR) for JetStream's request-reply
// API, its publish acknowledgements and push consumers. The benchmark
// compares brokers, so it must not depend on a peer's client library
// (and the nats.go client would pull its own graph into the module).
//
//	client                                     server
//	  <-------------------------------------  INFO {...}
//	  CONNECT {"verbose":false,...}\r\n
//	  PING\r\n                     -------->
//	  <-------------------------------------  PONG
//	  SUB _INBOX.x.* 1\r\n
//	  PUB subj _INBOX.x.7 1024\r\n<1024 bytes>\r\n
//	  <-------------------------------------  MSG _INBOX.x.7 1 25\r\n{"stream":"S","seq":7}\r\n
//
// Limits: a line (control op) is at most maxControlLine bytes and a
// payload at most the server's max_payload (INFO), or the connection is
// failed. Handlers run on the connection's reader goroutine.

const (
	maxControlLine = 4096
	natsWriteBuf   = 64 << 10
)

// natsMsg is one MSG or HMSG received. Data aliases the reader's buffer:
// valid only during the handler.
type natsMsg struct {
	Subject string
	Reply   string
	Header  []byte
	Data    []byte
	// Status is the status code of an HMSG's "NATS/1.0 503" line, 0 for
	// none.
	Status int
}

type natsInfo struct {
	ServerID   string `json:"server_id"`
	Version    string `json:"version"`
	MaxPayload int64  `json:"max_payload"`
	Headers    bool   `json:"headers"`
	JetStream  bool   `json:"jetstream"`
}

type natsPending struct {
	cb       func(*natsMsg, error)
	deadline time.Time
}

// natsConn is one client connection.
type natsConn struct {
	conn net.Conn
	info natsInfo

	wmu   sync.Mutex
	bw    *bufio.Writer
	werr  error
	kick  chan struct{}
	pongs chan struct{}

	smu     sync.Mutex
	subs    map[uint64]func(*natsMsg)
	nextSID uint64

	inbox   string
	rmu     sync.Mutex
	pending map[uint64]natsPending
	nextReq uint64

	// onIdle runs on the reader goroutine whenever it has handled every
	// byte it read and is about to read again (one call per socket read):
	// consumers acknowledge there, once per read.
	onIdle atomic.Pointer[func()]

	closeOnce sync.Once
	closed    chan struct{}
	err       error // why the reader stopped
}

// natsDial connects and completes the handshake (INFO, CONNECT, PING,
// PONG) within timeout.
func natsDial(addr string, timeout time.Duration) (*natsConn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &natsConn{
		conn:    conn,
		bw:      bufio.NewWriterSize(conn, natsWriteBuf),
		kick:    make(chan struct{}, 1),
		pongs:   make(chan struct{}, 16),
		subs:    map[uint64]func(*natsMsg){},
		pending: map[uint64]natsPending{},
		closed:  make(chan struct{}),
		inbox:   "_INBOX." + strconv.FormatUint(rand.Uint64(), 36),
	}
	conn.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(conn, 64<<10)
	line, err := readLine(br)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("nats: read INFO: %w", err)
	}
	op, args := splitOp(line)
	if op != "INFO" {
		conn.Close()
		return nil, fmt.Errorf("nats: server said %q before INFO", truncate(line, 80))
	}
	if err := json.Unmarshal(args, &c.info); err != nil {
		conn.Close()
		return nil, fmt.Errorf("nats: INFO: %w", err)
	}
	connect := `CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"mqbench","lang":"go","version":"thrust-mqbench","protocol":1,"headers":true,"no_responders":true}` + "\r\nPING\r\n"
	if _, err := conn.Write([]byte(connect)); err != nil {
		conn.Close()
		return nil, err
	}
	for {
		line, err := readLine(br)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("nats: handshake: %w", err)
		}
		op, args := splitOp(line)
		if op == "PONG" {
			break
		}
		if op == "-ERR" {
			conn.Close()
			return nil, fmt.Errorf("nats: server refused the connection: %s", args)
		}
	}
	conn.SetDeadline(time.Time{})
	go c.flusher()
	go c.reader(br)
	go c.sweeper()
	// One wildcard subscription carries every reply to this connection.
	c.subscribe(c.inbox+".*", "", c.onReply)
	return c, nil
}

// readLine reads one CRLF-terminated control line, without the CRLF.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxControlLine {
		return nil, fmt.Errorf("nats: control line over %d bytes", maxControlLine)
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// splitOp splits a control line into its upper-cased operation and the
// rest.
func splitOp(line []byte) (string, []byte) {
	op, rest, _ := bytes.Cut(line, []byte{' '})
	if i := bytes.IndexByte(op, '\t'); i >= 0 {
		op, rest = line[:i], line[i+1:]
	}
	return strings.ToUpper(string(op)), bytes.TrimSpace(rest)
}

// parseMsgArgs parses MSG's "<subject> <sid> [reply] <#bytes>" (hdr false)
// or HMSG's "<subject> <sid> [reply] <#hdr> <#total>".
func parseMsgArgs(args []byte, hdr bool) (subject string, sid uint64, reply string, hdrLen, total int, err error) {
	f := strings.Fields(string(args))
	n := 4
	if hdr {
		n = 5
	}
	if len(f) != n && len(f) != n-1 {
		return "", 0, "", 0, 0, fmt.Errorf("nats: bad message arguments %q", args)
	}
	subject = f[0]
	if sid, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return "", 0, "", 0, 0, fmt.Errorf("nats: bad sid in %q", args)
	}
	if len(f) == n {
		reply = f[2]
	}
	sizes := f[len(f)-1:]
	if hdr {
		sizes = f[len(f)-2:]
	}
	for i, s := range sizes {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return "", 0, "", 0, 0, fmt.Errorf("nats: bad size in %q", args)
		}
		if hdr && i == 0 {
			hdrLen = v
		} else {
			total = v
		}
	}
	if hdrLen > total {
		return "", 0, "", 0, 0, fmt.Errorf("nats: header larger than message in %q", args)
	}
	return subject, sid, reply, hdrLen, total, nil
}

// headerStatus reads the status code of a "NATS/1.0 503 ..." header.
func headerStatus(h []byte) int {
	line, _, _ := bytes.Cut(h, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) >= 2 && strings.HasPrefix(f[0], "NATS/") {
		if v, err := strconv.Atoi(f[1]); err == nil {
			return v
		}
	}
	return 0
}

func (c *natsConn) reader(br *bufio.Reader) {
	var buf []byte
	err := func() error {
		for {
			if br.Buffered() == 0 {
				if f := c.onIdle.Load(); f != nil {
					(*f)()
				}
			}
			line, err := readLine(br)
			if err != nil {
				return err
			}
			op, args := splitOp(line)
			switch op {
			case "MSG", "HMSG":
				subject, sid, reply, hdrLen, total, err := parseMsgArgs(args, op == "HMSG")
				if err != nil {
					return err
				}
				if c.info.MaxPayload > 0 && int64(total) > c.info.MaxPayload+maxControlLine {
					return fmt.Errorf("nats: message of %d bytes over max_payload %d", total, c.info.MaxPayload)
				}
				if cap(buf) < total+2 {
					buf = make([]byte, total+2)
				}
				b := buf[:total+2]
				if _, err := io.ReadFull(br, b); err != nil {
					return err
				}
				if !bytes.HasSuffix(b, []byte("\r\n")) {
					return errors.New("nats: message not terminated by CRLF")
				}
				m := &natsMsg{Subject: subject, Reply: reply, Header: b[:hdrLen], Data: b[hdrLen:total]}
				if hdrLen > 0 {
					m.Status = headerStatus(m.Header)
				}
				c.smu.Lock()
				h := c.subs[sid]
				c.smu.Unlock()
				if h != nil {
					h(m)
				}
			case "PING":
				c.write(func(w *bufio.Writer) { w.WriteString("PONG\r\n") })
			case "PONG":
				select {
				case c.pongs <- struct{}{}:
				default:
				}
			case "+OK", "INFO":
			case "-ERR":
				msg := strings.Trim(string(args), "'")
				// Permissions errors leave the connection open; the
				// others mean the server is closing it.
				if !strings.Contains(strings.ToLower(msg), "permissions violation") {
					return fmt.Errorf("nats: server error: %s", msg)
				}
			default:
				return fmt.Errorf("nats: unknown operation %q", truncate(line, 40))
			}
		}
	}()
	c.shutdown(err)
}

func (c *natsConn) shutdown(err error) {
	c.closeOnce.Do(func() {
		if err == nil {
			err = errors.New("nats: connection closed")
		}
		c.err = err
		close(c.closed)
		c.conn.Close()
		c.rmu.Lock()
		pend := c.pending
		c.pending = map[uint64]natsPending{}
		c.rmu.Unlock()
		for _, p := range pend {
			p.cb(nil, fmt.Errorf("nats: connection closed: %w", err))
		}
	})
}

// Close closes the connection; pending requests fail.
func (c *natsConn) Close() { c.shutdown(errors.New("nats: closed by the client")) }

// write appends to the write buffer under the lock and asks the flusher
// to send it.
func (c *natsConn) write(f func(w *bufio.Writer)) error {
	c.wmu.Lock()
	if c.werr != nil {
		err := c.werr
		c.wmu.Unlock()
		return err
	}
	f(c.bw)
	c.wmu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// flusher writes out whatever was buffered since it last ran: publishes
// issued while a write is in progress go together in the next one.
func (c *natsConn) flusher() {
	for {
		select {
		case <-c.kick:
		case <-c.closed:
			return
		}
		c.wmu.Lock()
		if c.bw.Buffered() > 0 && c.werr == nil {
			if err := c.bw.Flush(); err != nil {
				c.werr = err
			}
		}
		err := c.werr
		c.wmu.Unlock()
		if err != nil {
			c.shutdown(err)
			return
		}
	}
}

// sweeper fails requests whose deadline has passed.
func (c *natsConn) sweeper() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case now := <-t.C:
			var late []natsPending
			c.rmu.Lock()
			for id, p := range c.pending {
				if now.After(p.deadline) {
					late = append(late, p)
					delete(c.pending, id)
				}
			}
			c.rmu.Unlock()
			for _, p := range late {
				p.cb(nil, errNATSTimeout)
			}
		}
	}
}

var errNATSTimeout = errors.New("nats: request timed out")

// subscribe registers h for subject (in queue group when not empty).
func (c *natsConn) subscribe(subject, queue string, h func(*natsMsg)) (uint64, error) {
	c.smu.Lock()
	c.nextSID++
	sid := c.nextSID
	c.subs[sid] = h
	c.smu.Unlock()
	err := c.write(func(w *bufio.Writer) {
		w.WriteString("SUB ")
		w.WriteString(subject)
		if queue != "" {
			w.WriteByte(' ')
			w.WriteString(queue)
		}
		w.WriteByte(' ')
		w.WriteString(strconv.FormatUint(sid, 10))
		w.WriteString("\r\n")
	})
	return sid, err
}

// publish sends data to subject, with a reply subject when not empty.
func (c *natsConn) publish(subject, reply string, data []byte) error {
	return c.write(func(w *bufio.Writer) {
		w.WriteString("PUB ")
		w.WriteString(subject)
		w.WriteByte(' ')
		if reply != "" {
			w.WriteString(reply)
			w.WriteByte(' ')
		}
		w.WriteString(strconv.Itoa(len(data)))
		w.WriteString("\r\n")
		w.Write(data)
		w.WriteString("\r\n")
	})
}

// requestAsync publishes data to subject with a reply inbox of this
// connection; cb runs once, with the reply or an error, on the reader
// goroutine (or the sweeper's, on timeout).
func (c *natsConn) requestAsync(subject string, data []byte, timeout time.Duration, cb func(*natsMsg, error)) {
	c.rmu.Lock()
	c.nextReq++
	id := c.nextReq
	c.pending[id] = natsPending{cb: cb, deadline: time.Now().Add(timeout)}
	c.rmu.Unlock()
	if err := c.publish(subject, c.inbox+"."+strconv.FormatUint(id, 10), data); err != nil {
		c.rmu.Lock()
		_, ok := c.pending[id]
		delete(c.pending, id)
		c.rmu.Unlock()
		if ok {
			cb(nil, err)
		}
	}
}

func (c *natsConn) onReply(m *natsMsg) {
	i := strings.LastIndexByte(m.Subject, '.')
	id, err := strconv.ParseUint(m.Subject[i+1:], 10, 64)
	if err != nil {
		return
	}
	c.rmu.Lock()
	p, ok := c.pending[id]
	delete(c.pending, id)
	c.rmu.Unlock()
	if ok {
		p.cb(m, nil)
	}
}

// request is requestAsync, waiting; it returns a copy of the reply data.
func (c *natsConn) request(subject string, data []byte, timeout time.Duration) ([]byte, error) {
	type result struct {
		data   []byte
		status int
		err    error
	}
	ch := make(chan result, 1)
	c.requestAsync(subject, data, timeout, func(m *natsMsg, err error) {
		if err != nil {
			ch <- result{err: err}
			return
		}
		ch <- result{data: bytes.Clone(m.Data), status: m.Status}
	})
	r := <-ch
	if r.err == nil && r.status == 503 {
		r.err = fmt.Errorf("nats: no responders for %s", subject)
	}
	return r.data, r.err
}

// ping sends PING and waits for the PONG: everything written before it
// has been processed by the server.
func (c *natsConn) ping(timeout time.Duration) error {
	if err := c.write(func(w *bufio.Writer) { w.WriteString("PING\r\n") }); err != nil {
		return err
	}
	select {
	case <-c.pongs:
		return nil
	case <-c.closed:
		return c.err
	case <-time.After(timeout):
		return errNATSTimeout
	}
}
