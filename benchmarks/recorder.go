package benchmarks

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/thrustmq/thrust/reports"
)

// Histogram ranges: microseconds from 1 to an hour, three significant
// digits for the run's distributions (0.1 % error), two for the
// per-second ones.
const (
	histMaxUs        = int64(time.Hour / time.Microsecond)
	histDigits       = 3
	secondHistDigits = 2
	// maxSeries bounds the per-second series.
	maxSeries = 24 * 3600
)

func newHist(digits int) *hdrhistogram.Histogram { return hdrhistogram.New(1, histMaxUs, digits) }

// micros converts a duration to whole microseconds for a histogram:
// at least 1, at most the histogram's range.
func micros(d time.Duration) int64 {
	us := (int64(d) + 999) / 1000
	return min(max(us, 1), histMaxUs)
}

// Recorder collects one run's measurements. Time is measured on the
// monotonic clock from the run's epoch. The run's totals and
// distributions count the messages whose intended time falls in the
// measured window [from, to), whatever their acknowledgement time; the
// per-second series counts events in the second they happened (sent at
// the actual send, acknowledged at the answer, received at consumption,
// errors at completion), with each second's latency percentiles over the
// messages intended in it; AckedInPeriod and the bytes CPU per GB divides
// by count what arrived during the window.
//
// Shards keep producers and consumers from contending: each has its own
// lock, taken once per completion.
type Recorder struct {
	epoch    time.Time
	from, to time.Duration

	mu     sync.Mutex
	shards []*shard
}

type shard struct {
	mu          sync.Mutex
	corrected   *hdrhistogram.Histogram
	uncorrected *hdrhistogram.Histogram
	lag         *hdrhistogram.Histogram
	e2e         *hdrhistogram.Histogram

	sent, acked, received, errCount int64
	sentBytes, ackedBytes, rcvBytes int64
	// By arrival time in the period, whatever the intended time: what the
	// system sustained while the broker's CPU was being measured.
	ackedInPeriod, ackedBytesInPeriod, rcvBytesInPeriod int64
	errors                                              map[string]int64
	seconds                                             []second
}

type second struct {
	sent, acked, received, errors int64
	hist                          *hdrhistogram.Histogram
}

// NewRecorder returns a recorder whose window is [from, to) after epoch.
func NewRecorder(epoch time.Time, from, to time.Duration) *Recorder {
	return &Recorder{epoch: epoch, from: from, to: to}
}

// Now is the time since the epoch.
func (r *Recorder) Now() time.Duration { return time.Since(r.epoch) }

// Epoch is the run's time origin.
func (r *Recorder) Epoch() time.Time { return r.epoch }

// Window is the measured window.
func (r *Recorder) Window() (from, to time.Duration) { return r.from, r.to }

func (r *Recorder) newShard() *shard {
	s := &shard{
		corrected:   newHist(histDigits),
		uncorrected: newHist(histDigits),
		lag:         newHist(histDigits),
		e2e:         newHist(histDigits),
		errors:      map[string]int64{},
	}
	r.mu.Lock()
	r.shards = append(r.shards, s)
	r.mu.Unlock()
	return s
}

// Shard is one producer's or consumer's part of a recorder. Its methods
// may be called from any goroutine.
type Shard struct {
	r *Recorder
	s *shard
}

// Shard adds a shard.
func (r *Recorder) Shard() *Shard { return &Shard{r: r, s: r.newShard()} }

func (r *Recorder) inWindow(t time.Duration) bool {
	return t >= r.from && t < r.to
}

func (s *shard) second(i int) *second {
	if i < 0 || i >= maxSeries {
		return nil
	}
	for len(s.seconds) <= i {
		s.seconds = append(s.seconds, second{})
	}
	return &s.seconds[i]
}

func (r *Recorder) secondOf(t time.Duration) int {
	return int((t - r.from) / time.Second)
}

