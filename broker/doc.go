// Package broker is a RocketMQ broker: the request processors between the
// remoting server and the store, and the services around them (topic and
// subscription-group configuration, consumer offsets, client membership,
// long polling, delayed delivery, name-server registration).
//
// # Requests
//
//	SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE      send.go
//	PULL_MESSAGE (long polling)                            pull.go
//	HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP,
//	QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//	SEARCH_OFFSET_BY_TIMESTAMP, admin requests             manage.go
//
// # Invariants
//
//   - Everything runs on the node's loop, one callback at a time; there are
//     no locks. A held pull is a parked request, never a blocked goroutine,
//     so it cannot delay other requests on its connection.
//   - A send is answered only with the store's verdict: under SYNC_FLUSH,
//     after the sync that covers it.
//   - Membership comes from heartbeats and connection closes, and every
//     change of a clustering group's membership is pushed to its members
//     (NOTIFY_CONSUMER_IDS_CHANGED).
//   - Nothing that reaches the wire, the disk or a log depends on map
//     iteration order.
//
// # Imports
//
// broker/host, broker/remoting, broker/store, broker/message, broker/conf
// and the standard library's pure packages; time, files, sockets and
// randomness come through host.Env. Never sim, faults, workloads,
// linearizability, benchmarks, reports or cmd.
package broker
