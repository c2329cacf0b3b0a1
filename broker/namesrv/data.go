package namesrv

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// Permission bits of a topic (PermName.java): what a QueueData's or a
// TopicConfig's perm allows.
const (
	PermPriority = 1 << 3
	PermRead     = 1 << 2
	PermWrite    = 1 << 1
	// PermInherit marks a template topic (TBW102): a broker with
	// autoCreateTopicEnable copies it for topics that do not exist yet.
	PermInherit = 1 << 0
)

// Topic system flags (TopicSysFlag.java).
const (
	TopicSysFlagUnit    = 1 << 0
	TopicSysFlagUnitSub = 1 << 1
)

// MasterID is the broker id of a master; slaves have ids >= 1.
const MasterID int64 = 0

// DataVersion is a broker's version of its topic configuration
// (DataVersion.java). The broker changes it whenever a topic changes; the
// name server rewrites a broker's queue data only when it differs from the
// last one registered.
type DataVersion struct {
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
	StateVersion int64 `json:"stateVersion"`
}

// Encode returns the version as a Java broker writes it:
// {"counter":3,"stateVersion":0,"timestamp":1700000000000}.
func (v DataVersion) Encode() []byte { return v.appendJSON(nil) }

func (v DataVersion) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"counter":`...)
	dst = appendJSONInt(dst, v.Counter)
	dst = append(dst, `,"stateVersion":`...)
	dst = appendJSONInt(dst, v.StateVersion)
	dst = append(dst, `,"timestamp":`...)
	dst = appendJSONInt(dst, v.Timestamp)
	return append(dst, '}')
}

// DecodeDataVersion parses a DataVersion body (QUERY_DATA_VERSION).
func DecodeDataVersion(b []byte) (DataVersion, error) {
	var v DataVersion
	if err := json.Unmarshal(standardJSON(b), &v); err != nil {
		return DataVersion{}, fmt.Errorf("namesrv: data version: %w", err)
	}
	return v, nil
}

// QueueData is one broker's share of a topic, as the route lists it
// (QueueData.java).
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	TopicSysFlag   int32  `json:"topicSysFlag"`
}

func (q QueueData) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"brokerName":`...)
	dst = appendJSONString(dst, q.BrokerName)
	dst = append(dst, `,"perm":`...)
	dst = appendJSONInt(dst, int64(q.Perm))
	dst = append(dst, `,"readQueueNums":`...)
	dst = appendJSONInt(dst, int64(q.ReadQueueNums))
	dst = append(dst, `,"topicSysFlag":`...)
	dst = appendJSONInt(dst, int64(q.TopicSysFlag))
	dst = append(dst, `,"writeQueueNums":`...)
	dst = appendJSONInt(dst, int64(q.WriteQueueNums))
	return append(dst, '}')
}

// UnmarshalJSON also accepts topicSynFlag, the key's spelling in older 4.x
// releases.
func (q *QueueData) UnmarshalJSON(b []byte) error {
	var raw struct {
		BrokerName     string `json:"brokerName"`
		ReadQueueNums  int32  `json:"readQueueNums"`
		WriteQueueNums int32  `json:"writeQueueNums"`
		Perm           int32  `json:"perm"`
		TopicSysFlag   *int32 `json:"topicSysFlag"`
		TopicSynFlag   int32  `json:"topicSynFlag"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*q = QueueData{
		BrokerName:     raw.BrokerName,
		ReadQueueNums:  raw.ReadQueueNums,
		WriteQueueNums: raw.WriteQueueNums,
		Perm:           raw.Perm,
		TopicSysFlag:   raw.TopicSynFlag,
	}
	if raw.TopicSysFlag != nil {
		q.TopicSysFlag = *raw.TopicSysFlag
	}
	return nil
}

// BrokerData is one broker name and the addresses of its members
// (BrokerData.java): id 0 is the master, ids >= 1 slaves.
type BrokerData struct {
	Cluster            string           `json:"cluster"`
	BrokerName         string           `json:"brokerName"`
	BrokerAddrs        map[int64]string `json:"brokerAddrs"`
	ZoneName           string           `json:"zoneName,omitempty"`
	EnableActingMaster bool             `json:"enableActingMaster"`
}

// MasterAddr is the master's address, or "" when no master is registered.
func (b *BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

func (b *BrokerData) clone() BrokerData {
	c := *b
	c.BrokerAddrs = make(map[int64]string, len(b.BrokerAddrs))
	for id, addr := range b.BrokerAddrs {
		c.BrokerAddrs[id] = addr
	}
	return c
}

// appendJSON writes brokerAddrs compact, with quoted keys in id order:
// {"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}. The Go client cuts this text
// apart by hand (at commas and the first colon), so a blank anywhere would
// end up inside an address, and a missing brokerAddrs makes it panic.
func (b *BrokerData) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"brokerAddrs":{`...)
	for i, id := range sortedKeys(b.BrokerAddrs) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = appendJSONInt(dst, id)
		dst = append(dst, `":`...)
		dst = appendJSONString(dst, b.BrokerAddrs[id])
	}
	dst = append(dst, `},"brokerName":`...)
	dst = appendJSONString(dst, b.BrokerName)
	dst = append(dst, `,"cluster":`...)
	dst = appendJSONString(dst, b.Cluster)
	dst = append(dst, `,"enableActingMaster":`...)
	dst = appendBool(dst, b.EnableActingMaster)
	if b.ZoneName != "" {
		dst = append(dst, `,"zoneName":`...)
		dst = appendJSONString(dst, b.ZoneName)
	}
	return append(dst, '}')
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// TopicRouteData is the answer to GET_ROUTEINFO_BY_TOPIC (TopicRouteData.java):
// which brokers serve a topic, with how many queues, at which addresses.
type TopicRouteData struct {
	// OrderTopicConf is "brokerA:4;brokerB:4" for a globally ordered topic
	// (name server KV namespace ORDER_TOPIC_CONFIG, with
	// orderMessageEnable), else empty. A Go producer that sees it builds its
	// queue list from it alone.
	OrderTopicConf string `json:"orderTopicConf,omitempty"`
	// QueueDatas are sorted by broker name.
	QueueDatas []QueueData `json:"queueDatas"`
	// BrokerDatas are sorted by broker name.
	BrokerDatas []BrokerData `json:"brokerDatas"`
	// FilterServerTable maps a broker address to its filter servers
	// (legacy; normally empty).
	FilterServerTable map[string][]string `json:"filterServerTable"`
}

