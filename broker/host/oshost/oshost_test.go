package oshost

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pingcap/failpoint"

	"github.com/thrustmq/thrust/broker/host"
)

func runLoop(t *testing.T) (*Loop, host.Env) {
	t.Helper()
	l := NewLoop()
	go l.Run()
	t.Cleanup(func() { l.Stop(); <-l.Done() })
	return l, NewEnv(l, Options{Seed: 1})
}

func TestLoopRunsPostsInOrder(t *testing.T) {
	l, _ := runLoop(t)
	var got []int
	for i := range 1000 {
		l.Post(func() { got = append(got, i) })
	}
	l.Do(func() {})
	for i, v := range got {
		if v != i {
			t.Fatalf("post %d ran as %d", i, v)
		}
	}
	if len(got) != 1000 {
		t.Fatalf("ran %d posts, want 1000", len(got))
	}
}

func TestTimerStopOnLoopPreventsRun(t *testing.T) {
	l, env := runLoop(t)
	fired := make(chan string, 4)
	l.Do(func() {
		t1 := env.Clock.AfterFunc(time.Millisecond, func() { fired <- "stopped timer ran" })
		env.Clock.AfterFunc(20*time.Millisecond, func() { fired <- "second" })
		// Stop after the real timer has had every chance to fire and post.
		time.Sleep(10 * time.Millisecond)
		if !t1.Stop() {
			fired <- "Stop reported the timer as already run"
		}
	})
	if got := <-fired; got != "second" {
		t.Fatal(got)
	}
}

