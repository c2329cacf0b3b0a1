package reports

import (
	"fmt"
	"math"
	"strings"
)

// Hand-drawn SVG: line charts with linear or logarithmic axes, and
// horizontal bar charts with min..max whiskers. Every coordinate is
// printed with one decimal through fixed, so a chart is a pure function of
// its data. Every chart is well-formed XML with a <title> and <desc> for
// screen readers, and draws "n/a: no data" rather than nothing.

const (
	chartWidth = 760
	fontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
)

// px formats a coordinate.
func px(v float64) string { return fixed(v, 1) }

// lerp maps frac in [0, 1] onto [a, b].
//
// NB: the explicit float64 conversion forbids the compiler to fuse the
// multiply and add (Go may on arm64, ppc64 and s390x), which could move a
// coordinate by one ulp, and, rarely, its printed last digit, between
// machines. Golden files want the same bytes everywhere.
func lerp(a, b, frac float64) float64 { return a + float64((b-a)*frac) }

type tick struct {
	v     float64
	label string
}

// axis maps data values onto [0, 1]; a log axis maps log10 of them.
type axis struct {
	log    bool
	lo, hi float64
	ticks  []tick
}

func (a *axis) frac(v float64) float64 {
	lo, hi := a.lo, a.hi
	if a.log {
		v, lo, hi = math.Log10(v), math.Log10(lo), math.Log10(hi)
	}
	if hi <= lo {
		return 0
	}
	f := (v - lo) / (hi - lo)
	return math.Min(1, math.Max(0, f))
}

// niceStep rounds a rough tick spacing to 1, 2 or 5 times a power of ten.
func niceStep(rough float64) float64 {
	if !(rough > 0) || !finite(rough) {
		return 1
	}
	e := math.Floor(math.Log10(rough))
	p := math.Pow(10, e)
	switch f := rough / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	default:
		return 10 * p
	}
}

// linearAxis spans [lo, hi] with about five ticks on round values.
func linearAxis(lo, hi float64, label func(float64) string) axis {
	if !finite(lo) || !finite(hi) {
		lo, hi = 0, 1
	}
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	a := axis{lo: math.Floor(lo/step) * step, hi: math.Ceil(hi/step) * step}
	n := int(math.Round((a.hi - a.lo) / step))
	for k := 0; k <= n; k++ {
		v := a.lo + float64(k)*step
		a.ticks = append(a.ticks, tick{v, label(v)})
	}
	return a
}

// logAxis spans [lo, hi] (both positive) with whole decades, labelling
// the decades, and 2 and 5 times them when there are at most two decades.
func logAxis(lo, hi float64, label func(float64) string) axis {
	if !(lo > 0) || !finite(lo) || !finite(hi) {
		lo, hi = 1, 10
	}
	hi = math.Max(hi, lo)
	a0, b0 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	if b0 <= a0 {
		b0 = a0 + 1
	}
	a := axis{log: true, lo: math.Pow(10, float64(a0)), hi: math.Pow(10, float64(b0))}
	for k := a0; k <= b0; k++ {
		d := math.Pow(10, float64(k))
		a.ticks = append(a.ticks, tick{d, label(d)})
		if b0-a0 <= 2 && k < b0 {
			a.ticks = append(a.ticks, tick{2 * d, label(2 * d)}, tick{5 * d, label(5 * d)})
		}
	}
	return a
}

// trimZeros drops a number's trailing fractional zeros, keeping its unit:
// "1.00ms" becomes "1ms", "2.50k" "2.5k". Tick labels need no false
// precision.
func trimZeros(s string) string {
	i := 0
	for i < len(s) && (s[i] == '-' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	num, rest := s[:i], s[i:]
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	return num + rest
}

func tickUs(v float64) string { return tickLabel(fmtUs, v) }
func tickSI(v float64) string { return tickLabel(fmtSI, v) }

// tickLabel formats an axis value without false precision; zero is "0"
// whatever the unit.
func tickLabel(f func(float64) string, v float64) string {
	if v == 0 {
		return "0"
	}
	return trimZeros(f(v))
}

// series is one line of a line chart. A NaN y breaks the line.
type series struct {
	label, title string
	color, dash  string
	xs, ys       []float64
}

// hline is a dashed reference line across a chart (a target rate, say).
type hline struct {
	y     float64
	label string
}

type lineChart struct {
	id, title, desc string
	xLabel, yLabel  string
	x, y            axis
	series          []series
	hlines          []hline
}

// Line chart geometry.
const (
	lcLeft   = 78.0
	lcRight  = chartWidth - 36.0
	lcTop    = 14.0
	lcBottom = 274.0
	lcLegend = lcBottom + 58 // first legend row's baseline
	legendDY = 18.0
	legendW  = (lcRight - lcLeft) / 2
)

func openSVG(b *strings.Builder, id, title, desc string, height float64) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" id="%s" class="chart" width="%d" height="%s" viewBox="0 0 %d %s" role="img" aria-labelledby="%s-title %s-desc" font-family="%s" font-size="12">`+"\n",
		id, chartWidth, px(height), chartWidth, px(height), id, id, fontFamily)
	fmt.Fprintf(b, `<title id="%s-title">%s</title>`+"\n", id, esc(title))
	fmt.Fprintf(b, `<desc id="%s-desc">%s</desc>`+"\n", id, esc(desc))
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="%s" fill="#ffffff"/>`+"\n", chartWidth, px(height))
}

func noData(b *strings.Builder, x0, x1, y0, y1 float64) {
	fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle" font-size="14" fill="#555555">n/a: no data</text>`+"\n",
		px((x0+x1)/2), px((y0+y1)/2))
}