// Encode returns the route as compact JSON with fastjson's key order, for
// example
//
//	{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"broker-a",
//	"cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},
//	"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,
//	"topicSysFlag":0,"writeQueueNums":4}]}
//
// (one line on the wire). queueDatas, brokerDatas and filterServerTable are
// always present, even when empty: the Go client fails without queueDatas.
func (r *TopicRouteData) Encode() []byte {
	dst := make([]byte, 0, 128+160*len(r.BrokerDatas)+96*len(r.QueueDatas))
	dst = append(dst, `{"brokerDatas":[`...)
	for i := range r.BrokerDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = r.BrokerDatas[i].appendJSON(dst)
	}
	dst = append(dst, `],"filterServerTable":{`...)
	for i, addr := range sortedKeys(r.FilterServerTable) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, addr)
		dst = append(dst, ':')
		dst = appendStringArray(dst, r.FilterServerTable[addr])
	}
	dst = append(dst, '}')
	if r.OrderTopicConf != "" {
		dst = append(dst, `,"orderTopicConf":`...)
		dst = appendJSONString(dst, r.OrderTopicConf)
	}
	dst = append(dst, `,"queueDatas":[`...)
	for i := range r.QueueDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = r.QueueDatas[i].appendJSON(dst)
	}
	return append(dst, "]}"...)
}

// DecodeTopicRouteData parses a route body from any name server: Thrust's,
// or a Java one that writes brokerAddrs with bare integer keys.
func DecodeTopicRouteData(b []byte) (TopicRouteData, error) {
	var r TopicRouteData
	if err := json.Unmarshal(standardJSON(b), &r); err != nil {
		return TopicRouteData{}, fmt.Errorf("namesrv: topic route data: %w", err)
	}
	return r, nil
}

// ClusterInfo is the answer to GET_BROKER_CLUSTER_INFO (ClusterInfo.java).
type ClusterInfo struct {
	// BrokerAddrTable maps a broker name to its BrokerData.
	BrokerAddrTable map[string]BrokerData `json:"brokerAddrTable"`
	// ClusterAddrTable maps a cluster name to its broker names, sorted.
	ClusterAddrTable map[string][]string `json:"clusterAddrTable"`
}

// Encode returns the cluster info as compact JSON, keys sorted.
func (c *ClusterInfo) Encode() []byte {
	dst := append([]byte(nil), `{"brokerAddrTable":{`...)
	for i, name := range sortedKeys(c.BrokerAddrTable) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		bd := c.BrokerAddrTable[name]
		dst = bd.appendJSON(dst)
	}
	dst = append(dst, `},"clusterAddrTable":{`...)
	for i, cluster := range sortedKeys(c.ClusterAddrTable) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, cluster)
		dst = append(dst, ':')
		dst = appendStringArray(dst, c.ClusterAddrTable[cluster])
	}
	return append(dst, "}}"...)
}

// DecodeClusterInfo parses a GET_BROKER_CLUSTER_INFO body from any name
// server.
func DecodeClusterInfo(b []byte) (ClusterInfo, error) {
	var c ClusterInfo
	if err := json.Unmarshal(standardJSON(b), &c); err != nil {
		return ClusterInfo{}, fmt.Errorf("namesrv: cluster info: %w", err)
	}
	return c, nil
}

// TopicList is the answer to the topic-list requests (TopicList.java).
type TopicList struct {
	TopicList []string `json:"topicList"`
	// BrokerAddr is set only by GET_SYSTEM_TOPIC_LIST_FROM_NS.
	BrokerAddr string `json:"brokerAddr,omitempty"`
}

// Encode returns {"topicList":[...]} with the topics sorted, and brokerAddr
// first when set. fastjson leaves out null fields, so an unset brokerAddr is
// absent rather than null.
func (l *TopicList) Encode() []byte {
	dst := []byte{'{'}
	if l.BrokerAddr != "" {
		dst = append(dst, `"brokerAddr":`...)
		dst = appendJSONString(dst, l.BrokerAddr)
		dst = append(dst, ',')
	}
	topics := slices.Clone(l.TopicList)
	slices.Sort(topics)
	dst = append(dst, `"topicList":`...)
	dst = appendStringArray(dst, slices.Compact(topics))
	return append(dst, '}')
}

// kvTable is the body of GET_KVLIST_BY_NAMESPACE (KVTable.java):
// {"table":{"key":"value"}}.
func encodeKVTable(m map[string]string) []byte {
	dst := append([]byte(nil), `{"table":`...)
	dst = appendStringMap(dst, m)
	return append(dst, '}')
}

// sortQueueDatas orders queue data by broker name, the order routes list
// them in.
func sortQueueDatas(qs []QueueData) {
	slices.SortFunc(qs, func(a, b QueueData) int { return cmp.Compare(a.BrokerName, b.BrokerName) })
}
