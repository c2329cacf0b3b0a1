package gocheck

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/namesrv"
	"github.com/thrustmq/thrust/broker/remoting"
)

func init() { rlog.SetLogLevel("error") }

// send is one SEND_MESSAGE a fake broker received.
type send struct {
	broker, topic string
	queueID       int
}

// world is a Thrust name server and two fake brokers on one real loop, all
// on 127.0.0.1. A fake broker registers with the name server as a real one
// would and answers SEND_MESSAGE with success, recording what it got, so the
// test sees which address the client extracted from the route.
type world struct {
	t      *testing.T
	loop   *oshost.Loop
	env    host.Env
	ns     *namesrv.Server
	mu     sync.Mutex
	sends  []send
	addrOf map[string]string // broker name → listening address
}

func newWorld(t *testing.T) *world {
	t.Helper()
	loop := oshost.NewLoop()
	w := &world{t: t, loop: loop, addrOf: map[string]string{},
		env: oshost.NewEnv(loop, oshost.Options{Log: slog.New(slog.DiscardHandler), Seed: 1})}
	go loop.Run()
	var closers []func() error
	t.Cleanup(func() {
		loop.Do(func() {
			for _, c := range closers {
				c()
			}
		})
		loop.Stop()
		<-loop.Done()
	})

	var err error
	w.do(func() { w.ns, err = namesrv.Start(w.env, namesrv.DefaultConfig(), "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	closers = append(closers, w.ns.Close)

	for _, name := range []string{"broker-a", "broker-b"} {
		d := remoting.NewDispatcher()
		d.Handle(remoting.SendMessage, w.sendHandler(name))
		var srv *remoting.Server
		w.do(func() {
			srv, err = remoting.NewServer(w.env.Net, w.env.Clock, nil, "127.0.0.1:0", d, remoting.Options{})
		})
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, srv.Close)
		w.addrOf[name] = srv.Addr()
		w.register(name, srv.Addr())
	}
	return w
}

func (w *world) do(f func()) {
	w.t.Helper()
	if !w.loop.Do(f) {
		w.t.Fatal("loop stopped")
	}
}

func (w *world) sendHandler(broker string) remoting.HandlerFunc {
	var offset int64
	return func(ch *remoting.Channel, req *remoting.Command) {
		q, _ := strconv.Atoi(req.ExtFields.Str("queueId"))
		w.mu.Lock()
		w.sends = append(w.sends, send{broker: broker, topic: req.ExtFields.Str("topic"), queueID: q})
		w.mu.Unlock()
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.ExtFields.Add("msgId", fmt.Sprintf("7F00000100002A9F%016X", offset))
		resp.ExtFields.Add("queueId", strconv.Itoa(q))
		resp.ExtFields.Add("queueOffset", strconv.FormatInt(offset, 10))
		offset++
		ch.Respond(req, resp)
	}
}

// register sends the REGISTER_BROKER a master with topic InteropTopic (4
// queues) and auto-creation (TBW102) would send.
func (w *world) register(name, addr string) {
	w.t.Helper()
	body := namesrv.RegisterBrokerBody{
		DataVersion: namesrv.DataVersion{Timestamp: 1700000000000, Counter: 1},
		TopicConfigTable: map[string]namesrv.TopicConfig{
			"InteropTopic": {TopicName: "InteropTopic", ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRead | namesrv.PermWrite},
			"TBW102":       {TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: namesrv.PermRead | namesrv.PermWrite | namesrv.PermInherit},
		},
	}
	req := remoting.NewRequest(remoting.RegisterBroker,
		remoting.StrField("brokerName", name),
		remoting.StrField("brokerAddr", addr),
		remoting.StrField("clusterName", "DefaultCluster"),
		remoting.StrField("haServerAddr", addr),
		remoting.IntField("brokerId", 0),
	)
	req.Body = body.Encode()
	done := make(chan error, 1)
	w.loop.Post(func() {
		ch := remoting.Dial(w.env.Net, w.env.Clock, nil, w.ns.Addr(), nil, remoting.Options{})
		ch.Invoke(req, 5*time.Second, func(resp *remoting.Command, err error) {
			if err == nil && resp.Code != 0 {
				err = fmt.Errorf("code %d remark %q", resp.Code, resp.Remark)
			}
			done <- err
		})
	})
	if err := <-done; err != nil {
		w.t.Fatalf("register %s: %v", name, err)
	}
}

func (w *world) takeSends() []send {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.sends
	w.sends = nil
	return out
}

func TestGoClientReadsThrustRoutes(t *testing.T) {
	w := newWorld(t)
	resolver := primitive.NewPassthroughResolver([]string{w.ns.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	adm, err := admin.NewAdmin(admin.WithResolver(resolver))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()

	// GET_ALL_TOPIC_LIST_FROM_NAMESERVER, decoded by the client.
	list, err := adm.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"InteropTopic", "TBW102"}; !slices.Equal(list.TopicList, want) {
		t.Fatalf("topic list %v, want %v", list.TopicList, want)
	}

	// GET_ROUTEINFO_BY_TOPIC through the client's own route parser: a
	// queue is publishable only if the client found the master's address.
	mqs, err := adm.FetchPublishMessageQueues(ctx, "InteropTopic")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mq := range mqs {
		got = append(got, fmt.Sprintf("%s/%d", mq.BrokerName, mq.QueueId))
	}
	want := []string{"broker-a/0", "broker-a/1", "broker-a/2", "broker-a/3", "broker-b/0", "broker-b/1", "broker-b/2", "broker-b/3"}
	if !slices.Equal(got, want) {
		t.Fatalf("publish queues %v, want %v", got, want)
	}
	clusters, err := adm.FetchClusterList("InteropTopic")
	if err != nil || !slices.Equal(clusters, []string{"DefaultCluster"}) {
		t.Fatalf("cluster list %v, %v", clusters, err)
	}
}

func TestGoProducerSendsToRoutedBrokers(t *testing.T) {
	w := newWorld(t)
	p, err := producer.NewDefaultProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{w.ns.Addr()})),
		producer.WithGroupName("gocheck-producer"),
		producer.WithInstanceName("gocheck-producer"),
		producer.WithRetry(0),
		producer.WithSendMsgTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Eight sends round-robin over the eight queues: every message lands on
	// the broker, at the address, that the route named for its queue.
	for i := range 8 {
		res, err := p.SendSync(ctx, primitive.NewMessage("InteropTopic", []byte("m"+strconv.Itoa(i))))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if res.Status != primitive.SendOK {
			t.Fatalf("send %d: status %v", i, res.Status)
		}
		sends := w.takeSends()
		if len(sends) != 1 {
			t.Fatalf("send %d reached %d brokers: %v", i, len(sends), sends)
		}
		if s := sends[0]; s.broker != res.MessageQueue.BrokerName || s.queueID != res.MessageQueue.QueueId || s.topic != "InteropTopic" {
			t.Fatalf("send %d: client chose %s/%d, broker %s got %+v", i, res.MessageQueue.BrokerName, res.MessageQueue.QueueId, w.addrOf[res.MessageQueue.BrokerName], s)
		}
	}

	// A topic the name server does not know: the client gets code 17,
	// falls back to TBW102's route, and sends there under the new name
	// (capped at its default of four queues), which is what lets a broker
	// auto-create topics.
	seen := map[string]bool{}
	for i := range 4 {
		res, err := p.SendSync(ctx, primitive.NewMessage("AutoCreatedTopic", []byte("a"+strconv.Itoa(i))))
		if err != nil {
			t.Fatalf("send to an unknown topic: %v", err)
		}
		for _, s := range w.takeSends() {
			if s.topic != "AutoCreatedTopic" || s.queueID >= 4 {
				t.Fatalf("fallback send %+v (result %v)", s, res)
			}
			seen[s.broker] = true
		}
	}
	if len(seen) == 0 {
		t.Fatal("no fallback send reached a broker")
	}
}
