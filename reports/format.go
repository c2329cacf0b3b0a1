package reports

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Number formatting. Every figure goes through these functions, which use
// strconv with a fixed precision, so the same value prints the same text
// on every machine. Figures carry about three significant digits: more
// would be noise between repetitions.

const na = "n/a"

// finite reports whether v is an ordinary number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// decimals is how many digits after the point give v about three
// significant digits (two at least below 10, none from 100 up).
func decimals(v float64) int {
	switch a := math.Abs(v); {
	case a < 10:
		return 2
	case a < 100:
		return 1
	default:
		return 0
	}
}

// fixed formats v with d decimals, never as "-0".
func fixed(v float64, d int) string {
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.HasPrefix(s, "-") && strings.Trim(s, "-0.") == "" {
		s = s[1:]
	}
	return s
}

// sig3 formats v with about three significant digits; zero is "0".
func sig3(v float64) string {
	if v == 0 {
		return "0"
	}
	return fixed(v, decimals(v))
}

// unit is one step of a scale of units.
type unit struct {
	scale  float64
	suffix string
}

var (
	durationUnits = []unit{{1, "µs"}, {1e3, "ms"}, {1e6, "s"}}
	siUnits       = []unit{{1, ""}, {1e3, "k"}, {1e6, "M"}, {1e9, "G"}, {1e12, "T"}}
)

// scaled formats v in the largest unit of units that keeps it at least 1,
// moving up a unit when rounding reaches 1000 (999.7µs prints as 1.00ms).
func scaled(v float64, units []unit) string {
	if !finite(v) {
		return na
	}
	if v == 0 {
		return "0" + units[0].suffix
	}
	i := 0
	for i+1 < len(units) && math.Abs(v) >= units[i+1].scale {
		i++
	}
	for {
		x := v / units[i].scale
		d := decimals(x)
		r, _ := strconv.ParseFloat(fixed(x, d), 64)
		if math.Abs(r) >= 1000 && i+1 < len(units) {
			i++
			continue
		}
		return fixed(x, d) + units[i].suffix
	}
}

// fmtUs formats a duration given in microseconds: 410µs, 1.21ms, 2.50s.
func fmtUs(us float64) string { return scaled(us, durationUnits) }

// fmtSI formats a rate or count with an SI prefix: 950, 4.00k, 1.23M.
func fmtSI(v float64) string { return scaled(v, siUnits) }

// fmtMB formats bytes (or bytes/s) in decimal megabytes, 10^6 bytes.
func fmtMB(b float64) string {
	if !finite(b) {
		return na
	}
	return sig3(b / 1e6)
}

// fmtCount formats an exact count with thousands separators: 1,234,567.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtBytes formats a size in binary units: 512B, 1.00KiB, 118MiB.
func fmtBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	v := float64(n)
	suffixes := []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for i+1 < len(suffixes) && v >= 1024 {
		v /= 1024
		i++
	}
	return sig3(v) + suffixes[i]
}

// fmtSeconds formats a duration given in seconds: 60s, 1.50s.
func fmtSeconds(s float64) string {
	if !finite(s) {
		return na
	}
	return sig3(s) + "s"
}

// fmtRatio formats a ratio: 12.3×, 0.71×.
func fmtRatio(r float64) string {
	if !finite(r) {
		return na
	}
	return sig3(r) + "×"
}

// fmtStat formats a figure over repetitions as "median [min..max]", each
// number with its unit, or n/a when no run had it. With one run, or runs
// that all agree, there is no range to show.
func fmtStat(st Stat, f func(float64) string) string {
	if st.N == 0 {
		return na
	}
	if st.N == 1 || st.Min == st.Max {
		return f(st.Median)
	}
	return f(st.Median) + " [" + f(st.Min) + ".." + f(st.Max) + "]"
}

// fmtTime formats a time in UTC, or n/a for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return na
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// orNA returns s, or n/a when s is blank.
func orNA(s string) string {
	if strings.TrimSpace(s) == "" {
		return na
	}
	return s
}

// truncate shortens s to at most n runes, ending it with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// xmlEscaper escapes text for HTML and SVG alike, attributes included. It
// produces no named entities, so the page stays well-formed XML.
var xmlEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;",
)

// esc escapes s for HTML and SVG. Characters XML forbids (control
// characters other than tab and newline, U+FFFE, U+FFFF) are dropped.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0xFFFE || r == 0xFFFF {
			return -1
		}
		return r
	}, s)
	return xmlEscaper.Replace(s)
}
