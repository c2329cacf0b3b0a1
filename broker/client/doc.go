// Package client is Thrust's own RocketMQ client: it speaks the remoting
// protocol (the 4.x wire protocol the official Go client speaks) to name
// servers and brokers, Thrust's or anyone's. The simulator's workloads drive
// it inside the deterministic world, and the benchmarks on real sockets.
//
// # Model
//
// A Client lives on one node's loop, like the broker: it is built from a
// host.Env, every method is called on the loop, and every result comes back
// as a callback on the loop, always from a later loop event than the call
// that caused it, never from inside it. Nothing blocks; time is
// Env.Clock's, randomness Env.Rand's (the instance name and the UNIQ_KEY
// generator's seed), and connections Env.Net's, so a simulated run replays
// from its seed.
//
// What it offers:
//
//	routes     GET_ROUTEINFO_BY_TOPIC to the name servers (round robin,
//	           failover), cached and refreshed every RouteRefreshInterval;
//	           SetRoute pins a route and bypasses them. A send to a topic
//	           no name server knows uses TBW102's route, capped at 4 queues,
//	           so the broker creates the topic (the Go producer's fallback).
//	producer   Send (SEND_MESSAGE, the long header the Go client sends),
//	           SendBatch (SEND_BATCH_MESSAGE, V2 header), SendOneway; retries
//	           on another broker on SYSTEM_ERROR, SERVICE_NOT_AVAILABLE,
//	           NO_PERMISSION, TOPIC_NOT_EXIST and transport failures.
//	primitives Pull, QueryConsumerOffset, UpdateConsumerOffset (awaited, not
//	           fire-and-forget), GetMaxOffset, GetMinOffset, SearchOffset,
//	           Heartbeat, ConsumerList, CreateTopic, and a hook for
//	           NOTIFY_CONSUMER_IDS_CHANGED.
//	Consumer   clustering or broadcasting push consumer: heartbeats,
//	           rebalance (AllocateByAveragely), long-polling pull loops,
//	           in-order delivery, offset commits, send-back on failure.
//
// # What a send's outcome means
//
// Histories record every operation as ok, failed or indefinite, and the
// checkers depend on telling the last two apart, so the client tracks, for
// every attempt of a send, whether its request left the client:
//
//   - A request is written to a connection only once the transport has
//     reported the connection open; requests issued earlier wait (bounded by
//     MaxPendingPerConn and their own timeout). A request that fails before
//     it is written (the connection was refused, never opened in time, or
//     refused the write; the client closed) certainly never reached the
//     broker.
//   - A written request that gets a response is decided by the code:
//     SUCCESS, FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT and
//     SLAVE_NOT_AVAILABLE mean stored; any other code means not stored.
//   - A written request without a response (timeout; connection lost) is
//     ambiguous: the broker may have stored the message.
//
// A SendResult with Err == nil is acknowledged (OutcomeOK). With Err set,
// Indefinite is true exactly when at least one attempt was ambiguous and
// none was acknowledged (OutcomeIndefinite: the message may be stored, even
// more than once, under its one UNIQ_KEY); otherwise no attempt can have
// stored it (OutcomeFailed). An acknowledged result with Ambiguous > 0 warns
// that an earlier attempt may have stored a duplicate. A oneway send is
// never acknowledged: written means indefinite, unwritten means failed.
//
// Every single message and every batch member carries a UNIQ_KEY, generated
// once per send (retries reuse it) unless the caller set one; SendResult and
// MessageExt report it as MsgID, so histories can match sends to
// deliveries.
//
// # What a consumer promises
//
// Messages of one queue reach the handler in the order the broker returned
// them, which for a correct broker is queue order. Every record of a pull
// body is checked (framing, magic, body CRC) before any is delivered; a body
// that fails is reported as a pull error and nothing of it is delivered or
// skipped. The client hides no broker misbehaviour (a stale or out-of-order
// answer is delivered as received, for the checkers to judge). The
// committed offset of a queue is one past the last consumed message and
// never passes a message not yet consumed. See Consumer for rebalancing and
// commits.
//
// # Bounds
//
// Requests per connection (waiting to open or awaiting an answer):
// MaxPendingPerConn. Every request has a timeout. Send attempts:
// 1+RetryTimesWhenSendFailed, at most 17. Bodies: MaxMessageBytes. Inflated
// bodies: 64 MiB. Route queue counts: 65536 per broker. Messages held per
// queue: one pull's worth (PullBatchSize). Cached routes grow with the
// topics used.
//
// # Determinism
//
// Maps are only looked up; wherever the client walks one (connections on
// Close, routes on refresh, brokers to heartbeat, queues to commit,
// consumers in a heartbeat), it walks sorted keys. Queue lists are sorted by
// (topic, broker, queue id), client id lists as strings.
//
// # What this package may import
//
// The standard library's pure packages (compress/zlib and encoding/json
// among them), broker/host, broker/remoting and broker/message. Not os,
// net, syscall, sync, time.Now and the timers, global math/rand,
// crypto/rand, goroutines or select (the lint test enforces it), and not
// the broker, the simulator or anything that drives or judges them.
package client
