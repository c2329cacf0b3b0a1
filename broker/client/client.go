package client

import (
	"encoding/json"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// Client is one RocketMQ client instance on one node's loop: its
// connections to name servers and brokers, its route cache, its producer
// and its consumers. Every method must be called on the loop, and every
// callback runs on the loop, always from a later loop event than the call
// that caused it.
type Client struct {
	env        host.Env
	cfg        Config
	log        *slog.Logger
	ids        *message.UniqIDGenerator
	dispatcher *remoting.Dispatcher

	conns    map[string]*conn
	closed   bool
	apiDepth int // public calls on the stack; see deliver

	routes    map[string]*topicRoute // by topic: fetched or pinned
	fallbacks map[string]*topicRoute // by topic: derived from TBW102
	brokers   map[string]BrokerData  // address book, by broker name
	fetching  map[string][]func(*topicRoute, error)
	// reregistering holds, per broker address, who waits for the prompt
	// heartbeat sent when that broker stopped knowing our consumers.
	reregistering map[string][]func(error)
	nsNext        int
	rr            map[string]uint32 // round-robin send index, by topic
	// isolated holds, by broker name, until when sends pass the broker
	// over (see isolate).
	isolated map[string]time.Duration

	consumers       map[string]*Consumer // by group
	idsChangedHooks []func(brokerAddr, group string)
	timers          []host.Timer

	stats Stats
}

// Stats counts what a client did. Read it on the loop.
type Stats struct {
	Dials         uint64 // connections dialled
	Requests      uint64 // requests handed to a connection or its opening
	SendAttempts  uint64 // SEND_MESSAGE / SEND_BATCH_MESSAGE attempts
	SendRetries   uint64 // attempts after the first
	Heartbeats    uint64 // HEART_BEAT requests
	Pulls         uint64 // PULL_MESSAGE requests
	IDsChangedIn  uint64 // NOTIFY_CONSUMER_IDS_CHANGED received
	PulledRecords uint64 // records decoded from pull bodies
}

// New returns a client. It starts the periodic route refresh and heartbeat
// on env's loop and must itself be called on that loop (or before it runs).
func New(env host.Env, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults(env.Rand.Uint64)
	if err != nil {
		return nil, err
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		env:           env,
		cfg:           cfg,
		log:           log.With("component", "client", "clientID", cfg.ClientID),
		conns:         map[string]*conn{},
		routes:        map[string]*topicRoute{},
		fallbacks:     map[string]*topicRoute{},
		brokers:       map[string]BrokerData{},
		fetching:      map[string][]func(*topicRoute, error){},
		reregistering: map[string][]func(error){},
		rr:            map[string]uint32{},
		consumers:     map[string]*Consumer{},
	}
	c.ids = message.NewUniqIDGenerator(netip.MustParseAddr(cfg.ClientIP), pidOf(cfg.InstanceName), env.Rand)
	c.dispatcher = remoting.NewDispatcher()
	c.dispatcher.Handle(remoting.NotifyConsumerIdsChanged, c.handleIDsChanged)
	c.every(cfg.RouteRefreshInterval, c.refreshRoutes)
	c.every(cfg.HeartbeatInterval, func() { c.heartbeatAll(nil) })
	return c, nil
}

// ClientID is the id the client heartbeats with.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// Config is the client's effective configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Stats returns the client's counters.
func (c *Client) Stats() Stats { return c.stats }

// Close stops the client at once: timers stop, consumers stop without
// committing (use Consumer.Shutdown first for a clean exit), and every
// connection closes. Operations in progress complete with errors wrapping
// ErrClientClosed; a send whose request was already written completes
// Indefinite. Brokers see the connections close and drop the client from
// its groups.
func (c *Client) Close() {
	defer c.enter()()
	if c.closed {
		return
	}
	c.closed = true
	for _, t := range c.timers {
		t.Stop()
	}
	for _, cs := range c.sortedConsumers() {
		cs.stop()
	}
	for _, addr := range slices.Sorted(maps.Keys(c.conns)) {
		c.conns[addr].ch.Close()
	}
	c.log.Info("client: closed")
}

// OnConsumerIDsChanged registers f to run when a broker pushes
// NOTIFY_CONSUMER_IDS_CHANGED for a group. The client's own consumers of
// that group rebalance anyway.
func (c *Client) OnConsumerIDsChanged(f func(brokerAddr, group string)) {
	c.idsChangedHooks = append(c.idsChangedHooks, f)
}

func (c *Client) handleIDsChanged(ch *remoting.Channel, req *remoting.Command) {
	c.stats.IDsChangedIn++
	group := req.ExtFields.Str("consumerGroup")
	addr := ch.RemoteAddr()
	c.log.Debug("client: broker says the group's members changed", "broker", addr, "group", group)
	for _, h := range c.idsChangedHooks {
		h(addr, group)
	}
	if cs := c.consumers[group]; cs != nil {
		cs.requestRebalance()
	}
	// Java's client answers nothing (its processor returns null), and a
	// Java broker flags the push oneway anyway.
}

// enter marks a public call in progress; the returned function ends it.
func (c *Client) enter() func() {
	c.apiDepth++
	return func() { c.apiDepth-- }
}

// deliver runs f, a user callback, now, unless a public call is on the
// stack, in which case it runs from a fresh loop event: a callback never
// runs inside the call that caused it, so callers need not guard against
// reentrancy.
func (c *Client) deliver(f func()) {
	if c.apiDepth > 0 {
		c.later(f)
		return
	}
	f()
}

// later runs f from a fresh loop event.
func (c *Client) later(f func()) { c.env.Clock.AfterFunc(0, f) }

// every runs f every d until Close.
func (c *Client) every(d time.Duration, f func()) {
	idx := len(c.timers)
	c.timers = append(c.timers, nil)
	var tick func()
	tick = func() {
		if c.closed {
			return
		}
		f()
		c.timers[idx] = c.env.Clock.AfterFunc(d, tick)
	}
	c.timers[idx] = c.env.Clock.AfterFunc(d, tick)
}

// newUniqID returns a fresh UNIQ_KEY.
func (c *Client) newUniqID() string {
	return c.ids.Next(message.MillisSinceMonthStart(c.env.Clock.Now().UTC()))
}

func (c *Client) sortedConsumers() []*Consumer {
	out := make([]*Consumer, 0, len(c.consumers))
	for _, g := range slices.Sorted(maps.Keys(c.consumers)) {
		out = append(out, c.consumers[g])
	}
	return out
}

// Heartbeat JSON, field for field as the Go client writes it (§4.4).
type heartbeatJSON struct {
	ClientID        string             `json:"clientID"`
	ProducerDataSet []producerDataJSON `json:"producerDataSet"`
	ConsumerDataSet []consumerDataJSON `json:"consumerDataSet"`
}

type producerDataJSON struct {
	GroupName string `json:"groupName"`
}

type consumerDataJSON struct {
	GroupName           string                 `json:"groupName"`
	ConsumeType         string                 `json:"consumeType"`
	MessageModel        string                 `json:"messageModel"`
	ConsumeFromWhere    string                 `json:"consumeFromWhere"`
	SubscriptionDataSet []subscriptionDataJSON `json:"subscriptionDataSet"`
	UnitMode            bool                   `json:"unitMode"`
}

type subscriptionDataJSON struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	Topic           string   `json:"topic"`
	SubString       string   `json:"subString"`
	TagsSet         []string `json:"tagsSet"`
	CodeSet         []string `json:"codeSet"`
	SubVersion      int64    `json:"subVersion"`
	ExpressionType  string   `json:"expressionType"`
}

