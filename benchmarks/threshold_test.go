package benchmarks

import (
	"math"
	"testing"

	"github.com/thrustmq/thrust/reports"
)

func TestParseThreshold(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		metric string
		op     string
		bound  float64
	}{
		{"p99 < 5ms", "p99", "<", 5000},
		{"p(99.9)<=250us", "p99.9", "<=", 250},
		{"p999 < 1s", "p999", "<", 1e6},
		{"max < 20", "max", "<", 20000}, // bare numbers are milliseconds, as in k6
		{"e2e.p99 < 50ms", "e2e.p99", "<", 50000},
		{"uncorrected.p50 < 1.5ms", "uncorrected.p50", "<", 1500},
		{"lag.p99 < 100µs", "lag.p99", "<", 100},
		{"errors == 0", "errors", "==", 0},
		{"error_rate < 0.01", "error_rate", "<", 0.01},
		{"msgs > 1000", "msgs", ">", 1000},
		{"throughput >= 20000", "throughput", ">=", 20000},
		{"cpu_per_msg < 30us", "cpu_per_msg", "<", 30},
		{"rss < 512MiB", "rss", "<", 512 << 20},
		{"received != 0", "received", "!=", 0},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if th.Metric != tc.metric || th.Op != tc.op || math.Abs(th.Bound-tc.bound) > 1e-9 {
			t.Errorf("%q: got %s %s %g, want %s %s %g", tc.expr, th.Metric, th.Op, th.Bound, tc.metric, tc.op, tc.bound)
		}
	}
	for _, bad := range []string{"", "p99", "p99 << 5ms", "p99 < fast", "p99 < 5 parsecs", "errors == 0ms", "rss < 5ms", "speed > 1"} {
		if _, err := ParseThreshold(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestThresholdsOnMedians(t *testing.T) {
	runs := []reports.Run{
		{Sent: 100, Acked: 100, Latency: reports.Latency{P99: 1000}},
		{Sent: 100, Acked: 99, Errors: map[string]int64{"timeout": 1}, Latency: reports.Latency{P99: 9000}},
		{Sent: 100, Acked: 100, Latency: reports.Latency{P99: 3000}},
	}
	for _, tc := range []struct {
		expr  string
		ok    bool
		value string
	}{
		{"p99 < 5ms", true, "3.00ms"}, // the median, not the worst run
		{"p99 < 2ms", false, "3.00ms"},
		{"errors == 0", true, "0"},
		{"msgs > 99", true, "100"},
		{"error_rate < 0.001", true, "0"},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		v := th.Value(runs)
		if th.Holds(v) != tc.ok || th.Format(v) != tc.value {
			t.Errorf("%s: holds %v value %s, want %v %s", tc.expr, th.Holds(v), th.Format(v), tc.ok, tc.value)
		}
	}
	th, _ := ParseThreshold("p99 < 5ms")
	if v := th.Value(nil); th.Holds(v) || th.Format(v) != "no runs" {
		t.Errorf("no runs: holds %v, %s", th.Holds(v), th.Format(v))
	}
	cfgs := []Config{{Name: "a", Thresholds: []Threshold{th}}}
	got := EvaluateThresholds(cfgs, []reports.Config{{Name: "a", Runs: runs}})
	if len(got) != 1 || got[0].Config != "a" || got[0].Expr != "p99 < 5ms" || !got[0].OK || got[0].Value != "3.00ms" {
		t.Errorf("evaluate: %+v", got)
	}
}
