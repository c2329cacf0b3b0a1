// Package faults is the vocabulary of what goes wrong in a simulated run:
// fault kinds (process crash, power loss, partitions, clock steps), the
// schedules drawn from a run's seed, and the catalog of planted bugs.
//
// Fault sites live in production code as host.Faults.Fire(site) calls
// (broker/store names its planted bugs there); the simulator answers them
// from its seeded streams, and the real host never fires them. Disk errors
// (EIO, ENOSPC), packet loss and resets are per-operation probabilities of
// the simulated disk and network (sim.DiskFaults, sim.NetFaults).
//
// It imports only the standard library and draws randomness only from the
// *rand.Rand its caller derives from the run's seed.
package faults
