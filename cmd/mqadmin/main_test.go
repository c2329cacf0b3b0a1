package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/namesrv"
	"github.com/thrustmq/thrust/broker/remoting"
)

// startCluster runs a name server and a broker registered with it, in
// process, on loopback.
func startCluster(t *testing.T) (nsAddr, brokerAddr string) {
	t.Helper()
	loop := oshost.NewLoop()
	go loop.Run()
	t.Cleanup(func() { loop.Stop(); <-loop.Done() })
	env := oshost.NewEnv(loop, oshost.Options{Log: slog.New(slog.DiscardHandler)})
	var ns *namesrv.Server
	var b *broker.Broker
	var err error
	loop.Do(func() { ns, err = namesrv.Start(env, namesrv.DefaultConfig(), "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loop.Do(func() { ns.Close() }) })
	cfg := broker.DefaultConfig(t.TempDir())
	cfg.ListenPort = 0
	cfg.NamesrvAddr = []string{ns.Addr()}
	cfg.Store.MappedFileSizeCommitLog = 1 << 20
	cfg.Store.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.Store.MaxMessageSize = 64 << 10
	loop.Do(func() { b, err = broker.Start(env, cfg, broker.Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loop.Do(func() { b.Shutdown() }) })
	return ns.Addr(), b.Addr()
}

func mqadmin(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	if code != 0 {
		t.Logf("mqadmin %v exited %d: %s", args, code, errOut.String())
	}
	return out.String(), code
}

func want(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("%s: no match for %q in:\n%s", what, p, out)
		}
	}
}

// TestVerbs drives each verb against a live name server and broker and
// checks what it prints (and changes).
func TestVerbs(t *testing.T) {
	ns, addr := startCluster(t)
	n := "-n=" + ns
	// The broker registers with the name server shortly after it starts.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := mqadmin(t, "clusterList", n)
		if strings.Contains(out, addr) {
			want(t, "clusterList", out, `DefaultCluster\s+broker-a\s+0\s+`+regexp.QuoteMeta(addr))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker never appeared in clusterList:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	out, code := mqadmin(t, "updateTopic", n, "-c", "DefaultCluster", "-t", "AdminTopic", "-r", "3", "-w", "3")
	if code != 0 {
		t.Fatal(out)
	}
	want(t, "updateTopic", out, "create topic to "+regexp.QuoteMeta(addr)+" success")
	out, _ = mqadmin(t, "topicList", n)
	want(t, "topicList", out, `(?m)^AdminTopic$`)
	out, _ = mqadmin(t, "topicRoute", n, "-t", "AdminTopic")
	want(t, "topicRoute", out, `"readQueueNums": 3`, regexp.QuoteMeta(addr))

	// Three messages in queue 1 and a commit of 2 for a group.
	c := dialBroker(t, addr)
	for i := range 3 {
		c.mustCall(sendReq("AdminTopic", 1, fmt.Sprint("m", i)))
	}
	c.mustCall(remoting.NewRequest(remoting.UpdateConsumerOffset, remoting.StrField("consumerGroup", "g1"),
		remoting.StrField("topic", "AdminTopic"), remoting.StrField("queueId", "1"), remoting.StrField("commitOffset", "2")))

	out, _ = mqadmin(t, "topicStatus", n, "-t", "AdminTopic")
	want(t, "topicStatus", out, `broker-a\s+1\s+0\s+3\s+\d{4}-`, `broker-a\s+0\s+0\s+0\s+-`)
	out, _ = mqadmin(t, "consumerProgress", n, "-g", "g1")
	want(t, "consumerProgress", out, `AdminTopic\s+broker-a\s+1\s+3\s+2\s+1\s+`, `Diff Total: 1`)

	out, _ = mqadmin(t, "updateSubGroup", n, "-b", addr, "-g", "g2", "-r", "5")
	want(t, "updateSubGroup", out, "success")
	out, _ = mqadmin(t, "deleteSubGroup", n, "-b", addr, "-g", "g2")
	want(t, "deleteSubGroup", out, `delete subscription group \[g2\]`)

	out, _ = mqadmin(t, "brokerStatus", n, "-b", addr)
	want(t, "brokerStatus", out, `(?m)^brokerVersionDesc\s*: `)
	out, _ = mqadmin(t, "getBrokerConfig", n, "-b", addr)
	want(t, "getBrokerConfig", out, `(?m)^brokerName=broker-a$`, `(?m)^flushDiskType=ASYNC_FLUSH$`)

	resp := c.mustCall(sendReq("AdminTopic", 0, "find me"))
	out, _ = mqadmin(t, "queryMsgById", n, "-i", resp.ExtFields.Str("msgId"))
	want(t, "queryMsgById", out, `Topic:\s+AdminTopic`, `Message Body:\s+find me`)

	out, code = mqadmin(t, "deleteTopic", n, "-c", "DefaultCluster", "-t", "AdminTopic")
	if code != 0 {
		t.Fatal(out)
	}
	out, _ = mqadmin(t, "topicList", n)
	if strings.Contains(out, "AdminTopic") {
		t.Errorf("AdminTopic still listed after deleteTopic:\n%s", out)
	}

	// Bad command lines exit 2; failed requests exit 1.
	if _, code := mqadmin(t, "noSuchVerb"); code != 2 {
		t.Errorf("unknown verb exited %d", code)
	}
	if _, code := mqadmin(t, "topicStatus", n); code != 2 {
		t.Errorf("topicStatus without -t exited %d", code)
	}
	if _, code := mqadmin(t, "topicStatus", n, "-t", "NoSuchTopic"); code != 1 {
		t.Errorf("topicStatus of a missing topic exited %d", code)
	}
}

// rawConn is a remoting connection for the test's own requests.
type rawConn struct {
	t    *testing.T
	loop *oshost.Loop
	ch   *remoting.Channel
}

func dialBroker(t *testing.T, addr string) *rawConn {
	loop := oshost.NewLoop()
	go loop.Run()
	t.Cleanup(func() { loop.Stop(); <-loop.Done() })
	env := oshost.NewEnv(loop, oshost.Options{Log: slog.New(slog.DiscardHandler)})
	c := &rawConn{t: t, loop: loop}
	loop.Do(func() {
		c.ch = remoting.Dial(env.Net, env.Clock, nil, addr, remoting.NewDispatcher(), remoting.Options{})
	})
	t.Cleanup(func() { loop.Do(c.ch.Close) })
	return c
}

func (c *rawConn) mustCall(req *remoting.Command) *remoting.Command {
	c.t.Helper()
	type result struct {
		resp *remoting.Command
		err  error
	}
	ch := make(chan result, 1)
	c.loop.Do(func() { c.ch.Invoke(req, 5*time.Second, func(r *remoting.Command, err error) { ch <- result{r, err} }) })
	r := <-ch
	if r.err != nil || r.resp.Code != 0 {
		c.t.Fatalf("%v: %v %v", remoting.RequestCode(req.Code), r.err, r.resp)
	}
	return r.resp
}

func sendReq(topic string, queueID int, body string) *remoting.Command {
	req := remoting.NewRequest(remoting.SendMessage,
		remoting.StrField("producerGroup", "pg"), remoting.StrField("topic", topic),
		remoting.StrField("defaultTopic", "TBW102"), remoting.StrField("defaultTopicQueueNums", "4"),
		remoting.IntField("queueId", int64(queueID)), remoting.StrField("sysFlag", "0"),
		remoting.IntField("bornTimestamp", time.Now().UnixMilli()), remoting.StrField("flag", "0"),
		remoting.StrField("properties", ""), remoting.StrField("reconsumeTimes", "0"),
		remoting.StrField("unitMode", "false"), remoting.StrField("batch", "false"))
	req.Body = []byte(body)
	return req
}
