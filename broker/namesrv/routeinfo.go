package namesrv

import (
	"cmp"
	"log/slog"
	"slices"
	"time"
)

// DefaultBrokerTimeout is how long a broker stays registered without
// registering again, unless its registration names another window
// (heartbeatTimeoutMillis). Brokers register every 30 s.
const DefaultBrokerTimeout = 120 * time.Second

// BrokerAddrInfo identifies one registered broker process: its cluster and
// the address clients dial.
type BrokerAddrInfo struct {
	ClusterName string
	BrokerAddr  string
}

func compareAddrInfo(a, b BrokerAddrInfo) int {
	if c := cmp.Compare(a.ClusterName, b.ClusterName); c != 0 {
		return c
	}
	return cmp.Compare(a.BrokerAddr, b.BrokerAddr)
}

// brokerLiveInfo is what the name server knows of a broker process between
// registrations.
type brokerLiveInfo struct {
	lastUpdate   time.Duration // host.Clock.Mono of the last registration or heartbeat
	timeout      time.Duration
	dataVersion  DataVersion
	connID       uint64
	haServerAddr string
}

// Registration is one REGISTER_BROKER, decoded.
type Registration struct {
	ClusterName  string
	BrokerName   string
	BrokerAddr   string
	HAServerAddr string
	ZoneName     string
	BrokerID     int64
	// HeartbeatTimeout is the broker's liveness window; zero means
	// DefaultBrokerTimeout.
	HeartbeatTimeout time.Duration
	// EnableActingMaster: with no master registered, the slave with the
	// lowest id publishes the topics, without write permission.
	EnableActingMaster bool
	Body               RegisterBrokerBody
	// ConnID is the connection the registration came on: when it closes,
	// the broker is dropped.
	ConnID uint64
}

// RegisterResult is what REGISTER_BROKER answers.
type RegisterResult struct {
	// HAServerAddr and MasterAddr are set for a slave whose master is
	// registered: where to replicate from.
	HAServerAddr string
	MasterAddr   string
	// Rejected: the address registered for a broker id that another
	// address holds with a newer state version (a master demoted by a
	// controller, say). Java answers such a broker SUCCESS all the same.
	Rejected bool
}

// ExpiredBroker is a broker dropped because it stopped registering.
type ExpiredBroker struct {
	BrokerAddrInfo
	BrokerName string // empty if the address was no longer in any BrokerData
	ConnID     uint64
	Timeout    time.Duration
}

// RouteInfo is the name server's state (RouteInfoManager.java): which brokers
// are alive and which topics they serve. It does no I/O and reads no clock:
// the caller passes the time, and the server turns its answers into
// responses. Like all broker state, it is touched only on the node's loop.
//
// Invariants, which every method keeps:
//   - every QueueData's broker name has a BrokerData (queue data is only
//     written for a registered broker and is removed with its last address);
//   - no BrokerData has an empty address table, no cluster an empty
//     broker-name set, no topic an empty queue-data table;
//   - an address appears at most once in a BrokerData.
type RouteInfo struct {
	log *slog.Logger
	// deleteTopicWithBrokerRegistration: a master's registration removes
	// its queue data from topics it no longer lists.
	deleteTopicWithBrokerRegistration bool

	topicQueueTable   map[string]map[string]QueueData // topic → broker name → queue data
	brokerAddrTable   map[string]*BrokerData          // broker name → members
	clusterAddrTable  map[string]map[string]struct{}  // cluster → broker names
	brokerLiveTable   map[BrokerAddrInfo]*brokerLiveInfo
	filterServerTable map[BrokerAddrInfo][]string
}

// NewRouteInfo returns an empty table. Of cfg it uses
// DeleteTopicWithBrokerRegistration.
func NewRouteInfo(cfg Config, log *slog.Logger) *RouteInfo {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RouteInfo{
		log:                               log,
		deleteTopicWithBrokerRegistration: cfg.DeleteTopicWithBrokerRegistration,
		topicQueueTable:                   make(map[string]map[string]QueueData),
		brokerAddrTable:                   make(map[string]*BrokerData),
		clusterAddrTable:                  make(map[string]map[string]struct{}),
		brokerLiveTable:                   make(map[BrokerAddrInfo]*brokerLiveInfo),
		filterServerTable:                 make(map[BrokerAddrInfo][]string),
	}
}

