package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/thrustmq/thrust/broker/conf"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/namesrv"
)

// bootTip is Java's start-up line, which scripts grep for.
const bootTip = "The Name Server boot success. serializeType=JSON"

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// run is the whole program; it returns the exit code. It serves until a
// value arrives on stop.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	flags := flag.NewFlagSet("mqnamesrv", flag.ContinueOnError)
	flags.SetOutput(stderr)
	confPath := flags.String("c", "", "namesrv.conf `file` to read (Java properties, RocketMQ keys)")
	printConfig := flags.Bool("p", false, "print the configuration and exit")
	bind := flags.String("bind", "0.0.0.0", "`address` to listen on")
	port := flags.Int("port", -1, "listen `port`, overriding listenPort (0 picks a free one)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "mqnamesrv: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	cfg, err := loadConfig(*confPath, *port, log)
	if err != nil {
		fmt.Fprintf(stderr, "mqnamesrv: %v\n", err)
		return 1
	}
	if *printConfig {
		fmt.Fprint(stdout, cfg.Properties())
		return 0
	}

	loop := oshost.NewLoop()
	env := oshost.NewEnv(loop, oshost.Options{Log: log})
	go loop.Run()
	defer func() {
		loop.Stop()
		<-loop.Done()
	}()

	var srv *namesrv.Server
	loop.Do(func() { srv, err = namesrv.Start(env, cfg, net.JoinHostPort(*bind, strconv.Itoa(cfg.ListenPort))) })
	if err != nil {
		fmt.Fprintf(stderr, "mqnamesrv: %v\n", err)
		return 1
	}
	// Start logged the address it listens on.
	fmt.Fprintln(stdout, bootTip)

	sig := <-stop
	log.Info("mqnamesrv: shutting down", "signal", sig.String())
	loop.Do(func() { srv.Close() })
	return 0
}

// loadConfig reads the file, if any, applies the overrides and Java's
// defaults that depend on the machine, and warns about unused keys.
func loadConfig(path string, port int, log *slog.Logger) (namesrv.Config, error) {
	text := ""
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return namesrv.Config{}, err
		}
		text = string(data)
	}
	f, err := conf.Parse(text)
	if err != nil {
		return namesrv.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if port >= 0 {
		f.Set("listenPort", strconv.Itoa(port))
	}
	cfg, err := namesrv.ConfigFromFile(f)
	if err != nil {
		return namesrv.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	for _, key := range f.Unused() {
		log.Warn("mqnamesrv: configuration key not used by Thrust", "file", path, "key", key)
	}
	if cfg.KVConfigPath == "" {
		// Java's default: ${user.home}/namesrv/kvConfig.json.
		home, err := os.UserHomeDir()
		if err != nil {
			return namesrv.Config{}, fmt.Errorf("kvConfigPath is not set and there is no home directory: %w", err)
		}
		cfg.KVConfigPath = filepath.Join(home, "namesrv", "kvConfig.json")
	}
	return cfg, nil
}
