// Command mqbench measures Thrust's tuning options, and peer brokers,
// side by side on this machine.
//
//	mqbench run -workload FILE -out DIR [-namesrv ADDR] [-repetitions N] [-configs FILTER]
//	mqbench report DIR
//
// run reads a workload file (benchmarks/workloads/quick.yaml is the
// two-minute preset, full.yaml the long one), runs every configuration
// of its matrix as its own broker process, repeated and interleaved,
// writes DIR/results.json, DIR/report.md and DIR/report.html, and prints
// a k6-style summary. report re-renders DIR's report from its
// results.json.
//
// Exit codes: 0 every threshold held; 99 a threshold was broken (as k6's
// thresholds exit); 1 the run failed; 2 usage.
package main
