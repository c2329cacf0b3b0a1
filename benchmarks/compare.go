package benchmarks

import (
	"fmt"
	"math"
	"strconv"

	"github.com/thrustmq/thrust/reports"
)

// The targets the issue sets, measured and printed, never asserted: a
// shared CI machine's figures say nothing about a design.
const (
	targetSyncOverJSAlways   = 10.0 // Thrust SYNC_FLUSH max msg/s ÷ JetStream always
	targetSyncOverAsync      = 0.7  // Thrust SYNC_FLUSH ÷ Thrust ASYNC_FLUSH
	targetAsyncOverJSDefault = 1.0  // Thrust ASYNC_FLUSH ÷ JetStream default
	targetSyncP99Us          = 2000 // p99 at the fixed SYNC_FLUSH rate (4,000 msg/s)
	targetSendfileOverCopy   = 0.5  // CPU per GB, sendfile ÷ copy
	preferredFixedRate       = 4000
)

// Compare computes the suite's ratios from the medians of the runs. A
// ratio whose configurations the suite lacks is left out.
//
// Which configuration plays which part:
//
//   - Thrust SYNC_FLUSH and ASYNC_FLUSH: maximum-rate Thrust rows with
//     that flushDiskType, the one closest to the defaults (mmap, sendfile,
//     nothing else set); ASYNC_FLUSH preferably the one that differs from
//     the SYNC_FLUSH row in flushDiskType alone.
//   - JetStream always and default: maximum-rate JetStream rows with
//     sync_interval always and default.
//   - The fixed-rate latency: a Thrust SYNC_FLUSH row with a producerRate
//     (4,000 msg/s preferred).
//   - sendfile and copy: two maximum-rate Thrust rows that differ in
//     transferMsgByHeap alone.
func Compare(configs []Config, results []reports.Config) []reports.Comparison {
	idx := func(pred func(Config) bool, rank func(Config) int) int {
		best, bestRank := -1, math.MaxInt
		for i, c := range configs {
			if i < len(results) && len(results[i].Runs) > 0 && pred(c) {
				if r := rank(c); r < bestRank {
					best, bestRank = i, r
				}
			}
		}
		return best
	}
	maxRate := func(c Config) bool { return c.ProducerRate == 0 }
	thrustFlush := func(flush string) func(Config) bool {
		return func(c Config) bool {
			return c.System == SystemThrust && maxRate(c) && c.Options["flushDiskType"] == flush
		}
	}
	js := func(sync string) func(Config) bool {
		return func(c Config) bool {
			return c.System == SystemJetStream && maxRate(c) && c.Options["sync_interval"] == sync
		}
	}
	noRank := func(Config) int { return 0 }

	syncIdx := idx(thrustFlush("SYNC_FLUSH"), distanceFromDefaults)
	asyncIdx := -1
	if syncIdx >= 0 {
		asyncIdx = idx(thrustFlush("ASYNC_FLUSH"), func(c Config) int {
			if sameExcept(c.Options, configs[syncIdx].Options, "flushDiskType") {
				return -1
			}
			return distanceFromDefaults(c)
		})
	} else {
		asyncIdx = idx(thrustFlush("ASYNC_FLUSH"), distanceFromDefaults)
	}
	alwaysIdx := idx(js("always"), noRank)
	defaultIdx := idx(js("default"), noRank)

	var out []reports.Comparison
	tput := func(i int) float64 {
		return medianOf(results[i].Runs, func(r *reports.Run) float64 { return r.ThroughputMsgs })
	}
	ratio := func(name, metric string, num, den int, get func(int) float64, target float64, atLeast bool) {
		if num < 0 || den < 0 {
			return
		}
		// A figure no run measured is NaN here and 0 in the results
		// (JSON has no NaN); the ratio is then 0 and not met.
		n, d := finite(get(num)), finite(get(den))
		c := reports.Comparison{Name: name, Metric: metric, Numerator: configs[num].Name, Denominator: configs[den].Name, NumeratorValue: n, DenominatorValue: d}
		if d > 0 && n > 0 {
			c.Ratio = n / d
		}
		if target > 0 {
			c.Target, c.Met = targetText(target, atLeast), meets(c.Ratio, target, atLeast) && c.Ratio > 0
		}
		out = append(out, c)
	}
	ratio("Thrust SYNC_FLUSH / JetStream always", "throughputMsgs", syncIdx, alwaysIdx, tput, targetSyncOverJSAlways, true)
	ratio("Thrust SYNC_FLUSH / Thrust ASYNC_FLUSH", "throughputMsgs", syncIdx, asyncIdx, tput, targetSyncOverAsync, true)
	ratio("Thrust ASYNC_FLUSH / JetStream default", "throughputMsgs", asyncIdx, defaultIdx, tput, targetAsyncOverJSDefault, true)

	// The fixed-rate latency bound.
	fixed := idx(func(c Config) bool {
		return c.System == SystemThrust && c.ProducerRate > 0 && c.Options["flushDiskType"] == "SYNC_FLUSH"
	}, func(c Config) int {
		if c.ProducerRate == preferredFixedRate {
			return -1
		}
		return distanceFromDefaults(c)
	})
	if fixed >= 0 {
		p99 := finite(medianOf(results[fixed].Runs, func(r *reports.Run) float64 { return r.Latency.P99 }))
		c := reports.Comparison{
			Name:        fmt.Sprintf("p99 at %s msg/s, Thrust SYNC_FLUSH, over the bound", strconv.FormatFloat(configs[fixed].ProducerRate, 'f', -1, 64)),
			Metric:      "p99Us",
			Numerator:   configs[fixed].Name,
			Denominator: FormatMicros(targetSyncP99Us) + " bound",
			Ratio:       p99 / targetSyncP99Us, NumeratorValue: p99, DenominatorValue: targetSyncP99Us,
			Target: targetText(1, false),
		}
		c.Met = p99 > 0 && c.Ratio <= 1
		out = append(out, c)
	}

	// sendfile beside copy, and pwrite beside mmap: two rows that differ
	// in that option alone, preferably ASYNC_FLUSH (where the write and
	// read paths, not the disk's sync, set the pace) and closest to the
	// defaults.
	// A throughput ratio needs maximum-rate rows; CPU per GB compares
	// rows at the same rate, whatever it is.
	pair := func(key, from, to string, needMax bool) (int, int) {
		bi, bj, best := -1, -1, math.MaxInt
		for i, a := range configs {
			if a.System != SystemThrust || (needMax && !maxRate(a)) || a.Options[key] != from || len(results[i].Runs) == 0 {
				continue
			}
			for j, b := range configs {
				if b.System != SystemThrust || b.ProducerRate != a.ProducerRate || b.Options[key] != to || len(results[j].Runs) == 0 || !sameExcept(a.Options, b.Options, key) {
					continue
				}
				rank := distanceFromDefaults(a)
				if !maxRate(a) {
					rank += 1000 // a maximum-rate pair is the headline
				}
				if a.Options["flushDiskType"] != "ASYNC_FLUSH" {
					rank += 100
				}
				if rank < best {
					bi, bj, best = i, j, rank
				}
			}
		}
		return bi, bj
	}
	cpuGB := func(i int) float64 {
		return medianOf(results[i].Runs, func(r *reports.Run) float64 { return r.CPUPerGBUs })
	}
	if i, j := pair("transferMsgByHeap", "false", "true", false); i >= 0 {
		ratio("sendfile / copy, broker CPU per GB", "cpuPerGBUs", i, j, cpuGB, targetSendfileOverCopy, false)
	}
	if i, j := pair("commitLogWritePath", "mmap", "pwrite", true); i >= 0 {
		ratio("pwrite / mmap, throughput", "throughputMsgs", j, i, tput, 0, true)
	}
	return out
}

