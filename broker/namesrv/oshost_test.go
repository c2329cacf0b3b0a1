package namesrv

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/remoting"
)

// These tests run the name server for real: oshost's loop, TCP on
// 127.0.0.1, the real clock, files in a temporary directory.

type realNode struct {
	t    *testing.T
	loop *oshost.Loop
	env  host.Env
}

func newRealNode(t *testing.T) *realNode {
	t.Helper()
	loop := oshost.NewLoop()
	env := oshost.NewEnv(loop, oshost.Options{Log: slog.New(slog.DiscardHandler), Seed: 1})
	go loop.Run()
	t.Cleanup(func() {
		loop.Stop()
		<-loop.Done()
	})
	return &realNode{t: t, loop: loop, env: env}
}

func (n *realNode) do(f func()) {
	n.t.Helper()
	if !n.loop.Do(f) {
		n.t.Fatal("loop stopped")
	}
}

func (n *realNode) start(cfg Config) *Server {
	n.t.Helper()
	var (
		srv *Server
		err error
	)
	n.do(func() { srv, err = Start(n.env, cfg, "127.0.0.1:0") })
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { n.loop.Do(func() { srv.Close() }) })
	return srv
}

func (n *realNode) dial(addr string) *remoting.Channel {
	var ch *remoting.Channel
	n.do(func() { ch = remoting.Dial(n.env.Net, n.env.Clock, nil, addr, nil, remoting.Options{}) })
	return ch
}

func (n *realNode) call(ch *remoting.Channel, req *remoting.Command) *remoting.Command {
	n.t.Helper()
	type result struct {
		resp *remoting.Command
		err  error
	}
	done := make(chan result, 1)
	n.loop.Post(func() {
		ch.Invoke(req, 5*time.Second, func(r *remoting.Command, e error) { done <- result{r, e} })
	})
	r := <-done // Invoke's own timeout bounds the wait
	if r.err != nil {
		n.t.Fatalf("%s: %v", remoting.RequestCode(req.Code), r.err)
	}
	return r.resp
}

func TestRealLoopRegisterRouteAndExpire(t *testing.T) {
	n := newRealNode(t)
	cfg := DefaultConfig()
	cfg.ScanNotActiveBrokerInterval = 50 * time.Millisecond
	srv := n.start(cfg)
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") {
		t.Fatalf("listening on %s", srv.Addr())
	}
	client, b := n.dial(srv.Addr()), n.dial(srv.Addr())
	reg := brokerA.with(topic("TopicTest", 4, 6), topic("TBW102", 8, 7))
	reg.timeoutMillis = 300
	if resp := n.call(b, reg.request()); resp.Code != 0 {
		t.Fatalf("register: code %d remark %q", resp.Code, resp.Remark)
	}
	resp := n.call(client, remoting.NewRequest(remoting.GetRouteinfoByTopic, remoting.StrField("topic", "TBW102")))
	const want = `{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":7,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}`
	if resp.Code != 0 || string(resp.Body) != want {
		t.Fatalf("route: code %d body %s", resp.Code, resp.Body)
	}

	// The broker falls silent: within its 300 ms window plus a scan, and
	// well inside the deadline, the name server forgets it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := n.call(client, remoting.NewRequest(remoting.GetRouteinfoByTopic, remoting.StrField("topic", "TopicTest")))
		if resp.Code == int32(remoting.TopicNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("broker did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	closed := false
	for !closed && time.Now().Before(deadline) {
		n.do(func() { closed = b.Closed() })
		time.Sleep(5 * time.Millisecond)
	}
	if !closed {
		t.Fatal("expired broker's connection not closed")
	}
}

func TestKVConfigPersists(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "namesrv", "kvConfig.json")
	cfg := DefaultConfig()
	cfg.KVConfigPath = path

	n := newRealNode(t)
	srv := n.start(cfg)
	ch := n.dial(srv.Addr())
	for _, kv := range [][3]string{
		{NamespaceOrderTopicConfig, "T", "broker-a:4;broker-b:4"},
		{NamespaceOrderTopicConfig, "A", "broker-a:8"},
		{"other", "k", `v"quoted"`},
	} {
		resp := n.call(ch, remoting.NewRequest(remoting.PutKVConfig,
			remoting.StrField("namespace", kv[0]), remoting.StrField("key", kv[1]), remoting.StrField("value", kv[2])))
		if resp.Code != 0 {
			t.Fatalf("put %v: code %d remark %q", kv, resp.Code, resp.Remark)
		}
	}
	n.call(ch, remoting.NewRequest(remoting.DeleteKVConfig, remoting.StrField("namespace", "other"), remoting.StrField("key", "k")))
	n.do(func() { srv.Close() })

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"configTable":{"ORDER_TOPIC_CONFIG":{"A":"broker-a:8","T":"broker-a:4;broker-b:4"}}}`
	if string(data) != want {
		t.Fatalf("kv file\n got %s\nwant %s", data, want)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}

	// A restarted name server has them.
	srv = n.start(cfg)
	ch = n.dial(srv.Addr())
	resp := n.call(ch, remoting.NewRequest(remoting.GetKVConfig,
		remoting.StrField("namespace", NamespaceOrderTopicConfig), remoting.StrField("key", "T")))
	if got := resp.ExtFields.Str("value"); got != "broker-a:4;broker-b:4" {
		t.Fatalf("after restart: code %d value %q", resp.Code, got)
	}
}

func TestKVConfigUnreadableFileFailsStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kvConfig.json")
	if err := os.WriteFile(path, []byte(`{"configTable":`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.KVConfigPath = path
	n := newRealNode(t)
	var err error
	n.do(func() { _, err = Start(n.env, cfg, "127.0.0.1:0") })
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Start with a corrupt kv file: %v", err)
	}
}

// A failed write leaves the store as it was and is reported to the caller.
func TestKVConfigPutFailsWhenFileCannotBeWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "namesrv")
	cfg := DefaultConfig()
	cfg.KVConfigPath = filepath.Join(dir, "kvConfig.json")
	n := newRealNode(t)
	srv := n.start(cfg)
	// The directory to hold the file is a file: it cannot be created.
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ch := n.dial(srv.Addr())
	resp := n.call(ch, remoting.NewRequest(remoting.PutKVConfig,
		remoting.StrField("namespace", "ns"), remoting.StrField("key", "k"), remoting.StrField("value", "v")))
	if resp.Code != int32(remoting.SystemError) || !strings.Contains(resp.Remark, "kv config") {
		t.Fatalf("put with an unwritable file: code %d remark %q", resp.Code, resp.Remark)
	}
	resp = n.call(ch, remoting.NewRequest(remoting.GetKVConfig, remoting.StrField("namespace", "ns"), remoting.StrField("key", "k")))
	if resp.Code != int32(remoting.QueryNotFound) {
		t.Fatalf("failed put applied: code %d", resp.Code)
	}
}
