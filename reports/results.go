package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The results format: what mqbench run writes (one results.json per
// invocation, in its output directory) and mqbench report reads. Every
// figure is a plain number with its unit in its name; durations are
// microseconds as floats, so that the JSON is readable by any tool.

// Suite is one mqbench run: one workload over a matrix of configurations,
// each repeated, interleaved.
type Suite struct {
	Name        string       `json:"name"`
	Workload    Workload     `json:"workload"`
	Environment Environment  `json:"environment"`
	Started     time.Time    `json:"started"`
	Finished    time.Time    `json:"finished"`
	Configs     []Config     `json:"configs"`
	Thresholds  []Threshold  `json:"thresholds,omitempty"`
	Notes       []string     `json:"notes,omitempty"`
	Comparisons []Comparison `json:"comparisons,omitempty"`
}

// Workload echoes the workload file's settings that shape the figures.
type Workload struct {
	File            string  `json:"file"`
	Topics          int     `json:"topics"`
	QueuesPerTopic  int     `json:"queuesPerTopic"`
	MessageSize     int     `json:"messageSize"`
	Producers       int     `json:"producers"`
	ProducerRate    float64 `json:"producerRate"` // msg/s in all; 0 = find the maximum
	Consumers       int     `json:"consumers"`
	DurationSeconds float64 `json:"durationSeconds"`
	WarmupSeconds   float64 `json:"warmupSeconds"`
	KeyDistribution string  `json:"keyDistribution,omitempty"`
	InFlight        int     `json:"inFlight"` // sends outstanding per producer, at most
	Repetitions     int     `json:"repetitions"`
}

// Environment is the machine and build the figures come from.
type Environment struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryGiB int    `json:"memoryGiB"`
	Kernel    string `json:"kernel"`
	Disk      string `json:"disk"`
	GoVersion string `json:"goVersion"`
	Commit    string `json:"commit"`
}

// Config is one column of the matrix: a system with its options.
type Config struct {
	// Name is a short label, unique in the suite ("thrust sync mmap
	// sendfile", "jetstream always").
	Name string `json:"name"`
	// System is "thrust" or a peer ("jetstream").
	System string `json:"system"`
	// Options are the settings that make this configuration (broker.conf
	// keys for Thrust), sorted by key when rendered.
	Options map[string]string `json:"options"`
	Runs    []Run             `json:"runs"`
}

// Run is one repetition of one configuration.
type Run struct {
	Repetition int `json:"repetition"`
	// Order is this run's place in the interleaved sequence of the suite.
	Order           int     `json:"order"`
	DurationSeconds float64 `json:"durationSeconds"` // measured, warm-up excluded
	// TargetRate is the intended send rate (msg/s, all producers), the
	// rate found by the search when the workload asked for the maximum.
	TargetRate float64 `json:"targetRate"`

	Sent     int64            `json:"sent"`
	Acked    int64            `json:"acked"`
	Received int64            `json:"received"`
	Errors   map[string]int64 `json:"errors,omitempty"` // by response code or error kind

	ThroughputMsgs  float64 `json:"throughputMsgs"`  // acknowledged msg/s
	ThroughputBytes float64 `json:"throughputBytes"` // acknowledged body bytes/s

	// Latency is send-to-ack measured from the intended send time (the
	// open-loop schedule), which corrects for coordinated omission;
	// Uncorrected from the actual send; SenderLag is actual minus
	// intended; EndToEnd is consume time minus born time.
	Latency     Latency `json:"latency"`
	Uncorrected Latency `json:"uncorrected"`
	SenderLag   Latency `json:"senderLag"`
	EndToEnd    Latency `json:"endToEnd"`

	// Series is one point per second of the measured period.
	Series []Second `json:"series,omitempty"`

	// The broker process's resources over the measured period (Thrust
	// and peers alike, read from /proc).
	BrokerCPUSeconds float64 `json:"brokerCPUSeconds"`
	BrokerMaxRSS     int64   `json:"brokerMaxRSSBytes"`
	// CPUPerMessageUs is broker CPU time per acknowledged message, and
	// CPUPerGBUs per GB moved (produced plus consumed).
	CPUPerMessageUs float64 `json:"cpuPerMessageUs"`
	CPUPerGBUs      float64 `json:"cpuPerGBUs"`

	// Counters are the broker's own (GET_BROKER_RUNTIME_INFO): proof of
	// which paths ran (sendfile bytes, syncs, ...).
	Counters map[string]string `json:"counters,omitempty"`

	// AckedInPeriod counts acknowledgements that arrived during the
	// measured period (whatever their intended time): the rate a run
	// actually sustained, and what CPU per message divides by.
	AckedInPeriod int64 `json:"ackedInPeriod"`
	// ProbeThroughputMsgs is, for a maximum-rate run, what the closed-loop
	// probe absorbed; TargetRate is the open-loop rate derived from it,
	// SearchSteps the open-loop passes it took.
	ProbeThroughputMsgs float64 `json:"probeThroughputMsgs,omitempty"`
	SearchSteps         int     `json:"searchSteps,omitempty"`
	// ClientCPUSeconds is the load generator's own CPU over the measured
	// period: on a machine shared with the broker, what the load took.
	ClientCPUSeconds float64 `json:"clientCPUSeconds,omitempty"`
}