// RegisterBroker records a registration made at now (host.Clock.Mono): the
// broker's address under its name and cluster, its liveness, and, from a
// master, its topics.
//
// Topics are rewritten only when it can matter: on the broker's first
// registration, when its data version changed, or for a topic the table
// does not have for this broker (deleted by an operator since, say: the
// broker is the source of truth and puts it back).
func (r *RouteInfo) RegisterBroker(now time.Duration, reg Registration) RegisterResult {
	key := BrokerAddrInfo{reg.ClusterName, reg.BrokerAddr}

	names := r.clusterAddrTable[reg.ClusterName]
	if names == nil {
		names = make(map[string]struct{})
		r.clusterAddrTable[reg.ClusterName] = names
	}
	names[reg.BrokerName] = struct{}{}

	registerFirst := false
	bd := r.brokerAddrTable[reg.BrokerName]
	if bd == nil {
		registerFirst = true
		bd = &BrokerData{Cluster: reg.ClusterName, BrokerName: reg.BrokerName, BrokerAddrs: make(map[int64]string)}
		r.brokerAddrTable[reg.BrokerName] = bd
	}
	bd.EnableActingMaster = reg.EnableActingMaster
	bd.ZoneName = reg.ZoneName

	// A slave promoted to master (or any id change) registers its address
	// under the new id: the old entry goes, so that one address is never
	// listed twice.
	for id, addr := range bd.BrokerAddrs {
		if addr == reg.BrokerAddr && id != reg.BrokerID {
			delete(bd.BrokerAddrs, id)
		}
	}

	// Another address holding this id with a newer state version wins: the
	// registering process is a stale master.
	if old, ok := bd.BrokerAddrs[reg.BrokerID]; ok && old != reg.BrokerAddr {
		if oldLive := r.brokerLiveTable[BrokerAddrInfo{reg.ClusterName, old}]; oldLive != nil &&
			oldLive.dataVersion.StateVersion > reg.Body.DataVersion.StateVersion {
			r.log.Warn("namesrv: registration conflicts with a newer one, ignored",
				"cluster", reg.ClusterName, "brokerName", reg.BrokerName, "brokerId", reg.BrokerID,
				"oldAddr", old, "oldStateVersion", oldLive.dataVersion.StateVersion,
				"newAddr", reg.BrokerAddr, "newStateVersion", reg.Body.DataVersion.StateVersion)
			delete(r.brokerLiveTable, key)
			return RegisterResult{Rejected: true}
		}
	}

	oldAddr := bd.BrokerAddrs[reg.BrokerID]
	bd.BrokerAddrs[reg.BrokerID] = reg.BrokerAddr
	registerFirst = registerFirst || oldAddr == ""

	isMaster := reg.BrokerID == MasterID
	isPrimeSlave := !isMaster && reg.EnableActingMaster && reg.BrokerID == minID(bd.BrokerAddrs)
	if isMaster || isPrimeSlave {
		r.updateTopics(reg, registerFirst, isPrimeSlave)
	}

	timeout := reg.HeartbeatTimeout
	if timeout <= 0 {
		timeout = DefaultBrokerTimeout
	}
	prev := r.brokerLiveTable[key]
	r.brokerLiveTable[key] = &brokerLiveInfo{
		lastUpdate:   now,
		timeout:      timeout,
		dataVersion:  reg.Body.DataVersion,
		connID:       reg.ConnID,
		haServerAddr: reg.HAServerAddr,
	}
	if prev == nil {
		r.log.Info("namesrv: new broker registered",
			"cluster", reg.ClusterName, "brokerName", reg.BrokerName, "brokerId", reg.BrokerID,
			"brokerAddr", reg.BrokerAddr, "haServerAddr", reg.HAServerAddr, "timeout", timeout)
	}

	if len(reg.Body.FilterServerList) == 0 {
		delete(r.filterServerTable, key)
	} else {
		r.filterServerTable[key] = slices.Clone(reg.Body.FilterServerList)
	}

	var res RegisterResult
	if !isMaster {
		if masterAddr := bd.BrokerAddrs[MasterID]; masterAddr != "" {
			if master := r.brokerLiveTable[BrokerAddrInfo{reg.ClusterName, masterAddr}]; master != nil {
				res.HAServerAddr = master.haServerAddr
				res.MasterAddr = masterAddr
			}
		}
	}
	return res
}

