package benchmarks

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/thrustmq/thrust/reports"
)

// Threshold is a k6-style pass/fail bound: "p99 < 5ms", "errors == 0",
// "msgs > 1000", "e2e.p99.9 <= 50ms", "throughput >= 20000".
//
// Latency metrics are p50, p90, p99, p99.9 (or p999), max and mean of the
// corrected send latency; prefix them with "e2e.", "uncorrected." or
// "lag." for the other distributions; k6's p(99) spelling works too. Their
// bounds take a unit (ns, us, µs, ms, s); a bare number means
// milliseconds, as in k6. Other metrics: errors (count), error_rate
// (errors / sent), msgs (acknowledged), received, throughput (msg/s),
// cpu_per_msg (a duration), rss (bytes; KiB, MiB, GiB allowed).
type Threshold struct {
	Expr   string
	Metric string
	Op     string
	// Bound is in the metric's base unit: microseconds for durations,
	// bytes, messages, msg/s or a ratio.
	Bound float64
}

type metricKind int

const (
	kindDuration metricKind = iota
	kindCount
	kindRate
	kindRatio
	kindBytes
)

type metricDef struct {
	kind metricKind
	get  func(r *reports.Run) float64
}

var latencyFields = map[string]func(l *reports.Latency) float64{
	"p50":   func(l *reports.Latency) float64 { return l.P50 },
	"p90":   func(l *reports.Latency) float64 { return l.P90 },
	"p99":   func(l *reports.Latency) float64 { return l.P99 },
	"p99.9": func(l *reports.Latency) float64 { return l.P999 },
	"p999":  func(l *reports.Latency) float64 { return l.P999 },
	"max":   func(l *reports.Latency) float64 { return l.Max },
	"mean":  func(l *reports.Latency) float64 { return l.Mean },
}

var latencyDists = map[string]func(r *reports.Run) *reports.Latency{
	"":             func(r *reports.Run) *reports.Latency { return &r.Latency },
	"e2e.":         func(r *reports.Run) *reports.Latency { return &r.EndToEnd },
	"uncorrected.": func(r *reports.Run) *reports.Latency { return &r.Uncorrected },
	"lag.":         func(r *reports.Run) *reports.Latency { return &r.SenderLag },
}

var otherMetrics = map[string]metricDef{
	"errors": {kindCount, func(r *reports.Run) float64 { return float64(errorCount(r)) }},
	"error_rate": {kindRatio, func(r *reports.Run) float64 {
		if r.Sent == 0 {
			return 0
		}
		return float64(errorCount(r)) / float64(r.Sent)
	}},
	"msgs":        {kindCount, func(r *reports.Run) float64 { return float64(r.Acked) }},
	"received":    {kindCount, func(r *reports.Run) float64 { return float64(r.Received) }},
	"throughput":  {kindRate, func(r *reports.Run) float64 { return r.ThroughputMsgs }},
	"cpu_per_msg": {kindDuration, func(r *reports.Run) float64 { return r.CPUPerMessageUs }},
	"rss":         {kindBytes, func(r *reports.Run) float64 { return float64(r.BrokerMaxRSS) }},
}

func errorCount(r *reports.Run) int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

func lookupMetric(name string) (metricDef, bool) {
	if m, ok := otherMetrics[name]; ok {
		return m, true
	}
	for prefix, dist := range latencyDists {
		if prefix != "" && !strings.HasPrefix(name, prefix) {
			continue
		}
		if f, ok := latencyFields[strings.TrimPrefix(name, prefix)]; ok {
			return metricDef{kindDuration, func(r *reports.Run) float64 { return f(dist(r)) }}, true
		}
	}
	return metricDef{}, false
}

