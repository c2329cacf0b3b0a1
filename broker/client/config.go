package client

import (
	"compress/zlib"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// Defaults, RocketMQ's (the Go client's, §9.3 of the protocol notes) unless
// a comment says otherwise.
const (
	DefaultProducerGroup         = "DEFAULT_PRODUCER"
	DefaultSendTimeout           = 3 * time.Second
	DefaultSendFaultIsolation    = 5 * time.Second
	DefaultRetryTimesWhenFailed  = 2
	DefaultRouteRefreshInterval  = 30 * time.Second
	DefaultHeartbeatInterval     = 30 * time.Second
	DefaultPullTimeout           = 30 * time.Second
	DefaultRequestTimeout        = 3 * time.Second
	DefaultRouteTimeout          = 6 * time.Second
	DefaultCompressBodyOverBytes = 4096
	DefaultCompressLevel         = 5
	// DefaultTopicQueueNums is what an auto-created topic gets: the Go
	// client hard-codes 4 in defaultTopicQueueNums and caps TBW102's queue
	// counts at it.
	DefaultTopicQueueNums = 4
	// DefaultMaxMessageBytes is the broker's default maxMessageSize: a body
	// (or batch body) larger than this is refused before it is sent.
	DefaultMaxMessageBytes = 4 << 20
	// DefaultMaxPendingPerConn bounds the requests one connection holds
	// awaiting an answer or its opening. A busy consumer has a few dozen
	// (held pulls, commits, heartbeats); a benchmark producer a few
	// thousand at most.
	DefaultMaxPendingPerConn = 1 << 14
	// DefaultClientIP is the address written into client ids and
	// UNIQ_KEYs when Config.ClientIP is empty.
	DefaultClientIP = "127.0.0.1"
)

// Config configures a Client. The zero value of each field means its
// default; where zero is a meaningful setting, a negative value asks for it.
type Config struct {
	// NamesrvAddrs are the name servers, tried in round-robin order with
	// failover. Empty is allowed: routes are then only those set with
	// SetRoute.
	NamesrvAddrs []string
	// ClientIP is this client's address as written into its client id and
	// the UNIQ_KEYs it generates; DefaultClientIP when empty. In the
	// simulator, the host's address.
	ClientIP string
	// InstanceName is the second part of the client id, where RocketMQ
	// clients put the process id. Empty draws 8 hex digits from Env.Rand,
	// so that clients sharing an address differ and a seed replays them.
	InstanceName string
	// ClientID overrides the id the client heartbeats with, which is
	// ClientIP@InstanceName otherwise. Consumers of a group must have
	// distinct ids: rebalancing allocates queues by id.
	ClientID string
	// ProducerGroup is the producerGroup of sends; DefaultProducerGroup
	// when empty. Heartbeats list it, as the Go client's do.
	ProducerGroup string
	// SendTimeout bounds each send attempt (not the whole send: a send makes
	// up to 1+RetryTimesWhenSendFailed attempts).
	SendTimeout time.Duration
	// SendFaultIsolation is how long a broker that failed a send attempt
	// without answering (timeout, lost or refused connection) is passed
	// over when a send picks its queue, unless every queue is on such a
	// broker; DefaultSendFaultIsolation when 0, never when negative.
	SendFaultIsolation time.Duration
	// RetryTimesWhenSendFailed is how many more attempts a send makes after
	// a retryable failure; DefaultRetryTimesWhenFailed when 0, none when
	// negative.
	RetryTimesWhenSendFailed int
	// RouteRefreshInterval is how often cached routes are fetched again.
	RouteRefreshInterval time.Duration
	// HeartbeatInterval is how often every known broker gets a heartbeat
	// (when the client has a producer group or consumers).
	HeartbeatInterval time.Duration
	// PullTimeout is the default response timeout of a pull; it must exceed
	// the broker's hold (20 s asked, 25 s at most on Thrust).
	PullTimeout time.Duration
	// RequestTimeout bounds offset queries and commits, heartbeats,
	// consumer lists and admin requests.
	RequestTimeout time.Duration
	// RouteTimeout bounds one GET_ROUTEINFO_BY_TOPIC to one name server.
	RouteTimeout time.Duration
	// CompressBodyOverBytes: single (non-batch) bodies of at least this
	// many bytes are zlib-compressed; DefaultCompressBodyOverBytes when 0,
	// never when negative.
	CompressBodyOverBytes int
	// CompressLevel is the zlib level; DefaultCompressLevel when 0.
	CompressLevel int
	// DefaultTopicQueueNums is the defaultTopicQueueNums header of sends,
	// and the cap on queues taken from TBW102's route for a topic that
	// does not exist yet.
	DefaultTopicQueueNums int
	// MaxMessageBytes bounds a body (or a batch body).
	MaxMessageBytes int
	// MaxPendingPerConn bounds the requests one connection holds.
	MaxPendingPerConn int
}

// withDefaults fills in the defaults and checks what can be checked.
func (cfg Config) withDefaults(drawInstance func() uint64) (Config, error) {
	if cfg.ClientIP == "" {
		cfg.ClientIP = DefaultClientIP
	}
	if _, err := netip.ParseAddr(cfg.ClientIP); err != nil {
		return cfg, fmt.Errorf("client: ClientIP %q is not an IP address", cfg.ClientIP)
	}
	if cfg.InstanceName == "" {
		cfg.InstanceName = fmt.Sprintf("%08X", uint32(drawInstance()))
	}
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.ClientIP + "@" + cfg.InstanceName
	}
	if cfg.ProducerGroup == "" {
		cfg.ProducerGroup = DefaultProducerGroup
	}
	if err := message.ValidateGroup(cfg.ProducerGroup); err != nil {
		return cfg, fmt.Errorf("client: ProducerGroup: %w", err)
	}
	dur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	dur(&cfg.SendTimeout, DefaultSendTimeout)
	if cfg.SendFaultIsolation == 0 {
		cfg.SendFaultIsolation = DefaultSendFaultIsolation
	}
	dur(&cfg.RouteRefreshInterval, DefaultRouteRefreshInterval)
	dur(&cfg.HeartbeatInterval, DefaultHeartbeatInterval)
	dur(&cfg.PullTimeout, DefaultPullTimeout)
	dur(&cfg.RequestTimeout, DefaultRequestTimeout)
	dur(&cfg.RouteTimeout, DefaultRouteTimeout)
	switch {
	case cfg.RetryTimesWhenSendFailed == 0:
		cfg.RetryTimesWhenSendFailed = DefaultRetryTimesWhenFailed
	case cfg.RetryTimesWhenSendFailed < 0:
		cfg.RetryTimesWhenSendFailed = 0
	case cfg.RetryTimesWhenSendFailed > maxSendRetries:
		return cfg, fmt.Errorf("client: RetryTimesWhenSendFailed %d is over %d", cfg.RetryTimesWhenSendFailed, maxSendRetries)
	}
	if cfg.CompressBodyOverBytes == 0 {
		cfg.CompressBodyOverBytes = DefaultCompressBodyOverBytes
	}
	if cfg.CompressLevel == 0 {
		cfg.CompressLevel = DefaultCompressLevel
	}
	if cfg.CompressLevel < zlib.HuffmanOnly || cfg.CompressLevel > zlib.BestCompression {
		return cfg, fmt.Errorf("client: CompressLevel %d is not a zlib level", cfg.CompressLevel)
	}
	if cfg.DefaultTopicQueueNums <= 0 {
		cfg.DefaultTopicQueueNums = DefaultTopicQueueNums
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxMessageBytes > remoting.DefaultMaxFrameBytes-64<<10 {
		return cfg, fmt.Errorf("client: MaxMessageBytes %d leaves no room for a header in a %d-byte frame", cfg.MaxMessageBytes, remoting.DefaultMaxFrameBytes)
	}
	if cfg.MaxPendingPerConn <= 0 {
		cfg.MaxPendingPerConn = DefaultMaxPendingPerConn
	}
	for i, a := range cfg.NamesrvAddrs {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return cfg, fmt.Errorf("client: NamesrvAddrs[%d] %q is not ip:port", i, a)
		}
	}
	return cfg, nil
}

// maxSendRetries bounds RetryTimesWhenSendFailed: each attempt may wait a
// whole SendTimeout, and a send that needs more than a handful of brokers
// to fail first has no chance of meeting any latency goal.
const maxSendRetries = 16

// pidOf derives the 16-bit "process id" of UNIQ_KEYs from the instance name:
// its number when it is one (as a RocketMQ client's pid is), else a hash.
func pidOf(instance string) int16 {
	if v, err := strconv.ParseUint(instance, 16, 64); err == nil {
		return int16(v)
	}
	var h uint16
	for i := 0; i < len(instance); i++ {
		h = h*31 + uint16(instance[i])
	}
	return int16(h)
}
