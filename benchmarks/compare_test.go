package benchmarks

import (
	"math"
	"strings"
	"testing"

	"github.com/thrustmq/thrust/reports"
)

func runsOf(tput, p99, cpuGB float64) []reports.Run {
	return []reports.Run{
		{ThroughputMsgs: tput * 0.9, Latency: reports.Latency{P99: p99 * 2}, CPUPerGBUs: cpuGB},
		{ThroughputMsgs: tput, Latency: reports.Latency{P99: p99}, CPUPerGBUs: cpuGB},
		{ThroughputMsgs: tput * 1.1, Latency: reports.Latency{P99: p99 / 2}, CPUPerGBUs: cpuGB},
	}
}

func TestCompare(t *testing.T) {
	w, err := ParseWorkloadBytes([]byte(`
configs:
  - name: sync-pwrite
    options: {flushDiskType: SYNC_FLUSH, commitLogWritePath: pwrite}
  - name: sync
    options: {flushDiskType: SYNC_FLUSH}
  - name: async
    options: {flushDiskType: ASYNC_FLUSH}
  - name: async-copy
    options: {transferMsgByHeap: true}
  - name: async-pwrite
    options: {commitLogWritePath: pwrite}
  - name: sync-4000
    options: {flushDiskType: SYNC_FLUSH}
    producerRate: 4000
  - name: js-always
    system: jetstream
    options: {sync_interval: always}
  - name: js-default
    system: jetstream
`))
	if err != nil {
		t.Fatal(err)
	}
	cfgs, _ := w.Expand()
	res := make([]reports.Config, len(cfgs))
	figures := map[string][3]float64{
		"sync-pwrite": {500, 0, 0}, "sync": {30000, 0, 0}, "async": {40000, 0, 4e6}, "async-copy": {38000, 0, 5e6},
		"async-pwrite": {36000, 0, 0}, "sync-4000": {4000, 1500, 0}, "js-always": {2000, 0, 0}, "js-default": {50000, 0, 0},
	}
	for i, c := range cfgs {
		f := figures[c.Name]
		res[i] = reports.Config{Name: c.Name, Runs: runsOf(f[0], f[1], f[2])}
	}
	got := map[string]reports.Comparison{}
	for _, c := range Compare(cfgs, res) {
		got[c.Name] = c
	}
	check := func(prefix, num, den string, ratio float64, met bool) {
		t.Helper()
		for name, c := range got {
			if strings.HasPrefix(name, prefix) {
				if c.Numerator != num || c.Denominator != den || math.Abs(c.Ratio-ratio) > 1e-9 || c.Met != met {
					t.Errorf("%s: %s / %s = %v met %v; want %s / %s = %v met %v", name, c.Numerator, c.Denominator, c.Ratio, c.Met, num, den, ratio, met)
				}
				return
			}
		}
		t.Errorf("no comparison %q in %v", prefix, got)
	}
	check("Thrust SYNC_FLUSH / JetStream always", "sync", "js-always", 15, true)
	check("Thrust SYNC_FLUSH / Thrust ASYNC_FLUSH", "sync", "async", 0.75, true)
	check("Thrust ASYNC_FLUSH / JetStream default", "async", "js-default", 0.8, false)
	check("p99 at 4000 msg/s", "sync-4000", "2.00ms bound", 0.75, true)
	check("sendfile / copy", "async", "async-copy", 0.8, false)
	check("pwrite / mmap", "async-pwrite", "async", 0.9, false)
	if c := got["Thrust SYNC_FLUSH / JetStream always"]; c.Target != "≥ 10" || c.NumeratorValue != 30000 || c.DenominatorValue != 2000 {
		t.Errorf("values: %+v", c)
	}

	// Without peers, their ratios are left out.
	var thrustOnly []Config
	var thrustRes []reports.Config
	for i, c := range cfgs {
		if c.System == SystemThrust {
			thrustOnly, thrustRes = append(thrustOnly, c), append(thrustRes, res[i])
		}
	}
	for _, c := range Compare(thrustOnly, thrustRes) {
		if strings.Contains(c.Name, "JetStream") {
			t.Errorf("comparison %q without JetStream rows", c.Name)
		}
	}
}
