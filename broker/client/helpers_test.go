package client

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker"
	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/namesrv"
	"github.com/thrustmq/thrust/broker/remoting"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

// node is one process of the test: a real loop on its own goroutine.
type node struct {
	t    *testing.T
	loop *oshost.Loop
	env  host.Env
}

var seedMu sync.Mutex
var nextSeed uint64 = 1

func newNode(t *testing.T, name string) *node {
	t.Helper()
	loop := oshost.NewLoop()
	go loop.Run()
	t.Cleanup(func() { loop.Stop(); <-loop.Done() })
	seedMu.Lock()
	seed := nextSeed
	nextSeed++
	seedMu.Unlock()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
	return &node{t: t, loop: loop, env: oshost.NewEnv(loop, oshost.Options{Seed: seed, Log: log})}
}

// do runs f on the node's loop and waits for it.
func (n *node) do(f func()) {
	n.t.Helper()
	if !n.loop.Do(f) {
		n.t.Fatal("loop stopped")
	}
}

// await posts start to the loop and waits for the value its callback
// delivers.
func await[T any](n *node, start func(done func(T))) T {
	n.t.Helper()
	ch := make(chan T, 1)
	n.loop.Post(func() { start(func(v T) { ch <- v }) })
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		n.t.Fatalf("no callback within %v", testTimeout)
		panic("unreachable")
	}
}

// eventually polls cond on the node's loop until it holds. cond must not
// wait on loops itself (use waitFor for conditions that span nodes).
func (n *node) eventually(what string, cond func() bool) {
	n.t.Helper()
	waitFor(n.t, what, func() bool {
		var ok bool
		n.do(func() { ok = cond() })
		return ok
	})
}

// waitFor polls cond on the test's goroutine until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, testTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testBroker is a real broker on 127.0.0.1 with a small store.
type testBroker struct {
	*node
	b    *broker.Broker
	addr string
}

func startBroker(t *testing.T, name string, namesrvs []string, mutate func(*broker.Config)) *testBroker {
	t.Helper()
	n := newNode(t, name)
	cfg := broker.DefaultConfig(t.TempDir())
	cfg.BrokerName = name
	cfg.ListenPort = 0
	cfg.NamesrvAddr = namesrvs
	cfg.Store.MappedFileSizeCommitLog = 1 << 20
	cfg.Store.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.Store.MaxMessageSize = 64 << 10
	if mutate != nil {
		mutate(&cfg)
	}
	tb := &testBroker{node: n}
	var err error
	n.do(func() { tb.b, err = broker.Start(n.env, cfg, broker.Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	tb.addr = tb.b.Addr()
	t.Cleanup(func() { n.loop.Do(func() { tb.b.Shutdown() }) })
	return tb
}

func startNamesrv(t *testing.T) (*node, string) {
	t.Helper()
	n := newNode(t, "namesrv")
	var s *namesrv.Server
	var err error
	n.do(func() { s, err = namesrv.Start(n.env, namesrv.DefaultConfig(), "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.loop.Do(func() { s.Close() }) })
	return n, s.Addr()
}

// testClient is a Client on its own node.
type testClient struct {
	*node
	c *Client
}

func newTestClient(t *testing.T, name string, cfg Config) *testClient {
	t.Helper()
	n := newNode(t, name)
	if cfg.InstanceName == "" {
		cfg.InstanceName = name
	}
	var c *Client
	var err error
	n.do(func() { c, err = New(n.env, cfg) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.loop.Do(c.Close) })
	return &testClient{node: n, c: c}
}

func (tc *testClient) send(m *Message, mq *MessageQueue) SendResult {
	tc.t.Helper()
	return await(tc.node, func(done func(SendResult)) { tc.c.Send(m, mq, done) })
}

func (tc *testClient) pull(req PullRequest) PullResult {
	tc.t.Helper()
	return await(tc.node, func(done func(PullResult)) { tc.c.Pull(req, done) })
}

// refusedAddr is an address nothing listens on: dials to it are refused.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// fakeServer is a remoting server with handlers of the test's choosing, on
// its own node: a broker that hangs, drops connections or answers garbage.
type fakeServer struct {
	*node
	srv *remoting.Server
}

func startFake(t *testing.T, register func(d *remoting.Dispatcher)) *fakeServer {
	t.Helper()
	n := newNode(t, "fake")
	d := remoting.NewDispatcher()
	register(d)
	fs := &fakeServer{node: n}
	var err error
	n.do(func() {
		fs.srv, err = remoting.NewServer(n.env.Net, n.env.Clock, n.env.Log, "127.0.0.1:0", d, remoting.Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.loop.Do(func() { fs.srv.Close() }) })
	return fs
}

func (fs *fakeServer) addr() string { return fs.srv.Addr() }

func msg(topic, body string) *Message { return &Message{Topic: topic, Body: []byte(body)} }

func describe(r SendResult) string {
	return fmt.Sprintf("err=%v indefinite=%v attempts=%d ambiguous=%d queue=%s offset=%d", r.Err, r.Indefinite, r.Attempts, r.Ambiguous, r.MessageQueue, r.QueueOffset)
}