// hasHeartbeatData reports whether heartbeats have anything to say. Like the
// Go client, a client with neither a producer nor a consumer skips them;
// every client here has a producer group, so that is never.
func (c *Client) hasHeartbeatData() bool { return !c.closed }

// heartbeatBody is the HEART_BEAT body: the producer group and every
// consumer, groups and topics sorted.
func (c *Client) heartbeatBody() []byte {
	hb := heartbeatJSON{
		ClientID:        c.cfg.ClientID,
		ProducerDataSet: []producerDataJSON{{GroupName: c.cfg.ProducerGroup}},
		ConsumerDataSet: []consumerDataJSON{},
	}
	for _, cs := range c.sortedConsumers() {
		if cs.stopped {
			continue
		}
		hb.ConsumerDataSet = append(hb.ConsumerDataSet, cs.heartbeatData())
	}
	body, err := json.Marshal(hb)
	if err != nil {
		// Only strings, bools and integers: Marshal cannot fail.
		panic("client: heartbeat does not encode: " + err.Error())
	}
	return body
}

// Heartbeat sends HEART_BEAT to one broker: the client's producer group and
// consumers. The broker registers the consumers before it answers.
func (c *Client) Heartbeat(brokerAddr string, cb func(error)) {
	defer c.enter()()
	c.heartbeatAddr(brokerAddr, func(err error) {
		if cb != nil {
			c.deliver(func() { cb(err) })
		}
	})
}

