package benchmarks

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a broker (or peer server) the runner started: its own
// process, on 127.0.0.1, with its store in a temporary directory that
// Stop removes.
type Process struct {
	Name string
	cmd  *exec.Cmd
	dir  string
	log  *tail
	done chan struct{}
	err  error
}

// PID is the process id, for /proc.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Log is the end of the process's output (stdout and stderr).
func (p *Process) Log() string { return p.log.String() }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// startProcess runs name with args in dir, waiting until ready (called
// with each output line) says so or timeout passes.
func startProcess(label, dir, name string, args []string, ready func(line string) bool, timeout time.Duration) (*Process, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	p := &Process{Name: label, cmd: cmd, dir: dir, log: &tail{max: 64 << 10}, done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	// Its own process group, so that a signal to mqbench's terminal does
	// not reach it before the runner has stopped it cleanly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	booted := make(chan struct{})
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.log.WriteLine(line)
			if ready(line) {
				once.Do(func() { close(booted) })
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	select {
	case <-booted:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", label, p.err, p.Log())
	case <-time.After(timeout):
		p.Stop()
		return nil, fmt.Errorf("%s not ready within %v:\n%s", label, timeout, p.Log())
	}
}

// Stop ends the process (SIGTERM, then SIGKILL after 10 s) and removes
// its directory.
func (p *Process) Stop() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if p.dir != "" {
		err := os.RemoveAll(p.dir)
		// Write back now what the run left (dirty pages of a peer's
		// store, the journal's record of the deletions), so that it is
		// not written during the next run, on its clock.
		settle()
		return err
	}
	return nil
}

// tail keeps the last max bytes of output, in whole lines.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
	size  int
}

func (t *tail) WriteLine(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	t.size += len(s) + 1
	for t.size > t.max && len(t.lines) > 1 {
		t.size -= len(t.lines[0]) + 1
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ThrustBroker is an mqbroker process started with -standalone: a name
// server and a broker in one process.
type ThrustBroker struct {
	*Process
	NamesrvAddr string
	BrokerAddr  string
	StoreDir    string
}

// StartThrustBroker starts binary with conf (broker.conf lines) and a
// fresh store under a temporary directory in parent ("" for the system's
// default).
func StartThrustBroker(binary, parent, conf string, extraArgs ...string) (*ThrustBroker, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		b, err := startThrustBroker(binary, parent, conf, extraArgs)
		if err == nil {
			return b, nil
		}
		lastErr = err
		// A port taken between choosing it and binding it: try others.
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func startThrustBroker(binary, parent, conf string, extraArgs []string) (*ThrustBroker, error) {
	dir, err := os.MkdirTemp(parent, "mqbench-thrust-")
	if err != nil {
		return nil, err
	}
	nsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	store := filepath.Join(dir, "store")
	text := "brokerIP1=127.0.0.1\nbindAddress=127.0.0.1\nbrokerClusterName=BenchCluster\nbrokerName=bench-broker\n" + conf
	confPath := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
		return nil, err
	}
	ns := fmt.Sprintf("127.0.0.1:%d", nsPort)
	args := append([]string{"-c", confPath, "-standalone", "-namesrv-listen", ns, "-port", fmt.Sprint(port), "-store", store}, extraArgs...)
	p, err := startProcess("mqbroker", dir, binary, args, func(line string) bool {
		return strings.Contains(line, "The broker[") && strings.Contains(line, "boot success")
	}, 60*time.Second)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &ThrustBroker{Process: p, NamesrvAddr: ns, BrokerAddr: fmt.Sprintf("127.0.0.1:%d", port), StoreDir: store}, nil
}

// FindBroker returns the mqbroker binary to run: explicit when given,
// else the one beside the running executable (make build puts mqbench
// and mqbroker in bin/ together), else one built now from the module's
// source with the go command into dir.
func FindBroker(explicit, dir string) (string, error) {
	if explicit != "" {
		// Absolute: the broker runs in its own directory.
		abs, err := filepath.Abs(explicit)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return "", fmt.Errorf("mqbroker binary: %w", err)
		}
		return abs, nil
	}
	if exe, err := os.Executable(); err == nil {
		cand := filepath.Join(filepath.Dir(exe), "mqbroker")
		if st, err := os.Stat(cand); err == nil && !st.IsDir() {
			return cand, nil
		}
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("no mqbroker binary beside mqbench and no go command to build one; pass -broker PATH (make build puts it in bin/)")
	}
	out := filepath.Join(dir, "mqbroker")
	cmd := exec.Command(goCmd, "build", "-o", out, "github.com/thrustmq/thrust/cmd/mqbroker")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build mqbroker (run mqbench inside the thrust module, or pass -broker PATH): %v\n%s", err, b)
	}
	return out, nil
}
