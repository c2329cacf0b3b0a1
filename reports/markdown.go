package reports

import (
	"strconv"
	"strings"
)

// RenderMarkdown renders s as GitHub-flavoured Markdown: the same sections
// and figures as the HTML page, as tables, without the charts. The same
// Suite always gives the same bytes; a nil Suite renders as an empty one.
func RenderMarkdown(s *Suite) []byte {
	v := newView(s)
	var b strings.Builder
	m := &mdWriter{&b}
	m.page(v)
	return []byte(b.String())
}

type mdWriter struct{ b *strings.Builder }

func (m *mdWriter) w(parts ...string) {
	for _, p := range parts {
		m.b.WriteString(p)
	}
}

func (m *mdWriter) page(v *view) {
	s := v.s
	m.w("# mqbench: ", mdText(orNA(s.Name)), "\n\n")
	m.w(mdText(headline(v)), "\n\n")
	m.w("Charts (percentile spectrum, throughput and p99 over time, comparison bars) are in report.html.\n\n")

	m.w("## Workload and environment\n\n")
	m.kvTable("workload", workloadFields(&s.Workload))
	m.kvTable("environment", environmentFields(&s.Environment))
	if len(v.common) == 0 {
		m.w("Options common to a system's configurations: none.\n\n")
	} else {
		var rows [][]string
		for _, c := range v.common {
			rows = append(rows, []string{mdText(orNA(c.system)), mdOptions(c.kvs, " ")})
		}
		m.table([]string{"system", "options common to its configurations"}, nil, rows)
	}

	m.w("## Results\n\n", mdText(method), "\n\n")
	if len(v.rows) == 0 {
		m.w("No configurations: n/a.\n\n")
	} else {
		heads := make([]string, len(mainColumns))
		nums := make([]bool, len(mainColumns))
		for i, c := range mainColumns {
			heads[i], nums[i] = c.head, c.num
		}
		var rows [][]string
		for _, r := range v.rows {
			cells := make([]string, len(mainColumns))
			for i, c := range mainColumns {
				if c.head == "options" {
					cells[i] = mdOptions(r.diff, " ")
				} else {
					cells[i] = mdText(c.cell(r))
				}
			}
			rows = append(rows, cells)
		}
		m.table(heads, nums, rows)
	}

	m.w("## Ratios\n\n", mdText(ratioCaveat), "\n\n")
	if len(s.Comparisons) == 0 {
		m.w("No comparisons in this suite: n/a.\n\n")
	} else {
		var rows [][]string
		for _, c := range s.Comparisons {
			rows = append(rows, []string{
				mdText(orNA(c.Name)),
				mdText(metricLabel(c.Metric)),
				mdText(orNA(c.Numerator)) + ": " + mdText(v.comparisonSide(c.Numerator, c.Metric)),
				mdText(orNA(c.Denominator)) + ": " + mdText(v.comparisonSide(c.Denominator, c.Metric)),
				mdText(fmtRatio(c.Ratio)),
				mdText(orNA(c.Target)),
				verdictText(c.Met, "met", "not met", c.Target != ""),
			})
		}
		m.table([]string{"comparison", "metric", "numerator", "denominator", "ratio", "target", "result"},
			[]bool{false, false, false, false, true, false, false}, rows)
	}

	m.w("## Thresholds\n\n")
	if len(s.Thresholds) == 0 {
		m.w("The workload sets no thresholds: n/a.\n\n")
	} else {
		passed, total := v.thresholdsPassed()
		m.w(strconv.Itoa(passed), " of ", strconv.Itoa(total), " passed.\n\n")
		var rows [][]string
		for _, t := range s.Thresholds {
			rows = append(rows, []string{
				mdCode(orNA(t.Expr)), mdText(thresholdConfig(t)), mdText(orNA(t.Value)),
				verdictText(t.OK, "pass", "fail", true),
			})
		}
		m.table([]string{"threshold", "config", "value", "result"}, []bool{false, false, true, false}, rows)
	}

	m.w("## Per-configuration details\n\n")
	if len(v.rows) == 0 {
		m.w("No configurations: n/a.\n\n")
	}
	for _, r := range v.rows {
		m.details(v, r)
	}

	if len(s.Notes) > 0 {
		m.w("## Notes\n\n")
		for _, n := range s.Notes {
			m.w("- ", mdText(n), "\n")
		}
		m.w("\n")
	}
}

