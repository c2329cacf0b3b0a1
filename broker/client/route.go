package client

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// Permission bits of a topic's queue data (RocketMQ's PermName).
const (
	PermPriority = 8
	PermRead     = 4
	PermWrite    = 2
	PermInherit  = 1
)

// MasterID is the broker id of a broker group's master in BrokerAddrs.
const MasterID int64 = 0

// maxQueuesPerBroker bounds the queue counts a route may announce. Brokers
// allow 1024 per topic; a larger number is a corrupt or hostile answer that
// would otherwise make the client allocate queue lists of any size.
const maxQueuesPerBroker = 1 << 16

// Route is a topic's TopicRouteData as a name server returns it (§3.1 of the
// protocol notes): which broker groups serve the topic, with how many queues
// and what permission, and the addresses of each group's brokers.
type Route struct {
	// OrderTopicConf is "brokerA:4;brokerB:4" when the name server keeps
	// an order configuration for the topic. It is informational here.
	OrderTopicConf string
	// QueueDatas are sorted by BrokerName.
	QueueDatas []QueueData
	// BrokerDatas are sorted by BrokerName.
	BrokerDatas []BrokerData
}

// QueueData is one broker group's share of a topic.
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
	TopicSysFlag   int    `json:"topicSysFlag"`
}

// BrokerData is one broker group: its brokers by id (MasterID is the
// master).
type BrokerData struct {
	Cluster     string
	BrokerName  string
	BrokerAddrs map[int64]string
}

