package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/thrustmq/thrust/broker/remoting"
)

// Invoke sends req to addr (a broker or a name server) and calls cb with
// the response if its code is SUCCESS, or with a *ResponseError: the way
// for admin tools to make requests the client has no method for.
func (c *Client) Invoke(addr string, req *remoting.Command, cb func(*remoting.Command, error)) {
	defer c.enter()()
	c.invoke(addr, req, c.cfg.RequestTimeout, func(resp *remoting.Command, err error, _ bool) {
		if err == nil && resp.Code != int32(remoting.Success) {
			err = responseError(req, resp, addr)
		}
		c.deliver(func() { cb(resp, err) })
	})
}

// mqKeyJSON is a MessageQueue as RocketMQ writes it as a map key.
type mqKeyJSON struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int    `json:"queueId"`
}

// ParseMQTable reads field of a body whose value is a map keyed by
// MessageQueue objects, as RocketMQ's brokers write TopicStatsTable and
// ConsumeStats with fastjson: {"offsetTable":{{"brokerName":..,"queueId":..,
// "topic":..}:{...},...}}. That is not JSON, so the map is walked by hand;
// each key and value is decoded as JSON.
func ParseMQTable(body []byte, field string) (map[MessageQueue]json.RawMessage, error) {
	marker := []byte(`"` + field + `":`)
	i := bytes.Index(body, marker)
	if i < 0 {
		return nil, fmt.Errorf("%w: no %q in %.80q", ErrBadResponse, field, body)
	}
	rest := bytes.TrimLeft(body[i+len(marker):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '{' {
		return nil, fmt.Errorf("%w: %s is not an object", ErrBadResponse, field)
	}
	rest = rest[1:]
	out := map[MessageQueue]json.RawMessage{}
	next := func(what string) (json.RawMessage, error) {
		dec := json.NewDecoder(bytes.NewReader(rest))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %s of %s: %w", ErrBadResponse, what, field, err)
		}
		rest = rest[dec.InputOffset():]
		return v, nil
	}
	skip := func(c byte) bool {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) > 0 && rest[0] == c {
			rest = rest[1:]
			return true
		}
		return false
	}
	if skip('}') {
		return out, nil
	}
	for {
		raw, err := next("a key")
		if err != nil {
			return nil, err
		}
		var k mqKeyJSON
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("%w: key %s of %s: %w", ErrBadResponse, raw, field, err)
		}
		if !skip(':') {
			return nil, fmt.Errorf("%w: no ':' after key %s of %s", ErrBadResponse, raw, field)
		}
		v, err := next("a value")
		if err != nil {
			return nil, err
		}
		out[MessageQueue{Topic: k.Topic, BrokerName: k.BrokerName, QueueID: k.QueueID}] = v
		if skip(',') {
			continue
		}
		if skip('}') {
			return out, nil
		}
		return nil, fmt.Errorf("%w: %s: expected ',' or '}'", ErrBadResponse, field)
	}
}

// ClusterInfo is GET_BROKER_CLUSTER_INFO's answer: brokers by name, and
// broker names by cluster.
type ClusterInfo struct {
	Brokers  map[string]BrokerData
	Clusters map[string][]string
}

// ParseClusterInfo decodes a GET_BROKER_CLUSTER_INFO body, standard JSON
// or a Java name server's (brokerAddrs with bare integer keys).
func ParseClusterInfo(body []byte) (ClusterInfo, error) {
	var raw struct {
		BrokerAddrTable map[string]struct {
			Cluster     string            `json:"cluster"`
			BrokerName  string            `json:"brokerName"`
			BrokerAddrs map[string]string `json:"brokerAddrs"`
		} `json:"brokerAddrTable"`
		ClusterAddrTable map[string][]string `json:"clusterAddrTable"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		fixed, changed := quoteBareKeys(body)
		if !changed {
			return ClusterInfo{}, fmt.Errorf("%w: cluster info: %w", ErrBadResponse, err)
		}
		if err := json.Unmarshal(fixed, &raw); err != nil {
			return ClusterInfo{}, fmt.Errorf("%w: cluster info: %w", ErrBadResponse, err)
		}
	}
	ci := ClusterInfo{Brokers: map[string]BrokerData{}, Clusters: raw.ClusterAddrTable}
	for name, b := range raw.BrokerAddrTable {
		bd := BrokerData{Cluster: b.Cluster, BrokerName: b.BrokerName, BrokerAddrs: map[int64]string{}}
		for k, addr := range b.BrokerAddrs {
			id, err := strconv.ParseInt(strings.TrimSpace(k), 10, 64)
			if err != nil {
				return ClusterInfo{}, fmt.Errorf("%w: cluster info gives broker %q an id %q", ErrBadResponse, name, k)
			}
			bd.BrokerAddrs[id] = addr
		}
		ci.Brokers[name] = bd
	}
	return ci, nil
}
