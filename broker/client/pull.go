package client

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// PULL_MESSAGE sysFlag bits (RocketMQ's PullSysFlag).
const (
	// PullFlagCommitOffset: the broker stores CommitOffset as the group's
	// offset for the queue before reading.
	PullFlagCommitOffset int32 = 1 << 0
	// PullFlagSuspend: the broker may hold the pull (long polling) until a
	// message arrives or SuspendTimeout passes.
	PullFlagSuspend int32 = 1 << 1
	// PullFlagSubscription: the broker filters by this request's
	// Expression rather than the subscription the group's heartbeat
	// registered.
	PullFlagSubscription int32 = 1 << 2
)

// Pull defaults, the Go push consumer's.
const (
	DefaultPullBatchSize  = 32
	DefaultSuspendTimeout = 20 * time.Second
)

// PullRequest is one PULL_MESSAGE.
type PullRequest struct {
	Group string
	Queue MessageQueue
	// Offset is the queue offset to read from.
	Offset int64
	// MaxNums bounds the messages returned; DefaultPullBatchSize when 0.
	MaxNums int
	// SysFlag holds PullFlag* bits.
	SysFlag int32
	// CommitOffset is stored when SysFlag has PullFlagCommitOffset.
	CommitOffset int64
	// SuspendTimeout is how long the broker may hold the pull;
	// DefaultSuspendTimeout when 0 and SysFlag has PullFlagSuspend.
	SuspendTimeout time.Duration
	// Expression is a TAG expression ("*", "a || b"). It is sent as the
	// subscription (the broker uses it only with PullFlagSubscription) and
	// the client filters the returned messages by their exact TAGS with it
	// either way, dropping the broker's hash collisions. Empty means all.
	Expression string
	// SubVersion is the subscription version sent; 0 is always accepted.
	SubVersion int64
	// Timeout is the response timeout; Config.PullTimeout when 0. It must
	// exceed SuspendTimeout.
	Timeout time.Duration
	// BrokerAddr overrides the address (by default the master of
	// Queue.BrokerName, from the routes).
	BrokerAddr string
}

// PullStatus is what a pull found, from the response code.
type PullStatus int

const (
	// PullFound (code 0): Messages holds what was read.
	PullFound PullStatus = iota
	// PullNoNewMsg (19, PULL_NOT_FOUND): nothing at Offset yet; pull again
	// from NextBeginOffset.
	PullNoNewMsg
	// PullNoMatchedMsg (20, PULL_RETRY_IMMEDIATELY): entries were scanned
	// but none matched; pull again from NextBeginOffset at once.
	PullNoMatchedMsg
	// PullOffsetIllegal (21, PULL_OFFSET_MOVED): Offset is outside the
	// queue; NextBeginOffset is where to resume.
	PullOffsetIllegal
)

func (s PullStatus) String() string {
	switch s {
	case PullFound:
		return "FOUND"
	case PullNoNewMsg:
		return "NO_NEW_MSG"
	case PullNoMatchedMsg:
		return "NO_MATCHED_MSG"
	case PullOffsetIllegal:
		return "OFFSET_ILLEGAL"
	}
	return "PullStatus(" + strconv.Itoa(int(s)) + ")"
}

// PullResult is a pull's outcome. With Err set, nothing else is meaningful:
// the request failed, the broker answered another code (a *ResponseError),
// or the response does not decode (ErrBadResponse; a body whose records
// fail their framing or CRC checks is reported so, never partly delivered).
type PullResult struct {
	Status          PullStatus
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	// SuggestWhichBrokerID is the broker id the broker suggests for the
	// next pull of the queue (0, the master, unless slave reads are on).
	SuggestWhichBrokerID int64
	// Messages are the records the broker returned, in the order returned,
	// minus those the client-side tag filter dropped.
	Messages []*MessageExt
	// Filtered counts records the client-side tag filter dropped.
	Filtered int
	Err      error
}

// Pull sends one PULL_MESSAGE and calls cb with what came back.
func (c *Client) Pull(req PullRequest, cb func(PullResult)) {
	defer c.enter()()
	c.pull(req, func(r PullResult) { c.deliver(func() { cb(r) }) })
}