// MasterAddr is the master's address, or "".
func (b BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

// IDs returns the broker ids, sorted.
func (b BrokerData) IDs() []int64 { return slices.Sorted(maps.Keys(b.BrokerAddrs)) }

// StaticRoute is the route of a topic served by one broker at addr with
// queues read and write queues, readable and writable: what SetRoute needs
// to bypass the name servers in tests and benchmarks.
func StaticRoute(brokerName, addr string, queues int) Route {
	return Route{
		QueueDatas:  []QueueData{{BrokerName: brokerName, ReadQueueNums: queues, WriteQueueNums: queues, Perm: PermRead | PermWrite}},
		BrokerDatas: []BrokerData{{BrokerName: brokerName, BrokerAddrs: map[int64]string{MasterID: addr}}},
	}
}

// clone returns a deep copy: cached routes are never shared with callers.
func (r Route) clone() Route {
	out := Route{OrderTopicConf: r.OrderTopicConf, QueueDatas: slices.Clone(r.QueueDatas)}
	for _, b := range r.BrokerDatas {
		b.BrokerAddrs = maps.Clone(b.BrokerAddrs)
		out.BrokerDatas = append(out.BrokerDatas, b)
	}
	return out
}

// Merge returns a route serving the topic on the brokers of r and of o
// (o's entry wins for a broker name both have).
func (r Route) Merge(o Route) Route {
	qd := map[string]QueueData{}
	bd := map[string]BrokerData{}
	for _, x := range [...]Route{r, o} {
		for _, q := range x.QueueDatas {
			qd[q.BrokerName] = q
		}
		for _, b := range x.BrokerDatas {
			bd[b.BrokerName] = b
		}
	}
	out := Route{OrderTopicConf: cmp.Or(o.OrderTopicConf, r.OrderTopicConf)}
	for _, name := range slices.Sorted(maps.Keys(qd)) {
		out.QueueDatas = append(out.QueueDatas, qd[name])
	}
	for _, name := range slices.Sorted(maps.Keys(bd)) {
		out.BrokerDatas = append(out.BrokerDatas, bd[name])
	}
	return out
}

// broker returns the BrokerData of name.
func (r Route) broker(name string) (BrokerData, bool) {
	for _, b := range r.BrokerDatas {
		if b.BrokerName == name {
			return b, true
		}
	}
	return BrokerData{}, false
}

// PublishQueues lists the queues a producer may send to, sorted: the write
// queues of every writable broker group that has a master.
func (r Route) PublishQueues(topic string) []MessageQueue {
	var out []MessageQueue
	for _, q := range r.QueueDatas {
		if q.Perm&PermWrite == 0 {
			continue
		}
		if b, ok := r.broker(q.BrokerName); !ok || b.MasterAddr() == "" {
			continue
		}
		for id := range q.WriteQueueNums {
			out = append(out, MessageQueue{Topic: topic, BrokerName: q.BrokerName, QueueID: id})
		}
	}
	slices.SortFunc(out, CompareQueues)
	return out
}

// SubscribeQueues lists the queues a consumer reads, sorted: the read
// queues of every readable broker group.
func (r Route) SubscribeQueues(topic string) []MessageQueue {
	var out []MessageQueue
	for _, q := range r.QueueDatas {
		if q.Perm&PermRead == 0 {
			continue
		}
		for id := range q.ReadQueueNums {
			out = append(out, MessageQueue{Topic: topic, BrokerName: q.BrokerName, QueueID: id})
		}
	}
	slices.SortFunc(out, CompareQueues)
	return out
}

// capQueues returns r with every queue count capped at n: the route a
// producer derives from TBW102's for a topic that does not exist yet.
func (r Route) capQueues(n int) Route {
	out := r
	out.QueueDatas = slices.Clone(r.QueueDatas)
	for i := range out.QueueDatas {
		q := &out.QueueDatas[i]
		q.ReadQueueNums = min(q.ReadQueueNums, n)
		q.WriteQueueNums = min(q.WriteQueueNums, n)
	}
	return out
}

// routeJSON is TopicRouteData's JSON shape.
type routeJSON struct {
	OrderTopicConf string       `json:"orderTopicConf"`
	QueueDatas     *[]QueueData `json:"queueDatas"`
	BrokerDatas    []struct {
		Cluster     string            `json:"cluster"`
		BrokerName  string            `json:"brokerName"`
		BrokerAddrs map[string]string `json:"brokerAddrs"`
	} `json:"brokerDatas"`
}

// ParseRoute decodes a GET_ROUTEINFO_BY_TOPIC body. It accepts standard JSON
// and the form a Java name server writes for old clients, where brokerAddrs
// has bare integer keys ({0:"10.0.0.1:10911"}). queueDatas must be present,
// as the Go client requires; queue counts must be in 0..65536 and broker ids
// integers.
func ParseRoute(body []byte) (Route, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Route{}, fmt.Errorf("%w: empty route body", ErrBadResponse)
	}
	var raw routeJSON
	if err := json.Unmarshal(body, &raw); err != nil {
		fixed, changed := quoteBareKeys(body)
		if !changed {
			return Route{}, fmt.Errorf("%w: route: %w", ErrBadResponse, err)
		}
		raw = routeJSON{}
		if err := json.Unmarshal(fixed, &raw); err != nil {
			return Route{}, fmt.Errorf("%w: route: %w", ErrBadResponse, err)
		}
	}
	if raw.QueueDatas == nil {
		return Route{}, fmt.Errorf("%w: route has no queueDatas", ErrBadResponse)
	}
	r := Route{OrderTopicConf: raw.OrderTopicConf, QueueDatas: *raw.QueueDatas}
	for _, q := range r.QueueDatas {
		if q.ReadQueueNums < 0 || q.WriteQueueNums < 0 || q.ReadQueueNums > maxQueuesPerBroker || q.WriteQueueNums > maxQueuesPerBroker {
			return Route{}, fmt.Errorf("%w: route gives broker %q read/write queues %d/%d", ErrBadResponse, q.BrokerName, q.ReadQueueNums, q.WriteQueueNums)
		}
	}
	for _, b := range raw.BrokerDatas {
		bd := BrokerData{Cluster: b.Cluster, BrokerName: b.BrokerName, BrokerAddrs: make(map[int64]string, len(b.BrokerAddrs))}
		for k, addr := range b.BrokerAddrs {
			id, err := strconv.ParseInt(strings.TrimSpace(k), 10, 64)
			if err != nil {
				return Route{}, fmt.Errorf("%w: route gives broker %q an id %q", ErrBadResponse, b.BrokerName, k)
			}
			bd.BrokerAddrs[id] = strings.TrimSpace(addr)
		}
		r.BrokerDatas = append(r.BrokerDatas, bd)
	}
	slices.SortStableFunc(r.QueueDatas, func(a, b QueueData) int { return strings.Compare(a.BrokerName, b.BrokerName) })
	slices.SortStableFunc(r.BrokerDatas, func(a, b BrokerData) int { return strings.Compare(a.BrokerName, b.BrokerName) })
	return r, nil
}