// updateTopics writes the queue data of a master's (or acting master's)
// registration.
func (r *RouteInfo) updateTopics(reg Registration, registerFirst, isPrimeSlave bool) {
	key := BrokerAddrInfo{reg.ClusterName, reg.BrokerAddr}
	// Topics are keyed by their topicName, as Java keys them; the table
	// key stands in only when a sender left the name out.
	table := make(map[string]TopicConfig, len(reg.Body.TopicConfigTable))
	for name, tc := range reg.Body.TopicConfigTable {
		if tc.TopicName == "" {
			tc.TopicName = name
		}
		table[tc.TopicName] = tc
	}

	if r.deleteTopicWithBrokerRegistration {
		for _, topic := range r.topicsOf(reg.BrokerName) {
			if _, still := table[topic]; !still {
				r.log.Info("namesrv: topic no longer registered by its broker, removed",
					"topic", topic, "brokerName", reg.BrokerName)
				r.removeQueueData(topic, reg.BrokerName)
			}
		}
	}

	changed := true
	if live := r.brokerLiveTable[key]; live != nil {
		changed = live.dataVersion != reg.Body.DataVersion
	}
	for _, topic := range sortedKeys(table) {
		if !registerFirst && !changed {
			if _, ok := r.topicQueueTable[topic][reg.BrokerName]; ok {
				continue
			}
		}
		tc := table[topic]
		perm := tc.Perm
		if isPrimeSlave {
			// An acting master serves reads only.
			perm &^= PermWrite
		}
		r.putQueueData(topic, QueueData{
			BrokerName:     reg.BrokerName,
			ReadQueueNums:  tc.ReadQueueNums,
			WriteQueueNums: tc.WriteQueueNums,
			Perm:           perm,
			TopicSysFlag:   tc.TopicSysFlag,
		})
	}
}

func (r *RouteInfo) putQueueData(topic string, qd QueueData) {
	qds := r.topicQueueTable[topic]
	if qds == nil {
		qds = make(map[string]QueueData)
		r.topicQueueTable[topic] = qds
		r.log.Info("namesrv: new topic registered", "topic", topic, "queueData", qd)
	} else if old, ok := qds[qd.BrokerName]; ok && old != qd {
		r.log.Info("namesrv: topic changed", "topic", topic, "old", old, "new", qd)
	}
	qds[qd.BrokerName] = qd
}

// removeQueueData drops brokerName's share of topic, and the topic with its
// last share.
func (r *RouteInfo) removeQueueData(topic, brokerName string) {
	qds := r.topicQueueTable[topic]
	delete(qds, brokerName)
	if len(qds) == 0 {
		delete(r.topicQueueTable, topic)
	}
}

// topicsOf lists, sorted, the topics brokerName has queue data for.
func (r *RouteInfo) topicsOf(brokerName string) []string {
	var out []string
	for topic, qds := range r.topicQueueTable {
		if _, ok := qds[brokerName]; ok {
			out = append(out, topic)
		}
	}
	slices.Sort(out)
	return out
}

func minID(addrs map[int64]string) int64 {
	first := true
	var m int64
	for id := range addrs {
		if first || id < m {
			m, first = id, false
		}
	}
	return m
}

// UnregisterBroker drops the broker at brokerAddr (UNREGISTER_BROKER, and
// what expiry and a closed connection do): its liveness, its address, and,
// with the broker name's last address, the name, the queue data of every
// topic it served (topics left without any disappear) and, with the
// cluster's last name, the cluster.
//
// NB: while any member of a broker name is left (a slave whose master
// left), its queue data stays, so consumers can still read from the slave;
// producers skip it, since the route shows no master.
func (r *RouteInfo) UnregisterBroker(clusterName, brokerAddr, brokerName string) {
	key := BrokerAddrInfo{clusterName, brokerAddr}
	delete(r.brokerLiveTable, key)
	delete(r.filterServerTable, key)

	bd := r.brokerAddrTable[brokerName]
	if bd == nil {
		return
	}
	for id, addr := range bd.BrokerAddrs {
		if addr == brokerAddr {
			delete(bd.BrokerAddrs, id)
		}
	}
	if len(bd.BrokerAddrs) > 0 {
		if bd.EnableActingMaster && bd.BrokerAddrs[MasterID] == "" {
			// The master left and a slave acts for it: no more writes.
			for _, topic := range r.topicsOf(brokerName) {
				qd := r.topicQueueTable[topic][brokerName]
				qd.Perm &^= PermWrite
				r.topicQueueTable[topic][brokerName] = qd
			}
		}
		return
	}

	delete(r.brokerAddrTable, brokerName)
	r.log.Info("namesrv: broker name removed, no address left", "cluster", clusterName, "brokerName", brokerName)
	if names := r.clusterAddrTable[clusterName]; names != nil {
		delete(names, brokerName)
		if len(names) == 0 {
			delete(r.clusterAddrTable, clusterName)
			r.log.Info("namesrv: cluster removed, no broker left", "cluster", clusterName)
		}
	}
	for _, topic := range r.topicsOf(brokerName) {
		r.removeQueueData(topic, brokerName)
		if _, left := r.topicQueueTable[topic]; !left {
			r.log.Info("namesrv: topic removed, no broker left", "topic", topic)
		}
	}
}

