package reports

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Summary is the end-of-run text mqbench prints to the terminal, after
// k6's: per configuration its throughput, latency percentiles, CPU and
// errors (medians over its runs, throughput with [min..max]) and its
// thresholds with ✓ or ✗; then the ratios and a count of thresholds
// passed. Like the renderers it is a pure function of s.
func Summary(s *Suite) string {
	v := newView(s)
	var b strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	w("mqbench: ", orNA(v.s.Name), "\n  ", headline(v), "\n")

	// One leader width per block, as k6 does, so the values line up down
	// the page. A ✓ or ✗ and its space count as two.
	width := 0
	widen := func(labels ...string) {
		for _, l := range labels {
			width = max(width, utf8.RuneCountInString(l)+3)
		}
		width = min(width, 48)
	}
	widen("throughput", "latency", "cpu", "errors")
	for _, t := range v.s.Thresholds {
		widen("✓ " + thresholdLabel(v, t))
	}
	leader := func(label string) string {
		n := utf8.RuneCountInString(label)
		if n >= width {
			return label + ":"
		}
		return label + strings.Repeat(".", width-n) + ":"
	}

	for _, r := range v.rows {
		ts := v.thresholdsFor[r.cfg.Name]
		mark := "·"
		if len(ts) > 0 {
			mark = "✓"
			for _, t := range ts {
				if !t.OK {
					mark = "✗"
				}
			}
		}
		w("\n  ", mark, " ", r.label)
		var about []string
		if r.cfg.System != "" {
			about = append(about, r.cfg.System)
		}
		if o := optionsText(r.diff); o != "" {
			about = append(about, o)
		}
		about = append(about, plural(len(r.runs), "run"))
		w(" (", strings.Join(about, "; "), ")\n")
		if len(r.runs) == 0 {
			w("    ", leader("throughput"), " n/a\n")
			continue
		}
		w("    ", leader("throughput"), " ", fmtStat(r.msgs, fmtSI), " msg/s")
		if r.bytes.N > 0 {
			w(", ", fmtMB(r.bytes.Median), " MB/s")
		}
		w("\n")
		w("    ", leader("latency"), " p50=", medianOr(r.p50, fmtUs), " p99=", medianOr(r.p99, fmtUs),
			" p99.9=", medianOr(r.p999, fmtUs), " max=", medianOr(r.max, fmtUs), "\n")
		w("    ", leader("cpu"), " per-msg=", medianOr(r.cpuMsg, fmtUs), " per-GB=", medianOr(r.cpuGB, fmtUs), "\n")
		w("    ", leader("errors"), " ", fmtCount(r.errors))
		for _, e := range r.errorKinds {
			w(" ", e.k, "=", fmtCount(e.n))
		}
		w("\n")
		for _, t := range ts {
			w("    ", leader(checkMark(t.OK)+" "+thresholdLabel(v, t)), " ", orNA(t.Value), "\n")
		}
	}

	if len(v.suiteThresholds) > 0 {
		w("\n  suite thresholds\n")
		for _, t := range v.suiteThresholds {
			w("    ", leader(checkMark(t.OK)+" "+thresholdLabel(v, t)), " ", orNA(t.Value), "\n")
		}
	}

	if len(v.s.Comparisons) > 0 {
		w("\n  ratios (measured on this machine; targets are not asserted)\n")
		width = 0
		for _, c := range v.s.Comparisons {
			widen("· " + orNA(c.Name))
		}
		for _, c := range v.s.Comparisons {
			mark := "·"
			if c.Target != "" {
				mark = checkMark(c.Met)
			}
			w("    ", leader(mark+" "+orNA(c.Name)), " ", fmtRatio(c.Ratio), " ", metricLabel(c.Metric),
				", ", orNA(c.Numerator), " / ", orNA(c.Denominator))
			if c.Target != "" {
				w(" (target ", c.Target, ")")
			}
			w("\n")
		}
	}

	passed, total := v.thresholdsPassed()
	if total > 0 {
		w("\n  thresholds: ", strconv.Itoa(passed), " of ", strconv.Itoa(total), " passed\n")
	}
	return b.String()
}

func checkMark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func medianOr(st Stat, f func(float64) string) string {
	if st.N == 0 {
		return na
	}
	return f(st.Median)
}

// thresholdLabel is a threshold's expression, with the configuration it
// names when that is not one of the suite's (so it is listed apart).
func thresholdLabel(v *view, t Threshold) string {
	if t.Config != "" && v.byName(t.Config) == nil {
		return t.Expr + " [" + t.Config + "]"
	}
	return t.Expr
}
