package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thrustmq/thrust/reports"
)

// Options configure a suite run.
type Options struct {
	Workload *Workload
	// Namesrv, when set, points at a running Thrust name server: its
	// broker is measured as it is (one configuration; the workload's
	// Thrust options cannot be applied), and BrokerPID, when known, lets
	// its CPU and memory be read.
	Namesrv   string
	BrokerPID int
	// Repetitions overrides the workload's when positive.
	Repetitions int
	// Configs keeps the configurations whose names contain one of its
	// comma-separated parts (case-insensitive); empty keeps all.
	Configs string
	// BrokerBinary is the mqbroker to run; see FindBroker.
	BrokerBinary string
	// NATSServer is the nats-server to run for JetStream rows; empty
	// looks for one (FindNATSServer), "none" skips them.
	NATSServer string
	// Scale multiplies every duration of the workload (warm-up, measured
	// period, probe, stages) when positive: smoke tests run presets
	// short.
	Scale float64
	// StoreParent is where stores go (os.MkdirTemp's default when empty).
	StoreParent string
	// ProfileDir, when set, receives a CPU profile of every Thrust broker
	// run (<config>-rep<N>.pprof, from mqbroker -cpuprofile).
	ProfileDir string
	// Progress receives progress lines (nil: none); ProgressEvery is how
	// often a long measured period reports (10 s when zero).
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Run names for the suite's configurations and their figures.
const (
	// drainTimeout bounds the wait for answers after a schedule ends: the
	// client's send timeout (3 s) with room to spare.
	drainTimeout = 5 * time.Second
	// consumeTimeout bounds the wait for consumers to catch up.
	consumeTimeout = 5 * time.Second
)

// RunSuite runs every configuration Repetitions times, interleaved (rep 1:
// A B C, rep 2: A B C, ...), so that drift in the machine (page cache,
// thermal, noisy neighbours) spreads over all configurations rather than
// landing on one; each run starts its broker as a fresh process with an
// empty store.
func RunSuite(ctx context.Context, opts Options) (*reports.Suite, error) {
	w := opts.Workload
	if w == nil {
		return nil, errors.New("benchmarks: no workload")
	}
	configs, err := w.Expand()
	if err != nil {
		return nil, err
	}
	reps := w.Repetitions
	if opts.Repetitions > 0 {
		reps = opts.Repetitions
	}
	scale := opts.Scale
	if scale <= 0 {
		scale = 1
	}
	if opts.ProfileDir != "" {
		// Absolute: every broker runs in a directory of its own.
		if opts.ProfileDir, err = filepath.Abs(opts.ProfileDir); err == nil {
			err = os.MkdirAll(opts.ProfileDir, 0o755)
		}
		if err != nil {
			return nil, err
		}
	}
	s := &runner{opts: opts, w: w, scale: scale, progress: opts.Progress}
	if s.progress == nil {
		s.progress = io.Discard
	}
	suite := &reports.Suite{
		Name:    orDefault(w.Name, "workload"),
		Started: time.Now(),
	}
	configs = filterConfigs(configs, opts.Configs)
	if len(configs) == 0 {
		return nil, fmt.Errorf("benchmarks: no configuration matches %q", opts.Configs)
	}

	// Peers: JetStream rows need a nats-server.
	if hasSystem(configs, SystemJetStream) {
		if opts.NATSServer == "none" {
			configs = withoutSystem(configs, SystemJetStream)
			suite.Notes = append(suite.Notes, "JetStream rows skipped (-nats-server none).")
		} else if s.natsServer = FindNATSServer(opts.NATSServer); s.natsServer == "" {
			configs = withoutSystem(configs, SystemJetStream)
			suite.Notes = append(suite.Notes, fmt.Sprintf("JetStream rows skipped: nats-server is not installed (benchmarks/install-nats.sh runs go install github.com/nats-io/nats-server/v2@%s).", NATSServerVersion))
		} else {
			suite.Notes = append(suite.Notes, "JetStream peer: "+NATSServerVersionOf(s.natsServer)+" ("+s.natsServer+").")
		}
	}
	if opts.Namesrv != "" && hasSystem(configs, SystemThrust) {
		rest := withoutSystem(configs, SystemThrust)
		ext := Config{Name: "thrust external", System: SystemThrust, Options: map[string]string{}, ProducerRate: w.ProducerRate, BatchSize: w.BatchSize}
		for _, c := range configs {
			if c.System == SystemThrust {
				ext.Thresholds = c.Thresholds
				break
			}
		}
		configs = append([]Config{ext}, rest...)
		suite.Notes = append(suite.Notes, fmt.Sprintf("Thrust measured as running behind name server %s: the workload's broker options were not applied; the row's options are what the broker reports.", opts.Namesrv))
		if opts.BrokerPID == 0 {
			suite.Notes = append(suite.Notes, "The external broker's CPU and memory are not measured (pass -broker-pid).")
		}
	}
	if len(configs) == 0 {
		return nil, errors.New("benchmarks: every configuration was skipped")
	}

	scratch, err := os.MkdirTemp(opts.StoreParent, "mqbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	suite.Environment = CaptureEnvironment(scratch)
	if strings.Contains(suite.Environment.Disk, "memory, not a disk") {
		suite.Notes = append(suite.Notes, "Stores are on tmpfs: SYNC_FLUSH and sync_interval always measure no disk at all.")
	}
	if hasSystem(configs, SystemThrust) && opts.Namesrv == "" {
		if s.brokerBinary, err = FindBroker(opts.BrokerBinary, scratch); err != nil {
			return nil, err
		}
	}
	s.storeParent = opts.StoreParent

	suite.Workload = reports.Workload{
		File: w.File, Topics: w.Topics, QueuesPerTopic: w.QueuesPerTopic, MessageSize: w.MessageSize,
		Producers: w.Producers, ProducerRate: w.ProducerRate, Consumers: w.Consumers,
		DurationSeconds: w.DurationSeconds * scale, WarmupSeconds: w.WarmupSeconds * scale,
		KeyDistribution: w.KeyDistribution, InFlight: w.InFlight, Repetitions: reps,
	}
	if scale != 1 {
		suite.Notes = append(suite.Notes, fmt.Sprintf("Durations scaled by %g (a smoke run): figures are not comparable with full-length runs.", scale))
	}
	if w.ProducerRate == 0 && len(w.Stages) == 0 {
		suite.Notes = append(suite.Notes, fmt.Sprintf("Maximum rates: a %gs closed-loop probe at %d requests in flight per producer measures what the system absorbs; open-loop runs then go at %g of it (while a pass does not keep up, the next goes at that fraction of the rate it did sustain, at most %d more times). Throughput is that sustained open-loop rate; latency is measured at it.",
			w.MaxRate.ProbeSeconds*scale, w.InFlight, w.MaxRate.Fraction, w.MaxRate.StepsDown()))
	}

	results := make([]reports.Config, len(configs))
	for i, c := range configs {
		results[i] = reports.Config{Name: c.Name, System: c.System, Options: c.Options}
	}
	total := reps * len(configs)
	order := 0
	var runErr error
	if err := s.warmUp(ctx, configs); err != nil {
		suite.Notes = append(suite.Notes, "The warm-up run failed: "+err.Error())
	}
loop:
	for rep := 1; rep <= reps; rep++ {
		// Repetition r starts r-1 places further along the list, so that
		// no configuration always follows the same one (a heavy run
		// leaves a machine slower for a few seconds).
		for k := range configs {
			i := (k + rep - 1) % len(configs)
			c := configs[i]
			if ctx.Err() != nil {
				runErr = ctx.Err()
				break loop
			}
			if order > 0 && w.CooldownSeconds > 0 {
				select {
				case <-time.After(s.dur(w.CooldownSeconds)):
				case <-ctx.Done():
				}
			}
			order++
			fmt.Fprintf(s.progress, "mqbench: [%d/%d] repetition %d/%d: %s\n", order, total, rep, reps, c.Name)
			run, opts, err := s.runConfig(ctx, c, rep, fmt.Sprintf("r%dc%d", rep, i))
			if err != nil {
				runErr = fmt.Errorf("%s, repetition %d: %w", c.Name, rep, err)
				break loop
			}
			run.Repetition, run.Order = rep, order
			results[i].Runs = append(results[i].Runs, run)
			if len(opts) > 0 && c.System == SystemThrust && opts["flushDiskType"] != "" && results[i].Options["flushDiskType"] == "" {
				results[i].Options = opts
			}
			fmt.Fprintf(s.progress, "         %s\n", runLine(run))
		}
	}
	suite.Configs = results
	suite.Notes = append(suite.Notes, clientNotes(configs, results)...)
	suite.Thresholds = EvaluateThresholds(configs, results)
	suite.Comparisons = Compare(configs, results)
	if w.ConsumerBacklogSizeGB > 0 {
		// Backlog runs measure drains: throughput ratios are drain rates,
		// which the targets are not about.
		for i := range suite.Comparisons {
			if c := &suite.Comparisons[i]; c.Metric == "throughputMsgs" {
				c.Name += " (drain)"
				c.Target, c.Met = "", false
			}
		}
	}
	suite.Notes = append(suite.Notes, s.notes...)
	suite.Finished = time.Now()
	if runErr != nil {
		suite.Notes = append(suite.Notes, "Incomplete: "+runErr.Error())
	}
	return suite, runErr
}

// slug makes a configuration name a file name.
func slug(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, name)
}

// warmUp runs the first configuration briefly, closed-loop, and discards
// the result: a machine that has been idle runs its first seconds of load
// slower (clocks, caches, the hypervisor), and that must not land on the
// first configuration of the first repetition.
func (s *runner) warmUp(ctx context.Context, configs []Config) error {
	d := s.dur(s.w.SuiteWarmupSeconds)
	if d <= 0 {
		return nil
	}
	c := configs[0]
	fmt.Fprintf(s.progress, "mqbench: warming the machine up: %v of %s, not recorded\n", d, c.Name)
	sys, err := s.start(c, 0)
	if err != nil {
		return err
	}
	defer sys.stop()
	_, _, err = s.pass(ctx, sys, "warm", Load{ClosedUntil: d}, 0, d)
	return err
}

// clientNotes says what the load generator's clients cost: on a machine
// that runs the broker and its load together, a heavier client leaves its
// broker less CPU. Maximum-rate configurations only, where there are any
// (at a low fixed rate a client's fixed costs per second dominate).
func clientNotes(configs []Config, results []reports.Config) []string {
	anyMax := false
	for _, c := range configs {
		anyMax = anyMax || c.ProducerRate == 0
	}
	var parts []string
	for i, c := range configs {
		if anyMax && c.ProducerRate != 0 {
			continue
		}
		var perMsg []float64
		for _, r := range results[i].Runs {
			if r.ClientCPUSeconds > 0 && r.AckedInPeriod > 0 {
				perMsg = append(perMsg, r.ClientCPUSeconds*1e6/float64(r.AckedInPeriod))
			}
		}
		if len(perMsg) > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f µs", c.Name, median(perMsg)))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{"Load generator CPU per acknowledged message (producers and consumers together, median over the runs): " + strings.Join(parts, "; ") +
		". The generator shares the machine with the broker: a heavier client leaves its broker less CPU."}
}

func filterConfigs(cs []Config, filter string) []Config {
	if strings.TrimSpace(filter) == "" {
		return cs
	}
	var parts []string
	for _, p := range strings.Split(filter, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			parts = append(parts, p)
		}
	}
	var out []Config
	for _, c := range cs {
		for _, p := range parts {
			if strings.Contains(strings.ToLower(c.Name), p) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func hasSystem(cs []Config, sys string) bool {
	for _, c := range cs {
		if c.System == sys {
			return true
		}
	}
	return false
}

func withoutSystem(cs []Config, sys string) []Config {
	var out []Config
	for _, c := range cs {
		if c.System != sys {
			out = append(out, c)
		}
	}
	return out
}

type runner struct {
	opts         Options
	w            *Workload
	scale        float64
	progress     io.Writer
	brokerBinary string
	natsServer   string
	storeParent  string
	notes        []string
	notesSeen    map[string]bool
}

func (s *runner) note(n string) {
	if s.notesSeen == nil {
		s.notesSeen = map[string]bool{}
	}
	if !s.notesSeen[n] {
		s.notesSeen[n] = true
		s.notes = append(s.notes, n)
	}
}

func (s *runner) dur(seconds float64) time.Duration {
	return time.Duration(seconds * s.scale * float64(time.Second))
}

// system is one configuration's server for one run.
type system struct {
	cfg        Config
	thrust     *ThrustBroker
	nats       *NATSServer
	namesrv    string
	brokerAddr string // "" when it must be looked up
	pid        int
}

func (s *runner) start(c Config, rep int) (*system, error) {
	sys := &system{cfg: c}
	switch {
	case c.System == SystemJetStream:
		n, err := StartNATSServer(s.natsServer, s.storeParent, c.Options["sync_interval"])
		if err != nil {
			return nil, err
		}
		sys.nats, sys.pid = n, n.PID()
	case s.opts.Namesrv != "":
		sys.namesrv, sys.pid = s.opts.Namesrv, s.opts.BrokerPID
	default:
		var extra []string
		if s.opts.ProfileDir != "" && rep > 0 { // not the warm-up
			extra = append(extra, "-cpuprofile", filepath.Join(s.opts.ProfileDir, fmt.Sprintf("%s-rep%d.pprof", slug(c.Name), rep)))
		}
		b, err := StartThrustBroker(s.brokerBinary, s.storeParent, c.BrokerConf(), extra...)
		if err != nil {
			return nil, err
		}
		sys.thrust, sys.namesrv, sys.brokerAddr, sys.pid = b, b.NamesrvAddr, b.BrokerAddr, b.PID()
	}
	return sys, nil
}

func (sys *system) stop() {
	if sys.thrust != nil {
		sys.thrust.Stop()
	}
	if sys.nats != nil {
		sys.nats.Stop()
	}
}

// runConfig is one repetition of one configuration: a fresh server, then
// either one open-loop pass at the configuration's rate, or, for the
// maximum, a closed-loop probe and open-loop passes at a fraction of it.
// It returns the run and, for Thrust, the options the broker reports.
func (s *runner) runConfig(ctx context.Context, c Config, rep int, tag string) (reports.Run, map[string]string, error) {
	sys, err := s.start(c, rep)
	if err != nil {
		return reports.Run{}, nil, err
	}
	defer sys.stop()
	w := s.w
	if w.ConsumerBacklogSizeGB > 0 {
		return s.backlog(ctx, sys, tag)
	}
	if c.ProducerRate > 0 || len(w.Stages) > 0 {
		warmRate := c.ProducerRate
		if len(w.Stages) > 0 {
			warmRate = w.StartRate
			if warmRate == 0 {
				warmRate = w.Stages[0].Target
			}
		}
		stages := make([]Stage, len(w.Stages))
		for i, st := range w.Stages {
			stages[i] = Stage{Duration: time.Duration(float64(st.Duration) * s.scale), Target: st.Target}
		}
		sched := NewSchedule(s.dur(w.WarmupSeconds), warmRate, c.ProducerRate, s.dur(w.DurationSeconds), w.StartRate, stages)
		run, info, err := s.pass(ctx, sys, tag+"f", Load{Schedule: sched}, s.dur(w.WarmupSeconds), sched.End())
		run.TargetRate = c.ProducerRate
		return run, info, err
	}

	// The maximum: probe closed-loop, then open-loop at a fraction.
	probeWarm := min(s.dur(w.WarmupSeconds), s.dur(1))
	probeEnd := probeWarm + s.dur(w.MaxRate.ProbeSeconds)
	fmt.Fprintf(s.progress, "         probing the maximum: closed loop, %d requests in flight per producer, %v\n", w.InFlight, probeEnd-probeWarm)
	probe, _, err := s.pass(ctx, sys, tag+"p", Load{ClosedUntil: probeEnd}, probeWarm, probeEnd)
	if err != nil {
		return probe, nil, err
	}
	capacity := probe.ThroughputMsgs
	if capacity <= 0 {
		return probe, nil, fmt.Errorf("the closed-loop probe acknowledged nothing (errors %v)", probe.Errors)
	}
	rate := capacity * w.MaxRate.Fraction
	var run reports.Run
	var info map[string]string
	for step := 0; ; step++ {
		fmt.Fprintf(s.progress, "         probe %.0f msg/s; open loop at %.0f msg/s\n", capacity, rate)
		sched := NewSchedule(s.dur(w.WarmupSeconds), rate, rate, s.dur(w.DurationSeconds), 0, nil)
		run, info, err = s.pass(ctx, sys, fmt.Sprintf("%sm%d", tag, step), Load{Schedule: sched}, s.dur(w.WarmupSeconds), sched.End())
		run.TargetRate = rate
		run.ProbeThroughputMsgs = capacity
		run.SearchSteps = step + 1
		if err != nil || keptUp(run, rate) || step >= w.MaxRate.StepsDown() {
			if err == nil && !keptUp(run, rate) {
				s.note(fmt.Sprintf("%s, repetition %d: did not keep up with %.0f msg/s after %d steps down; the run is the last attempt, its latency includes the backlog.", c.Name, rep, rate, step))
			}
			return run, info, err
		}
		sustained := float64(run.AckedInPeriod) / run.DurationSeconds
		rate = w.MaxRate.Fraction * min(rate, sustained)
	}
}

// backlogFillLimit and backlogDrainLimit bound a backlog run's phases.
const (
	backlogFillLimit  = 10 * time.Minute
	backlogDrainLimit = 10 * time.Minute
	backlogStall      = 15 * time.Second
)

// backlog fills consumerBacklogSizeGB with the consumers stopped, then
// starts them and measures the drain: throughput, and broker CPU per GB,
// of the pull path alone.
func (s *runner) backlog(ctx context.Context, sys *system, tag string) (reports.Run, map[string]string, error) {
	w := s.w
	want := int64(w.ConsumerBacklogSizeGB * 1e9)
	rec := NewRecorder(time.Now(), 0, backlogFillLimit+backlogDrainLimit)
	var senders []Sender
	var startConsumers func() error
	var info func() map[string]string
	var closeFn func()
	switch sys.cfg.System {
	case SystemThrust:
		topics := make([]string, w.Topics)
		for i := range topics {
			topics[i] = fmt.Sprintf("bench_%s_t%d", tag, i)
		}
		tc, err := openThrust(sys.namesrv, sys.brokerAddr, topics, w.QueuesPerTopic, w.Producers, 0, 0, w.InFlight, rec, tag)
		if err != nil {
			return reports.Run{}, nil, s.withLog(sys, err)
		}
		senders, closeFn = tc.Senders(), tc.Close
		startConsumers = func() error { return tc.startConsumers(w.Consumers, w.SubscriptionsPerTopic, rec) }
		info = func() map[string]string { m, _ := tc.RuntimeInfo(); return m }
	case SystemJetStream:
		jc, err := openJetStream(sys.nats.Addr, w.Topics, w.QueuesPerTopic, w.Producers, 0, 0, w.MessageSize, rec, tag)
		if err != nil {
			return reports.Run{}, nil, s.withLog(sys, err)
		}
		senders, closeFn = jc.Senders(), jc.Close
		startConsumers = func() error { return jc.startConsumers(w.Consumers, w.SubscriptionsPerTopic, rec) }
		info = jc.StreamState
	}
	defer closeFn()

	fmt.Fprintf(s.progress, "         filling a backlog of %.2f GB, consumers stopped\n", w.ConsumerBacklogSizeGB)
	stop, filledUp := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stop)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-filledUp:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if acked, _ := rec.Bytes(); acked >= want {
					return
				}
			}
		}
	}()
	Run(Load{ClosedUntil: backlogFillLimit, Producers: w.Producers, InFlight: w.InFlight, BatchSize: sys.cfg.BatchSize,
		MessageSize: w.MessageSize, Topics: w.Topics, KeyDist: w.KeyDistribution, Drain: drainTimeout}, senders, rec, stop)
	close(filledUp)
	<-stop
	filled := rec.Counts().Acked
	if filled == 0 {
		return reports.Run{}, nil, fmt.Errorf("no message of the backlog was acknowledged")
	}
	before := info()

	// The drain.
	settle()
	res := &resourceWindow{pid: sys.pid}
	self := &resourceWindow{pid: os.Getpid()}
	res.Start()
	self.Start()
	start := time.Now()
	if err := startConsumers(); err != nil {
		return reports.Run{}, nil, s.withLog(sys, err)
	}
	total := filled * int64(w.SubscriptionsPerTopic)
	deadline := start.Add(backlogDrainLimit)
	last, lastMove := int64(-1), time.Now()
	for {
		got := rec.Counts().Received
		if got >= total || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if got != last {
			last, lastMove = got, time.Now()
		} else if time.Since(lastMove) > backlogStall {
			s.note(fmt.Sprintf("%s: the drain stalled for %v at %d of %d messages.", sys.cfg.Name, backlogStall, got, total))
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	res.End()
	self.End()
	_, rcvBytes := rec.Bytes()

	run := rec.Result()
	run.Sent, run.Acked = filled, filled
	run.Latency, run.Uncorrected, run.SenderLag = reports.Latency{}, reports.Latency{}, reports.Latency{}
	run.Series = nil
	run.DurationSeconds = elapsed.Seconds()
	run.ThroughputMsgs = float64(run.Received) / elapsed.Seconds()
	run.ThroughputBytes = float64(rcvBytes) / elapsed.Seconds()
	run.AckedInPeriod = 0
	if run.Received < total {
		run.Errors = map[string]int64{"not drained": total - run.Received}
	}
	if res.err == nil && sys.pid > 0 {
		cpu := res.CPU()
		run.BrokerCPUSeconds, run.BrokerMaxRSS = cpu.Seconds(), res.hwm
		if run.Received > 0 {
			run.CPUPerMessageUs = float64(cpu.Microseconds()) / float64(run.Received)
		}
		if rcvBytes > 0 {
			run.CPUPerGBUs = float64(cpu.Microseconds()) / (float64(rcvBytes) / 1e9)
		}
	}
	if self.err == nil {
		run.ClientCPUSeconds = self.CPU().Seconds()
	}
	after := info()
	if before != nil && after != nil && sys.cfg.System == SystemThrust {
		run.Counters = counterDelta(before, after)
	} else {
		run.Counters = after
	}
	s.note(fmt.Sprintf("Backlog runs: %.2f GB filled with the consumers stopped, then drained with the producers stopped; msg/s, MB/s and CPU are the drain's, end-to-end latency is the messages' age, and there is no send latency.", w.ConsumerBacklogSizeGB))
	return run, nil, ctx.Err()
}

// keptUp says whether an open-loop pass sustained its rate: acknowledged
// at (nearly) the intended rate while the measured period lasted, with
// the in-flight window never holding sends back for long, and few errors.
// A pass past capacity fails the first test (acknowledgements come at the
// capacity) or the second (sends queue behind a full window).
func keptUp(r reports.Run, rate float64) bool {
	if r.DurationSeconds <= 0 || rate <= 0 {
		return false
	}
	ackRate := float64(r.AckedInPeriod) / r.DurationSeconds
	return ackRate >= 0.95*rate && r.SenderLag.P99 <= 50e3 && float64(errorCount(&r)) <= 0.01*float64(r.Sent)
}

// pass runs one load against sys on fresh topics and consumer groups, and
// measures the window [from, to) of intended times.
func (s *runner) pass(ctx context.Context, sys *system, tag string, load Load, from, to time.Duration) (reports.Run, map[string]string, error) {
	w := s.w
	load.Producers = w.Producers
	load.InFlight = w.InFlight
	load.BatchSize = sys.cfg.BatchSize
	load.MessageSize = w.MessageSize
	load.Topics = w.Topics
	load.KeyDist = w.KeyDistribution
	load.Drain = drainTimeout
	if sys.namesrv != "" && s.opts.Namesrv != "" {
		// A broker that outlives this run: names unique across runs.
		tag += strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36)
	}

	// The recorder's epoch is set once everything is connected.
	rec := NewRecorder(time.Now(), from, to)
	var senders []Sender
	var closeFn func()
	var before, after func() map[string]string
	switch sys.cfg.System {
	case SystemThrust:
		topics := make([]string, w.Topics)
		for i := range topics {
			topics[i] = fmt.Sprintf("bench_%s_t%d", tag, i)
		}
		tc, err := openThrust(sys.namesrv, sys.brokerAddr, topics, w.QueuesPerTopic, w.Producers, w.Consumers, w.SubscriptionsPerTopic, w.InFlight, rec, tag)
		if err != nil {
			return reports.Run{}, nil, s.withLog(sys, err)
		}
		senders, closeFn = tc.Senders(), tc.Close
		info := func() map[string]string {
			m, err := tc.RuntimeInfo()
			if err != nil {
				s.note("GET_BROKER_RUNTIME_INFO failed: " + err.Error())
			}
			return m
		}
		before, after = info, info
	case SystemJetStream:
		jc, err := openJetStream(sys.nats.Addr, w.Topics, w.QueuesPerTopic, w.Producers, w.Consumers, w.SubscriptionsPerTopic, w.MessageSize, rec, tag)
		if err != nil {
			return reports.Run{}, nil, s.withLog(sys, err)
		}
		senders, closeFn = jc.Senders(), jc.Close
		before = func() map[string]string { return nil }
		after = jc.StreamState
	}
	defer closeFn()
	infoBefore := before()

	// Start a little ahead, so that every producer begins on time.
	rec.epoch = time.Now().Add(20 * time.Millisecond)
	res := &resourceWindow{pid: sys.pid}
	self := &resourceWindow{pid: os.Getpid()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watch(ctx, rec, res, self, stop)
	}()
	Run(load, senders, rec, ctx.Done())
	close(stop)
	wg.Wait()
	// Let the consumers catch up with what was acknowledged.
	if w.Consumers > 0 && w.SubscriptionsPerTopic > 0 {
		want := rec.Counts().Acked * int64(w.SubscriptionsPerTopic)
		deadline := time.Now().Add(consumeTimeout)
		for rec.Counts().Received < want && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	run := rec.Result()
	run.TargetRate = 0
	if res.err != nil {
		s.note(fmt.Sprintf("Broker resources not read from /proc: %v", res.err))
	}
	if sys.pid > 0 && res.err == nil {
		cpu := res.CPU()
		run.BrokerCPUSeconds = cpu.Seconds()
		run.BrokerMaxRSS = res.hwm
		if run.AckedInPeriod > 0 {
			run.CPUPerMessageUs = float64(cpu.Microseconds()) / float64(run.AckedInPeriod)
		}
		if moved := rec.BytesMovedInPeriod(); moved > 0 {
			run.CPUPerGBUs = float64(cpu.Microseconds()) / (float64(moved) / 1e9)
		}
	}
	if self.err == nil {
		run.ClientCPUSeconds = self.CPU().Seconds()
	}
	infoAfter := after()
	var opts map[string]string
	if infoBefore != nil && infoAfter != nil {
		run.Counters = counterDelta(infoBefore, infoAfter)
		opts = map[string]string{}
		for _, k := range []string{"flushDiskType", "commitLogWritePath", "transferMsgByHeap"} {
			if v := infoAfter[k]; v != "" {
				opts[k] = v
			}
		}
	} else if infoAfter != nil {
		run.Counters = infoAfter
	}
	if exited, err := sys.exited(); exited {
		return run, opts, s.withLog(sys, fmt.Errorf("the server exited during the run: %v", err))
	}
	return run, opts, ctx.Err()
}

func (sys *system) exited() (bool, error) {
	switch {
	case sys.thrust != nil:
		return sys.thrust.Exited()
	case sys.nats != nil:
		return sys.nats.Exited()
	}
	return false, nil
}

func (s *runner) withLog(sys *system, err error) error {
	var p *Process
	switch {
	case sys.thrust != nil:
		p = sys.thrust.Process
	case sys.nats != nil:
		p = sys.nats.Process
	}
	if p == nil {
		return err
	}
	log := p.Log()
	if len(log) > 4000 {
		log = log[len(log)-4000:]
	}
	return fmt.Errorf("%w\n%s output (last lines):\n%s", err, p.Name, log)
}

// watch reads the server's resources at the window's edges and prints
// progress during long periods.
func (s *runner) watch(ctx context.Context, rec *Recorder, res, self *resourceWindow, stop <-chan struct{}) {
	from, to := rec.Window()
	every := s.opts.ProgressEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	wait := func(t time.Duration) bool {
		d := time.Until(rec.Epoch().Add(t))
		if d <= 0 {
			return true
		}
		select {
		case <-time.After(d):
			return true
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
	if !wait(from) {
		return
	}
	res.Start()
	self.Start()
	long := to-from >= 2*every
	for t := from + every; long && t < to; t += every {
		if !wait(t) {
			return
		}
		c := rec.Counts()
		fmt.Fprintf(s.progress, "         t=%-4s sent %d, acked %d, errors %d, received %d\n", (t - from).Round(time.Second), c.Sent, c.Acked, c.Errors, c.Received)
	}
	if !wait(to) {
		// The generator ended early (stopped): close the window now.
		res.End()
		self.End()
		return
	}
	res.End()
	self.End()
}

// runLine is a run's one-line summary for progress output.
func runLine(r reports.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.0f msg/s  p50 %s  p99 %s  p99.9 %s  max %s  e2e p99 %s",
		r.ThroughputMsgs, FormatMicros(r.Latency.P50), FormatMicros(r.Latency.P99), FormatMicros(r.Latency.P999), FormatMicros(r.Latency.Max), FormatMicros(r.EndToEnd.P99))
	if r.CPUPerMessageUs > 0 {
		fmt.Fprintf(&b, "  cpu %.1fµs/msg", r.CPUPerMessageUs)
	}
	if n := errorCount(&r); n > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.Errors[k]))
		}
		fmt.Fprintf(&b, "  errors: %s", strings.Join(parts, ", "))
	}
	return b.String()
}
