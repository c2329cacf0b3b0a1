package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// These tests run the real mqbroker binary as a separate process, so that a
// SIGKILL is a real crash and the counters are the real host's.

var buildOnce struct {
	sync.Once
	path string
	err  error
}

func brokerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "thrust-mqbroker-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "mqbroker")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// brokerProc is a running mqbroker.
type brokerProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *strings.Builder
	mu     *sync.Mutex
}

func startProc(t *testing.T, confText string, env ...string) *brokerProc {
	t.Helper()
	dir := t.TempDir()
	confPath := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(confPath, []byte(confText), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(brokerBinary(t), "-c", confPath)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &brokerProc{cmd: cmd, stderr: &strings.Builder{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{p.mu, p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	booted := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "boot success") {
				booted <- sc.Text()
			}
		}
		close(booted)
	}()
	select {
	case line, ok := <-booted:
		if !ok {
			t.Fatalf("mqbroker exited before booting:\n%s", p.log())
		}
		i := strings.Index(line, "127.0.0.1:")
		p.addr = strings.TrimRight(strings.Fields(line[i:])[0], "],")
	case <-time.After(30 * time.Second):
		t.Fatalf("mqbroker did not boot:\n%s", p.log())
	}
	return p
}

func (p *brokerProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// rawClient speaks remoting to the broker from this test process.
type rawClient struct {
	t    *testing.T
	loop *oshost.Loop
	env  host.Env
	ch   *remoting.Channel
}

func dialProc(t *testing.T, addr string) *rawClient {
	t.Helper()
	loop := oshost.NewLoop()
	go loop.Run()
	t.Cleanup(func() { loop.Stop(); <-loop.Done() })
	c := &rawClient{t: t, loop: loop, env: oshost.NewEnv(loop, oshost.Options{Seed: 1})}
	loop.Do(func() {
		c.ch = remoting.Dial(c.env.Net, c.env.Clock, nil, addr, remoting.NewDispatcher(), remoting.Options{})
	})
	return c
}

// invoke sends req; cb runs on the client's loop.
func (c *rawClient) invoke(req *remoting.Command, cb func(*remoting.Command, error)) {
	c.loop.Post(func() { c.ch.Invoke(req, 10*time.Second, cb) })
}

func (c *rawClient) call(req *remoting.Command) (*remoting.Command, error) {
	done := make(chan struct{})
	var resp *remoting.Command
	var err error
	c.invoke(req, func(r *remoting.Command, e error) { resp, err = r, e; close(done) })
	<-done
	return resp, err
}

func sendReq(topic string, queueID int, body string) *remoting.Command {
	req := remoting.NewRequest(remoting.SendMessage,
		remoting.StrField("producerGroup", "pg"), remoting.StrField("topic", topic),
		remoting.StrField("defaultTopic", "TBW102"), remoting.StrField("defaultTopicQueueNums", "4"),
		remoting.IntField("queueId", int64(queueID)), remoting.StrField("sysFlag", "0"),
		remoting.StrField("bornTimestamp", "1700000000000"), remoting.StrField("flag", "0"),
		remoting.StrField("properties", "KEYS\x01"+body+"\x02"), remoting.StrField("reconsumeTimes", "0"),
		remoting.StrField("unitMode", "false"), remoting.StrField("batch", "false"))
	req.Body = []byte(body)
	return req
}

func pullReq(topic string, queueID int, offset int64) *remoting.Command {
	return remoting.NewRequest(remoting.PullMessage,
		remoting.StrField("consumerGroup", "cg"), remoting.StrField("topic", topic),
		remoting.IntField("queueId", int64(queueID)), remoting.IntField("queueOffset", offset),
		remoting.StrField("maxMsgNums", "32"), remoting.StrField("sysFlag", "4"),
		remoting.StrField("commitOffset", "0"), remoting.StrField("suspendTimeoutMillis", "0"),
		remoting.StrField("subscription", "*"), remoting.StrField("subVersion", "0"),
		remoting.StrField("expressionType", "TAG"))
}

// readQueue pulls a whole queue, checking every record.
func (c *rawClient) readQueue(topic string, queueID int) map[int64]string {
	c.t.Helper()
	got := map[int64]string{}
	for off := int64(0); ; {
		resp, err := c.call(pullReq(topic, queueID, off))
		if err != nil {
			c.t.Fatalf("pull %s-%d@%d: %v", topic, queueID, off, err)
		}
		if resp.Code != int32(remoting.Success) {
			break
		}
		body := resp.Body
		for len(body) > 0 {
			r, n, err := message.Decode(body)
			if err != nil {
				c.t.Fatalf("the broker served a record that does not verify: %v", err)
			}
			got[r.QueueOffset] = string(r.Body)
			body = body[n:]
		}
		next, _ := strconv.ParseInt(resp.ExtFields.Str("nextBeginOffset"), 10, 64)
		if next <= off {
			break
		}
		off = next
	}
	return got
}

func (c *rawClient) runtimeInfo() map[string]string {
	c.t.Helper()
	resp, err := c.call(remoting.NewRequest(remoting.GetBrokerRuntimeInfo))
	if err != nil || resp.Code != 0 {
		c.t.Fatalf("runtime info: %v %v", err, resp)
	}
	var body struct{ Table map[string]string }
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		c.t.Fatal(err)
	}
	return body.Table
}

func confFor(t *testing.T, store string, port int, extra string) string {
	return fmt.Sprintf("brokerIP1=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s\nmappedFileSizeCommitLog=1048576\nmaxMessageSize=65536\n%s\n",
		port, store, extra)
}

// TestCrashDuringSyncFlushLosesNoAcknowledgedMessage kills the broker with
// SIGKILL while SYNC_FLUSH sends are in flight, appends a partial record to
// the end of the commit log as a torn write would leave it, restarts on the
// same store, and reads everything back.
func TestCrashDuringSyncFlushLosesNoAcknowledgedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the broker binary")
	}
	store := t.TempDir()
	port := freePort(t)
	conf := confFor(t, store, port, "flushDiskType=SYNC_FLUSH")
	p := startProc(t, conf)
	c := dialProc(t, p.addr)
	const topic, queues = "CrashTopic", 4
	if resp, err := c.call(sendReq(topic, 0, "first")); err != nil || resp.Code != 0 {
		t.Fatalf("first send: %v %v", err, resp)
	}

	// Keep 64 sends in flight until the kill; record every acknowledgement.
	type acked struct {
		queue  int
		offset int64
		body   string
	}
	var mu sync.Mutex
	var acks []acked
	stop := make(chan struct{})
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case sem <- struct{}{}:
			}
			q := i % queues
			body := fmt.Sprintf("m-%06d-%s", i, strings.Repeat("x", i%300))
			wg.Add(1)
			c.invoke(sendReq(topic, q, body), func(resp *remoting.Command, err error) {
				defer wg.Done()
				<-sem
				if err == nil && resp.Code == int32(remoting.Success) {
					off, _ := strconv.ParseInt(resp.ExtFields.Str("queueOffset"), 10, 64)
					mu.Lock()
					acks = append(acks, acked{q, off, body})
					mu.Unlock()
				}
			})
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	n := len(acks)
	mu.Unlock()
	if n < 100 {
		t.Fatalf("only %d sends acknowledged before the kill; the test needs load in flight", n)
	}

	// A torn write: the first half of a record after the last good one.
	segs, err := filepath.Glob(filepath.Join(store, "commitlog", "*"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	last := segs[len(segs)-1]
	data, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	end := 0
	for {
		_, size, err := message.Decode(data[end:])
		if err != nil {
			break
		}
		end += size
	}
	partial := make([]byte, 200)
	copy(partial, data[:min(200, end)]) // a real record header: size, magic, CRC...
	f, err := os.OpenFile(last, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(partial[:120], int64(end)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p2 := startProc(t, conf)
	if !strings.Contains(p2.log(), "truncating the commit log") {
		t.Errorf("recovery did not report dropping the partial record; log:\n%s", p2.log())
	}
	c2 := dialProc(t, p2.addr)
	got := map[int]map[int64]string{}
	for q := range queues {
		got[q] = c2.readQueue(topic, q)
	}
	for _, a := range acks {
		if body, ok := got[a.queue][a.offset]; !ok || body != a.body {
			t.Fatalf("acknowledged message %s at %s-%d@%d lost after SIGKILL (found %q)", a.body, topic, a.queue, a.offset, body)
		}
	}
	t.Logf("%d acknowledged messages survived SIGKILL; %d messages readable in all", n, len(got[0])+len(got[1])+len(got[2])+len(got[3]))
}

// TestRealModeUsesMmapAndSendfile shows, with the real host's counters,
// that records are written through mapped segments and pull bodies leave
// without passing through the broker's heap by default: long ranges with
// sendfile(2), short ones (small records of queues that interleave in the
// commit log) in a writev straight from the mapping. With
// transferMsgByHeap=true they are copied instead.
func TestRealModeUsesMmapAndSendfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the broker binary")
	}
	for _, heap := range []bool{false, true} {
		t.Run(fmt.Sprintf("transferMsgByHeap=%v", heap), func(t *testing.T) {
			p := startProc(t, confFor(t, t.TempDir(), freePort(t), fmt.Sprintf("transferMsgByHeap=%v", heap)))
			c := dialProc(t, p.addr)
			// Small records alternate between queues 0 and 1, so no two of
			// a queue are adjacent; 48 KiB records go to queue 2.
			for i := range 40 {
				if resp, err := c.call(sendReq("PathTopic", i%2, fmt.Sprintf("body-%d", i))); err != nil || resp.Code != 0 {
					t.Fatalf("send: %v %v", err, resp)
				}
			}
			big := bytes.Repeat([]byte("0123456789abcdef"), 3<<10)
			for i := range 10 {
				req := sendReq("PathTopic", 2, fmt.Sprintf("big-%d", i))
				req.Body = big
				if resp, err := c.call(req); err != nil || resp.Code != 0 {
					t.Fatalf("send: %v %v", err, resp)
				}
			}
			for q, want := range []int{20, 20, 10} {
				if got := c.readQueue("PathTopic", q); len(got) != want {
					t.Fatalf("read %d messages from queue %d, want %d", len(got), q, want)
				}
			}
			info := c.runtimeInfo()
			num := func(k string) int64 {
				v, err := strconv.ParseInt(info[k], 10, 64)
				if err != nil {
					t.Fatalf("runtime info %s=%q", k, info[k])
				}
				return v
			}
			if num("hostMappedFiles") == 0 || info["commitLogWritePath"] != "mmap" {
				t.Errorf("records not written through a mapping: %v", info)
			}
			if heap {
				if num("pullBodyCopiedBytes") == 0 || num("hostSendFileBytes") != 0 || num("hostMappedSendBytes") != 0 {
					t.Errorf("transferMsgByHeap=true: copied %s bytes, sendfile %s bytes, from the mapping %s bytes",
						info["pullBodyCopiedBytes"], info["hostSendFileBytes"], info["hostMappedSendBytes"])
				}
				return
			}
			if num("hostSendFileBytes") < int64(10*len(big)) || num("hostMappedSendBytes") == 0 || num("pullBodySendFileBytes") == 0 || num("pullBodyCopiedBytes") != 0 {
				t.Errorf("zero-copy path: sendfile(2) moved %s bytes (want at least the %d of the big records), the mapping %s, handed %s, copied %s",
					info["hostSendFileBytes"], 10*len(big), info["hostMappedSendBytes"], info["pullBodySendFileBytes"], info["pullBodyCopiedBytes"])
			}
		})
	}
}

// TestFailpointCrashBetweenAppendAndSync crashes a real broker at the
// store's fault site, through pingcap/failpoint: the 300th put dies with
// its record in the page cache, unsynced and unacknowledged, while other
// SYNC_FLUSH sends wait for their group commit. After a restart every
// acknowledged message is there and nothing served fails verification.
func TestFailpointCrashBetweenAppendAndSync(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the broker binary")
	}
	store := t.TempDir()
	conf := confFor(t, store, freePort(t), "flushDiskType=SYNC_FLUSH")
	p := startProc(t, conf, "GO_FAILPOINTS=thrust/store/crash-after-append=299*off->return(true)")
	c := dialProc(t, p.addr)
	const topic = "FailpointTopic"
	type acked struct {
		queue  int
		offset int64
		body   string
	}
	var mu sync.Mutex
	var acks []acked
	var firstErr string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range 1000 {
		sem <- struct{}{}
		wg.Add(1)
		q, body := i%4, fmt.Sprintf("fp-%04d", i)
		c.invoke(sendReq(topic, q, body), func(resp *remoting.Command, err error) {
			defer wg.Done()
			<-sem
			if err == nil && resp.Code == int32(remoting.Success) {
				off, _ := strconv.ParseInt(resp.ExtFields.Str("queueOffset"), 10, 64)
				mu.Lock()
				acks = append(acks, acked{q, off, body})
				mu.Unlock()
			} else if firstErr == "" {
				mu.Lock()
				firstErr = fmt.Sprint(err, resp)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("first failure: %s", firstErr)
	err := p.cmd.Wait()
	if err == nil || !strings.Contains(p.log(), "crash at fault site store/crash-after-append") {
		t.Fatalf("the broker did not crash at the fault site (exit %v); log:\n%s", err, p.log())
	}
	if len(acks) < 100 || len(acks) >= 1000 {
		t.Fatalf("%d sends acknowledged; the crash must come mid-stream", len(acks))
	}
	p2 := startProc(t, conf)
	c2 := dialProc(t, p2.addr)
	for _, a := range acks {
		if got := c2.readQueue(topic, a.queue); got[a.offset] != a.body {
			t.Fatalf("acknowledged %s at queue %d offset %d lost across the crash (found %q)", a.body, a.queue, a.offset, got[a.offset])
		}
	}
	t.Logf("%d acknowledged sends survived a crash between append and sync", len(acks))
}
