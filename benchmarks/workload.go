package benchmarks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Workload is a workload file: the load (with the OpenMessaging
// Benchmark's field names where it has them), how often to repeat it, the
// thresholds a run must meet, and the configurations to run it against.
//
// Rates are msg/s summed over all producers; durations are seconds.
type Workload struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`

	Topics         int `yaml:"topics"`
	QueuesPerTopic int `yaml:"queuesPerTopic"`
	MessageSize    int `yaml:"messageSize"`
	// Producers is the number of producer connections in all, each with
	// its own client (and, for Thrust, its own event loop).
	Producers int `yaml:"producers"`
	// ProducerRate is the intended send rate; 0 asks for the maximum
	// sustainable rate (see MaxRate).
	ProducerRate float64 `yaml:"producerRate"`
	// Consumers is the number of consumer connections per subscription
	// (one consumer group per subscription, sharing the queues).
	Consumers             int     `yaml:"consumers"`
	SubscriptionsPerTopic int     `yaml:"subscriptionsPerTopic"`
	DurationSeconds       float64 `yaml:"durationSeconds"`
	WarmupSeconds         float64 `yaml:"warmupSeconds"`
	// ConsumerBacklogSizeGB, OMB's, measures the pull path alone: each run
	// first fills a backlog of this many GB (10^9 bytes of bodies) with
	// the consumers stopped, then starts them and measures the drain, with
	// the producers stopped (OMB keeps producing; here the figures are the
	// consumers' alone). Rates, stages and the maximum-rate search do not
	// apply; latency is the drained messages' age.
	ConsumerBacklogSizeGB float64 `yaml:"consumerBacklogSizeGB"`
	// KeyDistribution is OMB's: NO_KEY (queues in round robin),
	// KEY_ROUND_ROBIN or RANDOM_NANO (a key per message, which picks the
	// queue).
	KeyDistribution string `yaml:"keyDistribution"`
	// InFlight bounds the sends each producer has outstanding (requests:
	// a batch counts once). When the window is full the next send waits,
	// and its latency, measured from its intended time, grows.
	InFlight int `yaml:"inFlight"`
	// BatchSize is the messages per send request (SEND_BATCH_MESSAGE when
	// over 1); a configuration may override it as option batchSize.
	BatchSize   int `yaml:"batchSize"`
	Repetitions int `yaml:"repetitions"`
	// SuiteWarmupSeconds is a closed-loop run of the first configuration
	// before the first repetition, not recorded (2 when unset; a negative
	// value skips it).
	SuiteWarmupSeconds float64 `yaml:"suiteWarmupSeconds"`
	// CooldownSeconds is an idle pause before every run after the first:
	// on some machines a run at full load leaves the next few seconds
	// slower (measured on a 2-core VM: a SYNC_FLUSH p99 at 4,000 msg/s of
	// 2 ms alone, 10 ms right after a maximum-rate run).
	CooldownSeconds float64 `yaml:"cooldownSeconds"`
	MaxRate         MaxRate `yaml:"maxRate"`
	// StartRate and Stages make the rate ramp, as k6's ramping-arrival-rate
	// executor does: from StartRate, each stage moves linearly to its
	// target over its duration. With stages, the measured period is their
	// sum and DurationSeconds is ignored; warm-up runs at StartRate (or the
	// first target when StartRate is 0).
	StartRate float64 `yaml:"startRate"`
	Stages    []Stage `yaml:"stages"`
	// Thresholds are k6-style pass/fail bounds ("p99 < 5ms"), evaluated
	// per configuration on the medians of its repetitions.
	Thresholds []string `yaml:"thresholds"`

	// ThrustOptions are broker.conf keys every Thrust configuration
	// starts from (a configuration's own options win).
	ThrustOptions map[string]any `yaml:"thrustOptions"`
	// Matrix expands into Thrust configurations: every combination of the
	// listed values of each key.
	Matrix map[string][]any `yaml:"matrix"`
	// Configs are listed configurations, after the matrix's.
	Configs []ConfigSpec `yaml:"configs"`

	// The OpenMessaging Benchmark's spellings, accepted and converted.
	OMBPartitionsPerTopic      int     `yaml:"partitionsPerTopic"`
	OMBProducersPerTopic       int     `yaml:"producersPerTopic"`
	OMBConsumerPerSubscription int     `yaml:"consumerPerSubscription"`
	OMBTestDurationMinutes     float64 `yaml:"testDurationMinutes"`
	OMBWarmupDurationMinutes   float64 `yaml:"warmupDurationMinutes"`

	// File is where the workload was read from.
	File string `yaml:"-"`
}

// MaxRate says how producerRate 0 is resolved: a closed-loop probe at the
// full in-flight window measures what the system absorbs, then an
// open-loop pass runs at Fraction of it; while a pass does not keep up,
// the next runs at Fraction of the lower of its rate and the rate it
// actually sustained, at most Steps more times (2 when unset).
type MaxRate struct {
	ProbeSeconds float64 `yaml:"probeSeconds"`
	Fraction     float64 `yaml:"fraction"`
	Steps        *int    `yaml:"steps"`
}

// StepsDown is Steps with its default.
func (m MaxRate) StepsDown() int {
	if m.Steps == nil {
		return 2
	}
	return *m.Steps
}

// Stage is one ramp of a k6-style ramping arrival rate.
type Stage struct {
	Duration time.Duration
	Target   float64
}

// UnmarshalYAML reads {duration: 10s, target: 2000}.
func (s *Stage) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Duration string  `yaml:"duration"`
		Target   float64 `yaml:"target"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	d, err := parseSeconds(raw.Duration)
	if err != nil {
		return fmt.Errorf("line %d: stage duration %q: %w", n.Line, raw.Duration, err)
	}
	s.Duration, s.Target = d, raw.Target
	return nil
}

