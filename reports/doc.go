// Package reports holds mqbench's results format and renders it: `mqbench
// run` writes a Suite as DIR/results.json (Write), `mqbench report DIR`
// turns it into DIR/report.md and DIR/report.html (WriteReport), and the
// end of a run prints Summary, a k6-like text block, to the terminal.
//
// It may import the standard library only: no template engines, no chart
// libraries, no JavaScript. The HTML page is self-contained (inline CSS,
// inline SVG drawn by hand, system fonts) so that it can be mailed or
// attached to an issue and open the same anywhere.
//
// # Invariants
//
//   - Determinism: RenderMarkdown, RenderHTML and Summary are pure
//     functions of the Suite. Same Suite, same bytes: every map is read in
//     sorted key order, runs are ordered by (Repetition, Order), numbers go
//     through strconv with fixed precision (format.go), coordinates through
//     one rounding (svg.go), and the only times printed are the Suite's own
//     Started and Finished, in UTC. testdata/golden holds the expected
//     output of a representative suite; `go test ./reports -run TestGolden
//     -update` rewrites it.
//   - Nothing panics on thin data. A configuration with no runs, a run
//     that acknowledged nothing, a latency without a spectrum, a suite
//     without peers, comparisons or thresholds, NaN or ±Inf: the figure
//     prints "n/a" and a chart without data says so.
//   - Figures over repetitions are "median [min..max]" (Over, Stat). A
//     figure a run lacks (the latency of a run that acknowledged nothing, a
//     CPU time not measured, which is zero) is left out, not counted as 0.
//     Charts draw each configuration's median run (MedianRun), a run that
//     happened rather than an average of several.
//   - Ratios (Suite.Comparisons) and their targets are the runner's; this
//     package prints them with the medians they came from and says, in
//     the report, that they are measurements on one machine, never
//     assertions. Thresholds likewise arrive judged (Threshold.OK).
//   - The page is well-formed XML as well as HTML (void elements closed,
//     no named entities, CSS without "<" or "&"), so tests parse it with
//     encoding/xml.
//
// # The report
//
// report.html, top to bottom (report.md has the same sections as tables,
// without the charts):
//
//	+-----------------------------------------------------------------+
//	| mqbench: <suite name>                                           |
//	| started to finished (wall) · N configurations · runs · commit   |
//	+-----------------------------------------------------------------+
//	| Workload and environment                                        |
//	|   workload settings | CPU, cores, memory, kernel, disk, Go,     |
//	|                     | commit | options common to a system       |
//	+-----------------------------------------------------------------+
//	| Results: one row per configuration                              |
//	|   config system options-that-differ runs msg/s MB/s             |
//	|   p50 p99 p99.9 max (corrected) p99-uncorrected p99-end-to-end  |
//	|   CPU/msg CPU/GB errors          each "median [min..max]"       |
//	+-----------------------------------------------------------------+
//	| Ratios: name, metric, numerator and denominator (with their     |
//	|   medians), ratio, target, met / not met -- "not assertions"    |
//	+-----------------------------------------------------------------+
//	| Thresholds: expr, config, value, pass / fail; "k of n passed"   |
//	+-----------------------------------------------------------------+
//	| Charts (SVG, one line or bar per configuration, shared colours) |
//	|   1 latency by percentile: x = log10(1/(1-p)), 0 % .. 99.9999 %,|
//	|     y = latency, log                                            |
//	|   2 acknowledged msg/s per second, with the target rate         |
//	|   3 p99 latency per second, y log, gaps where nothing was acked |
//	|   4-7 bars: msg/s, p99, CPU/msg, CPU/GB; whiskers min..max      |
//	+-----------------------------------------------------------------+
//	| Per-configuration details: all options; every run (rep, order,  |
//	|   duration, target rate, sent/acked/received, figures, sender   |
//	|   lag, CPU, max RSS, errors); thresholds; errors by kind;       |
//	|   broker counters per run                                       |
//	+-----------------------------------------------------------------+
//	| Notes                                                           |
//	+-----------------------------------------------------------------+
//
// Units: latencies and CPU times in µs, ms or s as the size asks (three
// significant digits), rates with SI prefixes (84.2k msg/s), MB/s in
// 10^6 bytes of acknowledged message bodies. "Options that differ" are
// compared within a system: Thrust rows show the broker.conf keys that
// tell Thrust configurations apart (flushDiskType, commitLogWritePath,
// transferMsgByHeap, ...); keys every configuration of a system shares
// are listed once under Workload and environment.
//
// Colours are Okabe and Ito's colour-blind-safe set, then repeated with
// dash patterns past eight configurations; pass and fail carry ✓ and ✗ as
// well as colour. Each chart has a <title> and a <desc> that lists its
// figures in words.
package reports