// finite is v, or 0 for NaN and infinities.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func targetText(v float64, atLeast bool) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if atLeast {
		return "≥ " + s
	}
	return "≤ " + s
}

func meets(r, target float64, atLeast bool) bool {
	if math.IsNaN(r) {
		return false
	}
	if atLeast {
		return r >= target
	}
	return r <= target
}

// medianOf is the median of a figure over runs, leaving out runs where it
// is zero (not measured).
func medianOf(runs []reports.Run, get func(*reports.Run) float64) float64 {
	var vals []float64
	for i := range runs {
		if v := get(&runs[i]); v != 0 && !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	return median(vals)
}

// distanceFromDefaults counts how far a Thrust configuration is from the
// plain one: mmap writes, sendfile pulls, nothing else set.
func distanceFromDefaults(c Config) int {
	d := 0
	for k, v := range c.Options {
		switch k {
		case "flushDiskType":
		case "commitLogWritePath":
			if v != "mmap" {
				d++
			}
		case "transferMsgByHeap":
			if v != "false" {
				d++
			}
		default:
			d++
		}
	}
	return d
}

// sameExcept reports whether a and b hold the same options apart from key.
func sameExcept(a, b map[string]string, key string) bool {
	for k, v := range a {
		if k != key && b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if k != key && a[k] != v {
			return false
		}
	}
	return true
}
