package namesrv

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/remoting"
)

// harness runs a name server on a fake loop and network: virtual time, so
// expiry tests take no real time and always see the same interleaving.
type harness struct {
	t    *testing.T
	loop *fakeLoop
	net  *fakeNet
	srv  *Server
	logs *bytes.Buffer
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	loop := &fakeLoop{}
	n := newFakeNet(loop)
	logs := new(bytes.Buffer)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	env := host.Env{Clock: loop, Net: n, Log: log, Faults: host.NoFaults{}}
	srv, err := Start(env, cfg, "10.0.0.1:9876")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &harness{t: t, loop: loop, net: n, srv: srv, logs: logs}
}

// dial opens a client connection to the name server.
func (h *harness) dial() *remoting.Channel {
	ch := remoting.Dial(h.net, h.loop, nil, h.srv.Addr(), nil, remoting.Options{})
	h.loop.Run()
	return ch
}

// call sends req on ch and returns the response, running the loop (without
// advancing the clock) until it comes.
func (h *harness) call(ch *remoting.Channel, req *remoting.Command) *remoting.Command {
	h.t.Helper()
	var (
		resp *remoting.Command
		err  error
		done bool
	)
	ch.Invoke(req, 3*time.Second, func(r *remoting.Command, e error) { resp, err, done = r, e, true })
	h.loop.Run()
	if !done {
		h.t.Fatalf("%s: no response", remoting.RequestCode(req.Code))
	}
	if err != nil {
		h.t.Fatalf("%s: %v", remoting.RequestCode(req.Code), err)
	}
	return resp
}

// mustOK calls and checks for SUCCESS.
func (h *harness) mustOK(ch *remoting.Channel, req *remoting.Command) *remoting.Command {
	h.t.Helper()
	resp := h.call(ch, req)
	if resp.Code != int32(remoting.Success) {
		h.t.Fatalf("%s: code %d remark %q", remoting.RequestCode(req.Code), resp.Code, resp.Remark)
	}
	return resp
}

// route asks for topic's route and returns the response.
func (h *harness) route(ch *remoting.Channel, topic string) *remoting.Command {
	h.t.Helper()
	return h.call(ch, remoting.NewRequest(remoting.GetRouteinfoByTopic, remoting.StrField("topic", topic)))
}

// routeBody asks for topic's route and wants one.
func (h *harness) routeBody(ch *remoting.Channel, topic string) string {
	h.t.Helper()
	resp := h.route(ch, topic)
	if resp.Code != int32(remoting.Success) {
		h.t.Fatalf("route %s: code %d remark %q", topic, resp.Code, resp.Remark)
	}
	return string(resp.Body)
}

func (h *harness) wantNoRoute(ch *remoting.Channel, topic string) {
	h.t.Helper()
	if resp := h.route(ch, topic); resp.Code != int32(remoting.TopicNotExist) {
		h.t.Fatalf("route %s: code %d body %s, want TOPIC_NOT_EXIST", topic, resp.Code, resp.Body)
	}
}

// broker describes a REGISTER_BROKER request.
type broker struct {
	cluster, name, addr, ha string
	id                      int64
	timeoutMillis           int64 // 0 leaves the field out
	dv                      DataVersion
	topics                  []TopicConfig
	compressed              bool
	actingMaster            bool
}

func topic(name string, queues, perm int32) TopicConfig {
	return TopicConfig{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: perm, TopicFilterType: "SINGLE_TAG"}
}

func (b broker) body() RegisterBrokerBody {
	body := RegisterBrokerBody{DataVersion: b.dv, TopicConfigTable: map[string]TopicConfig{}}
	for _, tc := range b.topics {
		body.TopicConfigTable[tc.TopicName] = tc
	}
	return body
}

func (b broker) request() *remoting.Command {
	if b.cluster == "" {
		b.cluster = "DefaultCluster"
	}
	body := b.body()
	raw := body.Encode()
	if b.compressed {
		raw = body.EncodeCompressed()
	}
	req := remoting.NewRequest(remoting.RegisterBroker,
		remoting.StrField("brokerName", b.name),
		remoting.StrField("brokerAddr", b.addr),
		remoting.StrField("clusterName", b.cluster),
		remoting.StrField("haServerAddr", b.ha),
		remoting.IntField("brokerId", b.id),
		remoting.BoolField("compressed", b.compressed),
		remoting.IntField("bodyCrc32", int64(crc32.ChecksumIEEE(raw)&0x7fffffff)),
	)
	if b.timeoutMillis != 0 {
		req.ExtFields.Add("heartbeatTimeoutMillis", itoa64(b.timeoutMillis))
	}
	if b.actingMaster {
		req.ExtFields.Add("enableActingMaster", "true")
	}
	req.Body = raw
	return req
}