// Sent records that a message intended at intended was handed over at
// sent, with size bytes of body.
func (sh *Shard) Sent(intended, sent time.Duration, size int) {
	r := sh.r
	if !r.inWindow(intended) {
		return
	}
	s := sh.s
	s.mu.Lock()
	s.sent++
	s.sentBytes += int64(size)
	if sec := s.second(r.secondOf(sent)); sec != nil {
		sec.sent++
	}
	s.lag.RecordValue(micros(sent - intended))
	s.mu.Unlock()
}

// Acked records a message acknowledged at ack: latency from its intended
// time (corrected for coordinated omission) and from its actual send.
func (sh *Shard) Acked(intended, sent, ack time.Duration, size int) {
	r := sh.r
	s := sh.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.inWindow(ack) {
		s.ackedInPeriod++
		s.ackedBytesInPeriod += int64(size)
		if sec := s.second(r.secondOf(ack)); sec != nil {
			sec.acked++
		}
	}
	if !r.inWindow(intended) {
		return
	}
	lat := micros(ack - intended)
	s.acked++
	s.ackedBytes += int64(size)
	s.corrected.RecordValue(lat)
	s.uncorrected.RecordValue(micros(ack - sent))
	if sec := s.second(r.secondOf(intended)); sec != nil {
		if sec.hist == nil {
			sec.hist = newHist(secondHistDigits)
		}
		sec.hist.RecordValue(lat)
	}
}

// Failed records a message that failed with code (a response code's name
// or an error kind).
func (sh *Shard) Failed(intended time.Duration, code string) {
	r := sh.r
	if !r.inWindow(intended) {
		return
	}
	s := sh.s
	s.mu.Lock()
	s.errCount++
	s.errors[code]++
	if sec := s.second(r.secondOf(r.Now())); sec != nil {
		sec.errors++
	}
	s.mu.Unlock()
}

// Received records a consumed message: end-to-end latency is the consume
// time minus the time the producer sent it (its born time).
func (sh *Shard) Received(intended, sent, now time.Duration, size int) {
	r := sh.r
	s := sh.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.inWindow(now) {
		s.rcvBytesInPeriod += int64(size)
		if sec := s.second(r.secondOf(now)); sec != nil {
			sec.received++
		}
	}
	if !r.inWindow(intended) {
		return
	}
	s.received++
	s.rcvBytes += int64(size)
	s.e2e.RecordValue(micros(now - sent))
}

// Counts are a recorder's totals so far.
type Counts struct {
	Sent, Acked, Received, Errors int64
}

// Counts sums the shards.
func (r *Recorder) Counts() Counts {
	var c Counts
	r.mu.Lock()
	shards := append([]*shard(nil), r.shards...)
	r.mu.Unlock()
	for _, s := range shards {
		s.mu.Lock()
		c.Sent += s.sent
		c.Acked += s.acked
		c.Received += s.received
		c.Errors += s.errCount
		s.mu.Unlock()
	}
	return c
}

