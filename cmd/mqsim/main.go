package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/thrustmq/thrust/faults"
	"github.com/thrustmq/thrust/sim/scenario"
)

// Exit codes tell failures apart.
const (
	exitPass        = 0
	exitUsage       = 1
	exitCrash       = 2
	exitLiveness    = 3
	exitCorrectness = 4
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitUsage)
	}
	// A run allocates briskly and keeps little: a history and a few small
	// disks. Collecting at 4x the live heap instead of 2x buys about 40 %
	// of simulation speed for memory a batch tool can spare. GOGC in the
	// environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	var code int
	switch os.Args[1] {
	case "run":
		code = runCmd(os.Args[2:])
	case "sweep":
		code = sweepCmd(os.Args[2:])
	case "bugs":
		if len(os.Args) > 2 {
			code = verifyBugsCmd(os.Args[2:])
			break
		}
		for _, b := range faults.Bugs {
			fmt.Printf("%-32s %s (caught by %s)\n", b.Name, b.Description, b.Checker)
		}
	case "-h", "-help", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "mqsim: unknown command %q\n", os.Args[1])
		usage()
		code = exitUsage
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  mqsim run -seed N [-bug NAME] [-report DIR] [-trace] [-log] [-v]
  mqsim sweep -seeds A..B [-bug NAME] [-j N] [-report DIR] [-failfast]
  mqsim bugs [-verify -seeds A..B]   list the planted bugs; -verify sweeps each
                                     and checks its catalogued checker catches it