// quoteBareKeys rewrites object keys that are bare integers ({0:"a"}) as
// strings ({"0":"a"}), outside string literals. It reports whether it
// changed anything.
func quoteBareKeys(b []byte) ([]byte, bool) {
	out := make([]byte, 0, len(b)+16)
	changed := false
	inString, escaped := false, false
	expectKey := false // just after '{' or ',' (whitespace aside)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString, expectKey = true, false
		case c == '{' || c == ',':
			expectKey = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case expectKey && (c == '-' || c >= '0' && c <= '9'):
			j := i + 1
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			k := j
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
				k++
			}
			if k < len(b) && b[k] == ':' {
				out = append(out, '"')
				out = append(out, b[i:j]...)
				out = append(out, '"')
				changed = true
				i = j - 1
				expectKey = false
				continue
			}
			expectKey = false
		default:
			expectKey = false
		}
		out = append(out, c)
	}
	return out, changed
}

// topicRoute is a cached route with its queue lists.
type topicRoute struct {
	topic     string
	route     Route
	publish   []MessageQueue
	subscribe []MessageQueue
	// fromDefault: built from TBW102's route for a topic the name servers
	// did not know; sends name the topic, and the broker creates it.
	fromDefault bool
	pinned      bool
}

func newTopicRoute(topic string, r Route) *topicRoute {
	return &topicRoute{topic: topic, route: r, publish: r.PublishQueues(topic), subscribe: r.SubscribeQueues(topic)}
}

// SetRoute pins topic's route: the client uses r for the topic and never
// asks a name server about it. Tests and benchmarks use it (with
// StaticRoute) to reach brokers directly.
func (c *Client) SetRoute(topic string, r Route) {
	defer c.enter()()
	tr := newTopicRoute(topic, r.clone())
	tr.pinned = true
	c.installRoute(tr)
}

// Route calls cb with topic's route: the cached one, else one fetched from
// the name servers. Pinned routes are returned as set.
func (c *Client) Route(topic string, cb func(Route, error)) {
	defer c.enter()()
	c.subscribeRoute(topic, func(tr *topicRoute, err error) {
		if err != nil {
			c.deliver(func() { cb(Route{}, err) })
			return
		}
		r := tr.route.clone()
		c.deliver(func() { cb(r, nil) })
	})
}

// PublishQueues calls cb with the queues a send to topic would choose from,
// sorted; for a topic no name server knows, those derived from TBW102.
func (c *Client) PublishQueues(topic string, cb func([]MessageQueue, error)) {
	defer c.enter()()
	c.publishRoute(topic, func(tr *topicRoute, err error) {
		if err != nil {
			c.deliver(func() { cb(nil, err) })
			return
		}
		c.deliver(func() { cb(slices.Clone(tr.publish), nil) })
	})
}

// SubscribeQueues calls cb with topic's readable queues, sorted.
func (c *Client) SubscribeQueues(topic string, cb func([]MessageQueue, error)) {
	defer c.enter()()
	c.subscribeRoute(topic, func(tr *topicRoute, err error) {
		if err != nil {
			c.deliver(func() { cb(nil, err) })
			return
		}
		c.deliver(func() { cb(slices.Clone(tr.subscribe), nil) })
	})
}

