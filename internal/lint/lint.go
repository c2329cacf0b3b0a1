package lint

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ModulePath is the main module's import path. The layering rules name
// packages relative to it.
const ModulePath = "github.com/thrustmq/thrust"

// The rule each Violation breaks, printed at the end of its message.
const (
	RuleDeterminism = "determinism"
	RuleLayering    = "layering"
	RuleImport      = "import"
	RuleDoc         = "doc"
)

// A Violation is one broken rule at one place.
type Violation struct {
	File string // slash-separated, relative to the repository root
	Line int
	Rule string // one of the Rule constants
	Msg  string // what is wrong; what to use instead
}

// String formats v the way go vet does, so editors can jump to it:
//
//	broker/store/x.go:12: time.Now reads the real clock; use host.Clock.Now, or Mono for intervals (determinism rule)
func (v Violation) String() string {
	return fmt.Sprintf("%s:%d: %s (%s rule)", v.File, v.Line, v.Msg, v.Rule)
}

// under reports whether the slash-separated path p is dir or lies below it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// deterministic reports whether code in dir must keep the determinism rules:
// everything in broker/ and sim/ except the real host.
func deterministic(dir string) bool {
	return (under(dir, "broker") || under(dir, "sim")) && !under(dir, "broker/host/oshost")
}

// oshostAllowed reports whether non-test code in dir may import the real
// host. Only thin wiring (cmd/) and real-mode benchmarks choose the real
// world; everything else takes a host.Env from its caller, so that it also
// runs in the simulator. New directories are denied until listed here.
func oshostAllowed(dir string) bool {
	return under(dir, "broker/host/oshost") || under(dir, "cmd") || under(dir, "benchmarks")
}

// brokerForbidden are the module's packages that broker/ must not know:
// the simulator and everything that judges, drives or wires the broker.
var brokerForbidden = []string{
	"sim", "faults", "workloads", "linearizability", "benchmarks", "reports", "cmd",
}

// timeForbidden are the functions and variables of package time that read
// the real clock or the machine's configuration. Values (time.Duration,
// time.Time) and pure constructors (time.Unix, time.UnixMilli, time.Date)
// are fine.
var timeForbidden = map[string]string{
	"Now":          "reads the real clock; use host.Clock.Now, or Mono for intervals",
	"Since":        "reads the real clock; subtract host.Clock.Mono readings",
	"Until":        "reads the real clock; subtract host.Clock.Mono readings",
	"Sleep":        "blocks on the real clock; schedule the rest with host.Clock.AfterFunc",
	"After":        "starts a real timer; use host.Clock.AfterFunc",
	"AfterFunc":    "runs f on a real timer's goroutine; use host.Clock.AfterFunc",
	"NewTimer":     "starts a real timer; use host.Clock.AfterFunc",
	"NewTicker":    "ticks on the real clock; use a self-rescheduling host.Clock.AfterFunc",
	"Tick":         "ticks on the real clock; use a self-rescheduling host.Clock.AfterFunc",
	"Local":        "is this machine's time zone; use time.UTC",
	"LoadLocation": "reads this machine's zone database; use time.UTC",
}

// randAllowed are the names of math/rand and math/rand/v2 that do not touch
// the global, randomly seeded generator: the types, and the constructors
// that build a generator from a seed the caller chose. Every other
// package-level name of those packages is a function of the global
// generator. TestRandAllowlistMatchesStdlib keeps this list honest against
// the installed Go.
var randAllowed = map[string]bool{
	// Types.
	"Rand": true, "Source": true, "Source64": true, "PCG": true, "ChaCha8": true, "Zipf": true,
	// Constructors of seeded sources.
	"New": true, "NewPCG": true, "NewChaCha8": true, "NewSource": true, "NewZipf": true,
}

const randMsg = "draws from the global, randomly seeded generator; draw from host.Rand (Env.Rand) or a seeded sim stream"

// filepathForbidden are the functions of path/filepath that read the real
// file system. Join, Dir, Base, Clean and friends are pure.
var filepathForbidden = map[string]string{
	"Abs":          "reads the process's working directory; keep paths as configured",
	"EvalSymlinks": "reads the real file system; go through host.FS",
	"Glob":         "reads the real file system; list with host.FS",
	"Walk":         "reads the real file system; list with host.FS",
	"WalkDir":      "reads the real file system; list with host.FS",
}

// An importBan forbids, in deterministic code, an import path and, when
// subtree is set, every path below it.
type importBan struct {
	path    string
	subtree bool
	why     string
}