// Result folds the shards into a run's figures (everything but the
// broker's resources and the schedule's settings).
func (r *Recorder) Result() reports.Run {
	r.mu.Lock()
	shards := append([]*shard(nil), r.shards...)
	r.mu.Unlock()
	corrected, uncorrected, lag, e2e := newHist(histDigits), newHist(histDigits), newHist(histDigits), newHist(histDigits)
	var run reports.Run
	var ackedBytes, rcvBytes int64
	errs := map[string]int64{}
	var secs []second
	for _, s := range shards {
		s.mu.Lock()
		corrected.Merge(s.corrected)
		uncorrected.Merge(s.uncorrected)
		lag.Merge(s.lag)
		e2e.Merge(s.e2e)
		run.Sent += s.sent
		run.Acked += s.acked
		run.Received += s.received
		run.AckedInPeriod += s.ackedInPeriod
		ackedBytes += s.ackedBytes
		rcvBytes += s.rcvBytes
		for k, v := range s.errors {
			errs[k] += v
		}
		for i, sec := range s.seconds {
			for len(secs) <= i {
				secs = append(secs, second{})
			}
			t := &secs[i]
			t.sent += sec.sent
			t.acked += sec.acked
			t.received += sec.received
			t.errors += sec.errors
			if sec.hist != nil {
				if t.hist == nil {
					t.hist = newHist(secondHistDigits)
				}
				t.hist.Merge(sec.hist)
			}
		}
		s.mu.Unlock()
	}
	if len(errs) > 0 {
		run.Errors = errs
	}
	dur := (r.to - r.from).Seconds()
	run.DurationSeconds = dur
	if dur > 0 {
		run.ThroughputMsgs = float64(run.Acked) / dur
		run.ThroughputBytes = float64(ackedBytes) / dur
	}
	run.Latency = LatencyOf(corrected)
	run.Uncorrected = LatencyOf(uncorrected)
	run.SenderLag = LatencyOf(lag)
	run.EndToEnd = LatencyOf(e2e)
	nsec := int(math.Ceil(dur - 1e-9))
	for i := 0; i < nsec && i < maxSeries; i++ {
		p := reports.Second{T: i}
		if i < len(secs) {
			t := secs[i]
			p.Sent, p.Acked, p.Received, p.Errors = t.sent, t.acked, t.received, t.errors
			if t.hist != nil {
				p.P50Us = float64(t.hist.ValueAtQuantile(50))
				p.P99Us = float64(t.hist.ValueAtQuantile(99))
				p.MaxUs = float64(t.hist.Max())
			}
		}
		run.Series = append(run.Series, p)
	}
	return run
}

// Bytes sums the body bytes acknowledged and received (of messages in
// the window).
func (r *Recorder) Bytes() (acked, received int64) {
	r.mu.Lock()
	shards := append([]*shard(nil), r.shards...)
	r.mu.Unlock()
	for _, s := range shards {
		s.mu.Lock()
		acked += s.ackedBytes
		received += s.rcvBytes
		s.mu.Unlock()
	}
	return acked, received
}

// BytesMovedInPeriod is the body bytes acknowledged plus those consumed
// during the measured period: what CPU per GB divides by.
func (r *Recorder) BytesMovedInPeriod() int64 {
	r.mu.Lock()
	shards := append([]*shard(nil), r.shards...)
	r.mu.Unlock()
	var n int64
	for _, s := range shards {
		s.mu.Lock()
		n += s.ackedBytesInPeriod + s.rcvBytesInPeriod
		s.mu.Unlock()
	}
	return n
}

// spectrumPercentiles are 0, 50, 75, 87.5, ... halving the distance to
// 100 until 99.9999.
var spectrumPercentiles = func() []float64 {
	var ps []float64
	for i := 0; ; i++ {
		p := 100 - 100/math.Pow(2, float64(i))
		if p > 99.9999 {
			break
		}
		ps = append(ps, p)
	}
	return ps
}()

// LatencyOf summarizes a histogram of microseconds.
func LatencyOf(h *hdrhistogram.Histogram) reports.Latency {
	n := h.TotalCount()
	if n == 0 {
		return reports.Latency{}
	}
	l := reports.Latency{
		Count: n,
		P50:   float64(h.ValueAtQuantile(50)),
		P90:   float64(h.ValueAtQuantile(90)),
		P99:   float64(h.ValueAtQuantile(99)),
		P999:  float64(h.ValueAtQuantile(99.9)),
		Max:   float64(h.Max()),
		Mean:  h.Mean(),
	}
	for _, p := range spectrumPercentiles {
		l.Spectrum = append(l.Spectrum, reports.Point{Percentile: p, ValueUs: float64(h.ValueAtQuantile(p))})
		// Past the point where one sample is more than the remaining
		// fraction, every further percentile is the maximum.
		if (100-p)/100*float64(n) < 1 {
			break
		}
	}
	l.Spectrum = append(l.Spectrum, reports.Point{Percentile: 100, ValueUs: l.Max})
	sort.SliceStable(l.Spectrum, func(i, j int) bool { return l.Spectrum[i].Percentile < l.Spectrum[j].Percentile })
	return l
}