// subscribeRoute finds topic's own route, cached or fetched. cb may run
// synchronously when the route is cached.
func (c *Client) subscribeRoute(topic string, cb func(*topicRoute, error)) {
	if tr := c.routes[topic]; tr != nil {
		cb(tr, nil)
		return
	}
	c.fetchRoute(topic, cb)
}

// publishRoute finds the route a send to topic uses: the topic's own, or,
// when the name servers answer that the topic does not exist, TBW102's with
// queue counts capped at DefaultTopicQueueNums (the Go producer's fallback:
// the send names the new topic and the broker creates it from TBW102). cb
// may run synchronously when the route is cached.
func (c *Client) publishRoute(topic string, cb func(*topicRoute, error)) {
	if tr := c.routes[topic]; tr != nil {
		cb(tr, nil)
		return
	}
	if tr := c.fallbacks[topic]; tr != nil {
		cb(tr, nil)
		return
	}
	c.fetchRoute(topic, func(tr *topicRoute, err error) {
		if err == nil || !errors.Is(err, ErrTopicNotExist) || topic == message.AutoCreateTopicKey {
			cb(tr, err)
			return
		}
		c.fetchRoute(message.AutoCreateTopicKey, func(def *topicRoute, derr error) {
			if derr != nil {
				cb(nil, fmt.Errorf("%w: topic %s: %w; and its template %s: %w", ErrNoRoute, topic, err, message.AutoCreateTopicKey, derr))
				return
			}
			if tr := c.routes[topic]; tr != nil {
				cb(tr, nil) // learned in the meantime
				return
			}
			fb := newTopicRoute(topic, def.route.capQueues(c.cfg.DefaultTopicQueueNums))
			fb.fromDefault = true
			c.fallbacks[topic] = fb
			c.log.Info("client: topic unknown to the name servers; sending by TBW102's route so the broker creates it", "topic", topic, "queues", len(fb.publish))
			cb(fb, nil)
		})
	})
}

// fetchRoute asks the name servers for topic's route and caches it.
// Concurrent fetches of one topic share one query.
func (c *Client) fetchRoute(topic string, cb func(*topicRoute, error)) {
	if waiters, busy := c.fetching[topic]; busy {
		c.fetching[topic] = append(waiters, cb)
		return
	}
	c.fetching[topic] = []func(*topicRoute, error){cb}
	c.queryRoute(topic, func(r Route, err error) {
		waiters := c.fetching[topic]
		delete(c.fetching, topic)
		var tr *topicRoute
		if err == nil {
			if c.closed {
				err = ErrClientClosed
			} else if pinned := c.routes[topic]; pinned != nil && pinned.pinned {
				tr = pinned // SetRoute won the race: it always wins
			} else {
				tr = newTopicRoute(topic, r)
				c.installRoute(tr)
			}
		}
		for _, w := range waiters {
			w(tr, err)
		}
	})
}

// queryRoute sends GET_ROUTEINFO_BY_TOPIC to the name servers, one at a time
// from the next in round-robin order, moving on after a failure. An answer
// of TOPIC_NOT_EXIST ends the search, as in the Go client. cb runs from a
// later loop event.
func (c *Client) queryRoute(topic string, cb func(Route, error)) {
	n := len(c.cfg.NamesrvAddrs)
	if n == 0 {
		c.later(func() {
			cb(Route{}, fmt.Errorf("%w: %s: no name server is configured and no route was set", ErrNoRoute, topic))
		})
		return
	}
	start := c.nsNext
	c.nsNext = (c.nsNext + 1) % n
	var try func(i int, lastErr error)
	try = func(i int, lastErr error) {
		if i == n || c.closed {
			cb(Route{}, fmt.Errorf("%w: %s: %w", ErrNoRoute, topic, c.wrapClosed(lastErr)))
			return
		}
		addr := c.cfg.NamesrvAddrs[(start+i)%n]
		req := remoting.NewRequest(remoting.GetRouteinfoByTopic, remoting.StrField("topic", topic))
		c.invoke(addr, req, c.cfg.RouteTimeout, func(resp *remoting.Command, err error, _ bool) {
			if err != nil {
				try(i+1, err)
				return
			}
			switch remoting.ResponseCode(resp.Code) {
			case remoting.Success:
				r, perr := ParseRoute(resp.Body)
				if perr != nil {
					try(i+1, fmt.Errorf("name server %s: %w", addr, perr))
					return
				}
				cb(r, nil)
			case remoting.TopicNotExist:
				cb(Route{}, responseError(req, resp, addr))
			default:
				try(i+1, responseError(req, resp, addr))
			}
		})
	}
	try(0, nil)
}

