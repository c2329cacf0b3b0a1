package namesrv

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func reg(b broker, conn uint64) Registration {
	if b.cluster == "" {
		b.cluster = "DefaultCluster"
	}
	return Registration{
		ClusterName:        b.cluster,
		BrokerName:         b.name,
		BrokerAddr:         b.addr,
		HAServerAddr:       b.ha,
		BrokerID:           b.id,
		HeartbeatTimeout:   time.Duration(b.timeoutMillis) * time.Millisecond,
		EnableActingMaster: b.actingMaster,
		Body:               b.body(),
		ConnID:             conn,
	}
}

// checkInvariants verifies what RouteInfo promises to keep.
func checkInvariants(t *testing.T, r *RouteInfo) {
	t.Helper()
	for topic, qds := range r.topicQueueTable {
		if len(qds) == 0 {
			t.Fatalf("topic %s has no queue data", topic)
		}
		for name := range qds {
			if r.brokerAddrTable[name] == nil {
				t.Fatalf("topic %s has queue data of %s, which has no BrokerData", topic, name)
			}
		}
	}
	for name, bd := range r.brokerAddrTable {
		if len(bd.BrokerAddrs) == 0 {
			t.Fatalf("broker %s has no address", name)
		}
		seen := map[string]bool{}
		for _, addr := range bd.BrokerAddrs {
			if seen[addr] {
				t.Fatalf("broker %s lists %s twice", name, addr)
			}
			seen[addr] = true
		}
	}
	for cluster, names := range r.clusterAddrTable {
		if len(names) == 0 {
			t.Fatalf("cluster %s has no broker", cluster)
		}
	}
}

func route(t *testing.T, r *RouteInfo, topic string) string {
	t.Helper()
	rd, ok := r.TopicRoute(topic)
	if !ok {
		return "none"
	}
	return string(rd.Encode())
}

func TestSlavePromotedToMasterMovesItsAddress(t *testing.T) {
	r := NewRouteInfo(DefaultConfig(), nil)
	r.RegisterBroker(0, reg(brokerA.with(topic("T", 4, 6)), 1))
	r.RegisterBroker(0, reg(slaveA, 2))
	// The master dies; its slave is reconfigured as master (id 0) and
	// registers from the same address.
	r.UnregisterBroker("DefaultCluster", brokerA.addr, "broker-a")
	promoted := slaveA.with(topic("T", 4, 6))
	promoted.id = 0
	promoted.dv.Counter++
	r.RegisterBroker(time.Second, reg(promoted, 2))
	checkInvariants(t, r)
	bd := r.brokerAddrTable["broker-a"]
	if len(bd.BrokerAddrs) != 1 || bd.BrokerAddrs[0] != slaveA.addr {
		t.Fatalf("addresses after promotion: %v", bd.BrokerAddrs)
	}
}

func TestStaleMasterIsRejected(t *testing.T) {
	r := NewRouteInfo(DefaultConfig(), nil)
	current := brokerA.with(topic("T", 4, 6))
	current.dv.StateVersion = 5
	r.RegisterBroker(0, reg(current, 1))
	stale := broker{name: "broker-a", addr: "10.0.0.9:10911", dv: DataVersion{StateVersion: 4}}
	res := r.RegisterBroker(time.Second, reg(stale.with(topic("T", 16, 6)), 2))
	if !res.Rejected {
		t.Fatal("stale registration accepted")
	}
	checkInvariants(t, r)
	if got := r.brokerAddrTable["broker-a"].BrokerAddrs[0]; got != brokerA.addr {
		t.Fatalf("master address %s after a stale registration", got)
	}
	if _, ok := r.BrokerDataVersion("DefaultCluster", stale.addr); ok {
		t.Fatal("stale broker kept in the live table")
	}
	// A newer state version takes over.
	newer := stale
	newer.dv.StateVersion = 6
	if res := r.RegisterBroker(2*time.Second, reg(newer.with(topic("T", 16, 6)), 2)); res.Rejected {
		t.Fatal("newer registration rejected")
	}
	if got := r.brokerAddrTable["broker-a"].BrokerAddrs[0]; got != newer.addr {
		t.Fatalf("master address %s after a newer registration", got)
	}
}