// parseSeconds accepts Go durations ("10s", "1m30s") and bare seconds.
func parseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(v * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// ConfigSpec is one configuration as the workload file lists it.
type ConfigSpec struct {
	Name string `yaml:"name"`
	// System is "thrust" (the default) or "jetstream".
	System string `yaml:"system"`
	// Options are broker.conf keys for Thrust (and the producer's
	// batchSize); for JetStream, sync_interval ("always", a duration, or
	// "default").
	Options map[string]any `yaml:"options"`
	// ProducerRate, when set, overrides the workload's (a fixed-rate
	// latency row beside maximum-rate rows).
	ProducerRate *float64 `yaml:"producerRate"`
	Thresholds   []string `yaml:"thresholds"`
}

// Systems the runner knows.
const (
	SystemThrust    = "thrust"
	SystemJetStream = "jetstream"
)

// Key distributions (OMB's names).
const (
	KeyNone       = "NO_KEY"
	KeyRoundRobin = "KEY_ROUND_ROBIN"
	KeyRandomNano = "RANDOM_NANO"
)

// Client-side options a Thrust configuration may carry besides broker.conf
// keys.
const OptionBatchSize = "batchSize"

// Config is one expanded, validated configuration.
type Config struct {
	Name   string
	System string
	// Options are what makes the configuration: for Thrust the broker.conf
	// keys written for it (the workload's thrustOptions merged in) and
	// batchSize; for JetStream sync_interval.
	Options map[string]string
	// ProducerRate is the effective intended rate; 0 means maximum.
	ProducerRate float64
	BatchSize    int
	Thresholds   []Threshold
}

// Limits on what a workload may ask for, so that every load is bounded.
const (
	maxTopics         = 64
	maxQueuesPerTopic = 1024
	maxMessageSize    = 4 << 20
	maxProducers      = 256
	maxConsumers      = 256
	maxInFlight       = 1 << 14
	maxBatchSize      = 1024
	maxRepetitions    = 100
	maxSeconds        = 24 * 3600
	// maxMessagesPerRun bounds the messages one run's schedule may hold.
	maxMessagesPerRun = 2e9
)

// MinMessageSize is the smallest body: the generator writes the intended
// and actual send times into the first 16 bytes.
const MinMessageSize = 16

// ParseWorkload reads a workload file.
func ParseWorkload(path string) (*Workload, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, err := ParseWorkloadBytes(b)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", path, err)
	}
	w.File = path
	return w, nil
}

