package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/thrustmq/thrust/benchmarks"
	"github.com/thrustmq/thrust/reports"
)

// Exit codes.
const (
	exitOK        = 0
	exitFailed    = 1
	exitUsage     = 2
	exitThreshold = 99 // k6's code for broken thresholds
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The generator shares the machine with the broker it measures:
		// collecting less often leaves the broker more CPU, and memory is
		// not what a benchmark machine lacks.
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  mqbench run -workload FILE -out DIR [-namesrv ADDR] [-repetitions N] [-configs FILTER]
  mqbench report DIR

run flags:
`)
	fs, _ := runFlags(w)
	fs.PrintDefaults()
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "mqbench: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

type runOpts struct {
	workload, out, namesrv, configs, broker, natsServer, storeDir, profile string
	repetitions, brokerPID                                                 int
	scale                                                                  float64
	progressEvery                                                          time.Duration
	quiet                                                                  bool
}

func runFlags(w io.Writer) (*flag.FlagSet, *runOpts) {
	o := &runOpts{}
	fs := flag.NewFlagSet("mqbench run", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&o.workload, "workload", "", "workload file (YAML)")
	fs.StringVar(&o.out, "out", "", "output directory: results.json, report.md, report.html")
	fs.StringVar(&o.namesrv, "namesrv", "", "measure the Thrust broker behind this running name server instead of starting one per configuration")
	fs.IntVar(&o.brokerPID, "broker-pid", 0, "with -namesrv: the broker's process id, so that its CPU and memory are read from /proc")
	fs.IntVar(&o.repetitions, "repetitions", 0, "repetitions of every configuration, interleaved (default: the workload's, 3 if unset)")
	fs.StringVar(&o.configs, "configs", "", "run only configurations whose names contain one of these comma-separated words")
	fs.StringVar(&o.broker, "broker", "", "mqbroker binary (default: beside mqbench, else built from the module)")
	fs.StringVar(&o.natsServer, "nats-server", "", "nats-server binary for JetStream rows (default: PATH or $(go env GOPATH)/bin; \"none\" skips them)")
	fs.StringVar(&o.storeDir, "store-dir", "", "where stores are created (default: the system's temporary directory)")
	fs.StringVar(&o.profile, "profile", "", "write CPU profiles here: every Thrust broker run's, and mqbench's own (mqbench.pprof)")
	fs.Float64Var(&o.scale, "scale", 1, "multiply every duration of the workload (smoke runs)")
	fs.DurationVar(&o.progressEvery, "progress", 10*time.Second, "progress interval during long measured periods")
	fs.BoolVar(&o.quiet, "q", false, "no progress lines")
	return fs, o
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs, opts := runFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if opts.workload == "" || opts.out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mqbench run: -workload and -out are required, and nothing else")
		fs.Usage()
		return exitUsage
	}
	w, err := benchmarks.ParseWorkload(opts.workload)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench:", err)
		return exitUsage
	}
	if err := os.MkdirAll(opts.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "mqbench:", err)
		return exitFailed
	}
	if opts.profile != "" {
		if err := os.MkdirAll(opts.profile, 0o755); err != nil {
			fmt.Fprintln(stderr, "mqbench:", err)
			return exitFailed
		}
		f, err := os.Create(filepath.Join(opts.profile, "mqbench.pprof"))
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "mqbench:", err)
			return exitFailed
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var progress io.Writer = stderr
	if opts.quiet {
		progress = nil
	}
	suite, runErr := benchmarks.RunSuite(ctx, benchmarks.Options{
		Workload:      w,
		Namesrv:       opts.namesrv,
		BrokerPID:     opts.brokerPID,
		Repetitions:   opts.repetitions,
		Configs:       opts.configs,
		BrokerBinary:  opts.broker,
		NATSServer:    opts.natsServer,
		Scale:         opts.scale,
		StoreParent:   opts.storeDir,
		ProfileDir:    opts.profile,
		Progress:      progress,
		ProgressEvery: opts.progressEvery,
	})
	if suite == nil {
		fmt.Fprintln(stderr, "mqbench:", runErr)
		return exitFailed
	}
	// Whatever ran is written, even after a failure or an interrupt.
	if err := reports.Write(opts.out, suite); err != nil {
		fmt.Fprintln(stderr, "mqbench:", err)
		return exitFailed
	}
	if err := reports.WriteReport(opts.out); err != nil {
		fmt.Fprintln(stderr, "mqbench: report:", err)
		return exitFailed
	}
	fmt.Fprint(stdout, reports.Summary(suite))
	fmt.Fprintf(stdout, "\nresults: %s\nreport:  %s\n         %s\n", filepath.Join(opts.out, reports.ResultsFile),
		filepath.Join(opts.out, reports.HTMLFile), filepath.Join(opts.out, reports.MarkdownFile))
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			fmt.Fprintln(stderr, "mqbench: interrupted; the results hold the runs that finished")
		} else {
			fmt.Fprintln(stderr, "mqbench:", runErr)
		}
		return exitFailed
	}
	if broken := brokenThresholds(suite); len(broken) > 0 {
		fmt.Fprintf(stdout, "\nmqbench: %d threshold(s) broken:\n", len(broken))
		for _, t := range broken {
			fmt.Fprintf(stdout, "  ✗ %s: %s (measured %s)\n", t.Config, t.Expr, t.Value)
		}
		return exitThreshold
	}
	return exitOK
}

func brokenThresholds(s *reports.Suite) []reports.Threshold {
	var out []reports.Threshold
	for _, t := range s.Thresholds {
		if !t.OK {
			out = append(out, t)
		}
	}
	return out
}

func reportCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: mqbench report DIR")
		return exitUsage
	}
	dir := args[0]
	if err := reports.WriteReport(dir); err != nil {
		fmt.Fprintln(stderr, "mqbench:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s\n%s\n", filepath.Join(dir, reports.HTMLFile), filepath.Join(dir, reports.MarkdownFile))
	return exitOK
}