func (c *Client) heartbeatAddr(addr string, cb func(error)) {
	req := remoting.NewRequest(remoting.HeartBeat)
	req.Body = c.heartbeatBody()
	c.stats.Heartbeats++
	c.invoke(addr, req, c.cfg.RequestTimeout, func(resp *remoting.Command, err error, _ bool) {
		if err == nil && resp.Code != int32(remoting.Success) {
			err = responseError(req, resp, addr)
		}
		if err != nil && !c.closed {
			c.log.Warn("client: heartbeat failed", "broker", addr, "err", err)
		}
		if cb != nil {
			cb(err)
		}
	})
}

// reregister heartbeats addr now, for a broker that answered as if it had
// never heard of our consumers: it restarted (and lost its in-memory
// consumer table) or expired us during a partition. Waiting for the next
// periodic heartbeat would stall every queue on that broker for up to a
// whole interval. Callers that arrive while one is in flight share it.
func (c *Client) reregister(addr string, cb func(error)) {
	if waiters, inFlight := c.reregistering[addr]; inFlight {
		c.reregistering[addr] = append(waiters, cb)
		return
	}
	c.reregistering[addr] = []func(error){cb}
	c.heartbeatAddr(addr, func(err error) {
		waiters := c.reregistering[addr]
		delete(c.reregistering, addr)
		for _, w := range waiters {
			w(err)
		}
	})
}

// heartbeatAll heartbeats every known broker and calls done (if not nil)
// once all have answered or failed.
func (c *Client) heartbeatAll(done func()) {
	addrs := c.knownAddrs()
	if len(addrs) == 0 || !c.hasHeartbeatData() {
		if done != nil {
			c.later(done)
		}
		return
	}
	left := len(addrs)
	for _, addr := range addrs {
		c.heartbeatAddr(addr, func(error) {
			left--
			if left == 0 && done != nil {
				done()
			}
		})
	}
}

// unregister sends UNREGISTER_CLIENT for a consumer group to every known
// broker, so that the group rebalances at once rather than after the
// broker's channel expiry. The Go client never sends it (it closes its
// connections instead); Java's does on shutdown.
func (c *Client) unregister(group string, done func()) {
	addrs := c.knownAddrs()
	if len(addrs) == 0 {
		c.later(done)
		return
	}
	left := len(addrs)
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.UnregisterClient,
			remoting.StrField("clientID", c.cfg.ClientID),
			remoting.StrField("consumerGroup", group),
		)
		c.invoke(addr, req, c.cfg.RequestTimeout, func(resp *remoting.Command, err error, _ bool) {
			if err != nil && !c.closed {
				c.log.Debug("client: unregister failed", "broker", addr, "group", group, "err", err)
			}
			left--
			if left == 0 {
				done()
			}
		})
	}
}

// tagsOf splits a TAG expression the way the broker does, and reports
// whether it subscribes to everything.
func tagsOf(expr string) ([]string, bool) { return message.SplitTags(expr) }

// codeSetOf renders the tags' hash codes as the Go client does (strings),
// with Java's hash, which the broker uses (the Go client's own hash differs
// for non-ASCII tags; the broker ignores codeSet either way).
func codeSetOf(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, strconv.FormatInt(message.TagsHashCode(t), 10))
	}
	return out
}
