package reports

import (
	"sort"
	"strconv"
	"strings"
)

// The view is what every renderer draws from: the suite with its figures
// computed once, every map turned into a sorted slice. Renderers never
// range over a map of the Suite themselves.
type view struct {
	s    *Suite
	rows []*row
	// common are, per system in order of first appearance, the options
	// every configuration of that system sets to the same value; the
	// others differ and are shown per row.
	common []systemOptions
	// thresholdsFor holds each configuration's thresholds in suite order;
	// suiteThresholds those naming no configuration or an unknown one.
	thresholdsFor   map[string][]Threshold
	suiteThresholds []Threshold
}

type kv struct{ k, v string }

type systemOptions struct {
	system string
	kvs    []kv
}

// row is one configuration with its figures over repetitions.
type row struct {
	cfg   *Config
	index int
	label string
	color string
	dash  string
	// diff are this configuration's options that are not common to all
	// configurations of its system.
	diff []kv
	runs []Run // sorted by Repetition, Order

	msgs, bytes, p50, p99, p999, max, unc99, e2e99, lag99, cpuMsg, cpuGB Stat

	errors     int64
	errorKinds []kvCount
}

type kvCount struct {
	k string
	n int64
}

// palette is Okabe and Ito's set for colour-blind readers (yellow, too
// pale on white, swapped for grey). Past eight configurations the colours
// repeat with a dash pattern, so lines stay distinguishable.
var palette = []string{
	"#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#7F7F7F",
}

var dashes = []string{"", "6 3", "2 2", "8 3 2 3"}

func newView(s *Suite) *view {
	if s == nil {
		s = &Suite{}
	}
	v := &view{s: s, thresholdsFor: map[string][]Threshold{}}
	for i := range s.Configs {
		c := &s.Configs[i]
		r := &row{
			cfg:   c,
			index: i,
			label: c.Name,
			color: palette[i%len(palette)],
			dash:  dashes[(i/len(palette))%len(dashes)],
		}
		if strings.TrimSpace(r.label) == "" {
			r.label = "config " + strconv.Itoa(i+1)
		}
		r.runs = append([]Run(nil), c.Runs...)
		sort.SliceStable(r.runs, func(a, b int) bool {
			x, y := &r.runs[a], &r.runs[b]
			if x.Repetition != y.Repetition {
				return x.Repetition < y.Repetition
			}
			return x.Order < y.Order
		})
		r.msgs = Over(r.runs, MetricThroughputMsgs)
		r.bytes = Over(r.runs, MetricThroughputBytes)
		r.p50 = Over(r.runs, MetricP50Us)
		r.p99 = Over(r.runs, MetricP99Us)
		r.p999 = Over(r.runs, MetricP999Us)
		r.max = Over(r.runs, MetricMaxUs)
		r.unc99 = Over(r.runs, MetricUncorrectedP99)
		r.e2e99 = Over(r.runs, MetricEndToEndP99Us)
		r.lag99 = Over(r.runs, MetricSenderLagP99Us)
		r.cpuMsg = Over(r.runs, MetricCPUPerMessageUs)
		r.cpuGB = Over(r.runs, MetricCPUPerGBUs)
		kinds := map[string]int64{}
		for i := range r.runs {
			for k, n := range r.runs[i].Errors {
				kinds[k] += n
				r.errors += n
			}
		}
		for _, k := range sortedKeys(kinds) {
			r.errorKinds = append(r.errorKinds, kvCount{k, kinds[k]})
		}
		v.rows = append(v.rows, r)
	}
	v.splitOptions()
	known := map[string]bool{}
	for _, r := range v.rows {
		known[r.cfg.Name] = true
	}
	for _, t := range s.Thresholds {
		if t.Config != "" && known[t.Config] {
			v.thresholdsFor[t.Config] = append(v.thresholdsFor[t.Config], t)
		} else {
			v.suiteThresholds = append(v.suiteThresholds, t)
		}
	}
	return v
}

