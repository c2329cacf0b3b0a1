package broker

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
	"github.com/thrustmq/thrust/broker/store"
)

// Options are what a host adds to a broker beyond broker.conf.
type Options struct {
	// RuntimeInfo adds entries to GET_BROKER_RUNTIME_INFO: the real host's
	// mmap and sendfile counters, say, which broker code cannot read.
	RuntimeInfo func() map[string]string
}

// Broker is one RocketMQ broker on one node's loop: the remoting server,
// the store, and the processors between them.
type Broker struct {
	env  host.Env
	log  *slog.Logger
	cfg  Config
	opts Options

	server  *remoting.Server
	store   *store.Store
	topics  *topicManager
	groups  *groupManager
	offsets *offsetManager
	clients *clientManager
	holds   *holdService
	sched   *scheduleService
	locks   rebalanceLocks
	tx      *transactionService

	namesrv        map[string]*remoting.Channel
	registerQueued bool
	timers         []host.Timer
	started        time.Duration
	closed         bool
	stats          brokerStats
}

type brokerStats struct {
	sendRequests uint64
	pullRequests uint64
	pullHeld     uint64
}

// Start opens the store, recovers it, listens and registers with the name
// servers. It runs on the node's loop: no request is served before it
// returns.
func Start(env host.Env, cfg Config, opts Options) (*Broker, error) {
	b := &Broker{env: env, log: env.Log.With("component", "broker"), cfg: cfg, opts: opts, namesrv: map[string]*remoting.Channel{}}
	b.started = env.Clock.Mono()
	if err := b.cfg.finish(); err != nil {
		return nil, err
	}
	b.locks.maxLiveTime = b.cfg.RebalanceLockMaxLiveTime
	d := remoting.NewDispatcher()
	b.registerProcessors(d)
	srv, err := remoting.NewServer(env.Net, env.Clock, b.log, cfg.ListenAddr(), d, remoting.Options{UseSendFile: !cfg.TransferMsgByHeap})
	if err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", cfg.ListenAddr(), err)
	}
	b.server = srv
	if b.cfg.ListenPort == 0 {
		// Port 0 asked the host for one; records and routes carry the real
		// port.
		ap, err := netip.ParseAddrPort(srv.Addr())
		if err != nil {
			srv.Close()
			return nil, fmt.Errorf("broker: listener address %q: %w", srv.Addr(), err)
		}
		b.cfg.ListenPort = int(ap.Port())
		if err := b.cfg.finish(); err != nil {
			srv.Close()
			return nil, err
		}
	}
	b.sched, err = newScheduleService(b)
	if err != nil {
		srv.Close()
		return nil, err
	}
	b.cfg.Store.TagsCode = b.sched.tagsCode
	st, err := store.Open(env, b.cfg.Store)
	if err != nil {
		srv.Close()
		return nil, err
	}
	b.store = st
	b.topics = newTopicManager(b)
	b.groups = newGroupManager(b)
	b.offsets = newOffsetManager(b)
	b.clients = newClientManager(b)
	b.holds = newHoldService(b)
	for _, load := range []func() error{b.topics.load, b.groups.load, b.offsets.load, b.sched.load} {
		if err := load(); err != nil {
			b.abort()
			return nil, err
		}
	}
	b.topics.ensureSystemTopics()
	if err := b.topics.file.persistSync(); err != nil {
		b.abort()
		return nil, fmt.Errorf("broker: persist topics: %w", err)
	}
	b.tx = newTransactionService(b)
	if err := b.tx.recover(st.Recovery()); err != nil {
		b.abort()
		return nil, fmt.Errorf("broker: transactional messages: %w", err)
	}
	st.SetMessageArrivingListener(b.holds.arrived)
	srv.OnChannelClose(b.channelClosed)

	b.every(b.cfg.RegisterNameServerPeriod, b.registerAll)
	b.every(b.cfg.FlushConsumerOffsetInterval, b.offsets.persistIfDirty)
	b.every(10*time.Second, func() { b.clients.expire(b.server.Channels()) })
	b.every(b.cfg.TransactionCheckInterval, b.tx.check)
	b.sched.start()
	b.registerSoon()
	b.log.Info("broker: started", "name", b.cfg.BrokerName, "cluster", b.cfg.BrokerClusterName,
		"addr", b.cfg.BrokerAddr(), "listen", srv.Addr(), "flushDiskType", b.cfg.Store.FlushDiskType,
		"writePath", b.cfg.Store.WritePath, "transferMsgByHeap", b.cfg.TransferMsgByHeap)
	return b, nil
}

