package reports

import (
	"math"
	"strconv"
	"strings"
)

// The report's charts, each built from the view: one line per
// configuration, drawn from its median run (by the figure the chart is
// about), so a line is a run that happened rather than an average of
// several.

// chartSpec is one chart of the page: its SVG and the caption under it.
type chartSpec struct {
	id, heading, caption, svg string
}

func (v *view) charts() []chartSpec {
	return []chartSpec{
		v.spectrumChart(),
		v.throughputChart(),
		v.p99Chart(),
		v.bars("chart-bars-throughput", "Throughput", "acknowledged msg/s (higher is better)",
			func(r *row) Stat { return r.msgs }, fmtSI, tickSI),
		v.bars("chart-bars-p99", "p99 latency", "p99 latency, corrected (lower is better)",
			func(r *row) Stat { return r.p99 }, fmtUs, tickUs),
		v.bars("chart-bars-cpu-msg", "CPU per message", "broker CPU time per acknowledged message (lower is better)",
			func(r *row) Stat { return r.cpuMsg }, fmtUs, tickUs),
		v.bars("chart-bars-cpu-gb", "CPU per GB", "broker CPU time per GB produced plus consumed (lower is better)",
			func(r *row) Stat { return r.cpuGB }, fmtUs, tickUs),
	}
}

// runTitle names a configuration's representative run.
func runTitle(r *row, i int) string {
	return r.label + ", repetition " + strconv.Itoa(r.runs[i].Repetition) + " (median of " + strconv.Itoa(len(r.runs)) + ")"
}

// spectrumPoints is a run's latency spectrum; without one, the summary
// percentiles stand in for it, max at 100 %.
func spectrumPoints(l *Latency) []Point {
	if len(l.Spectrum) > 0 {
		return l.Spectrum
	}
	if !l.present() {
		return nil
	}
	return []Point{{50, l.P50}, {90, l.P90}, {99, l.P99}, {99.9, l.P999}, {100, l.Max}}
}

// nines is a percentile's place on the spectrum's x axis, log10 of
// 1/(1-p): 0 at 0 %, 1 at 90 %, 2 at 99 %, 3 at 99.9 %.
func nines(p float64) float64 {
	if p >= 100 {
		return math.Inf(1)
	}
	return -math.Log10(1 - p/100)
}