// splitOptions separates, for each system, the options all its
// configurations share from those that tell them apart: a row shows only
// the latter ("flushDiskType=SYNC_FLUSH", not the segment size every Thrust
// configuration has). A key one configuration of the system lacks differs.
// Options of different systems are never compared: a peer's keys mean
// nothing to Thrust's.
func (v *view) splitOptions() {
	var systems []string
	bySystem := map[string][]*row{}
	for _, r := range v.rows {
		sys := r.cfg.System
		if _, ok := bySystem[sys]; !ok {
			systems = append(systems, sys)
		}
		bySystem[sys] = append(bySystem[sys], r)
	}
	for _, sys := range systems {
		rows := bySystem[sys]
		keys := map[string]bool{}
		for _, r := range rows {
			for k := range r.cfg.Options {
				keys[k] = true
			}
		}
		common := systemOptions{system: sys}
		for _, k := range sortedKeys(keys) {
			first, same := "", true
			for i, r := range rows {
				val, ok := r.cfg.Options[k]
				if !ok || (i > 0 && val != first) {
					same = false
					break
				}
				first = val
			}
			if same {
				common.kvs = append(common.kvs, kv{k, first})
				continue
			}
			for _, r := range rows {
				if val, ok := r.cfg.Options[k]; ok {
					r.diff = append(r.diff, kv{k, val})
				}
			}
		}
		if len(common.kvs) > 0 {
			v.common = append(v.common, common)
		}
	}
}

// byName finds a row by its configuration's name.
func (v *view) byName(name string) *row {
	for _, r := range v.rows {
		if r.cfg.Name == name {
			return r
		}
	}
	return nil
}

// thresholdsPassed counts the suite's thresholds that passed.
func (v *view) thresholdsPassed() (passed, total int) {
	for _, t := range v.s.Thresholds {
		if t.OK {
			passed++
		}
	}
	return passed, len(v.s.Thresholds)
}

// repetitions are the least and greatest numbers of runs of any
// configuration.
func (v *view) repetitions() (lo, hi int) {
	for i, r := range v.rows {
		if i == 0 || len(r.runs) < lo {
			lo = len(r.runs)
		}
		hi = max(hi, len(r.runs))
	}
	return lo, hi
}