func (c *Client) pull(req PullRequest, cb func(PullResult)) {
	if req.MaxNums <= 0 {
		req.MaxNums = DefaultPullBatchSize
	}
	if req.SuspendTimeout <= 0 && req.SysFlag&PullFlagSuspend != 0 {
		req.SuspendTimeout = DefaultSuspendTimeout
	}
	if req.Timeout <= 0 {
		req.Timeout = c.cfg.PullTimeout
	}
	tags, all := tagsOf(req.Expression)
	cmd := remoting.NewRequest(remoting.PullMessage,
		remoting.StrField("consumerGroup", req.Group),
		remoting.StrField("topic", req.Queue.Topic),
		remoting.IntField("queueId", int64(req.Queue.QueueID)),
		remoting.IntField("queueOffset", req.Offset),
		remoting.IntField("maxMsgNums", int64(req.MaxNums)),
		remoting.IntField("sysFlag", int64(req.SysFlag)),
		remoting.IntField("commitOffset", req.CommitOffset),
		remoting.IntField("suspendTimeoutMillis", req.SuspendTimeout.Milliseconds()),
		remoting.StrField("subscription", req.Expression),
		remoting.IntField("subVersion", req.SubVersion),
		remoting.StrField("expressionType", expressionTag),
		remoting.StrField("bname", req.Queue.BrokerName),
	)
	c.brokerCall(req.Queue, req.BrokerAddr, cmd, req.Timeout, func(resp *remoting.Command, addr string, err error) {
		c.stats.Pulls++
		if err != nil {
			cb(PullResult{Err: err})
			return
		}
		r := PullResult{}
		switch code := remoting.ResponseCode(resp.Code); code {
		case remoting.Success:
			r.Status = PullFound
		case remoting.PullNotFound:
			r.Status = PullNoNewMsg
		case remoting.PullRetryImmediately:
			r.Status = PullNoMatchedMsg
		case remoting.PullOffsetMoved:
			r.Status = PullOffsetIllegal
		default:
			cb(PullResult{Err: responseError(cmd, resp, addr)})
			return
		}
		var ferr error
		field := func(key string) int64 {
			v, err := resp.ExtFields.Int64(key)
			if err != nil && ferr == nil {
				ferr = err
			}
			return v
		}
		// NB: the Go client reads a missing nextBeginOffset as 0 and
		// replays the queue from the start; here it is an error.
		r.NextBeginOffset = field("nextBeginOffset")
		r.MinOffset = field("minOffset")
		r.MaxOffset = field("maxOffset")
		if _, ok := resp.ExtFields.Get("suggestWhichBrokerId"); ok {
			r.SuggestWhichBrokerID = field("suggestWhichBrokerId")
		}
		if ferr != nil {
			cb(PullResult{Err: fmt.Errorf("%w: %s from %s: %w", ErrBadResponse, r.Status, addr, ferr)})
			return
		}
		if r.Status != PullFound {
			cb(r)
			return
		}
		msgs, err := decodeRecords(resp.Body, req.Queue.BrokerName)
		if err != nil {
			cb(PullResult{Err: fmt.Errorf("pull %s at %d from %s: %w", req.Queue, req.Offset, addr, err)})
			return
		}
		c.stats.PulledRecords += uint64(len(msgs))
		if !all {
			// The broker filters by tag hash code, which collides; keep
			// exactly the subscribed tags, as the Go client does.
			kept := msgs[:0]
			for _, m := range msgs {
				if slices.Contains(tags, m.Tags()) {
					kept = append(kept, m)
				}
			}
			r.Filtered = len(msgs) - len(kept)
			msgs = kept
		}
		r.Messages = msgs
		cb(r)
	})
}

// brokerCall sends req to addr, or, when addr is empty, to the master of
// mq's broker group, fetching mq's topic route first if the address book
// does not know the group. cb may learn addr even on error.
func (c *Client) brokerCall(mq MessageQueue, addr string, req *remoting.Command, timeout time.Duration, cb func(resp *remoting.Command, addr string, err error)) {
	send := func(addr string) {
		c.invoke(addr, req, timeout, func(resp *remoting.Command, err error, _ bool) { cb(resp, addr, err) })
	}
	if addr != "" {
		send(addr)
		return
	}
	if a := c.masterAddr(mq.BrokerName); a != "" {
		send(a)
		return
	}
	c.subscribeRoute(mq.Topic, func(_ *topicRoute, err error) {
		if a := c.masterAddr(mq.BrokerName); a != "" {
			send(a)
			return
		}
		if err == nil {
			err = fmt.Errorf("no route names broker %q", mq.BrokerName)
		}
		// Route lookups answer synchronously from the cache; the failure
		// must still reach cb from a later event.
		c.later(func() { cb(nil, "", fmt.Errorf("%w: %s: %w", ErrNoBroker, mq.BrokerName, err)) })
	})
}