// ParseWorkloadBytes parses and validates a workload, filling defaults.
// Unknown keys are errors, with their line.
func ParseWorkloadBytes(b []byte) (*Workload, error) {
	var w Workload
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty workload")
		}
		return nil, err
	}
	if err := w.normalize(); err != nil {
		return nil, err
	}
	return &w, nil
}

// normalize converts OMB's spellings, fills defaults and checks bounds.
func (w *Workload) normalize() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	alias := func(name, omb string, dst *int, v int) {
		if v == 0 {
			return
		}
		if *dst != 0 {
			bad("both %s and %s are set; use %s", name, omb, name)
			return
		}
		*dst = v
	}
	alias("queuesPerTopic", "partitionsPerTopic", &w.QueuesPerTopic, w.OMBPartitionsPerTopic)
	alias("consumers", "consumerPerSubscription", &w.Consumers, w.OMBConsumerPerSubscription)
	if w.OMBProducersPerTopic != 0 {
		topics := max(w.Topics, 1)
		alias("producers", "producersPerTopic", &w.Producers, w.OMBProducersPerTopic*topics)
	}
	minutes := func(name, omb string, dst *float64, v float64) {
		if v == 0 {
			return
		}
		if *dst != 0 {
			bad("both %s and %s are set; use %s", name, omb, name)
			return
		}
		*dst = v * 60
	}
	minutes("durationSeconds", "testDurationMinutes", &w.DurationSeconds, w.OMBTestDurationMinutes)
	minutes("warmupSeconds", "warmupDurationMinutes", &w.WarmupSeconds, w.OMBWarmupDurationMinutes)

	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&w.Topics, 1)
	defInt(&w.QueuesPerTopic, 8)
	defInt(&w.MessageSize, 1024)
	defInt(&w.Producers, 1)
	defInt(&w.Consumers, 1)
	defInt(&w.SubscriptionsPerTopic, 1)
	defInt(&w.InFlight, 256)
	defInt(&w.BatchSize, 1)
	defInt(&w.Repetitions, 3)
	if w.SuiteWarmupSeconds == 0 {
		w.SuiteWarmupSeconds = 2
	}
	if w.DurationSeconds == 0 && len(w.Stages) == 0 {
		w.DurationSeconds = 60
	}
	if w.KeyDistribution == "" {
		w.KeyDistribution = KeyNone
	}
	if w.MaxRate.ProbeSeconds == 0 {
		w.MaxRate.ProbeSeconds = 5
	}
	if w.MaxRate.Fraction == 0 {
		w.MaxRate.Fraction = 0.9
	}

	rng := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			bad("%s must be in %d..%d (got %d)", name, lo, hi, v)
		}
	}
	rng("topics", w.Topics, 1, maxTopics)
	rng("queuesPerTopic", w.QueuesPerTopic, 1, maxQueuesPerTopic)
	rng("messageSize", w.MessageSize, MinMessageSize, maxMessageSize)
	rng("producers", w.Producers, 1, maxProducers)
	rng("consumers", w.Consumers, 0, maxConsumers)
	rng("subscriptionsPerTopic", w.SubscriptionsPerTopic, 0, 16)
	rng("inFlight", w.InFlight, 1, maxInFlight)
	rng("batchSize", w.BatchSize, 1, maxBatchSize)
	rng("repetitions", w.Repetitions, 1, maxRepetitions)
	rng("maxRate.steps", w.MaxRate.StepsDown(), 0, 10)
	secs := func(name string, v, lo float64) {
		if math.IsNaN(v) || v < lo || v > maxSeconds {
			bad("%s must be in %g..%d (got %g)", name, lo, maxSeconds, v)
		}
	}
	if len(w.Stages) == 0 {
		secs("durationSeconds", w.DurationSeconds, 0.1)
	}
	secs("warmupSeconds", w.WarmupSeconds, 0)
	if w.SuiteWarmupSeconds > 0 {
		secs("suiteWarmupSeconds", w.SuiteWarmupSeconds, 0)
	}
	secs("cooldownSeconds", w.CooldownSeconds, 0)
	secs("maxRate.probeSeconds", w.MaxRate.ProbeSeconds, 0.1)
	if f := w.MaxRate.Fraction; !(f > 0 && f <= 1) {
		bad("maxRate.fraction must be in (0, 1] (got %g)", f)
	}
	if b := w.ConsumerBacklogSizeGB; b < 0 || b > 1024 || math.IsNaN(b) {
		bad("consumerBacklogSizeGB must be in 0..1024 (got %g)", b)
	}
	if w.ConsumerBacklogSizeGB > 0 && (w.Consumers == 0 || w.SubscriptionsPerTopic == 0) {
		bad("consumerBacklogSizeGB needs consumers to drain the backlog")
	}
	if w.ProducerRate < 0 || math.IsNaN(w.ProducerRate) || math.IsInf(w.ProducerRate, 0) {
		bad("producerRate must be 0 (find the maximum) or a positive rate (got %g)", w.ProducerRate)
	}
	if w.StartRate < 0 {
		bad("startRate must not be negative (got %g)", w.StartRate)
	}
	for i, s := range w.Stages {
		if s.Duration <= 0 || s.Target < 0 || math.IsNaN(s.Target) {
			bad("stages[%d]: duration must be positive and target not negative (got %v, %g)", i, s.Duration, s.Target)
		}
	}
	if len(w.Stages) > 0 {
		if w.ProducerRate != 0 {
			bad("stages and producerRate are exclusive: stages set the rate")
		}
		var total time.Duration
		for _, s := range w.Stages {
			total += s.Duration
		}
		w.DurationSeconds = total.Seconds()
		secs("the stages' total duration", w.DurationSeconds, 0.1)
	}
	switch w.KeyDistribution {
	case KeyNone, KeyRoundRobin, KeyRandomNano:
	default:
		bad("keyDistribution %q is none of %s, %s, %s", w.KeyDistribution, KeyNone, KeyRoundRobin, KeyRandomNano)
	}
	for _, t := range w.Thresholds {
		if _, err := ParseThreshold(t); err != nil {
			errs = append(errs, err)
		}
	}
	if peak := w.peakRate(); peak*(w.DurationSeconds+w.WarmupSeconds) > maxMessagesPerRun {
		bad("the schedule holds over %g messages; shorten it or lower the rate", float64(maxMessagesPerRun))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := w.Expand()
	return err
}