var (
	thresholdRe = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_.()]*)\s*(<=|>=|==|!=|<|>)\s*([0-9.eE+-]+)\s*([A-Za-zµ]*)\s*$`)
	k6PercentRe = regexp.MustCompile(`p\(([0-9.]+)\)`)
)

// ParseThreshold parses one expression.
func ParseThreshold(expr string) (Threshold, error) {
	m := thresholdRe.FindStringSubmatch(expr)
	if m == nil {
		return Threshold{}, fmt.Errorf("threshold %q: want <metric> <op> <value>[unit], as in \"p99 < 5ms\"", expr)
	}
	name := k6PercentRe.ReplaceAllString(m[1], "p$1")
	def, ok := lookupMetric(name)
	if !ok {
		return Threshold{}, fmt.Errorf("threshold %q: unknown metric %q (p50, p90, p99, p99.9, max, mean, with e2e., uncorrected. or lag.; errors, error_rate, msgs, received, throughput, cpu_per_msg, rss)", expr, m[1])
	}
	v, err := strconv.ParseFloat(m[3], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Threshold{}, fmt.Errorf("threshold %q: %q is not a number", expr, m[3])
	}
	unit := m[4]
	switch def.kind {
	case kindDuration:
		scale, ok := map[string]float64{"": 1000, "ns": 0.001, "us": 1, "µs": 1, "ms": 1000, "s": 1e6}[unit]
		if !ok {
			return Threshold{}, fmt.Errorf("threshold %q: unit %q is not a duration unit (ns, us, ms, s)", expr, unit)
		}
		v *= scale
	case kindBytes:
		scale, ok := map[string]float64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
		if !ok {
			return Threshold{}, fmt.Errorf("threshold %q: unit %q is not a size unit (B, KiB, MiB, GiB)", expr, unit)
		}
		v *= scale
	default:
		if unit != "" {
			return Threshold{}, fmt.Errorf("threshold %q: %s takes no unit (got %q)", expr, name, unit)
		}
	}
	return Threshold{Expr: strings.TrimSpace(expr), Metric: name, Op: m[2], Bound: v}, nil
}

// Value is the threshold's metric over runs: the median of the runs'
// values. It is NaN when there are no runs.
func (t Threshold) Value(runs []reports.Run) float64 {
	def, _ := lookupMetric(t.Metric)
	vals := make([]float64, 0, len(runs))
	for i := range runs {
		vals = append(vals, def.get(&runs[i]))
	}
	return median(vals)
}

// Holds reports whether v satisfies the bound.
func (t Threshold) Holds(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	switch t.Op {
	case "<":
		return v < t.Bound
	case "<=":
		return v <= t.Bound
	case ">":
		return v > t.Bound
	case ">=":
		return v >= t.Bound
	case "==":
		return v == t.Bound
	case "!=":
		return v != t.Bound
	}
	return false
}

// Format renders a value of the threshold's metric with its unit.
func (t Threshold) Format(v float64) string {
	if math.IsNaN(v) {
		return "no runs"
	}
	def, _ := lookupMetric(t.Metric)
	switch def.kind {
	case kindDuration:
		return FormatMicros(v)
	case kindBytes:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case kindRatio:
		return strconv.FormatFloat(v, 'g', 4, 64)
	case kindRate:
		return fmt.Sprintf("%.0f msg/s", v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// FormatMicros renders microseconds as a human duration.
func FormatMicros(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'f', 2, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
}

// EvaluateThresholds checks every configuration's thresholds against the
// medians of its runs, in configuration order.
func EvaluateThresholds(configs []Config, results []reports.Config) []reports.Threshold {
	var out []reports.Threshold
	for i, c := range configs {
		if i >= len(results) {
			break
		}
		for _, t := range c.Thresholds {
			v := t.Value(results[i].Runs)
			out = append(out, reports.Threshold{Expr: t.Expr, Config: c.Name, Value: t.Format(v), OK: t.Holds(v)})
		}
	}
	return out
}

// median of vals (the mean of the middle two for an even count); NaN for
// none.
func median(vals []float64) float64 {
	if len(vals) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
