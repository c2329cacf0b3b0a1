package benchmarks

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWorkloadDefaults(t *testing.T) {
	w, err := ParseWorkloadBytes([]byte("name: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Workload{Name: "x", Topics: 1, QueuesPerTopic: 8, MessageSize: 1024, Producers: 1, Consumers: 1,
		SubscriptionsPerTopic: 1, DurationSeconds: 60, KeyDistribution: KeyNone, InFlight: 256, BatchSize: 1, Repetitions: 3}
	got := *w
	got.MaxRate = MaxRate{}
	if got.Name != want.Name || got.Topics != want.Topics || got.QueuesPerTopic != want.QueuesPerTopic ||
		got.MessageSize != want.MessageSize || got.Producers != want.Producers || got.Consumers != want.Consumers ||
		got.SubscriptionsPerTopic != want.SubscriptionsPerTopic || got.DurationSeconds != want.DurationSeconds ||
		got.KeyDistribution != want.KeyDistribution || got.InFlight != want.InFlight || got.BatchSize != want.BatchSize ||
		got.Repetitions != want.Repetitions || got.ProducerRate != 0 || got.WarmupSeconds != 0 {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if w.MaxRate.ProbeSeconds != 5 || w.MaxRate.Fraction != 0.9 || w.MaxRate.StepsDown() != 2 {
		t.Errorf("maxRate defaults: %+v steps %d", w.MaxRate, w.MaxRate.StepsDown())
	}
	cs, err := w.Expand()
	if err != nil || len(cs) != 1 {
		t.Fatalf("expand: %v %v", cs, err)
	}
	if c := cs[0]; c.Name != "thrust async mmap sendfile" || c.System != SystemThrust || c.Options["flushDiskType"] != "ASYNC_FLUSH" {
		t.Errorf("default configuration: %+v", c)
	}
}

func TestWorkloadOMBNames(t *testing.T) {
	w, err := ParseWorkloadBytes([]byte(`
topics: 2
partitionsPerTopic: 16
producersPerTopic: 3
consumerPerSubscription: 2
testDurationMinutes: 2
warmupDurationMinutes: 0.5
`))
	if err != nil {
		t.Fatal(err)
	}
	if w.QueuesPerTopic != 16 || w.Producers != 6 || w.Consumers != 2 || w.DurationSeconds != 120 || w.WarmupSeconds != 30 {
		t.Errorf("OMB names not converted: %+v", w)
	}
	if _, err := ParseWorkloadBytes([]byte("queuesPerTopic: 4\npartitionsPerTopic: 8\n")); err == nil || !strings.Contains(err.Error(), "both queuesPerTopic and partitionsPerTopic") {
		t.Errorf("both spellings: %v", err)
	}
}

func TestWorkloadMatrixExpansion(t *testing.T) {
	w, err := ParseWorkloadBytes([]byte(`
producerRate: 1000
thrustOptions: {mappedFileSizeCommitLog: 268435456}
matrix:
  flushDiskType: [SYNC_FLUSH, ASYNC_FLUSH]
  transferMsgByHeap: [false, true]
configs:
  - name: js
    system: jetstream
    options: {sync_interval: always}
  - options: {flushDiskType: SYNC_FLUSH, batchSize: 16}
    producerRate: 4000
`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := w.Expand()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	want := []string{
		"thrust sync mmap sendfile mappedFileSizeCommitLog=268435456 @1000",
		"thrust sync mmap copy mappedFileSizeCommitLog=268435456 @1000",
		"thrust async mmap sendfile mappedFileSizeCommitLog=268435456 @1000",
		"thrust async mmap copy mappedFileSizeCommitLog=268435456 @1000",
		"js",
		"thrust sync mmap sendfile batchSize=16 mappedFileSizeCommitLog=268435456 @4000",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("names:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	last := cs[5]
	if last.BatchSize != 16 || last.ProducerRate != 4000 {
		t.Errorf("overrides: %+v", last)
	}
	if conf := last.BrokerConf(); conf != "commitLogWritePath=mmap\nflushDiskType=SYNC_FLUSH\nmappedFileSizeCommitLog=268435456\ntransferMsgByHeap=false\n" {
		t.Errorf("broker.conf:\n%s", conf)
	}
	if js := cs[4]; js.System != SystemJetStream || js.Options["sync_interval"] != "always" || len(js.Options) != 1 {
		t.Errorf("jetstream: %+v", js)
	}
}

func TestWorkloadStages(t *testing.T) {
	w, err := ParseWorkloadBytes([]byte(`
warmupSeconds: 1
startRate: 100
stages:
  - {duration: 10s, target: 2000}
  - {duration: 1m, target: 2000}
  - {duration: 5, target: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Stages) != 3 || w.Stages[1].Duration != time.Minute || w.Stages[2].Duration != 5*time.Second || w.DurationSeconds != 75 {
		t.Errorf("stages: %+v, duration %v", w.Stages, w.DurationSeconds)
	}
}

func TestWorkloadErrors(t *testing.T) {
	for _, tc := range []struct {
		yaml, want string
	}{
		{"", "empty workload"},
		{"topicz: 3\n", "field topicz not found"},
		{"topics: [1]\n", "cannot unmarshal"},
		{"messageSize: 8\n", "messageSize must be in 16.."},
		{"producers: 0\nproducerRate: -5\n", "producerRate must be 0"},
		{"keyDistribution: ZIPF\n", `keyDistribution "ZIPF"`},
		{"inFlight: 100000\n", "inFlight must be in 1..16384"},
		{"durationSeconds: -1\n", "durationSeconds must be in"},
		{"producerRate: 5\nstages: [{duration: 1s, target: 5}]\n", "stages and producerRate are exclusive"},
		{"stages: [{duration: soon, target: 5}]\n", "stage duration"},
		{"thresholds: [\"p99 <\"]\n", "threshold"},
		{"thresholds: [\"p42 < 5ms\"]\n", "unknown metric"},
		{"configs: [{options: {flushDiskType: SOMETIMES}}]\n", "flushDiskType=\"SOMETIMES\" is none of SYNC_FLUSH, ASYNC_FLUSH"},
		{"configs: [{options: {listenPort: 1}}]\n", `option "listenPort" is not a tuning option`},
		{"configs: [{system: kafka}]\n", `system "kafka"`},
		{"configs: [{system: jetstream, options: {sync_interval: often}}]\n", "sync_interval"},
		{"configs: [{name: a}, {name: a}]\n", `name "a" is used twice`},
		{"matrix: {flushDiskType: []}\n", "lists no values"},
		{"producerRate: 1e9\ndurationSeconds: 86400\n", "messages"},
	} {
		_, err := ParseWorkloadBytes([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestPresetsParse(t *testing.T) {
	files, _ := filepath.Glob("workloads/*.yaml")
	if len(files) < 3 {
		t.Fatalf("presets: %v", files)
	}
	for _, f := range files {
		w, err := ParseWorkload(f)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := w.Expand()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(f, "quick.yaml") && !strings.HasSuffix(f, "full.yaml") {
			continue
		}
		seen := map[string]bool{}
		for _, c := range cs {
			for k, v := range c.Options {
				seen[k+"="+v] = true
			}
		}
		for _, axis := range []string{"flushDiskType=SYNC_FLUSH", "flushDiskType=ASYNC_FLUSH", "commitLogWritePath=mmap",
			"commitLogWritePath=pwrite", "transferMsgByHeap=true", "transferMsgByHeap=false", "sync_interval=always", "sync_interval=default"} {
			if !seen[axis] {
				t.Errorf("%s: no configuration with %s", f, axis)
			}
		}
	}
}