// headline is the one-line description under the title.
func headline(v *view) string {
	s := v.s
	var parts []string
	if !s.Started.IsZero() {
		parts = append(parts, period(s))
	}
	parts = append(parts, plural(len(v.rows), "configuration"))
	switch lo, hi := v.repetitions(); {
	case hi == 0:
	case lo == hi:
		parts = append(parts, plural(hi, "run")+" each")
	default:
		parts = append(parts, strconv.Itoa(lo)+" to "+strconv.Itoa(hi)+" runs each")
	}
	if s.Workload.File != "" {
		parts = append(parts, "workload "+s.Workload.File)
	}
	if s.Environment.Commit != "" {
		parts = append(parts, "commit "+s.Environment.Commit)
	}
	return strings.Join(parts, " · ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// optionsText joins options as "key=value key=value".
func optionsText(kvs []kv) string {
	parts := make([]string, len(kvs))
	for i, p := range kvs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// column is one column of the main table, shared by the Markdown and HTML
// renderers so that both print the same figures.
type column struct {
	head string
	num  bool
	cell func(*row) string
}

var mainColumns = []column{
	{"config", false, func(r *row) string { return r.label }},
	{"system", false, func(r *row) string { return orNA(r.cfg.System) }},
	{"options", false, func(r *row) string { return optionsText(r.diff) }},
	{"runs", true, func(r *row) string { return strconv.Itoa(len(r.runs)) }},
	{"msg/s", true, func(r *row) string { return fmtStat(r.msgs, fmtSI) }},
	{"MB/s", true, func(r *row) string { return fmtStat(r.bytes, fmtMB) }},
	{"p50", true, func(r *row) string { return fmtStat(r.p50, fmtUs) }},
	{"p99", true, func(r *row) string { return fmtStat(r.p99, fmtUs) }},
	{"p99.9", true, func(r *row) string { return fmtStat(r.p999, fmtUs) }},
	{"max", true, func(r *row) string { return fmtStat(r.max, fmtUs) }},
	{"p99 uncorrected", true, func(r *row) string { return fmtStat(r.unc99, fmtUs) }},
	{"p99 end-to-end", true, func(r *row) string { return fmtStat(r.e2e99, fmtUs) }},
	{"CPU/msg", true, func(r *row) string { return fmtStat(r.cpuMsg, fmtUs) }},
	{"CPU/GB", true, func(r *row) string { return fmtStat(r.cpuGB, fmtUs) }},
	{"errors", true, func(r *row) string { return fmtCount(r.errors) }},
}

// runColumns are the columns of a configuration's table of runs.
var runColumns = []struct {
	head string
	cell func(*Run) string
}{
	{"rep", func(r *Run) string { return strconv.Itoa(r.Repetition) }},
	{"order", func(r *Run) string { return strconv.Itoa(r.Order) }},
	{"duration", func(r *Run) string { return fmtSeconds(r.DurationSeconds) }},
	{"target msg/s", func(r *Run) string { return rateOrMax(r.TargetRate) }},
	{"sent", func(r *Run) string { return fmtCount(r.Sent) }},
	{"acked", func(r *Run) string { return fmtCount(r.Acked) }},
	{"received", func(r *Run) string { return fmtCount(r.Received) }},
	{"msg/s", func(r *Run) string { return runMetric(r, MetricThroughputMsgs, fmtSI) }},
	{"MB/s", func(r *Run) string { return runMetric(r, MetricThroughputBytes, fmtMB) }},
	{"p50", func(r *Run) string { return runMetric(r, MetricP50Us, fmtUs) }},
	{"p99", func(r *Run) string { return runMetric(r, MetricP99Us, fmtUs) }},
	{"p99.9", func(r *Run) string { return runMetric(r, MetricP999Us, fmtUs) }},
	{"max", func(r *Run) string { return runMetric(r, MetricMaxUs, fmtUs) }},
	{"p99 uncorr.", func(r *Run) string { return runMetric(r, MetricUncorrectedP99, fmtUs) }},
	{"p99 e2e", func(r *Run) string { return runMetric(r, MetricEndToEndP99Us, fmtUs) }},
	{"p99 sender lag", func(r *Run) string { return runMetric(r, MetricSenderLagP99Us, fmtUs) }},
	{"CPU", func(r *Run) string { return fmtSeconds(r.BrokerCPUSeconds) }},
	{"max RSS", func(r *Run) string { return fmtBytes(r.BrokerMaxRSS) }},
	{"CPU/msg", func(r *Run) string { return runMetric(r, MetricCPUPerMessageUs, fmtUs) }},
	{"CPU/GB", func(r *Run) string { return runMetric(r, MetricCPUPerGBUs, fmtUs) }},
	{"errors", func(r *Run) string { return fmtCount(runErrors(r)) }},
}

func runMetric(r *Run, metric string, f func(float64) string) string {
	v, ok := MetricValue(r, metric)
	if !ok {
		return na
	}
	return f(v)
}

func runErrors(r *Run) int64 {
	var n int64
	for _, k := range sortedKeys(r.Errors) {
		n += r.Errors[k]
	}
	return n
}

// rateOrMax formats a producer rate; zero asks for the maximum.
func rateOrMax(v float64) string {
	if v == 0 {
		return "max"
	}
	return fmtSI(v)
}

// metricLabel names a Metric for people; unknown metrics print as given.
func metricLabel(m string) string {
	switch m {
	case MetricThroughputMsgs:
		return "throughput (msg/s)"
	case MetricThroughputBytes:
		return "throughput (MB/s)"
	case MetricP50Us:
		return "p50 latency"
	case MetricP99Us:
		return "p99 latency"
	case MetricP999Us:
		return "p99.9 latency"
	case MetricMaxUs:
		return "max latency"
	case MetricUncorrectedP99:
		return "p99 latency, uncorrected"
	case MetricEndToEndP99Us:
		return "p99 end-to-end latency"
	case MetricSenderLagP99Us:
		return "p99 sender lag"
	case MetricCPUPerMessageUs:
		return "CPU per message"
	case MetricCPUPerGBUs:
		return "CPU per GB"
	}
	return orNA(m)
}

// metricFormat formats a value of metric m, and names the unit to print
// once after a "median [min..max]"; ok is false for unknown metrics.
func metricFormat(m string) (f func(float64) string, unit string, ok bool) {
	switch m {
	case MetricThroughputMsgs:
		return fmtSI, " msg/s", true
	case MetricThroughputBytes:
		return fmtMB, " MB/s", true
	case MetricP50Us, MetricP99Us, MetricP999Us, MetricMaxUs,
		MetricUncorrectedP99, MetricEndToEndP99Us, MetricSenderLagP99Us,
		MetricCPUPerMessageUs, MetricCPUPerGBUs:
		return fmtUs, "", true // each number carries its unit; the metric names the "per"
	}
	return nil, "", false
}

// comparisonSide formats the median of metric for the named configuration,
// the figure a ratio was formed from, or n/a.
func (v *view) comparisonSide(name, metric string) string {
	f, unit, ok := metricFormat(metric)
	r := v.byName(name)
	if !ok || r == nil {
		return na
	}
	st := Over(r.runs, metric)
	if st.N == 0 {
		return na
	}
	return fmtStat(st, f) + unit
}

// workloadFields lists the workload settings in a fixed order.
func workloadFields(w *Workload) []kv {
	rate := "find the maximum"
	if w.ProducerRate > 0 {
		rate = fmtSI(w.ProducerRate) + " msg/s"
	}
	size := fmtBytes(int64(w.MessageSize))
	if w.MessageSize >= 1024 {
		size += " (" + fmtCount(int64(w.MessageSize)) + " B)"
	}
	return []kv{
		{"file", orNA(w.File)},
		{"topics", strconv.Itoa(w.Topics)},
		{"queues per topic", strconv.Itoa(w.QueuesPerTopic)},
		{"message size", size},
		{"producers", strconv.Itoa(w.Producers)},
		{"producer rate (all)", rate},
		{"in flight per producer", strconv.Itoa(w.InFlight)},
		{"consumers", strconv.Itoa(w.Consumers)},
		{"key distribution", orNA(w.KeyDistribution)},
		{"duration", fmtSeconds(w.DurationSeconds)},
		{"warm-up", fmtSeconds(w.WarmupSeconds)},
		{"repetitions", strconv.Itoa(w.Repetitions)},
	}
}

// environmentFields lists the environment in a fixed order.
func environmentFields(e *Environment) []kv {
	cores, mem := na, na
	if e.Cores > 0 {
		cores = strconv.Itoa(e.Cores)
	}
	if e.MemoryGiB > 0 {
		mem = strconv.Itoa(e.MemoryGiB) + " GiB"
	}
	return []kv{
		{"CPU", orNA(e.CPU)},
		{"cores", cores},
		{"memory", mem},
		{"kernel", orNA(e.Kernel)},
		{"disk", orNA(e.Disk)},
		{"Go", orNA(e.GoVersion)},
		{"commit", orNA(e.Commit)},
	}
}

// period describes when the suite ran.
func period(s *Suite) string {
	if s.Started.IsZero() {
		return na
	}
	out := fmtTime(s.Started)
	if !s.Finished.IsZero() && !s.Finished.Before(s.Started) {
		out += " to " + fmtTime(s.Finished) + " (" + s.Finished.Sub(s.Started).String() + ")"
	}
	return out
}

// method is the paragraph that says how to read the figures, in both
// formats.
const method = "Each figure is the median over a configuration's repetitions, " +
	"with [min..max] when there was more than one. Latency is send to " +
	"acknowledgement measured from the intended send time of the open-loop " +
	"schedule, which corrects for coordinated omission; \"uncorrected\" is from " +
	"the actual send, \"end-to-end\" from birth to consumption. MB/s counts " +
	"acknowledged message bodies in 10^6 bytes. CPU is the broker process's " +
	"CPU time per acknowledged message and per GB moved (produced plus " +
	"consumed). Errors are summed over all runs. n/a: not measured."

// ratioCaveat states what the ratios are.
const ratioCaveat = "These ratios are measurements of this suite on this " +
	"machine (see Environment), set against the project's targets. They are " +
	"not assertions: no test fails on them, and another machine will give " +
	"other figures."