var importBans = []importBan{
	{"os", true, "reaches the real operating system; use host.FS for files and take settings from the caller"},
	{"net", true, "opens real sockets; use host.Network (net/netip and net/url are fine)"},
	{"syscall", false, "makes real system calls; put them in broker/host/oshost behind a host interface"},
	{"golang.org/x/sys", true, "makes real system calls; put them in broker/host/oshost behind a host interface"},
	{"io/ioutil", false, "reads and writes real files; use host.FS"},
	{"crypto/rand", false, "cannot be seeded; use host.Rand (Env.Rand)"},
	{"hash/maphash", false, "seeds itself randomly in every process; use hash/fnv or hash/crc32"},
	{"runtime", false, "hands decisions to the scheduler and the process (Gosched, GOMAXPROCS, NumGoroutine); code on the loop must not depend on them"},
	{"sync", true, "means state shared between goroutines; broker state belongs to its node's loop (post to it, or shard by queue) and the sim runs on one goroutine"},
}

// importsAllowed are exceptions to subtree bans: pure value packages.
var importsAllowed = map[string]bool{"net/netip": true, "net/url": true}

func bannedImport(p string) (importBan, bool) {
	if importsAllowed[p] {
		return importBan{}, false
	}
	for _, b := range importBans {
		if p == b.path || (b.subtree && strings.HasPrefix(p, b.path+"/")) {
			return b, true
		}
	}
	return importBan{}, false
}

// stdlib reports whether an import path belongs to the standard library:
// its first element has no dot (and it is not cgo's pseudo-package).
func stdlib(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return p != "C" && !strings.Contains(first, ".")
}

// importName is the name an unrenamed import binds. It is the last path
// element, or the one before a major-version suffix (math/rand/v2 -> rand).
// Packages whose name differs from their path are not among the ones this
// lint inspects by name (time, math/rand, path/filepath), so this suffices.
func importName(p string) string {
	elems := strings.Split(p, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && len(last) > 1 && last[0] == 'v' {
		if _, err := strconv.Atoi(last[1:]); err == nil {
			return elems[len(elems)-2]
		}
	}
	return last
}

// ignored reports whether f is excluded from every build by a
// "//go:build ignore" line (generators, one-off programs).
func ignored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() >= f.Package {
			break
		}
		for _, c := range cg.List {
			if constraint.IsGoBuild(c.Text) {
				if x, err := constraint.Parse(c.Text); err == nil && x.String() == "ignore" {
					return true
				}
			}
		}
	}
	return false
}

// CheckFile applies the import, determinism and layering rules to one
// parsed file. name is the file's slash-separated path relative to the
// repository root; it decides which rules apply. f must have been parsed
// with object resolution (the default), which tells a package name from a
// local variable that shadows it. Test files (_test.go) are exempt.
func CheckFile(fset *token.FileSet, name string, f *ast.File) []Violation {
	if strings.HasSuffix(name, "_test.go") || ignored(f) {
		return nil
	}
	dir := path.Dir(name)
	det := deterministic(dir)
	var vs []Violation
	report := func(pos token.Pos, rule, format string, args ...any) {
		vs = append(vs, Violation{File: name, Line: fset.Position(pos).Line, Rule: rule, Msg: fmt.Sprintf(format, args...)})
	}

	// Local package names of the imports this lint looks inside.
	byName := map[string]string{}
	for _, spec := range f.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue // the parser already rejected it
		}
		local := importName(p)
		if spec.Name != nil {
			local = spec.Name.Name
		}
		switch local {
		case ".":
			report(spec.Pos(), RuleImport, "import . %q hides which package a name comes from, so this lint cannot check it; import it by name", p)
		case "_":
		default:
			byName[local] = p
		}
		if det {
			if b, ok := bannedImport(p); ok {
				report(spec.Pos(), RuleDeterminism, "import %q %s", p, b.why)
			}
		}
		if msg := layering(dir, p); msg != "" {
			report(spec.Pos(), RuleLayering, "%s", msg)
		}
	}

	if !det {
		return vs
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n.Pos(), RuleDeterminism, "go statement lets the Go scheduler decide order; run work on the node's loop (host.Clock.AfterFunc), real concurrency lives in broker/host/oshost")
		case *ast.SelectStmt:
			report(n.Pos(), RuleDeterminism, "select lets the runtime choose among ready cases at random; take callbacks on the node's loop instead of channels")
		case *ast.SelectorExpr:
			x, ok := n.X.(*ast.Ident)
			// A package name is never resolved to an object by the
			// parser; a local variable or parameter that shadows it is.
			if !ok || x.Obj != nil {
				return true
			}
			sel := n.Sel.Name
			switch p := byName[x.Name]; p {
			case "time":
				if why, bad := timeForbidden[sel]; bad {
					report(n.Pos(), RuleDeterminism, "time.%s %s", sel, why)
				}
			case "math/rand", "math/rand/v2":
				if ast.IsExported(sel) && !randAllowed[sel] {
					report(n.Pos(), RuleDeterminism, "%s.%s %s", p, sel, randMsg)
				}
			case "path/filepath":
				if why, bad := filepathForbidden[sel]; bad {
					report(n.Pos(), RuleDeterminism, "filepath.%s %s", sel, why)
				}
			}
		}
		return true
	})
	return vs
}

