package sim

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

func pattern(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func readAll(t *testing.T, fsys host.FS, name string) []byte {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	size, _ := f.Size()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

func exists(fsys host.FS, name string) bool {
	_, err := fsys.Stat(name)
	return err == nil
}

func TestProcessCrashKeepsUnsynced(t *testing.T) {
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{})
	env := h.Start()
	f, err := env.FS.Create("seg")
	if err != nil {
		t.Fatal(err)
	}
	env.FS.SyncDir("/")
	if err := f.(host.Preallocator).Preallocate(3 * PageSize); err != nil {
		t.Fatal(err)
	}
	view, err := f.(host.Mapper).Map(3 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	copy(view[100:], "stored through the view")
	if _, err := f.WriteAt([]byte("written with WriteAt"), 2*PageSize+7); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(view)
	// Nothing synced: not the file, not the directory.
	h.Crash(ProcessCrash)
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, host.ErrClosed) {
		t.Fatalf("write through a dead incarnation's file: %v", err)
	}
	env = h.Start()
	if got := readAll(t, env.FS, "seg"); !bytes.Equal(got, want) {
		t.Fatal("process crash lost page-cache contents")
	}
	// Unsynced, so the durable image is still empty.
	if n, _ := h.Disk().ReadDurable("seg", make([]byte, 1), 0); n != 0 {
		t.Fatal("unsynced data reported durable")
	}
}

// TestPowerLoss checks the page fate model over many seeds: synced bytes
// are never altered; each sector of an unsynced rewrite is old or new; and
// across seeds pages are kept, dropped and torn, for WriteAt and mapped
// stores alike.
func TestPowerLoss(t *testing.T) {
	const size = 8 * PageSize
	var kept, dropped, torn int
	for seed := uint64(1); seed <= 150; seed++ {
		w := NewWorld(seed, Options{})
		h := w.NewHost("h", HostOptions{})
		env := h.Start()
		env.FS.MkdirAll("/d")
		f, _ := env.FS.Create("/d/f")
		f.(host.Preallocator).Preallocate(size)
		old := make([]byte, size)
		for i := range old {
			old[i] = byte(i*7 + 1)
		}
		f.WriteAt(old, 0)
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		env.FS.SyncDir("/d")
		env.FS.SyncDir("/")
		// Unsynced: pages 2-3 rewritten with WriteAt, pages 5-6 through a
		// mapped view; pages 0, 1, 4, 7 untouched.
		f.WriteAt(pattern(2*PageSize, 0xAA), 2*PageSize)
		view, _ := f.(host.Mapper).Map(size)
		copy(view[5*PageSize:7*PageSize], pattern(2*PageSize, 0xBB))
		h.Crash(PowerLoss)
		env = h.Start()
		got := readAll(t, env.FS, "/d/f")
		if len(got) != size {
			t.Fatalf("seed %d: size %d after power loss", seed, len(got))
		}
		for _, p := range []int{0, 1, 4, 7} {
			s := p * PageSize
			if !bytes.Equal(got[s:s+PageSize], old[s:s+PageSize]) {
				t.Fatalf("seed %d: synced page %d altered", seed, p)
			}
		}
		for _, p := range []int{2, 3, 5, 6} {
			s := p * PageSize
			nw := byte(0xAA)
			if p >= 5 {
				nw = 0xBB
			}
			var nOld, nNew int
			for q := s; q < s+PageSize; q += SectorSize {
				switch {
				case bytes.Equal(got[q:q+SectorSize], old[q:q+SectorSize]):
					nOld++
				case bytes.Equal(got[q:q+SectorSize], pattern(SectorSize, nw)):
					nNew++
				default:
					t.Fatalf("seed %d: page %d sector %d is neither old nor new", seed, p, (q-s)/SectorSize)
				}
			}
			switch {
			case nNew == PageSize/SectorSize:
				kept++
			case nOld == PageSize/SectorSize:
				dropped++
			default:
				torn++
			}
		}
	}
	if kept == 0 || dropped == 0 || torn == 0 {
		t.Fatalf("page fates not all exercised: kept %d dropped %d torn %d", kept, dropped, torn)
	}
	t.Logf("kept %d dropped %d torn %d", kept, dropped, torn)
}

func TestPowerLossSize(t *testing.T) {
	// An unsynced append leaves the synced size or the new one, never
	// less than what was synced.
	sizes := map[int]bool{}
	for seed := uint64(1); seed <= 40; seed++ {
		w := NewWorld(seed, Options{})
		h := w.NewHost("h", HostOptions{})
		env := h.Start()
		f, _ := env.FS.Create("f")
		f.WriteAt(pattern(1000, 1), 0)
		f.Sync()
		env.FS.SyncDir("/")
		f.WriteAt(pattern(5000, 2), 1000)
		h.Crash(PowerLoss)
		got := readAll(t, h.Start().FS, "f")
		if len(got) != 1000 && len(got) != 6000 {
			t.Fatalf("seed %d: size %d", seed, len(got))
		}
		if !bytes.Equal(got[:1000], pattern(1000, 1)) {
			t.Fatalf("seed %d: synced prefix altered", seed)
		}
		sizes[len(got)] = true
	}
	if len(sizes) != 2 {
		t.Fatalf("sizes seen: %v", sizes)
	}
}

func TestSyncAsyncSnapshot(t *testing.T) {
	w := NewWorld(3, Options{})
	h := w.NewHost("h", HostOptions{})
	env := h.Start()
	f, _ := env.FS.Create("f")
	env.FS.SyncDir("/")
	f.WriteAt([]byte("AAAA"), 0)
	var done []error
	env.Clock.AfterFunc(0, func() {
		f.SyncAsync(func(err error) { done = append(done, err) })
		// Written after the call began: not covered by this sync.
		f.WriteAt([]byte("BB"), 2)
	})
	w.RunUntil(func() bool { return len(done) == 1 }, time.Second)
	if len(done) != 1 || done[0] != nil {
		t.Fatalf("sync completions: %v", done)
	}
	buf := make([]byte, 4)
	h.Disk().ReadDurable("f", buf, 0)
	if string(buf) != "AAAA" {
		t.Fatalf("durable after SyncAsync: %q, want the snapshot at call time", buf)
	}
	// A blocking Sync after an async one still in flight: the older
	// snapshot must not land over the newer bytes.
	env.Clock.AfterFunc(0, func() {
		f.WriteAt([]byte("CCCC"), 0)
		f.SyncAsync(func(err error) { done = append(done, err) })
		f.WriteAt([]byte("DDDD"), 0)
		if err := f.Sync(); err != nil {
			t.Error(err)
		}
	})
	w.RunUntil(func() bool { return len(done) == 2 }, 2*time.Second)
	h.Disk().ReadDurable("f", buf, 0)
	if string(buf) != "DDDD" {
		t.Fatalf("durable after Sync then late SyncAsync completion: %q", buf)
	}
	// Through a mapped view: stores after the call are not covered either,
	// and two syncs in flight land in order.
	f.(host.Preallocator).Preallocate(2 * PageSize)
	view, err := f.(host.Mapper).Map(2 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.AfterFunc(0, func() {
		copy(view[PageSize:], "EEEE")
		f.SyncAsync(func(err error) { done = append(done, err) })
		copy(view[PageSize:], "FF")
		f.WriteAt([]byte("GG"), 0)
		f.SyncAsync(func(err error) { done = append(done, err) })
		copy(view[PageSize:], "HHHH")
	})
	w.RunUntil(func() bool { return len(done) == 3 }, 3*time.Second)
	h.Disk().ReadDurable("f", buf, PageSize)
	if string(buf) != "EEEE" {
		t.Fatalf("durable mapped page after first SyncAsync: %q", buf)
	}
	w.RunUntil(func() bool { return len(done) == 4 }, 3*time.Second)
	h.Disk().ReadDurable("f", buf, PageSize)
	if string(buf) != "FFEE" {
		t.Fatalf("durable mapped page after second SyncAsync: %q", buf)
	}
	h.Disk().ReadDurable("f", buf, 0)
	if string(buf) != "GGDD" {
		t.Fatalf("durable first page after second SyncAsync: %q", buf)
	}
}

// TestSyncDir covers directory-entry durability: created, renamed and
// removed entries are volatile until SyncDir, then certain.
func TestSyncDir(t *testing.T) {
	type outcome struct{ a, b bool }
	var createSeen, removeSeen, renameSeen, mkdirSeen = map[bool]int{}, map[bool]int{}, map[outcome]int{}, map[bool]int{}
	for seed := uint64(1); seed <= 60; seed++ {
		w := NewWorld(seed, Options{})
		h := w.NewHost("h", HostOptions{})
		env := h.Start()
		fsys := env.FS
		fsys.MkdirAll("/s")
		fsys.SyncDir("/")
		// Durable file, to be removed without SyncDir.
		old, _ := fsys.Create("/s/old")
		old.WriteAt([]byte("old"), 0)
		old.Sync()
		// A checkpoint: name holds v1, durable.
		cp, _ := fsys.Create("/s/cp")
		cp.WriteAt([]byte("v1"), 0)
		cp.Sync()
		// A synced file whose entry is synced too.
		safe, _ := fsys.Create("/s/safe")
		safe.WriteAt([]byte("safe"), 0)
		safe.Sync()
		fsys.SyncDir("/s")

		// Volatile from here on.
		nf, _ := fsys.Create("/s/new")
		nf.WriteAt([]byte("new"), 0)
		nf.Sync() // file data synced; its entry is not
		fsys.Remove("/s/old")
		tmp, _ := fsys.Create("/s/cp.tmp")
		tmp.WriteAt([]byte("v2"), 0)
		tmp.Sync()
		if err := fsys.Rename("/s/cp.tmp", "/s/cp"); err != nil {
			t.Fatal(err)
		}
		fsys.MkdirAll("/s/sub/deep")
		sf, _ := fsys.Create("/s/sub/deep/f")
		sf.Sync()
		fsys.SyncDir("/s/sub/deep") // but not /s/sub nor /s

		h.Crash(PowerLoss)
		fsys = h.Start().FS
		if !exists(fsys, "/s/safe") || string(readAll(t, fsys, "/s/safe")) != "safe" {
			t.Fatalf("seed %d: synced file with synced entry lost", seed)
		}
		createSeen[exists(fsys, "/s/new")]++
		if exists(fsys, "/s/new") && string(readAll(t, fsys, "/s/new")) != "new" {
			t.Fatalf("seed %d: surviving new file lost its synced data", seed)
		}
		removeSeen[exists(fsys, "/s/old")]++
		// Rename is atomic: the old checkpoint (with or without the tmp
		// file, whose creation was volatile too), or the new checkpoint
		// without the tmp file; never both names for the new one.
		o := outcome{exists(fsys, "/s/cp.tmp"), string(readAll(t, fsys, "/s/cp")) == "v2"}
		if o.a && o.b {
			t.Fatalf("seed %d: rename not atomic: tmp exists and cp is v2", seed)
		}
		renameSeen[o]++
		mkdirSeen[exists(fsys, "/s/sub/deep/f")]++

		// Once synced, everything is certain.
		fsys.Remove("/s/cp.tmp")
		n2, _ := fsys.Create("/s/n2")
		n2.Sync()
		fsys.Remove("/s/safe")
		fsys.SyncDir("/s")
		h.Crash(PowerLoss)
		fsys = h.Start().FS
		if !exists(fsys, "/s/n2") || exists(fsys, "/s/safe") || exists(fsys, "/s/cp.tmp") {
			t.Fatalf("seed %d: SyncDir'd changes not durable", seed)
		}
		names, _ := fsys.List("/s")
		if !slices.IsSorted(names) {
			t.Fatalf("List not sorted: %v", names)
		}
	}
	if len(createSeen) != 2 || len(removeSeen) != 2 || len(renameSeen) != 3 || len(mkdirSeen) != 2 {
		t.Fatalf("volatile entry outcomes not all seen: create %v remove %v rename %v mkdir %v",
			createSeen, removeSeen, renameSeen, mkdirSeen)
	}
}

func TestProcessCrashKeepsDirEntries(t *testing.T) {
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{})
	fsys := h.Start().FS
	fsys.MkdirAll("/a/b")
	fsys.Create("/a/b/f")
	fsys.Rename("/a/b/f", "/a/g")
	h.Crash(ProcessCrash)
	fsys = h.Start().FS
	if !exists(fsys, "/a/g") || exists(fsys, "/a/b/f") {
		t.Fatal("process crash changed the namespace")
	}
}

func TestNoSpace(t *testing.T) {
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{Disk: &DiskOptions{Capacity: 10 * PageSize}})
	env := h.Start()
	du := env.FS.(host.DiskUsager)
	f, _ := env.FS.Create("a")
	if err := f.(host.Preallocator).Preallocate(8 * PageSize); err != nil {
		t.Fatal(err)
	}
	u, _ := du.DiskUsage("/")
	if u.Total != 10*PageSize || u.Free != 2*PageSize {
		t.Fatalf("usage %+v", u)
	}
	g, _ := env.FS.Create("b")
	if err := g.(host.Preallocator).Preallocate(3 * PageSize); !errors.Is(err, host.ErrNoSpace) {
		t.Fatalf("preallocate past capacity: %v", err)
	}
	if _, err := g.WriteAt(make([]byte, 2*PageSize), 0); err != nil {
		t.Fatalf("write within capacity: %v", err)
	}
	if _, err := g.WriteAt([]byte{1}, 2*PageSize); !errors.Is(err, host.ErrNoSpace) {
		t.Fatalf("write past capacity: %v", err)
	}
	// Writes inside a preallocated range never need space.
	if _, err := f.WriteAt(make([]byte, PageSize), 7*PageSize); err != nil {
		t.Fatal(err)
	}
	// Removing an open file frees its space only when it is closed.
	env.FS.Remove("a")
	if u, _ := du.DiskUsage("/"); u.Free != 0 {
		t.Fatalf("free %d while the removed file is open", u.Free)
	}
	f.Close()
	if u, _ := du.DiskUsage("/"); u.Free != 8*PageSize {
		t.Fatalf("free %d after close", u.Free)
	}
}

