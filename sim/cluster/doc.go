// Package cluster wires Thrust's production code (name server and brokers,
// unchanged) and client hosts onto a simulated world, and starts and
// crashes their processes on behalf of workloads and fault schedules.
//
// It may import sim, the broker packages and the standard library; like sim
// it runs on the world's one goroutine and takes time and randomness only
// from it.
package cluster