// layering returns why code in dir may not import p, or "".
func layering(dir, p string) string {
	rel, inModule := strings.CutPrefix(p, ModulePath+"/")
	inModule = inModule || p == ModulePath
	if inModule && under(rel, "broker/host/oshost") && !oshostAllowed(dir) {
		return fmt.Sprintf("import of %s outside cmd/ and benchmarks/; take a host.Env from the caller so this code also runs in the simulator", p)
	}
	if under(dir, "broker") && inModule {
		for _, top := range brokerForbidden {
			if under(rel, top) {
				return fmt.Sprintf("broker code imports %s; the broker must not know the simulator or the tools that drive and judge it, only the broker/host interfaces", p)
			}
		}
	}
	if dir == "broker/host" && !stdlib(p) {
		return fmt.Sprintf("broker/host imports %s; the seam may import only the standard library, so that every world can implement it", p)
	}
	if dir == "sim" && inModule && rel != "broker/host" {
		return fmt.Sprintf("package sim imports %s; the simulator knows only the broker/host seam (wire brokers in a harness package such as sim/cluster)", p)
	}
	return ""
}

// CheckPackageDoc applies the doc rule to one package directory: dir
// (slash-separated, relative to the repository root) holds the package
// named pkg, first is its first non-test file (name relative to the root,
// and the line of its package clause), and doc is its parsed doc.go, or nil
// if it has none. The package comment must be in doc.go, and for a library
// it must open with "Package <pkg>".
func CheckPackageDoc(fset *token.FileSet, dir, pkg, first string, firstLine int, doc *ast.File) []Violation {
	opening := "// Package " + pkg + " ..."
	if pkg == "main" {
		opening = "// Command <name> ..."
	}
	if doc == nil {
		return []Violation{{File: first, Line: firstLine, Rule: RuleDoc,
			Msg: fmt.Sprintf("package %s (%s) has no doc.go; write one that opens with %q: what the package is for, what it may import, the invariants it keeps", pkg, dir, opening)}}
	}
	docName := path.Join(dir, "doc.go")
	line := fset.Position(doc.Package).Line
	if doc.Doc == nil {
		return []Violation{{File: docName, Line: line, Rule: RuleDoc,
			Msg: fmt.Sprintf("doc.go has no package comment; put one, opening with %q, directly above the package clause", opening)}}
	}
	if pkg != "main" {
		text := doc.Doc.Text()
		rest, ok := strings.CutPrefix(text, "Package "+pkg)
		if !ok || (rest != "" && !strings.ContainsAny(rest[:1], " \n")) {
			return []Violation{{File: docName, Line: fset.Position(doc.Doc.Pos()).Line, Rule: RuleDoc,
				Msg: fmt.Sprintf("package comment must open with %q", "Package "+pkg)}}
		}
	}
	return nil
}

// CheckTree walks the module rooted at root and applies every rule to its
// non-test Go files. It skips hidden and underscore directories, testdata,
// vendor and nested modules (directories with their own go.mod). The
// result is sorted by file and line.
func CheckTree(root string) ([]Violation, error) {
	type pkgInfo struct {
		name      string
		first     string
		firstLine int
		doc       *ast.File
	}
	fset := token.NewFileSet()
	pkgs := map[string]*pkgInfo{}
	var vs []Violation
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == root {
				return nil
			}
			base := d.Name()
			if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || base == "testdata" || base == "vendor" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// A generated file is still code that runs: it gets no exemption.
		f, err := parser.ParseFile(fset, rel, src, parser.ParseComments)
		if err != nil {
			return err
		}
		if ignored(f) {
			return nil
		}
		vs = append(vs, CheckFile(fset, rel, f)...)
		dir := path.Dir(rel)
		pi := pkgs[dir]
		if pi == nil {
			// WalkDir visits files in lexical order, so this is the first.
			pi = &pkgInfo{name: f.Name.Name, first: rel, firstLine: fset.Position(f.Package).Line}
			pkgs[dir] = pi
		}
		if path.Base(rel) == "doc.go" {
			pi.doc, pi.name = f, f.Name.Name
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for dir, pi := range pkgs {
		vs = append(vs, CheckPackageDoc(fset, dir, pi.name, pi.first, pi.firstLine, pi.doc)...)
	}
	slices.SortFunc(vs, func(a, b Violation) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Msg, b.Msg)
	})
	return vs, nil
}

// FindRoot returns the directory, at or above dir, whose go.mod declares
// ModulePath.
func FindRoot(dir string) (string, error) {
	for d := dir; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && modulePathOf(data) == ModulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("lint: no go.mod for %s at or above %s", ModulePath, dir)
		}
		d = parent
	}
}

func modulePathOf(gomod []byte) string {
	for line := range bytes.Lines(gomod) {
		if f := strings.Fields(string(line)); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}
