package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/thrustmq/thrust/benchmarks"
	"github.com/thrustmq/thrust/reports"
)

var brokerOnce struct {
	sync.Once
	path string
	err  error
}

// brokerBinary builds mqbroker once for the package's tests.
func brokerBinary(t *testing.T) string {
	t.Helper()
	brokerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mqbench-test-")
		if err != nil {
			brokerOnce.err = err
			return
		}
		brokerOnce.path = filepath.Join(dir, "mqbroker")
		if out, err := exec.Command("go", "build", "-o", brokerOnce.path, "../mqbroker").CombinedOutput(); err != nil {
			brokerOnce.err = fmt.Errorf("go build mqbroker: %v\n%s", err, out)
		}
	})
	if brokerOnce.err != nil {
		t.Fatal(brokerOnce.err)
	}
	return brokerOnce.path
}

// TestQuickPresetSmoke runs the quick preset, scaled down, and checks the
// results and the report for their structure: every configuration, every
// repetition, every percentile, both files. It never looks at speed: CI
// machines are shared and small.
func TestQuickPresetSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs brokers")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "-workload", "../../benchmarks/workloads/quick.yaml", "-out", out,
		"-scale", "0.25", "-broker", brokerBinary(t), "-store-dir", t.TempDir()}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != exitOK {
		t.Fatalf("mqbench run exited %d", code)
	}

	s, err := reports.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	w, err := benchmarks.ParseWorkload("../../benchmarks/workloads/quick.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := w.Expand()
	jetstream := benchmarks.FindNATSServer("") != ""
	if !jetstream && os.Getenv("MQBENCH_REQUIRE_JETSTREAM") != "" {
		// make ci installs nats-server first: its absence there is a
		// broken set-up, not a reason to check less.
		t.Fatal("MQBENCH_REQUIRE_JETSTREAM is set but no nats-server was found (benchmarks/install-nats.sh)")
	}
	var names []string
	for _, c := range want {
		if c.System == benchmarks.SystemJetStream && !jetstream {
			continue
		}
		names = append(names, c.Name)
	}
	if len(s.Configs) != len(names) {
		t.Fatalf("%d configurations in the results, want %d (%v)", len(s.Configs), len(names), names)
	}
	axes := map[string]bool{}
	for i, c := range s.Configs {
		if c.Name != names[i] {
			t.Errorf("configuration %d is %q, want %q", i, c.Name, names[i])
		}
		for k, v := range c.Options {
			axes[k+"="+v] = true
		}
		if len(c.Runs) != w.Repetitions {
			t.Errorf("%s: %d runs, want %d", c.Name, len(c.Runs), w.Repetitions)
		}
		for _, r := range c.Runs {
			l := r.Latency
			if r.Acked == 0 || r.ThroughputMsgs <= 0 || l.P50 <= 0 || l.P99 < l.P50 || l.P999 < l.P99 || l.Max < l.P999 || len(l.Spectrum) == 0 {
				t.Errorf("%s rep %d: acked %d, %v msg/s, latency %+v", c.Name, r.Repetition, r.Acked, r.ThroughputMsgs, l)
			}
			if r.Uncorrected.Count == 0 || r.SenderLag.Count == 0 || r.EndToEnd.Count == 0 || len(r.Series) == 0 {
				t.Errorf("%s rep %d: a distribution or the series is missing", c.Name, r.Repetition)
			}
			if r.BrokerCPUSeconds <= 0 || r.CPUPerMessageUs <= 0 || r.BrokerMaxRSS <= 0 {
				t.Errorf("%s rep %d: broker resources not measured: cpu %v, %v µs/msg, rss %d", c.Name, r.Repetition, r.BrokerCPUSeconds, r.CPUPerMessageUs, r.BrokerMaxRSS)
			}
			if c.System == benchmarks.SystemThrust && r.Counters["sendRequests"] == "" {
				t.Errorf("%s rep %d: no broker counters", c.Name, r.Repetition)
			}
		}
	}
	// The order interleaves repetitions: rep 1 of every configuration
	// before rep 2 of any.
	for _, c := range s.Configs {
		if c.Runs[0].Order > len(s.Configs) || c.Runs[1].Order <= len(s.Configs) {
			t.Errorf("%s: orders %d, %d are not interleaved", c.Name, c.Runs[0].Order, c.Runs[1].Order)
		}
	}
	for _, a := range []string{"flushDiskType=SYNC_FLUSH", "flushDiskType=ASYNC_FLUSH", "commitLogWritePath=mmap",
		"commitLogWritePath=pwrite", "transferMsgByHeap=false", "transferMsgByHeap=true"} {
		if !axes[a] {
			t.Errorf("no row with %s", a)
		}
	}
	if s.Environment.CPU == "" || s.Environment.GoVersion == "" || s.Environment.Kernel == "" || s.Environment.Disk == "" {
		t.Errorf("environment: %+v", s.Environment)
	}
	comparisons := map[string]bool{}
	for _, c := range s.Comparisons {
		comparisons[c.Name] = true
	}
	for _, c := range []string{"Thrust SYNC_FLUSH / Thrust ASYNC_FLUSH", "sendfile / copy, broker CPU per GB", "pwrite / mmap, throughput"} {
		if !comparisons[c] {
			t.Errorf("no comparison %q: %v", c, comparisons)
		}
	}
	if jetstream && (!comparisons["Thrust SYNC_FLUSH / JetStream always"] || !comparisons["Thrust ASYNC_FLUSH / JetStream default"]) {
		t.Errorf("no JetStream ratios: %v", comparisons)
	}
	if len(s.Thresholds) == 0 {
		t.Error("no thresholds evaluated")
	}

	md, err := os.ReadFile(filepath.Join(out, reports.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(out, reports.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !bytes.Contains(md, []byte(name)) || !bytes.Contains(html, []byte(name)) {
			t.Errorf("report lacks a row for %q", name)
		}
	}
	for _, s := range []string{"p50", "p99", "p99.9", "max", "msg/s", "SYNC_FLUSH", "ASYNC_FLUSH", "pwrite"} {
		if !bytes.Contains(md, []byte(s)) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	if !bytes.Contains(html, []byte("<svg")) {
		t.Error("report.html has no chart")
	}

	// mqbench report re-renders from results.json alone.
	os.Remove(filepath.Join(out, reports.MarkdownFile))
	stdout.Reset()
	if code := run([]string{"report", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("mqbench report exited %d: %s", code, stderr.String())
	}
	if again, err := os.ReadFile(filepath.Join(out, reports.MarkdownFile)); err != nil || !bytes.Equal(again, md) {
		t.Errorf("report re-rendered differently (%v)", err)
	}
}

// TestBrokenThresholdExitsNonZero: a workload's threshold that does not
// hold makes mqbench run exit 99, and the summary names it.
func TestBrokenThresholdExitsNonZero(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker")
	}
	dir := t.TempDir()
	wl := filepath.Join(dir, "w.yaml")
	os.WriteFile(wl, []byte(`
name: threshold
producerRate: 500
warmupSeconds: 0.2
durationSeconds: 0.5
repetitions: 1
thresholds: ["errors == 0", "p99 < 1us"]
configs:
  - name: tiny
    options: {flushDiskType: ASYNC_FLUSH}
`), 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "-workload", wl, "-out", filepath.Join(dir, "out"), "-broker", brokerBinary(t), "-q"}, &stdout, &stderr)
	if code != exitThreshold {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitThreshold, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "1 threshold(s) broken") || !strings.Contains(stdout.String(), "tiny: p99 < 1us") {
		t.Errorf("summary does not say which threshold broke:\n%s", stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", reports.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var s reports.Suite
	json.Unmarshal(b, &s)
	if len(s.Thresholds) != 2 || !s.Thresholds[0].OK || s.Thresholds[1].OK {
		t.Errorf("thresholds: %+v", s.Thresholds)
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != exitUsage {
		t.Errorf("no arguments: exit %d", code)
	}
	if code := run([]string{"run", "-workload", "x.yaml"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "-out") {
		t.Errorf("missing -out: exit %d, %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"run", "-workload", "/nonexistent.yaml", "-out", t.TempDir()}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "nonexistent") {
		t.Errorf("missing file: exit %d, %s", code, stderr.String())
	}
	if code := run([]string{"report"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("report without DIR: exit %d", code)
	}
}

// TestBacklogDrain: consumerBacklogSizeGB fills a backlog with the
// consumers stopped and measures its drain.
func TestBacklogDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker")
	}
	dir := t.TempDir()
	wl := filepath.Join(dir, "w.yaml")
	os.WriteFile(wl, []byte(`
name: backlog
messageSize: 4096
consumerBacklogSizeGB: 0.02  # long enough to drain for some ticks of /proc's 10 ms CPU clock
repetitions: 1
suiteWarmupSeconds: -1
configs:
  - name: sendfile
    options: {transferMsgByHeap: false}
  - name: copy
    options: {transferMsgByHeap: true}
`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "-workload", wl, "-out", filepath.Join(dir, "out"), "-broker", brokerBinary(t), "-q"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	s, err := reports.Read(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Configs {
		r := c.Runs[0]
		if r.Acked < 4800 || r.Received != r.Acked || len(r.Errors) > 0 || r.ThroughputBytes <= 0 || r.CPUPerGBUs <= 0 {
			t.Errorf("%s: acked %d received %d errors %v, %v B/s, %v µs/GB", c.Name, r.Acked, r.Received, r.Errors, r.ThroughputBytes, r.CPUPerGBUs)
		}
	}
	var sendfile, copied string
	for _, c := range s.Configs {
		if c.Name == "sendfile" {
			sendfile = c.Runs[0].Counters["pullBodySendFileBytes"]
		} else {
			copied = c.Runs[0].Counters["pullBodyCopiedBytes"]
		}
	}
	if sendfile == "" || sendfile == "0" || copied == "" || copied == "0" {
		t.Errorf("pull paths not shown by the counters: sendfile %q, copied %q", sendfile, copied)
	}
}
