package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// offsetDirEnv is where the client keeps broadcasting consumers' offsets.
// The client reads it once, when its consumer package initialises, so
// TestMain sets it by re-executing the test binary with it in the
// environment.
const (
	offsetDirEnv      = "rocketmq.client.localOffsetStoreDir"
	ownedOffsetDirEnv = "THRUST_INTEROP_OWNED_OFFSET_DIR"
)

// Bounds on every wait.
const (
	buildTimeout    = 5 * time.Minute
	bootTimeout     = 30 * time.Second
	shutdownTimeout = 20 * time.Second
	deliverTimeout  = 30 * time.Second
)

func TestMain(m *testing.M) {
	if os.Getenv(offsetDirEnv) == "" {
		dir, err := os.MkdirTemp("", "thrust-interop-offsets-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "interop:", err)
			os.Exit(2)
		}
		exe, err := os.Executable()
		if err == nil {
			env := append(os.Environ(), offsetDirEnv+"="+dir, ownedOffsetDirEnv+"="+dir)
			err = syscall.Exec(exe, os.Args, env)
		}
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "interop: re-executing the test binary with", offsetDirEnv, "set:", err)
		os.Exit(2)
	}
	rlog.SetLogLevel("error")
	code := m.Run()
	if d := os.Getenv(ownedOffsetDirEnv); d != "" && d == os.Getenv(offsetDirEnv) {
		os.RemoveAll(d)
	}
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// build is the mqbroker binary, built once per test binary from the
// repository root.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func repoRoot() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("the repository root should be ../.. from broker/interop: %w", err)
	}
	if !bytes.HasPrefix(mod, []byte("module github.com/thrustmq/thrust\n")) {
		return "", fmt.Errorf("%s/go.mod is not github.com/thrustmq/thrust's", root)
	}
	return root, nil
}

func brokerBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			build.err = err
			return
		}
		build.dir, build.err = os.MkdirTemp("", "thrust-interop-bin-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "mqbroker")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", build.path, "./cmd/mqbroker")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/mqbroker in %s: %v\n%s", root, err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// brokerProc is `mqbroker -standalone` on 127.0.0.1: a name server and a
// broker in one process. It can be stopped and started again on the same
// store and ports.
type brokerProc struct {
	t        *testing.T
	store    string
	confPath string
	nsPort   int
	port     int

	runs    int
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logs    []*lockedBuffer // stderr of every run
}

// startBroker starts a broker with a fresh store and the test's own
// broker.conf lines, if any. At cleanup it kills the process and, if the
// test failed, prints what the broker logged.
func startBroker(t *testing.T, confLines ...string) *brokerProc {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the broker binary")
	}
	dir := t.TempDir()
	b := &brokerProc{
		t:        t,
		store:    filepath.Join(dir, "store"),
		confPath: filepath.Join(dir, "broker.conf"),
		nsPort:   freePort(t),
		port:     freePort(t),
	}
	conf := strings.Join(append([]string{
		"brokerClusterName=DefaultCluster",
		"brokerName=broker-a",
		"brokerId=0",
		"brokerIP1=127.0.0.1",
		"mappedFileSizeCommitLog=16777216",
		"mappedFileSizeConsumeQueue=600000",
		"flushDiskType=ASYNC_FLUSH",
		"autoCreateTopicEnable=true",
		"autoCreateSubscriptionGroup=true",
	}, confLines...), "\n") + "\n"
	if err := os.WriteFile(b.confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			for i, l := range b.logs {
				t.Logf("mqbroker run %d stderr:\n%s", i+1, l.String())
			}
		}
	})
	// A port found free may be taken before the broker binds it (by
	// another test's client, say): then try other ports.
	for attempt := 1; ; attempt++ {
		err := b.launch()
		if err == nil {
			return b
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		b.nsPort, b.port = freePort(t), freePort(t)
	}
}

func (b *brokerProc) nameServer() string { return fmt.Sprintf("127.0.0.1:%d", b.nsPort) }
func (b *brokerProc) addr() string       { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// start runs the binary again, on the same store and ports, and waits for
// its boot lines.
func (b *brokerProc) start() {
	b.t.Helper()
	if err := b.launch(); err != nil {
		b.t.Fatal(err)
	}
}

// launch runs the binary and waits for its boot lines.
func (b *brokerProc) launch() error {
	t := b.t
	t.Helper()
	if b.cmd != nil {
		return errors.New("broker already running")
	}
	b.runs++
	cmd := exec.Command(brokerBinary(t), "-c", b.confPath, "-standalone",
		"-namesrv-listen", b.nameServer(), "-port", fmt.Sprint(b.port), "-store", b.store)
	stderr := &lockedBuffer{}
	b.logs = append(b.logs, stderr)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	booted := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sawNamesrv, closed := false, false
		for sc.Scan() {
			line := sc.Text()
			sawNamesrv = sawNamesrv || strings.HasPrefix(line, "The Name Server boot success")
			if sawNamesrv && !closed && strings.HasPrefix(line, "The broker[") && strings.Contains(line, "boot success") {
				close(booted)
				closed = true
			}
		}
		// Pipe closed: the process exited (or closed stdout); reap it.
		b.waitErr = cmd.Wait()
		close(b.exited)
	}()
	select {
	case <-booted:
		return nil
	case <-b.exited:
		b.cmd = nil
		return fmt.Errorf("mqbroker (run %d) exited before booting: %v\nstderr:\n%s", b.runs, b.waitErr, stderr.String())
	case <-time.After(bootTimeout):
		return fmt.Errorf("mqbroker (run %d) did not print its boot lines within %v", b.runs, bootTimeout)
	}
}

// stop sends SIGTERM, a clean shutdown, and requires a clean exit.
func (b *brokerProc) stop() {
	t := b.t
	t.Helper()
	if b.cmd == nil {
		t.Fatal("broker not running")
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-b.exited:
	case <-time.After(shutdownTimeout):
		t.Fatalf("mqbroker did not exit within %v of SIGTERM", shutdownTimeout)
	}
	b.cmd = nil
	if b.waitErr != nil {
		t.Fatalf("mqbroker exited uncleanly after SIGTERM: %v", b.waitErr)
	}
}

func (b *brokerProc) kill() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	select {
	case <-b.exited:
	case <-time.After(shutdownTimeout):
	}
	b.cmd = nil
}

// waitConsumerLeft waits until the broker has seen m's connection close,
// that is, has read everything m sent before it closed.
//
// A test sends nothing the departed consumer subscribed to before that: a
// held pull answered into a connection the client has just closed makes the
// client's kernel abort it (RST), and on loopback the RST can overtake the
// client's last frames, its final offset commits among them. The client
// closes without draining; any broker, Java's included, can trigger that.
func (b *brokerProc) waitConsumerLeft(t *testing.T, m *member) {
	t.Helper()
	needle := "@" + m.instance + " "
	eventually(t, deliverTimeout, "the broker to see "+m.name+" leave", func() (bool, string) {
		log := b.logs[len(b.logs)-1].String()
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, `msg="broker: consumer left"`) && strings.Contains(line+" ", needle) {
				return true, ""
			}
		}
		return false, "no \"consumer left\" line for " + m.instance
	})
}

// eventually polls cond until it holds or timeout passes; cond reports
// its state for the failure message.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
