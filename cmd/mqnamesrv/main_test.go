package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/remoting"
)

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "namesrv.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrintConfig(t *testing.T) {
	path := writeConf(t, "listenPort=19876\norderMessageEnable=true\nkvConfigPath=/tmp/kv.json\nbrokerIP1=10.0.0.1\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-c", path, "-p"}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"listenPort=19876\n", "orderMessageEnable=true\n", "kvConfigPath=/tmp/kv.json\n", "scanNotActiveBrokerInterval=5000\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("-p output lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "key=brokerIP1") {
		t.Errorf("unused key not reported:\n%s", stderr.String())
	}
}

func TestBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-nosuchflag"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-c", "/nonexistent/namesrv.conf"}, 1},
		{[]string{"-c", writeConf(t, "listenPort=x\n")}, 1},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr, nil); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, stderr.String())
		}
	}
}

// The command boots, announces itself as Java does, serves a client, and
// stops cleanly on SIGTERM.
func TestBootServeAndStop(t *testing.T) {
	path := writeConf(t, "kvConfigPath="+filepath.Join(t.TempDir(), "kv.json")+"\n")
	stdoutR, stdoutW := io.Pipe()
	stderrR, stderrW := io.Pipe()
	stop := make(chan os.Signal, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"-c", path, "-bind", "127.0.0.1", "-port", "0"}, stdoutW, stderrW, stop)
		stdoutW.Close()
		stderrW.Close()
	}()

	// The address is in the log; the boot line on standard output.
	addrs := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`namesrv: listening" addr=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderrR)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
	}()
	boot := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdoutR).ReadString('\n')
		boot <- line
		io.Copy(io.Discard, stdoutR)
	}()
	var addr string
	select {
	case addr = <-addrs:
	case <-time.After(10 * time.Second):
		t.Fatal("no serving address logged")
	}
	select {
	case line := <-boot:
		if line != bootTip+"\n" {
			t.Fatalf("stdout %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no boot line")
	}

	// A client on a loop of its own.
	loop := oshost.NewLoop()
	env := oshost.NewEnv(loop, oshost.Options{Log: slog.New(slog.DiscardHandler), Seed: 1})
	go loop.Run()
	defer func() { loop.Stop(); <-loop.Done() }()
	resps := make(chan *remoting.Command, 1)
	loop.Post(func() {
		ch := remoting.Dial(env.Net, env.Clock, nil, addr, nil, remoting.Options{})
		ch.Invoke(remoting.NewRequest(remoting.GetRouteinfoByTopic, remoting.StrField("topic", "TopicTest")), 5*time.Second,
			func(r *remoting.Command, err error) {
				if err != nil {
					t.Error(err)
				}
				resps <- r
			})
	})
	if r := <-resps; r == nil || r.Code != int32(remoting.TopicNotExist) {
		t.Fatalf("route of an unknown topic: %v", r)
	}

	stop <- syscall.SIGTERM
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
}
