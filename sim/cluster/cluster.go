package cluster

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker"
	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/namesrv"
	"github.com/thrustmq/thrust/sim"
)

// Ports the nodes listen on, RocketMQ's defaults.
const (
	NamesrvPort = 9876
	BrokerPort  = 10911
)

// Options describe a cluster.
type Options struct {
	// Brokers is the number of broker nodes; each is the master of its own
	// broker name (broker-0, broker-1, ...).
	Brokers int
	// Clients is the number of client hosts.
	Clients int
	// Broker adjusts broker i's configuration after the defaults below.
	Broker func(i int, cfg *broker.Config)
	// Disk configures every broker host's disk; nil means sim's default.
	Disk *sim.DiskOptions
	// MaxClockSkew bounds each host's drawn wall-clock skew.
	MaxClockSkew time.Duration
}

// Cluster is a name server, brokers and client hosts in one world. It starts
// and crashes nodes; workloads and fault schedules drive it.
type Cluster struct {
	W       *sim.World
	Namesrv *NamesrvNode
	Brokers []*BrokerNode
	Clients []*sim.Host

	// OnBrokerStarted runs, on the broker's loop, after each successful
	// start (the first and every restart): the harness reads the recovered
	// store there.
	OnBrokerStarted func(b *BrokerNode)
	// Errors collects every failed start, in order: a broker that cannot
	// open its store (an injected EIO during recovery, say) refuses to run.
	// Whether that is a finding depends on whether a later start succeeds.
	Errors []error
}

// NamesrvNode is the name server's host and current incarnation.
type NamesrvNode struct {
	Host   *sim.Host
	Env    host.Env
	Server *namesrv.Server // nil while down
}

// BrokerNode is a broker's host, configuration and current incarnation.
type BrokerNode struct {
	Index  int
	Name   string
	Host   *sim.Host
	Cfg    broker.Config
	Env    host.Env
	Broker *broker.Broker // nil while down
	Starts int
	// StartErr is why the last start failed (nil if it did not): a broker
	// that cannot open its store refuses to run, as it should, and a
	// supervisor decides what next.
	StartErr error
}

// Addr is the address clients dial.
func (b *BrokerNode) Addr() string { return b.Host.Addr() + ":" + strconv.Itoa(BrokerPort) }

// New adds the cluster's hosts to w. Nothing runs until Start.
func New(w *sim.World, opts Options) *Cluster {
	c := &Cluster{W: w}
	hostOpts := sim.HostOptions{MaxClockSkew: opts.MaxClockSkew}
	c.Namesrv = &NamesrvNode{Host: w.NewHost("namesrv", hostOpts)}
	for i := range max(opts.Brokers, 1) {
		ho := hostOpts
		ho.Disk = opts.Disk
		name := fmt.Sprintf("broker-%d", i)
		h := w.NewHost(name, ho)
		cfg := broker.DefaultConfig("/store")
		cfg.BrokerName = name
		cfg.BrokerIP1 = h.Addr()
		cfg.ListenPort = BrokerPort
		cfg.NamesrvAddr = []string{c.NamesrvAddr()}
		// Small segments keep the simulator fast (a sync compares mapped
		// pages) and make segment rolls and retention happen in short runs.
		cfg.Store.MappedFileSizeCommitLog = 256 << 10
		cfg.Store.MappedFileSizeConsumeQueue = 20 * 1024
		cfg.Store.MaxMessageSize = 16 << 10
		cfg.RegisterNameServerPeriod = 10 * time.Second
		if opts.Broker != nil {
			opts.Broker(i, &cfg)
		}
		c.Brokers = append(c.Brokers, &BrokerNode{Index: i, Name: name, Host: h, Cfg: cfg})
	}
	for i := range opts.Clients {
		c.Clients = append(c.Clients, w.NewHost(fmt.Sprintf("client-%d", i), hostOpts))
	}
	return c
}

// NamesrvAddr is the name server's address.
func (c *Cluster) NamesrvAddr() string {
	return c.Namesrv.Host.Addr() + ":" + strconv.Itoa(NamesrvPort)
}

// Start boots the name server and every broker.
func (c *Cluster) Start() {
	c.StartNamesrv()
	for _, b := range c.Brokers {
		c.StartBroker(b)
	}
}

// StartNamesrv boots a new name-server incarnation.
func (c *Cluster) StartNamesrv() {
	n := c.Namesrv
	n.Env = n.Host.Start()
	env := n.Env
	env.Clock.AfterFunc(0, func() {
		s, err := namesrv.Start(env, namesrv.DefaultConfig(), netip.AddrPortFrom(netip.MustParseAddr(n.Host.Addr()), NamesrvPort).String())
		if err != nil {
			c.Errors = append(c.Errors, fmt.Errorf("namesrv: start: %w", err))
			return
		}
		n.Server = s
	})
}

// StartBroker boots a new incarnation of b on the disk its last one left:
// the broker recovers its store as a restarted process would.
func (c *Cluster) StartBroker(b *BrokerNode) {
	b.Env = b.Host.Start()
	b.Starts++
	env := b.Env
	env.Clock.AfterFunc(0, func() {
		br, err := broker.Start(env, b.Cfg, broker.Options{})
		b.StartErr = err
		if err != nil {
			c.Errors = append(c.Errors, fmt.Errorf("%s: start %d: %w", b.Name, b.Starts, err))
			return
		}
		b.Broker = br
		if c.OnBrokerStarted != nil {
			c.OnBrokerStarted(b)
		}
	})
}

// CrashBroker ends b's incarnation the way kind says.
func (c *Cluster) CrashBroker(b *BrokerNode, kind sim.CrashKind) {
	b.Host.Crash(kind)
	b.Broker = nil
}

// CrashNamesrv ends the name server's incarnation.
func (c *Cluster) CrashNamesrv(kind sim.CrashKind) {
	c.Namesrv.Host.Crash(kind)
	c.Namesrv.Server = nil
}

// Broker returns the node called name, or nil.
func (c *Cluster) Broker(name string) *BrokerNode {
	for _, b := range c.Brokers {
		if b.Name == name {
			return b
		}
	}
	return nil
}