func TestInjectedDiskErrors(t *testing.T) {
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{})
	env := h.Start()
	f, _ := env.FS.Create("f")
	env.FS.SyncDir("/")
	f.WriteAt([]byte("hello"), 0)
	h.Disk().SetFaults(DiskFaults{ReadEIO: 1, WriteEIO: 1, SyncEIO: 1})
	if _, err := f.ReadAt(make([]byte, 5), 0); !errors.Is(err, host.ErrIO) {
		t.Fatalf("read: %v", err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, host.ErrIO) {
		t.Fatalf("write: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, host.ErrIO) {
		t.Fatalf("sync: %v", err)
	}
	var serr error
	env.Clock.AfterFunc(0, func() { f.SyncAsync(func(err error) { serr = err }) })
	w.RunFor(time.Second)
	if !errors.Is(serr, host.ErrIO) {
		t.Fatalf("sync async: %v", serr)
	}
	if n, _ := h.Disk().ReadDurable("f", make([]byte, 5), 0); n != 0 {
		t.Fatal("a failed sync made data durable")
	}
	// The world switch silences them; the failed sync left the pages
	// dirty, so a retry makes them durable.
	w.SetFaults(false)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if n, _ := h.Disk().ReadDurable("f", buf, 0); n != 5 || string(buf) != "hello" {
		t.Fatalf("durable %q", buf[:n])
	}
	w.SetFaults(true)
	h.Disk().SetFaults(DiskFaults{NoSpace: 1})
	if _, err := f.WriteAt([]byte("x"), 1<<20); !errors.Is(err, host.ErrNoSpace) {
		t.Fatalf("injected enospc: %v", err)
	}
	if _, err := f.WriteAt([]byte("y"), 0); err != nil {
		t.Fatalf("an overwrite allocates nothing: %v", err)
	}
}

func TestBitFlip(t *testing.T) {
	flipped := 0
	for seed := uint64(1); seed <= 20; seed++ {
		w := NewWorld(seed, Options{})
		h := w.NewHost("h", HostOptions{Disk: &DiskOptions{Faults: DiskFaults{BitFlip: 0.5}}})
		env := h.Start()
		f, _ := env.FS.Create("f")
		f.WriteAt(pattern(PageSize, 0x55), 0)
		f.Sync()
		env.FS.SyncDir("/")
		h.Crash(PowerLoss)
		if !bytes.Equal(readAll(t, h.Start().FS, "f"), pattern(PageSize, 0x55)) {
			flipped++
		}
	}
	if flipped == 0 || flipped == 20 {
		t.Fatalf("bit flips at probability 0.5: %d of 20", flipped)
	}
	// Explicit corruption of a clean page shows at once.
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{})
	env := h.Start()
	f, _ := env.FS.Create("f")
	f.WriteAt(pattern(10, 0), 0)
	f.Sync()
	if err := h.Disk().Corrupt("f", 3, 1); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 10)
	f.ReadAt(b, 0)
	if b[3] != 2 {
		t.Fatalf("corrupted byte reads %d", b[3])
	}
}