exit codes: 0 pass, 1 usage, 2 crash, 3 liveness, 4 correctness
`)
}

func exitCode(o scenario.Outcome) int {
	switch o {
	case scenario.Crash:
		return exitCrash
	case scenario.Liveness:
		return exitLiveness
	case scenario.Correctness:
		return exitCorrectness
	}
	return exitPass
}

func reproLine(seed uint64, bug string) string {
	line := fmt.Sprintf("mqsim run -seed %d", seed)
	if bug != "" {
		line += " -bug " + bug
	}
	return line
}

func runCmd(args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	seed := fs.Uint64("seed", 1, "the run's seed")
	bug := fs.String("bug", "", "switch on a planted bug (see mqsim bugs)")
	report := fs.String("report", "mqsim-report", "where a failing run writes its trace, history and report")
	trace := fs.Bool("trace", false, "print the world's trace")
	logs := fs.Bool("log", false, "print the nodes' logs")
	verbose := fs.Bool("v", false, "print the checkers' full report")
	safety := fs.Duration("safety", 0, "override the drawn safety-phase length")
	fs.Parse(args)

	// The trace is rendered only when asked for; a failing run is
	// replayed with it on to write its report.
	var traceBuf strings.Builder
	opts := scenario.Options{Seed: *seed, Bug: *bug, Safety: *safety}
	if *trace {
		opts.Trace = io.MultiWriter(&traceBuf, os.Stdout)
	}
	if *logs {
		opts.Log = os.Stdout
		opts.LogLevel = slog.LevelDebug
	}
	fmt.Printf("seed=%d bug=%q\n", *seed, *bug)
	start := time.Now()
	res := scenario.Simulate(opts)
	wall := time.Since(start)
	checkStart := time.Now()
	res.Check()
	checkWall := time.Since(checkStart)
	for _, l := range res.Config.Lines() {
		fmt.Println(l)
	}
	fmt.Printf("virtual=%v simulated in %v (%.0fx), checked in %v, ops=%d\n", res.Virtual.Round(time.Millisecond), wall.Round(time.Millisecond),
		res.Virtual.Seconds()/wall.Seconds(), checkWall.Round(time.Millisecond), len(res.History.Ops()))
	fmt.Printf("probes: %s\n", formatProbes(res.Probes))
	if *verbose || res.Outcome != scenario.Pass {
		res.Report.WriteText(os.Stdout)
	}
	if res.Outcome != scenario.Pass {
		fmt.Printf("FAIL (%s): %s\n", res.Outcome, firstLine(res.Failure))
		if !*trace {
			replay := opts
			replay.Trace, replay.Log = &traceBuf, nil
			if again := scenario.Simulate(replay); again.Digest != res.Digest {
				fmt.Printf("REPLAY DIVERGED: digest %s, then %s\n", res.Digest, again.Digest)
			}
		}
		dir := filepath.Join(*report, fmt.Sprintf("seed-%d", *seed))
		if err := writeReport(dir, res, traceBuf.String()); err != nil {
			fmt.Fprintln(os.Stderr, "mqsim: writing the report:", err)
		} else {
			fmt.Printf("report: %s\n", dir)
		}
		fmt.Printf("reproduce: %s\n", reproLine(*seed, *bug))
	} else {
		fmt.Println("PASS")
	}
	fmt.Printf("digest=%s\n", res.Digest)
	return exitCode(res.Outcome)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func formatProbes(p map[string]int) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []string
	for _, k := range keys {
		b = append(b, fmt.Sprintf("%s=%d", k, p[k]))
	}
	if len(b) == 0 {
		return "none"
	}
	return strings.Join(b, " ")
}

// writeReport writes what a failing run leaves for a human: the trace, the
// history (JSON lines), the checkers' report and porcupine's HTML.
func writeReport(dir string, res scenario.Result, trace string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "trace.txt"), []byte(trace), 0o644); err != nil {
		return err
	}
	hf, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return err
	}
	if err := res.History.WriteJSONLines(hf); err != nil {
		hf.Close()
		return err
	}
	hf.Close()
	var rep strings.Builder
	fmt.Fprintf(&rep, "reproduce: %s\noutcome: %s\nfailure: %s\n\n", reproLine(res.Seed, res.Bug), res.Outcome, res.Failure)
	for _, l := range res.Config.Lines() {
		fmt.Fprintln(&rep, l)
	}
	rep.WriteString("\n")
	res.Report.WriteText(&rep)
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(rep.String()), 0o644); err != nil {
		return err
	}
	for _, a := range res.Report.Artifacts {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(a.Name)), a.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func parseRange(s string) (uint64, uint64, error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		n, err := strconv.ParseUint(s, 10, 64)
		return n, n, err
	}
	lo, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return 0, 0, err
	}
	hi, err := strconv.ParseUint(b, 10, 64)
	if err != nil || hi < lo {
		return 0, 0, fmt.Errorf("bad seed range %q", s)
	}
	return lo, hi, nil
}

func sweepCmd(args []string) int {
	fs := flag.NewFlagSet("sweep", flag.ExitOnError)
	seeds := fs.String("seeds", "1..100", "seed range A..B")
	bug := fs.String("bug", "", "switch on a planted bug (see mqsim bugs)")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "runs at once")
	report := fs.String("report", "mqsim-report", "where failing runs write their reports")
	failfast := fs.Bool("failfast", false, "stop at the first failing seed")
	expect := fs.String("expect", "", "with -bug: the checker that must report every failure (exit 0 if at least one seed failed and it reported each)")
	fs.Parse(args)
	lo, hi, err := parseRange(*seeds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqsim:", err)
		return exitUsage
	}
	if *bug != "" {
		if _, ok := faults.LookupBug(*bug); !ok {
			fmt.Fprintf(os.Stderr, "mqsim: unknown bug %q (see mqsim bugs)\n", *bug)
			return exitUsage
		}
	}

	type outcome struct {
		seed  uint64
		res   scenario.Result
		wall  time.Duration
		trace string
	}
	total := int(hi - lo + 1)
	results := make(chan outcome)
	// The seeds are fed to at most -j runs at once; -failfast cancels the
	// feed once a seed fails (runs already started finish and report).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs errgroup.Group
	runs.SetLimit(max(*jobs, 1))
	go func() {
		for seed := lo; seed <= hi && ctx.Err() == nil; seed++ {
			runs.Go(func() error {
				if ctx.Err() != nil {
					return nil
				}
				start := time.Now()
				res := scenario.Simulate(scenario.Options{Seed: seed, Bug: *bug})
				o := outcome{seed: seed, wall: time.Since(start)}
				res.Check()
				o.res = res
				if res.Outcome != scenario.Pass {
					// Rendering a trace is costly, and a seed is a run:
					// replay the failure with the trace on, and make sure
					// the replay is the same run.
					var tr strings.Builder
					again := scenario.Simulate(scenario.Options{Seed: seed, Bug: *bug, Trace: &tr})
					o.trace = tr.String()
					if again.Digest != res.Digest {
						o.trace = fmt.Sprintf("REPLAY DIVERGED: digest %s, then %s\n", res.Digest, again.Digest) + o.trace
					}
				}
				results <- o
				return nil
			})
		}
		runs.Wait()
		close(results)
	}()

	start := time.Now()
	var failed []outcome
	probes := map[string]int{}
	probeRuns := map[string]int{}
	var virtual time.Duration
	var simWall time.Duration
	done := 0
	for o := range results {
		done++
		virtual += o.res.Virtual
		simWall += o.wall
		for k, v := range o.res.Probes {
			probes[k] += v
			if v > 0 {
				probeRuns[k]++
			}
		}
		if o.res.Outcome != scenario.Pass {
			failed = append(failed, o)
			dir := filepath.Join(*report, fmt.Sprintf("seed-%d", o.seed))
			writeReport(dir, o.res, o.trace)
			fmt.Printf("\rseed %d FAIL (%s): %s\n", o.seed, o.res.Outcome, firstLine(o.res.Failure))
			if *failfast {
				cancel()
			}
		}
		fmt.Printf("\r%d/%d seeds, %d failed, %.0f virtual s/wall s", done, total, len(failed), virtual.Seconds()/max(simWall.Seconds(), 1e-9))
	}
	elapsed := time.Since(start)
	fmt.Println()
	sort.Slice(failed, func(i, j int) bool { return failed[i].seed < failed[j].seed })
	fmt.Printf("summary: %d seeds, %d passed, %d failed\n", done, done-len(failed), len(failed))
	for _, o := range failed {
		fmt.Printf("  FAIL %-11s %s   # %s\n", o.res.Outcome, reproLine(o.seed, *bug), firstLine(o.res.Failure))
	}
	fmt.Printf("speed: %.0f virtual seconds simulated per wall second per run (checking apart); %.1f seeds per minute (%d at once)\n",
		virtual.Seconds()/max(simWall.Seconds(), 1e-9), float64(done)/elapsed.Minutes(), *jobs)
	fmt.Printf("coverage probes (runs reaching each / times):\n")
	keys := make([]string, 0, len(probes))
	for k := range probes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %-32s %4d runs %6d times\n", k, probeRuns[k], probes[k])
	}
	if *expect != "" {
		if len(failed) == 0 {
			fmt.Printf("expected failures from %s; none failed\n", *expect)
			return exitCorrectness
		}
		for _, o := range failed {
			caught := false
			for _, v := range o.res.Report.Violations {
				caught = caught || v.Checker == *expect
			}
			if !caught {
				fmt.Printf("seed %d failed, but %s did not report it: %s\n", o.seed, *expect, firstLine(o.res.Failure))
				return exitCorrectness
			}
		}
		fmt.Printf("%s reported every failure, as expected\n", *expect)
		return exitPass
	}
	if len(failed) > 0 {
		worst := exitPass
		for _, o := range failed {
			worst = max(worst, exitCode(o.res.Outcome))
		}
		return worst
	}
	return exitPass
}

// verifyBugsCmd sweeps each planted bug until a seed fails, and checks that
// the checker the catalog names reported it: a checker no planted bug trips
// proves nothing.
func verifyBugsCmd(args []string) int {
	fs := flag.NewFlagSet("bugs", flag.ExitOnError)
	verify := fs.Bool("verify", false, "sweep each bug and check its checker catches it")
	seeds := fs.String("seeds", "1..200", "seed range A..B for each bug")
	report := fs.String("report", "mqsim-report", "where failing runs write their reports")
	fs.Parse(args)
	if !*verify {
		fmt.Fprintln(os.Stderr, "mqsim bugs: did you mean -verify?")
		return exitUsage
	}
	worst := exitPass
	for _, b := range faults.Bugs {
		fmt.Printf("== %s (expect %s)\n", b.Name, b.Checker)
		code := sweepCmd([]string{"-seeds", *seeds, "-bug", b.Name, "-failfast", "-expect", b.Checker, "-report", *report})
		if code != exitPass {
			worst = max(worst, code)
		}
	}
	if worst == exitPass {
		fmt.Println("every planted bug was caught by its checker")
	}
	return worst
}
