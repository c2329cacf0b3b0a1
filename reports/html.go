package reports

import (
	"fmt"
	"strconv"
	"strings"
)

// RenderHTML renders s as one self-contained HTML page: inline CSS, inline
// SVG charts, no scripts, no fonts or images from elsewhere. The page is
// also well-formed XML. The same Suite always gives the same bytes; a nil
// Suite renders as an empty one.
func RenderHTML(s *Suite) []byte {
	v := newView(s)
	h := &htmlWriter{}
	h.page(v)
	return []byte(h.b.String())
}

type htmlWriter struct{ b strings.Builder }

func (h *htmlWriter) w(parts ...string) {
	for _, p := range parts {
		h.b.WriteString(p)
	}
}

// The style keeps to system fonts and has no "<" or "&", so that the page
// parses as XML.
const css = `
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #111; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.6rem; }
.meta, .note { color: #444; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td code, p code { font-size: 0.85em; }
.wide { overflow-x: auto; }
.cols { display: flex; flex-wrap: wrap; gap: 0 2.5rem; }
.sw { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.35em; vertical-align: baseline; }
.pass { color: #006b3c; font-weight: 600; }
.fail { color: #b00020; font-weight: 600; }
figure { margin: 1.2rem 0 2rem 0; }
figcaption { color: #444; font-size: 0.9rem; max-width: 760px; }
svg.chart { max-width: 100%; height: auto; display: block; }
`