func TestFSErrors(t *testing.T) {
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{})
	fsys := h.Start().FS
	if _, err := fsys.Open("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := fsys.Create("/no/dir/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("create in missing dir: %v", err)
	}
	fsys.MkdirAll("/d")
	fsys.Create("/d/f")
	if err := fsys.Remove("/d"); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("remove non-empty dir: %v", err)
	}
	if err := fsys.MkdirAll("/d/f/g"); !errors.Is(err, ErrNotDir) {
		t.Fatalf("mkdir through a file: %v", err)
	}
	st, err := fsys.Stat("/d")
	if err != nil || !st.IsDir {
		t.Fatalf("stat dir: %+v %v", st, err)
	}
	f, _ := fsys.Create("/d/f")
	if _, err := f.(host.Mapper).Map(1); err == nil {
		t.Fatal("mapped past the end of an empty file")
	}
	f.Close()
	if err := f.Close(); !errors.Is(err, host.ErrClosed) {
		t.Fatalf("double close: %v", err)
	}
	locker := fsys.(host.Locker)
	l, err := locker.Lock("/d/LOCK")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locker.Lock("/d/LOCK"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	l.Close()
	l2, err := locker.Lock("/d/LOCK")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	_ = l2
	// The holder's death releases the lock.
	h.Crash(ProcessCrash)
	if _, err := h.Start().FS.(host.Locker).Lock("/d/LOCK"); err != nil {
		t.Fatalf("lock after the holder crashed: %v", err)
	}
}

