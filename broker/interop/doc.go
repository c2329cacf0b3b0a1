// Package interop proves that the official RocketMQ Go client
// (github.com/apache/rocketmq-client-go/v2), unchanged, works end to end
// against Thrust running as a separate process, as users run it:
// mqbroker -standalone, name server and broker on 127.0.0.1, a store in a
// temporary directory.
//
// Each test builds cmd/mqbroker from the repository root (../..) with
// go build, starts its own broker, and drives it through the client's
// public API only. Together they show that:
//
//   - producers' SendSync, SendAsync, SendOneWay and batch sends succeed on
//     topics created with the admin API and auto-created through TBW102, and
//     every message is stored at the queue and offset its send result
//     names, under the message ids the result reports;
//   - a clustering push-consumer group of two members receives every
//     message exactly once across the group, with body, keys, tags, user
//     properties, message id, queue id and queue offset intact, and after
//     one member leaves the other takes over all queues from the committed
//     offsets, again exactly once;
//   - a broadcasting group delivers every message exactly once to each
//     member, with offsets kept in the client's local store only;
//   - a pull consumer reads a queue from offset 0 in order with contiguous
//     offsets, and from the offset the broker finds for a timestamp;
//   - a clustering group that shut down cleanly, across a clean broker
//     restart (SIGTERM) on the same store, resumes at its committed offsets:
//     nothing already consumed is delivered again;
//   - a "tagA || tagB" subscription receives only those tags, and the
//     broker itself filters the others out of pull responses.
//
// The broker's stderr (its slog output) is printed with any failure.
//
// It is a nested module so that the client and its dependency graph stay
// out of the broker's go.mod; it does not import the broker's module. It
// holds tests only; run them with
//
//	cd broker/interop && go test ./...
package interop