func (b *Broker) abort() {
	b.server.Close()
	b.store.Close()
}

// every runs f every d on the loop until Shutdown.
func (b *Broker) every(d time.Duration, f func()) {
	idx := len(b.timers)
	b.timers = append(b.timers, nil)
	var tick func()
	tick = func() {
		if b.closed {
			return
		}
		f()
		b.timers[idx] = b.env.Clock.AfterFunc(d, tick)
	}
	b.timers[idx] = b.env.Clock.AfterFunc(d, tick)
}

// Addr is the address clients dial (brokerIP1:listenPort).
func (b *Broker) Addr() string { return b.cfg.BrokerAddr() }

// Config is the broker's effective configuration.
func (b *Broker) Config() Config { return b.cfg }

// Store is the broker's message store.
func (b *Broker) Store() *store.Store { return b.store }

// Shutdown unregisters from the name servers, stops serving, and closes the
// store after flushing it and the configuration files.
func (b *Broker) Shutdown() error {
	if b.closed {
		return nil
	}
	b.closed = true
	for _, t := range b.timers {
		if t != nil {
			t.Stop()
		}
	}
	b.sched.stop()
	b.unregisterAll()
	b.holds.stop()
	b.server.Close()
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	keep(b.offsets.file.persistSync())
	keep(b.sched.file.persistSync())
	keep(b.topics.file.persistSync())
	keep(b.groups.file.persistSync())
	keep(b.store.Close())
	b.log.Info("broker: shut down", "err", first)
	return first
}

// channelClosed forgets a client whose connection closed: RocketMQ's Go
// client never sends UNREGISTER_CLIENT, so this is how the broker learns
// that a consumer left and its group must rebalance.
func (b *Broker) channelClosed(ch *remoting.Channel, err error) {
	b.clients.unregister(ch, "", "", true)
	b.holds.dropChannel(ch)
}

func (b *Broker) delayLevelCount() int { return len(b.sched.levels) }

// registerSoon re-registers with every name server after the current loop
// step, so that several topic changes in one step cost one registration.
func (b *Broker) registerSoon() {
	if b.registerQueued || b.closed {
		return
	}
	b.registerQueued = true
	b.env.Clock.AfterFunc(0, func() {
		b.registerQueued = false
		if !b.closed {
			b.registerAll()
		}
	})
}

// registerBody is REGISTER_BROKER's body.
func (b *Broker) registerBody() ([]byte, error) {
	return json.Marshal(map[string]any{
		"topicConfigSerializeWrapper": b.topics.wrapper(),
		"filterServerList":            []string{},
	})
}

func (b *Broker) namesrvChannel(addr string) *remoting.Channel {
	if ch := b.namesrv[addr]; ch != nil && !ch.Closed() {
		return ch
	}
	ch := remoting.Dial(b.env.Net, b.env.Clock, b.log, addr, remoting.NewDispatcher(), remoting.Options{})
	b.namesrv[addr] = ch
	return ch
}

// registerAll sends REGISTER_BROKER to every name server. The name server
// drops a broker it has not heard from for 120 s, so this also serves as
// the broker's heartbeat.
func (b *Broker) registerAll() {
	if len(b.cfg.NamesrvAddr) == 0 {
		return
	}
	body, err := b.registerBody()
	if err != nil {
		b.log.Error("broker: encode registration", "err", err)
		return
	}
	crc := int64(crc32.ChecksumIEEE(body) & 0x7fffffff)
	for _, addr := range b.cfg.NamesrvAddr {
		req := remoting.NewRequest(remoting.RegisterBroker,
			remoting.StrField("brokerAddr", b.cfg.BrokerAddr()),
			remoting.IntField("brokerId", b.cfg.BrokerID),
			remoting.StrField("brokerName", b.cfg.BrokerName),
			remoting.StrField("clusterName", b.cfg.BrokerClusterName),
			remoting.BoolField("compressed", false),
			remoting.StrField("haServerAddr", haAddr(b.cfg)),
			remoting.IntField("heartbeatTimeoutMillis", 120000),
			remoting.IntField("bodyCrc32", crc),
		)
		req.Body = body
		addr := addr
		b.namesrvChannel(addr).Invoke(req, 6*time.Second, func(resp *remoting.Command, err error) {
			switch {
			case err != nil:
				b.log.Warn("broker: register with name server failed", "namesrv", addr, "err", err)
			case resp.Code != int32(remoting.Success):
				b.log.Warn("broker: name server refused registration", "namesrv", addr, "code", resp.Code, "remark", resp.Remark)
			}
		})
	}
}