func (w *Workload) peakRate() float64 {
	peak := max(w.ProducerRate, w.StartRate)
	for _, s := range w.Stages {
		peak = max(peak, s.Target)
	}
	for _, c := range w.Configs {
		if c.ProducerRate != nil {
			peak = max(peak, *c.ProducerRate)
		}
	}
	return peak
}

// Warmup and Duration are the workload's periods.
func (w *Workload) Warmup() time.Duration {
	return time.Duration(w.WarmupSeconds * float64(time.Second))
}

func (w *Workload) Duration() time.Duration {
	return time.Duration(w.DurationSeconds * float64(time.Second))
}

// Expand lists the configurations: the matrix's combinations (keys in
// sorted order, values in the order given), then the listed ones, each
// validated. Names are unique; a configuration without a name gets one
// from its options.
func (w *Workload) Expand() ([]Config, error) {
	var specs []ConfigSpec
	if len(w.Matrix) > 0 {
		keys := make([]string, 0, len(w.Matrix))
		for k, vs := range w.Matrix {
			if len(vs) == 0 {
				return nil, fmt.Errorf("matrix: %s lists no values", k)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		combos := []map[string]any{{}}
		for _, k := range keys {
			var next []map[string]any
			for _, c := range combos {
				for _, v := range w.Matrix[k] {
					m := make(map[string]any, len(c)+1)
					for ck, cv := range c {
						m[ck] = cv
					}
					m[k] = v
					next = append(next, m)
				}
			}
			combos = next
			if len(combos) > 256 {
				return nil, fmt.Errorf("matrix: over 256 combinations; list configurations instead")
			}
		}
		for _, c := range combos {
			specs = append(specs, ConfigSpec{System: SystemThrust, Options: c})
		}
	}
	specs = append(specs, w.Configs...)
	if len(specs) == 0 {
		specs = []ConfigSpec{{System: SystemThrust}}
	}
	var out []Config
	seen := map[string]bool{}
	for i, s := range specs {
		c, err := w.config(s)
		if err != nil {
			return nil, fmt.Errorf("configuration %d (%s): %w", i+1, orDefault(s.Name, "unnamed"), err)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("configuration %d: name %q is used twice", i+1, c.Name)
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	return out, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// config validates one spec and fills in its effective options.
func (w *Workload) config(s ConfigSpec) (Config, error) {
	c := Config{System: strings.ToLower(orDefault(s.System, SystemThrust)), ProducerRate: w.ProducerRate, BatchSize: w.BatchSize, Options: map[string]string{}}
	if s.ProducerRate != nil {
		if *s.ProducerRate < 0 || len(w.Stages) > 0 {
			return c, fmt.Errorf("producerRate %g: must not be negative, and stages set the rate", *s.ProducerRate)
		}
		c.ProducerRate = *s.ProducerRate
	}
	for _, t := range append(slices.Clone(w.Thresholds), s.Thresholds...) {
		th, err := ParseThreshold(t)
		if err != nil {
			return c, err
		}
		c.Thresholds = append(c.Thresholds, th)
	}
	switch c.System {
	case SystemThrust:
		for k, v := range w.ThrustOptions {
			c.Options[k] = optionString(v)
		}
		for k, v := range s.Options {
			c.Options[k] = optionString(v)
		}
		if v, ok := c.Options[OptionBatchSize]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxBatchSize {
				return c, fmt.Errorf("batchSize %q must be in 1..%d", v, maxBatchSize)
			}
			c.BatchSize = n
		}
		if err := checkThrustOptions(c.Options); err != nil {
			return c, err
		}
		// The three axes every report compares are always shown, with
		// Thrust's defaults where the configuration is silent.
		defaults := map[string]string{"flushDiskType": "ASYNC_FLUSH", "commitLogWritePath": "mmap", "transferMsgByHeap": "false"}
		for k, v := range defaults {
			if _, ok := c.Options[k]; !ok {
				c.Options[k] = v
			}
		}
	case SystemJetStream:
		for k, v := range s.Options {
			if k != "sync_interval" {
				return c, fmt.Errorf("jetstream option %q is unknown (only sync_interval)", k)
			}
			c.Options[k] = optionString(v)
		}
		if c.Options["sync_interval"] == "" {
			c.Options["sync_interval"] = "default"
		}
		if v := c.Options["sync_interval"]; v != "always" && v != "default" {
			if _, err := time.ParseDuration(v); err != nil {
				return c, fmt.Errorf("jetstream sync_interval %q is neither always, default nor a duration", v)
			}
		}
		if c.BatchSize != 1 {
			return c, fmt.Errorf("batchSize %d: JetStream rows publish one message per request", c.BatchSize)
		}
	default:
		return c, fmt.Errorf("system %q is neither %s nor %s", s.System, SystemThrust, SystemJetStream)
	}
	c.Name = s.Name
	if c.Name == "" {
		c.Name = deriveName(c)
	}
	return c, nil
}

func optionString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// thrustKeys are the broker.conf keys a configuration may set: those that
// shape performance. Placement keys (ports, paths, names) are the
// runner's.
var thrustKeys = map[string]func(string) error{
	"flushDiskType":                     oneOf("SYNC_FLUSH", "ASYNC_FLUSH"),
	"commitLogWritePath":                oneOf("mmap", "pwrite"),
	"transferMsgByHeap":                 oneOf("true", "false"),
	"warmMapedFileEnable":               oneOf("true", "false"),
	"enabledAppendPropCRC":              oneOf("true", "false"),
	"longPollingEnable":                 oneOf("true", "false"),
	"flushIntervalCommitLog":            nonNegativeInt,
	"flushCommitLogLeastPages":          nonNegativeInt,
	"flushCommitLogThoroughInterval":    nonNegativeInt,
	"flushIntervalConsumeQueue":         nonNegativeInt,
	"groupCommitIntervalMicros":         nonNegativeInt,
	"syncFlushTimeout":                  nonNegativeInt,
	"mappedFileSizeCommitLog":           nonNegativeInt,
	"mappedFileSizeConsumeQueue":        nonNegativeInt,
	"maxMessageSize":                    nonNegativeInt,
	"maxTransferBytesOnMessageInMemory": nonNegativeInt,
	"maxTransferCountOnMessageInMemory": nonNegativeInt,
	"defaultTopicQueueNums":             nonNegativeInt,
	"shortPollingTimeMills":             nonNegativeInt,
	OptionBatchSize:                     nonNegativeInt,
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(vals, v) {
			return nil
		}
		return fmt.Errorf("is none of %s", strings.Join(vals, ", "))
	}
}

func nonNegativeInt(v string) error {
	if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
		return errors.New("is not a non-negative integer")
	}
	return nil
}

func checkThrustOptions(opts map[string]string) error {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		check, ok := thrustKeys[k]
		if !ok {
			known := make([]string, 0, len(thrustKeys))
			for k := range thrustKeys {
				known = append(known, k)
			}
			sort.Strings(known)
			return fmt.Errorf("option %q is not a tuning option the runner knows (known: %s)", k, strings.Join(known, ", "))
		}
		if err := check(opts[k]); err != nil {
			return fmt.Errorf("option %s=%q %w", k, opts[k], err)
		}
	}
	return nil
}

// deriveName names a configuration from its options: "thrust sync mmap
// sendfile batchSize=16", "jetstream always".
func deriveName(c Config) string {
	parts := []string{c.System}
	if c.System == SystemJetStream {
		parts = append(parts, c.Options["sync_interval"])
	} else {
		parts = append(parts, strings.ToLower(strings.TrimSuffix(c.Options["flushDiskType"], "_FLUSH")), c.Options["commitLogWritePath"])
		if c.Options["transferMsgByHeap"] == "true" {
			parts = append(parts, "copy")
		} else {
			parts = append(parts, "sendfile")
		}
		keys := make([]string, 0, len(c.Options))
		for k := range c.Options {
			switch k {
			case "flushDiskType", "commitLogWritePath", "transferMsgByHeap":
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+"="+c.Options[k])
		}
	}
	if c.ProducerRate > 0 {
		parts = append(parts, "@"+strconv.FormatFloat(c.ProducerRate, 'f', -1, 64))
	}
	return strings.Join(parts, " ")
}

// BrokerConf renders a Thrust configuration's broker.conf keys (without
// batchSize, which is the producer's), sorted.
func (c Config) BrokerConf() string {
	keys := make([]string, 0, len(c.Options))
	for k := range c.Options {
		if k != OptionBatchSize {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, c.Options[k])
	}
	return b.String()
}
