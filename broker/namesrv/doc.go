// Package namesrv is Thrust's name server: the directory that RocketMQ
// clients ask which brokers serve a topic, and that brokers keep informed of
// themselves. It speaks the name-server half of RocketMQ's remoting protocol,
// so the official clients (Go and Java) and Java tools work against it
// unchanged.
//
// # What it keeps (RouteInfo, RocketMQ's RouteInfoManager)
//
//	topicQueueTable    topic → broker name → QueueData{read, write, perm, sysFlag}
//	brokerAddrTable    broker name → BrokerData{cluster, brokerAddrs{id → addr}}
//	clusterAddrTable   cluster → broker names
//	brokerLiveTable    (cluster, addr) → last registration (host.Clock.Mono),
//	                   timeout, data version, connection, HA address
//
// Brokers fill it: REGISTER_BROKER every 30 s and after each topic change
// carries the broker's topics and a data version. Only a master (broker id
// 0) publishes topics, and its queue data is rewritten only on its first
// registration, when its data version changed, or for a topic the table
// lacks for it; a slave registration adds its address and learns its
// master's (masterAddr, haServerAddr in the response). With
// enableActingMaster, a masterless broker's lowest-id slave publishes its
// topics read-only. TBW102, the template topic a broker registers when it
// auto-creates topics (perm 7, with INHERIT), is served like any other.
//
// Brokers leave it: on UNREGISTER_BROKER; when their connection closes;
// and when no registration came within their timeout (heartbeatTimeoutMillis,
// default 120 s), checked every scanNotActiveBrokerInterval (5 s) by a timer
// on the loop, which also closes the connection. A broker leaving removes
// its address; the broker name's last address removes the name, its queue
// data from every topic (a topic left without queue data disappears) and,
// if it was the cluster's last, the cluster.
//
// # What it answers
//
//	100-102, 219  PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE
//	103, 104      REGISTER_BROKER (JSON or compressed body, bodyCrc32), UNREGISTER_BROKER
//	105           GET_ROUTEINFO_BY_TOPIC, or 17 TOPIC_NOT_EXIST
//	106           GET_BROKER_CLUSTER_INFO
//	205, 327      WIPE/ADD_WRITE_PERM_OF_BROKER
//	206, 224      GET_ALL_TOPIC_LIST_FROM_NAMESERVER, GET_TOPICS_BY_CLUSTER
//	216           DELETE_TOPIC_IN_NAMESRV
//	304, 311-313  system and unit topic lists
//	319           GET_NAMESRV_CONFIG
//	322, 904      QUERY_DATA_VERSION, BROKER_HEARTBEAT (both count as a heartbeat)
//
// Anything else is answered REQUEST_CODE_NOT_SUPPORTED by package remoting.
// Malformed headers and bodies get SYSTEM_ERROR with the reason as remark.
//
// # Route JSON
//
// The body of a GET_ROUTEINFO_BY_TOPIC answer is compact JSON with keys in
// fastjson's (sorted) order, brokers and queue data sorted by broker name,
// and broker ids sorted numerically (shown here on several lines, one line on
// the wire):
//
//	{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},
//	  "brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],
//	 "filterServerTable":{},
//	 "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,
//	  "topicSysFlag":0,"writeQueueNums":4}]}
//
// The Go client reads brokerAddrs by cutting its raw text at commas and at
// the first colon, so a blank anywhere in it would end up inside an address,
// and it panics if brokerAddrs is missing; it fails without queueDatas. A
// Java name server writes the broker ids without quotes ({0:"..."}) for
// clients older than 4.9.4, the Go client included; Thrust always quotes
// them, which both clients parse. orderTopicConf appears only with
// orderMessageEnable and an ORDER_TOPIC_CONFIG entry for the topic. An
// unknown topic is answered 17 with Java's remark "No topic route info in
// name server for the topic: <topic>" (without Java's FAQ link).
//
// # What this package may import
//
// The standard library's pure packages, broker/host (the seam),
// broker/remoting (the protocol) and broker/conf (namesrv.conf). Time comes
// from host.Clock, connections from host.Network, the KV file from host.FS.
//
// # Invariants
//
//   - Every QueueData's broker name has a BrokerData; no BrokerData, cluster
//     or topic is left empty; an address appears once per BrokerData.
//   - Output is deterministic byte for byte: maps are iterated in sorted key
//     order on their way to the wire, logs and the KV file.
//   - Everything runs on the node's loop: handlers, the expiry timer, the
//     connection-close hook. Nothing starts a goroutine or reads the real
//     clock, so the package runs unchanged in oshost and in the simulator.
//   - A KV change is acknowledged only once durable (written, synced,
//     renamed, directory synced), and applied in memory only then.
//
// # Not supported
//
// Static topics (5.x topicQueueMapping), acting-master route rewriting
// (supportActingMaster), the 5.x controller, the start-up wait
// (needWaitForService), notifyMinBrokerIdChanged, REGISTER_TOPIC_IN_NAMESRV
// and UPDATE_NAMESRV_CONFIG.
package namesrv