// brokerNameOf finds the broker name a registered address belongs to in a
// cluster.
func (r *RouteInfo) brokerNameOf(key BrokerAddrInfo) (string, bool) {
	for _, name := range sortedKeys(r.brokerAddrTable) {
		bd := r.brokerAddrTable[name]
		if bd.Cluster != key.ClusterName {
			continue
		}
		for _, addr := range bd.BrokerAddrs {
			if addr == key.BrokerAddr {
				return name, true
			}
		}
	}
	return "", false
}

// dropBroker unregisters a broker known only by its live-table key.
func (r *RouteInfo) dropBroker(key BrokerAddrInfo) string {
	name, ok := r.brokerNameOf(key)
	if !ok {
		delete(r.brokerLiveTable, key)
		delete(r.filterServerTable, key)
		return ""
	}
	r.UnregisterBroker(key.ClusterName, key.BrokerAddr, name)
	return name
}

// ScanNotActiveBrokers drops, in (cluster, address) order, every broker
// whose last registration is older than its timeout at now, and returns
// them so that the caller can close their connections and log.
func (r *RouteInfo) ScanNotActiveBrokers(now time.Duration) []ExpiredBroker {
	var out []ExpiredBroker
	for _, key := range r.liveKeys() {
		live := r.brokerLiveTable[key]
		if live.lastUpdate+live.timeout >= now {
			continue
		}
		name := r.dropBroker(key)
		out = append(out, ExpiredBroker{BrokerAddrInfo: key, BrokerName: name, ConnID: live.connID, Timeout: live.timeout})
	}
	return out
}

// ConnClosed drops every broker whose latest registration came on the
// connection connID, and returns them in (cluster, address) order. A broker
// that has since registered on a new connection is not affected.
func (r *RouteInfo) ConnClosed(connID uint64) []BrokerAddrInfo {
	var out []BrokerAddrInfo
	for _, key := range r.liveKeys() {
		if r.brokerLiveTable[key].connID != connID {
			continue
		}
		r.dropBroker(key)
		out = append(out, key)
	}
	return out
}

func (r *RouteInfo) liveKeys() []BrokerAddrInfo {
	keys := make([]BrokerAddrInfo, 0, len(r.brokerLiveTable))
	for k := range r.brokerLiveTable {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareAddrInfo)
	return keys
}

// Brokers lists the live brokers in (cluster, address) order.
func (r *RouteInfo) Brokers() []BrokerAddrInfo { return r.liveKeys() }

// Touch refreshes a broker's liveness without a registration
// (QUERY_DATA_VERSION, BROKER_HEARTBEAT). It reports whether the broker was
// registered.
func (r *RouteInfo) Touch(now time.Duration, clusterName, brokerAddr string) bool {
	live := r.brokerLiveTable[BrokerAddrInfo{clusterName, brokerAddr}]
	if live == nil {
		return false
	}
	live.lastUpdate = now
	return true
}

// BrokerDataVersion is the data version of a broker's last registration.
func (r *RouteInfo) BrokerDataVersion(clusterName, brokerAddr string) (DataVersion, bool) {
	live := r.brokerLiveTable[BrokerAddrInfo{clusterName, brokerAddr}]
	if live == nil {
		return DataVersion{}, false
	}
	return live.dataVersion, true
}

// TopicRoute returns the route of topic: its queue data and the brokers
// that serve it, both sorted by broker name. It reports false when no
// broker serves the topic.
func (r *RouteInfo) TopicRoute(topic string) (TopicRouteData, bool) {
	qds := r.topicQueueTable[topic]
	if len(qds) == 0 {
		return TopicRouteData{}, false
	}
	route := TopicRouteData{
		QueueDatas:        make([]QueueData, 0, len(qds)),
		BrokerDatas:       make([]BrokerData, 0, len(qds)),
		FilterServerTable: map[string][]string{},
	}
	for _, name := range sortedKeys(qds) {
		route.QueueDatas = append(route.QueueDatas, qds[name])
		bd := r.brokerAddrTable[name]
		if bd == nil {
			continue
		}
		route.BrokerDatas = append(route.BrokerDatas, bd.clone())
		if len(r.filterServerTable) == 0 {
			continue
		}
		for _, addr := range bd.BrokerAddrs {
			if fs := r.filterServerTable[BrokerAddrInfo{bd.Cluster, addr}]; len(fs) > 0 {
				route.FilterServerTable[addr] = slices.Clone(fs)
			}
		}
	}
	if len(route.BrokerDatas) == 0 {
		return TopicRouteData{}, false
	}
	return route, true
}