func (m *mdWriter) details(v *view, r *row) {
	m.w("### ", mdText(r.label), "\n\n")
	m.w("system: ", mdText(orNA(r.cfg.System)), "; runs: ", strconv.Itoa(len(r.runs)), "\n\n")
	if len(r.cfg.Options) == 0 {
		m.w("Options: none.\n\n")
	} else {
		var opts []kv
		for _, k := range sortedKeys(r.cfg.Options) {
			opts = append(opts, kv{k, r.cfg.Options[k]})
		}
		m.w("Options: ", mdOptions(opts, " "), "\n\n")
	}
	if len(r.runs) == 0 {
		m.w("No runs: n/a.\n\n")
		return
	}
	heads := make([]string, len(runColumns))
	nums := make([]bool, len(runColumns))
	for i, c := range runColumns {
		heads[i], nums[i] = c.head, true
	}
	var rows [][]string
	for i := range r.runs {
		cells := make([]string, len(runColumns))
		for j, c := range runColumns {
			cells[j] = mdText(c.cell(&r.runs[i]))
		}
		rows = append(rows, cells)
	}
	m.table(heads, nums, rows)

	if ts := v.thresholdsFor[r.cfg.Name]; len(ts) > 0 {
		m.w("Thresholds:")
		for _, t := range ts {
			mark := "✗"
			if t.OK {
				mark = "✓"
			}
			m.w(" ", mark, " ", mdCode(t.Expr), " (", mdText(orNA(t.Value)), ")")
		}
		m.w("\n\n")
	}
	if len(r.errorKinds) > 0 {
		m.w("Errors over all runs:\n\n")
		var rows [][]string
		for _, e := range r.errorKinds {
			rows = append(rows, []string{mdText(e.k), fmtCount(e.n)})
		}
		m.table([]string{"error", "count"}, []bool{false, true}, rows)
	}
	if keys, table := counters(r.runs); len(keys) > 0 {
		m.w("Broker counters (GET_BROKER_RUNTIME_INFO), per run:\n\n")
		heads := []string{"counter"}
		nums := []bool{false}
		for i := range r.runs {
			heads = append(heads, "rep "+strconv.Itoa(r.runs[i].Repetition))
			nums = append(nums, true)
		}
		var rows [][]string
		for ki, k := range keys {
			cells := []string{mdText(k)}
			for _, val := range table[ki] {
				cells = append(cells, mdText(val))
			}
			rows = append(rows, cells)
		}
		m.table(heads, nums, rows)
	}
}

// table writes a GFM table; heads are escaped here, cells by the caller.
func (m *mdWriter) table(heads []string, nums []bool, rows [][]string) {
	m.w("|")
	for _, h := range heads {
		m.w(" ", mdText(h), " |")
	}
	m.w("\n|")
	for i := range heads {
		if i < len(nums) && nums[i] {
			m.w(" ---: |")
		} else {
			m.w(" --- |")
		}
	}
	m.w("\n")
	for _, r := range rows {
		m.w("|")
		for _, c := range r {
			m.w(" ", c, " |")
		}
		m.w("\n")
	}
	m.w("\n")
}

func (m *mdWriter) kvTable(title string, kvs []kv) {
	var rows [][]string
	for _, p := range kvs {
		rows = append(rows, []string{mdText(p.k), mdText(p.v)})
	}
	m.table([]string{title, "value"}, nil, rows)
}

// mdText makes s safe in a table cell or a line: pipes escaped, line
// breaks flattened.
func mdText(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return strings.ReplaceAll(s, "|", `\|`)
}

// mdCode puts s in a code span, with a longer fence if s holds a backtick.
func mdCode(s string) string {
	s = mdText(s)
	if s == "" {
		return ""
	}
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

func mdOptions(kvs []kv, sep string) string {
	parts := make([]string, len(kvs))
	for i, p := range kvs {
		parts[i] = mdCode(p.k + "=" + p.v)
	}
	return strings.Join(parts, sep)
}

func verdictText(ok bool, yes, no string, known bool) string {
	switch {
	case !known:
		return na
	case ok:
		return "✓ " + yes
	default:
		return "✗ " + no
	}
}