func (h *htmlWriter) page(v *view) {
	s := v.s
	name := orNA(s.Name)
	h.w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n",
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n",
		"<title>mqbench: ", esc(name), "</title>\n<style>", css, "</style>\n</head>\n<body>\n")

	h.w("<header>\n<h1>mqbench: ", esc(name), "</h1>\n")
	h.w("<p class=\"meta\">", esc(headline(v)), "</p>\n</header>\n")
	h.w("<nav aria-label=\"sections\"><ul>",
		"<li><a href=\"#setup\">Workload and environment</a></li>",
		"<li><a href=\"#results\">Results</a></li>",
		"<li><a href=\"#ratios\">Ratios</a></li>",
		"<li><a href=\"#thresholds\">Thresholds</a></li>",
		"<li><a href=\"#charts\">Charts</a></li>",
		"<li><a href=\"#details\">Per-configuration details</a></li>",
		"</ul></nav>\n")

	// Setup.
	h.w("<section id=\"setup\">\n<h2>Workload and environment</h2>\n<div class=\"cols\">\n<div>\n<h3>Workload</h3>\n")
	h.kvTable(workloadFields(&s.Workload))
	h.w("</div>\n<div>\n<h3>Environment</h3>\n")
	h.kvTable(environmentFields(&s.Environment))
	h.w("</div>\n<div>\n<h3>Options common to a system's configurations</h3>\n")
	if len(v.common) == 0 {
		h.w("<p>none</p>\n")
	} else {
		h.w("<table>\n<thead><tr>")
		h.th("system", false)
		h.th("options", false)
		h.w("</tr></thead>\n<tbody>\n")
		for _, c := range v.common {
			h.w("<tr>")
			h.td(orNA(c.system), false)
			h.w("<td>", optionsCode(c.kvs), "</td></tr>\n")
		}
		h.w("</tbody>\n</table>\n")
	}
	h.w("</div>\n</div>\n</section>\n")

	// Main table.
	h.w("<section id=\"results\">\n<h2>Results</h2>\n<p class=\"note\">", esc(method), "</p>\n")
	if len(v.rows) == 0 {
		h.w("<p>No configurations: n/a.</p>\n")
	} else {
		h.w("<div class=\"wide\">\n<table>\n<thead><tr>")
		for _, c := range mainColumns {
			h.th(c.head, c.num)
		}
		h.w("</tr></thead>\n<tbody>\n")
		for _, r := range v.rows {
			h.w("<tr>")
			for i, c := range mainColumns {
				switch {
				case i == 0:
					h.w("<td>", swatch(r), "<a href=\"#", configID(r), "\">", esc(r.label), "</a></td>")
				case c.head == "options":
					h.w("<td>", optionsCode(r.diff), "</td>")
				default:
					h.td(c.cell(r), c.num)
				}
			}
			h.w("</tr>\n")
		}
		h.w("</tbody>\n</table>\n</div>\n")
	}
	h.w("</section>\n")

	// Ratios.
	h.w("<section id=\"ratios\">\n<h2>Ratios</h2>\n<p class=\"note\">", esc(ratioCaveat), "</p>\n")
	if len(s.Comparisons) == 0 {
		h.w("<p>No comparisons in this suite: n/a.</p>\n")
	} else {
		h.w("<div class=\"wide\">\n<table>\n<thead><tr>")
		for _, c := range []string{"comparison", "metric", "numerator", "denominator", "ratio", "target", "result"} {
			h.th(c, c == "ratio")
		}
		h.w("</tr></thead>\n<tbody>\n")
		for _, c := range s.Comparisons {
			h.w("<tr>")
			h.td(orNA(c.Name), false)
			h.td(metricLabel(c.Metric), false)
			h.w("<td>", esc(orNA(c.Numerator)), "<br/>", esc(v.comparisonSide(c.Numerator, c.Metric)), "</td>")
			h.w("<td>", esc(orNA(c.Denominator)), "<br/>", esc(v.comparisonSide(c.Denominator, c.Metric)), "</td>")
			h.td(fmtRatio(c.Ratio), true)
			h.td(orNA(c.Target), false)
			h.verdict(c.Met, "met", "not met", c.Target != "")
			h.w("</tr>\n")
		}
		h.w("</tbody>\n</table>\n</div>\n")
	}
	h.w("</section>\n")

	// Thresholds.
	h.w("<section id=\"thresholds\">\n<h2>Thresholds</h2>\n")
	if len(s.Thresholds) == 0 {
		h.w("<p>The workload sets no thresholds: n/a.</p>\n")
	} else {
		passed, total := v.thresholdsPassed()
		h.w("<p>", strconv.Itoa(passed), " of ", strconv.Itoa(total), " passed.</p>\n")
		h.w("<table>\n<thead><tr>")
		for _, c := range []string{"threshold", "config", "value", "result"} {
			h.th(c, c == "value")
		}
		h.w("</tr></thead>\n<tbody>\n")
		for _, t := range s.Thresholds {
			h.w("<tr>")
			h.w("<td><code>", esc(orNA(t.Expr)), "</code></td>")
			h.td(thresholdConfig(t), false)
			h.td(orNA(t.Value), true)
			h.verdict(t.OK, "pass", "fail", true)
			h.w("</tr>\n")
		}
		h.w("</tbody>\n</table>\n")
	}
	h.w("</section>\n")

	// Charts.
	h.w("<section id=\"charts\">\n<h2>Charts</h2>\n")
	for _, c := range v.charts() {
		h.w("<figure id=\"", c.id, "-figure\">\n<h3>", esc(c.heading), "</h3>\n", c.svg,
			"<figcaption>", esc(c.caption), "</figcaption>\n</figure>\n")
	}
	h.w("</section>\n")

	// Details.
	h.w("<section id=\"details\">\n<h2>Per-configuration details</h2>\n")
	if len(v.rows) == 0 {
		h.w("<p>No configurations: n/a.</p>\n")
	}
	for _, r := range v.rows {
		h.details(v, r)
	}
	h.w("</section>\n")

	if len(s.Notes) > 0 {
		h.w("<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n")
		for _, n := range s.Notes {
			h.w("<li>", esc(n), "</li>\n")
		}
		h.w("</ul>\n</section>\n")
	}
	h.w("<footer><p class=\"note\">Rendered by mqbench report from ", ResultsFile, ".</p></footer>\n</body>\n</html>\n")
}