func TestActingMaster(t *testing.T) {
	r := NewRouteInfo(DefaultConfig(), nil)
	m := brokerA.with(topic("T", 4, 6))
	m.actingMaster = true
	s := slaveA.with(topic("T", 4, 6), topic("U", 4, 6))
	s.actingMaster = true
	r.RegisterBroker(0, reg(m, 1))
	r.RegisterBroker(0, reg(s, 2))
	if got := route(t, r, "U"); got != "none" {
		t.Fatalf("a slave beside its master published U: %s", got)
	}
	// The master leaves: its queue data loses write permission, and the
	// slave, now the lowest id, publishes its topics read-only.
	r.UnregisterBroker("DefaultCluster", m.addr, "broker-a")
	const wantT = `{"brokerDatas":[{"brokerAddrs":{"1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":true}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":4,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if got := route(t, r, "T"); got != wantT {
		t.Fatalf("T after the master left\n got %s\nwant %s", got, wantT)
	}
	s.dv.Counter++
	r.RegisterBroker(time.Second, reg(s, 2))
	if got := route(t, r, "U"); got == "none" || !strings.Contains(got, `"perm":4`) {
		t.Fatalf("U from the acting master: %s", got)
	}
	checkInvariants(t, r)
}

func TestDeleteTopicWithBrokerRegistration(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.DeleteTopicWithBrokerRegistration = on
		r := NewRouteInfo(cfg, nil)
		a := brokerA.with(topic("T", 4, 6), topic("Gone", 4, 6))
		r.RegisterBroker(0, reg(a, 1))
		a = a.with(topic("T", 4, 6))
		a.dv.Counter++
		r.RegisterBroker(time.Second, reg(a, 1))
		if got := route(t, r, "Gone") == "none"; got != on {
			t.Errorf("deleteTopicWithBrokerRegistration=%v: Gone removed=%v", on, got)
		}
		checkInvariants(t, r)
	}
}

func TestFilterServersInRoute(t *testing.T) {
	r := NewRouteInfo(DefaultConfig(), nil)
	a := reg(brokerA.with(topic("T", 4, 6)), 1)
	a.Body.FilterServerList = []string{"10.0.0.1:30000"}
	r.RegisterBroker(0, a)
	if got := route(t, r, "T"); !strings.Contains(got, `"filterServerTable":{"10.0.0.1:10911":["10.0.0.1:30000"]}`) {
		t.Fatalf("route %s", got)
	}
	a.Body.FilterServerList = nil
	r.RegisterBroker(time.Second, a)
	if got := route(t, r, "T"); !strings.Contains(got, `"filterServerTable":{}`) {
		t.Fatalf("route %s", got)
	}
}

// A random walk through registrations, expiries, closes and deletions keeps
// the invariants, and the same walk gives the same tables and logs-free
// output every time (no map order leaks into an answer).
func TestRandomWalkKeepsInvariants(t *testing.T) {
	run := func(seed uint64) string {
		rng := rand.New(rand.NewPCG(seed, 1))
		r := NewRouteInfo(DefaultConfig(), nil)
		var out []byte
		now := time.Duration(0)
		names := []string{"a", "b", "c"}
		topics := []string{"T1", "T2", "T3", "TBW102"}
		for step := range 400 {
			now += time.Duration(rng.IntN(2000)) * time.Millisecond
			name := names[rng.IntN(len(names))]
			id := int64(rng.IntN(3))
			addr := fmt.Sprintf("10.0.0.%d:10911", rng.IntN(6))
			cluster := []string{"C1", "C2"}[rng.IntN(2)]
			switch rng.IntN(6) {
			case 0, 1, 2:
				b := broker{cluster: cluster, name: name, addr: addr, id: id,
					timeoutMillis: int64(1000 + rng.IntN(5000)),
					dv:            DataVersion{Counter: int64(rng.IntN(3)), StateVersion: int64(rng.IntN(2))}}
				for _, tp := range topics {
					if rng.IntN(2) == 0 {
						b.topics = append(b.topics, topic(tp, int32(1+rng.IntN(8)), 6))
					}
				}
				r.RegisterBroker(now, reg(b, uint64(rng.IntN(4))))
			case 3:
				r.UnregisterBroker(cluster, addr, name)
			case 4:
				r.ScanNotActiveBrokers(now)
			case 5:
				switch rng.IntN(3) {
				case 0:
					r.ConnClosed(uint64(rng.IntN(4)))
				case 1:
					r.DeleteTopic(topics[rng.IntN(len(topics))], []string{"", cluster}[rng.IntN(2)])
				case 2:
					r.WipeWritePerm(name)
				}
			}
			checkInvariants(t, r)
			ci := r.ClusterInfo()
			out = append(out, fmt.Sprintf("%d ", step)...)
			out = append(out, ci.Encode()...)
			for _, tp := range topics {
				out = append(out, route(t, r, tp)...)
			}
			out = append(out, '\n')
		}
		return string(out)
	}
	for seed := range uint64(20) {
		if a, b := run(seed), run(seed); a != b {
			t.Fatalf("seed %d: two runs differ", seed)
		}
	}
}

func TestTopicsBySysFlag(t *testing.T) {
	r := NewRouteInfo(DefaultConfig(), nil)
	unit := topic("Unit", 4, 6)
	unit.TopicSysFlag = TopicSysFlagUnit
	sub := topic("Sub", 4, 6)
	sub.TopicSysFlag = TopicSysFlagUnitSub
	both := topic("Both", 4, 6)
	both.TopicSysFlag = TopicSysFlagUnit | TopicSysFlagUnitSub
	r.RegisterBroker(0, reg(brokerA.with(unit, sub, both, topic("Plain", 4, 6)), 1))
	for _, tc := range []struct {
		match func(int32) bool
		want  []string
	}{
		{func(f int32) bool { return f&TopicSysFlagUnit != 0 }, []string{"Both", "Unit"}},
		{func(f int32) bool { return f&TopicSysFlagUnitSub != 0 }, []string{"Both", "Sub"}},
		{func(f int32) bool { return f&TopicSysFlagUnit == 0 && f&TopicSysFlagUnitSub != 0 }, []string{"Sub"}},
	} {
		if got := r.topicsWithFlag(tc.match); !slices.Equal(got, tc.want) {
			t.Errorf("got %v, want %v", got, tc.want)
		}
	}
}
