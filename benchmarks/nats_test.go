package benchmarks

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseMsgArgs(t *testing.T) {
	for _, tc := range []struct {
		args          string
		hdr           bool
		subject       string
		sid           uint64
		reply         string
		hdrLen, total int
	}{
		{"foo.bar 9 11", false, "foo.bar", 9, "", 0, 11},
		{"foo 1 _INBOX.x.7 0", false, "foo", 1, "_INBOX.x.7", 0, 0},
		{"foo 2 12 30", true, "foo", 2, "", 12, 30},
		{"foo 2 r.1 12 30", true, "foo", 2, "r.1", 12, 30},
	} {
		subject, sid, reply, hdrLen, total, err := parseMsgArgs([]byte(tc.args), tc.hdr)
		if err != nil || subject != tc.subject || sid != tc.sid || reply != tc.reply || hdrLen != tc.hdrLen || total != tc.total {
			t.Errorf("%q: %q %d %q %d %d %v", tc.args, subject, sid, reply, hdrLen, total, err)
		}
	}
	for _, bad := range []string{"", "foo", "foo x 1", "foo 1 -1", "foo 1 a b c d", "foo 1 31 30"} {
		if _, _, _, _, _, err := parseMsgArgs([]byte(bad), strings.Count(bad, " ") >= 3); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if headerStatus([]byte("NATS/1.0 503\r\n\r\n")) != 503 || headerStatus([]byte("NATS/1.0\r\nA: b\r\n\r\n")) != 0 {
		t.Error("headerStatus")
	}
}

// fakeNATS is a NATS server of the test's own: it answers publishes the way
// JetStream does, by subject.
type fakeNATS struct {
	t     *testing.T
	ln    net.Listener
	mu    sync.Mutex
	pongs int
	seq   int
	conns []net.Conn
}

func startFakeNATS(t *testing.T) *fakeNATS {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNATS{t: t, ln: ln}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeNATS) serve(c net.Conn) {
	w := bufio.NewWriter(c)
	var wmu sync.Mutex
	send := func(s string) {
		wmu.Lock()
		w.WriteString(s)
		w.Flush()
		wmu.Unlock()
	}
	send(`INFO {"server_id":"fake","version":"0.0.0","max_payload":1048576,"headers":true,"jetstream":true}` + "\r\n")
	r := bufio.NewReader(c)
	subs := map[string]string{} // subject pattern -> sid
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		words := strings.Fields(line)
		switch {
		case len(words) == 0:
		case words[0] == "CONNECT":
		case words[0] == "PING":
			send("PONG\r\n")
		case words[0] == "PONG":
			f.mu.Lock()
			f.pongs++
			f.mu.Unlock()
		case words[0] == "SUB":
			subs[words[1]] = words[len(words)-1]
		case words[0] == "PUB":
			n, _ := strconv.Atoi(words[len(words)-1])
			payload := make([]byte, n+2)
			if _, err := readFull(r, payload); err != nil {
				return
			}
			reply := ""
			if len(words) == 4 {
				reply = words[2]
			}
			sid := ""
			for pat, s := range subs {
				if strings.HasSuffix(pat, ".*") && strings.HasPrefix(reply, strings.TrimSuffix(pat, "*")) {
					sid = s
				}
			}
			switch subject := words[1]; {
			case subject == "silent" || reply == "":
			case subject == "nores":
				hdr := "NATS/1.0 503\r\n\r\n"
				send(fmt.Sprintf("HMSG %s %s %d %d\r\n%s\r\n", reply, sid, len(hdr), len(hdr), hdr))
			case subject == "fail":
				body := `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`
				send(fmt.Sprintf("MSG %s %s %d\r\n%s\r\n", reply, sid, len(body), body))
			case subject == "split":
				// The answer arrives in pieces, with a server PING between.
				body := `{"stream":"S","seq":1}`
				msg := fmt.Sprintf("MSG %s %s %d\r\n%s\r\n", reply, sid, len(body), body)
				send(msg[:7])
				time.Sleep(20 * time.Millisecond)
				send(msg[7:20])
				time.Sleep(20 * time.Millisecond)
				send(msg[20:] + "PING\r\n")
			default:
				body := `{"stream":"S","seq":2}`
				send(fmt.Sprintf("MSG %s %s %d\r\n%s\r\n", reply, sid, len(body), body))
			}
		case words[0] == "BYE":
			send("-ERR 'Unknown Protocol Operation'\r\n")
		}
	}
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestNATSClientAgainstAFakeServer(t *testing.T) {
	f := startFakeNATS(t)
	c, err := natsDial(f.ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.info.JetStream || c.info.MaxPayload != 1<<20 {
		t.Errorf("INFO: %+v", c.info)
	}
	code := func(subject string) string {
		ch := make(chan string, 1)
		c.requestAsync(subject, []byte("payload"), 300*time.Millisecond, func(m *natsMsg, err error) { ch <- jsAckCode(m, err) })
		return <-ch
	}
	for subject, want := range map[string]string{
		"ok": "", "fail": "jetstream 10077", "nores": "no responders", "silent": "timeout", "split": "",
	} {
		if got := code(subject); got != want {
			t.Errorf("publish to %s: %q, want %q", subject, got, want)
		}
	}
	// The server's PING (after "split") was answered.
	deadline := time.Now().Add(2 * time.Second)
	for {
		f.mu.Lock()
		p := f.pongs
		f.mu.Unlock()
		if p > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client did not answer the server's PING")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.ping(time.Second); err != nil {
		t.Errorf("ping: %v", err)
	}
	// A fatal -ERR ends the connection and fails what is pending.
	ch := make(chan string, 1)
	c.requestAsync("silent", nil, 10*time.Second, func(m *natsMsg, err error) { ch <- jsAckCode(m, err) })
	c.write(func(w *bufio.Writer) { w.WriteString("BYE\r\n") })
	select {
	case got := <-ch:
		if got != "connection closed" {
			t.Errorf("pending after -ERR: %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending request not failed after -ERR")
	}
}

// TestJetStreamPeer runs the generator against a real nats-server, when
// one is installed (benchmarks/install-nats.sh).
func TestJetStreamPeer(t *testing.T) {
	bin := FindNATSServer("")
	if bin == "" {
		t.Skip("nats-server not installed (benchmarks/install-nats.sh)")
	}
	for _, sync := range []string{"always", "default"} {
		t.Run(sync, func(t *testing.T) {
			srv, err := StartNATSServer(bin, t.TempDir(), sync)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			sched := NewSchedule(0, 0, 1000, 300*time.Millisecond, 0, nil)
			rec := NewRecorder(time.Now(), 0, sched.End())
			jc, err := openJetStream(srv.Addr, 2, 4, 2, 2, 1, 256, rec, "t"+sync)
			if err != nil {
				t.Fatal(err)
			}
			defer jc.Close()
			l := Load{Schedule: sched, Producers: 2, InFlight: 16, BatchSize: 1, MessageSize: 256, Topics: 2, KeyDist: KeyRandomNano, Drain: 5 * time.Second}
			Run(l, jc.Senders(), rec, nil)
			for deadline := time.Now().Add(5 * time.Second); rec.Counts().Received < 300 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			r := rec.Result()
			if r.Sent != 300 || r.Acked != 300 || r.Received != 300 || len(r.Errors) > 0 {
				t.Errorf("sent %d acked %d received %d errors %v", r.Sent, r.Acked, r.Received, r.Errors)
			}
			if r.EndToEnd.Count != 300 || r.EndToEnd.P50 <= 0 {
				t.Errorf("end-to-end: %+v", r.EndToEnd)
			}
			if st := jc.StreamState(); st["streamMessages"] != "300" {
				t.Errorf("streams hold %v", st)
			}
		})
	}
}