func TestBlockingSyncCostsVirtualTime(t *testing.T) {
	w := NewWorld(1, Options{})
	opts := DefaultDiskOptions()
	opts.SyncLatency = Fixed(5 * time.Millisecond)
	h := w.NewHost("h", HostOptions{Disk: &opts})
	env := h.Start()
	f, _ := env.FS.Create("f")
	var before, after, other time.Duration
	env.Clock.AfterFunc(time.Millisecond, func() {
		before = env.Clock.Mono()
		f.WriteAt([]byte("x"), 0)
		f.Sync()
		after = env.Clock.Mono()
	})
	// Due while the node is blocked in Sync: runs after it returns.
	env.Clock.AfterFunc(2*time.Millisecond, func() { other = env.Clock.Mono() })
	w.RunFor(time.Second)
	if after-before != 5*time.Millisecond {
		t.Fatalf("Sync took %v of node time", after-before)
	}
	if other != 6*time.Millisecond {
		t.Fatalf("timer due at 2ms ran at %v, want 6ms (after the blocking Sync)", other)
	}
}

func TestTruncateRegrowSync(t *testing.T) {
	w := NewWorld(1, Options{})
	h := w.NewHost("h", HostOptions{})
	env := h.Start()
	f, _ := env.FS.Create("f")
	env.FS.SyncDir("/")
	f.WriteAt(pattern(3*PageSize, 'A'), 0)
	f.Sync()
	f.Truncate(100)
	f.Truncate(3 * PageSize)
	f.Sync()
	got := make([]byte, 3*PageSize)
	h.Disk().ReadDurable("f", got, 0)
	want := append(pattern(100, 'A'), make([]byte, 3*PageSize-100)...)
	if !bytes.Equal(got, want) {
		t.Fatal("a synced truncate-and-regrow left old bytes durable")
	}
	// Create on an existing file truncates it, durably after Sync.
	g, _ := env.FS.Create("f")
	g.Sync()
	if n, err := h.Disk().ReadDurable("f", got, 0); n != 0 || err != io.EOF {
		t.Fatalf("durable after O_TRUNC and sync: %d bytes, %v", n, err)
	}
}
