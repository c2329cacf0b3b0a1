package store

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/thrustmq/thrust/broker/host/oshost"
)

// The benchmarks run the store on a real loop over a temporary directory,
// so they measure this machine's page cache, mmap and fdatasync. They print
// msg/s and bytes/s (b.ReportMetric); compare configurations within one run
// (benchstat), never against a fixed number: the machines are shared.

func benchStore(b *testing.B, mutate func(*Config)) (*oshost.Loop, *Store) {
	loop := oshost.NewLoop()
	go loop.Run()
	b.Cleanup(func() { loop.Stop(); <-loop.Done() })
	env := oshost.NewEnv(loop, oshost.Options{Seed: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := DefaultConfig(b.TempDir())
	cfg.MappedFileSizeCommitLog = 256 << 20
	if mutate != nil {
		mutate(&cfg)
	}
	var s *Store
	var err error
	loop.Do(func() { s, err = Open(env, cfg) })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { loop.Do(func() { s.Close() }) })
	return loop, s
}

// BenchmarkPut appends 1 KiB messages with many puts in flight, the way a
// broker sees many producers: under SYNC_FLUSH, group commit is what makes
// this fast, and the figure shows how well it works.
func BenchmarkPut(b *testing.B) {
	for _, mode := range []FlushDiskType{AsyncFlush, SyncFlush} {
		for _, path := range []WritePath{WriteMmap, WritePwrite} {
			b.Run(fmt.Sprintf("%s/%s", mode, path), func(b *testing.B) {
				loop, s := benchStore(b, func(c *Config) { c.FlushDiskType = mode; c.WritePath = path })
				body := make([]byte, 1024)
				const inFlight = 256
				done := make(chan struct{}, inFlight)
				m := msg("BenchTopic", 0, string(body), "TAGS", "t")
				b.SetBytes(int64(len(body)))
				b.ResetTimer()
				sent := 0
				for sent < b.N {
					n := min(inFlight, b.N-sent)
					loop.Post(func() {
						for i := range n {
							mm := m
							mm.QueueID = int32(i % 8)
							s.Put([]Message{mm}, func(r PutResult) {
								if r.Status != PutOK {
									panic(r.Err)
								}
								done <- struct{}{}
							})
						}
					})
					for range n {
						<-done
					}
					sent += n
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
				var st Stats
				loop.Do(func() { st = s.Stats() })
				if st.CommitLogSyncs > 0 {
					b.ReportMetric(float64(st.PutMessages)/float64(st.CommitLogSyncs), "msgs/sync")
				}
			})
		}
	}
}

// BenchmarkGet reads 1 KiB messages back in pulls of 32, through the
// consume queue, as PULL_MESSAGE does (without the network).
func BenchmarkGet(b *testing.B) {
	loop, s := benchStore(b, nil)
	body := make([]byte, 1024)
	const total = 50000
	done := make(chan struct{})
	loop.Post(func() {
		for i := range total {
			s.Put([]Message{msg("BenchTopic", 0, string(body))}, func(r PutResult) {
				if i == total-1 {
					close(done)
				}
			})
		}
	})
	<-done
	b.SetBytes(32 * 1024)
	b.ResetTimer()
	got := 0
	loop.Do(func() {
		off := int64(0)
		for i := 0; i < b.N; i++ {
			res := s.GetMessage("BenchTopic", 0, off, 32, nil)
			got += res.MsgCount
			off = res.NextBeginOffset
			if off >= total {
				off = 0
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "msg/s")
}