// installRoute caches tr (replacing any TBW102 fallback for its topic),
// refreshes the broker address book, heartbeats brokers it did not know, and
// tells consumers of the topic when its readable queues changed.
func (c *Client) installRoute(tr *topicRoute) {
	old := c.routes[tr.topic]
	c.routes[tr.topic] = tr
	delete(c.fallbacks, tr.topic)
	before := c.knownAddrs()
	c.rebuildBrokers()
	if c.hasHeartbeatData() {
		for _, addr := range c.knownAddrs() {
			if !slices.Contains(before, addr) {
				c.heartbeatAddr(addr, nil)
			}
		}
	}
	if old == nil || !slices.Equal(old.subscribe, tr.subscribe) {
		for _, cs := range c.sortedConsumers() {
			if cs.subscribes(tr.topic) {
				cs.requestRebalance()
			}
		}
	}
}

// rebuildBrokers recomputes the broker address book from every cached
// route, in sorted topic order with pinned routes last, so that the result
// does not depend on map order.
func (c *Client) rebuildBrokers() {
	brokers := map[string]BrokerData{}
	topics := slices.Sorted(maps.Keys(c.routes))
	for _, pinnedPass := range [...]bool{false, true} {
		for _, t := range topics {
			tr := c.routes[t]
			if tr.pinned != pinnedPass {
				continue
			}
			for _, b := range tr.route.BrokerDatas {
				brokers[b.BrokerName] = b
			}
		}
	}
	c.brokers = brokers
}

// knownAddrs lists every broker address in the address book: masters, and
// slaves too when consumers run (they may be told to pull from one), sorted
// by broker name and id.
func (c *Client) knownAddrs() []string {
	var out []string
	withSlaves := len(c.consumers) > 0
	for _, name := range slices.Sorted(maps.Keys(c.brokers)) {
		b := c.brokers[name]
		for _, id := range b.IDs() {
			if (id == MasterID || withSlaves) && b.BrokerAddrs[id] != "" && !slices.Contains(out, b.BrokerAddrs[id]) {
				out = append(out, b.BrokerAddrs[id])
			}
		}
	}
	return out
}

// masterAddr is the master address of a broker group, or "".
func (c *Client) masterAddr(brokerName string) string {
	return c.brokers[brokerName].MasterAddr()
}

// refreshRoutes fetches every cached, unpinned route again (the TBW102
// fallbacks too, which become real routes once the broker has registered
// the created topic), and those of subscribed topics that have none yet. A failed fetch keeps the cached route: a stale route
// with a dead broker in it still serves, and sends avoid the broker that
// failed them.
func (c *Client) refreshRoutes() {
	topics := map[string]bool{}
	for t, tr := range c.routes {
		if !tr.pinned {
			topics[t] = true
		}
	}
	for t := range c.fallbacks {
		topics[t] = true
	}
	// Subscribed topics without a route yet too, as the Go client does:
	// their route appearing is what lets the consumer rebalance them.
	for _, cs := range c.sortedConsumers() {
		for _, s := range cs.subs {
			if tr := c.routes[s.topic]; tr == nil && !cs.stopped {
				topics[s.topic] = true
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(topics)) {
		if _, busy := c.fetching[t]; busy {
			continue
		}
		c.fetchRoute(t, func(_ *topicRoute, err error) {
			if err != nil && !c.closed {
				c.log.Debug("client: route refresh failed; keeping the cached route", "topic", t, "err", err)
			}
		})
	}
}
