package reports

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/* with the actual output")

// golden compares got with testdata/golden/name, or rewrites the file
// under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; first difference:\n%s\n(run go test ./reports -run TestGolden -update if the change is intended)",
			name, firstDiff(want, got))
	}
}

// firstDiff shows the first line where want and got part.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n- " + w + "\n+ " + g
		}
	}
	return "(lengths differ)"
}

func TestGolden(t *testing.T) {
	s := testSuite(false)
	golden(t, "report.md", RenderMarkdown(s))
	golden(t, "report.html", RenderHTML(s))
	golden(t, "summary.txt", []byte(Summary(s)))
}

// TestWriteReport goes through results.json as mqbench report does: the
// JSON round trip must not change a byte of either report.
func TestWriteReport(t *testing.T) {
	s := testSuite(false)
	dir := t.TempDir()
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{
		MarkdownFile: RenderMarkdown(s),
		HTMLFile:     RenderHTML(s),
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s after the JSON round trip differs:\n%s", name, firstDiff(want, got))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "report.html report.md results.json" {
		t.Errorf("files in the directory: %s", got)
	}

	if err := WriteReport(t.TempDir()); err == nil {
		t.Error("WriteReport of a directory without results.json succeeded")
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, ResultsFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(bad); err == nil || !strings.HasPrefix(err.Error(), "reports: ") {
		t.Errorf("WriteReport of bad JSON: %v", err)
	}
}

// TestDeterminism renders the same suite repeatedly, and a suite whose
// maps were filled in the opposite order and whose runs are listed
// backwards: all must give the same bytes.
func TestDeterminism(t *testing.T) {
	type render struct {
		name string
		f    func(*Suite) []byte
	}
	renders := []render{
		{"markdown", RenderMarkdown},
		{"html", RenderHTML},
		{"summary", func(s *Suite) []byte { return []byte(Summary(s)) }},
	}
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			first := r.f(testSuite(false))
			for i := 0; i < 5; i++ {
				if got := r.f(testSuite(false)); !bytes.Equal(got, first) {
					t.Fatalf("render %d differs:\n%s", i, firstDiff(first, got))
				}
			}
			if got := r.f(testSuite(true)); !bytes.Equal(got, first) {
				t.Fatalf("insertion order changed the output:\n%s", firstDiff(first, got))
			}
		})
	}
}

// checkHTML parses page as XML (the page is written to be well-formed)
// and returns how many elements of each name it holds.
func checkHTML(t *testing.T, page []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	counts := map[string]int{}
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			counts[tok.Name.Local]++
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements: %v", stack)
	}
	return counts
}

var externalRef = regexp.MustCompile(`(?i)https?://|<script|<img|<link|<iframe|<object|\bsrc=|url\(|@import|@font-face|href="[^#]`)

// checkSelfContained fails if page refers to anything outside itself. The
// only URL allowed is the SVG namespace, which names and fetches nothing.
func checkSelfContained(t *testing.T, page []byte) {
	t.Helper()
	rest := strings.ReplaceAll(string(page), `xmlns="http://www.w3.org/2000/svg"`, "")
	if m := externalRef.FindString(rest); m != "" {
		i := strings.Index(rest, m)
		t.Errorf("external reference %q near %q", m, rest[max(0, i-60):min(len(rest), i+60)])
	}
}

const chartsPerPage = 7

func TestHTMLWellFormed(t *testing.T) {
	page := RenderHTML(testSuite(false))
	counts := checkHTML(t, page)
	if counts["svg"] != chartsPerPage {
		t.Errorf("%d <svg> elements, want one per chart, %d", counts["svg"], chartsPerPage)
	}
	if counts["figure"] != chartsPerPage {
		t.Errorf("%d figures, want %d", counts["figure"], chartsPerPage)
	}
	checkSelfContained(t, page)

	// Each chart on its own is a valid SVG document with a title and a
	// description, and draws something: lines or bars for every config.
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAll(page, -1)
	for _, svg := range svgs {
		c := checkHTML(t, svg)
		if c["title"] < 1 || c["desc"] != 1 {
			t.Errorf("chart without title or desc: %.80s", svg)
		}
		if bytes.Contains(svg, []byte("n/a: no data")) {
			t.Errorf("chart with no data in the representative suite: %.80s", svg)
		}
	}
	for _, id := range []string{"chart-spectrum", "chart-throughput", "chart-p99", "chart-bars-throughput", "chart-bars-p99", "chart-bars-cpu-msg", "chart-bars-cpu-gb"} {
		if !bytes.Contains(page, []byte(`id="`+id+`"`)) {
			t.Errorf("no chart %s", id)
		}
	}
	// The spectrum has a path per configuration and its x axis reaches
	// 99.9999 %.
	spectrum := svgs[0]
	if n := bytes.Count(spectrum, []byte("<path ")); n != 6 {
		t.Errorf("spectrum has %d lines, want 6", n)
	}
	if !bytes.Contains(spectrum, []byte(">99.9999%<")) {
		t.Error("spectrum axis does not reach 99.9999%")
	}
}

// TestContent checks the figures the issue asks for are in both reports.
func TestContent(t *testing.T) {
	s := testSuite(false)
	md, page, sum := string(RenderMarkdown(s)), string(RenderHTML(s)), Summary(s)
	for _, want := range []string{
		"SYNC_FLUSH", "ASYNC_FLUSH", "commitLogWritePath=mmap", "commitLogWritePath=pwrite",
		"transferMsgByHeap=true", "transferMsgByHeap=false",
		"Thrust SYNC_FLUSH / JetStream always", "Thrust ASYNC_FLUSH / JetStream default",
		"13.8×", "1.18×", "not assertions",
		"AMD EPYC 7B13", "Linux 6.8.0", "pd-ssd", "go1.26.8", "db84a0c",
		"p99 < 5ms", "p99.9", "CPU/msg", "CPU/GB", "msg/s", "MB/s",
		"84.2k [82.9k..86.7k]", // msg/s: median [min..max]
		"thrust async mmap copy",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
		if !strings.Contains(page, esc(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, want := range []string{"✓ thrust sync mmap sendfile", "✗ jetstream always", "✗ thrust async mmap copy", "thresholds: 6 of 8 passed", "13.8×"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

// degenerate suites: each must render without panicking, deterministically,
// as well-formed, self-contained HTML, showing n/a where figures are missing.
func degenerateSuites() map[string]*Suite {
	zeroRun := Run{Repetition: 1}
	nothingAcked := Run{
		Repetition: 1, DurationSeconds: 10, Sent: 500, Errors: map[string]int64{"FLUSH_DISK_TIMEOUT": 500},
		Series: []Second{{T: 0, Sent: 250}, {T: 1, Sent: 250}},
	}
	noSpectrum := Run{
		Repetition: 1, DurationSeconds: 10, Sent: 100, Acked: 100, ThroughputMsgs: 10,
		Latency: Latency{Count: 100, P50: 100, P99: 900, P999: 1000, Max: 1200},
	}
	oneSecond := noSpectrum
	oneSecond.Series = []Second{{T: 0, Acked: 10, P99Us: 900}}
	weird := Run{
		Repetition: 1, DurationSeconds: 1, Acked: 1, ThroughputMsgs: math.Inf(1), ThroughputBytes: math.NaN(),
		Latency:         Latency{Count: 1, P50: math.NaN(), P99: -5, Max: math.Inf(1), Spectrum: []Point{{-1, 5}, {100, 7}, {150, 9}, {50, math.NaN()}}},
		CPUPerMessageUs: math.NaN(),
		Series:          []Second{{T: -3, Acked: -1, P99Us: math.Inf(-1)}, {T: 2, Acked: 5, P99Us: 1e12}},
	}
	many := &Suite{Name: "many"}
	for i := 0; i < 20; i++ {
		r := noSpectrum
		r.ThroughputMsgs = float64(i * 100)
		r.Series = []Second{{T: 0, Acked: int64(i), P99Us: float64(i + 1)}, {T: 1, Acked: int64(i + 1), P99Us: float64(i + 2)}}
		many.Configs = append(many.Configs, Config{System: "thrust", Runs: []Run{r}})
	}
	return map[string]*Suite{
		"nil":           nil,
		"empty":         {},
		"no runs":       {Name: "x", Configs: []Config{{Name: "a", System: "thrust"}, {Name: "b"}}},
		"zero run":      {Configs: []Config{{Name: "a", Runs: []Run{zeroRun}}}},
		"nothing acked": {Configs: []Config{{Name: "a", Runs: []Run{nothingAcked, nothingAcked}}}},
		"no spectrum":   {Configs: []Config{{Name: "a", Runs: []Run{noSpectrum}}}},
		"one second":    {Configs: []Config{{Name: "a", Runs: []Run{oneSecond}}}, Workload: Workload{ProducerRate: 4000}},
		"not finite":    {Configs: []Config{{Name: "a", Runs: []Run{weird, zeroRun}}}},
		"many configs":  many,
		"no peers": {
			Configs:     []Config{{Name: "thrust only", System: "thrust", Runs: []Run{noSpectrum}}},
			Comparisons: []Comparison{{Name: "vs nobody", Metric: MetricThroughputMsgs, Numerator: "thrust only", Denominator: "jetstream always", Ratio: math.NaN()}},
			Thresholds:  []Threshold{{Expr: "p99 < 1ms", Config: "gone", Value: "", OK: false}},
		},
		"hostile names": {
			Name: `<script>alert("x")</script> & | pipes`,
			Configs: []Config{{
				Name: "a|b <c> & \"d\" 'e' \x00\x01", System: "http://evil",
				Options: map[string]string{"k|`": "<v>", "https://x": "y"},
				Runs:    []Run{noSpectrum},
			}},
			Notes:      []string{"line\nbreak | pipe <b>"},
			Thresholds: []Threshold{{Expr: "p99 < 5ms & max < 1s", Config: "a|b <c> & \"d\" 'e' \x00\x01", OK: true}},
		},
	}
}

func TestDegenerate(t *testing.T) {
	for name, s := range degenerateSuites() {
		t.Run(name, func(t *testing.T) {
			md := RenderMarkdown(s)
			page := RenderHTML(s)
			sum := Summary(s)
			if !bytes.Equal(md, RenderMarkdown(s)) || !bytes.Equal(page, RenderHTML(s)) || sum != Summary(s) {
				t.Error("not deterministic")
			}
			counts := checkHTML(t, page)
			if counts["svg"] != chartsPerPage {
				t.Errorf("%d <svg> elements, want %d", counts["svg"], chartsPerPage)
			}
			if name != "hostile names" {
				checkSelfContained(t, page)
			}
			for _, out := range []string{string(md), string(page)} {
				if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
					t.Errorf("a non-finite number was printed")
				}
			}
			if s != nil && len(s.Configs) > 0 && len(s.Configs[0].Runs) == 0 && !bytes.Contains(md, []byte("No runs: n/a.")) {
				t.Error("a configuration without runs is not marked n/a")
			}
		})
	}
}

// Hostile names are escaped, not interpreted.
func TestEscaping(t *testing.T) {
	s := degenerateSuites()["hostile names"]
	page := string(RenderHTML(s))
	if strings.Contains(page, "<script") || strings.Contains(page, "<c>") || strings.Contains(page, "<v>") {
		t.Error("markup from the suite reached the page unescaped")
	}
	md := string(RenderMarkdown(s))
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| a") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != len(mainColumns)+1 {
			t.Errorf("a pipe in a name broke the table row: %s", line)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{fmtUs(0), "0µs"},
		{sig3(0), "0"},
		{fmtStat(Stat{N: 2, Median: 7, Min: 7, Max: 7}, fmtSI), "7.00"},
		{fmtUs(0.5), "0.50µs"},
		{fmtUs(410), "410µs"},
		{fmtUs(999.4), "999µs"},
		{fmtUs(999.7), "1.00ms"},
		{fmtUs(1210), "1.21ms"},
		{fmtUs(12345), "12.3ms"},
		{fmtUs(2.5e6), "2.50s"},
		{fmtUs(-0.0001), "0.00µs"},
		{fmtUs(math.NaN()), "n/a"},
		{fmtSI(950), "950"},
		{fmtSI(4000), "4.00k"},
		{fmtSI(84210), "84.2k"},
		{fmtSI(999999), "1.00M"},
		{fmtSI(1.234e6), "1.23M"},
		{fmtMB(102.4e6), "102"},
		{fmtCount(0), "0"},
		{fmtCount(999), "999"},
		{fmtCount(1234567), "1,234,567"},
		{fmtCount(-1234), "-1,234"},
		{fmtBytes(512), "512B"},
		{fmtBytes(1024), "1.00KiB"},
		{fmtBytes(183 << 20), "183MiB"},
		{fmtRatio(13.76), "13.8×"},
		{fmtRatio(math.Inf(1)), "n/a"},
		{fmtStat(Stat{}, fmtUs), "n/a"},
		{fmtStat(Stat{N: 1, Median: 5, Min: 5, Max: 5}, fmtUs), "5.00µs"},
		{fmtStat(Stat{N: 3, Median: 1210, Min: 980, Max: 1400}, fmtUs), "1.21ms [980µs..1.40ms]"},
		{trimZeros("1.00ms"), "1ms"},
		{trimZeros("2.50k"), "2.5k"},
		{trimZeros("100µs"), "100µs"},
		{ninesLabel(0), "0%"},
		{ninesLabel(3), "99.9%"},
		{ninesLabel(6), "99.9999%"},
		{truncate("abcdef", 4), "abc…"},
		{esc("a<b>&\"c'\x01"), "a&lt;b&gt;&amp;&#34;c&#39;"},
		{mdText("a|b\nc"), `a\|b c`},
		{mdCode("a`b"), "`` a`b ``"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestOver(t *testing.T) {
	runs := func(vs ...float64) []Run {
		var rs []Run
		for i, v := range vs {
			rs = append(rs, Run{Repetition: i + 1, DurationSeconds: 1, ThroughputMsgs: v,
				Latency: Latency{Count: 1, P99: v}})
		}
		return rs
	}
	for _, c := range []struct {
		runs []Run
		want Stat
	}{
		{nil, Stat{}},
		{runs(5), Stat{1, 5, 5, 5}},
		{runs(3, 1, 2), Stat{3, 2, 1, 3}},
		{runs(4, 1, 3, 2), Stat{4, 2.5, 1, 4}},
		{runs(math.NaN(), 2), Stat{1, 2, 2, 2}},
		{[]Run{{}}, Stat{}}, // a run that did not run has no throughput
	} {
		if got := Over(c.runs, MetricThroughputMsgs); got != c.want {
			t.Errorf("Over(%v) = %+v, want %+v", c.runs, got, c.want)
		}
	}
	// A run that acknowledged nothing has throughput 0 but no latency.
	rs := []Run{{DurationSeconds: 1}, {DurationSeconds: 1, ThroughputMsgs: 10, Latency: Latency{Count: 1, P99: 7}}}
	if got := Over(rs, MetricThroughputMsgs); got != (Stat{2, 5, 0, 10}) {
		t.Errorf("throughput with an idle run: %+v", got)
	}
	if got := Over(rs, MetricP99Us); got != (Stat{1, 7, 7, 7}) {
		t.Errorf("p99 with an idle run: %+v", got)
	}
	if got := Over(rs, "no such metric"); got != (Stat{}) {
		t.Errorf("unknown metric: %+v", got)
	}
}

func TestMedianRun(t *testing.T) {
	rs := []Run{
		{Repetition: 3, DurationSeconds: 1, ThroughputMsgs: 20},
		{Repetition: 1, DurationSeconds: 1, ThroughputMsgs: 10},
		{Repetition: 2, DurationSeconds: 1, ThroughputMsgs: 20},
		{Repetition: 4, DurationSeconds: 1, ThroughputMsgs: 30},
	}
	// Sorted: 10 (rep 1), 20 (rep 2), 20 (rep 3), 30; the lower median is
	// rep 2, at index 2.
	if got := MedianRun(rs, MetricThroughputMsgs); got != 2 {
		t.Errorf("MedianRun = %d, want 2", got)
	}
	if got := MedianRun(nil, MetricThroughputMsgs); got != -1 {
		t.Errorf("MedianRun(nil) = %d", got)
	}
	if got := MedianRun(rs, MetricP99Us); got != -1 {
		t.Errorf("MedianRun without latency = %d", got)
	}
}

func TestAxes(t *testing.T) {
	a := linearAxis(0, 87000, tickSI)
	var labels []string
	for _, tk := range a.ticks {
		labels = append(labels, tk.label)
	}
	if got := strings.Join(labels, " "); got != "0 20k 40k 60k 80k 100k" {
		t.Errorf("linear ticks: %s", got)
	}
	l := logAxis(180, 31000, tickUs)
	labels = nil
	for _, tk := range l.ticks {
		labels = append(labels, tk.label)
	}
	if got := strings.Join(labels, " "); got != "100µs 1ms 10ms 100ms" {
		t.Errorf("log ticks: %s", got)
	}
	l = logAxis(300, 2000, tickUs)
	labels = nil
	for _, tk := range l.ticks {
		labels = append(labels, tk.label)
	}
	if got := strings.Join(labels, " "); got != "100µs 200µs 500µs 1ms 2ms 5ms 10ms" {
		t.Errorf("log ticks over one decade: %s", got)
	}
	if f := l.frac(1000); math.Abs(f-0.5) > 1e-12 {
		t.Errorf("frac(1ms) on 100µs..10ms = %v", f)
	}
}