// ninesLabel labels whole numbers of nines: 0%, 90%, 99%, 99.9%, 99.99%.
func ninesLabel(k int) string {
	switch k {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", k-2) + "%"
}

func (v *view) spectrumChart() chartSpec {
	// The x axis reaches the last whole nine any run measured below 100 %,
	// between 99 % and 99.99999 %; 100 % (the maximum) is drawn there too.
	decades := 2
	type raw struct {
		r   *row
		run int
		pts []Point
	}
	var raws []raw
	for _, r := range v.rows {
		i := MedianRun(r.runs, MetricP99Us)
		if i < 0 {
			continue
		}
		pts := spectrumPoints(&r.runs[i].Latency)
		for _, p := range pts {
			if p.Percentile >= 0 && p.Percentile < 100 {
				decades = max(decades, int(math.Ceil(nines(p.Percentile)-1e-6)))
			}
		}
		raws = append(raws, raw{r, i, pts})
	}
	decades = min(decades, 7)
	lo, hi := math.Inf(1), 0.0
	var ss []series
	var desc []string
	for _, rw := range raws {
		s := series{label: rw.r.label, title: runTitle(rw.r, rw.run), color: rw.r.color, dash: rw.r.dash}
		for _, p := range rw.pts {
			if !(p.Percentile >= 0) || !finite(p.ValueUs) || p.ValueUs <= 0 {
				continue
			}
			s.xs = append(s.xs, math.Min(nines(p.Percentile), float64(decades)))
			s.ys = append(s.ys, p.ValueUs)
			lo, hi = math.Min(lo, p.ValueUs), math.Max(hi, p.ValueUs)
		}
		ss = append(ss, s)
		l := &rw.r.runs[rw.run].Latency
		desc = append(desc, rw.r.label+": p50 "+fmtUs(l.P50)+", p99 "+fmtUs(l.P99)+", p99.9 "+fmtUs(l.P999)+", max "+fmtUs(l.Max))
	}
	xa := axis{lo: 0, hi: float64(decades)}
	for k := 0; k <= decades; k++ {
		xa.ticks = append(xa.ticks, tick{float64(k), ninesLabel(k)})
	}
	c := lineChart{
		id:     "chart-spectrum",
		title:  "Latency by percentile",
		desc:   "Corrected send-to-acknowledgement latency at each percentile, one line per configuration (its median run by p99). " + listDesc(desc),
		xLabel: "percentile (log scale of 1/(1−p))",
		yLabel: "latency (log scale)",
		x:      xa,
		y:      logAxis(lo, hi, tickUs),
		series: ss,
	}
	return chartSpec{
		id:      c.id,
		heading: c.title,
		caption: "Percentile spectrum of corrected latency. Each step right is one more nine; the last point of a line is the maximum. Both axes are logarithmic.",
		svg:     c.render(),
	}
}

// timeSeries builds one line per configuration from its median run by
// metric, taking y from each second.
func (v *view) timeSeries(metric string, y func(*Second) float64) (ss []series, maxT, lo, hi float64) {
	lo = math.Inf(1)
	for _, r := range v.rows {
		i := MedianRun(r.runs, metric)
		if i < 0 {
			continue
		}
		s := series{label: r.label, title: runTitle(r, i), color: r.color, dash: r.dash}
		for j := range r.runs[i].Series {
			sec := &r.runs[i].Series[j]
			val := y(sec)
			s.xs = append(s.xs, float64(sec.T))
			s.ys = append(s.ys, val)
			maxT = math.Max(maxT, float64(sec.T))
			if finite(val) && val > 0 {
				lo, hi = math.Min(lo, val), math.Max(hi, val)
			}
		}
		ss = append(ss, s)
	}
	return ss, maxT, lo, hi
}

func (v *view) throughputChart() chartSpec {
	ss, maxT, _, hi := v.timeSeries(MetricThroughputMsgs, func(s *Second) float64 { return float64(s.Acked) })
	var hl []hline
	if rate := v.s.Workload.ProducerRate; rate > 0 && finite(rate) {
		hl = append(hl, hline{rate, "target " + fmtSI(rate) + " msg/s"})
		hi = math.Max(hi, rate)
	}
	c := lineChart{
		id:     "chart-throughput",
		title:  "Throughput over time",
		desc:   "Messages acknowledged in each second of the measured period, one line per configuration (its median run by throughput).",
		xLabel: "time since the measured period began (s)",
		yLabel: "acknowledged (msg/s)",
		x:      timeAxis(maxT),
		y:      linearAxis(0, hi, tickSI),
		series: ss,
		hlines: hl,
	}
	return chartSpec{
		id:      c.id,
		heading: c.title,
		caption: "Acknowledged messages per second. A dip is a stall the percentiles may hide.",
		svg:     c.render(),
	}
}

func (v *view) p99Chart() chartSpec {
	ss, maxT, lo, hi := v.timeSeries(MetricP99Us, func(s *Second) float64 {
		if s.P99Us <= 0 {
			return math.NaN() // a second with nothing acknowledged has no latency
		}
		return s.P99Us
	})
	c := lineChart{
		id:     "chart-p99",
		title:  "p99 latency over time",
		desc:   "The 99th percentile of corrected latency in each second, one line per configuration (its median run by p99). Gaps are seconds with nothing acknowledged.",
		xLabel: "time since the measured period began (s)",
		yLabel: "p99 latency (log scale)",
		x:      timeAxis(maxT),
		y:      logAxis(lo, hi, tickUs),
		series: ss,
	}
	return chartSpec{
		id:      c.id,
		heading: c.title,
		caption: "p99 of corrected latency per second; the y axis is logarithmic. Gaps are seconds with nothing acknowledged.",
		svg:     c.render(),
	}
}

func (v *view) bars(id, heading, axisLabel string, stat func(*row) Stat, f, tickf func(float64) string) chartSpec {
	c := barChart{id: id, title: heading + " by configuration", axisLabel: axisLabel, tickLabel: tickf}
	var desc []string
	for _, r := range v.rows {
		st := stat(r)
		text := fmtStat(st, f)
		c.bars = append(c.bars, bar{label: r.label, color: r.color, st: st, text: text})
		desc = append(desc, r.label+": "+text)
	}
	c.desc = "Median over repetitions, the whisker spanning min to max: " + axisLabel + ". " + listDesc(desc)
	return chartSpec{
		id:      id,
		heading: c.title,
		caption: "Bars are medians over repetitions; whiskers span min..max.",
		svg:     c.render(),
	}
}

// listDesc joins per-configuration descriptions into a sentence.
func listDesc(items []string) string {
	if len(items) == 0 {
		return "No configuration has data."
	}
	return strings.Join(items, "; ") + "."
}

// timeAxis spans the measured period in whole seconds, five at least.
func timeAxis(maxT float64) axis {
	return linearAxis(0, math.Max(maxT, 5), tickSI)
}