// Latency is a latency distribution, in microseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50Us"`
	P90   float64 `json:"p90Us"`
	P99   float64 `json:"p99Us"`
	P999  float64 `json:"p999Us"`
	Max   float64 `json:"maxUs"`
	Mean  float64 `json:"meanUs"`
	// Spectrum is the percentile distribution (HdrHistogram's), for the
	// percentile-spectrum chart: percentiles from 0 to 99.9999 spaced by
	// halving the remaining distance to 100.
	Spectrum []Point `json:"spectrum,omitempty"`
}

// Point is one point of a percentile spectrum.
type Point struct {
	Percentile float64 `json:"percentile"`
	ValueUs    float64 `json:"valueUs"`
}

// Second is one second of a run.
type Second struct {
	T        int     `json:"t"` // seconds since the measured period began
	Sent     int64   `json:"sent"`
	Acked    int64   `json:"acked"`
	Received int64   `json:"received"`
	Errors   int64   `json:"errors"`
	P50Us    float64 `json:"p50Us"`
	P99Us    float64 `json:"p99Us"`
	MaxUs    float64 `json:"maxUs"`
}

// Threshold is a pass/fail bound from the workload file ("p99 < 5ms"),
// checked per configuration.
type Threshold struct {
	Expr   string `json:"expr"`
	Config string `json:"config"`
	Value  string `json:"value"`
	OK     bool   `json:"ok"`
}

// Comparison is a ratio the report prints: a metric of one configuration
// over another's, with the target it is measured against (never asserted).
type Comparison struct {
	Name        string  `json:"name"`
	Metric      string  `json:"metric"`
	Numerator   string  `json:"numerator"`
	Denominator string  `json:"denominator"`
	Ratio       float64 `json:"ratio"`
	Target      string  `json:"target,omitempty"`
	Met         bool    `json:"met"`
	// NumeratorValue and DenominatorValue are the medians the ratio
	// divides, in Metric's unit (for a bound such as "p99 at most 2 ms",
	// the denominator is the bound).
	NumeratorValue   float64 `json:"numeratorValue,omitempty"`
	DenominatorValue float64 `json:"denominatorValue,omitempty"`
}

// ResultsFile is the name of a suite's results in its directory.
const ResultsFile = "results.json"

// Write stores s as dir/results.json.
func Write(dir string, s *Suite) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ResultsFile), append(b, '\n'), 0o644)
}

// Read loads dir/results.json.
func Read(dir string) (*Suite, error) {
	b, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		return nil, err
	}
	var s Suite
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reports: %s: %w", filepath.Join(dir, ResultsFile), err)
	}
	return &s, nil
}