// ClusterInfo returns every broker name with its members, and every cluster
// with its broker names.
func (r *RouteInfo) ClusterInfo() ClusterInfo {
	ci := ClusterInfo{
		BrokerAddrTable:  make(map[string]BrokerData, len(r.brokerAddrTable)),
		ClusterAddrTable: make(map[string][]string, len(r.clusterAddrTable)),
	}
	for name, bd := range r.brokerAddrTable {
		ci.BrokerAddrTable[name] = bd.clone()
	}
	for cluster, names := range r.clusterAddrTable {
		ci.ClusterAddrTable[cluster] = sortedKeys(names)
	}
	return ci
}

// AllTopics lists every topic some broker serves, sorted.
func (r *RouteInfo) AllTopics() []string { return sortedKeys(r.topicQueueTable) }

// TopicsByCluster lists, sorted, the topics that some broker of cluster
// serves.
func (r *RouteInfo) TopicsByCluster(cluster string) []string {
	names := r.clusterAddrTable[cluster]
	var out []string
	for topic, qds := range r.topicQueueTable {
		for name := range names {
			if _, ok := qds[name]; ok {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// SystemTopics lists the cluster names and broker names (each a system
// topic in RocketMQ), with the address of one broker to ask about them: the
// lowest id of the first broker name.
func (r *RouteInfo) SystemTopics() TopicList {
	var tl TopicList
	for cluster, names := range r.clusterAddrTable {
		tl.TopicList = append(tl.TopicList, cluster)
		for name := range names {
			tl.TopicList = append(tl.TopicList, name)
		}
	}
	slices.Sort(tl.TopicList)
	tl.TopicList = slices.Compact(tl.TopicList)
	for _, name := range sortedKeys(r.brokerAddrTable) {
		bd := r.brokerAddrTable[name]
		if len(bd.BrokerAddrs) > 0 {
			tl.BrokerAddr = bd.BrokerAddrs[minID(bd.BrokerAddrs)]
			break
		}
	}
	return tl
}

// topicsWithFlag lists, sorted, the topics whose first queue data (by broker
// name) has a sysflag that match accepts.
func (r *RouteInfo) topicsWithFlag(match func(sysFlag int32) bool) []string {
	var out []string
	for _, topic := range sortedKeys(r.topicQueueTable) {
		qds := r.topicQueueTable[topic]
		if match(qds[sortedKeys(qds)[0]].TopicSysFlag) {
			out = append(out, topic)
		}
	}
	return out
}

// DeleteTopic removes topic's queue data: all of it when clusterName is
// empty, else only that of the cluster's brokers. The topic comes back when
// a broker that still has it registers.
func (r *RouteInfo) DeleteTopic(topic, clusterName string) {
	if clusterName == "" {
		delete(r.topicQueueTable, topic)
		return
	}
	for name := range r.clusterAddrTable[clusterName] {
		r.removeQueueData(topic, name)
	}
}

// WipeWritePerm removes the write permission from every topic of
// brokerName (WIPE_WRITE_PERM_OF_BROKER, to drain a broker before
// maintenance) and returns how many topics it changed. The broker's next
// registration with a new data version restores its own permissions.
func (r *RouteInfo) WipeWritePerm(brokerName string) int {
	return r.setWritePerm(brokerName, false)
}

// AddWritePerm gives the write permission back (ADD_WRITE_PERM_OF_BROKER).
func (r *RouteInfo) AddWritePerm(brokerName string) int {
	return r.setWritePerm(brokerName, true)
}

func (r *RouteInfo) setWritePerm(brokerName string, on bool) int {
	n := 0
	for _, topic := range r.topicsOf(brokerName) {
		qd := r.topicQueueTable[topic][brokerName]
		if on {
			qd.Perm |= PermWrite
		} else {
			qd.Perm &^= PermWrite
		}
		r.topicQueueTable[topic][brokerName] = qd
		n++
	}
	return n
}