func (h *htmlWriter) details(v *view, r *row) {
	h.w("<section id=\"", configID(r), "\">\n<h3>", swatch(r), esc(r.label), "</h3>\n")
	h.w("<p>system: ", esc(orNA(r.cfg.System)), "; runs: ", strconv.Itoa(len(r.runs)), "</p>\n")
	opts := make([]kv, 0, len(r.cfg.Options))
	for _, k := range sortedKeys(r.cfg.Options) {
		opts = append(opts, kv{k, r.cfg.Options[k]})
	}
	if len(opts) == 0 {
		h.w("<p>Options: none.</p>\n")
	} else {
		h.kvTable(opts)
	}
	if len(r.runs) == 0 {
		h.w("<p>No runs: n/a.</p>\n</section>\n")
		return
	}
	h.w("<div class=\"wide\">\n<table>\n<thead><tr>")
	for _, c := range runColumns {
		h.th(c.head, true)
	}
	h.w("</tr></thead>\n<tbody>\n")
	for i := range r.runs {
		h.w("<tr>")
		for _, c := range runColumns {
			h.td(c.cell(&r.runs[i]), true)
		}
		h.w("</tr>\n")
	}
	h.w("</tbody>\n</table>\n</div>\n")

	if ts := v.thresholdsFor[r.cfg.Name]; len(ts) > 0 {
		h.w("<p>Thresholds:")
		for _, t := range ts {
			h.w(" ", verdictSpan(t.OK, "✓", "✗"), " <code>", esc(t.Expr), "</code> (", esc(orNA(t.Value)), ")")
		}
		h.w("</p>\n")
	}
	if len(r.errorKinds) > 0 {
		h.w("<p>Errors over all runs:</p>\n")
		var kvs []kv
		for _, e := range r.errorKinds {
			kvs = append(kvs, kv{e.k, fmtCount(e.n)})
		}
		h.kvTable(kvs)
	}
	if keys, table := counters(r.runs); len(keys) > 0 {
		h.w("<p>Broker counters (GET_BROKER_RUNTIME_INFO), per run:</p>\n<div class=\"wide\">\n<table>\n<thead><tr>")
		h.th("counter", false)
		for i := range r.runs {
			h.th("rep "+strconv.Itoa(r.runs[i].Repetition), true)
		}
		h.w("</tr></thead>\n<tbody>\n")
		for ki, k := range keys {
			h.w("<tr>")
			h.td(k, false)
			for _, val := range table[ki] {
				h.td(val, true)
			}
			h.w("</tr>\n")
		}
		h.w("</tbody>\n</table>\n</div>\n")
	}
	h.w("</section>\n")
}

// counters lays out the runs' counters as rows of sorted keys with a value
// per run ("" where a run lacks the key).
func counters(runs []Run) (keys []string, table [][]string) {
	all := map[string]bool{}
	for i := range runs {
		for k := range runs[i].Counters {
			all[k] = true
		}
	}
	keys = sortedKeys(all)
	for _, k := range keys {
		vals := make([]string, len(runs))
		for i := range runs {
			vals[i] = runs[i].Counters[k]
		}
		table = append(table, vals)
	}
	return keys, table
}

func (h *htmlWriter) th(s string, num bool) {
	if num {
		h.w("<th class=\"num\" scope=\"col\">", esc(s), "</th>")
		return
	}
	h.w("<th scope=\"col\">", esc(s), "</th>")
}

func (h *htmlWriter) td(s string, num bool) {
	if num {
		h.w("<td class=\"num\">", esc(s), "</td>")
		return
	}
	h.w("<td>", esc(s), "</td>")
}

// verdict writes a pass/fail cell; the symbol and the word carry the
// meaning, the colour only repeats it.
func (h *htmlWriter) verdict(ok bool, yes, no string, known bool) {
	if !known {
		h.w("<td>n/a</td>")
		return
	}
	if ok {
		h.w("<td>", verdictSpan(true, "✓ "+yes, ""), "</td>")
	} else {
		h.w("<td>", verdictSpan(false, "", "✗ "+no), "</td>")
	}
}

func verdictSpan(ok bool, yes, no string) string {
	if ok {
		return "<span class=\"pass\">" + esc(yes) + "</span>"
	}
	return "<span class=\"fail\">" + esc(no) + "</span>"
}

func (h *htmlWriter) kvTable(kvs []kv) {
	h.w("<table>\n<tbody>\n")
	for _, p := range kvs {
		h.w("<tr><th scope=\"row\">", esc(p.k), "</th><td>", esc(p.v), "</td></tr>\n")
	}
	h.w("</tbody>\n</table>\n")
}

func swatch(r *row) string {
	return fmt.Sprintf(`<span class="sw" style="background: %s" aria-hidden="true"></span>`, r.color)
}

func configID(r *row) string { return "config-" + strconv.Itoa(r.index+1) }

func optionsCode(kvs []kv) string {
	if len(kvs) == 0 {
		return ""
	}
	parts := make([]string, len(kvs))
	for i, p := range kvs {
		parts[i] = "<code>" + esc(p.k+"="+p.v) + "</code>"
	}
	return strings.Join(parts, "<br/>")
}

func thresholdConfig(t Threshold) string {
	if t.Config == "" {
		return "(suite)"
	}
	return t.Config
}
