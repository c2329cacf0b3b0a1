// Package lint enforces, as an ordinary test (go test ./internal/lint), the
// rules that keep Thrust deterministic and its layers apart. It is Pebble's
// internal/lint habit: each rule is a plain AST check over the source, and
// each message names the file and line, what is wrong and what to use
// instead:
//
//	broker/store/x.go:12: time.Now reads the real clock; use host.Clock.Now, or Mono for intervals (determinism rule)
//
// The checks use only go/parser and go/ast (no type checking, no loading of
// dependencies), so the whole tree is checked in well under a second.
//
// # What is checked
//
// Every non-test .go file of the main module, found by walking from the
// directory whose go.mod declares github.com/thrustmq/thrust. Hidden and
// underscore directories, testdata, vendor and nested modules (directories
// with a go.mod of their own, such as broker/message/gocheck) are skipped,
// as are files marked //go:build ignore. Files ending in _test.go are exempt
// from every rule: tests may use the real clock, real files and oshost.
//
// # Determinism rule (broker/... except broker/host/oshost, and sim/...)
//
// The simulator runs unmodified broker code on a seeded virtual clock, one
// goroutine for the whole world; one seed must be one exact run. So this
// code must not:
//
//   - read the real clock: time.Now, Since, Until, Sleep, After, AfterFunc,
//     NewTimer, NewTicker, Tick, and the machine's zone (time.Local,
//     time.LoadLocation). Time comes from host.Clock. time.Duration and
//     time.Time values, their methods, and pure constructors such as
//     time.Unix, time.UnixMilli and time.Date are fine;
//   - use the global random generator: any package-level function of
//     math/rand or math/rand/v2 except the constructors of seeded sources
//     (New, NewPCG, NewChaCha8, NewSource, NewZipf). Randomness comes from
//     host.Rand or a named sim stream;
//   - import crypto/rand (cannot be seeded) or hash/maphash (seeds itself
//     per process);
//   - reach the operating system: os and os/..., net and net/... (net/netip
//     and net/url are pure values and allowed), syscall, golang.org/x/sys/...,
//     io/ioutil, or the file-system functions of path/filepath (Abs,
//     EvalSymlinks, Glob, Walk, WalkDir). Files, sockets and settings come
//     through host.FS, host.Network and the caller;
//   - let the Go scheduler decide order: no go statements, no select, no
//     import of runtime, sync or sync/atomic. Broker state belongs to its
//     node's loop; locks on it are a design smell (shard by queue instead).
//
// broker/host/oshost is the one place under broker/ that does all of this,
// and posts every completion back to the loop. cmd/ and the real-mode
// packages are not in the simulated world and are not checked.
//
// Identifiers are resolved as the compiler would without type checking:
// renamed imports (import mrand "math/rand/v2") are followed, a local
// variable that shadows a package name is not mistaken for it, and a
// reference counts as a call (f := time.Now is as bad as time.Now()).
//
// # Import rule (everywhere)
//
// No dot imports: they hide which package a name comes from, and with it
// the calls the determinism rule looks for.
//
// # Layering rule
//
//   - broker/... imports nothing of sim, faults, workloads, linearizability,
//     benchmarks, reports or cmd: the broker must not know the world that
//     tests it or the tools that drive and judge it;
//   - broker/host, the seam, imports only the standard library, so that
//     every world can implement it;
//   - package sim imports, of this module, only broker/host: it knows
//     nothing about brokers (a harness such as sim/cluster wires them);
//   - broker/host/oshost is imported only by itself, cmd/ and benchmarks/
//     (and by tests). Everything else takes a host.Env from its caller, so
//     it runs in the simulator too.
//
// # Doc rule
//
// Every package directory (one with non-test .go files) has a doc.go that
// carries the package comment: for a library it opens with "Package
// <name>", for a command any comment will do. The doc says what the package
// is for, what it may import and the invariants it keeps.
//
// # What is not checked here
//
// Map iteration reaching output, and pointers, pids, hostnames or real
// ports in traces, need a reviewer or the determinism test (the same seed
// run twice, and under GOMAXPROCS=1 and 2, gives one trace digest); an AST
// scan cannot see them.
package lint
