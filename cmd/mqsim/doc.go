// Command mqsim runs Thrust's unchanged broker inside the deterministic
// simulator: one seed is one exact run.
//
//	mqsim run -seed 42            one run; prints every option it drew and
//	                              ends with digest=<hex>
//	mqsim sweep -seeds 1..200     many runs; a summary with reproduce lines,
//	                              speed and coverage probes
//	mqsim bugs                    the planted bugs, one name first on each line
//
// Exit codes: 0 pass, 1 usage, 2 crash (a panic), 3 liveness, 4
// correctness. A failing run prints the one line that reproduces it and
// writes its trace, history, report and porcupine's HTML into a report
// folder.
package main
