package lint

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTree runs every rule over the repository. Each failure names the
// file and line, the rule, and what to use instead.
func TestTree(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	vs, err := CheckTree(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checked %s in %v", root, time.Since(start))
	for _, v := range vs {
		t.Error(v)
	}
}

const mod = ModulePath + "/"

// TestPlanted proves each rule trips on a planted violation, reports it
// once with the expected message, and stays quiet on what is allowed.
func TestPlanted(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // where the snippet claims to live
		src  string
		want []string
	}{
		// Determinism: the real clock.
		{"time.Now", "broker/store/x.go", `package store
import "time"
func f() time.Time {
	return time.Now()
}`, []string{
			"broker/store/x.go:4: time.Now reads the real clock; use host.Clock.Now, or Mono for intervals (determinism rule)",
		}},
		{"time.Now as a value, renamed import", "sim/x.go", `package sim
import stdtime "time"
var now = stdtime.Now`, []string{
			"sim/x.go:3: time.Now reads the real clock; use host.Clock.Now, or Mono for intervals (determinism rule)",
		}},
		{"timers", "broker/x.go", `package broker
import "time"
func f() {
	time.Sleep(time.Second)
	<-time.After(time.Second)
	time.AfterFunc(time.Second, f)
	_ = time.NewTimer(1)
	_ = time.NewTicker(1)
	_ = time.Tick(1)
	_ = time.Since(time.Time{}) + time.Until(time.Time{})
}`, []string{
			"broker/x.go:4: time.Sleep blocks on the real clock; schedule the rest with host.Clock.AfterFunc (determinism rule)",
			"broker/x.go:5: time.After starts a real timer; use host.Clock.AfterFunc (determinism rule)",
			"broker/x.go:6: time.AfterFunc runs f on a real timer's goroutine; use host.Clock.AfterFunc (determinism rule)",
			"broker/x.go:7: time.NewTimer starts a real timer; use host.Clock.AfterFunc (determinism rule)",
			"broker/x.go:8: time.NewTicker ticks on the real clock; use a self-rescheduling host.Clock.AfterFunc (determinism rule)",
			"broker/x.go:9: time.Tick ticks on the real clock; use a self-rescheduling host.Clock.AfterFunc (determinism rule)",
			"broker/x.go:10: time.Since reads the real clock; subtract host.Clock.Mono readings (determinism rule)",
			"broker/x.go:10: time.Until reads the real clock; subtract host.Clock.Mono readings (determinism rule)",
		}},
		{"time.Local", "broker/namesrv/x.go", `package namesrv
import "time"
func f(t time.Time) time.Time { return t.In(time.Local) }`, []string{
			"broker/namesrv/x.go:3: time.Local is this machine's time zone; use time.UTC (determinism rule)",
		}},

		// Determinism: the scheduler.
		{"go statement", "broker/store/x.go", `package store
func f() {
	go f()
}`, []string{
			"broker/store/x.go:3: go statement lets the Go scheduler decide order; run work on the node's loop (host.Clock.AfterFunc), real concurrency lives in broker/host/oshost (determinism rule)",
		}},
		{"select", "broker/store/x.go", `package store
func f() {
	select {}
}`, []string{
			"broker/store/x.go:3: select lets the runtime choose among ready cases at random; take callbacks on the node's loop instead of channels (determinism rule)",
		}},
		{"sync", "broker/remoting/x.go", `package remoting
import "sync"
var mu sync.Mutex`, []string{
			`broker/remoting/x.go:2: import "sync" means state shared between goroutines; broker state belongs to its node's loop (post to it, or shard by queue) and the sim runs on one goroutine (determinism rule)`,
		}},
		{"sync/atomic", "sim/x.go", `package sim
import "sync/atomic"
var n atomic.Int64`, []string{
			`sim/x.go:2: import "sync/atomic" means state shared between goroutines; broker state belongs to its node's loop (post to it, or shard by queue) and the sim runs on one goroutine (determinism rule)`,
		}},
		{"runtime", "sim/x.go", `package sim
import "runtime"
func f() { runtime.Gosched() }`, []string{
			`sim/x.go:2: import "runtime" hands decisions to the scheduler and the process (Gosched, GOMAXPROCS, NumGoroutine); code on the loop must not depend on them (determinism rule)`,
		}},

		// Determinism: randomness.
		{"global rand under an alias", "broker/store/x.go", `package store
import mrand "math/rand/v2"
func f() int {
	return mrand.IntN(3)
}`, []string{
			"broker/store/x.go:4: math/rand/v2.IntN draws from the global, randomly seeded generator; draw from host.Rand (Env.Rand) or a seeded sim stream (determinism rule)",
		}},
		{"global math/rand v1", "sim/x.go", `package sim
import "math/rand"
func f() {
	rand.Seed(1)
	_ = rand.Intn(3) + int(rand.Int63())
	rand.Shuffle(3, func(i, j int) {})
}`, []string{
			"sim/x.go:4: math/rand.Seed draws from the global, randomly seeded generator; draw from host.Rand (Env.Rand) or a seeded sim stream (determinism rule)",
			"sim/x.go:5: math/rand.Int63 draws from the global, randomly seeded generator; draw from host.Rand (Env.Rand) or a seeded sim stream (determinism rule)",
			"sim/x.go:5: math/rand.Intn draws from the global, randomly seeded generator; draw from host.Rand (Env.Rand) or a seeded sim stream (determinism rule)",
			"sim/x.go:6: math/rand.Shuffle draws from the global, randomly seeded generator; draw from host.Rand (Env.Rand) or a seeded sim stream (determinism rule)",
		}},
		{"generic rand.N", "broker/x.go", `package broker
import ("math/rand/v2"; "time")
var d = rand.N(time.Second)`, []string{
			"broker/x.go:3: math/rand/v2.N draws from the global, randomly seeded generator; draw from host.Rand (Env.Rand) or a seeded sim stream (determinism rule)",
		}},
		{"crypto/rand and maphash", "broker/message/x.go", `package message
import (
	crand "crypto/rand"
	"hash/maphash"
)
var _, _ = crand.Reader, maphash.Hash{}`, []string{
			`broker/message/x.go:3: import "crypto/rand" cannot be seeded; use host.Rand (Env.Rand) (determinism rule)`,
			`broker/message/x.go:4: import "hash/maphash" seeds itself randomly in every process; use hash/fnv or hash/crc32 (determinism rule)`,
		}},

		// Determinism: the operating system.
		{"os", "broker/store/x.go", `package store
import "os"
var _ = os.Getpid`, []string{
			`broker/store/x.go:2: import "os" reaches the real operating system; use host.FS for files and take settings from the caller (determinism rule)`,
		}},
		{"os/exec, net, syscall, x/sys/unix, blank import", "sim/x.go", `package sim
import (
	"os/exec"
	"net"
	"syscall"
	"golang.org/x/sys/unix"
	_ "net/http/pprof"
)`, []string{
			`sim/x.go:3: import "os/exec" reaches the real operating system; use host.FS for files and take settings from the caller (determinism rule)`,
			`sim/x.go:4: import "net" opens real sockets; use host.Network (net/netip and net/url are fine) (determinism rule)`,
			`sim/x.go:5: import "syscall" makes real system calls; put them in broker/host/oshost behind a host interface (determinism rule)`,
			`sim/x.go:6: import "golang.org/x/sys/unix" makes real system calls; put them in broker/host/oshost behind a host interface (determinism rule)`,
			`sim/x.go:7: import "net/http/pprof" opens real sockets; use host.Network (net/netip and net/url are fine) (determinism rule)`,
		}},
		{"filepath on the real disk", "broker/store/x.go", `package store
import "path/filepath"
func f() { _, _ = filepath.Glob(filepath.Join("a", "*")) }`, []string{
			"broker/store/x.go:3: filepath.Glob reads the real file system; list with host.FS (determinism rule)",
		}},

		// Import rule.
		{"dot import", "broker/x.go", `package broker
import . "time"
var d Duration`, []string{
			`broker/x.go:2: import . "time" hides which package a name comes from, so this lint cannot check it; import it by name (import rule)`,
		}},
		{"dot import outside the deterministic code", "reports/x.go", `package reports
import . "strings"
var _ = ToUpper`, []string{
			`reports/x.go:2: import . "strings" hides which package a name comes from, so this lint cannot check it; import it by name (import rule)`,
		}},

		// Layering rule.
		{"broker imports sim", "broker/x.go", `package broker
import "` + mod + `sim"`, []string{
			"broker/x.go:2: broker code imports github.com/thrustmq/thrust/sim; the broker must not know the simulator or the tools that drive and judge it, only the broker/host interfaces (layering rule)",
		}},
		{"broker imports below a tool", "broker/store/x.go", `package store
import "` + mod + `linearizability/queue"`, []string{
			"broker/store/x.go:2: broker code imports github.com/thrustmq/thrust/linearizability/queue; the broker must not know the simulator or the tools that drive and judge it, only the broker/host interfaces (layering rule)",
		}},
		{"sim imports oshost", "sim/x.go", `package sim
import "` + mod + `broker/host/oshost"`, []string{
			"sim/x.go:2: import of github.com/thrustmq/thrust/broker/host/oshost outside cmd/ and benchmarks/; take a host.Env from the caller so this code also runs in the simulator (layering rule)",
		}},
		{"broker imports oshost", "broker/store/x.go", `package store
import "` + mod + `broker/host/oshost"`, []string{
			"broker/store/x.go:2: import of github.com/thrustmq/thrust/broker/host/oshost outside cmd/ and benchmarks/; take a host.Env from the caller so this code also runs in the simulator (layering rule)",
		}},
		{"workloads import oshost", "workloads/x.go", `package workloads
import "` + mod + `broker/host/oshost"`, []string{
			"workloads/x.go:2: import of github.com/thrustmq/thrust/broker/host/oshost outside cmd/ and benchmarks/; take a host.Env from the caller so this code also runs in the simulator (layering rule)",
		}},
		{"host imports a thrust package", "broker/host/x.go", `package host
import "` + mod + `broker/message"`, []string{
			"broker/host/x.go:2: broker/host imports github.com/thrustmq/thrust/broker/message; the seam may import only the standard library, so that every world can implement it (layering rule)",
		}},
		{"host imports a third-party package", "broker/host/x.go", `package host
import "github.com/pingcap/failpoint"`, []string{
			"broker/host/x.go:2: broker/host imports github.com/pingcap/failpoint; the seam may import only the standard library, so that every world can implement it (layering rule)",
		}},
		{"sim imports a broker package", "sim/x.go", `package sim
import "` + mod + `broker/store"`, []string{
			"sim/x.go:2: package sim imports github.com/thrustmq/thrust/broker/store; the simulator knows only the broker/host seam (wire brokers in a harness package such as sim/cluster) (layering rule)",
		}},

		// Allowed.
		{"oshost reads the clock and starts goroutines", "broker/host/oshost/x.go", `package oshost
import ("os"; "sync"; "syscall"; "time")
var mu sync.Mutex
func f() {
	_ = time.Now()
	go f()
	select {}
	_, _ = os.Getpid(), syscall.Getpid()
}`, nil},
		{"oshost subdirectory", "broker/host/oshost/mmap/x.go", `package mmap
import "time"
var _ = time.Now`, nil},
		{"test file reads the clock", "broker/store/x_test.go", `package store
import ("os"; "time"; "math/rand/v2"; "` + mod + `broker/host/oshost"; "` + mod + `sim")
var _, _, _ = time.Now(), os.Getpid(), rand.IntN(3)
func f() { go f(); select {} }`, nil},
		{"seeded rand", "sim/x.go", `package sim
import (
	"math/rand/v2"
	v1 "math/rand"
)
var r = rand.New(rand.NewPCG(1, 2))
var c = rand.New(rand.NewChaCha8([32]byte{}))
var z = rand.NewZipf(r, 1.1, 1, 10)
var old = v1.New(v1.NewSource(1))
var _ rand.Source = (*rand.PCG)(nil)
var _ v1.Source64
var _ = r.IntN(3) + old.Intn(3)
func draw(rand *rand.Rand) int { return rand.IntN(3) } // shadowed by a parameter
`, nil},
		{"time values", "broker/store/x.go", `package store
import "time"
func f(t time.Time, d time.Duration) (int64, time.Time, time.Duration) {
	t2 := time.Unix(0, 0).Add(d * 2)
	_ = time.UnixMilli(5)
	_ = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = t2.Sub(t) > time.Millisecond
	return t.UnixMilli(), t2, d + time.Second
}`, nil},
		{"local variable shadows time", "broker/x.go", `package broker
type clock struct{}
func (clock) Now() int { return 0 }
func f() int {
	time := clock{}
	return time.Now()
}`, nil},
		{"pure std packages", "broker/host/x.go", `package host
import ("errors"; "io/fs"; "log/slog"; "net/netip"; "path/filepath"; "runtime/debug"; "time")
var _, _, _, _, _, _, _ = errors.New, fs.ErrNotExist, slog.Default, netip.Addr{}, filepath.Join, debug.Stack, time.Duration(0)`, nil},
		{"broker imports the seam and its siblings", "broker/store/x.go", `package store
import ("` + mod + `broker/host"; "` + mod + `broker/message")`, nil},
		{"sim imports the seam", "sim/x.go", `package sim
import "` + mod + `broker/host"`, nil},
		{"sim harness imports brokers", "sim/cluster/x.go", `package cluster
import ("` + mod + `sim"; "` + mod + `broker/store")`, nil},
		{"cmd wires the real host", "cmd/mqbroker/x.go", `package main
import ("os"; "time"; "` + mod + `broker/host/oshost")
func main() { go main(); _ = time.Now(); os.Exit(0) }`, nil},
		{"benchmarks use the real host", "benchmarks/x.go", `package benchmarks
import ("time"; "` + mod + `broker/host/oshost")
var _ = time.Now`, nil},
		{"ignored file", "broker/gen.go", `//go:build ignore

package main
import "os"
func main() { os.Exit(0) }`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, tc.file, tc.src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range CheckFile(fset, tc.file, f) {
				got = append(got, v.String())
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}

// TestPlantedDoc proves the doc rule trips on a missing doc.go, a doc.go
// without a package comment, and one that does not name its package.
func TestPlantedDoc(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  string
		pkg  string
		doc  string // "" means no doc.go
		want []string
	}{
		{"missing", "broker/namesrv", "namesrv", "", []string{
			`broker/namesrv/a.go:3: package namesrv (broker/namesrv) has no doc.go; write one that opens with "// Package namesrv ...": what the package is for, what it may import, the invariants it keeps (doc rule)`,
		}},
		{"missing for a command", "cmd/mqsim", "main", "", []string{
			`cmd/mqsim/a.go:3: package main (cmd/mqsim) has no doc.go; write one that opens with "// Command <name> ...": what the package is for, what it may import, the invariants it keeps (doc rule)`,
		}},
		{"no comment", "sim", "sim", "// Copyright.\n\npackage sim\n", []string{
			`sim/doc.go:3: doc.go has no package comment; put one, opening with "// Package sim ...", directly above the package clause (doc rule)`,
		}},
		{"wrong name", "broker/store", "store", "// Package stor is the store.\npackage store\n", []string{
			`broker/store/doc.go:1: package comment must open with "Package store" (doc rule)`,
		}},
		{"name is only a prefix", "broker/store", "store", "// Package storefront sells.\npackage store\n", []string{
			`broker/store/doc.go:1: package comment must open with "Package store" (doc rule)`,
		}},
		{"not opening with Package", "broker/store", "store", "// This is the store.\npackage store\n", []string{
			`broker/store/doc.go:1: package comment must open with "Package store" (doc rule)`,
		}},
		{"good", "broker/store", "store", "// Package store keeps messages.\npackage store\n", nil},
		{"good, one line", "broker/store", "store", "// Package store\npackage store\n", nil},
		{"command, any comment", "cmd/mqsim", "main", "// Mqsim runs seeded simulations.\npackage main\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fset := token.NewFileSet()
			var doc *ast.File
			if tc.doc != "" {
				var err error
				doc, err = parser.ParseFile(fset, tc.dir+"/doc.go", tc.doc, parser.ParseComments)
				if err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, v := range CheckPackageDoc(fset, tc.dir, tc.pkg, tc.dir+"/a.go", 3, doc) {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}

// TestCheckTreeWalk builds a small module on disk and checks that the walk
// finds what it must and skips what it must: test files, testdata, hidden
// and underscore directories, nested modules and ignored files.
func TestCheckTreeWalk(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                         "module " + ModulePath + "\n\ngo 1.26\n",
		"broker/store/doc.go":            "// Package store keeps messages.\npackage store\n",
		"broker/store/a.go":              "package store\n\nimport \"time\"\n\nvar now = time.Now\n",
		"broker/store/a_test.go":         "package store\n\nimport \"time\"\n\nvar later = time.Now\n",
		"broker/store/testdata/x.go":     "package x\n\nimport \"os\"\n",
		"broker/store/gen.go":            "//go:build ignore\n\npackage main\n\nimport \"os\"\n",
		"broker/namesrv/expiry.go":       "\n// Package namesrv.\npackage namesrv\n",
		"broker/namesrv/only_test.go":    "package namesrv\n",
		"broker/gocheck/go.mod":          "module other\n",
		"broker/gocheck/doc.go":          "package gocheck\n\nimport \"os\"\n",
		"broker/.hidden/x.go":            "package x\n\nimport \"os\"\n",
		"broker/_scratch/x.go":           "package x\n\nimport \"os\"\n",
		"broker/testonly/only_test.go":   "package testonly\n\nimport \"os\"\n",
		"cmd/mqsim/doc.go":               "// Mqsim runs seeded simulations.\npackage main\n",
		"cmd/mqsim/main.go":              "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(0) }\n",
		"sim/doc.go":                     "// Package sim simulates.\npackage sim\n",
		"sim/world.go":                   "package sim\n\nfunc f() {\n\tgo f()\n}\n",
		"internal/lint/testdata/bad.go":  "package bad\n",
		"README.md":                      "not Go\n",
		"broker/store/notgo.go.orig":     "package store\n\nimport \"os\"\n",
		"broker/store/z_linux_amd64.go":  "//go:build linux\n\npackage store\n\nimport \"syscall\"\n",
		"broker/store/zz_generated.go":   "// Code generated by hand. DO NOT EDIT.\n\npackage store\n\nfunc g() { select {} }\n",
		"broker/host/oshost/doc.go":      "// Package oshost is the real host.\npackage oshost\n",
		"broker/host/oshost/loop.go":     "package oshost\n\nimport \"time\"\n\nfunc f() { go f(); _ = time.Now() }\n",
		"broker/host/oshost/sub/doc.go":  "// Package sub is below oshost.\npackage sub\n",
		"broker/host/oshost/sub/x.go":    "package sub\n\nimport \"os\"\n\nvar _ = os.Getpid\n",
		"workloads/doc.go":               "// Package workloads drives.\npackage workloads\n",
		"workloads/real.go":              "package workloads\n\nimport _ \"" + ModulePath + "/broker/host/oshost\"\n",
		"benchmarks/doc.go":              "// Package benchmarks measures.\npackage benchmarks\n",
		"benchmarks/real.go":             "package benchmarks\n\nimport _ \"" + ModulePath + "/broker/host/oshost\"\n",
		"broker/host/oshost/oshost_x.go": "package oshost\n\nimport \"sync\"\n\nvar mu sync.Mutex\n",
	}
	for name, src := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := FindRoot(filepath.Join(root, "broker", "store", "testdata"))
	if err != nil || got != root {
		t.Fatalf("FindRoot = %q, %v; want %q", got, err, root)
	}
	vs, err := CheckTree(root)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, v := range vs {
		lines = append(lines, v.String())
	}
	want := []string{
		`broker/namesrv/expiry.go:3: package namesrv (broker/namesrv) has no doc.go; write one that opens with "// Package namesrv ...": what the package is for, what it may import, the invariants it keeps (doc rule)`,
		`broker/store/a.go:5: time.Now reads the real clock; use host.Clock.Now, or Mono for intervals (determinism rule)`,
		`broker/store/z_linux_amd64.go:5: import "syscall" makes real system calls; put them in broker/host/oshost behind a host interface (determinism rule)`,
		`broker/store/zz_generated.go:5: select lets the runtime choose among ready cases at random; take callbacks on the node's loop instead of channels (determinism rule)`,
		`sim/world.go:4: go statement lets the Go scheduler decide order; run work on the node's loop (host.Clock.AfterFunc), real concurrency lives in broker/host/oshost (determinism rule)`,
		`workloads/real.go:3: import of github.com/thrustmq/thrust/broker/host/oshost outside cmd/ and benchmarks/; take a host.Env from the caller so this code also runs in the simulator (layering rule)`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(lines, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestRandAllowlistMatchesStdlib keeps randAllowed true to the installed
// Go: every exported type of math/rand and math/rand/v2 must be on it (or
// the lint would flag a type as a global function), and every name on it
// must exist and be a type or a constructor, not a global-generator draw.
func TestRandAllowlistMatchesStdlib(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range []string{"math/rand", "math/rand/v2"} {
		bp, err := build.Default.Import(p, "", build.FindOnly)
		if err != nil {
			t.Skipf("no source for %s: %v", p, err)
		}
		fset := token.NewFileSet()
		entries, err := os.ReadDir(bp.Dir)
		if err != nil {
			t.Skipf("no source for %s: %v", p, err)
		}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(bp.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Recv != nil || !d.Name.IsExported() {
						continue
					}
					seen[d.Name.Name] = true
					if randAllowed[d.Name.Name] && !strings.HasPrefix(d.Name.Name, "New") {
						t.Errorf("%s.%s is a global function but randAllowed lets it through", p, d.Name.Name)
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						var names []*ast.Ident
						switch s := s.(type) {
						case *ast.TypeSpec:
							names = []*ast.Ident{s.Name}
						case *ast.ValueSpec:
							names = s.Names
						}
						for _, n := range names {
							if !n.IsExported() {
								continue
							}
							seen[n.Name] = true
							if !randAllowed[n.Name] {
								t.Errorf("%s.%s is not a function, so add it to randAllowed", p, n.Name)
							}
						}
					}
				}
			}
		}
	}
	for name := range randAllowed {
		if !seen[name] {
			t.Errorf("randAllowed lists %s, which neither math/rand nor math/rand/v2 declares", name)
		}
	}
}