func haAddr(cfg Config) string {
	return netip.AddrPortFrom(cfg.Store.StoreHost.Addr(), uint16(cfg.ListenPort+1)).String()
}

// unregisterAll tells the name servers the broker is leaving, best effort.
func (b *Broker) unregisterAll() {
	for _, addr := range b.cfg.NamesrvAddr {
		ch := b.namesrv[addr]
		if ch == nil || ch.Closed() {
			continue
		}
		req := remoting.NewRequest(remoting.UnregisterBroker,
			remoting.StrField("brokerAddr", b.cfg.BrokerAddr()),
			remoting.IntField("brokerId", b.cfg.BrokerID),
			remoting.StrField("brokerName", b.cfg.BrokerName),
			remoting.StrField("clusterName", b.cfg.BrokerClusterName),
		)
		ch.InvokeOneway(req)
		ch.Close()
	}
}

// runtimeInfo is GET_BROKER_RUNTIME_INFO's table.
func (b *Broker) runtimeInfo() map[string]string {
	ss := b.store.Stats()
	rs := b.server.Stats()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	t := map[string]string{
		"brokerVersionDesc":     "Thrust",
		"msgPutTotalTodayNow":   u(ss.PutMessages),
		"msgGetTotalTodayNow":   u(ss.GetMessages),
		"commitLogMinOffset":    strconv.FormatInt(b.store.CommitLogMinOffset(), 10),
		"commitLogMaxOffset":    strconv.FormatInt(b.store.CommitLogMaxOffset(), 10),
		"flushDiskType":         b.cfg.Store.FlushDiskType.String(),
		"commitLogWritePath":    b.cfg.Store.WritePath.String(),
		"transferMsgByHeap":     strconv.FormatBool(b.cfg.TransferMsgByHeap),
		"putMessageBytes":       u(ss.PutBytes),
		"putRefused":            u(ss.PutRefused),
		"commitLogSyncs":        u(ss.CommitLogSyncs),
		"groupCommitted":        u(ss.GroupCommitted),
		"flushTimeouts":         u(ss.FlushTimeouts),
		"segmentsCreated":       u(ss.SegmentsCreated),
		"segmentsPrepared":      u(ss.SegmentsPrepared),
		"getMessageBytes":       u(ss.GetBytes),
		"pullBodySendFileBytes": u(rs.SendFileBytes),
		"pullBodyCopiedBytes":   u(rs.CopiedBodyBytes),
		"sendRequests":          u(b.stats.sendRequests),
		"pullRequests":          u(b.stats.pullRequests),
		"pullHeld":              u(b.stats.pullHeld),
		"bootTimestamp":         strconv.FormatInt(b.env.Clock.Now().Add(-(b.env.Clock.Mono() - b.started)).UnixMilli(), 10),
	}
	if u, ok := b.store.DiskUsage(); ok {
		t["commitLogDiskRatio"] = strconv.FormatFloat(u.UsedRatio(), 'f', 4, 64)
	}
	if f := b.store.Fenced(); f != nil {
		t["storeFenced"] = f.Error()
	}
	if b.opts.RuntimeInfo != nil {
		for k, v := range b.opts.RuntimeInfo() {
			t[k] = v
		}
	}
	return t
}

// bornHost is the producer's address as this connection sees it.
func bornHost(ch *remoting.Channel) netip.AddrPort {
	ap, err := netip.ParseAddrPort(ch.RemoteAddr())
	if err != nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

var _ = message.MaxTopicBytes