func itoa64(n int64) string { return string(appendJSONInt(nil, n)) }

var (
	brokerA = broker{name: "broker-a", addr: "10.0.0.1:10911", ha: "10.0.0.1:10912",
		dv: DataVersion{Timestamp: 1700000000000, Counter: 1}}
	slaveA = broker{name: "broker-a", addr: "10.0.0.2:10911", ha: "10.0.0.2:10912", id: 1,
		dv: DataVersion{Timestamp: 1700000000000, Counter: 1}}
	brokerB = broker{name: "broker-b", addr: "10.0.0.3:10911", ha: "10.0.0.3:10912",
		dv: DataVersion{Timestamp: 1700000000000, Counter: 1}}
)

func (b broker) with(topics ...TopicConfig) broker {
	b.topics = topics
	return b
}

// The route of the protocol reference's example, byte for byte.
func TestRouteMatchesReferenceExample(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	ch := h.dial()
	b := broker{name: "broker-a", addr: "192.168.1.5:10911", ha: "192.168.1.5:10912"}
	h.mustOK(ch, b.with(topic("TopicTest", 4, PermRead|PermWrite)).request())
	const want = `{"brokerDatas":[{"brokerAddrs":{"0":"192.168.1.5:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if got := h.routeBody(ch, "TopicTest"); got != want {
		t.Fatalf("route\n got %s\nwant %s", got, want)
	}
}

func TestRouteGolden(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a, s, b := h.dial(), h.dial(), h.dial()
	tbw := topic("TBW102", 8, PermRead|PermWrite|PermInherit)
	// broker-b first, so that sorting, not arrival, orders the route.
	h.mustOK(b, brokerB.with(topic("TopicTest", 8, PermRead|PermWrite)).request())
	h.mustOK(a, brokerA.with(topic("TopicTest", 4, PermRead|PermWrite), tbw).request())
	h.mustOK(s, slaveA.with(topic("TopicTest", 4, PermRead|PermWrite), tbw).request())

	const want = `{"brokerDatas":[` +
		`{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},` +
		`{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":false}],` +
		`"filterServerTable":{},"queueDatas":[` +
		`{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},` +
		`{"brokerName":"broker-b","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}`
	if got := h.routeBody(a, "TopicTest"); got != want {
		t.Fatalf("route\n got %s\nwant %s", got, want)
	}

	// TBW102 is a topic like any other: served with its INHERIT bit, so
	// that producers fall back to it for topics that do not exist yet.
	const wantTBW = `{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":7,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}`
	if got := h.routeBody(a, "TBW102"); got != wantTBW {
		t.Fatalf("TBW102 route\n got %s\nwant %s", got, wantTBW)
	}
}

func TestUnknownTopic(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	ch := h.dial()
	resp := h.route(ch, "NoSuchTopic")
	if resp.Code != int32(remoting.TopicNotExist) {
		t.Fatalf("code %d, want 17", resp.Code)
	}
	if want := "No topic route info in name server for the topic: NoSuchTopic"; resp.Remark != want {
		t.Fatalf("remark %q, want %q", resp.Remark, want)
	}
	if len(resp.Body) != 0 {
		t.Fatalf("body %q on TOPIC_NOT_EXIST", resp.Body)
	}
	// A request without the topic field is malformed, not unknown.
	if resp := h.call(ch, remoting.NewRequest(remoting.GetRouteinfoByTopic)); resp.Code != int32(remoting.SystemError) {
		t.Fatalf("missing topic: code %d, want SYSTEM_ERROR", resp.Code)
	}
}

func TestBrokerExpiresAfterTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ScanNotActiveBrokerInterval = 100 * time.Millisecond
	h := newHarness(t, cfg)
	client, a, b := h.dial(), h.dial(), h.dial()
	regA := brokerA.with(topic("OnlyA", 4, 6), topic("Shared", 4, 6))
	regA.timeoutMillis = 300
	regB := brokerB.with(topic("Shared", 4, 6))
	regB.timeoutMillis = 300
	h.mustOK(a, regA.request())
	h.mustOK(b, regB.request())

	// broker-b keeps registering every 200 ms; broker-a falls silent.
	for range 3 {
		h.loop.Advance(200 * time.Millisecond)
		h.mustOK(b, regB.request())
	}
	h.wantNoRoute(client, "OnlyA")
	if got, want := h.routeBody(client, "Shared"), `"queueDatas":[{"brokerName":"broker-b"`; !strings.Contains(got, want) || strings.Contains(got, "broker-a") {
		t.Fatalf("Shared route after broker-a expired: %s", got)
	}
	// The name server closed the silent broker's connection, as Java does.
	if !a.Closed() {
		t.Fatal("expired broker's connection still open")
	}
	if b.Closed() {
		t.Fatal("live broker's connection closed")
	}
	if !strings.Contains(h.logs.String(), `msg="namesrv: broker expired, no registration within its timeout" cluster=DefaultCluster brokerName=broker-a brokerAddr=10.0.0.1:10911 timeout=300ms`) {
		t.Fatalf("expiry not logged:\n%s", h.logs)
	}
	ci := h.srv.Routes().ClusterInfo()
	if _, ok := ci.BrokerAddrTable["broker-a"]; ok {
		t.Fatalf("broker-a still in the broker table: %+v", ci)
	}
}

// The expiry boundary: a broker is dropped only once lastUpdate+timeout is
// strictly in the past, at the first scan after that.
func TestExpiryBoundary(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ScanNotActiveBrokerInterval = 100 * time.Millisecond
	h := newHarness(t, cfg)
	client, a := h.dial(), h.dial()
	reg := brokerA.with(topic("T", 4, 6))
	reg.timeoutMillis = 300
	h.mustOK(a, reg.request()) // at t=0
	h.loop.Advance(300 * time.Millisecond)
	h.routeBody(client, "T") // the scan at 300 ms sees 0+300 >= 300: alive
	h.loop.Advance(100 * time.Millisecond)
	h.wantNoRoute(client, "T") // the scan at 400 ms drops it
}

func TestDefaultTimeoutIs120s(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	client, a := h.dial(), h.dial()
	h.mustOK(a, brokerA.with(topic("T", 4, 6)).request())
	h.loop.Advance(120 * time.Second)
	h.routeBody(client, "T")
	h.loop.Advance(5 * time.Second)
	h.wantNoRoute(client, "T")
}

func TestChannelCloseDropsBroker(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	client, a, s, b := h.dial(), h.dial(), h.dial(), h.dial()
	h.mustOK(a, brokerA.with(topic("T", 4, 6)).request())
	h.mustOK(s, slaveA.with(topic("T", 4, 6)).request())
	h.mustOK(b, brokerB.with(topic("T", 4, 6)).request())

	// The master's connection closes: its address goes, and the route shows
	// no master for broker-a; its queue data stays for the slave's readers.
	a.Close()
	h.loop.Run()
	got := h.routeBody(client, "T")
	if !strings.Contains(got, `{"brokerAddrs":{"1":"10.0.0.2:10911"},"brokerName":"broker-a"`) {
		t.Fatalf("route after the master left: %s", got)
	}
	// The slave's goes too: broker-a is gone altogether.
	s.Close()
	h.loop.Run()
	got = h.routeBody(client, "T")
	if strings.Contains(got, "broker-a") {
		t.Fatalf("broker-a still routed after all its connections closed: %s", got)
	}
	b.Close()
	h.loop.Run()
	h.wantNoRoute(client, "T")
	if brokers := h.srv.Routes().Brokers(); len(brokers) != 0 {
		t.Fatalf("live brokers left: %v", brokers)
	}
	ci := h.srv.Routes().ClusterInfo()
	if len(ci.BrokerAddrTable) != 0 || len(ci.ClusterAddrTable) != 0 {
		t.Fatalf("empty entries left: %+v", ci)
	}
}

// A broker that reconnected and registered on its new connection is not
// dropped when its old connection's close arrives late.
func TestStaleConnectionCloseKeepsReregisteredBroker(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	client, old, fresh := h.dial(), h.dial(), h.dial()
	h.mustOK(old, brokerA.with(topic("T", 4, 6)).request())
	h.mustOK(fresh, brokerA.with(topic("T", 4, 6)).request())
	old.Close()
	h.loop.Run()
	h.routeBody(client, "T")
}

func TestSlaveGetsMasterAddr(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a, s := h.dial(), h.dial()
	// A slave that registers before its master learns nothing yet.
	resp := h.mustOK(s, slaveA.with(topic("T", 4, 6)).request())
	if resp.ExtFields.Has("masterAddr") || resp.ExtFields.Has("haServerAddr") {
		t.Fatalf("slave without master got %v", resp.ExtFields)
	}
	// ... and publishes no topics: only masters do.
	h.wantNoRoute(a, "T")

	resp = h.mustOK(a, brokerA.with(topic("T", 4, 6)).request())
	if len(resp.ExtFields) != 0 {
		t.Fatalf("master got header %v", resp.ExtFields)
	}
	resp = h.mustOK(s, slaveA.with(topic("T", 16, 6)).request())
	if got := resp.ExtFields.Str("masterAddr"); got != brokerA.addr {
		t.Fatalf("masterAddr %q, want %q", got, brokerA.addr)
	}
	if got := resp.ExtFields.Str("haServerAddr"); got != brokerA.ha {
		t.Fatalf("haServerAddr %q, want %q", got, brokerA.ha)
	}
	// The slave's differing queue numbers did not reach the route.
	if got := h.routeBody(a, "T"); !strings.Contains(got, `"readQueueNums":4`) {
		t.Fatalf("slave rewrote the route: %s", got)
	}
}

func TestUnchangedDataVersionKeepsQueueData(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a := h.dial()
	reg := brokerA.with(topic("T", 4, 6))
	h.mustOK(a, reg.request())

	// Same data version, other queue numbers: not rewritten.
	same := reg.with(topic("T", 8, 6))
	h.mustOK(a, same.request())
	if got := h.routeBody(a, "T"); !strings.Contains(got, `"readQueueNums":4`) {
		t.Fatalf("queue data rewritten with an unchanged data version: %s", got)
	}
	// A topic the table lacks for this broker is added all the same.
	added := reg.with(topic("T", 8, 6), topic("U", 2, 6))
	h.mustOK(a, added.request())
	if got := h.routeBody(a, "U"); !strings.Contains(got, `"readQueueNums":2`) {
		t.Fatalf("new topic not added: %s", got)
	}
	// A new data version rewrites.
	changed := added
	changed.dv.Counter++
	h.mustOK(a, changed.request())
	if got := h.routeBody(a, "T"); !strings.Contains(got, `"readQueueNums":8`) {
		t.Fatalf("queue data not rewritten with a new data version: %s", got)
	}
}

func TestClusterInfoAndTopicLists(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a, s, b, other := h.dial(), h.dial(), h.dial(), h.dial()
	h.mustOK(a, brokerA.with(topic("TopicTest", 4, 6), topic("TBW102", 8, 7)).request())
	h.mustOK(s, slaveA.request())
	h.mustOK(b, brokerB.with(topic("TopicTest", 4, 6), topic("B-only", 1, 6)).request())
	c := broker{cluster: "OtherCluster", name: "broker-c", addr: "10.0.0.4:10911", dv: brokerA.dv}
	h.mustOK(other, c.with(topic("C-only", 1, 6)).request())

	resp := h.mustOK(a, remoting.NewRequest(remoting.GetBrokerClusterInfo))
	const want = `{"brokerAddrTable":{` +
		`"broker-a":{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},` +
		`"broker-b":{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":false},` +
		`"broker-c":{"brokerAddrs":{"0":"10.0.0.4:10911"},"brokerName":"broker-c","cluster":"OtherCluster","enableActingMaster":false}},` +
		`"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"],"OtherCluster":["broker-c"]}}`
	if got := string(resp.Body); got != want {
		t.Fatalf("cluster info\n got %s\nwant %s", got, want)
	}
	ci, err := DecodeClusterInfo(resp.Body)
	if err != nil || ci.BrokerAddrTable["broker-a"].BrokerAddrs[1] != slaveA.addr {
		t.Fatalf("cluster info does not decode back: %+v %v", ci, err)
	}

	for _, tc := range []struct {
		req  *remoting.Command
		want string
	}{
		{remoting.NewRequest(remoting.GetAllTopicListFromNameserver), `{"topicList":["B-only","C-only","TBW102","TopicTest"]}`},
		{remoting.NewRequest(remoting.GetTopicsByCluster, remoting.StrField("cluster", "DefaultCluster")), `{"topicList":["B-only","TBW102","TopicTest"]}`},
		{remoting.NewRequest(remoting.GetTopicsByCluster, remoting.StrField("cluster", "NoCluster")), `{"topicList":[]}`},
		{remoting.NewRequest(remoting.GetSystemTopicListFromNS), `{"brokerAddr":"10.0.0.1:10911","topicList":["DefaultCluster","OtherCluster","broker-a","broker-b","broker-c"]}`},
		{remoting.NewRequest(remoting.GetUnitTopicList), `{"topicList":[]}`},
	} {
		if got := string(h.mustOK(a, tc.req).Body); got != tc.want {
			t.Errorf("%s: got %s, want %s", remoting.RequestCode(tc.req.Code), got, tc.want)
		}
	}

	// Topic lists can be switched off, as in Java.
	cfg := DefaultConfig()
	cfg.EnableAllTopicList = false
	cfg.EnableTopicList = false
	off := newHarness(t, cfg)
	ch := off.dial()
	for _, code := range []remoting.RequestCode{remoting.GetAllTopicListFromNameserver, remoting.GetUnitTopicList} {
		if resp := off.call(ch, remoting.NewRequest(code, remoting.StrField("cluster", "c"))); resp.Code != int32(remoting.SystemError) || resp.Remark != "disable" {
			t.Errorf("%s disabled: code %d remark %q", code, resp.Code, resp.Remark)
		}
	}
}

func TestRegisterBodyChecks(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a := h.dial()

	req := brokerA.with(topic("T", 4, 6)).request()
	req.ExtFields.Set("bodyCrc32", "12345")
	resp := h.call(a, req)
	if resp.Code != int32(remoting.SystemError) || resp.Remark != "crc32 not match" {
		t.Fatalf("bad crc: code %d remark %q", resp.Code, resp.Remark)
	}
	h.wantNoRoute(a, "T")

	// bodyCrc32=0 means "not computed", as in Java.
	req = brokerA.with(topic("T", 4, 6)).request()
	req.ExtFields.Set("bodyCrc32", "0")
	h.mustOK(a, req)

	req = brokerA.request()
	req.Body = []byte(`{"topicConfigSerializeWrapper":`)
	req.ExtFields.Set("bodyCrc32", "0")
	if resp := h.call(a, req); resp.Code != int32(remoting.SystemError) {
		t.Fatalf("malformed body: code %d", resp.Code)
	}
	for _, missing := range []string{"brokerName", "brokerAddr", "clusterName", "brokerId"} {
		req := brokerA.request()
		req.ExtFields = slicesDelete(req.ExtFields, missing)
		if resp := h.call(a, req); resp.Code != int32(remoting.SystemError) || !strings.Contains(resp.Remark, missing) {
			t.Errorf("without %s: code %d remark %q", missing, resp.Code, resp.Remark)
		}
	}
}

func slicesDelete(f remoting.Fields, key string) remoting.Fields {
	var out remoting.Fields
	for _, kv := range f {
		if kv.Key != key {
			out = append(out, kv)
		}
	}
	return out
}

func TestCompressedRegistration(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a := h.dial()
	reg := brokerA.with(topic("T", 4, 6), topic("TBW102", 8, 7))
	reg.compressed = true
	h.mustOK(a, reg.request())
	if got := h.routeBody(a, "TBW102"); !strings.Contains(got, `"perm":7,"readQueueNums":8`) {
		t.Fatalf("route from a compressed registration: %s", got)
	}
}

func TestUnregisterBroker(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a, b := h.dial(), h.dial()
	h.mustOK(a, brokerA.with(topic("T", 4, 6)).request())
	h.mustOK(b, brokerB.with(topic("T", 4, 6)).request())
	h.mustOK(a, remoting.NewRequest(remoting.UnregisterBroker,
		remoting.StrField("brokerName", "broker-a"), remoting.StrField("brokerAddr", brokerA.addr),
		remoting.StrField("clusterName", "DefaultCluster"), remoting.IntField("brokerId", 0)))
	if got := h.routeBody(a, "T"); strings.Contains(got, "broker-a") {
		t.Fatalf("unregistered broker still routed: %s", got)
	}
	// The connection stays usable, and its close no longer affects anything.
	a.Close()
	h.loop.Run()
	h.routeBody(b, "T")
}

func TestQueryDataVersion(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ScanNotActiveBrokerInterval = 100 * time.Millisecond
	h := newHarness(t, cfg)
	a := h.dial()
	reg := brokerA.with(topic("T", 4, 6))
	reg.timeoutMillis = 300
	h.mustOK(a, reg.request())

	query := func(dv DataVersion) *remoting.Command {
		req := remoting.NewRequest(remoting.QueryDataVersion,
			remoting.StrField("brokerName", "broker-a"), remoting.StrField("brokerAddr", brokerA.addr),
			remoting.StrField("clusterName", "DefaultCluster"), remoting.IntField("brokerId", 0))
		req.Body = dv.Encode()
		return h.mustOK(a, req)
	}
	resp := query(reg.dv)
	if resp.ExtFields.Str("changed") != "false" || string(resp.Body) != `{"counter":1,"stateVersion":0,"timestamp":1700000000000}` {
		t.Fatalf("same version: changed=%q body %s", resp.ExtFields.Str("changed"), resp.Body)
	}
	// Queries keep the broker alive, as registrations do.
	for range 5 {
		h.loop.Advance(200 * time.Millisecond)
		newer := reg.dv
		newer.Counter = 2
		if got := query(newer).ExtFields.Str("changed"); got != "true" {
			t.Fatalf("newer version: changed=%q", got)
		}
	}
	h.routeBody(a, "T")
}

func TestWriteWipeAndAdd(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a := h.dial()
	h.mustOK(a, brokerA.with(topic("T", 4, 6), topic("U", 4, 6)).request())
	resp := h.mustOK(a, remoting.NewRequest(remoting.WipeWritePermOfBroker, remoting.StrField("brokerName", "broker-a")))
	if resp.ExtFields.Str("wipeTopicCount") != "2" {
		t.Fatalf("wipeTopicCount %v", resp.ExtFields)
	}
	if got := h.routeBody(a, "T"); !strings.Contains(got, `"perm":4`) {
		t.Fatalf("after wipe: %s", got)
	}
	resp = h.mustOK(a, remoting.NewRequest(remoting.AddWritePermOfBroker, remoting.StrField("brokerName", "broker-a")))
	if resp.ExtFields.Str("addTopicCount") != "2" {
		t.Fatalf("addTopicCount %v", resp.ExtFields)
	}
	if got := h.routeBody(a, "T"); !strings.Contains(got, `"perm":6`) {
		t.Fatalf("after add: %s", got)
	}
}

func TestDeleteTopicInNamesrv(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a, b := h.dial(), h.dial()
	h.mustOK(a, brokerA.with(topic("T", 4, 6)).request())
	c := broker{cluster: "Other", name: "broker-c", addr: "10.0.0.4:10911", dv: brokerA.dv}
	h.mustOK(b, c.with(topic("T", 4, 6)).request())

	h.mustOK(a, remoting.NewRequest(remoting.DeleteTopicInNamesrv, remoting.StrField("topic", "T"), remoting.StrField("clusterName", "Other")))
	if got := h.routeBody(a, "T"); strings.Contains(got, "broker-c") || !strings.Contains(got, "broker-a") {
		t.Fatalf("after deleting T in cluster Other: %s", got)
	}
	h.mustOK(a, remoting.NewRequest(remoting.DeleteTopicInNamesrv, remoting.StrField("topic", "T")))
	h.wantNoRoute(a, "T")
}

func TestKVConfigAndOrderTopicConf(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OrderMessageEnable = true
	h := newHarness(t, cfg)
	ch := h.dial()
	kv := func(code remoting.RequestCode, fields ...string) *remoting.Command {
		req := remoting.NewRequest(code)
		for i := 0; i+1 < len(fields); i += 2 {
			req.ExtFields.Add(fields[i], fields[i+1])
		}
		return h.call(ch, req)
	}
	if resp := kv(remoting.GetKVConfig, "namespace", NamespaceOrderTopicConfig, "key", "T"); resp.Code != int32(remoting.QueryNotFound) ||
		resp.Remark != "No config item, Namespace: ORDER_TOPIC_CONFIG Key: T" {
		t.Fatalf("missing key: code %d remark %q", resp.Code, resp.Remark)
	}
	if resp := kv(remoting.PutKVConfig, "namespace", NamespaceOrderTopicConfig, "key", "T", "value", "broker-a:4"); resp.Code != 0 {
		t.Fatalf("put: code %d remark %q", resp.Code, resp.Remark)
	}
	if resp := kv(remoting.GetKVConfig, "namespace", NamespaceOrderTopicConfig, "key", "T"); resp.ExtFields.Str("value") != "broker-a:4" {
		t.Fatalf("get: %v", resp)
	}
	if resp := kv(remoting.GetKVListByNamespace, "namespace", NamespaceOrderTopicConfig); string(resp.Body) != `{"table":{"T":"broker-a:4"}}` {
		t.Fatalf("list: %s", resp.Body)
	}

	// The route carries the order configuration, and a registering broker
	// gets the namespace back.
	resp := h.mustOK(ch, brokerA.with(topic("T", 4, 6)).request())
	if string(resp.Body) != `{"table":{"T":"broker-a:4"}}` {
		t.Fatalf("register response body %q", resp.Body)
	}
	if got := h.routeBody(ch, "T"); !strings.Contains(got, `,"orderTopicConf":"broker-a:4","queueDatas":`) {
		t.Fatalf("route without orderTopicConf: %s", got)
	}

	if resp := kv(remoting.DeleteKVConfig, "namespace", NamespaceOrderTopicConfig, "key", "T"); resp.Code != 0 {
		t.Fatalf("delete: code %d", resp.Code)
	}
	if resp := kv(remoting.GetKVListByNamespace, "namespace", NamespaceOrderTopicConfig); resp.Code != int32(remoting.QueryNotFound) {
		t.Fatalf("list after delete: code %d body %s", resp.Code, resp.Body)
	}
	if got := h.routeBody(ch, "T"); strings.Contains(got, "orderTopicConf") {
		t.Fatalf("route still ordered: %s", got)
	}
}

func TestGetNamesrvConfigAndUnsupported(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	ch := h.dial()
	resp := h.mustOK(ch, remoting.NewRequest(remoting.GetNamesrvConfig))
	if !strings.Contains(string(resp.Body), "listenPort=9876\n") {
		t.Fatalf("config body %q", resp.Body)
	}
	resp = h.call(ch, remoting.NewRequest(remoting.UpdateNamesrvConfig))
	if resp.Code != int32(remoting.RequestCodeNotSupported) {
		t.Fatalf("UPDATE_NAMESRV_CONFIG: code %d", resp.Code)
	}
}

// Extended fields of every response are strings, which the Go client
// requires; this guards the ones the name server adds.
func TestResponseHeadersAreStrings(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a, s := h.dial(), h.dial()
	h.mustOK(a, brokerA.request())
	resp := h.mustOK(s, slaveA.request())
	frame, err := remoting.AppendFrame(nil, resp)
	if err != nil {
		t.Fatal(err)
	}
	headerLen := int(binary.BigEndian.Uint32(frame[4:8]) & 0xffffff)
	header := frame[8 : 8+headerLen]
	var decoded struct {
		ExtFields map[string]string `json:"extFields"`
	}
	if err := json.Unmarshal(header, &decoded); err != nil {
		t.Fatalf("header %s: %v", header, err)
	}
	if decoded.ExtFields["masterAddr"] != brokerA.addr {
		t.Fatalf("header %s", header)
	}
}

func TestStartRejectsZeroScanInterval(t *testing.T) {
	loop := &fakeLoop{}
	if _, err := Start(host.Env{Clock: loop, Net: newFakeNet(loop)}, Config{}, "10.0.0.1:9876"); err == nil {
		t.Fatal("Start accepted a zero scan interval")
	}
}

func TestCloseStopsServing(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	a := h.dial()
	h.mustOK(a, brokerA.with(topic("T", 4, 6)).request())
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	h.loop.Run()
	if !a.Closed() {
		t.Fatal("connection open after Close")
	}
	// The table is left as it was; the scan no longer runs.
	h.loop.Advance(10 * time.Minute)
	if _, ok := h.srv.Routes().TopicRoute("T"); !ok {
		t.Fatal("Close changed the route table")
	}
}
