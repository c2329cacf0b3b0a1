package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/thrustmq/thrust/broker"
	"github.com/thrustmq/thrust/broker/conf"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/namesrv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mqbroker:", err)
		os.Exit(1)
	}
}

func run() error {
	confPath := flag.String("c", "", "broker.conf to read")
	namesrvAddr := flag.String("n", "", "name server addresses, ';'-separated (overrides namesrvAddr)")
	standalone := flag.Bool("standalone", false, "also run a name server in this process and register with it")
	namesrvListen := flag.String("namesrv-listen", "127.0.0.1:9876", "with -standalone, where the name server listens")
	storeDir := flag.String("store", "", "store root directory (overrides storePathRootDir)")
	listenPort := flag.Int("port", -1, "listen port (overrides listenPort)")
	printConfig := flag.Bool("p", false, "print the effective configuration and exit")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file, ending at shutdown")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	text := ""
	if *confPath != "" {
		b, err := os.ReadFile(*confPath)
		if err != nil {
			return err
		}
		text = string(b)
	}
	f, err := conf.Parse(text)
	if err != nil {
		return fmt.Errorf("%s: %w", *confPath, err)
	}
	if *namesrvAddr == "" {
		*namesrvAddr = os.Getenv("NAMESRV_ADDR")
	}
	if *namesrvAddr != "" {
		f.Set("namesrvAddr", *namesrvAddr)
	}
	if *standalone && *namesrvAddr == "" {
		// A standalone broker registers with its own name server, even if
		// broker.conf names another (conf/broker.conf names the default
		// port, which -namesrv-listen may have moved).
		f.Set("namesrvAddr", *namesrvListen)
	}
	if *storeDir != "" {
		f.Set("storePathRootDir", *storeDir)
	}
	if *listenPort >= 0 {
		f.Set("listenPort", strconv.Itoa(*listenPort))
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	cfg, err := broker.ConfigFromFile(f, filepath.Join(home, "store"))
	if err != nil {
		return err
	}
	for _, k := range f.Unused() {
		log.Warn("mqbroker: ignoring an unknown broker.conf key", "key", k)
	}
	if *printConfig {
		// As RocketMQ's mqbroker -p: the effective broker.conf.
		fmt.Print(cfg.PropertiesText())
		return nil
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	var nsLoop *oshost.Loop
	var ns *namesrv.Server
	if *standalone {
		nsLoop = oshost.NewLoop()
		go nsLoop.Run()
		env := oshost.NewEnv(nsLoop, oshost.Options{Log: log})
		nsLoop.Do(func() { ns, err = namesrv.Start(env, namesrv.DefaultConfig(), *namesrvListen) })
		if err != nil {
			return fmt.Errorf("name server: %w", err)
		}
		fmt.Printf("The Name Server boot success. serializeType=JSON, address %s\n", ns.Addr())
	}

	loop := oshost.NewLoop()
	go loop.Run()
	env := oshost.NewEnv(loop, oshost.Options{Log: log})
	var b *broker.Broker
	loop.Do(func() {
		b, err = broker.Start(env, cfg, broker.Options{RuntimeInfo: hostCounters})
	})
	if err != nil {
		return err
	}
	fmt.Printf("The broker[%s, %s] boot success. serializeType=JSON and name server is %v\n",
		b.Config().BrokerName, b.Addr(), b.Config().NamesrvAddr)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("mqbroker: shutting down", "signal", s.String())
	loop.Do(func() { err = b.Shutdown() })
	loop.Stop()
	<-loop.Done()
	if ns != nil {
		nsLoop.Do(func() { ns.Close() })
		nsLoop.Stop()
		<-nsLoop.Done()
	}
	return err
}

// hostCounters reports what the real host did, for GET_BROKER_RUNTIME_INFO:
// proof that mmap and sendfile were used, not assumed.
func hostCounters() map[string]string {
	c := oshost.Counters()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return map[string]string{
		"hostMappedFiles":     u(c.MappedFiles.Load()),
		"hostMappedBytes":     u(c.MappedBytes.Load()),
		"hostPreallocations":  u(c.Preallocations.Load()),
		"hostSyncs":           u(c.Syncs.Load()),
		"hostSendFileCalls":   u(c.SendFileCalls.Load()),
		"hostSendFileBytes":   u(c.SendFileBytes.Load()),
		"hostMappedSendCalls": u(c.MappedSendCalls.Load()),
		"hostMappedSendBytes": u(c.MappedSendBytes.Load()),
		"hostWrittenBytes":    u(c.WrittenBytes.Load()),
	}
}