// drawable reports whether s has a point that can be drawn on y.
func (s *series) drawable(y *axis) bool {
	for _, v := range s.ys {
		if finite(v) && (!y.log || v > 0) {
			return true
		}
	}
	return false
}

func (c *lineChart) render() string {
	var b strings.Builder
	var drawn []*series
	for i := range c.series {
		if c.series[i].drawable(&c.y) {
			drawn = append(drawn, &c.series[i])
		}
	}
	rows := (len(drawn) + 1) / 2
	height := lcLegend + float64(rows)*legendDY
	if len(drawn) == 0 {
		height = lcBottom + 44
	}
	openSVG(&b, c.id, c.title, c.desc, height)
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#999999"/>`+"\n",
		px(lcLeft), px(lcTop), px(lcRight-lcLeft), px(lcBottom-lcTop))
	if len(drawn) == 0 {
		noData(&b, lcLeft, lcRight, lcTop, lcBottom)
		b.WriteString("</svg>\n")
		return b.String()
	}
	X := func(v float64) float64 { return lerp(lcLeft, lcRight, c.x.frac(v)) }
	Y := func(v float64) float64 { return lerp(lcBottom, lcTop, c.y.frac(v)) }

	// Grid and ticks.
	b.WriteString(`<g stroke="#e3e3e3" stroke-width="1">` + "\n")
	for _, t := range c.y.ticks {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", px(lcLeft), px(Y(t.v)), px(lcRight), px(Y(t.v)))
	}
	for _, t := range c.x.ticks {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", px(X(t.v)), px(lcTop), px(X(t.v)), px(lcBottom))
	}
	b.WriteString("</g>\n")
	b.WriteString(`<g fill="#333333" font-size="11">` + "\n")
	for _, t := range c.y.ticks {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n", px(lcLeft-6), px(Y(t.v)+4), esc(t.label))
	}
	for _, t := range c.x.ticks {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", px(X(t.v)), px(lcBottom+16), esc(t.label))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#111111">%s</text>`+"\n",
		px((lcLeft+lcRight)/2), px(lcBottom+36), esc(c.xLabel))
	cy := (lcTop + lcBottom) / 2
	fmt.Fprintf(&b, `<text x="16" y="%s" text-anchor="middle" fill="#111111" transform="rotate(-90 16 %s)">%s</text>`+"\n",
		px(cy), px(cy), esc(c.yLabel))

	for _, h := range c.hlines {
		if !finite(h.y) || (c.y.log && h.y <= 0) {
			continue
		}
		y := Y(h.y)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#555555" stroke-dasharray="4 4"><title>%s</title></line>`+"\n",
			px(lcLeft), px(y), px(lcRight), px(y), esc(h.label))
		ly := y - 4
		if ly-lcTop < 12 { // no room above the line: label it below
			ly = y + 13
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" fill="#555555" font-size="11">%s</text>`+"\n",
			px(lcRight-4), px(ly), esc(h.label))
	}

	// Lines, in configuration order so later ones draw on top.
	for _, s := range drawn {
		var d strings.Builder
		var dots []string
		seg := 0 // points in the current segment
		var lastX, lastY float64
		flush := func() {
			if seg == 1 {
				dots = append(dots, fmt.Sprintf(`<circle cx="%s" cy="%s" r="2.5"/>`, px(lastX), px(lastY)))
			}
			seg = 0
		}
		for i := range s.ys {
			v := s.ys[i]
			if i >= len(s.xs) || !finite(v) || !finite(s.xs[i]) || (c.y.log && v <= 0) {
				flush()
				continue
			}
			x, y := X(s.xs[i]), Y(v)
			if seg == 0 {
				if d.Len() > 0 {
					d.WriteByte(' ')
				}
				d.WriteString("M" + px(x) + " " + px(y))
			} else {
				d.WriteString(" L" + px(x) + " " + px(y))
			}
			seg++
			lastX, lastY = x, y
		}
		flush()
		fmt.Fprintf(&b, `<g stroke="%s" fill="%s"><title>%s</title>`+"\n", s.color, s.color, esc(s.title))
		dash := ""
		if s.dash != "" {
			dash = ` stroke-dasharray="` + s.dash + `"`
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke-width="1.75" stroke-linejoin="round"%s/>`+"\n", d.String(), dash)
		for _, dot := range dots {
			b.WriteString(dot + "\n")
		}
		b.WriteString("</g>\n")
	}

	// Legend, two columns.
	for i, s := range drawn {
		x := lcLeft + float64(i%2)*legendW
		y := lcLegend + float64(i/2)*legendDY
		dash := ""
		if s.dash != "" {
			dash = ` stroke-dasharray="` + s.dash + `"`
		}
		fmt.Fprintf(&b, `<g><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"%s/><text x="%s" y="%s" fill="#111111">%s</text></g>`+"\n",
			px(x), px(y-4), px(x+22), px(y-4), s.color, dash, px(x+28), px(y), esc(truncate(s.label, 48)))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// bar is one configuration's bar: its median, with a whisker from min to max.
type bar struct {
	label, color string
	st           Stat
	text         string // the figure printed after the bar
}

type barChart struct {
	id, title, desc string
	axisLabel       string
	tickLabel       func(float64) string
	bars            []bar
}

// Bar chart geometry.
const (
	bcLabelRight = 236.0
	bcLeft       = 244.0
	bcRight      = 580.0
	bcText       = 590.0
	bcTop        = 10.0
	bcRowH       = 24.0
	bcBarH       = 14.0
)

func (c *barChart) render() string {
	var b strings.Builder
	bottom := bcTop + float64(max(len(c.bars), 1))*bcRowH + 4
	height := bottom + 42
	openSVG(&b, c.id, c.title, c.desc, height)
	hi := 0.0
	have := false
	for _, br := range c.bars {
		if br.st.N > 0 && finite(br.st.Max) {
			hi = math.Max(hi, br.st.Max)
			have = true
		}
	}
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999999"/>`+"\n",
		px(bcLeft), px(bcTop), px(bcLeft), px(bottom))
	if !have {
		noData(&b, bcLeft, bcRight, bcTop, bottom)
	}
	ax := linearAxis(0, hi, c.tickLabel)
	X := func(v float64) float64 { return lerp(bcLeft, bcRight, ax.frac(v)) }
	if have {
		b.WriteString(`<g stroke="#e3e3e3" stroke-width="1">` + "\n")
		for _, t := range ax.ticks[1:] {
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", px(X(t.v)), px(bcTop), px(X(t.v)), px(bottom))
		}
		b.WriteString("</g>\n")
		b.WriteString(`<g fill="#333333" font-size="11" text-anchor="middle">` + "\n")
		for _, t := range ax.ticks {
			fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`+"\n", px(X(t.v)), px(bottom+14), esc(t.label))
		}
		b.WriteString("</g>\n")
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#111111">%s</text>`+"\n",
		px((bcLeft+bcRight)/2), px(bottom+34), esc(c.axisLabel))
	for i, br := range c.bars {
		top := bcTop + float64(i)*bcRowH + (bcRowH-bcBarH)/2
		mid := top + bcBarH/2
		fmt.Fprintf(&b, `<g><title>%s: %s</title>`+"\n", esc(br.label), esc(br.text))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" fill="#111111">%s</text>`+"\n",
			px(bcLabelRight), px(mid+4), esc(truncate(br.label, 34)))
		if br.st.N > 0 && have {
			w := X(br.st.Median) - bcLeft
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
				px(bcLeft), px(top), px(w), px(bcBarH), br.color)
			if br.st.N > 1 && br.st.Max > br.st.Min {
				x0, x1 := X(br.st.Min), X(br.st.Max)
				fmt.Fprintf(&b, `<path d="M%s %s L%s %s M%s %s L%s %s M%s %s L%s %s" stroke="#111111" stroke-width="1.25" fill="none"/>`+"\n",
					px(x0), px(mid), px(x1), px(mid),
					px(x0), px(mid-4), px(x0), px(mid+4),
					px(x1), px(mid-4), px(x1), px(mid+4))
			}
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" fill="#111111">%s</text>`+"\n", px(bcText), px(mid+4), esc(br.text))
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}