func TestMappedFileSyncAndReopen(t *testing.T) {
	l, env := runLoop(t)
	name := filepath.Join(t.TempDir(), "00000000000000000000")
	before := Counters().MappedFiles.Load()
	var err error
	l.Do(func() {
		var f host.File
		if f, err = env.FS.Create(name); err != nil {
			return
		}
		if err = f.(host.Preallocator).Preallocate(1 << 20); err != nil {
			return
		}
		var view []byte
		if view, err = f.(host.Mapper).Map(1 << 20); err != nil {
			return
		}
		copy(view[4096:], "through the mapping")
		if _, err = f.WriteAt([]byte("through pwrite"), 0); err != nil {
			return
		}
		if err = f.Sync(); err != nil {
			return
		}
		err = f.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if Counters().MappedFiles.Load() == before {
		t.Fatal("Map did not count a mapping")
	}
	l.Do(func() {
		var f host.File
		if f, err = env.FS.Open(name); err != nil {
			return
		}
		defer f.Close()
		buf := make([]byte, 19)
		if _, err = f.ReadAt(buf, 4096); err != nil {
			return
		}
		if string(buf) != "through the mapping" {
			err = fmt.Errorf("mapped bytes read back as %q", buf)
		}
		var size int64
		if size, err = f.Size(); err == nil && size != 1<<20 {
			err = fmt.Errorf("size %d after preallocate", size)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFSErrors(t *testing.T) {
	l, env := runLoop(t)
	dir := t.TempDir()
	l.Do(func() {
		if _, err := env.FS.Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open missing: %v", err)
		}
		locker := env.FS.(host.Locker)
		c, err := locker.Lock(filepath.Join(dir, "lock"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := locker.Lock(filepath.Join(dir, "lock")); err == nil {
			t.Error("a second lock on one file succeeded")
		}
		c.Close()
		u, err := env.FS.(host.DiskUsager).DiskUsage(dir)
		if err != nil || u.Total == 0 || u.Free > u.Total {
			t.Errorf("disk usage %+v, %v", u, err)
		}
	})
}

// lenFramer frames as 4-byte big-endian length + payload.
type lenFramer struct{}

func (lenFramer) FrameLen(p []byte) (int, error) {
	if len(p) < 4 {
		return 0, nil
	}
	n := int(binary.BigEndian.Uint32(p))
	if n > 1<<20 {
		return 0, fmt.Errorf("frame of %d bytes", n)
	}
	return 4 + n, nil
}
func (lenFramer) Decode(frame []byte) any { return string(frame[4:]) }

type recorder struct {
	opened chan host.Conn
	msgs   chan string
	closed chan error
}

func newRecorder() *recorder {
	return &recorder{opened: make(chan host.Conn, 4), msgs: make(chan string, 1024), closed: make(chan error, 4)}
}
func (r *recorder) OnOpen(c host.Conn)             { r.opened <- c }
func (r *recorder) OnMessage(c host.Conn, m any)   { r.msgs <- m.(string) }
func (r *recorder) OnClose(c host.Conn, err error) { r.closed <- err }
func frame(s string) []byte                        { return binary.BigEndian.AppendUint32(nil, uint32(len(s))) }

func TestConnWritesAndSendFileInOrder(t *testing.T) {
	l, env := runLoop(t)
	srv := newRecorder()
	var ln host.Listener
	var err error
	l.Do(func() { ln, err = env.Net.Listen("127.0.0.1:0", lenFramer{}, srv) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// A file whose bytes go out with sendfile between two ordinary writes.
	name := filepath.Join(t.TempDir(), "seg")
	payload := bytes.Repeat([]byte("0123456789"), 1000)
	var f host.File
	l.Do(func() {
		f, err = env.FS.Create(name)
		if err == nil {
			_, err = f.WriteAt(payload, 100)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := newRecorder()
	before := Counters().SendFileBytes.Load()
	l.Do(func() {
		c := env.Net.Dial(ln.Addr(), lenFramer{}, cli)
		c.Write(append(frame("hello"), "hello"...))
		c.Write(frame(string(payload)))
		if err = c.(host.FileSender).SendFile(f, 100, len(payload)); err != nil {
			return
		}
		f.Close() // the pending send keeps the file open
		c.Write(append(frame("bye"), "bye"...))
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"hello", string(payload), "bye"} {
		select {
		case got := <-srv.msgs:
			if got != want {
				t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(want))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
	if got := Counters().SendFileBytes.Load() - before; got < uint64(len(payload)) {
		t.Fatalf("sendfile moved %d bytes, want at least %d", got, len(payload))
	}
	// The server closes; the client hears of it.
	c := <-srv.opened
	l.Do(c.Close)
	select {
	case err := <-srv.closed:
		if err != nil {
			t.Fatalf("local close reported %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server OnClose missing")
	}
	select {
	case err := <-cli.closed:
		if err == nil {
			t.Fatal("peer close reported as local")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client OnClose missing")
	}
}

// TestSendFileShortRangesGoFromTheMapping sends ranges of a mapped file:
// ranges under sendFileMinBytes leave in the writer's writev straight from
// the mapping, longer ones with sendfile(2). The owner closes the file at
// once; the pending sends keep the mapping alive, and the bytes arrive
// whole and in order either way.
func TestSendFileShortRangesGoFromTheMapping(t *testing.T) {
	l, env := runLoop(t)
	srv := newRecorder()
	var ln host.Listener
	var err error
	l.Do(func() { ln, err = env.Net.Listen("127.0.0.1:0", lenFramer{}, srv) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	const size = 256 << 10
	var f host.File
	l.Do(func() {
		f, err = env.FS.Create(filepath.Join(t.TempDir(), "seg"))
		if err != nil {
			return
		}
		if err = f.Truncate(size); err != nil {
			return
		}
		var view []byte
		if view, err = f.(host.Mapper).Map(size); err == nil {
			for i := range view {
				view[i] = byte(i * 7 / 3)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i * 7 / 3)
	}
	type rng struct{ off, n int }
	ranges := []rng{{100, 900}, {5000, 1}, {70000, sendFileMinBytes + 5}, {9000, 4096}, {200000, 40000}}
	var want []byte
	for _, r := range ranges {
		want = append(want, content[r.off:r.off+r.n]...)
	}
	mappedBefore, sentBefore := Counters().MappedSendBytes.Load(), Counters().SendFileBytes.Load()
	l.Do(func() {
		c := env.Net.Dial(ln.Addr(), lenFramer{}, newRecorder())
		c.Write(frame(string(want)))
		for _, r := range ranges {
			if err = c.(host.FileSender).SendFile(f, int64(r.off), r.n); err != nil {
				return
			}
		}
		f.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-srv.msgs:
		if got != string(want) {
			t.Fatalf("got %d bytes, want %d (or they differ)", len(got), len(want))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the frame did not arrive")
	}
	// The writer counts after its syscall returns, which may be after the
	// peer has read the bytes: wait for the counters to settle.
	short, long := uint64(900+1+4096), uint64(sendFileMinBytes+5+40000)
	var mapped, sent uint64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mapped = Counters().MappedSendBytes.Load() - mappedBefore
		sent = Counters().SendFileBytes.Load() - sentBefore
		if mapped >= short && sent >= long {
			break
		}
	}
	if mapped != short {
		t.Errorf("%d bytes went from the mapping, want the %d of the short ranges", mapped, short)
	}
	if sent != long {
		t.Errorf("sendfile moved %d bytes, want the %d of the long ranges", sent, long)
	}
}

func TestDialFailureReportsClose(t *testing.T) {
	l, env := runLoop(t)
	cli := newRecorder()
	l.Do(func() { env.Net.Dial("127.0.0.1:1", lenFramer{}, cli) })
	select {
	case err := <-cli.closed:
		if err == nil {
			t.Fatal("failed dial closed with nil error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose for a refused dial")
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	l, env := runLoop(t)
	srv := newRecorder()
	var ln host.Listener
	var err error
	l.Do(func() { ln, err = env.Net.Listen("127.0.0.1:0", lenFramer{}, srv) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli := newRecorder()
	l.Do(func() {
		c := env.Net.Dial(ln.Addr(), lenFramer{}, cli)
		c.Write(binary.BigEndian.AppendUint32(nil, 1<<30))
	})
	select {
	case err := <-srv.closed:
		if err == nil {
			t.Fatal("malformed stream closed without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server kept a connection that declared a 1 GiB frame")
	}
}

func TestFailpointFaults(t *testing.T) {
	const site = "test/site"
	if err := failpoint.Enable(FailpointPrefix+site, "2*off->return(true)"); err != nil {
		t.Fatal(err)
	}
	defer failpoint.Disable(FailpointPrefix + site)
	var f failpointFaults
	got := []bool{f.Fire(site), f.Fire(site), f.Fire(site), f.Fire("test/other")}
	if fmt.Sprint(got) != "[false false true false]" {
		t.Fatalf("fires %v, want [false false true false]", got)
	}
}
