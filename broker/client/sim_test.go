package client

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/sim"
	"github.com/thrustmq/thrust/sim/cluster"
)

// simRun is what one simulated run produced.
type simRun struct {
	digest    string
	acked     []string // MsgIDs of acknowledged sends
	failed    int
	delivered map[string]int
	byHost    map[string]int // deliveries per consumer host
	done      bool
}

// runSim runs a name server, a broker, a producer and two clustering
// consumers in one seeded world (sim/cluster's wiring); the second
// consumer's process crashes at crashAt. It stops once every acknowledged message has been delivered (or
// at a virtual-time limit).
func runSim(t *testing.T, seed uint64, crashAt time.Duration) simRun {
	t.Helper()
	w := sim.NewWorld(seed, sim.Options{})
	cl := cluster.New(w, cluster.Options{Brokers: 1, Clients: 3})
	cl.Start()
	nsAddr := cl.NamesrvAddr()
	run := simRun{delivered: map[string]int{}, byHost: map[string]int{}}

	// Clients run on their hosts' loops, started from a loop event as a
	// process's main would.
	onHost := func(h *sim.Host, f func(env host.Env)) {
		env := h.Start()
		env.Clock.AfterFunc(0, func() { f(env) })
	}
	newClient := func(env host.Env, h *sim.Host) *Client {
		c, err := New(env, Config{NamesrvAddrs: []string{nsAddr}, ClientIP: h.Addr(), InstanceName: h.Name()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, h := range cl.Clients[1:] {
		onHost(h, func(env host.Env) {
			cs, err := newClient(env, h).NewConsumer(ConsumerConfig{
				Group:         "sg",
				Subscriptions: []Subscription{{Topic: "SimTopic", Expression: "*"}},
				ConsumeFrom:   ConsumeFromFirstOffset,
				Handler: func(msgs []*MessageExt) ConsumeResult {
					for _, m := range msgs {
						run.delivered[m.MsgID]++
						run.byHost[h.Name()]++
					}
					return ConsumeSuccess
				},
			})
			if err == nil {
				err = cs.Start()
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	const total = 100
	sent, answered := 0, 0
	onHost(cl.Clients[0], func(env host.Env) {
		p := newClient(env, cl.Clients[0])
		var tick func()
		tick = func() {
			if sent == total {
				return
			}
			sent++
			p.Send(&Message{Topic: "SimTopic", Body: fmt.Appendf(nil, "m%d", sent)}, nil, func(r SendResult) {
				answered++
				if r.Outcome() == OutcomeOK {
					run.acked = append(run.acked, r.MsgID)
				} else {
					run.failed++
				}
			})
			env.Clock.AfterFunc(50*time.Millisecond, tick)
		}
		env.Clock.AfterFunc(time.Second, tick)
	})
	w.Schedule(crashAt, func() { cl.Clients[2].Crash(sim.ProcessCrash) })

	run.done = w.RunUntil(func() bool {
		return answered == total && w.Now() > crashAt &&
			!slices.ContainsFunc(run.acked, func(id string) bool { return run.delivered[id] == 0 })
	}, 3*time.Minute)
	if len(cl.Errors) > 0 {
		t.Fatalf("cluster: %v", cl.Errors)
	}
	run.digest = w.Digest()
	dups := 0
	for _, n := range run.delivered {
		dups += n - 1
	}
	t.Logf("seed %d: %v virtual, %d acked, %d failed, %d duplicate deliveries, deliveries by host %v", seed, w.Now(), len(run.acked), run.failed, dups, run.byHost)
	return run
}

// TestRunsInTheSimulator runs the client against Thrust's broker and name
// server in the simulator: the producer's topic does not exist (TBW102
// fallback), the consumers find it once created, one consumer's process
// crashes mid-stream and the other takes its queues over. Every
// acknowledged message must be delivered, and a seed must replay exactly.
func TestRunsInTheSimulator(t *testing.T) {
	a := runSim(t, 7, 5*time.Second)
	if !a.done {
		missing := 0
		for _, id := range a.acked {
			if a.delivered[id] == 0 {
				missing++
			}
		}
		t.Fatalf("not every acknowledged message was delivered: %d acked, %d failed, %d missing", len(a.acked), a.failed, missing)
	}
	if a.byHost["client-1"] == 0 || a.byHost["client-2"] == 0 {
		t.Fatalf("both consumers should have consumed before the crash: %v", a.byHost)
	}
	if a.failed != 0 || len(a.acked) != 100 {
		t.Fatalf("quiet network, yet %d sends failed (%d acked)", a.failed, len(a.acked))
	}
	b := runSim(t, 7, 5*time.Second)
	if a.digest != b.digest {
		t.Fatalf("same seed, different runs: %s vs %s", a.digest, b.digest)
	}
	c := runSim(t, 8, 5*time.Second)
	if c.digest == a.digest {
		t.Fatal("different seeds gave the same trace: the seed does not reach the run")
	}
}

// TestConsumerResumesPromptlyAfterBrokerRestart restarts the broker under
// a consumer. The new incarnation has forgotten the consumer (RocketMQ
// keeps consumer tables in memory) and answers its pulls
// SUBSCRIPTION_NOT_EXIST; the consumer must register again at once rather
// than sit out the 30 s heartbeat interval, so a message sent after the
// restart arrives within a few seconds.
func TestConsumerResumesPromptlyAfterBrokerRestart(t *testing.T) {
	w := sim.NewWorld(11, sim.Options{})
	cl := cluster.New(w, cluster.Options{Brokers: 1, Clients: 2})
	cl.Start()
	nsAddr := cl.NamesrvAddr()
	delivered := map[string]time.Duration{}
	var sentAt time.Duration
	var producer *Client
	for i, h := range cl.Clients {
		env := h.Start()
		env.Clock.AfterFunc(0, func() {
			c, err := New(env, Config{NamesrvAddrs: []string{nsAddr}, ClientIP: h.Addr(), InstanceName: h.Name()})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				producer = c
				return
			}
			cs, err := c.NewConsumer(ConsumerConfig{
				Group:         "sg",
				Subscriptions: []Subscription{{Topic: "SimTopic", Expression: "*"}},
				ConsumeFrom:   ConsumeFromFirstOffset,
				Handler: func(msgs []*MessageExt) ConsumeResult {
					for _, m := range msgs {
						delivered[string(m.Body)] = w.Now()
					}
					return ConsumeSuccess
				},
			})
			if err == nil {
				err = cs.Start()
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	send := func(body string) {
		producer.Send(&Message{Topic: "SimTopic", Body: []byte(body)}, nil, func(r SendResult) {
			if r.Outcome() != OutcomeOK {
				t.Errorf("send %s: %v", body, r.Err)
			}
		})
	}
	w.Schedule(time.Second, func() { send("before") })
	if !w.RunUntil(func() bool { _, ok := delivered["before"]; return ok }, 20*time.Second) {
		t.Fatal("the message sent before the restart was never delivered")
	}
	b := cl.Brokers[0]
	restartAt := w.Now() + time.Second
	w.Schedule(restartAt-w.Now(), func() {
		cl.CrashBroker(b, sim.ProcessCrash)
		cl.StartBroker(b)
	})
	w.Schedule(restartAt-w.Now()+2*time.Second, func() {
		sentAt = w.Now()
		send("after")
	})
	if !w.RunUntil(func() bool { _, ok := delivered["after"]; return ok }, time.Minute) {
		t.Fatal("the message sent after the restart was never delivered")
	}
	if len(cl.Errors) > 0 {
		t.Fatalf("cluster: %v", cl.Errors)
	}
	if b.Starts != 2 {
		t.Fatalf("the broker started %d times, want 2", b.Starts)
	}
	if lag := delivered["after"] - sentAt; lag > 5*time.Second {
		t.Fatalf("the message sent %v after the broker restarted took %v to arrive: the consumer waited for a periodic heartbeat instead of re-registering", 2*time.Second, lag)
	}
}
