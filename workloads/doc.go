// Package workloads drives simulated (or real) clusters with seeded
// producer and consumer mixes whose every message carries a unique id, and
// records what happened as a history: each client operation with its
// invoke and completion times in virtual time and a result of ok, failed
// or indefinite, plus the harness's faults and oracle observations. The
// checkers in package linearizability judge the history.
//
// It may import broker/client, broker/host, broker/message and the
// standard library. Like everything that runs inside the simulator it
// takes time and randomness only from host.Env.
package workloads