// offsetCall sends a request whose answer is an "offset" field.
func (c *Client) offsetCall(mq MessageQueue, req *remoting.Command, cb func(int64, error)) {
	c.brokerCall(mq, "", req, c.cfg.RequestTimeout, func(resp *remoting.Command, addr string, err error) {
		if err != nil {
			cb(-1, err)
			return
		}
		if resp.Code != int32(remoting.Success) {
			cb(-1, responseError(req, resp, addr))
			return
		}
		off, err := resp.ExtFields.Int64("offset")
		if err != nil {
			cb(-1, fmt.Errorf("%w: %s from %s: %w", ErrBadResponse, remoting.RequestCode(req.Code), addr, err))
			return
		}
		cb(off, nil)
	})
}

// QueryConsumerOffset asks mq's broker for group's committed offset of mq:
// the next offset to consume. An error matching ErrOffsetNotFound means the
// group has committed none (the broker answers 0 instead while the queue
// still holds its first message, as Java's does).
func (c *Client) QueryConsumerOffset(group string, mq MessageQueue, cb func(offset int64, err error)) {
	defer c.enter()()
	c.queryConsumerOffset(group, mq, func(off int64, err error) { c.deliver(func() { cb(off, err) }) })
}

func (c *Client) queryConsumerOffset(group string, mq MessageQueue, cb func(int64, error)) {
	req := remoting.NewRequest(remoting.QueryConsumerOffset,
		remoting.StrField("consumerGroup", group),
		remoting.StrField("topic", mq.Topic),
		remoting.IntField("queueId", int64(mq.QueueID)),
		remoting.StrField("bname", mq.BrokerName),
	)
	c.offsetCall(mq, req, cb)
}

// UpdateConsumerOffset commits offset (the next offset to consume) as
// group's offset of mq, and reports the broker's answer: nil means the
// broker stored it. Unlike the Go client, which sends it without waiting,
// the answer is awaited, so that a history can tell acknowledged commits
// from lost ones.
func (c *Client) UpdateConsumerOffset(group string, mq MessageQueue, offset int64, cb func(error)) {
	defer c.enter()()
	c.updateConsumerOffset(group, mq, offset, func(_ int64, err error) { c.deliver(func() { cb(err) }) })
}

// updateConsumerOffset commits offset and reports the offset the broker
// says the group is at afterwards: Thrust's broker answers it (an "offset"
// field other brokers leave out), and keeps a group's commit from going
// back when a member that held a queue stale drops it. Without the field,
// it is offset.
func (c *Client) updateConsumerOffset(group string, mq MessageQueue, offset int64, cb func(int64, error)) {
	req := remoting.NewRequest(remoting.UpdateConsumerOffset,
		remoting.StrField("consumerGroup", group),
		remoting.StrField("topic", mq.Topic),
		remoting.IntField("queueId", int64(mq.QueueID)),
		remoting.IntField("commitOffset", offset),
		remoting.StrField("bname", mq.BrokerName),
	)
	c.brokerCall(mq, "", req, c.cfg.RequestTimeout, func(resp *remoting.Command, addr string, err error) {
		if err == nil && resp.Code != int32(remoting.Success) {
			err = responseError(req, resp, addr)
		}
		effective := offset
		if err == nil {
			if v, perr := resp.ExtFields.Int64("offset"); perr == nil {
				effective = v
			}
		}
		cb(effective, err)
	})
}

// GetMaxOffset asks for mq's max offset: the number of entries ever
// written, the offset the next message will get.
func (c *Client) GetMaxOffset(mq MessageQueue, cb func(offset int64, err error)) {
	defer c.enter()()
	c.getMaxOffset(mq, func(off int64, err error) { c.deliver(func() { cb(off, err) }) })
}

