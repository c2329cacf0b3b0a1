// Package remoting speaks RocketMQ's classic remoting protocol: the frame and
// header codecs, the request and response codes, and the connection-level
// engine (Channel) that the broker's server side, Thrust's own clients and the
// broker's link to its name servers all use.
//
// # Frame
//
// Every message, in either direction, is one frame. Integers are big-endian.
//
//	 0               4               8
//	+---------------+-+-------------+---------------------+-----------------+
//	|    length     |T| header len  |       header        |      body       |
//	|   (uint32)    | |  (24 bits)  |  header len bytes   |  the rest, >= 0 |
//	+---------------+-+-------------+---------------------+-----------------+
//	                 \ serialize type: 0 JSON, 1 ROCKETMQ
//
//	length   = 4 + header len + body len   (the bytes after the length field)
//	frame    = 4 + length, at most Framer.MaxFrameBytes (default 16 MiB,
//	           Java's frameMaxLength); the header at most 2^24-1 bytes.
//
// The Go client's PULL_MESSAGE starts 00 00 01 3b 00 00 01 37: 315 bytes follow,
// a 311-byte JSON header, no body.
//
// # JSON header (serialize type 0)
//
// A UTF-8 JSON object. What the Go client sends:
//
//	{"code":11,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"",
//	 "extFields":{"consumerGroup":"cg","topic":"t","queueId":"1",...}}
//
// What Thrust sends, keys in the order of a Java broker (fastjson, sorted keys,
// nulls left out; an empty remark or empty extFields counts as null):
//
//	{"code":0,"extFields":{"msgId":"...","queueId":"1"},"flag":1,
//	 "language":"JAVA","opaque":1,"remark":"...",
//	 "serializeTypeCurrentRPC":"JSON","version":479}
//
// extFields values are always JSON strings on the way out, numbers and
// booleans included: the Go client fails to decode a whole header with any
// other value, and the call then times out. On the way in, numbers and
// booleans are kept as their text and null drops the key. The Go client
// cannot parse the "language" it receives (it compares the quoted token), which
// is harmless.
//
// # ROCKETMQ binary header (serialize type 1)
//
//	 0     2   3     5         9         13        17
//	+-----+---+-----+---------+---------+---------+--------+---------+------------+
//	|code |lng|versn| opaque  |  flag   | remark  | remark | ext len | ext entries|
//	|int16|u8 |int16|  int32  |  int32  | len R   | R bytes|  E      | E bytes    |
//	+-----+---+-----+---------+---------+---------+--------+---------+------------+
//
//	ext entry: key len (int16) | key | value len (int32) | value
//
// Lengths of zero mean empty. Java clients configured with
// rocketmq.serialize.type=ROCKETMQ send it; the Go client never does.
//
// # Which encoding goes out
//
// A response is encoded in its request's serialize type (NewResponse and
// Respond see to it), so Go clients get JSON. Requests Thrust originates are
// JSON.
//
// # Requests and responses
//
// Flag bit 0 (FlagResponse) marks a response, which carries its request's
// opaque; bit 1 (FlagOneway) marks a request that must not be answered. The Go
// client never sets FlagOneway, even on the requests it sends without waiting
// (UPDATE_CONSUMER_OFFSET, END_TRANSACTION), and drops responses it does not
// expect. Many requests are in flight on one connection and responses come back
// in any order; a long-polling pull held by the broker must not delay anything
// else on its connection. Everything here runs as callbacks on the node's loop,
// so nothing can block: a handler answers now or keeps the request and answers
// later.
//
// An unknown request code is answered REQUEST_CODE_NOT_SUPPORTED with Java's
// remark " request type N not supported". A frame whose header does not decode
// is answered SYSTEM_ERROR if it was surely a two-way request (its opaque and
// flag were read before the error), fails the pending call if it was surely a
// response, is dropped if it was a oneway request, and otherwise closes the
// connection. A frame whose lengths are inconsistent closes the connection.
//
// # What this package may import
//
// The standard library's pure packages and broker/host, nothing else. Time
// comes from host.Clock, connections from host.Network; it starts no goroutines
// and uses no select, so it runs unchanged in oshost and in the simulator.
//
// # Invariants
//
//   - Framer.FrameLen and Framer.Decode are pure functions of their input:
//     oshost may call them on a connection's reader goroutine and the
//     simulator inline, with the same results.
//   - No length read from the wire is trusted before it is checked against
//     the bytes that remain (for a frame: against the limit, before anything
//     is buffered), so a peer cannot make the broker allocate more than it
//     sent. Decoded headers hold at most MaxExtFields fields.
//   - Output never depends on map iteration: extFields are an ordered slice,
//     JSON keys are written in a fixed order, and a closing channel fails its
//     pending calls in the order they were made.
//   - Every Invoke callback runs exactly once, from its own loop event: on
//     the response, on its timeout, or when the channel closes.
//   - No response is ever sent for a oneway request, nor for a frame that
//     might have been a response.
//
// # Request codes
//
// Numbers and names are Java's (RequestCode.java); the Go constant is the
// name in Go case (SEND_MESSAGE is SendMessage). Who sends each code, where
// it matters to Thrust:
//
//	  10  SEND_MESSAGE                              Go producer; consumer send-back; trace
//	  11  PULL_MESSAGE                              Go consumers (long poll)
//	  12  QUERY_MESSAGE                             Java tools (by key)
//	  13  QUERY_BROKER_OFFSET
//	  14  QUERY_CONSUMER_OFFSET                     Go clustering consumers
//	  15  UPDATE_CONSUMER_OFFSET                    Go clustering consumers, no ONEWAY flag
//	  17  UPDATE_AND_CREATE_TOPIC                   Go admin
//	  18  UPDATE_AND_CREATE_TOPIC_LIST
//	  21  GET_ALL_TOPIC_CONFIG                      slave → master sync
//	  22  GET_TOPIC_CONFIG_LIST
//	  23  GET_TOPIC_NAME_LIST
//	  25  UPDATE_BROKER_CONFIG
//	  26  GET_BROKER_CONFIG
//	  27  TRIGGER_DELETE_FILES
//	  28  GET_BROKER_RUNTIME_INFO                   Java admin
//	  29  SEARCH_OFFSET_BY_TIMESTAMP                Go consumers
//	  30  GET_MAX_OFFSET                            Go consumers
//	  31  GET_MIN_OFFSET                            Java clients
//	  32  GET_EARLIEST_MSG_STORETIME
//	  33  VIEW_MESSAGE_BY_ID                        Java tools
//	  34  HEART_BEAT                                every client
//	  35  UNREGISTER_CLIENT                         Java clients (Go only closes)
//	  36  CONSUMER_SEND_MSG_BACK                    Go consumers
//	  37  END_TRANSACTION                           Go transactional producer, no ONEWAY flag
//	  38  GET_CONSUMER_LIST_BY_GROUP                Go clustering consumers
//	  39  CHECK_TRANSACTION_STATE                   broker → client, ONEWAY
//	  40  NOTIFY_CONSUMER_IDS_CHANGED               broker → client, ONEWAY
//	  41  LOCK_BATCH_MQ                             Go orderly consumers
//	  42  UNLOCK_BATCH_MQ                           Go orderly consumers
//	  43  GET_ALL_CONSUMER_OFFSET                   slave → master sync
//	  45  GET_ALL_DELAY_OFFSET                      slave → master sync
//	  46  CHECK_CLIENT_CONFIG                       Java clients
//	  47  GET_CLIENT_CONFIG
//	  50  UPDATE_AND_CREATE_ACL_CONFIG
//	  51  DELETE_ACL_CONFIG
//	  52  GET_BROKER_CLUSTER_ACL_INFO
//	  53  UPDATE_GLOBAL_WHITE_ADDRS_CONFIG
//	  54  GET_BROKER_CLUSTER_ACL_CONFIG
//	  60  GET_TIMER_CHECK_POINT
//	  61  GET_TIMER_METRICS
//	 100  PUT_KV_CONFIG                             name server KV
//	 101  GET_KV_CONFIG                             name server KV
//	 102  DELETE_KV_CONFIG                          name server KV
//	 103  REGISTER_BROKER                           broker → name server
//	 104  UNREGISTER_BROKER                         broker → name server
//	 105  GET_ROUTEINFO_BY_TOPIC                    every client → name server
//	 106  GET_BROKER_CLUSTER_INFO                   admin → name server
//	 200  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
//	 201  GET_ALL_SUBSCRIPTIONGROUP_CONFIG          Go admin; slave → master sync
//	 202  GET_TOPIC_STATS_INFO
//	 203  GET_CONSUMER_CONNECTION_LIST
//	 204  GET_PRODUCER_CONNECTION_LIST
//	 205  WIPE_WRITE_PERM_OF_BROKER
//	 206  GET_ALL_TOPIC_LIST_FROM_NAMESERVER        Go admin → name server
//	 207  DELETE_SUBSCRIPTIONGROUP
//	 208  GET_CONSUME_STATS
//	 209  SUSPEND_CONSUMER
//	 210  RESUME_CONSUMER
//	 211  RESET_CONSUMER_OFFSET_IN_CONSUMER
//	 212  RESET_CONSUMER_OFFSET_IN_BROKER
//	 213  ADJUST_CONSUMER_THREAD_POOL
//	 214  WHO_CONSUME_THE_MESSAGE
//	 215  DELETE_TOPIC_IN_BROKER                    Go admin
//	 216  DELETE_TOPIC_IN_NAMESRV                   Go admin → name server
//	 217  REGISTER_TOPIC_IN_NAMESRV
//	 219  GET_KVLIST_BY_NAMESPACE                   name server KV
//	 220  RESET_CONSUMER_CLIENT_OFFSET              broker → client, ONEWAY
//	 221  GET_CONSUMER_STATUS_FROM_CLIENT           broker → client
//	 222  INVOKE_BROKER_TO_RESET_OFFSET
//	 223  INVOKE_BROKER_TO_GET_CONSUMER_STATUS
//	 224  GET_TOPICS_BY_CLUSTER
//	 225  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST
//	 300  QUERY_TOPIC_CONSUME_BY_WHO
//	 301  REGISTER_FILTER_SERVER
//	 302  REGISTER_MESSAGE_FILTER_CLASS
//	 303  QUERY_CONSUME_TIME_SPAN
//	 304  GET_SYSTEM_TOPIC_LIST_FROM_NS
//	 305  GET_SYSTEM_TOPIC_LIST_FROM_BROKER
//	 306  CLEAN_EXPIRED_CONSUMEQUEUE
//	 307  GET_CONSUMER_RUNNING_INFO                 broker → client
//	 308  QUERY_CORRECTION_OFFSET
//	 309  CONSUME_MESSAGE_DIRECTLY                  broker → client
//	 310  SEND_MESSAGE_V2                           Java producers
//	 311  GET_UNIT_TOPIC_LIST
//	 312  GET_HAS_UNIT_SUB_TOPIC_LIST
//	 313  GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST
//	 314  CLONE_GROUP_OFFSET
//	 315  VIEW_BROKER_STATS_DATA
//	 316  CLEAN_UNUSED_TOPIC
//	 317  GET_BROKER_CONSUME_STATS
//	 318  UPDATE_NAMESRV_CONFIG
//	 319  GET_NAMESRV_CONFIG
//	 320  SEND_BATCH_MESSAGE                        Go batch producer
//	 321  QUERY_CONSUME_QUEUE
//	 322  QUERY_DATA_VERSION                        broker → name server
//	 323  RESUME_CHECK_HALF_MESSAGE
//	 324  SEND_REPLY_MESSAGE                        Go request/reply
//	 325  SEND_REPLY_MESSAGE_V2                     Java request/reply
//	 326  PUSH_REPLY_MESSAGE_TO_CLIENT              broker → client
//	 327  ADD_WRITE_PERM_OF_BROKER
//	 328  GET_ALL_PRODUCER_INFO
//	 329  DELETE_EXPIRED_COMMITLOG
//	 343  QUERY_TOPICS_BY_CONSUMER
//	 345  QUERY_SUBSCRIPTION_BY_CONSUMER
//	 351  GET_TOPIC_CONFIG
//	 352  GET_SUBSCRIPTIONGROUP_CONFIG
//	 353  UPDATE_AND_GET_GROUP_FORBIDDEN
//	 354  CHECK_ROCKSDB_CQ_WRITE_PROGRESS
//	 361  LITE_PULL_MESSAGE
//	 400  QUERY_ASSIGNMENT
//	 401  SET_MESSAGE_REQUEST_MODE
//	 402  GET_ALL_MESSAGE_REQUEST_MODE
//	 513  UPDATE_AND_CREATE_STATIC_TOPIC
//	 901  GET_BROKER_MEMBER_GROUP
//	 902  ADD_BROKER
//	 903  REMOVE_BROKER
//	 904  BROKER_HEARTBEAT                          broker → name server (controller modes)
//	 905  NOTIFY_MIN_BROKER_ID_CHANGE
//	 906  EXCHANGE_BROKER_HA_INFO
//	 907  GET_BROKER_HA_STATUS
//	 908  RESET_MASTER_FLUSH_OFFSET
//	1001  CONTROLLER_ALTER_SYNC_STATE_SET
//	1002  CONTROLLER_ELECT_MASTER
//	1003  CONTROLLER_REGISTER_BROKER
//	1004  CONTROLLER_GET_REPLICA_INFO
//	1005  CONTROLLER_GET_METADATA_INFO
//	1006  CONTROLLER_GET_SYNC_STATE_DATA
//	1007  GET_BROKER_EPOCH_CACHE
//	1008  NOTIFY_BROKER_ROLE_CHANGED
//	1009  UPDATE_CONTROLLER_CONFIG
//	1010  GET_CONTROLLER_CONFIG
//	1011  CLEAN_BROKER_DATA
//	1012  CONTROLLER_GET_NEXT_BROKER_ID
//	1013  CONTROLLER_APPLY_BROKER_ID
//	1014  BROKER_CLOSE_CHANNEL_REQUEST
//	1015  CHECK_NOT_ACTIVE_BROKER_REQUEST
//	1016  GET_BROKER_LIVE_INFO_REQUEST
//	1017  GET_SYNC_STATE_DATA_REQUEST
//	1018  RAFT_BROKER_HEART_BEAT_EVENT_REQUEST
//	2001  UPDATE_COLD_DATA_FLOW_CTR_CONFIG
//	2002  REMOVE_COLD_DATA_FLOW_CTR_CONFIG
//	2003  GET_COLD_DATA_FLOW_CTR_INFO
//	2004  SET_COMMITLOG_READ_MODE
//	3001  AUTH_CREATE_USER
//	3002  AUTH_UPDATE_USER
//	3003  AUTH_DELETE_USER
//	3004  AUTH_GET_USER
//	3005  AUTH_LIST_USER
//	3006  AUTH_CREATE_ACL
//	3007  AUTH_UPDATE_ACL
//	3008  AUTH_DELETE_ACL
//	3009  AUTH_GET_ACL
//	3010  AUTH_LIST_ACL
//	3442  POP_MESSAGE
//	3443  ACK_MESSAGE
//	3444  PEEK_MESSAGE
//	3445  CHANGE_MESSAGE_INVISIBLETIME
//	3446  NOTIFICATION
//	3447  POLLING_INFO
//	3543  BATCH_ACK_MESSAGE
//
// # Response codes
//
// Numbers and names are Java's (RemotingSysResponseCode.java, ResponseCode.java):
//
//	    0  SUCCESS
//	    1  SYSTEM_ERROR                              SEND: Go retries
//	    2  SYSTEM_BUSY                               SEND: not retried
//	    3  REQUEST_CODE_NOT_SUPPORTED                unknown request code
//	    4  TRANSACTION_FAILED
//	   10  FLUSH_DISK_TIMEOUT                        SEND: stored
//	   11  SLAVE_NOT_AVAILABLE                       SEND: stored
//	   12  FLUSH_SLAVE_TIMEOUT                       SEND: stored
//	   13  MESSAGE_ILLEGAL
//	   14  SERVICE_NOT_AVAILABLE                     SEND: Go retries
//	   15  VERSION_NOT_SUPPORTED
//	   16  NO_PERMISSION                             SEND: Go retries
//	   17  TOPIC_NOT_EXIST                           no route; SEND: Go retries
//	   18  TOPIC_EXIST_ALREADY
//	   19  PULL_NOT_FOUND                            PULL: no new message
//	   20  PULL_RETRY_IMMEDIATELY                    PULL: no matched message
//	   21  PULL_OFFSET_MOVED                         PULL: offset illegal
//	   22  QUERY_NOT_FOUND                           no committed offset
//	   23  SUBSCRIPTION_PARSE_FAILED
//	   24  SUBSCRIPTION_NOT_EXIST                    PULL before heartbeat
//	   25  SUBSCRIPTION_NOT_LATEST
//	   26  SUBSCRIPTION_GROUP_NOT_EXIST              PULL / SEND_BACK / offset
//	   27  FILTER_DATA_NOT_EXIST
//	   28  FILTER_DATA_NOT_LATEST
//	   29  INVALID_PARAMETER                         bad queueId or topic name
//	  200  TRANSACTION_SHOULD_COMMIT
//	  201  TRANSACTION_SHOULD_ROLLBACK
//	  202  TRANSACTION_STATE_UNKNOW
//	  203  TRANSACTION_STATE_GROUP_WRONG
//	  204  NO_BUYER_ID
//	  205  NOT_IN_CURRENT_UNIT
//	  206  CONSUMER_NOT_ONLINE
//	  207  CONSUME_MSG_TIMEOUT
//	  208  NO_MESSAGE
//	  209  POLLING_FULL
//	  210  POLLING_TIMEOUT
//	  211  BROKER_NOT_EXIST
//	  212  BROKER_DISPATCH_NOT_COMPLETE
//	  213  BROADCAST_CONSUMPTION
//	  215  FLOW_CONTROL
//	  501  NOT_LEADER_FOR_QUEUE
//	  604  ILLEGAL_OPERATION                         END_TRANSACTION too late
//	 1500  GO_AWAY                                   only to clients > V5_3_1
//	 2000  CONTROLLER_FENCED_MASTER_EPOCH
//	 2001  CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH
//	 2002  CONTROLLER_INVALID_MASTER
//	 2003  CONTROLLER_INVALID_REPLICAS
//	 2004  CONTROLLER_MASTER_NOT_AVAILABLE
//	 2005  CONTROLLER_INVALID_REQUEST
//	 2006  CONTROLLER_BROKER_NOT_ALIVE
//	 2007  CONTROLLER_NOT_LEADER
//	 2008  CONTROLLER_BROKER_METADATA_NOT_EXIST
//	 2009  CONTROLLER_INVALID_CLEAN_BROKER_METADATA
//	 2010  CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
//	 2011  CONTROLLER_MASTER_STILL_EXIST
//	 2012  CONTROLLER_ELECT_MASTER_FAILED
//	 2013  CONTROLLER_ALTER_SYNC_STATE_SET_FAILED
//	 2014  CONTROLLER_BROKER_ID_INVALID
//	 2015  CONTROLLER_JRAFT_INTERNAL_ERROR
//	 2016  CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS
//	 3001  USER_NOT_EXIST
//	 3002  POLICY_NOT_EXIST
//	-1000  RPC_UNKNOWN
//	-1002  RPC_ADDR_IS_NULL
//	-1004  RPC_SEND_TO_CHANNEL_FAILED
//	-1006  RPC_TIME_OUT
package remoting
