// Package scenario is mqsim's engine: one seeded run of the whole system.
//
// Run draws every option from the seed (brokers, flush mode, write path,
// segment size, workload, disk and network fault rates, a fault schedule,
// consumer restarts), builds a cluster of unchanged name servers and
// brokers on simulated hosts, drives recording producers and consumer
// groups through a safety phase with faults, then a liveness phase without
// (heal, restart, wait for every group to catch up), reads every queue as
// an oracle, and hands the history to package linearizability. A planted
// bug (faults.Bugs) switches on one fault site and forces what the bug
// needs to be reachable.
//
// The result carries the world's digest (a hash of its trace: the same
// seed gives the same digest on any machine and any GOMAXPROCS), the
// history, the checkers' report, coverage probes (dangerous states the run
// reached) and an outcome that maps to mqsim's exit codes.
//
// Like sim, it runs on one goroutine, with time and randomness only from
// the world; the checkers run after the world has stopped.
package scenario