func (c *Client) getMaxOffset(mq MessageQueue, cb func(int64, error)) {
	req := remoting.NewRequest(remoting.GetMaxOffset,
		remoting.StrField("topic", mq.Topic),
		remoting.IntField("queueId", int64(mq.QueueID)),
		remoting.StrField("bname", mq.BrokerName),
	)
	c.offsetCall(mq, req, cb)
}

// GetMinOffset asks for mq's min offset: the first still readable.
func (c *Client) GetMinOffset(mq MessageQueue, cb func(offset int64, err error)) {
	defer c.enter()()
	req := remoting.NewRequest(remoting.GetMinOffset,
		remoting.StrField("topic", mq.Topic),
		remoting.IntField("queueId", int64(mq.QueueID)),
		remoting.StrField("bname", mq.BrokerName),
	)
	c.offsetCall(mq, req, func(off int64, err error) { c.deliver(func() { cb(off, err) }) })
}

// SearchOffset asks for the first offset of mq whose message was stored at
// or after ts (the broker's store timestamps): max offset if every message
// is older, min offset if every message is newer.
func (c *Client) SearchOffset(mq MessageQueue, ts time.Time, cb func(offset int64, err error)) {
	defer c.enter()()
	c.searchOffset(mq, ts, func(off int64, err error) { c.deliver(func() { cb(off, err) }) })
}

func (c *Client) searchOffset(mq MessageQueue, ts time.Time, cb func(int64, error)) {
	req := remoting.NewRequest(remoting.SearchOffsetByTimestamp,
		remoting.StrField("topic", mq.Topic),
		remoting.IntField("queueId", int64(mq.QueueID)),
		remoting.IntField("timestamp", ts.UnixMilli()),
		remoting.StrField("bname", mq.BrokerName),
	)
	c.offsetCall(mq, req, cb)
}

// ConsumerList asks a broker for the ids of group's live consumers, sorted.
func (c *Client) ConsumerList(brokerAddr, group string, cb func(ids []string, err error)) {
	defer c.enter()()
	c.consumerList(brokerAddr, group, func(ids []string, err error) { c.deliver(func() { cb(ids, err) }) })
}

func (c *Client) consumerList(addr, group string, cb func([]string, error)) {
	req := remoting.NewRequest(remoting.GetConsumerListByGroup, remoting.StrField("consumerGroup", group))
	c.invoke(addr, req, c.cfg.RequestTimeout, func(resp *remoting.Command, err error, _ bool) {
		if err != nil {
			cb(nil, err)
			return
		}
		if resp.Code != int32(remoting.Success) {
			cb(nil, responseError(req, resp, addr))
			return
		}
		ids, err := parseConsumerList(resp.Body)
		if err != nil {
			cb(nil, fmt.Errorf("%w: consumer list from %s: %w", ErrBadResponse, addr, err))
			return
		}
		cb(ids, nil)
	})
}

// CreateTopic asks a broker to create (or update) topic with queues read and
// write queues and permission perm (PermRead|PermWrite for a normal topic).
// The broker registers it with its name servers at once. Unlike the Go
// admin, the response code is checked.
func (c *Client) CreateTopic(brokerAddr, topic string, queues, perm int, cb func(error)) {
	defer c.enter()()
	if err := message.ValidateTopic(topic); err != nil {
		c.deliver(func() { cb(fmt.Errorf("%w: %w", ErrBadMessage, err)) })
		return
	}
	req := remoting.NewRequest(remoting.UpdateAndCreateTopic,
		remoting.StrField("topic", topic),
		remoting.StrField("defaultTopic", message.AutoCreateTopicKey),
		remoting.IntField("readQueueNums", int64(queues)),
		remoting.IntField("writeQueueNums", int64(queues)),
		remoting.IntField("perm", int64(perm)),
		remoting.StrField("topicFilterType", "SINGLE_TAG"),
		remoting.IntField("topicSysFlag", 0),
		remoting.BoolField("order", false),
	)
	c.invoke(brokerAddr, req, c.cfg.RequestTimeout, func(resp *remoting.Command, err error, _ bool) {
		if err == nil && resp.Code != int32(remoting.Success) {
			err = responseError(req, resp, brokerAddr)
		}
		c.deliver(func() { cb(err) })
	})
}
