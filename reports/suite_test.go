package reports

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// testSuite builds a representative suite: Thrust under SYNC_FLUSH and
// ASYNC_FLUSH, mmap and pwrite, sendfile and copy, against JetStream with
// sync always and default, three interleaved repetitions each. The figures
// are closed-form, not random, so the golden files stay put.
//
// With reversed, every map is filled in the opposite order and every
// configuration's runs are listed backwards: the rendering must not change.
func testSuite(reversed bool) *Suite {
	type spec struct {
		name, system string
		opts         [][2]string
		msgs         float64 // msg/s of repetition 1
		p50, p99     float64 // µs
		cpuMsg       float64 // µs
		cpuGB        float64 // µs
		errors       map[string]int64
		counters     bool
	}
	thrust := func(flush, write, heap string) [][2]string {
		return [][2]string{
			{"flushDiskType", flush},
			{"commitLogWritePath", write},
			{"transferMsgByHeap", heap},
			{"mappedFileSizeCommitLog", "1073741824"},
		}
	}
	specs := []spec{
		{"thrust sync mmap sendfile", "thrust", thrust("SYNC_FLUSH", "mmap", "false"), 84210, 410, 1210, 11.8, 5.9e6, nil, true},
		{"thrust async mmap sendfile", "thrust", thrust("ASYNC_FLUSH", "mmap", "false"), 112400, 180, 640, 8.2, 4.1e6, nil, true},
		{"thrust sync pwrite sendfile", "thrust", thrust("SYNC_FLUSH", "pwrite", "false"), 79020, 450, 1380, 12.9, 6.4e6, nil, true},
		{"thrust async mmap copy", "thrust", thrust("ASYNC_FLUSH", "mmap", "true"), 104900, 200, 720, 10.6, 9.5e6, map[string]int64{"SYSTEM_BUSY": 3}, true},
		{"jetstream always", "jetstream", [][2]string{{"sync_interval", "always"}, {"storage", "file"}}, 6120, 2900, 9800, 61, 3.1e7, map[string]int64{"timeout": 12, "nats: no responders": 1}, false},
		{"jetstream default", "jetstream", [][2]string{{"sync_interval", "2m"}, {"storage", "file"}}, 95300, 240, 1900, 14.1, 7.2e6, nil, false},
	}
	const reps = 3
	const seconds = 20
	s := &Suite{
		Name: "thrust-vs-jetstream-1k",
		Workload: Workload{
			File: "workloads/bench/1k-max.yaml", Topics: 4, QueuesPerTopic: 8, MessageSize: 1024,
			Producers: 16, ProducerRate: 0, Consumers: 16, DurationSeconds: seconds, WarmupSeconds: 5,
			KeyDistribution: "uniform", InFlight: 64, Repetitions: reps,
		},
		Environment: Environment{
			CPU: "AMD EPYC 7B13 64-Core Processor", Cores: 8, MemoryGiB: 32,
			Kernel: "Linux 6.8.0-1019-gcp x86_64", Disk: "nvme0n1 Google PersistentDisk (pd-ssd), ext4",
			GoVersion: "go1.26.8", Commit: "db84a0c",
		},
		Started:  time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
		Finished: time.Date(2026, 3, 14, 9, 41, 11, 0, time.UTC),
		Notes: []string{
			"Peers ran in their release builds with the settings shown; JetStream's sync_interval=always is its closest match to SYNC_FLUSH.",
			"The page cache was dropped before each run.",
		},
	}
	for ci, sp := range specs {
		c := Config{Name: sp.name, System: sp.system, Options: map[string]string{}}
		opts := slices.Clone(sp.opts)
		if reversed {
			slices.Reverse(opts)
		}
		for _, o := range opts {
			c.Options[o[0]] = o[1]
		}
		for rep := 1; rep <= reps; rep++ {
			// Repetitions differ by a few per cent, in a fixed pattern.
			f := 1 + 0.03*float64((rep*7+ci*3)%5-2)/2
			msgs := sp.msgs * f
			dur := float64(seconds)
			acked := int64(math.Round(msgs * dur))
			r := Run{
				Repetition: rep, Order: (rep-1)*len(specs) + ci, DurationSeconds: dur,
				TargetRate: msgs * 1.02,
				Sent:       acked + int64(ci), Acked: acked, Received: acked - int64(rep),
				ThroughputMsgs: msgs, ThroughputBytes: msgs * 1024,
				Latency:          latency(acked, sp.p50/f, sp.p99/f, true),
				Uncorrected:      latency(acked, sp.p50/f*0.9, sp.p99/f*0.6, false),
				SenderLag:        latency(acked, 3, sp.p99/f*0.3, false),
				EndToEnd:         latency(acked, sp.p50/f*1.8, sp.p99/f*1.5, false),
				BrokerCPUSeconds: sp.cpuMsg * f * float64(acked) / 1e6,
				BrokerMaxRSS:     int64(180+ci*40+rep) << 20,
				CPUPerMessageUs:  sp.cpuMsg * f,
				CPUPerGBUs:       sp.cpuGB * f,
			}
			for t := 0; t < seconds; t++ {
				// A gentle wave, and in repetition 2 of the SYNC_FLUSH
				// configurations a one-second stall at t=11.
				w := 1 + 0.04*math.Sin(float64(t+ci)/2)
				a := int64(msgs * w)
				p99 := sp.p99 / f * (1 + 0.15*math.Cos(float64(t*3+ci)/4))
				if rep == 2 && t == 11 && sp.opts[0][1] == "SYNC_FLUSH" {
					a, p99 = 0, 0
				}
				r.Series = append(r.Series, Second{
					T: t, Sent: a + 3, Acked: a, Received: a - 1,
					P50Us: sp.p50 / f, P99Us: p99, MaxUs: p99 * 3,
				})
			}
			if sp.errors != nil && rep != 1 {
				r.Errors = map[string]int64{}
				keys := []string{}
				for k := range sp.errors {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if reversed {
					slices.Reverse(keys)
				}
				for _, k := range keys {
					r.Errors[k] = sp.errors[k] * int64(rep-1)
				}
			}
			if sp.counters {
				kvs := [][2]string{
					{"commitLogSyncs", strconv.FormatInt(acked/37, 10)},
					{"sendFileBytes", strconv.FormatInt(acked*1024, 10)},
					{"putMessageEntireTimeMax", strconv.FormatInt(int64(sp.p99*3/1000), 10)},
				}
				if reversed {
					slices.Reverse(kvs)
				}
				r.Counters = map[string]string{}
				for _, kv := range kvs {
					r.Counters[kv[0]] = kv[1]
				}
			}
			c.Runs = append(c.Runs, r)
		}
		if reversed {
			slices.Reverse(c.Runs)
		}
		s.Configs = append(s.Configs, c)
	}
	for _, sp := range specs {
		s.Thresholds = append(s.Thresholds, Threshold{Expr: "p99 < 5ms", Config: sp.name, Value: fmtUs(sp.p99), OK: sp.p99 < 5000})
	}
	s.Thresholds = append(s.Thresholds,
		Threshold{Expr: "errors == 0", Config: "thrust async mmap copy", Value: "9", OK: false},
		Threshold{Expr: "duration >= 20s", Value: "20s", OK: true},
	)
	s.Comparisons = []Comparison{
		{Name: "Thrust SYNC_FLUSH / JetStream always", Metric: MetricThroughputMsgs,
			Numerator: "thrust sync mmap sendfile", Denominator: "jetstream always", Ratio: 13.76, Target: "≥ 10×", Met: true},
		{Name: "Thrust ASYNC_FLUSH / JetStream default", Metric: MetricThroughputMsgs,
			Numerator: "thrust async mmap sendfile", Denominator: "jetstream default", Ratio: 1.179, Target: "≥ 1×", Met: true},
		{Name: "Thrust SYNC_FLUSH / Thrust ASYNC_FLUSH", Metric: MetricThroughputMsgs,
			Numerator: "thrust sync mmap sendfile", Denominator: "thrust async mmap sendfile", Ratio: 0.7492, Target: "≥ 0.7×", Met: true},
		{Name: "sendfile / copy, CPU per GB", Metric: MetricCPUPerGBUs,
			Numerator: "thrust async mmap sendfile", Denominator: "thrust async mmap copy", Ratio: 0.4316, Target: "≤ 0.5×", Met: true},
		{Name: "mmap / pwrite, p99", Metric: MetricP99Us,
			Numerator: "thrust sync mmap sendfile", Denominator: "thrust sync pwrite sendfile", Ratio: 0.8768},
	}
	return s
}

// latency builds a distribution with p50 and p99 as given, and with
// spectrum the percentile spectrum HdrHistogram would print: the
// remaining distance to 100 halved at each step, to 99.9999, then 100.
func latency(count int64, p50, p99 float64, spectrum bool) Latency {
	// Log-latency grows linearly with the nines, steeper past p99.
	at := func(p float64) float64 {
		x := nines(p)
		if p >= 100 {
			x = 6.5
		}
		k := math.Log(p99/p50) / (2 - nines(50))
		if x <= 2 {
			return p50 * math.Exp(k*(x-nines(50)))
		}
		return p99 * math.Exp(1.6*k*(x-2))
	}
	l := Latency{
		Count: count, P50: at(50), P90: at(90), P99: at(99), P999: at(99.9), Max: at(100),
		Mean: at(60),
	}
	if spectrum {
		for p := 0.0; p < 99.9999; p = 100 - (100-p)/2 {
			l.Spectrum = append(l.Spectrum, Point{p, math.Round(at(p)*10) / 10})
		}
		l.Spectrum = append(l.Spectrum, Point{100, math.Round(l.Max*10) / 10})
	}
	return l
}
